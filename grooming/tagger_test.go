package grooming

import (
	"testing"
)

// newTestDetector shares one detector across a test binary's tests.
func newTestDetector(tb testing.TB) *Detector {
	tb.Helper()
	return NewDetector(Options{})
}

func TestLexiconCompiles(t *testing.T) {
	lx, err := compileLexicon(lexiconEntries())
	if err != nil {
		t.Fatal(err)
	}
	if len(lx.patterns) < 300 {
		t.Errorf("only %d patterns", len(lx.patterns))
	}
	// Every indicator family must have patterns in every language.
	for li, g := range lexiconEntries()[:4] {
		seen := map[Family]bool{}
		for _, e := range g {
			seen[e.fam] = true
		}
		for _, f := range Families() {
			if !seen[f] {
				t.Errorf("language %d has no %v patterns", li, f)
			}
		}
	}
}

func TestTagFamilies(t *testing.T) {
	d := newTestDetector(t)
	tests := []struct {
		text string
		want Family
	}{
		// English, with obfuscation.
		{"how old r u?", AgeProbing},
		{"what grade are you in", AgeProbing},
		{"what school do you go to", PersonalInfo},
		{"u seem way more mature than 12", MaturityFlattery},
		{"I can send you robux if you want", Gift},
		{"are your parents home right now?", RiskAssessment},
		{"does anyone check your phone?", RiskAssessment},
		{"don't tell your parents we talk", Secrecy},
		{"k33p it b3tw33n us", Secrecy},
		{"delete our chats every night ok", Secrecy},
		{"your parents don't appreciate you", Isolation},
		{"add me on d i s c o r d", PlatformMove},
		{"add me on ѕnарchat", PlatformMove},
		{"use wic\u200bkr, this app watches everything", PlatformMove},
		{"send me a pic of you", PhotoRequest},
		{"if you trusted me you would", Compliance},
		{"come alone, my friends are shy", Meeting},
		{"tell your dad you're at a friend's", Meeting},
		{"age is just a number", Desensitisation},
		// Spanish.
		{"¿cuántos años tienes?", AgeProbing},
		{"no les digas nada a tus padres", Secrecy},
		{"pareces mucho más madura", MaturityFlattery},
		{"ven sola", Meeting},
		// German.
		{"wie alt bist du", AgeProbing},
		{"erzähl deinen Eltern nichts", Secrecy},
		{"du wirkst reifer", MaturityFlattery},
		{"sag einfach du bist bei einem Freund", Meeting},
		// French.
		{"t'as quel âge", AgeProbing},
		{"dis rien à tes parents", Secrecy},
		{"tu habites vers où ?", PersonalInfo},
		{"viens seule", Meeting},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			tags := d.Tag(tt.text)
			for _, tg := range tags.Indicators {
				if tg.Family == tt.want && tg.Score > 0 {
					for _, sp := range tg.Spans {
						if sp.Start < 0 || sp.End > len(tt.text) || sp.Start >= sp.End {
							t.Fatalf("span %+v out of bounds", sp)
						}
					}
					return
				}
			}
			t.Errorf("Tag(%q) = %+v, want %v", tt.text, tags, tt.want)
		})
	}
}

// The benign twins: the same surface words with a context cue must score
// far lower inside the message.
func TestTagContextRules(t *testing.T) {
	d := newTestDetector(t)
	tests := []struct {
		name    string
		text    string
		fam     Family
		maxPart float64
	}{
		{"surprise secrecy", "don't tell dad, it's a surprise for his birthday 🤫", Secrecy, 0.4},
		{"reported speech", "this guy said don't tell ur parents so i blocked him", Secrecy, 0.3},
		{"quoted words", `he wrote "don't tell your parents" lol`, Secrecy, 0.3},
		{"safety education", "if someone asks you to keep secrets from your parents, tell a trusted adult", Secrecy, 0.3},
		{"caregiver in the loop", "I'll text your mom and pick you up at 5", Meeting, 0.4},
		{"safety advice", "are you home alone? lock the door", RiskAssessment, 0.3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tags := d.Tag(tt.text)
			found := false
			for _, tg := range tags.Indicators {
				if tg.Family == tt.fam {
					found = true
					if tg.Score > tt.maxPart {
						t.Errorf("%v score %.2f, want ≤ %.2f (cues %+v)", tt.fam, tg.Score, tt.maxPart, tags.Cues)
					}
				}
			}
			if !found {
				t.Errorf("%v not tagged at all in %q; the baseline should still see it", tt.fam, tt.text)
			}
		})
	}
}

func TestSelfAge(t *testing.T) {
	d := newTestDetector(t)
	tests := []struct {
		text string
		want int
	}{
		{"im 13", 13},
		{"i am 12 lol", 12},
		{"13 u?", 13},
		{"tengo 12", 12},
		{"ich bin 14", 14},
		{"j'ai 13 ans", 13},
		{"14yo", 14},
		{"i'm 5 minutes away", 0},
		{"i have 13 robux", 0},
	}
	for _, tt := range tests {
		if got := d.Tag(tt.text).SelfAge; got != tt.want {
			t.Errorf("SelfAge(%q) = %d, want %d", tt.text, got, tt.want)
		}
	}
}

func TestMessageSizeLimit(t *testing.T) {
	d := NewDetector(Options{MaxMessageBytes: 64})
	long := "don't tell your parents " + string(make([]byte, 1000)) + " add me on snap"
	tags := d.Tag(long)
	for _, tg := range tags.Indicators {
		for _, sp := range tg.Spans {
			if sp.End > 64 {
				t.Errorf("span %+v beyond the size limit", sp)
			}
		}
		if tg.Family == PlatformMove {
			t.Errorf("matched text beyond the size limit")
		}
	}
}
