package table

import (
	"bytes"
	"testing"

	"github.com/vigil-oss/vigil/phm"
)

// benchN is the list size of the table benchmarks: big enough that the
// cuckoo walks and the Merkle tree have their real shape, small enough to
// build in seconds on a shared 2-core machine.
const benchN = 20000

// BenchmarkBuildPerEntry builds a benchN-key table on one worker and
// reports time and serialised bytes per listed entry. Its baseline, in
// the same run, is the floor a build cannot beat: one hash to the group,
// one scalar multiplication and one encoding per key, nothing else (the
// design note's prototype measured 62 µs per entry for that plus the
// cuckoo insert).
func BenchmarkBuildPerEntry(b *testing.B) {
	keys := testKeys(b, benchN, "bench")
	alpha := testAlpha(b)
	perEntry := func(b *testing.B) {
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/benchN/1000, "µs/entry")
		b.ReportMetric(0, "ns/op")
	}
	b.Run("baseline-blind-only", func(b *testing.B) {
		e := phm.Group.NewElement()
		for range b.N {
			for _, k := range keys {
				e.Mul(phm.HashToGroup(k), alpha)
				if _, err := e.MarshalBinaryCompress(); err != nil {
					b.Fatal(err)
				}
			}
		}
		perEntry(b)
	})
	b.Run("build", func(b *testing.B) {
		var size int
		for range b.N {
			t, err := Build(alpha, keys, [32]byte{1}, Options{Version: 1, Workers: 1})
			if err != nil {
				b.Fatal(err)
			}
			size = t.Size()
		}
		perEntry(b)
		b.ReportMetric(float64(size)/benchN, "B/entry")
	})
}

// BenchmarkLoadPerSlot is a device loading (and checking every element
// of) a downloaded table, then hashing the Merkle root.
func BenchmarkLoadPerSlot(b *testing.B) {
	t := mustBuild(b, testKeys(b, benchN, "bench-load"), [32]byte{2}, Options{Version: 1})
	var raw bytes.Buffer
	t.WriteTo(&raw)
	b.ResetTimer()
	for range b.N {
		if _, err := Load(bytes.NewReader(raw.Bytes()), 0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(t.Slots()), "ns/slot")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkDiffOnePercent measures a 1 % list change (0.5 % removed,
// 0.5 % added) between two tables of one shape: changed slots per
// changed key and diff bytes per changed key.
func BenchmarkDiffOnePercent(b *testing.B) {
	keys := testKeys(b, benchN, "bench-diff")
	m := phm.SlotsFor(benchN * 11 / 10)
	v1 := mustBuild(b, keys, [32]byte{3}, Options{Version: 1, Slots: m})
	next := append(append([]phm.Key(nil), keys[benchN/200:]...), testKeys(b, benchN/200, "bench-diff-new")...)
	v2 := mustBuild(b, next, [32]byte{3}, Options{Version: 2, Slots: m})
	changed := benchN / 100
	var d *Diff
	b.ResetTimer()
	for range b.N {
		var err error
		if d, err = MakeDiff(v1, v2); err != nil {
			b.Fatal(err)
		}
	}
	raw, _ := d.MarshalBinary()
	b.ReportMetric(float64(len(d.Indexes))/float64(changed), "slots/changed-key")
	b.ReportMetric(float64(len(raw))/float64(changed), "B/changed-key")
}

// BenchmarkCheckPerSlot is the decode check Load leaves out (see Check),
// measured beside BenchmarkLoadPerSlot for comparison.
func BenchmarkCheckPerSlot(b *testing.B) {
	t := mustBuild(b, testKeys(b, benchN, "bench-load"), [32]byte{2}, Options{Version: 1})
	b.ResetTimer()
	for range b.N {
		if err := t.Check(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(t.Slots()), "ns/slot")
	b.ReportMetric(0, "ns/op")
}
