# Hand-written conversations for grooming/testdata/dev_hard.jsonl (see its README).
# Each: (lang, label, suspect, pace, [(speaker, text), ...]). Non-explicit: manipulation patterns only.
C = []
def g(lang, suspect, pace, msgs): C.append((lang, "grooming", suspect, pace, msgs))
def b(lang, pace, msgs): C.append((lang, "benign", "", pace, msgs))

# ---------------- Portuguese
g("pt", "rafa_dj", "slow", [
 ("rafa_dj", "oi! vi teu vídeo de skate, mandou muito"), ("lari.s", "valeu kkk"), ("rafa_dj", "faz tempo que anda?"),
 ("lari.s", "uns 2 anos"), ("rafa_dj", "dá pra ver, tu tem talento"), ("lari.s", "obg"), ("rafa_dj", "treinou hoje?"),
 ("lari.s", "sim na praça"), ("rafa_dj", "massa. tu tem quantos anos mesmo?"), ("lari.s", "13"),
 ("rafa_dj", "nossa, parece mais velha, bem madura"), ("rafa_dj", "teus pais ficam de olho no teu celular?"),
 ("lari.s", "as vezes minha mãe olha"), ("rafa_dj", "então apaga nossas conversas, ela não ia entender"),
 ("rafa_dj", "me chama no telegram que é mais tranquilo")])
g("pt", "tio_marcos", "slow", [
 ("tio_marcos", "e aí campeão, bom jogo ontem"), ("joao_pedro", "valeu"), ("tio_marcos", "quer que eu te dê aquela skin? eu compro pra ti"),
 ("joao_pedro", "serio??"), ("tio_marcos", "sério. só não conta pra ninguém, é coisa nossa"), ("joao_pedro", "ok"),
 ("tio_marcos", "teu pai chega que horas do trabalho?"), ("joao_pedro", "umas 7"), ("tio_marcos", "e tua mãe?"),
 ("joao_pedro", "ela trabalha de noite"), ("tio_marcos", "então tu fica sozinho de tarde né. posso passar aí e te levar pra tomar um açaí")])
g("pt", "conta_verificada", "fast", [
 ("conta_verificada", "oi, lembra de mim? tenho os prints de tudo que tu me mandou"), ("bia_2012", "quem é vc"),
 ("conta_verificada", "alguém que vai mostrar pra tua escola inteira se não fizer o que eu digo"),
 ("conta_verificada", "R$150 em cartão presente da google play. tem 20 minutos"), ("bia_2012", "eu não tenho dinheiro"),
 ("conta_verificada", "pede pra alguém. 15 minutos. se contar pros teus pais eu posto tudo")])
b("pt", "slow", [
 ("tia_rosa", "gente, sábado é o aniversário da vovó"), ("duda", "eba"), ("tia_rosa", "vamos fazer surpresa, ninguém conta pra ela tá?"),
 ("duda", "segredo total kkk"), ("tia_rosa", "duda, tu leva o bolo? te pego às 3"), ("duda", "levo sim tia"), ("tia_rosa", "combinado, bico calado!")])
b("pt", "slow", [
 ("treinador_paulo", "pessoal, treino extra quinta às 18h no ginásio da escola"), ("gui", "os pais podem assistir?"),
 ("treinador_paulo", "claro, os pais são bem-vindos. quem precisar de carona avisa no grupo dos pais"),
 ("mae_do_gui", "eu levo o gui e o theo"), ("treinador_paulo", "obrigado! tragam garrafa de água")])
b("pt", "slow", [
 ("mano_velho", "kkkk tu tem 12 anos e acha que manda em mim"), ("irmazinha", "tenho quase 13"), ("mano_velho", "quase 13 kkkk bebê"),
 ("irmazinha", "vou contar pra mãe que tu comeu meu chocolate"), ("mano_velho", "não conta não, te dou outro amanhã")])
b("pt", "slow", [
 ("ana.prof", "alerta pra turma: tem um golpe rolando no insta"), ("ana.prof", "um perfil diz que tem fotos tuas e pede cartão presente"),
 ("ana.prof", "se receberem isso, não paguem, bloqueiem e falem com um adulto"), ("caio", "meu primo recebeu isso semana passada"),
 ("ana.prof", "que bom que ele contou. denunciem o perfil")])
b("pt", "fast", [
 ("leo_13", "mãe preciso de ajuda"), ("mae", "o que houve filho?"), ("leo_13", "um cara tá me ameaçando, diz que vai mandar nossas conversas pra minha turma se eu não pagar"),
 ("mae", "você fez muito bem em me contar. não paga nada"), ("mae", "vamos tirar print, bloquear e denunciar juntos"), ("leo_13", "tá bom")])

# ---------------- Polish
g("pl", "dawid_gra", "slow", [
 ("dawid_gra", "siema, fajnie grasz w fortnite"), ("kuba_2012", "dzieki"), ("dawid_gra", "jutro tez gramy?"), ("kuba_2012", "moze"),
 ("dawid_gra", "ile masz lat w ogole?"), ("kuba_2012", "12"), ("dawid_gra", "serio? jestes bardziej dojrzaly niz twoi rowiesnicy"),
 ("dawid_gra", "moge ci kupic karnet bojowy"), ("kuba_2012", "naprawde?"), ("dawid_gra", "tylko nie mow rodzicom, oni by nie zrozumieli"),
 ("dawid_gra", "napisz do mnie na snapie, tu moderatorzy czytaja")])
g("pl", "pan_trener", "slow", [
 ("pan_trener", "czesc ola, swietnie dzis bylo na treningu"), ("ola.k", "dziekuje"), ("pan_trener", "masz talent, moge ci pomoc indywidualnie"),
 ("ola.k", "super"), ("pan_trener", "kiedy jestes sama w domu?"), ("ola.k", "we wtorki po szkole"), ("pan_trener", "to przyjde we wtorek, nie mow mamie, zrobimy jej niespodzianke z twoimi postepami"),
 ("pan_trener", "i skasuj te wiadomosci dobrze?")])
g("pl", "anonim_77", "fast", [
 ("anonim_77", "mam wszystkie twoje zdjecia z tamtej rozmowy"), ("maja_w", "co? kim jestes"),
 ("anonim_77", "200 zl w kodach paysafecard albo wysylam je wszystkim twoim znajomym z klasy"), ("maja_w", "prosze nie"),
 ("anonim_77", "masz 30 minut. zegar leci"), ("maja_w", "nie mam tyle"), ("anonim_77", "to ukradnij. 20 minut")])
b("pl", "slow", [
 ("ciocia_ewa", "dzieciaki, w niedziele urodziny dziadka"), ("zosia", "wiem!"), ("ciocia_ewa", "robimy niespodzianke, nie mowcie mu nic"),
 ("zosia", "bede cicho jak myszka"), ("ciocia_ewa", "zosia, przyjedziesz z mama o 14?"), ("zosia", "tak")])
b("pl", "slow", [
 ("trener_marek", "druzyno, sparing w sobote o 10 na boisku przy szkole"), ("antek", "rodzice moga przyjsc?"),
 ("trener_marek", "oczywiscie, zapraszam rodzicow. zbiorka 9:30"), ("tata_antka", "zawioze antka i kacpra"), ("trener_marek", "dzieki!")])
b("pl", "slow", [
 ("brat", "hahah masz 11 lat i myslisz ze wygrasz ze mna"), ("siostra", "mam prawie 12"), ("brat", "prawie 12 xd dzidzius"),
 ("siostra", "powiem mamie ze zjadles moje lody"), ("brat", "nie mow, kupie ci nowe jutro")])
b("pl", "slow", [
 ("wychowawczyni", "uwaga klaso: krazy oszustwo na instagramie"), ("wychowawczyni", "ktos pisze ze ma wasze zdjecia i zada blika"),
 ("wychowawczyni", "nie placcie, zablokujcie i powiedzcie dorosłemu"), ("bartek", "mojemu koledze tez tak napisali"), ("wychowawczyni", "dobrze ze powiedzial")])
b("pl", "fast", [
 ("tomek_13", "tato musze ci cos powiedziec"), ("tata", "co sie stalo?"), ("tomek_13", "jakis typ mi grozi ze wysle moje zdjecia do calej klasy jak mu nie zaplace"),
 ("tata", "dobrze ze mi mowisz. nic nie placimy"), ("tata", "zrobimy screeny i zglosimy to razem"), ("tomek_13", "ok dzieki")])

# ---------------- Dutch
g("nl", "gamer_bas", "slow", [
 ("gamer_bas", "yo je bent echt goed in minecraft"), ("noor_11", "dankje"), ("gamer_bas", "bouw je alles zelf?"), ("noor_11", "ja"),
 ("gamer_bas", "hoe oud ben je eigenlijk"), ("noor_11", "11"), ("gamer_bas", "je lijkt veel ouder, echt volwassen"),
 ("gamer_bas", "zijn je ouders thuis of ben je alleen?"), ("noor_11", "alleen tot 6 uur"),
 ("gamer_bas", "vertel niemand dat we praten oké, dit is ons geheimpje"), ("gamer_bas", "voeg me toe op snapchat")])
g("nl", "coach_rick", "slow", [
 ("coach_rick", "hoi sem, goed gespeeld zaterdag"), ("sem", "thanks"), ("coach_rick", "ik kan je extra trainen, alleen wij twee"),
 ("sem", "cool"), ("coach_rick", "zeg maar niks tegen je ouders, anders willen alle jongens het"), ("coach_rick", "ik kan je ophalen na school, waar woon je precies?")])
g("nl", "onbekend_x", "fast", [
 ("onbekend_x", "ik heb al je foto's bewaard"), ("lisa.v", "wie ben jij??"), ("onbekend_x", "150 euro in bitcoin of ik stuur alles naar je klas en je ouders"),
 ("lisa.v", "alsjeblieft niet"), ("onbekend_x", "je hebt 15 minuten"), ("onbekend_x", "tik tak")])
b("nl", "slow", [
 ("tante_mies", "zaterdag verrassingsfeest voor opa!"), ("jip", "leuk"), ("tante_mies", "niks tegen opa zeggen hè, het is een verrassing"),
 ("jip", "ik zeg niks"), ("tante_mies", "jip, ik haal je om 2 uur op bij mama")])
b("nl", "slow", [
 ("trainer_joost", "team, extra training donderdag 18:00 op het veld"), ("daan", "mogen ouders kijken?"),
 ("trainer_joost", "natuurlijk, ouders zijn welkom. carpool regelen we in de oudergroep"), ("moeder_daan", "ik rijd daan en finn"), ("trainer_joost", "top")])
b("nl", "slow", [
 ("grote_zus", "haha je bent 12 en denkt dat je alles weet"), ("kleine_broer", "bijna 13"), ("grote_zus", "bijna 13 lol baby"),
 ("kleine_broer", "ik vertel mama dat jij mijn chips op hebt"), ("grote_zus", "niet doen, ik koop morgen nieuwe")])
b("nl", "slow", [
 ("mentor_els", "let op klas: er gaat een oplichterstruc rond op insta"), ("mentor_els", "iemand zegt dat hij foto's heeft en vraagt om cadeaukaarten"),
 ("mentor_els", "niet betalen, blokkeren en het aan een volwassene vertellen"), ("tess", "mijn nicht kreeg dat ook"), ("mentor_els", "goed dat ze het vertelde")])
b("nl", "fast", [
 ("milan_14", "mam ik moet je iets vertellen"), ("mam", "wat is er lieverd?"), ("milan_14", "iemand bedreigt me, hij zegt dat hij mijn berichten naar school stuurt als ik niet betaal"),
 ("mam", "goed dat je het zegt. we betalen niks"), ("mam", "we maken screenshots en melden het samen"), ("milan_14", "oké")])

# ---------------- French
g("fr", "max_gaming", "slow", [
 ("max_gaming", "salut t'es trop fort à fortnite"), ("lucas_11", "merci"), ("max_gaming", "on rejoue demain?"), ("lucas_11", "ok"),
 ("max_gaming", "t'as quel âge au fait"), ("lucas_11", "11 ans"), ("max_gaming", "t'es super mature pour ton âge"),
 ("max_gaming", "je peux t'offrir des v-bucks si tu veux"), ("lucas_11", "vrai?"), ("max_gaming", "mais le dis pas à tes parents, c'est entre nous"),
 ("max_gaming", "ajoute moi sur snap c'est mieux")])
g("fr", "coach_julien", "slow", [
 ("coach_julien", "bravo pour le match emma"), ("emma.d", "merci coach"), ("coach_julien", "je peux te faire des séances privées, juste toi et moi"),
 ("emma.d", "ah cool"), ("coach_julien", "tes parents travaillent tard le mercredi?"), ("emma.d", "oui jusqu'à 19h"),
 ("coach_julien", "parfait je passe te chercher mercredi, pas besoin de leur dire")])
g("fr", "inconnu_59", "fast", [
 ("inconnu_59", "j'ai gardé toutes tes photos"), ("chloe_13", "quoi? t'es qui"), ("inconnu_59", "100 euros en carte cadeau steam ou j'envoie tout à ta classe"),
 ("chloe_13", "stp non"), ("inconnu_59", "t'as 20 minutes"), ("inconnu_59", "si tu le dis à tes parents je publie tout direct")])
b("fr", "slow", [
 ("tata_sophie", "samedi on fait une fête surprise pour papi"), ("ines", "trop bien"), ("tata_sophie", "chut, on ne lui dit rien, c'est un secret"),
 ("ines", "promis"), ("tata_sophie", "ines je te récupère à 15h chez maman")])
b("fr", "slow", [
 ("coach_karim", "l'équipe: entraînement en plus jeudi 18h au gymnase"), ("nathan", "les parents peuvent venir?"),
 ("coach_karim", "bien sûr, les parents sont les bienvenus. covoiturage dans le groupe des parents"), ("maman_nathan", "j'emmène nathan et tom"), ("coach_karim", "merci!")])
b("fr", "slow", [
 ("grand_frere", "mdr t'as 12 ans et tu crois tout savoir"), ("petite_soeur", "presque 13"), ("grand_frere", "presque 13 mdr bébé"),
 ("petite_soeur", "je dis à maman que t'as mangé mes bonbons"), ("grand_frere", "dis rien je t'en rachète demain")])
b("fr", "slow", [
 ("prof_martin", "attention la classe: une arnaque circule sur insta"), ("prof_martin", "quelqu'un dit avoir vos photos et demande des cartes cadeaux"),
 ("prof_martin", "ne payez pas, bloquez et parlez-en à un adulte"), ("jade", "ma cousine a eu ça aussi"), ("prof_martin", "bien qu'elle en ait parlé")])
b("fr", "fast", [
 ("hugo_14", "papa faut que je te parle"), ("papa", "qu'est-ce qui se passe?"), ("hugo_14", "un mec me menace, il dit qu'il va envoyer mes messages au collège si je paie pas"),
 ("papa", "t'as bien fait de me le dire. on ne paie rien"), ("papa", "on fait des captures et on signale ensemble"), ("hugo_14", "ok merci")])

# ---------------- German
g("de", "leon_zockt", "slow", [
 ("leon_zockt", "hey du spielst echt gut"), ("mia_12", "danke"), ("leon_zockt", "spielen wir morgen wieder?"), ("mia_12", "ok"),
 ("leon_zockt", "wie alt bist du eigentlich"), ("mia_12", "12"), ("leon_zockt", "du bist echt reif für dein alter"),
 ("leon_zockt", "ich kann dir den battle pass kaufen"), ("mia_12", "echt?"), ("leon_zockt", "aber sag es nicht deinen eltern, das bleibt unter uns"),
 ("leon_zockt", "schreib mir lieber auf telegram")])
g("de", "trainer_stefan", "slow", [
 ("trainer_stefan", "super spiel heute jonas"), ("jonas", "danke"), ("trainer_stefan", "ich kann dir einzeltraining geben, nur wir zwei"),
 ("jonas", "cool"), ("trainer_stefan", "wann sind deine eltern nicht zuhause?"), ("jonas", "donnerstags bis abends"),
 ("trainer_stefan", "dann hol ich dich donnerstag ab. erzähl es lieber keinem")])
g("de", "unbekannt_88", "fast", [
 ("unbekannt_88", "ich hab alle deine bilder gespeichert"), ("lena_13", "was? wer bist du"), ("unbekannt_88", "100 euro in steam karten oder ich schick alles an deine klasse"),
 ("lena_13", "bitte nicht"), ("unbekannt_88", "du hast 20 minuten"), ("unbekannt_88", "wenn du es jemandem erzählst poste ich es sofort")])
b("de", "slow", [
 ("tante_karin", "samstag machen wir eine überraschungsparty für opa"), ("paul", "cool"), ("tante_karin", "psst, nichts verraten, ist ein geheimnis"),
 ("paul", "versprochen"), ("tante_karin", "paul, ich hol dich um 3 bei mama ab")])
b("de", "slow", [
 ("trainer_uwe", "team: extratraining donnerstag 18 uhr in der halle"), ("ben", "dürfen eltern zuschauen?"),
 ("trainer_uwe", "klar, eltern sind willkommen. fahrgemeinschaften in der elterngruppe"), ("mama_ben", "ich nehme ben und tim mit"), ("trainer_uwe", "danke!")])
b("de", "slow", [
 ("großer_bruder", "haha du bist 12 und denkst du weißt alles"), ("kleine_schwester", "fast 13"), ("großer_bruder", "fast 13 lol baby"),
 ("kleine_schwester", "ich sag mama dass du meine schokolade gegessen hast"), ("großer_bruder", "sag nix, ich kauf dir morgen neue")])
b("de", "slow", [
 ("frau_klein", "achtung klasse: auf insta geht eine betrugsmasche rum"), ("frau_klein", "jemand behauptet eure bilder zu haben und will gutscheincodes"),
 ("frau_klein", "nicht zahlen, blockieren und einem erwachsenen sagen"), ("emil", "meinem cousin ist das auch passiert"), ("frau_klein", "gut dass er es erzählt hat")])
b("de", "fast", [
 ("finn_14", "mama ich muss dir was sagen"), ("mama", "was ist los schatz?"), ("finn_14", "einer droht mir, er sagt er schickt meine nachrichten an die schule wenn ich nicht zahle"),
 ("mama", "gut dass du es mir sagst. wir zahlen nichts"), ("mama", "wir machen screenshots und melden es zusammen"), ("finn_14", "ok danke")])

# ---------------- Estonian
g("et", "mängur_siim", "slow", [
 ("mängur_siim", "tere, sa mängid päris hästi"), ("liisa_12", "aitäh"), ("mängur_siim", "homme mängime jälle?"), ("liisa_12", "ok"),
 ("mängur_siim", "kui vana sa oled muide"), ("liisa_12", "12"), ("mängur_siim", "sa oled oma vanuse kohta väga küps"),
 ("mängur_siim", "ma võin sulle battle passi osta"), ("liisa_12", "päriselt?"), ("mängur_siim", "aga ära ütle vanematele, see jääb meie vahele"),
 ("mängur_siim", "kirjuta mulle parem telegramis")])
g("et", "treener_andres", "slow", [
 ("treener_andres", "tubli mäng täna, mihkel"), ("mihkel", "aitäh"), ("treener_andres", "ma võin sulle eratrenni teha, ainult meie kahekesi"),
 ("mihkel", "lahe"), ("treener_andres", "millal su vanemad kodus ei ole?"), ("mihkel", "neljapäeviti õhtuni"),
 ("treener_andres", "siis tulen neljapäeval sulle järele. parem ära räägi kellelegi")])
g("et", "tundmatu_kasutaja", "fast", [
 ("tundmatu_kasutaja", "mul on kõik su pildid salvestatud"), ("kertu_13", "mis? kes sa oled"), ("tundmatu_kasutaja", "100 eurot kinkekaartidena või saadan kõik su klassile"),
 ("kertu_13", "palun ära tee"), ("tundmatu_kasutaja", "sul on 20 minutit"), ("tundmatu_kasutaja", "kui kellelegi räägid siis postitan kohe")])
b("et", "slow", [
 ("tädi_mari", "laupäeval teeme vanaisale üllatuspeo"), ("karl", "lahe"), ("tädi_mari", "ära talle midagi ütle, see on saladus"),
 ("karl", "luban"), ("tädi_mari", "karl, ma tulen sulle kell 3 ema juurde järele")])
b("et", "slow", [
 ("treener_toomas", "võistkond: lisatrenn neljapäeval kell 18 spordisaalis"), ("rasmus", "kas vanemad võivad vaadata?"),
 ("treener_toomas", "muidugi, vanemad on oodatud. sõidud lepime kokku vanemate grupis"), ("rasmuse_ema", "ma toon rasmuse ja oti"), ("treener_toomas", "aitäh!")])
b("et", "slow", [
 ("vend", "haha sa oled 12 ja arvad et tead kõike"), ("õde", "peaaegu 13"), ("vend", "peaaegu 13 lol beebi"),
 ("õde", "ma ütlen emale et sa sõid mu šokolaadi ära"), ("vend", "ära ütle, ostan homme uue")])
b("et", "slow", [
 ("klassijuhataja", "tähelepanu klass: instas liigub pettus"), ("klassijuhataja", "keegi väidab et tal on teie pildid ja küsib kinkekaarte"),
 ("klassijuhataja", "ärge makske, blokeerige ja rääkige täiskasvanuga"), ("mia", "mu nõbu sai ka sellise sõnumi"), ("klassijuhataja", "hea et ta rääkis")])
b("et", "fast", [
 ("oliver_14", "ema ma pean sulle midagi ütlema"), ("ema", "mis juhtus kallis?"), ("oliver_14", "keegi ähvardab mind, ta ütleb et saadab mu sõnumid kooli kui ma ei maksa"),
 ("ema", "hea et sa ütlesid. me ei maksa midagi"), ("ema", "teeme kuvatõmmised ja teatame koos"), ("oliver_14", "ok aitäh")])
