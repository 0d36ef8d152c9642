package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image/jpeg"
	"log/slog"
	"testing"

	vigil "github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/matcher"
	"github.com/vigil-oss/vigil/phm"
	"github.com/vigil-oss/vigil/phm/client"
	"github.com/vigil-oss/vigil/phm/eval"
	"github.com/vigil-oss/vigil/phm/second"
	"github.com/vigil-oss/vigil/sqlite"
)

// testSecondKey is the keyed hash key of these tests.
func testSecondKey(tb testing.TB) *second.Key {
	tb.Helper()
	k, err := second.NewKey(bytes.Repeat([]byte{0x3c}, second.KeySize))
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

// beatsReencode crafts, with the eval's white-box attack and the service's
// re-encode in its loop (as `vigil phm eval` does), a collision from src
// onto dst's PDQ that today's second check (PDQ ≤ 31 and the re-encode)
// confirms; it fails tb if none does.
func beatsReencode(tb testing.TB, src, dst *eval.Luma) *eval.Luma {
	tb.Helper()
	target := pdqOf(tb, dst.Gray())
	for _, margin := range []float32{1, 10, 20, 30, 45, 60, 80} {
		r := eval.Collide(src, target, margin, eval.Budget{Queries: 1000})
		if !r.Reached {
			continue
		}
		if c, err := eval.SecondCheck(r.Picture, target, client.Derivative); err == nil && c.Confirmed {
			return r.Picture
		}
	}
	tb.Fatal("no collision beats the re-encode")
	return nil
}

// reencoded is pic through a JPEG at quality 70: a true match of the
// listed picture that is not the same file.
func reencoded(tb testing.TB, pic *eval.Luma) *eval.Luma {
	tb.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, pic.Gray(), &jpeg.Options{Quality: 70}); err != nil {
		tb.Fatal(err)
	}
	img, err := jpeg.Decode(&buf)
	if err != nil {
		tb.Fatal(err)
	}
	return eval.LumaOf(img)
}

// keyedBank is a SQLite store with a bank of the listed pictures' PDQ
// hashes and the matcher over it; keyed are the indexes of the pictures
// whose keyed hash the store holds under key.
func keyedBank(t testing.TB, key *second.Key, listed []*eval.Luma, keyed ...int) (*sqlite.DB, *matcher.Matcher, []*vigil.Entry) {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	banks, entries := sqlite.NewBankService(db), sqlite.NewEntryService(db)
	bank := &vigil.Bank{Name: "known", Enabled: true}
	if err := banks.CreateBank(ctx, bank); err != nil {
		t.Fatal(err)
	}
	var es []*vigil.Entry
	for _, l := range listed {
		es = append(es, &vigil.Entry{SignalType: vigil.SignalPDQ, Value: pdqOf(t, l.Gray()).String(), Source: "test"})
	}
	if _, err := entries.AddEntries(ctx, bank.ID, "test", es); err != nil {
		t.Fatal(err)
	}
	var hs []vigil.PHMKeyedHash
	kh := second.NewHasher()
	for _, i := range keyed {
		h, ok := kh.Hash(key, listed[i].Gray())
		if !ok {
			t.Fatal("no keyed hash")
		}
		hs = append(hs, vigil.PHMKeyedHash{EntryID: es[i].ID, Hash: h})
	}
	if len(hs) > 0 {
		if _, err := sqlite.NewPHMService(db).PutPHMKeyedHashes(ctx, "test", key.ID(), hs); err != nil {
			t.Fatal(err)
		}
	}
	m := matcher.New(banks, entries, slog.New(slog.DiscardHandler))
	if err := m.Load(ctx); err != nil {
		t.Fatal(err)
	}
	return db, m, es
}

// TestServiceKeyedSecondCheck runs an account past its threshold with
// three revealed items: a crafted collision onto a listed picture whose
// keyed hash the store holds, a re-encoded copy of that same listed
// picture, and a crafted collision onto a listed picture of a hash-only
// list. Today's check (PDQ and the re-encode) confirms both collisions;
// with the keyed hash key the first is refused and the true match
// confirmed. The second collision, whose entry has no keyed hash, is
// refused in the strict mode (the default with a key; main confirmed it)
// and falls back to PDQ alone with AllowUnkeyed, as main did. The audit
// record names each verdict, and Stats counts the refusals.
func TestServiceKeyedSecondCheck(t *testing.T) {
	ctx := context.Background()
	dir := "../../pdq/testdata/reg-test-input/labelme-subset/"
	srcA, listedA := attackPicture(t, dir+"q1050.jpg"), attackPicture(t, dir+"q2821.jpg")
	srcC, listedC := attackPicture(t, dir+"q0291.jpg"), attackPicture(t, dir+"q0746.jpg")
	collA, collC := beatsReencode(t, srcA, listedA), beatsReencode(t, srcC, listedC)
	trueA := reencoded(t, listedA)
	key := testSecondKey(t)

	{
		// Today's check, without the key, confirms both collisions.
		_, m, _ := keyedBank(t, key, []*eval.Luma{listedA, listedC}, 0)
		plain := &Service{Banks: m}
		got, err := plain.Check(ctx, []*phm.Payload{derivativePayload(t, collA), derivativePayload(t, collC)})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 {
			t.Fatalf("today's check confirms %d of the 2 collisions: not collisions the keyed hash is needed for", len(got))
		}
	}

	for _, allow := range []bool{false, true} {
		t.Run(fmt.Sprintf("allow-unkeyed=%v", allow), func(t *testing.T) {
			keyedAccount(t, key, allow, collA, trueA, collC, listedA, listedC)
		})
	}
}

// keyedAccount is one run of TestServiceKeyedSecondCheck, with
// Service.AllowUnkeyed set to allow.
func keyedAccount(t *testing.T, key *second.Key, allow bool, collA, trueA, collC, listedA, listedC *eval.Luma) {
	ctx := context.Background()
	db, m, es := keyedBank(t, key, []*eval.Luma{listedA, listedC}, 0)
	// The account: its three items' files, each matching the table.
	var data [][]byte
	var keys []phm.Key
	for _, l := range []*eval.Luma{collA, trueA, collC} {
		d := pngBytes(t, l.Gray())
		data = append(data, d)
		keys = append(keys, sha256Key(t, d))
	}
	p := phm.Params{T: 2, S: 4}
	f, s := newFixture(t, p, 0, keys...)
	s.Store, s.Banks, s.Second, s.Stats, s.AllowUnkeyed = sqlite.NewPHMService(db), m, key, &Stats{}, allow
	resp := &responder{}
	s.Respond = resp
	var last *Result
	var err error
	for _, d := range data {
		if last, err = s.Submit(ctx, "user-k", f.voucher(t, s, prepare(t, d))); err != nil {
			t.Fatal(err)
		}
	}
	if len(last.Revealed) != 3 {
		t.Fatalf("revealed %d, want 3", len(last.Revealed))
	}
	bySHA := map[string]int{}
	for i, d := range data {
		bySHA[hex.EncodeToString(sha256Sum(d))] = i
	}
	confirmed := map[int]bool{}
	for _, c := range last.Confirmed {
		confirmed[bySHA[hex.EncodeToString(c.Payload.SHA256[:])]] = true
		if len(c.Result.Matches) != 1 {
			t.Errorf("confirmed item with %d matches", len(c.Result.Matches))
		}
	}
	if confirmed[0] {
		t.Error("the collision onto the keyed entry passed the keyed check")
	}
	if !confirmed[1] {
		t.Error("the re-encoded listed picture was refused")
	}
	wantConf, wantUnkeyed := 1, 1
	if allow {
		wantConf, wantUnkeyed = 2, 0
		if !confirmed[2] {
			t.Error("with AllowUnkeyed, the match of an entry without keyed hash did not fall back to PDQ")
		}
	} else if confirmed[2] {
		t.Error("the collision onto an entry without keyed hash was confirmed in the strict mode")
	}
	if s.Stats.KeyedRefused() != 1 || s.Stats.UnkeyedRefused() != int64(wantUnkeyed) || s.Stats.Rejected() != int64(3-wantConf) || s.Stats.Confirmed() != int64(wantConf) {
		t.Errorf("stats: keyed refused %d, unkeyed refused %d, rejected %d, confirmed %d", s.Stats.KeyedRefused(), s.Stats.UnkeyedRefused(), s.Stats.Rejected(), s.Stats.Confirmed())
	}
	if len(resp.results) != 1 || len(resp.results[0]) != wantConf {
		t.Fatalf("detection flow got %d cases", len(resp.results))
	}

	// The audit record names each verdict.
	recs, err := sqlite.NewAuditService(db).ListAudit(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	type item struct {
		SHA256       string                            `json:"sha256"`
		Keyed        string                            `json:"keyed"`
		KeyedEntries []struct{ Entry, Distance int64 } `json:"keyed_entries"`
		Unkeyed      []int64                           `json:"unkeyed_entries"`
	}
	var detail struct {
		KeyedRefused   int    `json:"keyed_refused"`
		UnkeyedRefused int    `json:"unkeyed_refused"`
		AllowUnkeyed   bool   `json:"allow_unkeyed"`
		KeyID          string `json:"keyed_hash_key"`
		Confirmed      []item `json:"confirmed_items"`
		Rejected       []item `json:"rejected_items"`
	}
	found := false
	for _, r := range recs {
		if r.Action == AuditPHMSecondCheck {
			found = true
			if err := json.Unmarshal([]byte(r.Detail), &detail); err != nil {
				t.Fatal(err)
			}
		}
	}
	if !found {
		t.Fatal("no second-check audit record")
	}
	t.Logf("audit: %+v", detail)
	if detail.KeyedRefused != 1 || detail.UnkeyedRefused != wantUnkeyed || detail.AllowUnkeyed != allow || detail.KeyID != key.ID() || len(detail.Rejected) != 3-wantConf || len(detail.Confirmed) != wantConf {
		t.Fatalf("audit detail %+v", detail)
	}
	fallback := func(c item, verdict string) {
		if c.Keyed != verdict || len(c.Unkeyed) != 1 || c.Unkeyed[0] != es[1].ID || len(c.KeyedEntries) != 0 {
			t.Errorf("item of the entry without keyed hash %+v", c)
		}
	}
	for _, rej := range detail.Rejected {
		switch bySHA[rej.SHA256] {
		case 0:
			if rej.Keyed != KeyedRefused || len(rej.KeyedEntries) != 1 || rej.KeyedEntries[0].Entry != es[0].ID || rej.KeyedEntries[0].Distance <= second.Threshold {
				t.Errorf("refused item %+v", rej)
			}
		case 2:
			fallback(rej, KeyedUnkeyedRefused)
		default:
			t.Errorf("refused item %+v", rej)
		}
	}
	for _, c := range detail.Confirmed {
		switch bySHA[c.SHA256] {
		case 1:
			if c.Keyed != KeyedPassed || len(c.KeyedEntries) != 1 || c.KeyedEntries[0].Entry != es[0].ID || c.KeyedEntries[0].Distance > second.Threshold {
				t.Errorf("true match %+v", c)
			}
		case 2:
			fallback(c, KeyedNoHash)
		default:
			t.Errorf("confirmed item %+v", c)
		}
	}
}

// TestCheckKeyedUnderItsKeyOnly: a keyed hash stored under another key is
// never compared, so the item is refused as unkeyed (or, with
// AllowUnkeyed, falls back to PDQ) and says so; without a key the service
// names none and AllowUnkeyed changes nothing.
func TestCheckKeyedUnderItsKeyOnly(t *testing.T) {
	ctx := context.Background()
	dir := "../../pdq/testdata/reg-test-input/labelme-subset/"
	src, listed := attackPicture(t, dir+"q1050.jpg"), attackPicture(t, dir+"q2821.jpg")
	coll := beatsReencode(t, src, listed)
	other, err := second.NewKey(bytes.Repeat([]byte{0x77}, second.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	db, m, _ := keyedBank(t, other, []*eval.Luma{listed}, 0)
	s := &Service{Banks: m, Store: sqlite.NewPHMService(db), Second: testSecondKey(t)}
	pl := derivativePayload(t, coll)
	got, v, err := s.check(ctx, []*phm.Payload{pl})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 || v[pl] == nil || v[pl].verdict != KeyedUnkeyedRefused {
		t.Fatalf("under another key's hash, strict: %d confirmed, verdict %+v", len(got), v[pl])
	}
	s.AllowUnkeyed = true
	if got, v, err = s.check(ctx, []*phm.Payload{pl}); err != nil || len(got) != 1 || v[pl] == nil || v[pl].verdict != KeyedNoHash {
		t.Fatalf("under another key's hash, unkeyed allowed: %d confirmed, verdict %+v, %v", len(got), v[pl], err)
	}
	s.AllowUnkeyed = false
	// The right key refuses it.
	s.Second = other
	if got, v, err = s.check(ctx, []*phm.Payload{pl}); err != nil || len(got) != 0 || v[pl].verdict != KeyedRefused {
		t.Fatalf("under its own key: %d confirmed, verdict %+v, %v", len(got), v[pl], err)
	}
	s.Second = nil
	if got, v, err = s.check(ctx, []*phm.Payload{pl}); err != nil || len(got) != 1 || v[pl].verdict != KeyedNoKey {
		t.Fatalf("without a key: %d confirmed, verdict %+v, %v", len(got), v[pl], err)
	}
}

func sha256Sum(b []byte) []byte {
	s := sha256.Sum256(b)
	return s[:]
}
