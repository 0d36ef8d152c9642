package grooming

// Fourth-round patterns (issue 17, brief g-lang), written from the errors
// of the fifth first-look batch once it was spent and from the
// leave-one-batch-out errors in Portuguese, Dutch, Estonian and
// sextortion. The misses were mostly not missing words but missing
// shapes:
//
//   - Word order. Estonian and Dutch put the verb last or second ("ära
//     vanematele midagi ütle", "zeg maar tegen je vader dat je bij een
//     vriendin bent"), so a fixed sequence with small gaps misses them;
//     these are co-occurrence patterns (every element within a window,
//     any order).
//   - The ultimatum without a verb of sending: "… or everyone sees our
//     chats", "või kõik näevad", "of je hele klas ziet wat je me stuurde".
//   - Payment for deletion ("50€ por mbway e apago tudo"), a threat's
//     capability ("I have your followers and your mom's account") and the
//     local payment rails named with an amount (Pix, MB Way, Tikkie,
//     BLIK): never the rail alone, which friends use every day.
//   - Inflected card words: "paysafecardiga", "cadeaukaarten",
//     "kaartidena".
var lexiconGL = []entry{
	// Ultimatum: or/otherwise + an audience + seeing or receiving.
	{SextortionThreat, 0.8, 0, "&@orelse @audience @seeverb"},
	// Or/otherwise + telling the audience about the chats or pictures.
	{SextortionThreat, 0.7, 0, "&@orelse @audience @chat|@photo|@sent"},
	// What you sent, kept.
	{SextortionThreat, 0.6, 0, "&@kept @sent"},
	{SextortionThreat, 0.6, 0, "&@kept our|nossas|nossa|as|onze|meie|nasze|unsere|nos|nostre|nuestras @chat"},
	// The threat's capability: the target's followers, contacts, class list.
	{SextortionThreat, 0.7, 0, "&@have @yourp followers|seguidores|volgers|jälgijad|jalgijad|jälgijaid|obserwujących|obserwujacych|follower|abonnés|abonnes|contatos|contactos|contacts|kontakte|kontaktid|klassenlijst|vriendenlijst|lista|nimekiri|nimekirja"},
	{SextortionThreat, 0.6, 0, "&collage|kollaaž|kollaaži|kollaaz|kollaazi|montagem|montage|fotomontage|fotomontaż naam|nime|nome|name|klassenlijst|nimekirjaga|klassi|turma|klas"},
	// Pay and it is deleted.
	{SextortionThreat, 0.6, 0, "&@money apago|apagarei|wis|verwijder|kustutan|delete|deleted|usuwam|usunę|usune|lösche|losche|efface|cancello|borro"},
	// Local payment rails with an amount.
	{PaymentDemand, 0.5, 0, "#n ~2 pix|mbway|tikkie|blik*|bizum|satispay|postepay|twint|revolut|paypal"},
	{PaymentDemand, 0.5, 0, "pix|mbway|tikkie|blik|bizum|satispay|postepay ~2 #n"},
	{PaymentDemand, 0.6, 0, "#n ~1 euro|eurot|eur|euros|reais|zł|zl|złotych|zlotych|dollars|usd ~3 kaartidena|kaartides|kaardiga|koodidena|cartões|cartoes|kaarten|codes|códigos|codigos|kody|kodach|codici|karten"},
	{PaymentDemand, 0.5, 0, "cadeaukaart*|paysafecard*|paysafekaart*|steamkaart*|tegoedbon*|giftcard*|kinkekaardi*|googleplay*"},
	{Deadline, 0.5, 0, "tot|voor ~1 #n ~1 uur|u"},
	{Deadline, 0.5, 0, "aega ~2 kella|kell|homseni|õhtuni|ohtuni"},
	{Deadline, 0.5, 0, "até|ate ~1 às|as ~1 #n"},
	// Secrecy from caregivers in any order (dative parents, verb last).
	{Secrecy, 0.8, flagCaregiver, "&@neg|niks|niets|nada|nichts|rien|niente|nic @telltr @parent"},
	{Secrecy, 0.7, 0, "vertel|zeg ~3 niks|niets|niet ~2 over ~1 mij|ons"},
	{Secrecy, 0.7, 0, "não|nao ~2 contes|conte|fale|fales|digas|diga ~2 de|sobre ~1 mim|nós"},
	{Secrecy, 0.7, 0, "ära|ara ~3 minust|meist ~2 ütle|utle|räägi|raagi"},
	{Secrecy, 0.7, 0, "ära|ara ~1 ütle|utle|räägi|raagi ~3 minust|meist"},
	{Secrecy, 0.7, 0, "@neg ~1 tell|mention ~3 about ~1 me|us"},
	// Cover story: say at home that you are at a friend's or the cinema.
	{Meeting, 0.8, flagCaregiver, "&@telltr @parent|casa|thuis|kodus|zuhause|home vriendin|vriendinnen|vriend|amiga|amigas|amigo|sõbranna|sõbrannale|sobrannale|sõbrale|sobrale|freundin|copine|amica|amiga|koleżanki|kolezanki|cinema|bios|kino|cine|biblioteca|bibliotheek|raamatukogus"},
	// Keeping the parent out of a meeting or lesson.
	{Isolation, 0.7, flagCaregiver, "não|nao ~1 é|e ~1 preciso|precisa ~1 meter|envolver|chamar|trazer ~2 @parent"},
	{Isolation, 0.7, flagCaregiver, "@parent ~2 hoeven|hoeft ~1 niet ~3 weten|komen|brengen|mee"},
	{Isolation, 0.7, 0, "@parent ~3 ficam|ficariam|worden|zijn|gaan ~1 ciumentos|jaloers|zeuren"},
	// Only you: the meeting or lesson without others.
	{Meeting, 0.6, 0, "alleen ~1 jij|jou"},
	{Meeting, 0.6, 0, "só|apenas ~1 tu|você|voce|vc"},
	{Meeting, 0.6, 0, "ainult|üksi ~1 sina|sa"},
	{Meeting, 0.6, 0, "kahekesi"},
	// "Don't block me" opens a threat.
	{SextortionThreat, 0.6, 0, "@neg ~1 me|mij|mind|mnie|mich ~1 bloqueia|bloqueie|bloquear|blokkeer|blokkeren|blokeeri|blokuj|blockier|blockiere|bloque|bloccare|blocchi|bloquees|block"},
	{SextortionThreat, 0.6, 0, "@neg ~1 bloqueia|bloqueie|blokkeer|blokkeren|blokeeri|blokuj|blockier|block ~2 @orelse"},
	{SextortionThreat, 0.6, 0, "blockier|blockiere|blokkeer|bloque ~1 mich|me|mij ~1 nicht|niet|pas ~1 @orelse"},
	// Reported speech: "they said", "a guy online who says that".
	{CueQuote, 1.0, 0, "disseram|diziam|zeiden|zeggen|ütlesid|utlesid|powiedzieli|sagten|dijeron|dissero"},
	{CueQuote, 1.0, 0, "cara|homem|mulher|alguém|alguem|pessoa|gast|man|vent|iemand|mees|keegi ~3 diz|disse|falou|fala|zegt|zei|ütleb|utleb|ütles|utles ~1 que|pra|para|dat|et"},
	{CueQuote, 1.0, 0, "die|dat ~1 zei|zegt|vroeg|vraagt"},
}
