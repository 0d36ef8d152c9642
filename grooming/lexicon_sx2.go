package grooming

// Second-round sextortion patterns, written where cross-validation showed
// the tagger blind outside English (issue 17): the ultimatum ("… or I post
// it to your class group"), "I still have what you sent", a threat tied to
// telling anyone, bare countdowns ("10 minutes", "half an hour") and the
// local store-card and crypto words (not BLIK, PIX or PayPal alone: friends
// settle debts with them every day). Deadlines alone stay
// weak: "in 10 minutes" is everyday chat; the learned pair terms make the
// combination with a threat or a payment demand strong.
var (
	sextortionAll = []entry{
		{Deadline, 0.4, 0, "#n min|mins|minuto|minutos|minuti|minuten|minut|minuty|minutit|minutiga|minutes|minute|minutter"},
		{Deadline, 0.5, 0, "em|in|w|entro|dans|binnen|jooksul|en|within|innerhalb ~1 #n min|mins|minutos|minuti|minuten|minut|minuty|minutit|minutes|horas|ore|uur|godziny|godzin|tundi|heures|stunden|hours"},
		{Deadline, 0.5, 0, "meia hora"},
		{Deadline, 0.5, 0, "pół|pol godziny"},
		{Deadline, 0.5, 0, "mezz'ora|mezzora"},
		{Deadline, 0.5, 0, "half uur"},
		{Deadline, 0.5, 0, "halbe stunde"},
		{Deadline, 0.5, 0, "demi heure"},
		{Deadline, 0.5, 0, "demiheure|demi-heure"},
		{Deadline, 0.5, 0, "media hora"},
		{Deadline, 0.5, 0, "pool tundi|pooltundi"},
		{Deadline, 0.7, 0, "contagem regressiva|regressiva"},
		{Deadline, 0.7, 0, "odliczam|odliczanie"},
		{Deadline, 0.7, 0, "zegar ~1 leci|tyka"},
		{Deadline, 0.7, 0, "cuenta atrás|atras|regresiva"},
		{Deadline, 0.7, 0, "compte ~1 à|a ~1 rebours"},
		{Deadline, 0.7, 0, "conto alla rovescia"},
		{Deadline, 0.7, 0, "aftellen"},
		{Deadline, 0.7, 0, "de tijd loopt"},
		{Deadline, 0.7, 0, "klok tikt"},
		{Deadline, 0.7, 0, "aeg ~1 jookseb|tiksub|läheb|laheb"},
		{Deadline, 0.6, 0, "tic|tick|tik tac|tock|tak"},
		{PaymentDemand, 0.5, 0, "krypto*|kryptowalut*|cripto|criptomoeda*|criptomoneda*|criptovaluta"},
		{PaymentDemand, 0.5, 0, "kinkekaard*|steami"},
		{PaymentDemand, 0.5, 0, "karcie|kartą|karta|karte|kartę ~1 podarunkow*|steam|google|apple|playstation|psn"},
		{PaymentDemand, 0.5, 0, "cartão|cartao|carta|carte|tarjeta ~2 presente|regalo|cadeau|steam|google|apple|amazon|playstation|psn|xbox"},
	}
	sextortionPT2 = []entry{
		{SextortionThreat, 0.7, 0, "q|que|oq|aquilo|o ~2 vc|você|voce|tu ~1 me ~1 mandou|mandaste|enviou|enviaste ~3 salvei|tenho|guardei|guardado|salvo|printei"},
		{SextortionThreat, 0.7, 0, "tenho|salvei|guardei|printei ~3 @chat|@photo|tudo|nossas"},
		{SextortionThreat, 0.8, 0, "ou ~2 mando|posto|coloco|jogo|vazo|espalho|envio|começo|comeco"},
		{SextortionThreat, 0.8, 0, "coloco|posto|jogo|ponho|mando ~4 grupo|lista ~3 turma|amigos|escola|sala|seguidores|família|familia"},
		{SextortionThreat, 0.8, 0, "vai|vão|vao ~2 pros|pras|pra|para|pro ~2 @parent|seus|teus|escola|amigos|professores|turma|seguidores"},
		{SextortionThreat, 0.7, 0, "se ~1 contar|contares|falar ~3 posto|mando|vazo|espalho"},
		{SextortionThreat, 0.6, 0, "começo|comeco ~1 pelo|pela ~2 @parent|seu|sua|teu|tua"},
	}
	sextortionPL2 = []entry{
		{SextortionThreat, 0.7, 0, "co|które|ktore ~2 mi ~1 wysłałeś|wyslales|wysłałaś|wyslalas|przesłałeś|przeslales ~5 mam|zapisane|zapisałem|zapisalem|zachowane"},
		{SextortionThreat, 0.7, 0, "mam ~2 zapisane|zapisan*|zachowan*|screeny|screena"},
		{SextortionThreat, 0.7, 0, "@photo|wiadomości|wiadomosci|czaty ~4 dalej|nadal|wciąż|wciaz ~1 mam"},
		{SextortionThreat, 0.8, 0, "albo|inaczej|bo ~3 wrzucam|wysyłam|wysylam|rozsyłam|rozsylam|pokazuję|pokazuje|idzie|pójdzie|pojdzie|trafi|zaczynam|wrzucę|wrzuce|wyślę|wysle"},
		{SextortionThreat, 0.8, 0, "wrzucam|wysyłam|wysylam|idzie|pójdzie|pojdzie|trafi|poleci|rozsyłam|rozsylam ~5 do|na ~3 grup*|list*|klas*|znajom*|rodzic*|kumpl*|wychowawc*|szkoł*|szkol*"},
		{SextortionThreat, 0.7, 0, "powiesz|powiesz ~2 komuś|komus|komukolwiek ~3 wrzucam|wysyłam|wysylam|wrzucę|wrzuce"},
		{SextortionThreat, 0.6, 0, "zaczynam|zacznę|zaczne ~1 od ~2 twojego|twojej ~1 ojca|matki|mamy|taty|rodzic*"},
	}
	sextortionET2 = []entry{
		{SextortionThreat, 0.7, 0, "mis ~1 sa ~1 mulle ~4 saatsid ~4 salvestatud|alles|salvestanud"},
		{SextortionThreat, 0.7, 0, "mul on ~3 @chat|@photo|pildid|vestlused|kõik|koik ~2 ?salvestatud"},
		{SextortionThreat, 0.8, 0, "või|voi|muidu ~3 läheb|laheb|lähevad|lahevad|postitan|saadan|jagan|näitan|naitan"},
		{SextortionThreat, 0.8, 0, "läheb|laheb|lähevad|lahevad|saadan|postitan ~4 sõbralist*|sobralist*|klassi*|grupp*|vanemat*|vanematele|emale|isale|kooli*|jälgija*|jalgija*"},
		{SextortionThreat, 0.7, 0, "kui ~1 kellelegi ~1 räägid|raagid|ütled|utled ~3 postitan|saadan|jagan"},
		{SextortionThreat, 0.8, 0, "su|sinu ~1 jälgijad|jalgijad|sõbrad|sobrad|klass|vanemad ~2 näevad|naevad ~1 kõike|koike"},
	}
	sextortionES2 = []entry{
		{SextortionThreat, 0.7, 0, "lo ~1 que ~1 me ~1 mandaste|enviaste|pasaste ~3 guardado|guardé|guarde|tengo"},
		{SextortionThreat, 0.7, 0, "tengo ~2 guardad*|capturas|@chat|@photo|todo"},
		{SextortionThreat, 0.8, 0, "o ~2 lo|las|los ~1 mando|subo|publico|paso|envío|envio"},
		{SextortionThreat, 0.8, 0, "subo|publico|paso|mando|envío|envio ~4 grupo ~3 clase|amigos|colegio|familia"},
		{SextortionThreat, 0.7, 0, "si ~1 se lo ~1 cuentas|dices ~3 subo|publico|mando"},
	}
	sextortionFR2 = []entry{
		{SextortionThreat, 0.7, 0, "ce que ~1 tu ~2 envoyé|envoye|envoyées|envoyees ~3 gardé|garde|sauvegardé|sauvegarde|enregistré|enregistre"},
		{SextortionThreat, 0.7, 0, "j'ai|jai ~2 gardé|garde|sauvegardé|sauvegarde|enregistré|enregistre|capturé ~2 @chat|@photo|tout|tes"},
		{SextortionThreat, 0.8, 0, "sinon ~3 j'envoie|jenvoie|balance|publie|poste|envoie"},
		{SextortionThreat, 0.8, 0, "balance|poste|publie|envoie ~4 groupe ~3 classe|amis|potes|lycée|college|collège|famille"},
		{SextortionThreat, 0.7, 0, "si ~1 tu ~1 le ~1 dis|racontes ~3 j'envoie|jenvoie|balance|publie|poste"},
	}
	sextortionIT2 = []entry{
		{SextortionThreat, 0.7, 0, "quello ~1 che ~1 mi ~1 hai ~1 mandato|inviato ~3 salvato|tengo|conservato"},
		{SextortionThreat, 0.7, 0, "ho ~2 salvato|conservato|screenshot ~3 @chat|@photo|tutto"},
		{SextortionThreat, 0.8, 0, "o|altrimenti ~3 lo|le|li ~1 mando|pubblico|giro|metto"},
		{SextortionThreat, 0.8, 0, "metto|mando|pubblico|giro ~4 gruppo ~3 classe|amici|scuola|famiglia"},
		{SextortionThreat, 0.7, 0, "se ~1 lo ~1 dici ~3 pubblico|mando|giro"},
	}
	sextortionNL2 = []entry{
		{SextortionThreat, 0.7, 0, "wat ~1 je ~4 stuurde|gestuurd ~4 bewaard|opgeslagen|nog"},
		{SextortionThreat, 0.7, 0, "ik heb ~3 @chat|@photo|alles ~2 bewaard|opgeslagen|gescreenshot"},
		{SextortionThreat, 0.8, 0, "anders|of ~3 ik ~1 stuur|post|zet|deel ~3 ?het|?ze"},
		{SextortionThreat, 0.8, 0, "stuur|post|zet|deel ~4 groep|groepsapp|klassenapp ~3 klas|vrienden|school|familie"},
		{SextortionThreat, 0.7, 0, "als ~1 je ~1 het ~1 iemand ~1 vertelt ~3 stuur|post|zet|deel"},
	}
	sextortionDE2 = []entry{
		{SextortionThreat, 0.7, 0, "was ~1 du ~1 mir ~2 geschickt ~3 gespeichert|gescreenshotet"},
		{SextortionThreat, 0.7, 0, "hab|habe ~3 @chat|@photo|alles ~2 gespeichert|gescreenshotet|noch"},
		{SextortionThreat, 0.8, 0, "oder|sonst ~3 ich ~1 schick|schicke|poste|stell|stelle|zeig|zeige ~3 ?es|?sie"},
		{SextortionThreat, 0.8, 0, "schick|schicke|poste|stell|stelle ~4 gruppe|klassenchat|klassengruppe ~3 ?klasse|?freunde|?schule|?familie"},
		{SextortionThreat, 0.7, 0, "wenn ~1 du ~1 es ~1 jemandem ~1 erzählst|erzahlst|sagst ~3 poste|schick|schicke|stell"},
	}
)

// Dutch and Polish patterns added after the same cross-validation: group
// chats asking who is under 13, free ranks with "don't tell the others",
// pick-ups from school, switching location off, and sextortion phrased as
// "they'll all see our chat tonight unless …".
var (
	lexiconNL2 = []entry{
		{AgeProbing, 0.6, 0, "jonger|ouder ~1 dan #minor"},
		{Gift, 0.6, 0, "krijg|krijgt|geef ~3 gratis ~2 @giftitem|rank|vip|skin|skins"},
		{Secrecy, 0.8, 0, "niet ~2 tegen ~2 anderen|iemand|niemand|je ouders ~1 zeggen|vertellen"},
		{PlatformMove, 0.5, 0, "stuur ~2 je|jou ~1 een ~1 dm|pb|privébericht|prive"},
		{SextortionThreat, 0.7, 0, "zien ~3 ons|je|jouw ~1 gesprek|gesprekken|@chat|@photo"},
		{SextortionThreat, 0.7, 0, "als ~1 je ~1 geen ~4 betaalt|stuurt|overmaakt"},
		{SextortionThreat, 0.7, 0, "als ~1 ik ~1 geen ~4 krijg|ontvang"},
		{SextortionThreat, 0.8, 0, "gaat|gaan ~2 naar ~2 je|jouw ~2 @parent|vriend*|mentor|klas|school|volgers"},
		{SextortionThreat, 0.8, 0, "stuur ~2 ik ~2 het|ze ~2 naar"},
		{PaymentDemand, 0.5, 0, "tegoed|steamtegoed"},
		{Deadline, 0.5, 0, "voor ~1 #n uur"},
	}
	lexiconPL2 = []entry{
		{RiskAssessment, 0.7, 0, "ktoś|ktos ~1 cię|cie ~1 odbiera"},
		{RiskAssessment, 0.6, 0, "wracasz ~1 sama|sam"},
		{Meeting, 0.7, 0, "odbiorę|odbiore|podwiozę|podwioze|zawiozę|zawioze ~1 cię|cie"},
		{Secrecy, 0.8, flagCaregiver, "wyłącz|wylacz ~2 lokalizacj*"},
		{SextortionThreat, 0.8, 0, "trafia|trafi|pójdzie|pojdzie|idzie ~3 na|do ~2 profil*|grup*|klas*|rodzic*|znajom*"},
		{PaymentDemand, 0.5, 0, "płacisz|placisz|zapłacisz|zaplacisz"},
		{PaymentDemand, 0.5, 0, "bitcoin*|portfel*"},
		{Deadline, 0.6, 0, "masz ~1 godzinę|godzine|dobę|dobe"},
	}
)
