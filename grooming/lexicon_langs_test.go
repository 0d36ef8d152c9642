package grooming

import "testing"

// TestNewLanguageLexicons: each new language's wording, chat spelling and
// inflection tags its family, and its benign twin raises the cue that
// lowers it. Before the Italian, Portuguese, Dutch, Polish and Estonian
// lexicons none of these tagged.
func TestNewLanguageLexicons(t *testing.T) {
	d := newTestDetector(t)
	for _, c := range []struct {
		text string
		fam  Family
	}{
		{"quanti anni hai?", AgeProbing},
		{"nn dire niente ai tuoi", Secrecy},
		{"aggiungimi su telegram", PlatformMove},
		{"vieni da sola al parco", Meeting},
		{"sembri molto matura per la tua età", MaturityFlattery},
		{"quantos anos vc tem?", AgeProbing},
		{"n conta nada pros seus pais", Secrecy},
		{"me add no zap", PlatformMove},
		{"vem sozinha amanha", Meeting},
		{"apaga as mensagens", Secrecy},
		{"hoe oud ben je?", AgeProbing},
		{"zeg niks tegen je ouders", Secrecy},
		{"stuur me een foto van jezelf", PhotoRequest},
		{"kom alleen naar het park", Meeting},
		{"ile masz lat?", AgeProbing},
		{"nie mow nic rodzicom", Secrecy},       // no diacritics
		{"nie mówcie rodzicom", Secrecy},        // another person of the verb
		{"nie mów nic twoim rodzicom", Secrecy}, // dative stem
		{"dodaj mnie na snapie", PlatformMove},
		{"przyjdź sama", Meeting},
		{"usuń wiadomości", Secrecy},
		{"kui vana sa oled?", AgeProbing},
		{"ära ütle oma vanematele", Secrecy},
		{"ara utle vanematele midagi", Secrecy}, // no diacritics
		{"lisa mind snapis", PlatformMove},
		{"tule üksi", Meeting},
		{"kustuta sõnumid", Secrecy},
	} {
		tags := d.Tag(c.text)
		found := false
		for _, tg := range tags.Indicators {
			if tg.Family == c.fam {
				found = true
			}
		}
		if !found {
			t.Errorf("%q: %+v, want %s", c.text, tags.Indicators, c.fam)
		}
	}
	for _, c := range []struct {
		text string
		cue  Family
	}{
		{"è una sorpresa per il compleanno", CueSurprise},
		{"chiudi la porta a chiave", CueSafety},
		{"é surpresa de aniversário", CueSurprise},
		{"het is een verrassing voor zijn verjaardag", CueSurprise},
		{"zamknij drzwi", CueSafety},
		{"to niespodzianka na urodziny", CueSurprise},
		{"pane uks lukku", CueSafety},
		{"see on sünnipäeva üllatus", CueSurprise},
	} {
		tags := d.Tag(c.text)
		found := false
		for _, tg := range tags.Cues {
			if tg.Family == c.cue {
				found = true
			}
		}
		if !found {
			t.Errorf("%q: cues %+v, want %s", c.text, tags.Cues, c.cue)
		}
	}
}

// TestCVLexicon: the third-round patterns written from the
// leave-one-batch-out errors tag their family or cue; before them none of
// these did (or only more weakly, for the payment lines).
func TestCVLexicon(t *testing.T) {
	d := newTestDetector(t)
	for _, c := range []struct {
		text string
		fam  Family
	}{
		{"sinon toute ta liste d'amis le reçoit", SextortionThreat},
		{"ou je les mets sur le groupe de ta classe", SextortionThreat},
		{"o lo ven tus padres y tus profes", SextortionThreat},
		{"of ik tag je school en je ouders", SextortionThreat},
		{"die bilder von gestern hab ich gespeichert", SextortionThreat},
		{"sonst fang ich bei deinem vater an", SextortionThreat},
		{"alustan treenerist", SextortionThreat},
		{"100 euro en cartes psn", PaymentDemand},
		{"per paypal freunde und familie", PaymentDemand},
		{"20 jetzt, rest morgen", PaymentDemand},
		{"kui sa ei maksa", PaymentDemand},
		{"ogni 10 minuti lo mando a un altro", Deadline},
	} {
		if tags := d.Tag(c.text); !tagHas(tags, c.fam) {
			t.Errorf("%q: %+v, want %s", c.text, tags.Indicators, c.fam)
		}
	}
	for _, c := range []struct {
		text string
		cue  Family
	}{
		{"this guy keeps asking how old i am", CueQuote},
		{"er meinte ich soll es keinem sagen", CueQuote},
		{"il me demande toujours mon âge", CueQuote},
		{"ta küsib kogu aeg, kus ma elan", CueQuote},
		{"hij vraagt steeds naar mijn school", CueQuote},
		{"block him and tell an adult", CueSafety},
		{"bloccalo subito", CueSafety},
		{"zablokuj go", CueSafety},
		{"não paga, tira print", CueSafety},
		{"um cara disse que vai mandar nossa conversa pros meus pais", CueDisclosure},
		{"qqn sur insta dit qu'il va envoyer nos conversations", CueDisclosure},
	} {
		found := false
		for _, tg := range d.Tag(c.text).Cues {
			found = found || tg.Family == c.cue
		}
		if !found {
			t.Errorf("%q: cues %+v, want %s", c.text, d.Tag(c.text).Cues, c.cue)
		}
	}
}
