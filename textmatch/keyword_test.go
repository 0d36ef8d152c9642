package textmatch

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// MustKeywordList builds a list or fails the test.
func MustKeywordList(tb testing.TB, entries ...Keyword) *KeywordList {
	tb.Helper()
	l, err := NewKeywordList(entries)
	if err != nil {
		tb.Fatal(err)
	}
	return l
}

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Telegram", "telegram"},
		{"ＴＥＬＥＧＲＡＭ", "telegram"},                   // full width
		{"tele\u200bgr\u00adam\u2060", "telegram"}, // zero width, soft hyphen, word joiner
		{"tеlеgrаm", "telegram"},                   // Cyrillic е and а
		{"ΤΕΛΕGRΑΜ", "teλegram"},                   // Greek capitals; Λ has no Latin twin
		{"télégrâm", "telegram"},                   // accents
		{"𝐭𝐞𝐥𝐞𝐠𝐫𝐚𝐦", "telegram"},                   // mathematical bold
		{"r0bux", "robux"},
		{"d!sc0rd", "d1scord"},
		{"4pple$auce", "aplesauce"},
		{"t e l e g r a m", "telegram"},
		{"t.e.l.e.g.r.a.m now", "telegram now"},
		{"teeeelegraaaam", "telegram"},
		{"hello!!  @name $5", "helo! @name $5"},
		{"a b 1 2 3", "ab12e"},
		{"1 2 3", "1 2 3"},
		{"Straße", "strase"},
		{"line\none\ttab", "line one tab"},
	}
	for _, tt := range tests {
		got, offs, err := Normalize(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		if got != tt.want {
			t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if len(offs) != len(got)+1 || offs[len(got)] != len(tt.in) {
			t.Errorf("Normalize(%q): %d offsets for %d bytes", tt.in, len(offs), len(got))
		}
		for i := 1; i < len(offs); i++ {
			if offs[i] < offs[i-1] || offs[i] > len(tt.in) {
				t.Errorf("Normalize(%q): offsets %v not monotonic within bounds", tt.in, offs)
				break
			}
		}
	}
}

type span struct {
	id   uint64
	text string
}

func matchSpans(tb testing.TB, l *KeywordList, text string) []span {
	tb.Helper()
	ms, err := l.Match(text)
	if err != nil {
		tb.Fatal(err)
	}
	var out []span
	for _, m := range ms {
		out = append(out, span{m.ID, text[m.Start:m.End]})
	}
	return out
}

func TestKeywordListMatch(t *testing.T) {
	l := MustKeywordList(t,
		Keyword{ID: 1, Text: "telegram", WholeWord: true},
		Keyword{ID: 2, Text: "discord"},
		Keyword{ID: 3, Text: "Robux", WholeWord: true},
		Keyword{ID: 4, Text: "apple", WholeWord: true},
		Keyword{ID: 5, Text: "cat", WholeWord: true},
		Keyword{ID: 6, Text: "free robux"},
		Keyword{ID: 7, Text: "kiwi"},
	)
	tests := []struct {
		text string
		want []span
	}{
		{"add me on telegram", []span{{1, "telegram"}}},
		{"add me on T E L E G R A M please", []span{{1, "T E L E G R A M"}}},
		{"add me on t.e.l.e.g.r.a.m", []span{{1, "t.e.l.e.g.r.a.m"}}},
		{"add me on tele\u200bgram", []span{{1, "tele\u200bgram"}}},
		{"add me on ｔｅｌｅｇｒａｍ!", []span{{1, "ｔｅｌｅｇｒａｍ"}}},
		{"add me on tеlеgrаm", []span{{1, "tеlеgrаm"}}}, // Cyrillic
		{"add me on te1egram", []span{{1, "te1egram"}}},
		{"add me on te|egram", []span{{1, "te|egram"}}},
		{"add me on teleeegraaaammm now", []span{{1, "teleeegraaaammm"}}},
		{"add me on @telegram.", []span{{1, "telegram"}}},
		{"telegramtelegram", nil}, // whole word
		{"my d1sc0rd", []span{{2, "d1sc0rd"}}},
		{"my D!SCORD", []span{{2, "D!SCORD"}}},
		{"xdiscordx", []span{{2, "discord"}}}, // not whole word
		{"get FREE R0BUX", []span{{6, "FREE R0BUX"}, {3, "R0BUX"}}},
		{"free    robux", []span{{6, "free    robux"}, {3, "robux"}}},
		{"pineapple and apples", nil},
		{"an apple, concatenate", []span{{4, "apple"}}},
		{"an aple", nil}, // the keyword's double p needs a double p
		{"an appple", []span{{4, "appple"}}},
		{"kiwikiwi", []span{{7, "kiwi"}, {7, "kiwi"}}},
		{"k1w1", []span{{7, "k1w1"}}},
		{"kIwI café", []span{{7, "kIwI"}}},
	}
	for _, tt := range tests {
		got := matchSpans(t, l, tt.text)
		if !slices.Equal(got, tt.want) {
			t.Errorf("Match(%q) = %v, want %v", tt.text, got, tt.want)
		}
	}
}

func TestKeywordListEdgeCases(t *testing.T) {
	empty := MustKeywordList(t)
	if ms, err := empty.Match("anything"); err != nil || len(ms) != 0 {
		t.Errorf("empty list: %v %v", ms, err)
	}
	var zero KeywordList
	if ms, err := zero.Match("anything"); err != nil || len(ms) != 0 {
		t.Errorf("zero list: %v %v", ms, err)
	}
	for _, k := range []Keyword{
		{ID: 1, Text: ""},
		{ID: 2, Text: "  \u200b "},
		{ID: 3, Text: strings.Repeat("a", MaxKeywordLen+1)},
	} {
		if _, err := NewKeywordList([]Keyword{k}); err == nil {
			t.Errorf("NewKeywordList(%q): no error", k.Text)
		}
	}
	l := MustKeywordList(t, Keyword{ID: 1, Text: "a"}, Keyword{ID: 2, Text: "a"}, Keyword{ID: 3, Text: "lily"})
	ms, err := l.Match(strings.Repeat("a, ", MaxKeywordMatches))
	if err != nil || len(ms) != MaxKeywordMatches {
		t.Errorf("flood: %d matches, %v", len(ms), err)
	}
	if got := matchSpans(t, l, "1i1y"); !slices.Equal(got, []span{{3, "1i1y"}}) {
		t.Errorf("lily as 1i1y: %v", got)
	}
	if _, err := l.Match(strings.Repeat("a", MaxTextLen+1)); err == nil {
		t.Error("over-long text: no error")
	}
}

// TestKeywordListAgainstNaive checks the automaton against a plain search
// over the normalised text, on random words from a small alphabet where
// overlaps and shared suffixes are common.
func TestKeywordListAgainstNaive(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	word := func(n int) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = "abcdr"[rng.IntN(5)]
		}
		return string(b)
	}
	for round := range 50 {
		var entries []Keyword
		for i := range 1 + rng.IntN(40) {
			entries = append(entries, Keyword{ID: uint64(i), Text: word(1 + rng.IntN(5))})
		}
		l := MustKeywordList(t, entries...)
		text := word(300)
		norm, _, err := Normalize(text)
		if err != nil {
			t.Fatal(err)
		}
		ms, err := l.Match(text)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int{}
		for _, m := range ms {
			got[fmt.Sprint(m.ID, m.Start)]++
		}
		want := map[string]int{}
		for _, e := range l.entries {
			for i := 0; i+len(e.norm) <= len(norm); i++ {
				if norm[i:i+len(e.norm)] == e.norm && e.accepts(mustNorm(t, text), i, i+len(e.norm)) {
					_, offs, _ := Normalize(text)
					want[fmt.Sprint(e.ID, offs[i])]++
				}
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("round %d: automaton %v, naive %v", round, got, want)
		}
	}
}

func mustNorm(tb testing.TB, text string) *normText {
	nt, err := normalize(text)
	if err != nil {
		tb.Fatal(err)
	}
	return nt
}

// TestKeywordListConcurrent runs Match from several goroutines at once, as
// a server does; run it with -race.
func TestKeywordListConcurrent(t *testing.T) {
	l := MustKeywordList(t, Keyword{ID: 1, Text: "telegram", WholeWord: true}, Keyword{ID: 2, Text: "kiwi"})
	texts := []string{"t e l e g r a m", "kiwi and telegram", "nothing here", strings.Repeat("k1w1 ", 50)}
	want := make([][]span, len(texts))
	for i, text := range texts {
		want[i] = matchSpans(t, l, text)
	}
	done := make(chan error)
	for g := range 4 {
		go func() {
			for i := range 200 {
				k := (g + i) % len(texts)
				ms, err := l.Match(texts[k])
				if err == nil && len(ms) != len(want[k]) {
					err = fmt.Errorf("text %d: %d matches, want %d", k, len(ms), len(want[k]))
				}
				if err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for range 4 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

// TestBuildKeywordListSkipsBadEntries checks that one keyword the list
// cannot take, or one past its bounds, is left out and named by its id
// while the others still match (issue 10: one such keyword failed the
// whole list, and with it every refresh and restart).
func TestBuildKeywordListSkipsBadEntries(t *testing.T) {
	entries := []Keyword{
		{ID: 10, Text: "telegram"},
		{ID: 11, Text: "\u200b\u0301"},
		{ID: 12, Text: strings.Repeat("k", MaxKeywordLen+1)},
		{ID: 13, Text: "skins"},
		{ID: 14, Text: "robux"}, // past maxKeywords (2) below
		{ID: 15, Text: "lilililili"},
	}
	l, rejected, err := buildKeywordList(entries, 2, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var ids []uint64
	for _, r := range rejected {
		ids = append(ids, r.ID)
	}
	if !slices.Equal(ids, []uint64{11, 12, 14, 15}) {
		t.Errorf("rejected %v, want [11 12 14 15]", ids)
	}
	ms, err := l.Match("telegram skins robux")
	if err != nil || len(ms) != 2 || ms[0].ID != 10 || ms[1].ID != 13 {
		t.Errorf("matches %+v, %v", ms, err)
	}
	// The spellings bound: "lilililili" expands to 16 spellings of 10 bytes.
	_, rejected, err = buildKeywordList([]Keyword{{ID: 1, Text: "lilililili"}, {ID: 2, Text: "ok"}}, 10, 100)
	if err != nil || len(rejected) != 1 || rejected[0].ID != 1 {
		t.Errorf("spellings bound: rejected %+v, %v", rejected, err)
	}
	if err := CheckKeyword("\u200b"); err == nil {
		t.Error("CheckKeyword of a zero-width space: no error")
	}
}
