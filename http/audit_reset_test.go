package http_test

import (
	"context"
	"fmt"
	"iter"
	"net"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	vhttp "github.com/vigil-oss/vigil/http"
)

// sendAndReset writes one request on a raw connection and resets the
// connection at once (SO_LINGER 0, so Close sends RST), the way a hostile
// client hangs up right after sending a change.
func sendAndReset(tb testing.TB, ts *testServer, role vigil.Role, method, path, body string) {
	tb.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(ts.URL(), "http://"))
	if err != nil {
		tb.Fatal(err)
	}
	req := fmt.Sprintf("%s %s HTTP/1.1\r\nHost: vigil\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		method, path, ts.keys[role], len(body), body)
	if _, err := c.Write([]byte(req)); err != nil {
		tb.Fatal(err)
	}
	tc := c.(*net.TCPConn)
	if err := tc.SetLinger(0); err != nil {
		tb.Fatal(err)
	}
	tc.Close()
}

// TestAuditSurvivesClientReset sends audited writes and resets each
// connection at once. Whatever the server made of each request, a change
// and its audit record exist together or not at all, and the chain
// verifies.
func TestAuditSurvivesClientReset(t *testing.T) {
	ts := mustOpenServer(t)
	ctx := context.Background()
	const n = 15

	// Entries to retract, added the ordinary way.
	ts.do(t, vigil.RoleCurator, "POST", "/v1/banks", "", jsonBody(map[string]any{"name": "base"}), nil)
	var added struct {
		Entries []*vigil.Entry `json:"entries"`
	}
	var entries []map[string]string
	for i := range n {
		entries = append(entries, map[string]string{"signal_type": "md5", "value": fmt.Sprintf("%032x", i+1), "source": "test"})
	}
	if code := ts.do(t, vigil.RoleCurator, "POST", "/v1/banks/base/entries", "", jsonBody(map[string]any{"entries": entries}), &added); code != 201 || len(added.Entries) != n {
		t.Fatalf("add entries: %d", code)
	}

	for i := range n {
		sendAndReset(t, ts, vigil.RoleCurator, "POST", "/v1/banks", fmt.Sprintf(`{"name":"reset-%d"}`, i))
		sendAndReset(t, ts, vigil.RoleAdmin, "POST", "/v1/keys", fmt.Sprintf(`{"name":"reset-%d","role":"matcher"}`, i))
		sendAndReset(t, ts, vigil.RoleCurator, "POST", "/v1/entries/"+strconv.FormatInt(added.Entries[i].ID, 10)+"/retract", `{"reason":"test"}`)
		sendAndReset(t, ts, vigil.RoleCurator, "POST", "/v1/banks/base/entries", fmt.Sprintf(`{"entries":[{"signal_type":"md5","value":"%032x","source":"test"}]}`, 1000+i))
	}
	// Shutdown waits for the handlers still running.
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := ts.Close(sctx); err != nil {
		t.Fatal(err)
	}

	recs, err := ts.Audit.ListAudit(ctx, 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	audited := map[string]int{}
	for _, r := range recs {
		audited[r.Action+" "+r.Target]++
	}
	keys, err := ts.Keys.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	keyIDs := map[string]int64{}
	for _, k := range keys {
		keyIDs[k.Name] = k.ID
	}
	var changed, lost int
	for i := range n {
		name := fmt.Sprintf("reset-%d", i)
		_, err := ts.Banks.FindBankByName(ctx, name)
		check(t, &changed, &lost, "bank create "+name, err == nil, audited[vigil.AuditBankCreate+" bank:"+name])

		id, ok := keyIDs[name]
		check(t, &changed, &lost, "key create "+name, ok, audited[vigil.AuditKeyCreate+" key:"+strconv.FormatInt(id, 10)+":"+name])

		e, err := ts.Entries.FindEntryByID(ctx, added.Entries[i].ID)
		if err != nil {
			t.Fatal(err)
		}
		check(t, &changed, &lost, "retract "+strconv.FormatInt(e.ID, 10), e.Retracted(), audited[vigil.AuditEntryRetract+" entry:"+strconv.FormatInt(e.ID, 10)])
	}
	// Entry adds share a target: count them.
	page, err := ts.Entries.FindEntries(ctx, vigil.EntryFilter{IncludeRetracted: true, Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := audited[vigil.AuditEntriesAdd+" bank:base"], 1+len(page)-n; got != want {
		t.Errorf("%d entry adds kept, %d audited", want-1, got-1)
	}
	t.Logf("%d of %d changes made; %d without an audit record", changed, 3*n, lost)
	if nv, brk, err := ts.Audit.VerifyAudit(ctx); err != nil || brk != nil || nv != int64(len(recs)) {
		t.Fatalf("verify: %d %+v %v", nv, brk, err)
	}
}

// check counts a change and fails t if it and its record disagree.
func check(t *testing.T, changed, lost *int, what string, done bool, records int) {
	t.Helper()
	if done {
		*changed++
	}
	switch {
	case done && records == 0:
		*lost++
		t.Errorf("%s: made, not audited", what)
	case !done && records > 0:
		t.Errorf("%s: audited, not made", what)
	case records > 1:
		t.Errorf("%s: audited %d times", what, records)
	}
}

// hangUp makes the client hang up between a change and the end of its
// handler: once armed, the next change through one of the wrapped
// services is made, then the test is told, then the change waits until the
// server has seen the connection reset.
type hangUp struct {
	armed atomic.Bool
	made  chan struct{}
}

func (h *hangUp) after(ctx context.Context, err error) error {
	if err == nil && h.armed.CompareAndSwap(true, false) {
		h.made <- struct{}{}
		<-ctx.Done()
	}
	return err
}

type hangUpBanks struct {
	vigil.BankService
	h *hangUp
}

func (b hangUpBanks) CreateBank(ctx context.Context, bank *vigil.Bank) error {
	return b.h.after(ctx, b.BankService.CreateBank(ctx, bank))
}

func (b hangUpBanks) UpdateBank(ctx context.Context, id int64, upd vigil.BankUpdate) (*vigil.Bank, error) {
	got, err := b.BankService.UpdateBank(ctx, id, upd)
	return got, b.h.after(ctx, err)
}

func (b hangUpBanks) DisableBank(ctx context.Context, id int64) (*vigil.Bank, error) {
	got, err := b.BankService.DisableBank(ctx, id)
	return got, b.h.after(ctx, err)
}

type hangUpEntries struct {
	vigil.EntryService
	h *hangUp
}

func (e hangUpEntries) AddEntries(ctx context.Context, bankID int64, by string, entries []*vigil.Entry) (vigil.ImportResult, error) {
	res, err := e.EntryService.AddEntries(ctx, bankID, by, entries)
	return res, e.h.after(ctx, err)
}

func (e hangUpEntries) ImportEntries(ctx context.Context, bankID int64, by string, entries iter.Seq2[*vigil.Entry, error]) (vigil.ImportResult, error) {
	res, err := e.EntryService.ImportEntries(ctx, bankID, by, entries)
	return res, e.h.after(ctx, err)
}

func (e hangUpEntries) RetractEntry(ctx context.Context, id int64, by, reason string) (*vigil.Entry, error) {
	got, err := e.EntryService.RetractEntry(ctx, id, by, reason)
	return got, e.h.after(ctx, err)
}

type hangUpKeys struct {
	vigil.KeyService
	h *hangUp
}

func (k hangUpKeys) CreateKey(ctx context.Context, key *vigil.Key) (string, error) {
	secret, err := k.KeyService.CreateKey(ctx, key)
	return secret, k.h.after(ctx, err)
}

func (k hangUpKeys) RevokeKey(ctx context.Context, id int64, by string) (*vigil.Key, error) {
	got, err := k.KeyService.RevokeKey(ctx, id, by)
	return got, k.h.after(ctx, err)
}

type hangUpRules struct {
	vigil.RuleService
	h *hangUp
}

func (r hangUpRules) CreateRule(ctx context.Context, rule *vigil.Rule) error {
	return r.h.after(ctx, r.RuleService.CreateRule(ctx, rule))
}

func (r hangUpRules) UpdateRule(ctx context.Context, rule *vigil.Rule) error {
	return r.h.after(ctx, r.RuleService.UpdateRule(ctx, rule))
}

func (r hangUpRules) DeleteRule(ctx context.Context, name string) error {
	return r.h.after(ctx, r.RuleService.DeleteRule(ctx, name))
}

type hangUpCases struct {
	vigil.CaseService
	h *hangUp
}

func (c hangUpCases) DecideCase(ctx context.Context, id int64, d vigil.Decision) (*vigil.Case, error) {
	got, err := c.CaseService.DecideCase(ctx, id, d)
	return got, c.h.after(ctx, err)
}

func (c hangUpCases) AssignCase(ctx context.Context, id int64, to, actor string) (*vigil.Case, error) {
	got, err := c.CaseService.AssignCase(ctx, id, to, actor)
	return got, c.h.after(ctx, err)
}

func (c hangUpCases) QuarantineEntry(ctx context.Context, id int64, reason string) error {
	return c.h.after(ctx, c.CaseService.QuarantineEntry(ctx, id, reason))
}

func (c hangUpCases) ReleaseEntry(ctx context.Context, id int64) error {
	return c.h.after(ctx, c.CaseService.ReleaseEntry(ctx, id))
}

func (c hangUpCases) AddCaseEvent(ctx context.Context, ev *vigil.CaseEvent) error {
	return c.h.after(ctx, c.CaseService.AddCaseEvent(ctx, ev))
}

// TestAuditAfterHangUp is the deterministic form of
// TestAuditSurvivesClientReset, for every audited write route: the client
// resets its connection once the change is made, before the handler ends;
// the change's record is there all the same.
func TestAuditAfterHangUp(t *testing.T) {
	for _, tc := range []struct {
		role               vigil.Role
		method, path, body string
		setup              func(t *testing.T, ts *testServer, f reviewFixture)
		action, target     string
		wantDetail         string
	}{
		{vigil.RoleCurator, "POST", "/v1/banks", `{"name":"hung-up"}`, nil, vigil.AuditBankCreate, "bank:hung-up", `"id":2`},
		{vigil.RoleCurator, "PATCH", "/v1/banks/known", `{"description":"d"}`, nil, vigil.AuditBankUpdate, "bank:known", `"description":"d"`},
		{vigil.RoleCurator, "DELETE", "/v1/banks/known", ``, nil, vigil.AuditBankDisable, "bank:known", ``},
		{vigil.RoleCurator, "POST", "/v1/banks/known/entries", `{"entries":[{"signal_type":"md5","value":"00000000000000000000000000000001"}]}`, nil,
			vigil.AuditEntriesAdd, "bank:known", `"added":1`},
		{vigil.RoleCurator, "POST", "/v1/banks/known/import?signal_type=md5", "00000000000000000000000000000001\n", nil,
			vigil.AuditEntriesImport, "bank:known", `"added":1`},
		{vigil.RoleCurator, "POST", "/v1/entries/1/retract", `{"reason":"test"}`, nil, vigil.AuditEntryRetract, "entry:1", `"reason":"test"`},
		{vigil.RoleCurator, "POST", "/v1/entries/1/quarantine", `{"reason":"test"}`, nil, vigil.AuditEntryQuarantine, "entry:1", `"reason":"test"`},
		{vigil.RoleCurator, "POST", "/v1/entries/1/release", ``, func(t *testing.T, ts *testServer, f reviewFixture) {
			if err := ts.Cases.QuarantineEntry(t.Context(), f.entryID, "test"); err != nil {
				t.Fatal(err)
			}
		}, vigil.AuditEntryRelease, "entry:1", ``},
		{vigil.RoleAdmin, "POST", "/v1/keys", `{"name":"hung-up","role":"matcher"}`, nil, vigil.AuditKeyCreate, "key:5:hung-up", `"id":5`},
		{vigil.RoleAdmin, "DELETE", "/v1/keys/3", ``, nil, vigil.AuditKeyRevoke, "key:3:matcher", `"id":3`},
		{vigil.RoleCurator, "POST", "/v1/rules", `{"name":"quiet","when":{"kind":"match"},"action":{"type":"none"}}`, nil,
			vigil.AuditRuleChange, "rule:quiet", `"op":"create"`},
		{vigil.RoleReviewer, "POST", "/v1/cases/1/assign", ``, nil, vigil.AuditCaseAssign, "case:1", `"to":"key:4:reviewer"`},
		{vigil.RoleReviewer, "POST", "/v1/cases/1/decision", `{"verdict":"false_positive"}`, nil, vigil.AuditCaseDecide, "case:1", `"verdict":"false_positive"`},
		{vigil.RoleReviewer, "GET", "/v1/cases/1/media", ``, nil, vigil.AuditContentReveal, "case:1", `"via":"api"`},
	} {
		t.Run(tc.action+" "+tc.target, func(t *testing.T) {
			h := &hangUp{made: make(chan struct{})}
			ts := mustOpenServer(t, func(s *vhttp.Server) {
				s.Banks = hangUpBanks{s.Banks, h}
				s.Entries = hangUpEntries{s.Entries, h}
				s.Keys = hangUpKeys{s.Keys, h}
				s.Rules = hangUpRules{s.Rules, h}
				s.Cases = hangUpCases{s.Cases, h}
			})
			f := seedReview(t, ts)
			if tc.setup != nil {
				tc.setup(t, ts, f)
			}
			before, err := ts.Audit.ListAudit(t.Context(), 0, 1000)
			if err != nil {
				t.Fatal(err)
			}
			h.armed.Store(true)
			c, err := net.Dial("tcp", strings.TrimPrefix(ts.URL(), "http://"))
			if err != nil {
				t.Fatal(err)
			}
			body := strings.ReplaceAll(tc.body, `\n`, "\n")
			fmt.Fprintf(c, "%s %s HTTP/1.1\r\nHost: vigil\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
				tc.method, tc.path, ts.keys[tc.role], len(body), body)
			// An answer before the change means the request failed.
			answer := make(chan string, 1)
			go func() {
				b := make([]byte, 512)
				n, _ := c.Read(b)
				answer <- string(b[:n])
			}()
			select {
			case <-h.made:
			case a := <-answer:
				t.Fatalf("answered before any change: %q", a)
			}
			c.(*net.TCPConn).SetLinger(0)
			c.Close()
			sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			if err := ts.Close(sctx); err != nil {
				t.Fatal(err)
			}
			recs, err := ts.Audit.ListAudit(t.Context(), int64(len(before)), 1000)
			if err != nil {
				t.Fatal(err)
			}
			var found bool
			for _, r := range recs {
				if r.Action == tc.action && r.Target == tc.target && strings.Contains(r.Detail, tc.wantDetail) {
					found = true
				}
			}
			if !found {
				t.Fatalf("no %s %s record with %s after the hang-up; log: %+v", tc.action, tc.target, tc.wantDetail, recs)
			}
			if n, brk, err := ts.Audit.VerifyAudit(t.Context()); err != nil || brk != nil || n != int64(len(before)+len(recs)) {
				t.Fatalf("verify: %d %+v %v", n, brk, err)
			}
		})
	}
}
