package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"image"
	"image/png"
	"log/slog"
	"testing"

	vigil "github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/hashing"
	"github.com/vigil-oss/vigil/matcher"
	"github.com/vigil-oss/vigil/pdq"
	"github.com/vigil-oss/vigil/phm"
	"github.com/vigil-oss/vigil/phm/client"
	"github.com/vigil-oss/vigil/phm/phmtest"
	"github.com/vigil-oss/vigil/respond"
	"github.com/vigil-oss/vigil/sqlite"
)

// The service's collaborators in production.
var (
	_ vigil.MatchService = (*matcher.Matcher)(nil)
	_ Responder          = (*respond.Service)(nil)
)

// picture is phmtest.Picture.
func picture(seed, side int) *image.RGBA { return phmtest.Picture(seed, side) }

func pngBytes(tb testing.TB, img image.Image) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func prepare(tb testing.TB, data []byte) *client.Content {
	tb.Helper()
	c, err := client.Prepare(data, hashing.Limits{})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func sha256Key(tb testing.TB, data []byte) phm.Key {
	tb.Helper()
	keys, err := client.Keys(data)
	if err != nil {
		tb.Fatal(err)
	}
	return keys[0] // SHA-256 comes first
}

func pdqOf(tb testing.TB, img image.Image) pdq.Hash {
	tb.Helper()
	h, q := pdq.NewHasher(pdq.Full).Hash(img)
	if q < pdq.MinQuality {
		tb.Fatalf("test picture has quality %d", q)
	}
	return h
}

func pdqKey(h pdq.Hash) phm.Key {
	k, _ := phm.NewKey(phm.FamilyPDQ, h[:])
	return k
}

// fixture is a table, a review key, an opener and an account.
type fixture struct {
	tbl    *phmtest.Table
	opener *Opener
	acct   *client.Account
	p      phm.Params
}

func newFixture(tb testing.TB, p phm.Params, rate float64, keys ...phm.Key) (*fixture, *Service) {
	tb.Helper()
	tbl := phmtest.NewTable(tb, keys...)
	review := phmtest.ReviewKey(tb)
	o, err := NewOpener(tbl.Alpha, p)
	if err != nil {
		tb.Fatal(err)
	}
	acct, err := client.NewAccount(rand.Reader, p, rate)
	if err != nil {
		tb.Fatal(err)
	}
	return &fixture{tbl: tbl, opener: o, acct: acct, p: p}, &Service{Opener: o, Review: review, Store: openStore(tb, tb.TempDir())}
}

// openStore opens the SQLite store in dir as the service's account state;
// it is closed when tb ends (closing it twice is harmless).
func openStore(tb testing.TB, dir string) *sqlite.PHMService {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), dir, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return sqlite.NewPHMService(db)
}

func (f *fixture) voucher(tb testing.TB, s *Service, c *client.Content) []byte {
	tb.Helper()
	v, err := f.acct.NewVoucher(f.tbl, s.Review.PublicKey(), c, "att-1", rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	if len(v) != f.p.VoucherSize() {
		tb.Fatalf("voucher is %d bytes, want %d", len(v), f.p.VoucherSize())
	}
	return v
}

// opens counts the elements of a voucher that open.
func (f *fixture) opens(tb testing.TB, b []byte) int {
	tb.Helper()
	v, err := phm.ParseVoucher(b, f.p)
	if err != nil {
		tb.Fatal(err)
	}
	n := 0
	for i := range v.Elements {
		hb, err := f.opener.openElement(v, i)
		if err != nil {
			tb.Fatal(err)
		}
		if hb != nil {
			n++
		}
	}
	return n
}

// banks is a plaintext PDQ matcher over a list, for the second check.
type banks struct{ list []pdq.Hash }

func (b *banks) Lookup(_ context.Context, signals []vigil.Signal, _ vigil.MatchOptions) ([]vigil.MatchResult, error) {
	out := make([]vigil.MatchResult, len(signals))
	for i, s := range signals {
		out[i].Signal = s
		h, err := pdq.ParseHash(s.Value)
		if err != nil {
			return nil, err
		}
		for j, e := range b.list {
			if d := pdq.Distance(h, e); d <= 40 { // wider than 31, to check the service cuts at 31
				out[i].Matches = append(out[i].Matches, vigil.Match{Bank: "known", EntryID: int64(j + 1), SignalType: vigil.SignalPDQ, Value: e.String(), Distance: d})
			}
		}
	}
	return out, nil
}

func (b *banks) Status() vigil.IndexStatus { return vigil.IndexStatus{} }

// responder records what the service hands to the detection flow.
type responder struct {
	refs    []vigil.ContentRef
	results [][]vigil.MatchResult
	media   [][]byte
}

func (r *responder) Match(_ context.Context, ref vigil.ContentRef, results []vigil.MatchResult, media func() ([]byte, error)) *vigil.Outcome {
	r.refs = append(r.refs, ref)
	r.results = append(r.results, results)
	m, _ := media()
	r.media = append(r.media, m)
	return &vigil.Outcome{}
}

func newAccount(tb testing.TB, p phm.Params) *client.Account {
	tb.Helper()
	a, err := client.NewAccount(rand.Reader, p, 0)
	if err != nil {
		tb.Fatal(err)
	}
	return a
}

// reviewWorld is a SQLite store set up for the detection flow behind the
// service: queue "e2ee" with a case rule for every match, and bank
// "known" holding the PDQ of n listed pictures, loaded in a matcher for
// the second check. data are the pictures' PNG bytes, keys their
// SHA-256 keys for a table.
type reviewWorld struct {
	db      *sqlite.DB
	cases   *sqlite.CaseService
	rules   *sqlite.RuleService
	data    [][]byte
	keys    []phm.Key
	matcher *matcher.Matcher
}

func newReviewWorld(tb testing.TB, n int) *reviewWorld {
	tb.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, tb.TempDir(), nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	w := &reviewWorld{db: db, cases: sqlite.NewCaseService(db), rules: sqlite.NewRuleService(db)}
	if err := w.cases.CreateQueue(ctx, &vigil.Queue{Name: "e2ee", Roles: []vigil.Role{vigil.RoleReviewer}}); err != nil {
		tb.Fatal(err)
	}
	if err := w.rules.CreateRule(ctx, &vigil.Rule{Name: "review", When: vigil.RuleConditions{Kind: "match"}, Action: vigil.RuleAction{Type: vigil.ActionCase, Queue: "e2ee"},
		Enabled: true, Source: vigil.RuleSourceAPI, UpdatedBy: "test"}); err != nil {
		tb.Fatal(err)
	}
	banks, entries := sqlite.NewBankService(db), sqlite.NewEntryService(db)
	bank := &vigil.Bank{Name: "known", Enabled: true}
	if err := banks.CreateBank(ctx, bank); err != nil {
		tb.Fatal(err)
	}
	var es []*vigil.Entry
	for i := range n {
		img := picture(80+i, 128)
		w.data = append(w.data, pngBytes(tb, img))
		w.keys = append(w.keys, sha256Key(tb, w.data[i]))
		es = append(es, &vigil.Entry{SignalType: vigil.SignalPDQ, Value: pdqOf(tb, img).String(), Source: "test"})
	}
	if _, err := entries.AddEntries(ctx, bank.ID, "test", es); err != nil {
		tb.Fatal(err)
	}
	w.matcher = matcher.New(banks, entries, slog.New(slog.DiscardHandler))
	if err := w.matcher.Load(ctx); err != nil {
		tb.Fatal(err)
	}
	return w
}
