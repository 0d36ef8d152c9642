package vigil_test

import (
	"strings"
	"testing"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/pdq"
	"github.com/vigil-oss/vigil/textmatch"
	"github.com/vigil-oss/vigil/vpdq"
)

// FuzzCanonicalValue checks that CanonicalValue is idempotent and that
// every value it accepts is one its index takes: a stored entry that the
// index refuses is what made every keyword index build fail (issue 10).
func FuzzCanonicalValue(f *testing.F) {
	types := []vigil.SignalType{vigil.SignalKeyword, vigil.SignalURL, vigil.SignalVPDQ, vigil.SignalPDQ, vigil.SignalMD5, vigil.SignalSHA256}
	h := strings.Repeat("ab", 32)
	for i, s := range []string{
		"telegram", "\u200b\u0301", "Add  Me", "host:Example.com", "prefix:https://x.example/a?q", "a,b,c",
		"0,100," + h + ",0.5;1,90," + h + ",1e308", "0,100," + h + ",NaN", " " + strings.ToUpper(h) + "\n",
	} {
		f.Add(uint8(i), s)
	}
	f.Fuzz(func(t *testing.T, typ uint8, v string) {
		st := types[int(typ)%len(types)]
		c, err := vigil.CanonicalValue(st, v)
		if err != nil {
			return
		}
		if again, err := vigil.CanonicalValue(st, c); err != nil || again != c {
			t.Fatalf("CanonicalValue(%s, %q) = %q, then %q, %v", st, v, c, again, err)
		}
		switch st {
		case vigil.SignalKeyword:
			if _, err := textmatch.NewKeywordList([]textmatch.Keyword{{ID: 1, Text: c, WholeWord: true}}); err != nil {
				t.Fatalf("keyword %q accepted, but the keyword list refuses it: %v", c, err)
			}
		case vigil.SignalURL:
			var l textmatch.URLList
			p, mode := vigil.URLPattern(c)
			if err := l.Add(1, p, mode); err != nil {
				t.Fatalf("url %q accepted, but the url list refuses it: %v", c, err)
			}
		case vigil.SignalVPDQ:
			if _, err := vpdq.ReadFrames(strings.NewReader(strings.ReplaceAll(c, ";", "\n")), vpdq.Limits{MaxFrames: vigil.MaxVPDQFrames}); err != nil {
				t.Fatalf("vpdq %q accepted, but the video index refuses it: %v", c, err)
			}
		case vigil.SignalPDQ:
			if _, err := pdq.ParseHash(c); err != nil {
				t.Fatalf("pdq %q accepted, but the index refuses it: %v", c, err)
			}
		}
	})
}
