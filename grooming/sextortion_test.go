package grooming

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func tagHas(tags MessageTags, f Family) bool {
	for _, t := range tags.Indicators {
		if t.Family == f && t.Score >= 0.3 {
			return true
		}
	}
	return false
}

// TestTagSextortion checks each sextortion family in each language, with
// chat spellings.
func TestTagSextortion(t *testing.T) {
	d := newTestDetector(t)
	tests := []struct {
		lang, text string
		want       Family
	}{
		{"en", "send me a steam card or i send everything to ur mom", SextortionThreat},
		{"en", "ur followers will see everything", SextortionThreat},
		{"en", "i got all ur pics saved", SextortionThreat},
		{"en", "pay 100 in gift card codes", PaymentDemand},
		{"en", "send the btc to my wallet address", PaymentDemand},
		{"en", "u got 10 mins", Deadline},
		{"en", "before midnight", Deadline},
		{"es", "se lo mando todo a tus padres", SextortionThreat},
		{"es", "mandame 100 euros", PaymentDemand},
		{"es", "tienes 10 minutos", Deadline},
		{"de", "ich schick alles an deine eltern", SextortionThreat},
		{"de", "schick mir den paysafe code", PaymentDemand},
		{"de", "du hast 20 minuten", Deadline},
		{"fr", "j'envoie tout à tes parents", SextortionThreat},
		{"fr", "une carte steam, envoie le code", PaymentDemand},
		{"fr", "t'as 15 min", Deadline},
		{"it", "le mando ai tuoi genitori", SextortionThreat},
		{"it", "pagami 50 euro", PaymentDemand},
		{"it", "hai 10 minuti", Deadline},
		{"pt", "vou mandar tudo pros teus pais", SextortionThreat},
		{"pt", "manda 100 reais no pix", PaymentDemand},
		{"pt", "tem 10 minutos", Deadline},
		{"nl", "ik stuur alles naar je ouders", SextortionThreat},
		{"nl", "betaal 50 euro", PaymentDemand},
		{"nl", "je hebt 10 minuten", Deadline},
		{"pl", "wyślę wszystko do twoich rodziców", SextortionThreat},
		{"pl", "przelej 200 zł albo kod blik", PaymentDemand},
		{"pl", "masz 10 minut", Deadline},
		{"et", "saadan kõik sinu vanematele", SextortionThreat},
		{"et", "maksa 100 eurot", PaymentDemand},
		{"et", "sul on 10 minutit", Deadline},
	}
	for _, tt := range tests {
		t.Run(tt.lang+"/"+tt.text, func(t *testing.T) {
			if tags := d.Tag(tt.text); !tagHas(tags, tt.want) {
				t.Errorf("want %v, got %+v", tt.want, tags.Indicators)
			}
		})
	}
}

// TestSextortionTwins scores the development set: sextortion flags with the
// extortioner as suspect and the sextortion marker; a victim's disclosure
// carries the disclosure marker, never flags and never names the victim;
// scam reports and hard negatives (gift cards between relatives, paying a
// friend back) raise nothing.
func TestSextortionTwins(t *testing.T) {
	d := newTestDetector(t)
	f, err := os.Open("testdata/dev_sextortion.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	err = ReadRecords(f, func(line int, rec Record) error {
		n++
		r := d.Score(rec.Conversation)
		switch {
		case rec.Label == "grooming":
			if !r.Flagged || r.Suspect != rec.Suspect || !r.Sextortion || r.Disclosure != nil {
				t.Errorf("%s: flagged %v suspect %q sextortion %v disclosure %v", rec.ID, r.Flagged, r.Suspect, r.Sextortion, r.Disclosure)
			}
			for _, ind := range r.Indicators {
				if len(ind.Evidence) == 0 || len(ind.Evidence[0].Spans) == 0 {
					t.Errorf("%s: indicator %v without messages and spans", rec.ID, ind.Family)
				}
			}
		case strings.HasSuffix(rec.ID, "-disclosure"):
			if r.Disclosure == nil || r.Disclosure.Victim != "kid" || len(r.Disclosure.Evidence) == 0 || len(r.Disclosure.Evidence[0].Spans) == 0 {
				t.Errorf("%s: disclosure %+v", rec.ID, r.Disclosure)
			}
			if r.Flagged || r.Suspect == "kid" || !r.Sextortion {
				t.Errorf("%s: flagged %v suspect %q sextortion %v", rec.ID, r.Flagged, r.Suspect, r.Sextortion)
			}
		default:
			if r.Flagged || r.Disclosure != nil || r.Sextortion {
				t.Errorf("%s: flagged %v (%.3f) disclosure %v sextortion %v", rec.ID, r.Flagged, r.Score, r.Disclosure, r.Sextortion)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 60 {
		t.Errorf("only %d development conversations", n)
	}
}

// TestSextortionFast: the same threat and payment demand score higher when
// sent minutes apart than days apart, and the risk says why.
func TestSextortionFast(t *testing.T) {
	d := newTestDetector(t)
	t0 := time.Date(2026, 11, 20, 21, 0, 0, 0, time.UTC)
	conv := func(gap time.Duration) Conversation {
		return Conversation{Messages: []Message{
			{From: "x", Text: "hey", Time: t0},
			{From: "v", Text: "hi", Time: t0.Add(time.Minute)},
			{From: "x", Text: "i send our chats to your school", Time: t0.Add(2 * time.Minute)},
			{From: "x", Text: "pay 50 in gift card codes", Time: t0.Add(2*time.Minute + gap)},
		}}
	}
	fast, slow := d.Score(conv(3*time.Minute)), d.Score(conv(72*time.Hour))
	if fast.Score <= slow.Score {
		t.Errorf("fast %.3f not above slow %.3f", fast.Score, slow.Score)
	}
	if !slices.ContainsFunc(fast.Facts, func(s string) bool { return strings.Contains(s, "minutes apart") }) {
		t.Errorf("fast facts %v", fast.Facts)
	}
	if slices.ContainsFunc(slow.Facts, func(s string) bool { return strings.Contains(s, "minutes apart") }) {
		t.Errorf("slow facts %v", slow.Facts)
	}
}

// TestSextortionStreaming: the disclosure survives streaming through a
// JSON round trip of the state, as the other evidence does.
func TestSextortionDisclosureStreams(t *testing.T) {
	d := newTestDetector(t)
	c := Conversation{Messages: []Message{
		{From: "kid", Text: "mom i need help"},
		{From: "kid", Text: "someone says he'll send our chats to you unless i pay him in gift cards"},
		{From: "mom", Text: "you did the right thing telling me"},
	}}
	batch := d.Score(c)
	st := NewState(nil)
	var r Risk
	for _, m := range c.Messages {
		r = d.Append(st, m)
	}
	if batch.Disclosure == nil || r.Disclosure == nil || batch.Disclosure.Messages[0] != 1 || r.Suspect == "kid" {
		t.Fatalf("batch %+v stream %+v", batch.Disclosure, r)
	}
}

// TestSextortionNoFalseVictim: an extortioner who uses a disclosure cue
// ("what should i do") in one message is still the suspect, never the
// victim of a disclosure.
func TestSextortionNoFalseVictim(t *testing.T) {
	d := newTestDetector(t)
	r := d.Score(Conversation{Messages: []Message{
		{From: "x", Text: "i have all our chats saved"},
		{From: "v", Text: "please dont"},
		{From: "x", Text: "what should i do with them, send them to your mom?"},
		{From: "x", Text: "send me a 100 steam card or i send everything to your school"},
		{From: "x", Text: "you have 10 minutes"},
	}})
	if !r.Flagged || r.Suspect != "x" || r.Disclosure != nil {
		t.Fatalf("flagged %v suspect %q disclosure %+v", r.Flagged, r.Suspect, r.Disclosure)
	}
}
