package grooming

import (
	"math"
	"slices"
	"testing"
)

// TestMatchCoGenerationWrap checks that the co-pattern generation counter
// wrapping to zero neither keeps stale positions nor loses matches: a
// matcher whose counter is about to wrap finds what a fresh one finds, on
// every dev message with a co-occurrence match.
func TestMatchCoGenerationWrap(t *testing.T) {
	d := NewDetector(Options{})
	checked := 0
	for _, r := range readRecords(t, "testdata/dev.jsonl") {
		for _, m := range r.Messages {
			var fresh, worn tagScratch
			d.tag(&fresh, m.Text)
			co := false
			for _, h := range fresh.m.hits {
				co = co || d.lx.patterns[h.pat].co
			}
			if !co {
				continue
			}
			checked++
			// Every co-pattern carries generation 1, stale from 2³² messages
			// ago, which the wrap makes current again unless the marks are
			// cleared.
			d.tag(&worn, "dont tell anyone")
			for i := range worn.m.coSeen {
				worn.m.coSeen[i] = 1
			}
			worn.m.coGen = math.MaxUint32
			d.tag(&worn, m.Text)
			if !slices.Equal(fresh.m.hits, worn.m.hits) {
				t.Fatalf("%q: hits after wrap %v, fresh %v", m.Text, worn.m.hits, fresh.m.hits)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no dev message has a co-occurrence match: the test checks nothing")
	}
}
