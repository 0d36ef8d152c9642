package grooming

import (
	"strings"
	"testing"
)

// TestNumberUnitSplitKeepsRest (words are compared folded: repeats
// collapse): a token that splits into a number and a
// unit ("13yo", "8e", "2nd") must not overwrite the tokens after it. The
// split appended two tokens into the slice it was reading, so every later
// word became a copy of the unit and the rest of the message was lost.
func TestNumberUnitSplitKeepsRest(t *testing.T) {
	for _, tt := range []struct{ text, want string }{
		{"im 13yo dont tell ur mom", "im 13 yo dont tel ur mom"},
		{"ja dinsdag 8e uur in lokaal 12", "ja dinsdag 8 e ur in lokal 12"},
		{"2nd time u ask, delete the chat", "2 nd time u ask delete the chat"},
	} {
		var words []string
		for _, tok := range Normalize(tt.text) {
			words = append(words, tok.Text)
		}
		if got := strings.Join(words, " "); got != tt.want {
			t.Errorf("%q → %q, want %q", tt.text, got, tt.want)
		}
	}
	d := newTestDetector(t)
	if tagScore(d.Tag("im 13yo, dont tell ur mom about us"), Secrecy) < 0.5 {
		t.Error("secrecy after \"13yo\" was lost")
	}
}
