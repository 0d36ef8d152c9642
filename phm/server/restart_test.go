package server

import (
	"context"
	"crypto/rand"
	"errors"
	"sort"
	"testing"

	vigil "github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/pdq"
	"github.com/vigil-oss/vigil/phm"
	"github.com/vigil-oss/vigil/phm/client"
	"github.com/vigil-oss/vigil/sqlite"
)

// restartable is a service whose store can be closed and opened again
// from its directory, as a restart of the process would.
type restartable struct {
	dir  string
	db   *sqlite.DB
	base Service // opener, review key, banks: what a restart keeps
}

func newRestartable(t *testing.T, s *Service) *restartable {
	r := &restartable{dir: t.TempDir(), base: Service{Opener: s.Opener, Review: s.Review, Banks: s.Banks}}
	r.restart(t)
	return r
}

// restart closes the store (if open) and returns a new service on it:
// nothing in memory survives.
func (r *restartable) restart(t *testing.T) *Service {
	t.Helper()
	if r.db != nil {
		if err := r.db.Close(); err != nil {
			t.Fatal(err)
		}
	}
	db, err := sqlite.Open(context.Background(), r.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	r.db = db
	s := r.base
	s.Store = sqlite.NewPHMService(db)
	return &s
}

func revealedSHAs(res *Result) []string {
	var out []string
	for _, p := range res.Revealed {
		out = append(out, string(p.SHA256[:]))
	}
	sort.Strings(out)
	return out
}

// TestRestartKeepsCount: t real vouchers, a restart, one more: the account
// recovers exactly as it does without the restart, revealing the same
// t + 1 payloads. Replays of vouchers counted before the restart, however
// many, count nothing: t vouchers replayed t times after it leave the
// account at t positives, not recovered.
func TestRestartKeepsCount(t *testing.T) {
	p := phm.Params{T: 3, S: 6}
	data, keys := listedImages(t, p.T+1, 400)
	f, s := newFixture(t, p, 0, keys...)
	s.Banks = &banks{}
	ctx := context.Background()
	vouchers := make([][]byte, len(data))
	for i, d := range data {
		vouchers[i] = f.voucher(t, s, prepare(t, d))
	}

	// Without a restart.
	var want *Result
	for _, v := range vouchers {
		res, err := s.Submit(ctx, "u", v)
		if err != nil {
			t.Fatal(err)
		}
		want = res
	}
	if !want.Recovered || len(want.Revealed) != p.T+1 {
		t.Fatalf("without a restart: recovered %v, revealed %d", want.Recovered, len(want.Revealed))
	}

	// With one, after the first t.
	r := newRestartable(t, s)
	svc := r.restart(t)
	for i, v := range vouchers[:p.T] {
		res, err := svc.Submit(ctx, "u", v)
		if err != nil || res.Positives != i+1 || res.Recovered {
			t.Fatalf("voucher %d: %+v, %v", i, res, err)
		}
	}
	svc = r.restart(t)
	for range p.T {
		for i, v := range vouchers[:p.T] {
			res, err := svc.Submit(ctx, "u", v)
			if err != nil {
				t.Fatal(err)
			}
			if !res.Replay || res.Positives != p.T || res.Recovered || len(res.Revealed) != 0 {
				t.Fatalf("replay of voucher %d after the restart: %+v", i, res)
			}
		}
	}
	svc = r.restart(t)
	got, err := svc.Submit(ctx, "u", vouchers[p.T])
	if err != nil {
		t.Fatal(err)
	}
	if !got.Recovered || got.Positives != p.T+1 || len(got.Revealed) != p.T+1 {
		t.Fatalf("after the restart: recovered %v, positives %d, revealed %d", got.Recovered, got.Positives, len(got.Revealed))
	}
	if a, b := revealedSHAs(got), revealedSHAs(want); len(a) != len(b) || a[0] != b[0] || a[len(a)-1] != b[len(b)-1] {
		t.Fatal("the restarted service revealed other payloads")
	}
	// Past recovery a replay reveals nothing again, restart or not.
	svc = r.restart(t)
	for _, v := range vouchers {
		res, err := svc.Submit(ctx, "u", v)
		if err != nil || !res.Replay || len(res.Revealed) != 0 || !res.Recovered {
			t.Fatalf("replay after recovery: %+v, %v", res, err)
		}
	}
}

// failingBanks fails the second check, as a matcher still loading would.
type failingBanks struct{ banks }

func (*failingBanks) Lookup(context.Context, []vigil.Signal, vigil.MatchOptions) ([]vigil.MatchResult, error) {
	return nil, errors.New("index not ready")
}

// TestResumeAfterCrash: the reveal is committed, then the second check
// fails (or the process dies) before the detection flow has the items;
// the next start's Resume hands them on, once.
func TestResumeAfterCrash(t *testing.T) {
	p := phm.Params{T: 2, S: 4}
	var data [][]byte
	var keys []phm.Key
	var known []pdq.Hash
	for i := range p.T + 1 {
		img := picture(450+i, 128)
		data = append(data, pngBytes(t, img))
		keys = append(keys, sha256Key(t, data[i]))
		known = append(known, pdqOf(t, img))
	}
	f, s := newFixture(t, p, 0, keys...)
	s.Banks = &failingBanks{}
	r := newRestartable(t, s)
	svc := r.restart(t)
	ctx := context.Background()
	for i, d := range data {
		_, err := svc.Submit(ctx, "u", f.voucher(t, svc, prepare(t, d)))
		if i < p.T && err != nil {
			t.Fatal(err)
		}
		if i == p.T && err == nil {
			t.Fatal("the failing second check was not reported")
		}
	}
	r.base.Banks = &banks{list: known}
	svc = r.restart(t)
	resp := &responder{}
	svc.Respond = resp
	n, err := svc.Resume(ctx)
	if err != nil || n != p.T+1 {
		t.Fatalf("resume handled %d, %v; want %d", n, err, p.T+1)
	}
	if len(resp.refs) != 1 || len(resp.results[0]) != p.T+1 || resp.refs[0].UserID != "u" {
		t.Fatalf("detection flow got %d calls", len(resp.refs))
	}
	if n, err := svc.Resume(ctx); err != nil || n != 0 || len(resp.refs) != 1 {
		t.Fatalf("second resume handled %d again (%v)", n, err)
	}
}

// TestServiceBoundNotReplay: an account flooded past t + s + 1 pending
// positives (here by three devices' synthetic vouchers under one account
// id, which no honest client makes) counts no more, and the vouchers past
// the bound are not reported as replays.
func TestServiceBoundNotReplay(t *testing.T) {
	p := phm.Params{T: 2, S: 3}
	f, s := newFixture(t, p, 1)
	s.Banks = &banks{}
	ctx := context.Background()
	data := pngBytes(t, picture(77, 72))
	n := 0
	for dev := range 3 {
		acct, err := client.NewAccount(rand.Reader, p, 1)
		if err != nil {
			t.Fatal(err)
		}
		f.acct = acct
		for range p.S {
			res, err := s.Submit(ctx, "flood", f.voucher(t, s, prepare(t, data)))
			if err != nil {
				t.Fatal(err)
			}
			n++
			want := min(n, p.T+p.S+1)
			if !res.Opened || res.Replay || res.Recovered || res.Positives != want {
				t.Fatalf("device %d, voucher %d: %+v, want %d positives", dev, n, res, want)
			}
		}
	}
}
