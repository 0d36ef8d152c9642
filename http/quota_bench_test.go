package http_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"iter"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/internal/cputime"
)

// BenchmarkLookupQuota measures POST /v1/lookup (one PDQ signal, a near
// match in a bank of 10,000 random entries) through Server.ServeHTTP,
// with the lookup quotas against without them, in one run: a matcher key
// without limits (counted only) and a lookup key with a rate, a burst
// and a daily quota it never reaches (every check made, answers cut to
// the bank's reveal level). Clients run in parallel (GOMAXPROCS), so the
// per-key lock is contended as under load.
func BenchmarkLookupQuota(b *testing.B) {
	ctx := context.Background()
	bank := &vigil.Bank{Name: "bench", Enabled: true, Reveal: vigil.RevealSource}
	rng := rand.New(rand.NewPCG(1, 2))
	hashes := make([][32]byte, 10000)
	for i := range hashes {
		for j := range hashes[i] {
			hashes[i][j] = byte(rng.Uint32())
		}
	}
	queries := make([][]byte, 256)
	for i := range queries {
		h := hashes[rng.IntN(len(hashes))]
		for range 8 {
			bit := rng.IntN(256)
			h[bit/8] ^= 1 << (bit % 8)
		}
		queries[i] = []byte(`{"signals":[{"type":"pdq","value":"` + hex.EncodeToString(h[:]) + `"}]}`)
	}
	for _, tc := range []struct {
		name   string
		role   vigil.Role
		quotas bool
	}{
		{"matcher/no-quotas", vigil.RoleMatcher, false},
		{"matcher/counted", vigil.RoleMatcher, true},
		{"lookup/no-quotas", vigil.RoleLookup, false},
		{"lookup/limited", vigil.RoleLookup, true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			ts := mustOpenServer(b)
			if !tc.quotas {
				ts.NoQuotas()
			}
			bk := &vigil.Bank{Name: bank.Name, Enabled: true, Reveal: bank.Reveal}
			if err := ts.Banks.CreateBank(ctx, bk); err != nil {
				b.Fatal(err)
			}
			seq := iter.Seq2[*vigil.Entry, error](func(yield func(*vigil.Entry, error) bool) {
				for i := range hashes {
					if !yield(&vigil.Entry{SignalType: vigil.SignalPDQ, Value: hex.EncodeToString(hashes[i][:])}, nil) {
						return
					}
				}
			})
			if _, err := ts.Entries.ImportEntries(ctx, bk.ID, "bench", seq); err != nil {
				b.Fatal(err)
			}
			if err := ts.Matcher.Refresh(ctx); err != nil {
				b.Fatal(err)
			}
			secret := ts.keys[tc.role]
			if tc.role == vigil.RoleLookup {
				var err error
				secret, err = ts.Keys.CreateKey(ctx, &vigil.Key{Name: "bench-lookup", Role: vigil.RoleLookup,
					Limits: &vigil.KeyLimits{Rate: 1e6, Burst: 1 << 20, Daily: 1 << 50}})
				if err != nil {
					b.Fatal(err)
				}
			}
			auth := "Bearer " + secret
			b.ReportAllocs()
			runtime.GC()
			cpu := cputime.Process()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					r := httptest.NewRequest("POST", "/v1/lookup", bytes.NewReader(queries[i%len(queries)]))
					r.Header.Set("Authorization", auth)
					w := httptest.NewRecorder()
					ts.Server.ServeHTTP(w, r)
					if w.Code != http.StatusOK || !bytes.Contains(w.Body.Bytes(), []byte(`"distance"`)) {
						panic(fmt.Sprintf("status %d: %s", w.Code, w.Body.String()))
					}
					i++
				}
			})
			if cpu > 0 {
				b.ReportMetric(float64(cputime.Process()-cpu)/float64(b.N), "cpu-ns/op")
			}
		})
	}
}
