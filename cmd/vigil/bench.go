package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"iter"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/vigil-oss/vigil"
	vhttp "github.com/vigil-oss/vigil/http"
	"github.com/vigil-oss/vigil/internal/loadgen"
	"github.com/vigil-oss/vigil/matcher"
	"github.com/vigil-oss/vigil/pdq"
	"github.com/vigil-oss/vigil/rules"
	"github.com/vigil-oss/vigil/sqlite"
)

// BenchCommand measures the server: `vigil bench lookup`.
type BenchCommand struct{ *Main }

const benchUsage = `Usage:
	vigil bench lookup [--bank N] [--clients C] [--requests R] [--match-ratio F] [--bodies B] [--rules default|none]
	vigil bench lookup --target URL [--target URL …] [--bank N] [--clients C] [--requests R] [--match-ratio F] [--bodies B]

lookup starts a server on loopback over a temporary store (removed after), fills
one bank with N random PDQ hashes, and has C keep-alive clients send R one-signal
POST /v1/lookup requests, a share F of them within matching distance of an
entry; the clients cycle through B distinct bodies (the matched entries' provenance is
kept in memory while no entry changes, so a B far above 2 × 16,384 shows the cost when
it mostly is not). It prints requests/s, latency percentiles and the process's CPU time per
request; the clients run in the same process, so they share its cores. With
--rules default every match opens a case, as vigil serve's default rules do.

With --target (repeatable) it sends the load to running vigil serve replicas
instead, with the admin key in $VIGIL_BENCH_KEY: it creates a bank of N random
hashes through the first target's import route (bench-sSEED-nN: a later run
with the same --seed and --bank reuses it, so that runs on one store compare
like with like), waits until every target matches them and spreads the
clients over the targets, each client keeping to one. The bank stays: run it
against a store kept for benchmarks. The CPU time printed is then the load
tool's alone.`

// Run dispatches to the bench subcommands.
func (c *BenchCommand) Run(ctx context.Context, args []string) error {
	sub, args, err := c.group(args, benchUsage, "lookup")
	if err != nil {
		return err
	}
	fs := c.newFlagSet("vigil bench "+sub, synopsis(benchUsage, "vigil bench "+sub))
	bankN := fs.Int("bank", 100_000, "entries in the bank")
	clients := fs.Int("clients", 8, "concurrent keep-alive clients")
	requests := fs.Int("requests", 20_000, "requests to send in all")
	duration := fs.Duration("duration", 2*time.Minute, "stop after this long even if requests are left")
	ratio := fs.Float64("match-ratio", 0.5, "share of queries within matching distance of an entry")
	nBodies := fs.Int("bodies", 4096, "distinct request bodies the clients cycle through")
	ruleSet := fs.String("rules", "none", "rules the server runs: none, or default (every match opens a case)")
	warmup := fs.Int("warmup", 1000, "requests sent first and not measured")
	seed := fs.Int64("seed", 1, "seed of the random hashes")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the measured run to this file")
	memProfile := fs.String("memprofile", "", "write an allocation profile to this file, and its state before the measured run to FILE.base")
	var targets stringsFlag
	fs.Var(&targets, "target", "base URL of a running vigil serve to load instead of an in-process server (repeatable: replicas of one store); the admin key comes from $VIGIL_BENCH_KEY")
	fs.limit("bank", between(1, 100_000_000))
	fs.limit("clients", between(1, 10_000))
	fs.limit("requests", between(1, 100_000_000))
	fs.limit("duration", positive())
	fs.limit("match-ratio", between(0, 1))
	fs.limit("bodies", between(1, 10_000_000))
	fs.limit("warmup", atLeast(0))
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := fs.nargs(0, 0, "no arguments"); err != nil {
		return err
	}
	if *ruleSet != "none" && *ruleSet != "default" {
		return fs.usageErrorf("--rules must be none or default, got %q", *ruleSet)
	}
	rng := rand.New(rand.NewPCG(uint64(*seed), uint64(*seed)))
	cfg := loadgen.Config{
		Header:  http.Header{"Content-Type": {"application/json"}},
		Clients: *clients,
		Check:   func(body []byte) bool { return bytes.Contains(body, []byte(`"entry_id"`)) },
	}
	var stored []pdq.Hash
	start := time.Now()
	if len(targets) > 0 {
		key := os.Getenv("VIGIL_BENCH_KEY")
		if key == "" {
			return fs.usageErrorf("--target needs an admin key in $VIGIL_BENCH_KEY")
		}
		if *ruleSet != "none" {
			return fs.usageErrorf("--rules applies to the in-process server only; the targets run their own")
		}
		r := &remoteBench{targets: targets, key: key, http: &http.Client{Timeout: 10 * time.Minute}, bank: fmt.Sprintf("bench-s%d-n%d", *seed, *bankN)}
		var err error
		if stored, err = r.fill(ctx, *bankN, rng); err != nil {
			return err
		}
		for _, t := range targets {
			cfg.URLs = append(cfg.URLs, strings.TrimSuffix(t, "/")+"/v1/lookup")
		}
		cfg.Header.Set("Authorization", "Bearer "+key)
		fmt.Fprintf(c.Stdout, "bank: %d entries, imported and matched by %d targets in %v\n", *bankN, len(targets), time.Since(start).Round(time.Millisecond))
	} else {
		dir, err := os.MkdirTemp("", "vigil-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		b, err := c.openServer(ctx, dir, *ruleSet == "default")
		if err != nil {
			return err
		}
		defer b.close()
		if stored, err = b.fill(ctx, *bankN, rng); err != nil {
			return err
		}
		cfg.URL = b.srv.URL() + "/v1/lookup"
		cfg.Header.Set("Authorization", "Bearer "+b.secret)
		fmt.Fprintf(c.Stdout, "bank: %d entries, loaded and indexed in %v\n", *bankN, time.Since(start).Round(time.Millisecond))
	}
	cfg.Bodies = lookupBodies(rng, stored, *nBodies, *ratio)
	if *warmup > 0 {
		w := cfg
		w.Requests, w.Duration = *warmup, *duration
		if _, err := loadgen.Run(ctx, w); err != nil {
			return err
		}
	}
	cfg.Requests, cfg.Duration = *requests, *duration
	stopProfile, err := startProfiles(*cpuProfile, *memProfile)
	if err != nil {
		return err
	}
	res, err := loadgen.Run(ctx, cfg)
	if perr := stopProfile(); err == nil {
		err = perr
	}
	if err != nil {
		return err
	}
	if len(targets) > 0 {
		fmt.Fprintf(c.Stdout, "lookup: %d clients over %d targets, match ratio %.2f\n", *clients, len(targets), *ratio)
	} else {
		fmt.Fprintf(c.Stdout, "lookup: %d clients, rules %s, match ratio %.2f\n", *clients, *ruleSet, *ratio)
	}
	fmt.Fprintf(c.Stdout, "requests  %d (%d matched, %d failed) in %v\n", res.Requests, res.Matched, res.Failed, res.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(c.Stdout, "req/s     %.0f\n", res.PerSecond())
	fmt.Fprintf(c.Stdout, "latency   p50 %v  p90 %v  p99 %v  max %v\n", res.P50.Round(time.Microsecond), res.P90.Round(time.Microsecond),
		res.P99.Round(time.Microsecond), res.Max.Round(time.Microsecond))
	if len(targets) > 0 {
		fmt.Fprintf(c.Stdout, "cpu       %v per request (the load tool's own)\n", res.CPUPerRequest().Round(100*time.Nanosecond))
	} else {
		fmt.Fprintf(c.Stdout, "cpu       %v per request (server and clients)\n", res.CPUPerRequest().Round(100*time.Nanosecond))
	}
	if res.Failed > 0 {
		return fmt.Errorf("%d of %d requests failed; first: %v", res.Failed, res.Requests, res.FirstError)
	}
	return nil
}

// benchServer is a server on loopback over a temporary SQLite store.
type benchServer struct {
	db      *sqlite.DB
	banks   *sqlite.BankService
	entries *sqlite.EntryService
	m       *matcher.Matcher
	srv     *vhttp.Server
	secret  string // a matcher key
}

func (c *BenchCommand) openServer(ctx context.Context, dir string, caseRules bool) (*benchServer, error) {
	db, err := sqlite.Open(ctx, dir, nil)
	if err != nil {
		return nil, err
	}
	b := &benchServer{db: db, banks: sqlite.NewBankService(db), entries: sqlite.NewEntryService(db)}
	b.m = matcher.New(b.banks, b.entries, nil)
	b.srv = vhttp.NewServer()
	b.srv.Addr, b.srv.Banks, b.srv.Entries, b.srv.Keys, b.srv.Matcher = "127.0.0.1:0", b.banks, b.entries, sqlite.NewKeyService(db), b.m
	// Access lines are formatted as vigil serve's are, and dropped: their
	// cost counts, the terminal's does not.
	b.srv.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if caseRules {
		cases, rs := sqlite.NewCaseService(db), sqlite.NewRuleService(db)
		// vigil serve's default quarantine policy, whose spike check runs
		// in every case opened: the defaults of its flags.
		cases.Policy = addReviewFlags(c.newFlagSet("vigil serve", "")).policy
		if err := cases.CreateQueue(ctx, &vigil.Queue{Name: rules.DefaultQueue, Roles: []vigil.Role{vigil.RoleReviewer}}); err != nil {
			db.Close()
			return nil, err
		}
		if err := rs.ReplaceFileRules(ctx, rules.Default()); err != nil {
			db.Close()
			return nil, err
		}
		b.srv.Cases, b.srv.Rules = cases, rs
	}
	if b.secret, err = b.srv.Keys.CreateKey(ctx, &vigil.Key{Name: "bench", Role: vigil.RoleMatcher, CreatedBy: "bench"}); err != nil {
		db.Close()
		return nil, err
	}
	if err := b.srv.Open(); err != nil {
		db.Close()
		return nil, err
	}
	return b, nil
}

func (b *benchServer) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b.srv.Close(ctx)
	b.db.Close()
}

// fill stores n random PDQ hashes in one bank and loads them into the
// index, compacted as a server's background compactor would leave it.
func (b *benchServer) fill(ctx context.Context, n int, rng *rand.Rand) ([]pdq.Hash, error) {
	bank := &vigil.Bank{Name: "bench", Enabled: true}
	if err := b.banks.CreateBank(ctx, bank); err != nil {
		return nil, err
	}
	stored := make([]pdq.Hash, n)
	for i := range stored {
		randomHash(rng, &stored[i])
	}
	seq := iter.Seq2[*vigil.Entry, error](func(yield func(*vigil.Entry, error) bool) {
		for _, h := range stored {
			if !yield(&vigil.Entry{SignalType: vigil.SignalPDQ, Value: h.String(), Source: "bench"}, nil) {
				return
			}
		}
	})
	if _, err := b.entries.ImportEntries(ctx, bank.ID, "bench", seq); err != nil {
		return nil, err
	}
	if err := b.m.Load(ctx); err != nil {
		return nil, err
	}
	b.m.Compact()
	return stored, nil
}

// remoteBench is a bench bank on running replicas, reached over their API.
type remoteBench struct {
	targets []string
	key     string
	http    *http.Client
	bank    string
}

// call sends one request to target and returns the status and body.
func (r *remoteBench) call(ctx context.Context, target, method, path, contentType string, body io.Reader) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(target, "/")+path, body)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Authorization", "Bearer "+r.key)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := r.http.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, b, err
}

// fill creates the bank of n random hashes through the first target,
// unless a run with the same seed made it already, and waits until every
// target matches its last one (changes apply in order, so then all).
func (r *remoteBench) fill(ctx context.Context, n int, rng *rand.Rand) ([]pdq.Hash, error) {
	stored := make([]pdq.Hash, n)
	var list bytes.Buffer
	for i := range stored {
		randomHash(rng, &stored[i])
		list.WriteString(stored[i].String())
		list.WriteByte('\n')
	}
	body, _ := json.Marshal(map[string]any{"name": r.bank, "enabled": true})
	code, b, err := r.call(ctx, r.targets[0], "POST", "/v1/banks", "application/json", bytes.NewReader(body))
	switch {
	case err != nil:
		return nil, fmt.Errorf("create bench bank on %s: %w", r.targets[0], err)
	case code == http.StatusConflict: // made by an earlier run: the same hashes
	case code != http.StatusCreated:
		return nil, fmt.Errorf("create bench bank on %s: %d %.200s", r.targets[0], code, b)
	default:
		if code, b, err := r.call(ctx, r.targets[0], "POST", "/v1/banks/"+r.bank+"/import?signal_type=pdq&format=text&source=bench", "text/plain", &list); err != nil || code != http.StatusOK && code != http.StatusCreated {
			return nil, fmt.Errorf("import bench bank on %s: %d %.200s %v", r.targets[0], code, b, err)
		}
	}
	probe, _ := json.Marshal(map[string]any{"signals": []map[string]string{{"type": "pdq", "value": stored[n-1].String()}}})
	for _, t := range r.targets {
		for {
			code, b, err := r.call(ctx, t, "POST", "/v1/lookup", "application/json", bytes.NewReader(probe))
			if err != nil {
				return nil, err
			}
			if code == http.StatusOK && bytes.Contains(b, []byte(`"`+r.bank+`"`)) {
				break
			}
			if code != http.StatusOK && code != http.StatusServiceUnavailable {
				return nil, fmt.Errorf("lookup on %s: %d %.200s", t, code, b)
			}
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	return stored, nil
}

func randomHash(rng *rand.Rand, h *pdq.Hash) {
	for j := range h {
		h[j] = byte(rng.Uint32())
	}
}

// lookupBodies returns n one-signal lookup bodies, a share ratio of them
// a stored hash with 8 bits flipped (well within the default threshold),
// the rest random hashes, which match nothing in a random bank.
func lookupBodies(rng *rand.Rand, stored []pdq.Hash, n int, ratio float64) [][]byte {
	bodies := make([][]byte, n)
	for i := range bodies {
		var q pdq.Hash
		if rng.Float64() < ratio {
			q = stored[rng.IntN(len(stored))]
			for _, bit := range rng.Perm(256)[:8] {
				q[bit/8] ^= 1 << (bit % 8)
			}
		} else {
			randomHash(rng, &q)
		}
		bodies[i], _ = json.Marshal(map[string]any{"signals": []map[string]string{{"type": "pdq", "value": q.String()}}})
	}
	return bodies
}

// startProfiles starts the CPU profile and returns what stops it and
// writes the allocation profile; "" skips either. The allocation profile
// counts from the process's start, so its state now goes to memFile.base:
// go tool pprof -base memFile.base memFile shows the measured run alone.
func startProfiles(cpuFile, memFile string) (stop func() error, err error) {
	if memFile != "" {
		if err := writeAllocs(memFile + ".base"); err != nil {
			return nil, err
		}
	}
	var cpu *os.File
	if cpuFile != "" {
		if cpu, err = os.Create(cpuFile); err != nil {
			return nil, err
		}
		if err := pprof.StartCPUProfile(cpu); err != nil {
			cpu.Close()
			return nil, err
		}
	}
	return func() error {
		if cpu != nil {
			pprof.StopCPUProfile()
			if err := cpu.Close(); err != nil {
				return err
			}
		}
		if memFile == "" {
			return nil
		}
		return writeAllocs(memFile)
	}, nil
}

func writeAllocs(name string) error {
	f, err := os.Create(name)
	if err != nil {
		return err
	}
	if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
