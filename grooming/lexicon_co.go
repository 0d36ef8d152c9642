package grooming

// lexiconCo holds co-occurrence patterns ("&a b c": every element within a
// few words, any order), across languages. They describe a family by which
// kinds of words meet in one message (a camera word, a request and the
// child; a caregiver and "asleep" in a question), so that paraphrases the
// phrase lists never saw still register. Weights stay below the phrase
// patterns: co-occurrence is fuzzier evidence.
var lexiconCo = []entry{
	{PhotoRequest, 0.55, 0, "&send|show|see|turn|wanna|want|take|snap|share|sending|chat|call|do @photo|video|cam|camera|webcam|facetime|vc|videochat|selfie|selfies @you|ur|your|yourself|urself|u"},
	{PhotoRequest, 0.5, 0, "&video|cam|camera|webcam|facetime|vc|videochat|videocall chat|call|turn|hop|get|jump"},
	{PhotoRequest, 0.5, 0, "&manda|mandame|envia|enviame|pasame|schick|schicke|envoie|envoies|montre|zeig foto|fotos|selfie|bild|photo|photos|video|vidéo|cámara|camara|kamera|camera|caméra"},
	{RiskAssessment, 0.6, 0, "&anyone|anybody|someone|somebody|everyone|everybody|@parent|folks|house asleep|sleeping|awake|alone|around|home|out|gone|working|away|up|bed #q"},
	{RiskAssessment, 0.6, 0, "&padres|papas|madre|padre|mama|papa|eltern|mutter|vater|parents|mere|pere|maman casa|zuhause|hause|maison|duermen|schlafen|dorment|sola|solo|allein|seul|seule|trabajan|arbeiten|travaillent #q"},
	{RiskAssessment, 0.6, 0, "&check|checks|look|looks|read|reads|see|sees|watch|monitor|snoop|through @your|ur @device|phone"},
	{Meeting, 0.45, 0, "&meet|pick|come|take|drive|walk|ride|visit|hang|fly|bring|grab @you|u|ur|us|we|together weekend|tomorrow|tonight|saturday|sunday|friday|monday|tuesday|wednesday|thursday|after|later|sometime|afternoon|evening"},
	{Meeting, 0.8, 0, "&alone|yourself|urself|solo|sola|allein|alleine|seul|seule come|meet|bring|go|walk|ven|komm|viens|venir|kommen"},
	{Meeting, 0.6, 0, "&recojo|recoger|buscarte|abholen|heimfahren|fahren|chercher|raccompagner|ramener|verte|vernos|treffen|voir te|dich|ti|uns|nos|toi"},
	{Gift, 0.5, 0, "&buy|send|give|gift|get|win|won|claim|pay|free|raffle|giveaway|prize|extra|spare @giftitem|money|cash|merch|stuff|bucks|dollars|euros"},
	{Gift, 0.5, 0, "&regalo|regalar|compro|comprar|mando|schenke|schenken|kaufe|kaufen|offre|offrir|achete|acheter|envoie te|dir|t'|tu|ti|toi"},
	{PersonalInfo, 0.5, 0, "&what|which|where|whats|wat address|school|bus|stop|town|city|street|route|live|house|neighborhood|neighbourhood|area|zip|postcode #q"},
	{PersonalInfo, 0.5, 0, "&full|last|real|surname name|names"},
	{PlatformMove, 0.5, 0, "&@app|app|site|server|email|number|phone|chat|account|platform|apps private|privately|personal|instead|secret|else|different|diff|another|other|somewhere|quieter|safer"},
	{PlatformMove, 0.6, 0, "&admins|mods|moderators|staff|site|app|server|game|here|everyone saves|logs|records|reads|read|watching|watch|hover|hovering|snoop|snooping|monitor|monitored|spying|lurk|lurking|everything"},
	{Secrecy, 0.7, flagCaregiver, "&@neg @tell|know|see|find|ask @parent|home|family|house"},
	{Secrecy, 0.6, 0, "&secret|secrets|secretly|hush|quiet|privately|ours|ourselves|between @neg|keep|keeping|just|only|stay|stays"},
	{Secrecy, 0.6, 0, "&secreto|secret|geheim|geheimnis|entre|unter nosotros|uns|nous|nadie|niemand|personne"},
	{Isolation, 0.7, 0, "&@your|ur @parent|friends|family|they|them dont|don't|never|not|doesnt|doesn't|wont understand|listen|care|appreciate|realize|deserve|get|love"},
	{Isolation, 0.7, 0, "&run|come|talk|turn|rely|depend me|mine instead|only|not|anytime|always"},
	{MaturityFlattery, 0.6, 0, "&mature|grown|older|smarter|wiser|sharp|depth|deep|reif|reifer|madura|maduro|mature|mayor|alter|grande @your|ur|you|u|tu|tus|dein|deinem|ton|ta|ages|kids|adults|women|men|girls|boys|students|grown|grader|yr|year|años|alter|age|edad"},
	{Compliance, 0.6, 0, "&thought|guess|if|wenn|si close|trusted|trust|friends|cared|care|loved|love|confias|vertraust|confiance"},
	{Desensitisation, 0.6, 0, "&age|older|younger|edad|alter|age matter|matters|number|weird|problem|numero|zahl|chiffre|importa"},
	{AgeProbing, 0.45, 0, "&how|what|which|whats|wat old|age|grade|year|class|grader #q"},
}
