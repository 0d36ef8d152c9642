package feed_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"iter"
	"log/slog"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/feed"
	"github.com/vigil-oss/vigil/matcher"
)

var feedEntries = flag.Int("feed-entries", 100000, "entries in the feed of BenchmarkSyncFeed")

func md5Changes(n, from int) []vigil.FeedChange {
	cs := make([]vigil.FeedChange, n)
	for i := range cs {
		cs[i] = vigil.FeedChange{Op: vigil.FeedAdd, Bank: "list", ID: int64(from + i), SignalType: vigil.SignalMD5,
			Value: fmt.Sprintf("%032x", from+i), Category: "test"}
	}
	return cs
}

// BenchmarkApplyBatch applies a batch of DefaultBatchChanges additions to
// a subscriber's bank; the baseline adds the same entries with AddEntries,
// the store's own batch insert.
func BenchmarkApplyBatch(b *testing.B) {
	ctx := context.Background()
	n := vigil.DefaultBatchChanges
	b.Run("baseline=AddEntries", func(b *testing.B) {
		in := newInstance(b)
		bank := in.bank(b, "mirror")
		for i := 0; b.Loop(); i++ {
			es := make([]*vigil.Entry, n)
			for j, c := range md5Changes(n, i*n) {
				es[j] = &vigil.Entry{SignalType: c.SignalType, Value: c.Value, Source: "feed:list", SourceEntryID: fmt.Sprint(c.ID), Category: c.Category}
			}
			if _, err := in.entries.AddEntries(ctx, bank.ID, "feed:list", es); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "entries/s")
	})
	b.Run("ApplyBatch", func(b *testing.B) {
		s := newSubscriber(b, "http://unused", "k", "")
		for i := 0; b.Loop(); i++ {
			if _, err := s.feeds.ApplyBatch(ctx, s.sub.ID, int64(i+1), "h", md5Changes(n, i*n)); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "entries/s")
	})
}

// BenchmarkVerifyBatch opens a signed batch of DefaultBatchChanges
// additions (signature, form, JSON); the baselines are the Ed25519
// verification and the JSON decoding alone.
func BenchmarkVerifyBatch(b *testing.B) {
	skey, vkey, _ := note.GenerateKey(rand.Reader, "bench")
	s, _ := note.NewSigner(skey)
	v, _ := note.NewVerifier(vkey)
	batch := &feed.Batch{Feed: "list", Number: 1, Prev: fmt.Sprintf("%064x", 0), Changes: md5Changes(vigil.DefaultBatchChanges, 0)}
	text, signed, err := feed.SignBatch(batch, s)
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("batch of %d changes: %d bytes signed, %.1f bytes per change", len(batch.Changes), len(signed), float64(len(signed))/float64(len(batch.Changes)))
	b.Run("baseline=ed25519", func(b *testing.B) {
		pub, priv, _ := ed25519.GenerateKey(rand.Reader)
		sig := ed25519.Sign(priv, text)
		b.SetBytes(int64(len(text)))
		for b.Loop() {
			if !ed25519.Verify(pub, text, sig) {
				b.Fatal("bad signature")
			}
		}
	})
	b.Run("baseline=json", func(b *testing.B) {
		j, _ := json.Marshal(batch)
		b.SetBytes(int64(len(j)))
		for b.Loop() {
			var out feed.Batch
			if err := json.Unmarshal(j, &out); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("OpenBatch", func(b *testing.B) {
		b.SetBytes(int64(len(signed)))
		for b.Loop() {
			if _, _, err := feed.OpenBatch(signed, v); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkSyncFeed builds a publisher of -feed-entries entries, cuts its
// feed and syncs a subscriber from scratch over loopback HTTP: entries/s
// is the subscriber's whole sync (fetch, verify, apply), and wire bytes per
// entry the batches' size. The baseline imports the same entries into a
// bank with ImportEntries, the fastest local path.
func BenchmarkSyncFeed(b *testing.B) {
	ctx := context.Background()
	n := *feedEntries
	entries := func() iter.Seq2[*vigil.Entry, error] {
		return func(yield func(*vigil.Entry, error) bool) {
			for i := range n {
				if !yield(&vigil.Entry{SignalType: vigil.SignalMD5, Value: fmt.Sprintf("%032x", i), Category: "test"}, nil) {
					return
				}
			}
		}
	}
	b.Run("baseline=ImportEntries", func(b *testing.B) {
		for b.Loop() {
			in := newInstance(b)
			bank := in.bank(b, "mirror")
			if _, err := in.entries.ImportEntries(ctx, bank.ID, "bench", entries()); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "entries/s")
	})
	skey, vkey := newKey(b)
	p := newPublisher(b, skey, vkey)
	p.pub.BatchChanges = vigil.DefaultBatchChanges
	if _, err := p.entries.ImportEntries(ctx, p.bank.ID, "bench", entries()); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	batches := p.cut(b)
	b.Logf("publisher cut %d entries into %d batches in %v", n, batches, time.Since(start))
	f, _ := p.feeds.FindFeedByName(ctx, "list")
	var wire int
	for i := int64(1); i <= f.Size; i++ {
		msg, _ := p.feeds.FeedBatch(ctx, f.ID, i)
		wire += len(msg)
	}
	b.Run("Sync", func(b *testing.B) {
		for b.Loop() {
			s := newSubscriber(b, p.srv.URL(), vkey, p.curator)
			if _, err := s.sync(b); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N*n)/b.Elapsed().Seconds(), "entries/s")
		b.ReportMetric(float64(wire)/float64(n), "wire-bytes/entry")
	})
}

// BenchmarkChangeToMatch is the work from a change at the publisher to a
// match at a subscriber, without the waits of polling: add an entry, cut,
// sync, refresh the subscriber's index, match. With cut and sync polled
// every P, a change is matched within 2P plus this. The baseline is the
// same change made locally: add, refresh, match.
func BenchmarkChangeToMatch(b *testing.B) {
	ctx := context.Background()
	match := func(b *testing.B, m *matcher.Matcher, v string) {
		if err := m.Refresh(ctx); err != nil {
			b.Fatal(err)
		}
		res, err := m.Lookup(ctx, []vigil.Signal{{Type: vigil.SignalMD5, Value: v}}, vigil.MatchOptions{})
		if err != nil || len(res[0].Matches) != 1 {
			b.Fatalf("no match for %s: %+v %v", v, res, err)
		}
	}
	b.Run("baseline=local", func(b *testing.B) {
		in := newInstance(b)
		bank := in.bank(b, "local")
		m := matcher.New(in.banks, in.entries, slog.New(slog.DiscardHandler))
		if err := m.Load(ctx); err != nil {
			b.Fatal(err)
		}
		for i := 0; b.Loop(); i++ {
			v := fmt.Sprintf("%032x", i)
			if _, err := in.entries.AddEntries(ctx, bank.ID, "bench", []*vigil.Entry{{SignalType: vigil.SignalMD5, Value: v}}); err != nil {
				b.Fatal(err)
			}
			match(b, m, v)
		}
	})
	b.Run("feed", func(b *testing.B) {
		skey, vkey := newKey(b)
		p := newPublisher(b, skey, vkey)
		p.add(b, 1<<20, 1, "")
		p.cut(b)
		s := newSubscriber(b, p.srv.URL(), vkey, p.curator)
		s.mustSync(b)
		m := matcher.New(s.banks, s.entries, slog.New(slog.DiscardHandler))
		if err := m.Load(ctx); err != nil {
			b.Fatal(err)
		}
		for i := 0; b.Loop(); i++ {
			p.add(b, i, 1, "")
			p.cut(b)
			s.mustSync(b)
			match(b, m, fmt.Sprintf("%032x", i))
		}
	})
}
