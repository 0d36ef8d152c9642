package grooming

import "testing"

// TestWordTableAgreesWithMaps checks the tagger's hash tables against the
// lexicon maps they are built from, for every key, every prefix and
// extension of every key (the lookups the tagger makes) and the empty word.
func TestWordTableAgreesWithMaps(t *testing.T) {
	lx, err := compileLexicon(lexiconEntries())
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, m map[string]int32, tab *wordTable[int32], w string) {
		t.Helper()
		want, wok := m[w]
		got, gok := tab.get(wordHash([]byte(w)), []byte(w))
		if got != want || gok != wok {
			t.Fatalf("%s %q: table %d %v, map %d %v", name, w, got, gok, want, wok)
		}
	}
	probes := []string{"", "a", "\x00", "zzzzzzzzzzzzzzzzzzzzzzzz"}
	for _, m := range []map[string]int32{lx.words, lx.prefixes} {
		for k := range m {
			for i := 0; i <= len(k); i++ {
				probes = append(probes, k[:i])
			}
			probes = append(probes, k+"s", k+"x", "x"+k)
		}
	}
	for _, w := range probes {
		check("word", lx.words, &lx.wordTab, w)
		check("prefix", lx.prefixes, &lx.prefixTab, w)
		lw, lok := lx.langs[w]
		lg, gok := lx.langTab.get(wordHash([]byte(w)), []byte(w))
		if lw != lg || lok != gok {
			t.Fatalf("lang %q: table %d %v, map %d %v", w, lg, gok, lw, lok)
		}
	}
	var empty wordTable[int32]
	if _, ok := empty.get(wordHash([]byte("x")), []byte("x")); ok {
		t.Fatal("empty table found a word")
	}
}

// TestSymbolsOrder checks that symbols gives a word's symbols in the
// order the map lookups did: the word, then prefixes shortest first.
func TestSymbolsOrder(t *testing.T) {
	lx, err := compileLexicon(lexiconEntries())
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for w := range lx.words {
		var want []int32
		if id, ok := lx.words[w]; ok {
			want = append(want, id)
		}
		for _, l := range lx.prefixLens {
			if l > len(w) {
				break
			}
			if id, ok := lx.prefixes[w[:l]]; ok {
				want = append(want, id)
			}
		}
		got, _ := lx.symbols([]int32{-7}, []byte(w))
		if len(got) != len(want)+1 || got[0] != -7 {
			t.Fatalf("%q: symbols %v, want [-7 %v]", w, got, want)
		}
		for i := range want {
			if got[i+1] != want[i] {
				t.Fatalf("%q: symbols %v, want [-7 %v]", w, got, want)
			}
		}
		if len(want) > 1 {
			n++
		}
	}
	if n == 0 {
		t.Fatal("no word has both a word and a prefix symbol: the order is untested")
	}
}

// TestSpokenTabAgreesWithMaps checks dropSpoken's table against the word
// sets it is built from.
func TestSpokenTabAgreesWithMaps(t *testing.T) {
	var probes []string
	for k := range spokenMarks {
		probes = append(probes, k, k[:len(k)-1], k+"s")
	}
	for k := range spokenStops {
		probes = append(probes, k, k[:len(k)-1], k+"s")
	}
	for _, w := range probes {
		want := spokenNone
		if isQ, ok := spokenMarks[w]; ok {
			want = spokenMark
			if isQ {
				want = spokenQuestion
			}
		} else if spokenStops[w] {
			want = spokenStop
		}
		if got, _ := spokenTab.get(wordHash([]byte(w)), []byte(w)); got != want {
			t.Errorf("%q: table %d, maps %d", w, got, want)
		}
	}
}
