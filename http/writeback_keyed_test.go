package http_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"image"
	_ "image/jpeg"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/vigil-oss/vigil"
	vhttp "github.com/vigil-oss/vigil/http"
	"github.com/vigil-oss/vigil/phm/second"
	phmserver "github.com/vigil-oss/vigil/phm/server"
	"github.com/vigil-oss/vigil/sqlite"
)

// lateKeyedStore forwards the keyed hash calls to a store set once the
// test server's database is open.
type lateKeyedStore struct {
	vigil.PHMService
	p atomic.Pointer[sqlite.PHMService]
}

func (l *lateKeyedStore) PutPHMKeyedHashes(ctx context.Context, by, keyID string, hs []vigil.PHMKeyedHash) (int, error) {
	return l.p.Load().PutPHMKeyedHashes(ctx, by, keyID, hs)
}

func (l *lateKeyedStore) PHMKeyedHashes(ctx context.Context, keyID string, ids []int64) (map[int64]vigil.PHMKeyedHash, error) {
	return l.p.Load().PHMKeyedHashes(ctx, keyID, ids)
}

// TestWriteBackKeysEntries: with the PHM review service's keyed hash key,
// writing a confirmed case back to a bank from its kept picture also
// stores the picture's keyed hash for the new PDQ entry, audited; the
// other entries (MD5, SHA-1, SHA-256) get none.
func TestWriteBackKeysEntries(t *testing.T) {
	ctx := context.Background()
	key, err := second.NewKey(bytes.Repeat([]byte{0x42}, second.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	store := &lateKeyedStore{}
	ts := mustOpenServer(t, func(s *vhttp.Server) {
		s.PHM = &phmserver.Service{Second: key, Store: store}
	})
	store.p.Store(sqlite.NewPHMService(ts.db))
	orig, err := os.ReadFile("../pdq/testdata/bridge-mods/aaa-orig.jpg")
	if err != nil {
		t.Fatal(err)
	}
	adm, cur, rev, mat := vigil.RoleAdmin, vigil.RoleCurator, vigil.RoleReviewer, vigil.RoleMatcher
	if code := ts.do(t, adm, "POST", "/v1/queues", "", jsonBody(map[string]any{"name": "default", "roles": []string{"reviewer"}}), nil); code != 201 {
		t.Fatal("create queue")
	}
	for _, b := range []string{"known", "confirmed"} {
		if code := ts.do(t, cur, "POST", "/v1/banks", "", jsonBody(map[string]any{"name": b}), nil); code != 201 {
			t.Fatal("create bank", b)
		}
	}
	md := md5.Sum(orig)
	body := map[string]any{"entries": []map[string]string{{"signal_type": "md5", "value": hex.EncodeToString(md[:]), "source": "hotline"}}}
	if code := ts.do(t, cur, "POST", "/v1/banks/known/entries", "", jsonBody(body), nil); code != 201 {
		t.Fatal("add entry")
	}
	rule := map[string]any{"name": "any-match", "when": map[string]any{"kind": "match"}, "action": map[string]any{"type": "case", "queue": "default"}}
	if code := ts.do(t, cur, "POST", "/v1/rules", "", jsonBody(rule), nil); code != 201 {
		t.Fatal("create rule")
	}
	var m struct{ Actions *actions }
	if code := ts.do(t, mat, "POST", "/v1/match", "image/jpeg", bytes.NewReader(orig), &m); code != 200 || m.Actions == nil || len(m.Actions.Cases) != 1 {
		t.Fatalf("match %d %+v", code, m.Actions)
	}
	id := m.Actions.Cases[0]
	if code := ts.do(t, rev, "POST", fmt.Sprintf("/v1/cases/%d/decision", id), "", jsonBody(map[string]any{"verdict": "confirmed", "category": "A1"}), nil); code != 200 {
		t.Fatalf("decide %d", code)
	}
	var out struct{ Entries []vigil.Entry }
	if code := ts.do(t, cur, "POST", fmt.Sprintf("/v1/cases/%d/writeback", id), "", strings.NewReader(`{"bank":"confirmed"}`), &out); code != 201 {
		t.Fatalf("write-back %d", code)
	}
	var pdqID int64
	var ids []int64
	for _, e := range out.Entries {
		ids = append(ids, e.ID)
		if e.SignalType == vigil.SignalPDQ {
			pdqID = e.ID
		}
	}
	if pdqID == 0 {
		t.Fatalf("no PDQ entry written back: %+v", out.Entries)
	}
	got, err := sqlite.NewPHMService(ts.db).PHMKeyedHashes(ctx, key.ID(), ids)
	if err != nil {
		t.Fatal(err)
	}
	img, _, err := image.Decode(bytes.NewReader(orig))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := second.NewHasher().Hash(key, img)
	if len(got) != 1 || second.Hash(got[pdqID].Hash) != want {
		t.Fatalf("keyed hashes after the write-back: %+v, want %s for entry %d", got, want, pdqID)
	}
	recs, err := ts.Audit.ListAudit(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range recs {
		found = found || r.Action == vigil.AuditPHMKeyedHashes && r.Target == vigil.PHMKeyTarget(key.ID()) && r.Actor != ""
	}
	if !found {
		t.Error("no audit record of the keyed hash")
	}
}
