package matcher_test

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/internal/cputime"
)

// BenchmarkLookupCanonical measures what canonicalising the signals costs
// a lookup: Lookup of one PDQ and one SHA-256 signal against a bank of
// 10,000 PDQ hashes, beside vigil.CanonicalSignals alone on the same
// signals (the share of it that canonicalising takes).
//
//	go test -run '^$' -bench BenchmarkLookupCanonical ./matcher/
func BenchmarkLookupCanonical(b *testing.B) {
	ctx := context.Background()
	f := newFixture(b)
	bank := f.bank(b, &vigil.Bank{Name: "bench"})
	r := rand.New(rand.NewPCG(5, 5))
	entries := make([]*vigil.Entry, 10000)
	for i := range entries {
		entries[i] = &vigil.Entry{SignalType: vigil.SignalPDQ, Value: randomHash(r).String()}
	}
	f.add(b, bank, entries...)
	if err := f.m.Load(ctx); err != nil {
		b.Fatal(err)
	}
	sigs := []vigil.Signal{
		{Type: vigil.SignalPDQ, Value: randomHash(r).String()},
		{Type: vigil.SignalSHA256, Value: randomHash(r).String()},
	}
	b.Run("canonicalise-only", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]vigil.Signal, len(sigs))
		cputime.PerOp(b, func() {
			copy(buf, sigs)
			if err := vigil.CanonicalSignals(buf); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("lookup", func(b *testing.B) {
		b.ReportAllocs()
		cputime.PerOp(b, func() {
			if _, err := f.m.Lookup(ctx, sigs, vigil.MatchOptions{}); err != nil {
				b.Fatal(err)
			}
		})
	})
}
