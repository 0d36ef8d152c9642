package server

import (
	"context"
	"testing"

	vigil "github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/phm"
	"github.com/vigil-oss/vigil/respond"
)

// TestServiceOpensCase runs the service against the real pieces: a SQLite
// store with a PDQ bank, the matcher for the second check, and the
// detection flow with a case rule. Below the threshold nothing reaches
// review; at t+1 one case opens for the account, holding the confirmed
// items' matches and the first derivative as its media.
func TestServiceOpensCase(t *testing.T) {
	ctx := context.Background()
	p := phm.Params{T: 2, S: 4}
	rw := newReviewWorld(t, p.T+1)
	cases, rules, data, keys, m := rw.cases, rw.rules, rw.data, rw.keys, rw.matcher
	f, s := newFixture(t, p, 0, keys...)
	s.Banks = m
	s.Respond = &respond.Service{Rules: rules, Cases: cases, Media: &mediaStore{blobs: map[string][]byte{}}}
	var last *Result
	var err error
	for i, d := range data {
		if last, err = s.Submit(ctx, "user-9", f.voucher(t, s, prepare(t, d))); err != nil {
			t.Fatal(err)
		}
		open, err := cases.ListCases(ctx, vigil.CaseFilter{})
		if err != nil {
			t.Fatal(err)
		}
		if i < p.T && len(open) != 0 {
			t.Fatalf("a case opened after %d matches, threshold %d", i+1, p.T)
		}
	}
	if len(last.Confirmed) != p.T+1 || last.Outcome == nil || len(last.Outcome.Errors) != 0 {
		t.Fatalf("confirmed %d, outcome %+v", len(last.Confirmed), last.Outcome)
	}
	open, _ := cases.ListCases(ctx, vigil.CaseFilter{})
	if len(open) != 1 {
		t.Fatalf("%d cases, want one for the account", len(open))
	}
	c := open[0]
	if c.Content.UserID != "user-9" || c.Content.MediaID == "" || len(c.Matches) != p.T+1 {
		t.Fatalf("case content %+v with %d matches", c.Content, len(c.Matches))
	}
}

// mediaStore is an in-memory vigil.MediaStore.
type mediaStore struct{ blobs map[string][]byte }

func (m *mediaStore) Put(_ context.Context, data []byte) (string, error) {
	id := string(rune('a' + len(m.blobs)))
	m.blobs[id] = data
	return id, nil
}

func (m *mediaStore) Get(_ context.Context, id string) ([]byte, error) { return m.blobs[id], nil }

func (m *mediaStore) Delete(_ context.Context, id string) error {
	delete(m.blobs, id)
	return nil
}
