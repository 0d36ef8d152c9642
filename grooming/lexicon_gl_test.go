package grooming

import "testing"

func tagScore(tags MessageTags, f Family) float64 {
	for _, t := range tags.Indicators {
		if t.Family == f {
			return t.Score
		}
	}
	return 0
}

func hasCue(tags MessageTags, f Family) bool {
	for _, c := range tags.Cues {
		if c.Family == f {
			return true
		}
	}
	return false
}

// TestGLPatterns holds the shapes the fifth first look missed (it is spent
// now): verb-last secrecy and cover stories, the ultimatum without a
// sending verb, payment for deletion, the threat's capability and the
// inflected card words, in Portuguese, Dutch and Estonian.
func TestGLPatterns(t *testing.T) {
	d := newTestDetector(t)
	tests := []struct {
		lang, text string
		want       Family
	}{
		{"pt", "300 no pix em 30 min ou todo mundo ve nossas conversas", SextortionThreat},
		{"pt", "50€ por mbway e apago tudo", SextortionThreat},
		{"pt", "tenho a lista dos seus seguidores e o insta da sua mae", SextortionThreat},
		{"pt", "diz em casa que vais a casa de uma amiga", Meeting},
		{"pt", "não é preciso meter a tua mãe nisso", Isolation},
		{"pt", "então não lhe contes de mim", Secrecy},
		{"nl", "20 minuten om 100 euro te sturen of je hele klas ziet wat je me stuurde", SextortionThreat},
		{"nl", "50 euro paysafecard en ik wis het", SextortionThreat},
		{"nl", "ik heb je volgers en het account van je moeder", SextortionThreat},
		{"nl", "250 in bol.com cadeaukaarten", PaymentDemand},
		{"nl", "zeg maar tegen je vader dat je bij een vriendin bent", Meeting},
		{"nl", "vertel hem dan niks over mij", Secrecy},
		{"et", "15 minutit et saata 100 eurot kaartidena või terve su klass näeb mida sa mulle saatsid", SextortionThreat},
		{"et", "15 minutit et saata 100 eurot kaartidena", PaymentDemand},
		{"et", "50 eurot paysafecardiga ja kustutan", PaymentDemand},
		{"et", "mul on su jälgijad ja su ema konto", SextortionThreat},
		{"et", "ära vanematele midagi ütle", Secrecy},
		{"et", "emale ega isale ära räägi", Secrecy},
		{"pl", "200 zl blikiem w 30 minut", PaymentDemand},
	}
	for _, tt := range tests {
		if got := tagScore(d.Tag(tt.text), tt.want); got < 0.3 {
			t.Errorf("%s %q: %v scored %.2f, want ≥ 0.3", tt.lang, tt.text, tt.want, got)
		}
	}
	// Their benign twins: advice naming the same audience, a peer's
	// follower count, a sale paid by Tikkie.
	quiet := []struct {
		text string
		fam  Family
	}{
		{"pergunta à professora ou aos teus pais", SextortionThreat},
		{"vraag het aan je mentor of je ouders", SextortionThreat},
		{"küsi õpetajalt või vanematelt", SextortionThreat},
		{"ik heb 200 volgers op tiktok", SextortionThreat},
		{"50 euro voor de fiets, betalen via tikkie als je hem ophaalt", PaymentDemand},
		{"tell your mom i said hi", Meeting},
	}
	for _, q := range quiet {
		if got := tagScore(d.Tag(q.text), q.fam); got >= 0.3 {
			t.Errorf("%q: %v scored %.2f, want < 0.3", q.text, q.fam, got)
		}
	}
}

// TestSpokenPunctuation: voice-to-text writes "?" as a word; the message is
// still a question, and a dictated comma does not end a phrase.
func TestSpokenPunctuation(t *testing.T) {
	d := newTestDetector(t)
	for _, text := range []string{
		"wanneer zijn je ouders aan het werk vraagteken",
		"seus pais chegam que horas interrogacao",
		"mis kell su vanemad töölt tulevad küsimärk",
		"are your parents home question mark",
	} {
		if !d.Tag(text).Question {
			t.Errorf("%q: not a question", text)
		}
	}
	if d.Tag("punto y aparte, no question here").Question {
		t.Error("a plain sentence became a question")
	}
	// "komma" and "virgula" no longer use up a pattern's gap.
	if tagScore(d.Tag("niet komma tegen komma je ouders vertellen"), Secrecy) < 0.5 {
		t.Error("dictated commas broke a secrecy pattern")
	}
}

// TestQuoteCueDirection: "he said …" introduces what follows. The speaker's
// own words before a reported-speech cue keep most of their weight; words
// after it are discounted as before.
func TestQuoteCueDirection(t *testing.T) {
	d := newTestDetector(t)
	own := tagScore(d.Tag("ära ütle emale, muidu ta tahab maksta"), Secrecy)
	if own < 0.5 {
		t.Errorf("own secrecy before a cue scored %.2f, want ≥ 0.5", own)
	}
	told := tagScore(d.Tag("ta ütles ära emale ütle"), Secrecy)
	if told > 0.3 {
		t.Errorf("reported secrecy scored %.2f, want ≤ 0.3", told)
	}
	if got := tagScore(d.Tag("guardei o que vc me mandou. 300 no pix ou todo mundo ve"), SextortionThreat); got < 0.5 {
		t.Errorf("\"vc me mandou\" (you sent me) discounted the threat to %.2f", got)
	}
}

// TestNegatedSafetyAdvice: "don't block me or I post it" opens a threat; it
// is not advice to block someone.
func TestNegatedSafetyAdvice(t *testing.T) {
	d := newTestDetector(t)
	for _, text := range []string{
		"nao me bloqueia senao eu posto tudo",
		"ära blokeeri muidu panen kõik üles",
		"niet blokkeren anders zet ik alles online",
		"blockier mich nicht sonst bereust du es",
		"dont block me or ur done",
	} {
		tags := d.Tag(text)
		if hasCue(tags, CueSafety) {
			t.Errorf("%q: read as safety advice", text)
		}
	}
	for _, text := range []string{"bloqueia ele agora", "blokkeer hem en vertel het je moeder", "block him and tell ur mom"} {
		if !hasCue(d.Tag(text), CueSafety) {
			t.Errorf("%q: safety advice lost", text)
		}
	}
}
