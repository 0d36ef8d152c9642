package grooming

// Third-round patterns, written from the leave-one-batch-out errors on the
// spent batches (issue 17): every batch was held out in turn and the
// misses and false alarms read, so these are gaps other writers' words
// showed, written as general forms rather than their sentences.
//
//   - Sextortion: the ultimatum's second half ("… or they all receive
//     it", "o lo ven tus padres"), kept-what-you-sent in FR, DE and NL,
//     "I start with your father", haggling ("20 now, the rest tomorrow"),
//     gift cards named by brand in the plural, PayPal's friends-and-family
//     mode (no buyer protection), "every 10 minutes" and "hurry".
//   - Reported speech in every language in the present tense as well as
//     the past ("he keeps asking", "er meinte", "il me demande", "ta
//     küsib"): a child telling a friend what a stranger wrote is a
//     disclosure, and its words must not weigh as the child's own.
//   - Safety replies ("block him", "tell your dad about it", "bloccalo"):
//     what a friend answers to a disclosure. They are safety advice; the
//     scorer reads them on the other side of the pair (target:safety).
//     "Tell your dad" alone is left out: "tell your dad you're at a
//     friend's" is a cover story. "Don't pay" is advice no extortioner
//     gives.
//   - Sextortion disclosures told as "someone said he'll send our chats"
//     with the object far from the verb (PT, FR, NL, PL, ET).
var lexiconCV = []entry{
	// Disclosures: someone said they will send or post.
	{CueDisclosure, 1.0, 0, "disse|diz|falou ~1 que|q ~1 vai ~1 mandar|postar|enviar|mostrar|espalhar|divulgar"},
	{CueDisclosure, 1.0, 0, "dit|dis ~1 qu'il|quil|qu'elle|quelle|qu ~2 va ~1 envoyer|poster|publier|montrer|balancer|partager"},
	{CueDisclosure, 1.0, 0, "qqn|quelqu'un|quelquun ~4 dit|menace"},
	{CueDisclosure, 1.0, 0, "zegt|zei|dreigt ~1 dat ~1 hij|ze|zij ~3 stuurt|sturen|post|posten|deelt|delen"},
	{CueDisclosure, 1.0, 0, "mówi|mowi|napisał|napisal|powiedział|powiedzial ~1 że|ze ~3 wyśle|wysle|wrzuci|pokaże|pokaze|roześle|rozesle"},
	{CueDisclosure, 1.0, 0, "ütleb|utleb|ütles|utles|kirjutas ~1 et ~3 saadab|postitab|näitab|naitab|jagab"},
	// Sextortion: ultimatums.
	{SextortionThreat, 0.8, 0, "sinon|ou ~8 reçoit|recoit|reçoivent|recoivent|recevra|recevront|verra|verront|voit|voient"},
	{SextortionThreat, 0.8, 0, "sinon|ou je ~2 mets|poste|publie|balance|envoie|partage ~4 groupe|classe|story|insta|réseaux|reseaux|amis|potes|parents"},
	{SextortionThreat, 0.7, 0, "sinon|ou je poste|publie|balance"},
	{SextortionThreat, 0.8, 0, "o lo|los|las|te ven|verán|veran|reciben|recibe|recibirán|recibiran"},
	{SextortionThreat, 0.8, 0, "si no ~1 lo|los|las|te ven|verán|veran|reciben|recibe|recibirán|recibiran"},
	{SextortionThreat, 0.8, 0, "oder|sonst ich ~1 schick|schicke|poste|stelle|markier|markiere|teile"},
	{SextortionThreat, 0.7, 0, "sonst ~1 fang ich ~3 an"},
	{SextortionThreat, 0.8, 0, "altrimenti|o ~6 vedono|vedranno|ricevono|riceverà|ricevera|riceveranno"},
	{SextortionThreat, 0.8, 0, "of|anders ik ~1 tag|stuur|post|deel|zet ~3 je|jouw"},
	{SextortionThreat, 0.8, 0, "ou|senão|senao ~6 recebem|recebe|veem|vêem|verão|verao"},
	{SextortionThreat, 0.8, 0, "albo|bo|inaczej ~6 dostaną|dostana|zobaczą|zobacza|wyślę|wysle|wrzucę|wrzuce"},
	{SextortionThreat, 0.7, 0, "alustan|fang|commence|comienzo|empiezo|comincio|begin|zacznę|zaczne|começo|comeco ~3 treenerist|isast|emast|vater|mutter|père|pere|mère|mere|padre|madre|papà|mamma|vader|moeder|ojca|matki|pai|mãe|mae|coach|trainer|treener"},
	// Sextortion: kept what you sent.
	{SextortionThreat, 0.7, 0, "@photo|@chat ~5 je les ai|garde|gardé|gardées|gardees|enregistré|enregistre|enregistrées|sauvegardé|sauvegarde"},
	{SextortionThreat, 0.7, 0, "@photo|@chat ~4 gespeichert|gesichert|behalten|gescreenshottet"},
	{SextortionThreat, 0.7, 0, "hab|habe ~2 noch ~3 was du ~2 geschickt|geschrieben"},
	{SextortionThreat, 0.7, 0, "heb ~1 alles|alle|je ~2 nog ~3 wat je ~2 stuurde|gestuurd"},
	// Sextortion: payment.
	{PaymentDemand, 0.6, 0, "cartes|cartas|tarjetas|karten|kaarten|kaarte|karty|cartões|cartoes ~2 psn|steam|google|apple|amazon|playstation|xbox|itunes|cadeau|regalo|presente|podarunkowe"},
	{PaymentDemand, 0.6, 0, "play|steam|psn|itunes|apple|amazon kaarten|karten|kaardid|kaartidena|cartes|cards|guthaben|tegoed|karty|kaarte"},
	{PaymentDemand, 0.6, 0, "paypal ~2 proches|freunde|friends|vrienden|amici|amigos|znajomi|sõbrad|sobrad"},
	{PaymentDemand, 0.6, 0, "#n ~1 jetzt|now|ahora|maintenant|adesso|agora|nu|teraz|kohe ~2 rest|resto|reste|reszta|ülejäänud|ulejaanud ~2 morgen|tomorrow|mañana|manana|demain|domani|amanhã|amanha|jutro|homme"},
	{PaymentDemand, 0.6, 0, "kui ~1 sa ~1 ei maksa"},
	{PaymentDemand, 0.6, 0, "si tu ~1 paies|payes ~1 pas"},
	{PaymentDemand, 0.6, 0, "wenn du ~1 nicht zahlst"},
	{PaymentDemand, 0.6, 0, "si no ~1 pagas"},
	{PaymentDemand, 0.6, 0, "se non ~1 paghi"},
	{PaymentDemand, 0.6, 0, "als je ~1 niet betaalt"},
	{PaymentDemand, 0.6, 0, "jeśli|jesli|jak ~1 nie zapłacisz|zaplacisz"},
	{PaymentDemand, 0.6, 0, "se ~1 não|nao ~1 pagar"},
	// Sextortion: pace.
	{Deadline, 0.6, 0, "ogni|cada|alle|toutes|elke|co|iga|every ~1 #n ~1 minuti|minutos|minuten|minutes|minut|minutit|minuty"},
	{Deadline, 0.5, 0, "kiirusta|dépêche|depeche|sbrigati|apressa|despacha|pospiesz|pośpiesz"},
	{Deadline, 0.5, 0, "beeil dich"},
	{Deadline, 0.5, 0, "date prisa"},
	{Deadline, 0.5, 0, "schiet op"},
	{Deadline, 0.5, 0, "hurry up"},

	// Reported speech: someone else's words, present and past.
	{CueQuote, 0.9, 0, "keeps|kept ~1 asking|saying|telling|messaging|sending|texting|dming"},
	{CueQuote, 1.0, 0, "he|she|they ~1 made|created|has|have|got ~1 a ~1 new account"},
	{CueQuote, 1.0, 0, "er|sie|typ|der|die ~1 meinte|meint|fragt|fragte|schreibt|schrieb|will|wollte|sagt|sagte"},
	{CueQuote, 0.9, 0, "fragt|schreibt ~1 immer|ständig|standig|dauernd"},
	{CueQuote, 1.0, 0, "il|elle|mec|type ~1 me ~1 demande|dit|écrit|ecrit|envoie|veut|voulait"},
	{CueQuote, 0.9, 0, "arrête|arrete ~1 pas de ~1 me"},
	{CueQuote, 0.9, 0, "me ~1 dice|pide|pregunta|escribe|manda ~1 que"},
	{CueQuote, 0.9, 0, "no para de ~1 preguntar|escribir|pedir|mandar"},
	{CueQuote, 0.9, 0, "mi ~1 dice|chiede|scrive"},
	{CueQuote, 0.9, 0, "continua a ~1 chiedere|scrivere|mandare"},
	{CueQuote, 1.0, 0, "lui|lei ~1 ha ~1 detto|chiesto"},
	{CueQuote, 1.0, 0, "lui|lei ~1 vuole|voleva"},
	{CueQuote, 1.0, 0, "ele|ela ~1 disse|pediu|perguntou|quer|queria|fica|mandou"},
	{CueQuote, 0.9, 0, "fica ~1 perguntando|pedindo|mandando|falando"},
	{CueQuote, 0.9, 0, "me ~1 diz|pede|pergunta"},
	{CueQuote, 1.0, 0, "hij|zij|ze ~1 zegt|vraagt|wil|wilde|zei|vroeg|stuurt|appt"},
	{CueQuote, 0.9, 0, "vraagt|zegt ~1 steeds|telkens|altijd"},
	{CueQuote, 1.0, 0, "on|ona|typ|gość|gosc ~1 mówi|mowi|pisze|pyta|chce|chciał|chcial|powiedział|powiedzial|kazał|kazal"},
	{CueQuote, 0.9, 0, "ciągle|ciagle|ciagle ~1 pyta|pisze"},
	{CueQuote, 1.0, 0, "ta ~1 ütles|utles|ütleb|utleb|küsib|kusib|tahab|tahtis|kirjutab"},

	// Safety replies to a disclosure.
	{CueSafety, 0.9, 0, "block|report ~1 him|her|them|that|this|account"},
	{CueSafety, 0.9, 0, "tell ~1 a|an ~1 adult|teacher|grownup"},
	{CueSafety, 0.9, 0, "blockier|blockiere|melde ~1 den|ihn|sie|das"},
	{CueSafety, 0.8, 0, "sag|erzähl|erzahl ~1 es ~1 deinem|deiner|deinen"},
	{CueSafety, 0.9, 0, "bloque|signale ~1 le|la|les|lui"},
	{CueSafety, 0.8, 0, "dis ~1 le|leur ~1 à|a ~1 tes|ta|ton"},
	{CueSafety, 0.9, 0, "bloquéalo|bloquealo|bloquéala|bloqueala|repórtalo|reportalo|denúncialo|denuncialo"},
	{CueSafety, 0.8, 0, "díselo|diselo ~1 a"},
	{CueSafety, 0.9, 0, "bloccalo|bloccala|segnalalo|segnalala"},
	{CueSafety, 0.8, 0, "dillo ~1 a"},
	{CueSafety, 0.9, 0, "bloqueia|denuncia ~1 ele|ela|esse|essa"},
	{CueSafety, 0.9, 0, "blokkeer|rapporteer|meld ~1 hem|haar|die"},
	{CueSafety, 0.8, 0, "vertel ~1 het ~1 aan"},
	{CueSafety, 0.9, 0, "zablokuj|zgłoś|zglos ~1 go|ją|ja|to"},
	{CueSafety, 0.8, 0, "powiedz ~2 o tym"},
	{CueSafety, 0.9, 0, "blokeeri|blokki|teata ~1 ta|teda|see"},
	{CueSafety, 0.8, 0, "räägi|raagi ~2 sellest"},
	{CueSafety, 0.9, 0, "don't|dont|do not pay"},
	{CueSafety, 0.9, 0, "não|nao paga|pague|pagues"},
	{CueSafety, 0.9, 0, "no pagues"},
	{CueSafety, 0.9, 0, "ne ~1 paye|paie|payes|paies ~1 pas"},
	{CueSafety, 0.9, 0, "zahl|bezahl ~1 nicht|nichts"},
	{CueSafety, 0.9, 0, "non pagare"},
	{CueSafety, 0.9, 0, "niet betalen"},
	{CueSafety, 0.9, 0, "betaal niet|niks"},
	{CueSafety, 0.9, 0, "nie płać|plac|płacić|placic"},
	{CueSafety, 0.9, 0, "ära|ara maksa"},
	{CueSafety, 0.8, 0, "bloqueia|bloqueie|bloquea|blokuj|blokkeer|blockier|blokeeri|blocca"},
}
