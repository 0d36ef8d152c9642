package http_test

import (
	"bytes"
	"context"
	"crypto/hpke"
	"crypto/rand"
	"encoding/json"
	"image/jpeg"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/hashing"
	vhttp "github.com/vigil-oss/vigil/http"
	"github.com/vigil-oss/vigil/matcher"
	"github.com/vigil-oss/vigil/pdq"
	"github.com/vigil-oss/vigil/phm"
	"github.com/vigil-oss/vigil/phm/client"
	"github.com/vigil-oss/vigil/phm/phmtest"
	phmserver "github.com/vigil-oss/vigil/phm/server"
	"github.com/vigil-oss/vigil/sqlite"
)

// phmWorld is what outlives one run of the server: the published table
// with its α, the review key, the store's directory and the device.
type phmWorld struct {
	p      phm.Params
	tbl    *phmtest.Table
	review hpke.PrivateKey
	dir    string
	acct   *client.Account
	// real are listed pictures whose PDQ is in the bank; collision is
	// listed in the table (as a crafted collision of the exact table would
	// be) but its derivative is within 31 of no bank entry; unlisted are
	// not listed at all.
	real      [][]byte
	collision []byte
	unlisted  [][]byte
}

func pngOf(tb testing.TB, seed, side int) []byte {
	tb.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, phmtest.Picture(seed, side)); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// newPHMWorld lists t+1 real pictures (SHA-256 in the table, PDQ in the
// bank) and the collision; the device's account has rate 1, so its first
// s vouchers are synthetic.
func newPHMWorld(t *testing.T) *phmWorld {
	w := &phmWorld{p: phm.Params{T: 2, S: 4}, review: phmtest.ReviewKey(t), dir: t.TempDir()}
	var keys []phm.Key
	for i := range w.p.T + 1 {
		w.real = append(w.real, pngOf(t, 80+i, 128))
	}
	w.collision = pngOf(t, 300, 128)
	for i := range w.p.S + 1 {
		w.unlisted = append(w.unlisted, pngOf(t, 500+i, 128))
	}
	for _, d := range append(append([][]byte{}, w.real...), w.collision) {
		k, err := client.Keys(d)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k[0]) // the SHA-256 key
	}
	w.tbl = phmtest.NewTable(t, keys...)
	var err error
	if w.acct, err = client.NewAccount(rand.Reader, w.p, 1); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *phmWorld) voucher(t *testing.T, data []byte) []byte {
	t.Helper()
	c, err := client.Prepare(data, hashing.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	v, err := w.acct.NewVoucher(w.tbl, w.review.PublicKey(), c, "att", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// probe is a well-formed voucher from another device's account, which
// changes nothing of the world's device.
func (w *phmWorld) probe(t *testing.T) []byte {
	t.Helper()
	a, err := client.NewAccount(rand.Reader, w.p, 0)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.Prepare(w.unlisted[0], hashing.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	v, err := a.NewVoucher(w.tbl, w.review.PublicKey(), c, "att", rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// phmRun is one run of the server over the world's store.
type phmRun struct {
	srv   *vhttp.Server
	db    *sqlite.DB
	cases vigil.CaseService
	audit vigil.AuditService
	store *sqlite.PHMService
	key   string
	media *memMedia
}

// start opens the store (creating the bank, queue and rule the first
// time), builds the PHM service as vigil serve does and resumes it.
func (w *phmWorld) start(t *testing.T, first bool) *phmRun {
	t.Helper()
	ctx := context.Background()
	logger := slog.New(slog.DiscardHandler)
	db, err := sqlite.Open(ctx, w.dir, logger)
	if err != nil {
		t.Fatal(err)
	}
	banks, entries, keys := sqlite.NewBankService(db), sqlite.NewEntryService(db), sqlite.NewKeyService(db)
	r := &phmRun{db: db, cases: sqlite.NewCaseService(db), audit: sqlite.NewAuditService(db), store: sqlite.NewPHMService(db), media: newMemMedia()}
	rules := sqlite.NewRuleService(db)
	if first {
		if err := r.cases.CreateQueue(ctx, &vigil.Queue{Name: "e2ee", Roles: []vigil.Role{vigil.RoleReviewer}}); err != nil {
			t.Fatal(err)
		}
		if err := rules.CreateRule(ctx, &vigil.Rule{Name: "review", When: vigil.RuleConditions{Kind: "match"},
			Action: vigil.RuleAction{Type: vigil.ActionCase, Queue: "e2ee"}, Enabled: true, Source: vigil.RuleSourceAPI, UpdatedBy: "test"}); err != nil {
			t.Fatal(err)
		}
		bank := &vigil.Bank{Name: "known", Enabled: true}
		if err := banks.CreateBank(ctx, bank); err != nil {
			t.Fatal(err)
		}
		var es []*vigil.Entry
		for i := range w.real {
			h, _ := pdq.NewHasher(pdq.Full).Hash(phmtest.Picture(80+i, 128))
			es = append(es, &vigil.Entry{SignalType: vigil.SignalPDQ, Value: h.String(), Source: "test"})
		}
		if _, err := entries.AddEntries(ctx, bank.ID, "test", es); err != nil {
			t.Fatal(err)
		}
	}
	m := matcher.New(banks, entries, logger)
	if err := m.Load(ctx); err != nil {
		t.Fatal(err)
	}
	opener, err := phmserver.NewOpener(w.tbl.Alpha, w.p)
	if err != nil {
		t.Fatal(err)
	}
	s := vhttp.NewServer()
	s.Addr, s.Banks, s.Entries, s.Keys, s.Matcher, s.Logger = "127.0.0.1:0", banks, entries, keys, m, logger
	s.Audit, s.Cases, s.Rules, s.Media = r.audit, r.cases, rules, r.media
	s.PHM = &phmserver.Service{Opener: opener, Review: w.review, Store: r.store, Banks: m, Logger: logger}
	s.PHM.Respond = s.Flow()
	if err := s.Open(); err != nil {
		t.Fatal(err)
	}
	r.srv = s
	t.Cleanup(r.stop)
	if r.key, err = keys.CreateKey(ctx, &vigil.Key{Name: "platform-" + time.Now().Format("150405.000000000"), Role: vigil.RoleMatcher, CreatedBy: "test"}); err != nil {
		t.Fatal(err)
	}
	// Until StartPHM every voucher waits alike.
	if code, _ := r.send(t, "user-7", w.probe(t)); code != http.StatusServiceUnavailable {
		t.Fatalf("before StartPHM: %d, want 503", code)
	}
	if err := s.StartPHM(ctx); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *phmRun) stop() {
	if r.srv == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	r.srv.Close(ctx)
	r.db.Close()
	r.srv = nil
}

// send posts vouchers for account and returns the status and raw body.
func (r *phmRun) send(t *testing.T, account string, vouchers ...[]byte) (int, string) {
	t.Helper()
	req, err := http.NewRequest("POST", r.srv.URL()+"/v1/phm/vouchers?user_id="+account, bytes.NewReader(bytes.Join(vouchers, nil)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set("Authorization", "Bearer "+r.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// mustSendAlike sends one voucher and checks the answer is the one every
// well-formed single voucher gets.
func (r *phmRun) mustSendAlike(t *testing.T, what string, v []byte) {
	t.Helper()
	code, body := r.send(t, "user-7", v)
	if code != http.StatusAccepted || body != `{"received":1}`+"\n" {
		t.Fatalf("%s: %d %q, want the answer of every voucher", what, code, body)
	}
}

func (r *phmRun) listCases(t *testing.T) []*vigil.Case {
	t.Helper()
	cs, err := r.cases.ListCases(context.Background(), vigil.CaseFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// TestPHMVouchersThroughHTTP runs the review service inside the API: s
// synthetic vouchers, a non-matching one and t real ones (one of them a
// collision of the exact table) open no case and are answered alike; the
// (t+1)th real one opens exactly one case, holding only the items the
// second check confirmed (the collision is refused, audited and counted);
// a replay counts nothing; and a restart in the middle changes nothing.
func TestPHMVouchersThroughHTTP(t *testing.T) {
	for _, restart := range []bool{false, true} {
		name := "one run"
		if restart {
			name = "restart before the last voucher"
		}
		t.Run(name, func(t *testing.T) {
			w := newPHMWorld(t)
			run := w.start(t, true)
			// rate 1: the first s vouchers are synthetic, whatever the image.
			for i := range w.p.S {
				run.mustSendAlike(t, "synthetic", w.voucher(t, w.unlisted[i]))
			}
			run.mustSendAlike(t, "non-matching", w.voucher(t, w.unlisted[w.p.S]))
			run.mustSendAlike(t, "collision", w.voucher(t, w.collision))
			// The collision is one of the t real positives: the device
			// cannot tell it from a match, nor can the service until the
			// second check.
			first := w.voucher(t, w.real[0])
			run.mustSendAlike(t, "real 1", first)
			for i := 1; i < w.p.T-1; i++ {
				run.mustSendAlike(t, "real", w.voucher(t, w.real[i]))
			}
			if cs := run.listCases(t); len(cs) != 0 {
				t.Fatalf("%d cases after t real + s synthetic", len(cs))
			}
			st, err := run.store.PHMAccount(context.Background(), "user-7", 0)
			if err != nil {
				t.Fatal(err)
			}
			if st.Positives != w.p.S+w.p.T || st.Key != nil {
				t.Fatalf("after t real + s synthetic: %d positives, recovered %v", st.Positives, st.Key != nil)
			}
			if restart {
				run.stop()
				run = w.start(t, false)
			}
			run.mustSendAlike(t, "real t+1", w.voucher(t, w.real[w.p.T-1]))
			cs := run.listCases(t)
			if len(cs) != 1 {
				t.Fatalf("%d cases after t+1 real, want 1", len(cs))
			}
			c := cs[0]
			if c.Content.UserID != "user-7" || c.Content.ContentID != "phm:user-7/0" || c.Queue != "e2ee" {
				t.Fatalf("case content %+v queue %s", c.Content, c.Queue)
			}
			// Only the t confirmed real items of the t+1 revealed (the
			// collision is not one):
			// one match per item, each its own bank entry.
			got := map[int64]bool{}
			for _, m := range c.Matches {
				if m.Distance > pdq.MatchThreshold {
					t.Fatalf("a match at distance %d", m.Distance)
				}
				got[m.EntryID] = true
			}
			if len(got) != w.p.T {
				t.Fatalf("case matches entries %v, want the %d real items", got, w.p.T)
			}
			// The media is the contact sheet of the confirmed derivatives.
			media := run.media.blobs[c.Content.MediaID]
			img, err := jpeg.Decode(bytes.NewReader(media))
			if err != nil {
				t.Fatalf("case media: %v", err)
			}
			if b := img.Bounds(); b.Dx() != 2*client.DerivativeSide || b.Dy() != client.DerivativeSide {
				t.Fatalf("contact sheet of 2 is %v, want the two derivatives side by side", b)
			}
			// The collision is recorded, never shown as a match.
			recs, err := run.audit.ListAudit(context.Background(), 0, 1000)
			if err != nil {
				t.Fatal(err)
			}
			var check map[string]any
			for _, rec := range recs {
				if rec.Action == phmserver.AuditPHMSecondCheck {
					if check != nil {
						t.Fatal("two second-check records for one recovery")
					}
					if err := json.Unmarshal([]byte(rec.Detail), &check); err != nil {
						t.Fatal(err)
					}
				}
			}
			if check["confirmed"] != float64(w.p.T) || check["rejected"] != float64(1) {
				t.Fatalf("second-check record %v", check)
			}
			if !restart {
				if got := run.srv.PHM.Stats.Rejected(); got != 1 {
					t.Fatalf("rejected count %d", got)
				}
			}
			// A replay counts nothing and opens nothing, and looks alike.
			before, _ := run.store.PHMAccount(context.Background(), "user-7", 0)
			run.mustSendAlike(t, "replay", first)
			after, _ := run.store.PHMAccount(context.Background(), "user-7", 0)
			if after.Positives != before.Positives {
				t.Fatalf("a replay counted: %d → %d positives", before.Positives, after.Positives)
			}
			if cs := run.listCases(t); len(cs) != 1 {
				t.Fatalf("%d cases after a replay", len(cs))
			}
		})
	}
}

// TestPHMVouchersRefused: only bytes that are not vouchers are refused,
// the whole batch at once; the role and the account are required.
func TestPHMVouchersRefused(t *testing.T) {
	w := newPHMWorld(t)
	run := w.start(t, true)
	good := w.voucher(t, w.unlisted[0])
	size := w.p.VoucherSize()
	bad := bytes.Clone(good)
	bad[0] ^= 0xff // the version byte
	for _, tc := range []struct {
		what    string
		account string
		body    []byte
		want    int
	}{
		{"empty", "u", nil, 400},
		{"short", "u", good[:size-1], 400},
		{"one and a bit", "u", append(bytes.Clone(good), 0), 400},
		{"bad version in a batch", "u", bytes.Join([][]byte{good, bad}, nil), 400},
		{"no account", "", good, 400},
		{"too many", "u", bytes.Repeat(good, vhttp.MaxPHMBatch+1), 413},
	} {
		if code, body := run.send(t, tc.account, tc.body); code != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.what, code, body, tc.want)
		}
	}
	if st, err := run.store.PHMAccount(context.Background(), "u", 0); err == nil {
		t.Fatalf("a refused batch counted: %+v", st)
	}
	// A full batch of well-formed vouchers is taken whole.
	if code, body := run.send(t, "u", bytes.Repeat(good, vhttp.MaxPHMBatch)); code != 202 || !strings.Contains(body, `"received":16`) {
		t.Fatalf("full batch: %d %s", code, body)
	}
	// A reviewer's key may not submit vouchers.
	rk, err := sqlite.NewKeyService(run.db).CreateKey(context.Background(), &vigil.Key{Name: "rev", Role: vigil.RoleReviewer, CreatedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", run.srv.URL()+"/v1/phm/vouchers?user_id=u", bytes.NewReader(good))
	req.Header.Set("Authorization", "Bearer "+rk)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 {
		t.Fatalf("reviewer: %d, want 403", resp.StatusCode)
	}
}
