package hamming

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Benchmarks compare the index with the package's linear scan (4 entries per
// iteration, XOR and bits.OnesCount64 per word) on the same data in the same
// run. Set VIGIL_BENCH_LARGE=1 for the 10M-entry sets (about 3 GB of heap and
// a minute of setup each), and VIGIL_BENCH_DUMP=dir to write each data set
// and its queries as raw 32-byte records for outside comparisons (FAISS), and
// VIGIL_BENCH_SUBSTRINGS=12|16|32|-1 to force a layout (Options.Substrings).

// quickFlip flips exactly n distinct random bits without allocating, which
// matters when generating ten million hashes.
func quickFlip(r *rand.Rand, h [32]byte, n int) [32]byte {
	var seen [4]uint64
	for n > 0 {
		b := r.IntN(256)
		if seen[b>>6]&(1<<(b&63)) != 0 {
			continue
		}
		seen[b>>6] |= 1 << (b & 63)
		h[b/8] ^= 1 << (b % 8)
		n--
	}
	return h
}

type benchSet struct {
	name string
	ids  []uint64
	hs   [][32]byte
	qs   [][32]byte
}

// uniformSet: random hashes; half the queries are stored hashes moved 8 to
// 30 bits (a match at radius 31), half random (no match), as a service sees
// mostly new images.
func uniformSet(n int) benchSet {
	r := rand.New(rand.NewPCG(uint64(n), 41))
	s := benchSet{name: fmt.Sprintf("uniform-%s", count(n)), ids: make([]uint64, n), hs: make([][32]byte, n)}
	for i := range s.hs {
		s.ids[i] = uint64(i + 1)
		s.hs[i] = randomHash(r)
	}
	for i := range 1000 {
		if i%2 == 0 {
			s.qs = append(s.qs, quickFlip(r, s.hs[r.IntN(n)], 8+r.IntN(23)))
		} else {
			s.qs = append(s.qs, randomHash(r))
		}
	}
	return s
}

// clusteredSet: n/centres near-duplicates around each centre, each 0 to 24
// bits from it, ids in random order; queries are members moved up to 16
// bits, so each query matches a large part of its cluster.
func clusteredSet(n, centres int) benchSet {
	r := rand.New(rand.NewPCG(uint64(n), uint64(centres)))
	s := benchSet{name: fmt.Sprintf("clustered%d-%s", centres, count(n)), ids: make([]uint64, n), hs: make([][32]byte, n)}
	cs := make([][32]byte, centres)
	for i := range cs {
		cs[i] = randomHash(r)
	}
	for i := range s.hs {
		s.hs[i] = quickFlip(r, cs[r.IntN(centres)], r.IntN(25))
	}
	for i, p := range r.Perm(n) {
		s.ids[i] = uint64(p + 1)
	}
	for range 1000 {
		s.qs = append(s.qs, quickFlip(r, s.hs[r.IntN(n)], r.IntN(17)))
	}
	return s
}

func count(n int) string {
	if n%1_000_000 == 0 {
		return fmt.Sprintf("%dM", n/1_000_000)
	}
	return fmt.Sprintf("%dk", n/1000)
}

// dump writes the set and, per query, the index's match count at radius as
// little-endian int32, for checking another matcher's results.
func (s benchSet) dump(tb testing.TB, dir string, x *Index, radius int) {
	write := func(name string, hs [][32]byte) {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			tb.Fatal(err)
		}
		w := bufio.NewWriterSize(f, 1<<20)
		for i := range hs {
			w.Write(hs[i][:])
		}
		if err := w.Flush(); err != nil {
			tb.Fatal(err)
		}
		if err := f.Close(); err != nil {
			tb.Fatal(err)
		}
	}
	write(s.name+".data", s.hs)
	write(s.name+".queries", s.qs)
	counts := make([]byte, 0, 4*len(s.qs))
	for _, q := range s.qs {
		counts = binary.LittleEndian.AppendUint32(counts, uint32(len(x.Search(q, radius, nil))))
	}
	if err := os.WriteFile(filepath.Join(dir, s.name+".counts"), counts, 0o644); err != nil {
		tb.Fatal(err)
	}
}

func BenchmarkSearch(b *testing.B) {
	sizes := []int{100_000, 1_000_000}
	if os.Getenv("VIGIL_BENCH_LARGE") == "1" {
		sizes = append(sizes, 10_000_000)
	}
	for _, n := range sizes {
		sets := []struct {
			name string
			mk   func() benchSet
		}{
			{"uniform-" + count(n), func() benchSet { return uniformSet(n) }},
			{"clustered1000-" + count(n), func() benchSet { return clusteredSet(n, 1000) }},
			// Ten huge clusters: most queries hit tens of thousands of
			// near-duplicates, which is what the scan fallback is for.
			{"clustered10-" + count(n), func() benchSet { return clusteredSet(n, 10) }},
		}
		for _, set := range sets {
			// Data is made inside the sub-benchmark, which b.Loop runs once,
			// so a -bench filter skips generating the sets it excludes.
			b.Run(set.name+"/r31", func(b *testing.B) { benchSearch(b, set.mk(), 31) })
		}
	}
}

func benchSearch(b *testing.B, s benchSet, radius int) {
	start := time.Now()
	subs, _ := strconv.Atoi(os.Getenv("VIGIL_BENCH_SUBSTRINGS"))
	x, err := Build(s.ids, s.hs, Options{Substrings: subs})
	if err != nil {
		b.Fatal(err)
	}
	buildTime := time.Since(start)
	if dir := os.Getenv("VIGIL_BENCH_DUMP"); dir != "" {
		s.dump(b, dir, x, radius)
	}
	seg := x.cur.Load().base

	// Results must be identical to the scan's before any timing counts.
	nCheck := min(len(s.qs), max(20, 100_000_000/len(s.ids)))
	matches := 0
	for i := range nCheck {
		w := toWords(&s.qs[i])
		want := seg.scan(&w, radius, nil, 0, nil)
		got := x.Search(s.qs[i], radius, nil)
		sameResults(b, fmt.Sprintf("query %d", i), got, want)
		matches += len(got)
	}

	// Paired measurement: the index and the scan take turns on the same
	// queries, timed in thread CPU time, so that other load on the machine
	// affects both alike and descheduled time counts for neither.
	runtime.LockOSThread()
	var idxCPU, scanCPU time.Duration
	nPaired := min(len(s.qs), max(40, 50_000_000/len(s.ids)))
	var dst []Result
	for lo := 0; lo < nPaired; lo += 5 {
		hi := min(lo+5, nPaired)
		t0 := threadCPU()
		for i := lo; i < hi; i++ {
			dst = x.Search(s.qs[i], radius, dst[:0])
		}
		t1 := threadCPU()
		for i := lo; i < hi; i++ {
			w := toWords(&s.qs[i])
			dst = seg.scan(&w, radius, nil, 0, dst[:0])
		}
		idxCPU += t1 - t0
		scanCPU += threadCPU() - t1
	}
	runtime.UnlockOSThread()

	i := 0
	b.ResetTimer()
	for b.Loop() {
		dst = x.Search(s.qs[i%len(s.qs)], radius, dst[:0])
		i++
	}
	b.StopTimer()
	st := x.Stats()
	b.ReportMetric(float64(idxCPU.Nanoseconds())/float64(nPaired), "idx-cpu-ns/op")
	b.ReportMetric(float64(scanCPU.Nanoseconds())/float64(nPaired), "scan-cpu-ns/op")
	b.ReportMetric(float64(scanCPU)/float64(idxCPU), "speedup")
	b.ReportMetric(float64(st.Bytes)/float64(st.Entries), "B/entry")
	b.ReportMetric(float64(matches)/float64(nCheck), "matches/op")
	b.ReportMetric(buildTime.Seconds(), "build-s")
}

// BenchmarkScanOnly is the linear scan alone at 1M, for profiling it.
func BenchmarkScanOnly(b *testing.B) {
	s := uniformSet(1_000_000)
	x, err := Build(s.ids, s.hs, Options{Substrings: -1})
	if err != nil {
		b.Fatal(err)
	}
	var dst []Result
	i := 0
	for b.Loop() {
		dst = x.Search(s.qs[i%len(s.qs)], 31, dst[:0])
		i++
	}
}

func BenchmarkAdd(b *testing.B) {
	s := uniformSet(1_000_000)
	x, err := Build(s.ids, s.hs, Options{MaxDelta: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	id := uint64(len(s.ids) + 1)
	for b.Loop() {
		x.Add(id, randomHash(r))
		id++
	}
}

func BenchmarkCompact1M(b *testing.B) {
	s := uniformSet(1_000_000)
	x, err := Build(s.ids, s.hs, Options{MaxDelta: 1 << 30})
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 3))
	id := uint64(len(s.ids) + 1)
	for b.Loop() {
		for range 1000 {
			x.Add(id, randomHash(r))
			x.Remove(id - 500_000)
			id++
		}
		x.Compact()
	}
}

// perfSets is the data of the paired benchmarks: VIGIL_PERF_DATA and
// VIGIL_PERF_QUERIES (gen-hashes.py files, ids their row numbers) if set,
// else the 1M uniform and clustered sets made here.
func perfSets(b *testing.B) []benchSet {
	if p := os.Getenv("VIGIL_PERF_DATA"); p != "" {
		hs := readRaw(b, p)
		s := benchSet{name: strings.TrimSuffix(filepath.Base(p), ".bin"), hs: hs, ids: make([]uint64, len(hs))}
		for i := range s.ids {
			s.ids[i] = uint64(i)
		}
		s.qs = readRaw(b, os.Getenv("VIGIL_PERF_QUERIES"))
		return []benchSet{s}
	}
	return []benchSet{uniformSet(1_000_000), clusteredSet(1_000_000, 1000)}
}

// BenchmarkLayouts builds several layouts over one data set in one process
// and times them in turns on the same queries (blocks of 10, thread CPU
// time), so that the machine's load falls on all of them alike. "baseline"
// is the search code and layout as they were before the compact directories
// (baselineSearch: 16×16 substrings up to 8M entries, one uint32 per
// bucket, fixed cost guard). The data is VIGIL_PERF_DATA and
// VIGIL_PERF_QUERIES (gen-hashes.py files) if set, else uniform and
// clustered sets made here.
//
//	VIGIL_PERF_DATA=/tmp/d/clustered-n1000000-s1.bin VIGIL_PERF_QUERIES=/tmp/d/clustered-n1000000-s1.q2000.bin \
//	  go test -run '^$' -bench Layouts -benchtime 1x ./hamming/
func BenchmarkLayouts(b *testing.B) {
	sets := perfSets(b)
	type layout struct {
		name string
		opts Options
	}
	baselineSubs := 16
	layouts := []layout{
		// The default: from 8M entries the grouped layout on CPUs with its
		// assembly, else plain; "plain" keeps the plain layout at 10M.
		{"current", Options{}},
		{"plain", Options{Plain: true}},
		{"11", Options{Substrings: 11}},
		// The grouped Elias–Fano layout: Options.Grouped (which applies
		// from 8M entries), and forced on the 11 substrings at any size.
		{"grouped", Options{Grouped: true}},
		{"11grouped", Options{Substrings: 11, grouped: 1}},
		// The grouped layout's other codings: blocks of 16 high parts
		// (the default is 32), and session 10's single efSeq.
		{"blocked16", Options{Grouped: true, blocked: 4}},
		{"groupedef", Options{Grouped: true, blocked: -1}},
		// The blocked coding's decode of session 11: stage by stage.
		{"groupedstaged", Options{Grouped: true, staged: true}},
		// The grouped layout without its assembly (filter and decode).
		{"groupedgo", Options{Grouped: true, pureGo: true}},
		{"12", Options{Substrings: 12}},
		// The 12 substrings with the longer ones where the radius is 2.
		{"12wide", Options{lengths: []int{22, 22, 22, 22, 22, 22, 22, 22, 20, 20, 20, 20}}},
		{"13", Options{Substrings: 13}},
		{"16", Options{Substrings: 16}},
	}
	// VIGIL_BENCH_LENGTHS=22x10,20 adds a layout of those substring
	// lengths (a length, or a length x a count, in order), named "lengths".
	if spec := os.Getenv("VIGIL_BENCH_LENGTHS"); spec != "" {
		var lengths []int
		for _, part := range strings.Split(spec, ",") {
			bits, times, _ := strings.Cut(part, "x")
			n, err1 := strconv.Atoi(bits)
			k, err2 := strconv.Atoi(cmp.Or(times, "1"))
			if err1 != nil || err2 != nil {
				b.Fatalf("VIGIL_BENCH_LENGTHS: %q is not a length or length x count", part)
			}
			for range k {
				lengths = append(lengths, n)
			}
		}
		layouts = append(layouts, layout{"lengths", Options{lengths: lengths}})
	}
	// VIGIL_BENCH_LAYOUTS=current,11 keeps only the layouts named (and the
	// baseline), which at 10M entries saves minutes of building.
	if only := os.Getenv("VIGIL_BENCH_LAYOUTS"); only != "" {
		keep := strings.Split(only, ",")
		layouts = slices.DeleteFunc(layouts, func(l layout) bool { return !slices.Contains(keep, l.name) })
	}
	for _, s := range sets {
		if len(s.ids) >= 1<<23 {
			baselineSubs = 12
		}
		ls := append([]layout{{"baseline", Options{Substrings: baselineSubs, denseDirs: true}}}, layouts...)
		b.Run(s.name, func(b *testing.B) {
			xs := make([]*Index, len(ls))
			for i, l := range ls {
				x, err := Build(s.ids, s.hs, l.opts)
				if err != nil {
					b.Fatal(err)
				}
				xs[i] = x
			}
			// Identical results before any timing.
			for qi, q := range s.qs[:min(len(s.qs), 200)] {
				want := xs[0].Search(q, 31, nil)
				for i := 1; i < len(xs); i++ {
					sameResults(b, fmt.Sprintf("%s query %d", ls[i].name, qi), xs[i].Search(q, 31, nil), want)
				}
			}
			// The baseline runs the old search code on its segment.
			base := xs[0].cur.Load().base
			baseBuf := new([]uint32)
			for qi, q := range s.qs[:min(len(s.qs), 200)] {
				w := toWords(&q)
				sameResults(b, fmt.Sprintf("old code, query %d", qi), base.baselineSearch(&w, 31, nil, baseBuf), xs[0].Search(q, 31, nil))
			}
			// VIGIL_BENCH_TURN sets the queries a layout runs in one turn
			// (10 by default): long turns let each layout warm the caches
			// with its own lines, as it would alone in a process.
			turn, _ := strconv.Atoi(os.Getenv("VIGIL_BENCH_TURN"))
			turn = cmp.Or(max(turn, 0), 10)
			cpu := make([]time.Duration, len(xs))
			runtime.LockOSThread()
			var dst []Result
			for b.Loop() {
				for lo := 0; lo < len(s.qs); lo += turn {
					hi := min(lo+turn, len(s.qs))
					for i, x := range xs {
						t0 := threadCPU()
						for _, q := range s.qs[lo:hi] {
							if i == 0 {
								w := toWords(&q)
								dst = base.baselineSearch(&w, 31, dst[:0], baseBuf)
							} else {
								dst = x.Search(q, 31, dst[:0])
							}
						}
						cpu[i] += threadCPU() - t0
					}
				}
			}
			runtime.UnlockOSThread()
			for i, l := range ls {
				st := xs[i].Stats()
				us := float64(cpu[i].Nanoseconds()) / float64(b.N*len(s.qs)) / 1000
				b.ReportMetric(us, l.name+"-µs/q")
				b.ReportMetric(float64(cpu[0])/float64(cpu[i]), l.name+"-speedup")
				b.ReportMetric(float64(st.Bytes)/float64(st.Entries), l.name+"-B/entry")
			}
		})
	}
}

// BenchmarkPrevProbe compares the probe with the one before p-idx (issue
// 20, session 8: directory blocks straddling cache lines, empty buckets'
// postings read) on one segment, in one process: results checked identical
// first, then the two take turns of 10 queries, timed in thread CPU time,
// so that the machine's other load falls on both alike. Queries the cost
// guard sends to the scan are left out of both. Data from VIGIL_PERF_DATA
// and VIGIL_PERF_QUERIES, else the 1M uniform and clustered sets:
//
//	VIGIL_PERF_DATA=D.bin VIGIL_PERF_QUERIES=D.q2000.bin go test -run '^$' -bench PrevProbe -benchtime 1x ./hamming/
func BenchmarkPrevProbe(b *testing.B) {
	sets := perfSets(b)
	for _, set := range sets {
		b.Run(set.name, func(b *testing.B) {
			// The previous probe reads the plain layout's directories.
			x, err := Build(set.ids, set.hs, Options{grouped: -1})
			if err != nil {
				b.Fatal(err)
			}
			s := x.cur.Load().base
			prev := s.prevDirs()
			limit := (s.rows() - s.probeCount(31)*s.probeCost) / s.candCost
			sc := new(scratch)
			var qs []words
			for qi, q := range set.qs {
				w := toWords(&q)
				got, ok := s.probe(&w, 31, nil, 0, nil, sc, limit)
				if !ok {
					continue
				}
				sameResults(b, fmt.Sprintf("query %d", qi), s.prevProbe(prev, &w, 31, nil, sc), got)
				qs = append(qs, w)
			}
			var newCPU, prevCPU time.Duration
			var dst []Result
			runtime.LockOSThread()
			for range max(1, b.N) {
				for lo := 0; lo < len(qs); lo += 10 {
					hi := min(lo+10, len(qs))
					t0 := threadCPU()
					for i := lo; i < hi; i++ {
						dst, _ = s.probe(&qs[i], 31, nil, 0, dst[:0], sc, limit)
					}
					t1 := threadCPU()
					for i := lo; i < hi; i++ {
						dst = s.prevProbe(prev, &qs[i], 31, dst[:0], sc)
					}
					newCPU += t1 - t0
					prevCPU += threadCPU() - t1
				}
			}
			runtime.UnlockOSThread()
			nq := float64(len(qs) * max(1, b.N))
			var prevBytes int64
			for j := range prev {
				prevBytes += int64(cap(prev[j].blocks)+cap(prev[j].wide)+cap(prev[j].dense)) * 4
			}
			b.ReportMetric(float64(newCPU.Nanoseconds())/nq, "new-cpu-ns/q")
			b.ReportMetric(float64(prevCPU.Nanoseconds())/nq, "prev-cpu-ns/q")
			b.ReportMetric(float64(prevCPU)/float64(newCPU), "speedup")
			b.ReportMetric(float64(s.parts()["directories"])/float64(s.rows()), "dir-B/entry")
			b.ReportMetric(float64(prevBytes)/float64(s.rows()), "prev-dir-B/entry")
			b.ReportMetric(float64(len(qs)), "queries")
		})
	}
}
