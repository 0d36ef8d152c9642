#!/usr/bin/env python3
"""Generate grooming/testdata/dev.jsonl: a labelled, non-explicit development set.

Conversations are assembled from many hand-written fragments (per setting, role,
family and language) with random order, fillers, typing styles and obfuscation,
so that no two conversations share a template. Positives show only pre-sexual
manipulation patterns (docs/grooming.md §2); most negatives are hard negatives
reusing the same surface words. Deterministic: seeded.

    python3 grooming/testdata/devgen.py > grooming/testdata/dev.jsonl

The 60 conversations in dev_hand.jsonl (ids dev-h-*) were written by hand,
one by one, and are appended unchanged after the generated ones.
"""
import json, os, random, sys

R = random.Random(20261127)

HANDLES = ["mia_draws", "jayden07", "xXshadowXx", "lilypad", "coachtom", "sam.k", "noodle22", "pixelfox", "ghostrider", "sunny",
           "kai_plays", "emmaaa", "dino_boy", "starlight", "mr_b", "art_guy", "luna", "leo.m", "tutor_anne", "bluejay", "ruby",
           "mateo", "sofia_r", "lucas10", "camille", "hugo", "lena", "finn", "nora", "paul_g", "ines", "tim_o", "zoe", "max_r",
           "gamer4life", "catlover", "moonwalker", "bex", "ollie", "jules", "aiko", "ravi", "tess", "ivan", "marta", "yusuf",
           "dani", "pia", "elias", "chloe", "noah_b", "ana", "mom", "dad", "aunt_jo", "grandpa_ed", "coach_d", "ms_lopez",
           "helpline_vol", "teacher_k", "seller42", "buyer_mk", "clanlead", "mod_ray", "frau_weber", "m.dupont"]

# ---------------------------------------------------------------- grooming, EN
G_EN = {
 "rapport": [
  "hey saw your build in the showcase, it's honestly amazing", "ur drawing of the fox was so good, did u do it yourself?",
  "gg that last round, you carried the whole team", "hi! i liked your stream today, you're really funny",
  "you're the best player on this server tbh", "I used to get picked on at school too, it gets better",
  "hey, your cover of that song was really good", "need help with that level? i know all the shortcuts",
  "yo you're pretty good at this for real", "i remember being your age and nobody listened to me either",
 ],
 "age": ["how old r u btw?", "wait how old are you", "u like 12 or 13?", "what grade are you in?", "what are you like 13",
         "what year were you born", "still in middle school?", "asl lol", "how old r u, you type pretty grown up"],
 "flattery": ["u seem way more mature than 12", "you're so mature for your age honestly", "you're not like other kids on here",
              "you're smarter than most adults I know", "you act older than you are, I like that", "you're really different from other 13 year olds",
              "wise beyond your years fr", "you're special, you know that?", "you get me, most people don't"],
 "gift": ["I can send you robux if you want", "want some free vbucks? i have extra", "ill buy you the battle pass",
          "i'll get you a gift card, no big deal", "I could gift you that skin you wanted", "i can pay for your nitro",
          "want me to send u some gems? on one condition tho", "i'll send you $20 every week on cashapp"],
 "risk": ["are your parents home right now?", "does anyone check your phone?", "what time do your parents go to sleep?",
          "when are you home by yourself?", "is anyone else around rn?", "do your parents read your messages?",
          "does your phone have location sharing on?", "are you alone right now?", "do you have your own room?"],
 "secrecy": ["don't tell your parents we talk ok", "this stays between us", "it's our little secret", "keep it on the down low",
             "save me as 'Art Club' in your phone", "delete our chats every night ok?", "don't tell your mom about the robux",
             "nobody needs to know about this", "your parents wouldn't understand", "don't show anyone our messages", "🤫 our thing"],
 "isolation": ["your parents don't appreciate you", "I'm the only one who really gets you", "don't talk to other people on here, they're fake",
               "they wouldn't understand us", "you don't need to go through your mom for everything", "your friends are just jealous of you",
               "only trust me ok", "no one else gets you like i do", "come to me instead of them"],
 "platform": ["add me on d1sc0rd its easier", "do you have snap?", "let's move to telegram, this app watches everything",
              "make a new account your mom doesn't know about", "text me on my personal number, not the team app",
              "we should use wickr, it deletes stuff", "what's your insta", "i have a private server only I can invite to",
              "download signal, turn on disappearing messages", "the mods can read this, add me on sn@p"],
 "photo": ["send me a pic of you", "selfie so I know you're not a bot", "can you send a pic holding a paper with my username",
           "turn your camera on, friends trust each other", "what do you look like?", "send me a picture, just for me",
           "send another one, that one was blurry", "show me your room"],
 "compliance": ["prove it", "if you trusted me you would", "it's totally normal, everyone does it", "don't be a baby",
                "after everything I did for you?", "I guess I care more than u do", "just this once, nobody will know",
                "turn off the parental controls, it's easy"],
 "meet": ["I'll pick you up after school", "meet me at the mall, just you", "come alone, my friends are shy",
          "tell your dad you're at a friend's", "we could meet at the library saturday", "I can come get you, I have a car",
          "where can we meet?", "sneak out after they go to bed"],
 "desens": ["age is just a number", "people get weird when adults are nice to kids", "parents make a big deal out of nothing",
            "it's not weird, we're just friends", "we're basically the same, age doesn't matter"],
 "evasive": ["a bit older lol", "older than you but not by much", "does it matter?", "old enough haha"],
 "adultlife": ["ugh long shift today", "gotta work early tmrw", "my boss kept me late", "just parked, grey honda"],
}
C_EN = ["idk", "lol", "ok", "yeah", "maybe", "haha thanks", "why?", "um ok", "i guess", "sure", "13", "im 12", "i'm 13",
        "yea im in 7th", "my mom checks sometimes", "they're at work", "i don't know", "thats kinda weird", "cool", "really?",
        "omg thank you", "i have to ask my mom", "i'm not allowed", "ok i won't", "fine", "im home alone till 6", "no one checks",
        "ur funny", "wait what", "hmm", "sure i guess", "brb dinner"]

# ---------------------------------------------------------------- grooming, ES/DE/FR
G_ES = {
 "rapport": ["hola vi tu dibujo, es buenísimo", "qué buena partida, juegas muy bien", "me encantó tu directo de hoy"],
 "age": ["cuántos años tienes?", "en qué curso estás?", "tienes 12 o 13?", "de qué año eres"],
 "flattery": ["pareces mucho más madura", "eres muy madura para tu edad", "no eres como las otras niñas"],
 "gift": ["te regalo pavos si quieres", "te puedo comprar el pase de batalla", "te mando robux, con una condición"],
 "risk": ["estás sola en casa?", "tus padres revisan tu móvil?", "a qué hora se duermen tus padres?"],
 "secrecy": ["no les digas nada a tus padres", "esto queda entre nosotros", "es nuestro pequeño secreto", "borra los mensajes porfa"],
 "isolation": ["tus padres no te entienden", "solo yo te entiendo de verdad", "no hables con nadie más de esto"],
 "platform": ["agrégame en snap", "pásate a telegram, aquí lo vigilan todo", "hazte una cuenta nueva que tu madre no sepa"],
 "photo": ["mándame una foto tuya", "pon la cámara", "cómo eres físicamente?"],
 "compliance": ["si de verdad confiaras en mí lo harías", "todos lo hacen", "no seas miedosa"],
 "meet": ["ven sola, nadie tiene que saber", "te recojo después del cole", "di que estás en casa de una amiga", "quedamos el sábado en el parque?"],
 "desens": ["la edad es solo un número", "no tiene nada de malo"],
}
C_ES = ["jaja", "vale", "no sé", "tengo 12", "tengo 13", "sí", "por qué?", "mi madre a veces lo mira", "ok", "gracias!!", "qué raro", "no puedo"]
G_DE = {
 "rapport": ["hey, dein bild im forum ist echt krass", "gg, du hast das team getragen", "dein stream heute war mega"],
 "age": ["wie alt bist du eigentlich?", "in welche klasse gehst du?", "jahrgang 2013?", "bist du 12?"],
 "flattery": ["du wirkst viel reifer als die anderen", "du bist so reif für dein alter", "du bist nicht wie die anderen kinder"],
 "gift": ["ich schenk dir robux", "ich kann dir den battle pass kaufen", "ich schick dir vbucks, unter einer bedingung"],
 "risk": ["bist du allein zuhause?", "schauen deine eltern in dein handy?", "wann schlafen deine eltern?"],
 "secrecy": ["erzähl deinen eltern nichts", "das bleibt unter uns", "unser kleines geheimnis", "lösch den chat danach"],
 "isolation": ["deine eltern verstehen dich nicht", "nur ich verstehe dich wirklich", "rede mit niemandem darüber"],
 "platform": ["schreib mir auf telegram", "hast du snap?", "mach dir einen zweiten account, den deine mutter nicht kennt"],
 "photo": ["schick mir ein foto von dir", "mach mal die kamera an", "wie siehst du aus?"],
 "compliance": ["wenn du mir wirklich vertraust, machst du das", "alle machen das", "sei nicht so langweilig"],
 "meet": ["komm allein", "ich hol dich nach der schule ab", "sag einfach du bist bei einer freundin", "treffen wir uns am bahnhof?"],
 "desens": ["alter ist nur eine zahl", "ist doch nichts dabei"],
}
C_DE = ["haha", "ok", "weiß nicht", "ich bin 12", "ich bin 13", "ja", "warum?", "meine mama schaut manchmal", "danke!!", "komisch", "darf ich nicht"]
G_FR = {
 "rapport": ["salut, ton dessin est trop beau", "gg, t'as porté l'équipe", "j'ai adoré ton live"],
 "age": ["t'as quel âge ?", "tu es en quelle classe ?", "t'as 12 ou 13 ans ?"],
 "flattery": ["tu fais plus mature que les autres", "t'es très mature pour ton âge", "t'es pas comme les autres"],
 "gift": ["je t'offre des robux", "je peux t'acheter le passe de combat", "je t'envoie des gemmes, à une condition"],
 "risk": ["t'es seule chez toi ?", "tes parents regardent ton téléphone ?", "à quelle heure tes parents dorment ?"],
 "secrecy": ["dis rien à tes parents", "ça reste entre nous", "c'est notre petit secret", "efface la conversation après"],
 "isolation": ["tes parents te comprennent pas", "il n'y a que moi qui te comprends", "parle à personne de ça"],
 "platform": ["ajoute-moi sur snap", "viens sur telegram, ici tout est enregistré", "fais un autre compte que ta mère connaît pas"],
 "photo": ["envoie-moi une photo de toi", "allume ta caméra", "tu ressembles à quoi ?"],
 "compliance": ["si tu me faisais confiance tu le ferais", "tout le monde le fait", "fais pas ta timide"],
 "meet": ["viens seule", "je viens te chercher après les cours", "dis que tu dors chez une copine", "on se voit samedi au parc ?"],
 "desens": ["l'âge n'est qu'un chiffre", "y a rien de mal"],
}
C_FR = ["mdr", "ok", "jsp", "j'ai 12 ans", "j'ai 13 ans", "oui", "pourquoi ?", "ma mère regarde parfois", "merci !!", "bizarre", "j'ai pas le droit"]

FILLER = {
 "en": ["did you see the new update", "lol same", "what map r u on", "i got a new puppy", "school was so boring today", "brb",
        "that boss is impossible", "nice", "haha", "what are you up to", "cool cool", "same tbh", "i'm so tired", "did u finish the homework"],
 "es": ["viste la actualización?", "jaja igual", "qué aburrido el cole hoy", "mola", "vale vale"],
 "de": ["hast du das update gesehen?", "haha same", "schule war so langweilig", "cool", "nice"],
 "fr": ["t'as vu la mise à jour ?", "mdr pareil", "les cours c'était nul", "cool", "trop bien"],
}

# ---------------------------------------------------------------- benign scenes
# Each scene is a list of (speaker_role, line) alternatives; one line is drawn
# per step from the alternatives, so scenes vary widely in wording.
B_EN = {
 "surprise": [
  [("a", ["don't tell mom!! we're getting her a cake for her birthday", "shh don't tell dad about the party 🤫", "don't tell grandma, the surprise is on sunday"])],
  [("b", ["omg ok i won't", "my lips are sealed", "lol ok. what time?", "ok secret is safe"])],
  [("a", ["keep it secret till friday ok", "it's a surprise so don't say anything", "just between us until saturday!", "we need to hide the present in your room"])],
  [("b", ["should i get a card too?", "i can bring balloons 🎈", "what do we say if she asks", "i'll text aunt jo to help"])],
  [("a", ["say we're at the mall lol", "tell her we're just doing homework", "delete the group chat after so she doesn't see it", "ok can you send me a pic of the cake when it's done"])],
 ],
 "parent": [
  [("a", ["are you home alone right now?", "are you home yet?", "is anyone home with you?", "where are you sweetie"])],
  [("b", ["yeah just got back", "yes mom", "dad's not back yet", "at lily's"])],
  [("a", ["lock the door and don't open it for anyone", "ok keep your location on please", "text me when you get home", "call me if anything happens"])],
  [("a", ["send me a selfie with your cabin mates!", "send me a pic of your homework when it's done", "what time do you get out of practice?", "I'll pick you up at 5"])],
  [("b", ["ok love u", "fine 🙄", "k", "can I have a friend over?"])],
 ],
 "coach": [
  [("a", ["great practice today!", "hi, coach here. practice moved to thursday", "nice work on the drills", "your form is really improving"])],
  [("b", ["thanks coach", "ok!", "cool thanks"])],
  [("a", ["I'll text your mom about extra practice", "ask your parents if you can join the weekend camp", "your dad can drive you to the tournament, I'll send him the details", "I cc'd your parents on the schedule"])],
  [("a", ["meet at the field at 9, parents are welcome to stay", "send me a photo of the signed permission slip", "what time do you get out of school? I'll tell your mom the bus times", "bring your water bottle and the consent form"])],
  [("b", ["ok I'll ask", "my mom said ok", "cool see u there", "will do"])],
 ],
 "peers": [
  [("a", ["how old r u", "wait how old are you", "what grade r u in", "u 12 or 13?"])],
  [("b", ["13 u?", "im 12", "7th grade, u?", "13!!"])],
  [("a", ["same!!", "im 13 too lol", "12, almost 13", "me too omg"])],
  [("b", ["what school do you go to", "add me on discord its easier", "do you have snap?", "this app is so laggy, wanna move to discord?"])],
  [("a", ["ok my username is pixelfox", "my mom doesn't let me have snap lol", "lincoln middle, u?", "sure the whole clan is on there"])],
 ],
 "helpline": [
  [("a", ["hi, you've reached the kids helpline. is it safe to chat right now?", "hello, this is a trained volunteer. are you somewhere safe to talk?"])],
  [("b", ["yeah im alone in my room", "yes", "i think so"])],
  [("a", ["it's not your fault, and you did the right thing reaching out", "thank you for telling me. you're really brave", "that sounds really hard"])],
  [("a", ["is there a trusted adult you could talk to, like a teacher or your aunt?", "you can always talk to us, and we can help you tell someone safe", "would it help to tell your school counsellor?"])],
  [("b", ["maybe my aunt", "ok", "thank you"])],
 ],
 "education": [
  [("a", ["today in class we learned about grooming warning signs", "mrs k did an online safety lesson", "mom told me about red flags online"])],
  [("b", ["like what", "what did she say", "oh like what"])],
  [("a", ["like if someone says don't tell your parents, that's a red flag", "if anyone asks you to keep secrets from your parents, tell a trusted adult", "never send pics to people you meet online", "if a stranger offers free robux it's usually a scam"])],
  [("a", ["and if someone asks what school you go to or if you're home alone, don't answer", "or if they want to move to snap or telegram right away", "and good secrets are surprises, bad secrets are ones that make you feel weird"])],
  [("b", ["makes sense", "ok good to know", "that's creepy", "i'll remember"])],
 ],
 "report": [
  [("a", ["omg this guy in the game asked me how old i was", "someone dmd me saying 'don't tell ur parents'", "this weird account kept asking for a pic of me"])],
  [("b", ["ew block him", "that's so creepy", "did you tell your mom?"])],
  [("a", ["i blocked and reported him", "he said he'd give me robux if i kept it secret lol no", "he wanted me to add him on snap, i said no"])],
  [("b", ["good. tell your mom too", "tell a teacher", "same thing happened to my cousin"])],
  [("a", ["i showed my dad, he reported it", "yeah i told my mom", "ok i will"])],
 ],
 "clan": [
  [("a", ["we're recruiting for our clan, we're all 13-15", "looking for players for the team, anyone under 16 welcome", "join our clan! we play every friday"])],
  [("b", ["how old are you guys?", "can i join? im 14", "what rank do i need"])],
  [("a", ["join our discord, the whole clan is on there", "add me on discord and i'll invite you to the server", "free skins for members in the giveaway channel"])],
  [("b", ["ok added u", "cool! what server", "nice"])],
  [("a", ["welcome! read the rules in the server", "mods are in the server if anyone is rude", "we have tryouts saturday"])],
 ],
 "market": [
  [("a", ["hi is the bike still available?", "is the desk still for sale?", "hi, interested in the puppy"])],
  [("b", ["yes it is", "yep still here", "yes!"])],
  [("a", ["how old is it?", "can you send a pic of the scratches?", "what's your number? easier to text"])],
  [("b", ["about 2 years", "sent a pic", "555-0142"])],
  [("a", ["can we meet at the station saturday?", "i can pick it up after work", "where do you live roughly? i'll drive over"])],
  [("b", ["sure, the parking lot by the train station at 10", "ok saturday works", "north side, I'll send the address"])],
 ],
 "adults": [
  [("a", ["hey want to meet up for coffee this weekend?", "you free saturday? let's hang out", "miss you! we should meet irl soon"])],
  [("b", ["yes!! sunday?", "sure, where?", "omg yes"])],
  [("a", ["i'll pick you up at 2", "send me a pic of the new haircut lol", "let's keep it between us, the others will be jealous we didn't invite them"])],
  [("b", ["haha ok", "deal", "see you then"])],
 ],
 "sibling": [
  [("a", ["don't tell mom i let you use my account lol", "shh don't tell dad i gave you my old phone", "don't tell mom we stayed up late"])],
  [("b", ["lol ok", "i won't", "deal"])],
  [("a", ["and delete the messages about it", "it's our secret ok", "mom and dad make a big deal out of nothing"])],
  [("b", ["ok ok", "fine", "haha"])],
 ],
 "tutor": [
  [("a", ["hi! ready for tomorrow's session?", "great job on the essay", "let's go over chapter 4"])],
  [("b", ["yes!", "thanks!", "ok"])],
  [("a", ["send me a photo of your worksheet when you finish", "we'll use the tutor portal so your mom can see the thread", "I'll email your dad the homework plan"])],
  [("a", ["you're really talented at this", "you're one of my smartest students", "your writing is really mature, great vocabulary"])],
  [("b", ["thank you!!", "ok see you", "will do"])],
 ],
}
B_ES = {
 "surprise": [[("a", ["no le digas nada a mamá, es una sorpresa para su cumpleaños", "shh no le cuentes a papá lo de la fiesta 🤫"])],
              [("b", ["vale no digo nada", "ok jaja"])], [("a", ["es un secreto hasta el sábado", "escondemos el regalo en tu cuarto"])]],
 "parent": [[("a", ["estás sola en casa?", "ya llegaste?"])], [("b", ["sí mamá", "sí"])],
            [("a", ["cierra la puerta con llave", "deja la ubicación activada porfa", "mándame una foto con tus amigas del campamento"])]],
 "peers": [[("a", ["cuántos años tienes?", "en qué curso estás?"])], [("b", ["tengo 13 y tú?", "tengo 12"])],
           [("a", ["yo también 13!", "igual jaja"])], [("b", ["agrégame en discord", "tienes snap?"])]],
 "coach": [[("a", ["buen entrenamiento hoy", "el partido es el sábado"])], [("a", ["le escribo a tu mamá para confirmar", "pregúntale a tus padres si puedes venir al torneo"])],
           [("a", ["quedamos en el campo a las 9, los padres pueden quedarse", "tus padres pueden traerte"])], [("b", ["vale gracias", "ok!"])]],
 "education": [[("a", ["hoy en clase hablamos de señales de alerta en internet"])], [("b", ["como qué?"])],
               [("a", ["si alguien te pide que no les digas nada a tus padres, cuéntaselo a un adulto de confianza", "nunca envíes fotos a desconocidos"])]],
 "report": [[("a", ["un tipo me dijo que no le dijera nada a mis padres", "un chico me pidió una foto"])], [("b", ["qué asco, bloquéalo"])],
            [("a", ["ya lo bloqueé y lo reporté", "se lo conté a mi madre"])]],
}
B_DE = {
 "surprise": [[("a", ["erzähl mama nichts, das ist eine überraschung zum geburtstag", "psst, sag papa nichts von der party 🤫"])],
              [("b", ["ok versprochen", "haha ok"])], [("a", ["bleibt geheim bis samstag", "wir verstecken das geschenk bei dir"])]],
 "parent": [[("a", ["bist du allein zuhause?", "bist du schon da?"])], [("b", ["ja mama", "ja"])],
            [("a", ["schließ die tür ab", "lass bitte den standort an", "schick mir ein foto mit deinen freunden vom zeltlager"])]],
 "peers": [[("a", ["wie alt bist du?", "welche klasse?"])], [("b", ["13 und du?", "ich bin 12"])],
           [("a", ["ich auch 13!", "same"])], [("b", ["hast du discord?", "adde mich auf discord, die app hier laggt"])]],
 "coach": [[("a", ["gutes training heute", "spiel ist am samstag"])], [("a", ["ich schreibe deiner mutter wegen der fahrt", "frag deine eltern ob du zum turnier kannst"])],
           [("a", ["treffpunkt 9 uhr am platz, eltern sind willkommen"])], [("b", ["ok danke", "super"])]],
 "education": [[("a", ["heute hatten wir medienkompetenz in der schule"])], [("b", ["und?"])],
               [("a", ["wenn dich jemand fragt ob du allein bist oder sagt erzähl deinen eltern nichts, sag es einem erwachsenen dem du vertraust", "gib niemals deine adresse raus"])]],
 "report": [[("a", ["so ein typ hat gesagt ich soll meinen eltern nichts erzählen", "jemand hat nach einem foto von mir gefragt"])], [("b", ["ekelhaft, blockier ihn"])],
            [("a", ["hab ihn blockiert und gemeldet", "hab es meiner mama gezeigt"])]],
}
B_FR = {
 "surprise": [[("a", ["dis rien à maman, c'est une surprise pour son anniversaire", "chut, dis rien à papa pour la fête 🤫"])],
              [("b", ["ok promis", "mdr ok"])], [("a", ["c'est un secret jusqu'à samedi", "on cache le cadeau chez toi"])]],
 "parent": [[("a", ["t'es seule à la maison ?", "t'es rentrée ?"])], [("b", ["oui maman", "oui"])],
            [("a", ["ferme la porte à clé", "laisse ta localisation activée stp", "envoie-moi une photo avec tes copines de la colo"])]],
 "peers": [[("a", ["t'as quel âge ?", "t'es en quelle classe ?"])], [("b", ["13 et toi ?", "j'ai 12 ans"])],
           [("a", ["moi aussi 13 !", "pareil mdr"])], [("b", ["t'as discord ?", "ajoute-moi sur discord, l'appli ici ça lag"])]],
 "coach": [[("a", ["bon entraînement aujourd'hui", "le match est samedi"])], [("a", ["j'écris à ta mère pour le trajet", "demande à tes parents si tu peux venir au tournoi"])],
           [("a", ["rendez-vous au stade à 9h, les parents sont bienvenus"])], [("b", ["ok merci", "super"])]],
 "education": [[("a", ["aujourd'hui on a parlé de sécurité en ligne à l'école"])], [("b", ["genre quoi ?"])],
               [("a", ["si quelqu'un te demande de rien dire à tes parents, parles-en à un adulte de confiance", "ne donne jamais ton adresse"])]],
 "report": [[("a", ["un mec m'a dit de rien dire à mes parents", "quelqu'un m'a demandé une photo de moi"])], [("b", ["beurk, bloque-le"])],
            [("a", ["je l'ai bloqué et signalé", "je l'ai montré à ma mère"])]],
}

LANG = {"en": (G_EN, C_EN, B_EN), "es": (G_ES, C_ES, B_ES), "de": (G_DE, C_DE, B_DE), "fr": (G_FR, C_FR, B_FR)}

HOMO = {"a": "а", "e": "е", "o": "о", "p": "р", "c": "с", "x": "х", "y": "у", "i": "і", "s": "ѕ"}
LEET = {"o": "0", "i": "1", "e": "3", "a": "4", "s": "5", "t": "7"}

def obfuscate(s, how):
    words = s.split(" ")
    if not words:
        return s
    k = R.randrange(len(words))
    w = words[k]
    if len(w) < 3:
        return s
    if how == "leet":
        w = "".join(LEET.get(ch, ch) if R.random() < 0.5 else ch for ch in w)
    elif how == "spaced":
        w = " ".join(w)
    elif how == "homoglyph":
        w = "".join(HOMO.get(ch, ch) for ch in w)
    elif how == "zw":
        m = len(w) // 2
        w = w[:m] + "\u200b" + w[m:]
    elif how == "repeat":
        w = w + w[-1] * R.randint(2, 4)
    words[k] = w
    return " ".join(words)

def style(s):
    r = R.random()
    if r < 0.25:
        s = s.lower().replace("'", "")
    elif r < 0.35:
        s = s.rstrip("?.!") + R.choice([" lol", " haha", " 😊", " :)", "!!", " ok?"])
    elif r < 0.45 and len(s) > 0:
        s = s[0].upper() + s[1:]
    return s

def pick_handles():
    a, b = R.sample(HANDLES, 2)
    return a, b

used = set()

def grooming(i, lang):
    G, C, _ = LANG[lang]
    adult, child = pick_handles()
    fams_all = [f for f in ["age", "flattery", "gift", "risk", "secrecy", "isolation", "platform", "photo", "compliance", "meet", "desens"] if f in G]
    # Subtle ones have only two boundary-violating families; strong ones 3-6.
    n = R.choice([2, 2, 3, 3, 4, 4, 5, 6])
    core = [f for f in fams_all if f not in ("age", "flattery")]
    chosen = R.sample(core, min(n, len(core)))
    if R.random() < 0.7:
        chosen.insert(0, "age")
    if R.random() < 0.5:
        chosen.insert(R.randint(0, len(chosen)), "flattery")
    # Loose progression: rapport first, meeting/photo late, but stages are
    # not ordered in real data, so shuffle the middle.
    late = [f for f in chosen if f in ("meet", "photo")]
    mid = [f for f in chosen if f not in late]
    R.shuffle(mid)
    order = ["rapport"] + mid + late
    obf = R.random() < 0.3
    msgs, ev, seen_core = [], None, 0
    child_first = R.random() < 0.3
    if child_first:
        msgs.append({"from": child, "text": style(R.choice(FILLER[lang] + ["hi", "hey", "hola" if lang == "es" else "hallo" if lang == "de" else "salut" if lang == "fr" else "hii"]))})
    for f in order:
        line = R.choice(G[f])
        if obf and f in ("platform", "secrecy", "meet", "photo") and R.random() < 0.6:
            line = obfuscate(line, R.choice(["leet", "spaced", "homoglyph", "zw", "repeat"]))
        msgs.append({"from": adult, "text": style(line)})
        if f not in ("rapport", "age", "flattery"):
            seen_core += 1
            if seen_core == 2 and ev is None:
                ev = len(msgs) - 1
        if lang == "en" and f == "age" and R.random() < 0.5:
            msgs.append({"from": child, "text": R.choice(["im 12", "13", "i'm 13", "12 wbu?", "11"])})
            msgs.append({"from": adult, "text": style(R.choice(G_EN["evasive"] + G_EN["flattery"][:3]))})
            continue
        if R.random() < 0.85:
            msgs.append({"from": child, "text": style(R.choice(C))})
        if R.random() < 0.25:
            who = R.choice([adult, child])
            msgs.append({"from": who, "text": style(R.choice(FILLER[lang]))})
        if lang == "en" and R.random() < 0.12:
            msgs.append({"from": adult, "text": R.choice(G_EN["adultlife"])})
    if ev is None:
        ev = len(msgs) - 1
    return {"id": f"dev-g{i:03d}", "label": "grooming", "lang": lang, "suspect": adult, "evidence_turn": ev, "messages": msgs}

def benign(i, lang, kind):
    _, _, B = LANG[lang]
    a, b = pick_handles()
    if kind == "parent":
        a = R.choice(["mom", "dad", "aunt_jo", "grandpa_ed", a])
    msgs = []
    for step in B[kind]:
        role, alts = step[0]
        if R.random() < 0.15 and len(msgs) > 1:
            continue
        line = R.choice(alts)
        if R.random() < 0.12:
            line = obfuscate(line, R.choice(["leet", "repeat", "zw", "homoglyph"]))
        msgs.append({"from": a if role == "a" else b, "text": style(line)})
        if R.random() < 0.3:
            msgs.append({"from": R.choice([a, b]), "text": style(R.choice(FILLER[lang]))})
    if R.random() < 0.3:
        msgs.insert(0, {"from": b, "text": style(R.choice(["hey", "hi", "yo"] + FILLER[lang][:3]))})
    return {"id": f"dev-b{i:03d}", "label": "benign", "lang": lang, "messages": msgs}

def key(c):
    return tuple(m["text"] for m in c["messages"])

out = []
gi = bi = 0
langs = ["en"] * 11 + ["es"] * 3 + ["de"] * 3 + ["fr"] * 3
while gi < 128:
    c = grooming(gi, R.choice(langs))
    if key(c) in used or len(c["messages"]) < 4:
        continue
    used.add(key(c)); out.append(c); gi += 1
while bi < 192:
    lang = R.choice(langs)
    kind = R.choice(list(LANG[lang][2].keys()))
    c = benign(bi, lang, kind)
    c["id"] += "-" + kind
    if key(c) in used or len(c["messages"]) < 3:
        continue
    used.add(key(c)); out.append(c); bi += 1
R.shuffle(out)
for c in out:
    sys.stdout.write(json.dumps(c, ensure_ascii=False) + "\n")
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "dev_hand.jsonl"), encoding="utf-8") as f:
    for line in f:
        if line.strip():
            sys.stdout.write(line if line.endswith("\n") else line + "\n")
