package http_test

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
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

// hangUpBanks makes the client hang up between a bank's creation and the
// end of the handler: CreateBank tells the test the bank is made, then
// waits until the server has seen the connection reset.
type hangUpBanks struct {
	vigil.BankService
	made chan struct{}
}

func (b *hangUpBanks) CreateBank(ctx context.Context, bank *vigil.Bank) error {
	if err := b.BankService.CreateBank(ctx, bank); err != nil {
		return err
	}
	b.made <- struct{}{}
	<-ctx.Done()
	return nil
}

// TestAuditAfterHangUp is the deterministic form of
// TestAuditSurvivesClientReset: the client resets its connection once the
// bank is made, before the handler ends; the record is there all the same.
func TestAuditAfterHangUp(t *testing.T) {
	banks := &hangUpBanks{made: make(chan struct{})}
	ts := mustOpenServer(t, func(s *vhttp.Server) { banks.BankService = s.Banks; s.Banks = banks })
	c, err := net.Dial("tcp", strings.TrimPrefix(ts.URL(), "http://"))
	if err != nil {
		t.Fatal(err)
	}
	body := `{"name":"hung-up"}`
	fmt.Fprintf(c, "POST /v1/banks HTTP/1.1\r\nHost: vigil\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		ts.keys[vigil.RoleCurator], len(body), body)
	<-banks.made
	c.(*net.TCPConn).SetLinger(0)
	c.Close()
	sctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := ts.Close(sctx); err != nil {
		t.Fatal(err)
	}
	recs, err := ts.Audit.ListAudit(context.Background(), 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Action != vigil.AuditBankCreate || recs[0].Target != "bank:hung-up" || !strings.Contains(recs[0].Detail, `"id":1`) {
		t.Fatalf("log after hang-up: %+v", recs)
	}
}
