package hamming

import (
	"math/bits"
	"runtime"
	"testing"
	"time"
	"unsafe"
)

// BenchmarkCheckStage isolates the probe's last stage, the distance checks
// of the candidates, on the candidate lists of real queries: the plain
// layout's rows and the grouped layout's groups of the same data, each
// checked by several loops in turns of 10 queries (thread CPU time), cold
// (the lines as the probe finds them) and again at once (cached). It exists
// to say why a group check costs more than a row check (issue 20, session
// 12). Data as BenchmarkLayouts:
//
//	VIGIL_PERF_DATA=D.bin VIGIL_PERF_QUERIES=D.q2000.bin go test -run '^$' -bench CheckStage -benchtime 1x ./hamming/
func BenchmarkCheckStage(b *testing.B) {
	for _, set := range perfSets(b) {
		b.Run(set.name, func(b *testing.B) {
			px, err := Build(set.ids, set.hs, Options{Substrings: 11, grouped: -1})
			if err != nil {
				b.Fatal(err)
			}
			gx, err := Build(set.ids, set.hs, Options{Substrings: 11, grouped: 1})
			if err != nil {
				b.Fatal(err)
			}
			ps, gs := px.cur.Load().base, gx.cur.Load().base
			if gs.quads == nil || ps.hashes == nil {
				b.Fatal("layouts not as asked")
			}
			type cand struct {
				q      words
				rows   []uint32
				groups []uint32
			}
			var cs []cand
			sc := new(scratch)
			for _, q := range set.qs {
				w := toWords(&q)
				if _, ok := ps.probe(&w, 31, nil, 0, nil, sc, 1<<30); !ok {
					continue
				}
				n := 0
				for _, l := range sc.lens[:len(sc.vals)] {
					n += int(l)
				}
				rows := append([]uint32(nil), sc.rows[:n]...)
				if _, ok := gs.probe(&w, 31, nil, 0, nil, sc, 1<<30); !ok {
					continue
				}
				cs = append(cs, cand{w, rows, append([]uint32(nil), sc.rows...)})
			}
			hashes, quads := ps.hashes, gs.quads
			var sink int
			gsc := new(scratch)
			surv := make([]uint32, 1<<20)
			checks := []struct {
				name string
				f    func(c *cand) int
			}{
				// The plain probe's: all lines prefetched, then 4 POPCNT a row.
				{"rows", func(c *cand) int {
					for _, r := range c.rows {
						prefetch(unsafe.Pointer(&hashes[r]))
					}
					n := 0
					q := &c.q
					for _, r := range c.rows {
						h := &hashes[r]
						if bits.OnesCount64(h[0]^q[0])+bits.OnesCount64(h[1]^q[1])+bits.OnesCount64(h[2]^q[2])+bits.OnesCount64(h[3]^q[3]) <= 31 {
							n++
						}
					}
					return n
				}},
				// The plain rows, prefetched 48 ahead as checkGroups does.
				{"rows48", func(c *cand) int {
					const ahead = 48
					for _, r := range c.rows[:min(ahead, len(c.rows))] {
						prefetch(unsafe.Pointer(&hashes[r]))
					}
					n := 0
					q := &c.q
					for i, r := range c.rows {
						if i+ahead < len(c.rows) {
							prefetch(unsafe.Pointer(&hashes[c.rows[i+ahead]]))
						}
						h := &hashes[r]
						if bits.OnesCount64(h[0]^q[0])+bits.OnesCount64(h[1]^q[1])+bits.OnesCount64(h[2]^q[2])+bits.OnesCount64(h[3]^q[3]) <= 31 {
							n++
						}
					}
					return n
				}},
				// The grouped probe's check stage as it is.
				{"groups", func(c *cand) int {
					ends := [32]int{}
					for j := range ends {
						ends[j] = len(c.groups)
					}
					return len(gs.checkGroups(&c.q, 31, nil, 0, nil, c.groups, c.groups, &ends, gsc))
				}},
				// The batched filters alone, pure Go and AVX2.
				{"filterGo", func(c *cand) int {
					return frontFilterGo(quads, c.groups, &c.q, 31, surv)
				}},
				{"filterAsm", func(c *cand) int {
					return frontFilterAsm(quads, c.groups, &c.q, 31, surv)
				}},
				// The groups' first lines, all prefetched first, 8 POPCNT.
				{"groupsAll", func(c *cand) int {
					for _, g := range c.groups {
						prefetch(unsafe.Pointer(&quads[g]))
					}
					n := 0
					for _, g := range c.groups {
						if quadFront(&quads[g], &c.q) <= 31 {
							n++
						}
					}
					return n
				}},
				// The groups' lines read as plain rows: row 4g of the plain
				// hashes sits at the same offset as group g's first line.
				{"groupsAsRows", func(c *cand) int {
					for _, g := range c.groups {
						prefetch(unsafe.Pointer(&hashes[g*groupRows]))
					}
					n := 0
					q := &c.q
					for _, g := range c.groups {
						h := &hashes[g*groupRows]
						if bits.OnesCount64(h[0]^q[0])+bits.OnesCount64(h[1]^q[1])+bits.OnesCount64(h[2]^q[2])+bits.OnesCount64(h[3]^q[3]) <= 31 {
							n++
						}
					}
					return n
				}},
				// The rows' groups' first lines: the plain candidates in
				// the grouped array.
				{"rowsAsGroups", func(c *cand) int {
					for _, r := range c.rows {
						prefetch(unsafe.Pointer(&quads[r/groupRows]))
					}
					n := 0
					for _, r := range c.rows {
						if quadFront(&quads[r/groupRows], &c.q) <= 31 {
							n++
						}
					}
					return n
				}},
				// Cross checks, the code of one on the memory of the other:
				// the plain rows' code on the grouped array's memory.
				{"rowsInQuadMem", func(c *cand) int {
					hs := unsafe.Slice((*words)(unsafe.Pointer(&quads[0])), len(quads)*groupRows)
					for _, r := range c.rows {
						prefetch(unsafe.Pointer(&hs[r]))
					}
					n := 0
					q := &c.q
					for _, r := range c.rows {
						h := &hs[r]
						if bits.OnesCount64(h[0]^q[0])+bits.OnesCount64(h[1]^q[1])+bits.OnesCount64(h[2]^q[2])+bits.OnesCount64(h[3]^q[3]) <= 31 {
							n++
						}
					}
					return n
				}},
				// quadFront on the plain array's memory.
				{"groupsInHashMem", func(c *cand) int {
					qs := unsafe.Slice((*quad)(unsafe.Pointer(&hashes[0])), len(hashes)/groupRows)
					for _, g := range c.groups {
						prefetch(unsafe.Pointer(&qs[g]))
					}
					n := 0
					for _, g := range c.groups {
						if quadFront(&qs[g], &c.q) <= 31 {
							n++
						}
					}
					return n
				}},
			}
			cold := make([]time.Duration, len(checks))
			warm := make([]time.Duration, len(checks))
			runtime.LockOSThread()
			for b.Loop() {
				for lo := 0; lo < len(cs); lo += 10 {
					hi := min(lo+10, len(cs))
					for k, ch := range checks {
						// Each check takes other queries in a turn, so that
						// no check finds lines another left in the caches.
						for i := lo; i < hi; i++ {
							c := &cs[(i+k*len(cs)/len(checks))%len(cs)]
							t0 := threadCPU()
							sink += ch.f(c)
							t1 := threadCPU()
							sink += ch.f(c)
							cold[k] += t1 - t0
							warm[k] += threadCPU() - t1
						}
					}
				}
			}
			runtime.UnlockOSThread()
			nq := float64(len(cs) * b.N)
			var nr, ng int
			for _, c := range cs {
				nr += len(c.rows)
				ng += len(c.groups)
			}
			for k, ch := range checks {
				b.ReportMetric(float64(cold[k].Nanoseconds())/nq/1000, ch.name+"-µs/q")
				b.ReportMetric(float64(warm[k].Nanoseconds())/nq/1000, ch.name+"-cached-µs/q")
			}
			b.ReportMetric(float64(nr)/float64(len(cs)), "rows/q")
			b.ReportMetric(float64(ng)/float64(len(cs)), "groups/q")
			b.ReportMetric(float64(sink%2), "sink")
		})
	}
}

// quadFront, the group check of session 11, returns the smallest distance of the group's rows to q on their
// first 128 bits: a lower bound of the rows' distances.
func quadFront(g *quad, q *words) int {
	return min(
		bits.OnesCount64(g.front[0][0]^q[0])+bits.OnesCount64(g.front[0][1]^q[1]),
		bits.OnesCount64(g.front[1][0]^q[0])+bits.OnesCount64(g.front[1][1]^q[1]),
		bits.OnesCount64(g.front[2][0]^q[0])+bits.OnesCount64(g.front[2][1]^q[1]),
		bits.OnesCount64(g.front[3][0]^q[0])+bits.OnesCount64(g.front[3][1]^q[1]))
}
