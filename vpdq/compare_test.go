package vpdq

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/vigil-oss/vigil/pdq"
)

func readSample(tb testing.TB, path string) []Frame {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	frames, err := ReadFrames(f, Limits{})
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return frames
}

// TestCompareMatchCSV reproduces every number of the reference's pairwise
// comparisons, under both semantics, to the printed two decimals.
func TestCompareMatchCSV(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "expected", "vpdq-match-expected.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) < 2 || len(rows[0]) != 6 {
		t.Fatalf("unexpected CSV shape: %d rows", len(rows))
	}
	cache := map[string][]Frame{}
	load := func(name string) []Frame {
		if fr, ok := cache[name]; ok {
			return fr
		}
		fr := readSample(t, filepath.Join("testdata", "sample-hashes", name+".txt"))
		cache[name] = fr
		return fr
	}
	pct := func(x float64) string { return strconv.FormatFloat(x, 'f', 2, 64) }
	pairs, matches := 0, 0
	for _, row := range rows[1:] {
		q, tg := load(row[0]), load(row[1])
		cpp := Compare(q, tg, CompareOptions{Semantics: CPP})
		py := Compare(q, tg, CompareOptions{})
		got := []string{pct(cpp.QueryPercent), pct(cpp.TargetPercent), pct(py.QueryPercent), pct(py.TargetPercent)}
		for i, want := range row[2:] {
			if got[i] != want {
				t.Errorf("%s vs %s: %s = %s, want %s", row[0], row[1], rows[0][i+2], got[i], want)
			}
		}
		if wantMatch := py.QueryPercent >= 80; py.Match != wantMatch {
			t.Errorf("%s vs %s: Match = %v at %.2f%%", row[0], row[1], py.Match, py.QueryPercent)
		}
		pairs++
		if py.Match {
			matches++
		}
	}
	t.Logf("%d ordered pairs reproduced under both semantics; %d match under python-threatexchange's rule", pairs, matches)
}

func frameAt(n, q int, h pdq.Hash) Frame {
	return Frame{Number: n, Quality: q, Hash: h, Timestamp: float64(n) / 30}
}

// hashWithBits returns a hash whose first k bits are set, so that
// Distance(hashWithBits(a), hashWithBits(b)) = |a-b|.
func hashWithBits(k int) pdq.Hash {
	var h pdq.Hash
	for i := range k {
		h[i/8] |= 1 << (i % 8)
	}
	return h
}

func TestCompareSemantics(t *testing.T) {
	a, b := hashWithBits(0), hashWithBits(31)
	far := hashWithBits(200)
	// At exactly 31 bits PyTX matches and CPP does not.
	q := []Frame{frameAt(0, 100, a)}
	tg := []Frame{frameAt(0, 100, b)}
	if c := Compare(q, tg, CompareOptions{}); !c.Match || c.QueryPercent != 100 {
		t.Errorf("PyTX at distance 31: %+v", c)
	}
	if c := Compare(q, tg, CompareOptions{Semantics: CPP}); c.QueryPercent != 0 {
		t.Errorf("CPP at distance 31: %+v", c)
	}
	// Dedupe: three copies of a matching hash and one non-matching frame
	// are 50% under PyTX, 75% under CPP.
	q = []Frame{frameAt(0, 100, a), frameAt(1, 100, a), frameAt(2, 100, a), frameAt(3, 100, far)}
	tg = []Frame{frameAt(0, 100, a)}
	if c := Compare(q, tg, CompareOptions{}); c.QueryPercent != 50 || c.Match {
		t.Errorf("PyTX dedupe: %+v", c)
	}
	if c := Compare(q, tg, CompareOptions{Semantics: CPP}); c.QueryPercent != 75 {
		t.Errorf("CPP no dedupe: %+v", c)
	}
	// Dedupe happens before the quality filter: a low-quality first copy
	// removes the later good one.
	q = []Frame{frameAt(0, 10, a), frameAt(1, 100, a), frameAt(2, 100, far)}
	if c := Compare(q, tg, CompareOptions{}); c.QueryPercent != 0 {
		t.Errorf("PyTX dedupe before filter: %+v", c)
	}
	// Empty after filtering: 0/0 and no match.
	q = []Frame{frameAt(0, 10, a)}
	if c := Compare(q, tg, CompareOptions{}); c.Match || c.QueryPercent != 0 || c.TargetPercent != 0 || c.Ranges != nil {
		t.Errorf("empty query: %+v", c)
	}
	if c := Compare(q, tg, CompareOptions{MinQuality: -1}); !c.Match {
		t.Errorf("no quality filter: %+v", c)
	}
	if c := Compare(nil, nil, CompareOptions{}); c.Match {
		t.Errorf("nil: %+v", c)
	}
}

func TestCompareRanges(t *testing.T) {
	a, far := hashWithBits(0), hashWithBits(200)
	tg := []Frame{frameAt(0, 100, a)}
	// matched 0-2, unmatched 3, low quality 4 (ignored), matched 5, 6 low
	// quality, 7 matched: runs [0,2] and [5,7].
	q := []Frame{
		frameAt(0, 100, a), frameAt(1, 100, hashWithBits(5)), frameAt(2, 100, a),
		frameAt(3, 100, far), frameAt(4, 0, far), frameAt(5, 100, a),
		frameAt(6, 20, far), frameAt(7, 90, hashWithBits(10)),
	}
	c := Compare(q, tg, CompareOptions{})
	want := []Range{
		{FirstFrame: 0, LastFrame: 2, Start: 0, End: 2.0 / 30, Frames: 3},
		{FirstFrame: 5, LastFrame: 7, Start: 5.0 / 30, End: 7.0 / 30, Frames: 2},
	}
	if len(c.Ranges) != len(want) {
		t.Fatalf("ranges = %+v, want %+v", c.Ranges, want)
	}
	for i := range want {
		if c.Ranges[i] != want[i] {
			t.Errorf("range %d = %+v, want %+v", i, c.Ranges[i], want[i])
		}
	}
}
