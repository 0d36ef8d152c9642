package textmatch

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/vigil-oss/vigil/internal/cputime"
	"github.com/vigil-oss/vigil/internal/verror"
)

// syllables make benign made-up words; three of them give 110,592 distinct
// words, enough for a 100,000-entry list.
var syllables = strings.Fields(`ba be bi bo bu ka ke ki ko ku la le li lo lu ma me mi mo mu
	na ne ni no nu ra re ri ro ru sa se si so su ta te ti to tu va ve vi vo vu za ze`)

// benchWords returns n distinct made-up words, the same on every run.
func benchWords(n int) []string {
	rng := rand.New(rand.NewPCG(7, 11))
	var all []string
	for _, a := range syllables {
		for _, b := range syllables {
			for _, c := range syllables {
				all = append(all, a+b+c)
			}
		}
	}
	rng.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
	return all[:n]
}

func benchKeywords(n int) []Keyword {
	words := benchWords(n)
	entries := make([]Keyword, n)
	for i, w := range words {
		entries[i] = Keyword{ID: uint64(i + 1), Text: w, WholeWord: i%2 == 0}
	}
	return entries
}

// benchText is about 4 KiB of chat with a few listed words in it, some
// obfuscated.
func benchText(words []string) string {
	rng := rand.New(rand.NewPCG(3, 5))
	filler := strings.Fields(`hello how are you doing today I went to the park with my friends
		and we played a game then had some apples and bananas for lunch what about you did you
		finish the homework it was quite long but the teacher said it is due next week anyway`)
	var b strings.Builder
	for b.Len() < 4096 {
		if rng.IntN(40) == 0 {
			w := words[rng.IntN(len(words))]
			switch rng.IntN(3) {
			case 0:
				w = strings.ToUpper(w)
			case 1:
				w = strings.Join(strings.Split(w, ""), " ")
			}
			b.WriteString(w)
		} else {
			b.WriteString(filler[rng.IntN(len(filler))])
		}
		b.WriteByte(' ')
	}
	return b.String()
}

func BenchmarkKeywordMatch(b *testing.B) {
	entries := benchKeywords(100_000)
	words := make([]string, len(entries))
	for i, e := range entries {
		words[i] = e.Text
	}
	text := benchText(words[:1000])
	for _, n := range []int{1_000, 100_000} {
		l := MustKeywordList(b, entries[:n]...)
		b.Run(fmt.Sprintf("automaton/%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			b.ReportAllocs()
			cputime.PerOp(b, func() {
				if _, err := l.Match(text); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
	// The baseline: lower-case the text and look for every keyword with
	// strings.Contains. It sees no obfuscation and reports no spans.
	for _, n := range []int{1_000, 10_000} {
		b.Run(fmt.Sprintf("naive-contains/%d", n), func(b *testing.B) {
			b.SetBytes(int64(len(text)))
			cputime.PerOp(b, func() {
				lower := strings.ToLower(text)
				hits := 0
				for _, w := range words[:n] {
					if strings.Contains(lower, w) {
						hits++
					}
				}
				if hits == 0 {
					b.Fatal("no hits")
				}
			})
		})
	}
	b.Run("normalize-only", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		b.ReportAllocs()
		cputime.PerOp(b, func() {
			if _, err := normalize(text); err != nil {
				b.Fatal(err)
			}
		})
	})
}

func BenchmarkKeywordListBuild(b *testing.B) {
	entries := benchKeywords(100_000)
	b.ReportAllocs()
	var l *KeywordList
	cputime.PerOp(b, func() {
		var err error
		if l, err = NewKeywordList(entries); err != nil {
			b.Fatal(err)
		}
	})
	b.ReportMetric(float64(len(l.ac.check)), "slots")
}

// benchURLList returns a list of n entries, a third of each mode, the
// entries as written, and 2,000 URLs to look up, half of them listed.
func benchURLList(b *testing.B, n int) (*URLList, []string, []string) {
	words := benchWords(n)
	var l URLList
	var urls, raw []string
	for i, w := range words {
		host := w + ".example.com"
		switch i % 3 {
		case 0:
			if err := l.Add(uint64(i), host, MatchHost); err != nil {
				b.Fatal(err)
			}
			raw = append(raw, host)
			urls = append(urls, "https://cdn."+host+"/img/"+w+".png")
		case 1:
			if err := l.Add(uint64(i), host+"/files/"+w, MatchPrefix); err != nil {
				b.Fatal(err)
			}
			raw = append(raw, host+"/files/"+w)
			urls = append(urls, "HTTP://WWW."+host+"/files/"+w+"/a/b?x=1")
		case 2:
			if err := l.Add(uint64(i), "https://"+host+"/watch?v="+w+"&t=1", MatchExact); err != nil {
				b.Fatal(err)
			}
			raw = append(raw, "https://"+host+"/watch?v="+w+"&t=1")
			urls = append(urls, "http://"+host+"/watch?t=1&v="+w+"#start")
		}
		// Misses: neighbours of listed URLs.
		urls = append(urls, "https://"+w+".example.org/files/"+w)
	}
	return &l, raw, urls[:2000]
}

func BenchmarkURLMatch(b *testing.B) {
	l, raw, urls := benchURLList(b, 100_000)
	total := 0
	for _, u := range urls {
		total += len(u)
	}
	b.Run("list/100000", func(b *testing.B) {
		b.SetBytes(int64(total / len(urls)))
		b.ReportAllocs()
		i := 0
		cputime.PerOp(b, func() {
			if _, err := l.Match(urls[i%len(urls)]); err != nil {
				b.Fatal(err)
			}
			i++
		})
	})
	b.Run("normalize-only", func(b *testing.B) {
		b.SetBytes(int64(total / len(urls)))
		b.ReportAllocs()
		i := 0
		cputime.PerOp(b, func() {
			if _, err := NormalizeURL(urls[i%len(urls)]); err != nil {
				b.Fatal(err)
			}
			i++
		})
	})
	// The baseline: a map of the 100,000 entries as written, which only
	// finds URLs spelt exactly as listed (here: none of the lookups).
	set := make(map[string]bool, len(raw))
	for _, r := range raw {
		set[r] = true
	}
	b.Run("map-baseline/100000", func(b *testing.B) {
		b.SetBytes(int64(total / len(urls)))
		i := 0
		cputime.PerOp(b, func() {
			_ = set[urls[i%len(urls)]]
			i++
		})
	})
	text := "hi! see " + strings.Join(urls[:20], " and also ") + " ok"
	b.Run("match-text", func(b *testing.B) {
		b.SetBytes(int64(len(text)))
		b.ReportAllocs()
		cputime.PerOp(b, func() {
			if _, err := l.MatchText(text); err != nil {
				b.Fatal(err)
			}
		})
	})
}

// BenchmarkNormalizeURLLong normalises the costliest kinds of URL found
// while fuzzing (escapes to re-encode, dot-segments, many query
// parameters, a Unicode host) at 1 KiB, the baseline, and at MaxURLLen:
// equal MB/s at both sizes means normalisation is linear in the input,
// so no input is slow.
//
//	go test -run '^$' -bench BenchmarkNormalizeURLLong ./textmatch/
func BenchmarkNormalizeURLLong(b *testing.B) {
	for _, size := range []int{1 << 10, MaxURLLen} {
		for _, kind := range []struct {
			name string
			make func(n int) string
		}{
			{"escapes", func(n int) string { return "http://x.example/" + strings.Repeat("%7e%zz", n/6) }},
			{"dot-segments", func(n int) string { return "http://x.example/" + strings.Repeat("a/../", n/5) }},
			{"query", func(n int) string { return "http://x.example/?" + strings.Repeat("b=1&a=2&", n/8) }},
			{"unicode-host", func(n int) string {
				return "http://" + strings.Repeat("ü", min(n, 1024)/4) + ".example/" + strings.Repeat("p", max(0, n-1024))
			}},
		} {
			in := kind.make(size - 32)
			if _, err := NormalizeURL(in); err != nil && verror.ErrorCode(err) != verror.ETOOLARGE {
				b.Fatalf("%s: %v", kind.name, err)
			}
			b.Run(fmt.Sprintf("%s/bytes=%d", kind.name, size), func(b *testing.B) {
				b.SetBytes(int64(len(in)))
				cputime.PerOp(b, func() { NormalizeURL(in) })
			})
		}
	}
}
