package hamming

import (
	"bufio"
	"cmp"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestHarness runs the index on a data set written by ../shared/perf's
// gen-hashes.py and prints one JSON line per mode in the fields of
// faiss-bench.py, so that `faiss-bench.py --summarize` puts Vigil beside
// FAISS in one table with the same result-set checksum. It runs only when
// VIGIL_PERF_DATA names the data file:
//
//	VIGIL_PERF_DATA=/tmp/d/uniform-n1000000-s1.bin \
//	VIGIL_PERF_QUERIES=/tmp/d/uniform-n1000000-s1.q2000.bin \
//	VIGIL_PERF_OUT=/tmp/d/vigil.jsonl VIGIL_PERF_NAME=vigil \
//	  go test -run TestHarness -count 1 -v ./hamming/
//
// VIGIL_PERF_REPEATS (default 5) sets the timed runs, VIGIL_PERF_NAME the
// "index" column, VIGIL_BENCH_SUBSTRINGS the layout, VIGIL_PERF_GROUPED=1
// Options.Grouped, VIGIL_PERF_PLAIN=1 Options.Plain (the plain layout at
// 10M, where the default is grouped on CPUs with its assembly),
// VIGIL_PERF_BLOCKED=4 with the grouped layout blocks of 16 high parts
// instead of 32, -1 session 10's efSeq coding. Each invocation measures one index, in its own process,
// as faiss-bench.py does, so that the RSS delta sees nothing else;
// alternate invocations with FAISS's.
func TestHarness(t *testing.T) {
	dataPath := os.Getenv("VIGIL_PERF_DATA")
	if dataPath == "" {
		t.Skip("VIGIL_PERF_DATA not set")
	}
	qPath := os.Getenv("VIGIL_PERF_QUERIES")
	repeats, _ := strconv.Atoi(os.Getenv("VIGIL_PERF_REPEATS"))
	if repeats <= 0 {
		repeats = 5
	}
	name := cmp.Or(os.Getenv("VIGIL_PERF_NAME"), "vigil")
	subs, _ := strconv.Atoi(os.Getenv("VIGIL_BENCH_SUBSTRINGS"))
	const radius = 31

	hs := readRaw(t, dataPath)
	qs := readRaw(t, qPath)
	ids := make([]uint64, len(hs))
	for i := range ids {
		ids[i] = uint64(i)
	}
	runtime.GC()
	debug.FreeOSMemory()
	heap0 := liveHeap()
	rss0 := rssBytes(t)
	start := time.Now()
	blocked, _ := strconv.Atoi(os.Getenv("VIGIL_PERF_BLOCKED"))
	x, err := Build(ids, hs, Options{Substrings: subs, Grouped: os.Getenv("VIGIL_PERF_GROUPED") == "1",
		Plain: os.Getenv("VIGIL_PERF_PLAIN") == "1", blocked: blocked})
	if err != nil {
		t.Fatal(err)
	}
	buildS := time.Since(start).Seconds()
	// Build's sort buffers are garbage now; return them to the OS as
	// FAISS's malloc returns its temporaries, so the delta is what the
	// index holds.
	runtime.GC()
	debug.FreeOSMemory()
	rssDelta := rssBytes(t) - rss0
	heapDelta := int64(liveHeap()) - int64(heap0)
	t.Logf("rss before build %d MB, delta %d MB, Stats %d MB", rss0>>20, rssDelta>>20, x.Stats().Bytes>>20)
	if seg := x.cur.Load().base; seg.bk != nil {
		// How often the blocked coding leaves its fast path: blocks
		// whose unary passes 63 bits (appendIn may then walk it word by
		// word), and the top samples' spacing.
		var long, blocks uint64
		tops := map[uint]int{}
		for j := range seg.bk {
			e := &seg.bk[j]
			nb := uint64(len(e.sub) - 1)
			for k := range nb {
				if _, nk := e.blockAt(k); nk+1<<e.shift > 63 {
					long++
				}
			}
			blocks += nb
			tops[e.topShift]++
		}
		t.Logf("blocked: %d of %d blocks (%.4f %%) with a unary over 63 bits; topShift counts %v", long, blocks, 100*float64(long)/float64(blocks), tops)
	}

	// Results first (also the warm-up), then checksum as faiss-bench.py does.
	type pair struct{ q, e uint64 }
	var pairs []pair
	var dst []Result
	for qi, q := range qs {
		dst = x.Search(q, radius, dst[:0])
		for _, r := range dst {
			pairs = append(pairs, pair{uint64(qi), r.ID})
		}
	}
	slices.SortFunc(pairs, func(a, b pair) int {
		return cmp.Or(cmp.Compare(a.q, b.q), cmp.Compare(a.e, b.e))
	})
	sum := sha256.New()
	var line []byte
	for _, p := range pairs {
		line = strconv.AppendUint(line[:0], p.q, 10)
		line = append(line, ',')
		line = strconv.AppendUint(line, p.e, 10)
		line = append(line, '\n')
		sum.Write(line)
	}
	checksum := fmt.Sprintf("%x", sum.Sum(nil))

	base := map[string]any{
		"tool":            "vigil-hamming",
		"dataset":         filepath.Base(dataPath),
		"queries":         filepath.Base(qPath),
		"n":               len(hs),
		"radius":          radius,
		"index":           name,
		"threads":         1,
		"nq":              len(qs),
		"repeats":         repeats,
		"build_s":         round3(buildS),
		"rss_delta_mb":    round1(float64(rssDelta) / (1 << 20)),
		"bytes_per_entry": round1(float64(rssDelta) / float64(len(hs))),
		"stats_bytes":     x.Stats().Bytes,
		"heap_delta_mb":   round1(float64(heapDelta) / (1 << 20)),
		"heap_per_entry":  round1(float64(heapDelta) / float64(len(hs))),
		"bytes_by_part":   x.cur.Load().base.parts(),
		"substrings":      x.Stats().Substrings,
		"guard_cand_rows": x.cur.Load().base.candCost,
		"pairs":           len(pairs),
		"checksum":        checksum,
		"go":              runtime.Version(),
	}

	// batch: all queries back to back; single: each query timed alone.
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	// Thread CPU time beside wall time: on a loaded machine the wall clock
	// counts time spent descheduled, and faiss-bench.py reports the ratio
	// as cpu_per_wall, so the two can be compared in CPU time too.
	var batchRuns, batchCPU, singleRuns, p99s []float64
	lat := make([]time.Duration, len(qs))
	for range repeats {
		t0, c0 := time.Now(), threadCPU()
		for _, q := range qs {
			dst = x.Search(q, radius, dst[:0])
		}
		batchCPU = append(batchCPU, float64((threadCPU()-c0).Nanoseconds())/float64(len(qs)))
		batchRuns = append(batchRuns, float64(time.Since(t0).Nanoseconds())/float64(len(qs)))

		var total time.Duration
		for i, q := range qs {
			t1 := time.Now()
			dst = x.Search(q, radius, dst[:0])
			lat[i] = time.Since(t1)
			total += lat[i]
		}
		singleRuns = append(singleRuns, float64(total.Nanoseconds())/float64(len(qs)))
		slices.Sort(lat)
		p99s = append(p99s, float64(lat[len(lat)*99/100].Nanoseconds()))
	}
	var out *os.File
	if p := os.Getenv("VIGIL_PERF_OUT"); p != "" {
		if out, err = os.OpenFile(p, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err != nil {
			t.Fatal(err)
		}
		defer out.Close()
	}
	load, _ := os.ReadFile("/proc/loadavg")
	for _, m := range []struct {
		mode string
		runs []float64
	}{{"batch", batchRuns}, {"single", singleRuns}} {
		l := make(map[string]any, len(base)+6)
		for k, v := range base {
			l[k] = v
		}
		l["mode"] = m.mode
		l["ns_per_query_runs"] = m.runs
		l["ns_per_query_median"] = median(m.runs)
		if m.mode == "single" {
			l["latency_ns_p99_median"] = median(p99s)
		} else {
			l["cpu_ns_per_query_median"] = median(batchCPU)
			l["cpu_per_wall_median"] = round3(median(batchCPU) / median(batchRuns))
		}
		l["loadavg_after"] = strings.Fields(string(load))[:3]
		b, err := json.Marshal(l)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Println(string(b))
		if out != nil {
			out.Write(append(b, '\n'))
		}
	}
	// The input stays alive, as in faiss-bench.py, or the collector would
	// free it during the measurement and hide the index's own memory.
	runtime.KeepAlive(x)
	runtime.KeepAlive(hs)
	runtime.KeepAlive(ids)
}

func readRaw(tb testing.TB, path string) [][32]byte {
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		tb.Fatal(err)
	}
	if st.Size()%32 != 0 || st.Size() > 64<<30 {
		tb.Fatalf("%s: size %d is not a whole number of 32-byte rows", path, st.Size())
	}
	hs := make([][32]byte, st.Size()/32)
	r := bufio.NewReaderSize(f, 1<<20)
	for i := range hs {
		if _, err := io.ReadFull(r, hs[i][:]); err != nil {
			tb.Fatal(err)
		}
	}
	return hs
}

func rssBytes(tb testing.TB) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		tb.Skip("no /proc/self/status")
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10
		}
	}
	tb.Fatal("no VmRSS")
	return 0
}

func median(v []float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func round1(v float64) float64 { return float64(int64(v*10+0.5)) / 10 }
func round3(v float64) float64 { return float64(int64(v*1000+0.5)) / 1000 }
