package grooming

import (
	"strings"
	"testing"
)

func tokenTexts(toks []Token) string {
	var b strings.Builder
	for i, t := range toks {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(t.Text)
	}
	return b.String()
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"ascii", "How old R U?", "how old r u"},
		{"apostrophe joins", "don't tell", "dont tel"},
		{"repeats collapse", "sooooo prettyyy", "so prety"},
		{"leet", "k33p it b3tw33n us", "kep it betwen us"},
		{"leet symbols", "sn@p $nap", "snap snap"},
		{"numbers stay", "u 12 or 13", "u 12 or 13"},
		{"number with unit splits", "13yo", "13 yo"},
		{"zero width", "wic\u200bkr", "wickr"},
		{"soft hyphen and bidi", "tele\u00adgr\u200eam", "telegram"},
		{"cyrillic lookalikes", "ѕnар", "snap"},
		{"greek lookalikes", "ΤΕΛΕ", "tele"},
		{"fullwidth", "ｄｉｓｃｏｒｄ", "discord"},
		{"math double-struck", "𝕒𝕧𝕠𝕔𝕒𝕕𝕠", "avocado"},
		{"small capitals", "ᴅɪsᴄᴏʀᴅ", "discord"},
		{"accents", "¿Cuántos años tienes?", "cuantos anos tienes"},
		{"german sharp s", "Straße", "strase"},
		{"french elision", "t'as quel âge", "tas quel age"},
		{"emoji become words", "shh 🤫", "sh emojishush"},
		{"combining marks dropped", "e\u0301te\u0301", "ete"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tokenTexts(Normalize(tt.in)); got != tt.want {
				t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestDespace(t *testing.T) {
	d := NewDetector(Options{})
	tests := []struct {
		in   string
		want string
	}{
		{"add me on d i s c o r d", "ad me on discord"},
		{"t.e.l.e.g.r.a.m", "telegram"},
		{"s-n-a-p", "snap"},
		{"d 1 s c 0 r d", "discord"},
		// Unknown spaced letters stay apart: benign users space letters too.
		{"q w e new map", "q w e new map"},
		{"i m ok", "i m ok"},
	}
	for _, tt := range tests {
		var n normalizer
		n.run(tt.in, d.lx)
		var parts []string
		for _, tk := range n.toks {
			parts = append(parts, string(n.buf[tk.a:tk.b]))
		}
		if got := strings.Join(parts, " "); got != tt.want {
			t.Errorf("despace(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// Spans must point at the original text, whatever the folding did.
func TestNormalizeOffsets(t *testing.T) {
	in := "hey ｄｉｓｃｏｒｄ wic\u200bkr ѕnар 13yo"
	for _, tk := range Normalize(in) {
		if tk.Start < 0 || tk.End > len(in) || tk.Start >= tk.End {
			t.Fatalf("token %+v out of bounds", tk)
		}
	}
	toks := Normalize(in)
	if got := in[toks[1].Start:toks[1].End]; got != "ｄｉｓｃｏｒｄ" {
		t.Errorf("span of discord = %q", got)
	}
	if got := in[toks[2].Start:toks[2].End]; got != "wic\u200bkr" {
		t.Errorf("span of wickr = %q", got)
	}
}
