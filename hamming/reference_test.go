package hamming

import (
	"bufio"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"testing"
)

func parseHex(s string) ([32]byte, error) {
	var h [32]byte
	if len(s) != 64 {
		return h, fmt.Errorf("hash %q: want 64 hex digits", s)
	}
	if _, err := hex.Decode(h[:], []byte(s)); err != nil {
		return h, fmt.Errorf("hash %q: %w", s, err)
	}
	return h, nil
}

func readHashes(tb testing.TB, path string) [][32]byte {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out [][32]byte
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		h, err := parseHex(sc.Text())
		if err != nil {
			tb.Fatalf("%s line %d: %v", path, len(out)+1, err)
		}
		out = append(out, h)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

type refPair struct {
	needle, hay uint64 // 1-based line numbers
	dist        int
}

func readPairs(tb testing.TB, path string, needles, hay [][32]byte) []refPair {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	if err != nil {
		tb.Fatal(err)
	}
	var out []refPair
	for i, rec := range recs[1:] {
		n, err1 := strconv.Atoi(rec[0])
		h, err2 := strconv.Atoi(rec[1])
		d, err3 := strconv.Atoi(rec[2])
		if err1 != nil || err2 != nil || err3 != nil || n < 1 || n > len(needles) || h < 1 || h > len(hay) {
			tb.Fatalf("%s row %d: bad record %q", path, i+2, rec)
		}
		// Guard against the files drifting apart: the CSV repeats the hashes.
		if hex.EncodeToString(needles[n-1][:]) != rec[3] || hex.EncodeToString(hay[h-1][:]) != rec[4] {
			tb.Fatalf("%s row %d: hashes differ from needles.txt/haystack.txt", path, i+2)
		}
		out = append(out, refPair{uint64(n), uint64(h), d})
	}
	return out
}

// TestReferenceVectors checks the index against the brute-force pairs of
// the ThreatExchange needles and haystack, for every layout and both the
// compacted and the delta path.
func TestReferenceVectors(t *testing.T) {
	needles := readHashes(t, "testdata/needles.txt")
	hay := readHashes(t, "testdata/haystack.txt")
	pairs := readPairs(t, "testdata/needles-vs-haystack-within-63.csv", needles, hay)
	if len(needles) != 100 || len(hay) != 1350 {
		t.Fatalf("got %d needles and %d haystack hashes, want 100 and 1350", len(needles), len(hay))
	}
	ids := make([]uint64, len(hay))
	for i := range ids {
		ids[i] = uint64(i + 1)
	}
	wantCount := map[int]int{31: 250, 32: 250, 63: 352}

	type variant struct {
		name string
		x    *Index
	}
	var variants []variant
	for _, subs := range []int{-1, 0, 11, 12, 13, 16, 32} {
		x, err := Build(ids, hay, Options{Substrings: subs})
		if err != nil {
			t.Fatal(err)
		}
		variants = append(variants, variant{fmt.Sprint("build subs=", subs), x})
	}
	delta := New(Options{Substrings: 16})
	for i := range hay {
		delta.Add(ids[i], hay[i])
	}
	variants = append(variants, variant{"delta", delta})
	mixed := New(Options{Substrings: 16})
	if err := mixed.AddBatch(ids[:700], hay[:700]); err != nil {
		t.Fatal(err)
	}
	mixed.Compact()
	if err := mixed.AddBatch(ids[700:], hay[700:]); err != nil {
		t.Fatal(err)
	}
	variants = append(variants, variant{"compacted+delta", mixed})

	for _, v := range variants {
		for radius := 0; radius <= 63; radius++ {
			var want, got []Result
			for _, p := range pairs {
				if p.dist <= radius {
					want = append(want, Result{ID: p.needle<<32 | p.hay, Distance: p.dist})
				}
			}
			for n, q := range needles {
				for _, r := range v.x.Search(q, radius, nil) {
					got = append(got, Result{ID: uint64(n+1)<<32 | r.ID, Distance: r.Distance})
				}
			}
			sameResults(t, fmt.Sprintf("%s radius %d", v.name, radius), got, want)
			if c, ok := wantCount[radius]; ok && len(got) != c {
				t.Errorf("%s radius %d: %d pairs, want %d", v.name, radius, len(got), c)
			}
		}
	}
}
