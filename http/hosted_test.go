package http_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	vhttp "github.com/vigil-oss/vigil/http"
	"github.com/vigil-oss/vigil/rules"
)

// Three banks, one per reveal level, one entry each, with provenance a
// hosted lookup must not see beyond its bank's level.
var hostedEntries = []struct {
	bank   string
	reveal vigil.Reveal
	value  string
	source string
	srcID  string
	cat    string
}{
	{"full-bank", vigil.RevealFull, "f8f8f0cee0f4a84f06370a22028f67f0b36e2ed596621e1d33e6b39c4e9c9b22", "ncmec", "NCMEC-ENTRY-1", "cat-a1"},
	{"source-bank", vigil.RevealSource, "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "iwf", "IWF-ENTRY-7", "cat-b"},
	{"bank-bank", vigil.RevealBank, "a5a5a5a5f0f0f0f00f0f0f0f5a5a5a5a3c3c3c3cc3c3c3c39696969669696969", "local-list", "LOCAL-ENTRY-3", "cat-c"},
}

// near returns hash with its first n hex digits' low bits flipped: a
// query that matches within the threshold without being the entry.
func near(hash string, n int) string {
	b := []byte(hash)
	for i := range n {
		v, _ := strconv.ParseUint(string(b[i]), 16, 8)
		b[i] = strconv.FormatUint(v^1, 16)[0]
	}
	return string(b)
}

// openHosted opens a server with HMA's routes, the three banks, the
// default rules (so that matches open cases) and a lookup key, whose
// secret it returns.
func openHosted(t *testing.T, limits *vigil.KeyLimits, options ...func(*vhttp.Server)) (*testServer, string, *vigil.Key) {
	t.Helper()
	ctx := context.Background()
	ts := mustOpenServer(t, append([]func(*vhttp.Server){func(s *vhttp.Server) { s.HMA = &vhttp.HMAOptions{} }}, options...)...)
	must(t, ts.Cases.CreateQueue(ctx, &vigil.Queue{Name: rules.DefaultQueue}))
	must(t, ts.Rules.ReplaceFileRules(ctx, rules.Default()))
	for _, e := range hostedEntries {
		b := &vigil.Bank{Name: e.bank, Enabled: true, Reveal: e.reveal}
		must(t, ts.Banks.CreateBank(ctx, b))
		_, err := ts.Entries.AddEntries(ctx, b.ID, "test", []*vigil.Entry{{SignalType: vigil.SignalPDQ, Value: e.value,
			Source: e.source, SourceEntryID: e.srcID, Category: e.cat}})
		must(t, err)
	}
	must(t, ts.Matcher.Refresh(ctx))
	k := &vigil.Key{Name: "partner", Role: vigil.RoleLookup, CreatedBy: "test", Limits: limits}
	secret, err := ts.Keys.CreateKey(ctx, k)
	must(t, err)
	ts.keys[vigil.RoleLookup] = secret
	return ts, secret, k
}

// fillPath puts a value in each {wildcard} of a route's path.
func fillPath(path string) string {
	return regexp.MustCompile(`\{([a-z_]+)\$?\}`).ReplaceAllStringFunc(path, func(w string) string {
		switch strings.Trim(w, "{}$") {
		case "name":
			return "bank-bank"
		case "":
			return ""
		}
		return "1"
	})
}

// TestLookupKeyRoutes walks every registered route, Vigil's and HMA's,
// and checks that a lookup key is refused on all of them but its own
// and the health checks: a route added later is in the walk by itself.
func TestLookupKeyRoutes(t *testing.T) {
	ts, _, _ := openHosted(t, nil)
	own := map[string]bool{"POST /v1/lookup": true}
	public := map[string]bool{"GET /healthz": true, "GET /readyz": true, "GET /status": true, "GET /status/live": true}
	routes := ts.Routes()
	hma := ts.HMARoutes()
	if len(hma) < 20 || len(routes) < 60 {
		t.Fatalf("%d routes, %d HMA routes: the registry is not what the test walks", len(routes), len(hma))
	}
	for _, p := range append(routes, hma...) {
		method, path, _ := strings.Cut(p, " ")
		var body io.Reader
		if method != "GET" && method != "DELETE" {
			body = strings.NewReader("{}")
		}
		code := ts.do(t, vigil.RoleLookup, method, fillPath(path), "application/json", body, nil)
		switch {
		case public[p]:
			if code == 403 || code == 401 {
				t.Errorf("%s: %d for a public route", p, code)
			}
		case own[p]:
			if code == 403 {
				t.Errorf("%s: 403 for the lookup key's own route", p)
			}
		case code != 403:
			t.Errorf("%s as a lookup key: %d, want 403", p, code)
		}
	}
	// Nothing was changed by the refused writes.
	if b, err := ts.Banks.FindBankByName(context.Background(), "bank-bank"); err != nil || !b.Enabled || b.Version != 2 {
		t.Errorf("bank after refused writes: %+v %v", b, err)
	}

	// The review UI: no session for a lookup key.
	c := newUIClient(t, ts)
	if code, _, _ := c.post(t, "/ui/login", url.Values{"key": {ts.keys[vigil.RoleLookup]}, "next": {"/ui/"}}); code != 403 {
		t.Errorf("UI login with a lookup key: %d, want 403", code)
	}
	if code, _, _ := c.get(t, "/ui/banks"); code == 200 {
		t.Errorf("UI banks page after refused login: %d", code)
	}
}

// auditedAction returns the audit records of one action.
func auditedAction(t *testing.T, ts *testServer, action string) []*vigil.AuditRecord {
	t.Helper()
	recs, err := ts.Audit.ListAudit(context.Background(), 0, 10000)
	must(t, err)
	var out []*vigil.AuditRecord
	for _, r := range recs {
		if r.Action == action {
			out = append(out, r)
		}
	}
	return out
}

// lookupRaw posts signals to /v1/lookup as role and returns the status and
// the raw body.
func lookupRaw(t *testing.T, ts *testServer, role vigil.Role, hashes ...string) (int, http.Header, []byte) {
	t.Helper()
	var sigs []map[string]string
	for _, h := range hashes {
		sigs = append(sigs, map[string]string{"type": "pdq", "value": h})
	}
	req, _ := http.NewRequest("POST", ts.URL()+"/v1/lookup", jsonBody(map[string]any{"signals": sigs}))
	req.Header.Set("Authorization", "Bearer "+ts.keys[role])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, data
}

// TestLookupKeyLearnsOnlyWhatBanksReveal is the oracle attack: a lookup
// key queries near and exact copies of every entry and must learn from
// its answers no more than each bank's reveal level, never a listed value.
// A matcher key's answers are unchanged, and only its lookups open cases.
func TestLookupKeyLearnsOnlyWhatBanksReveal(t *testing.T) {
	ts, _, _ := openHosted(t, nil)
	ctx := context.Background()
	for _, e := range hostedEntries {
		for _, q := range []string{near(e.value, 3), e.value} {
			code, _, body := lookupRaw(t, ts, vigil.RoleLookup, q)
			if code != 200 {
				t.Fatalf("lookup %s: %d %s", e.bank, code, body)
			}
			s := string(body)
			var resp struct {
				Results []struct{ Matches []map[string]any }
				Actions any
			}
			if err := json.Unmarshal(body, &resp); err != nil {
				t.Fatal(err)
			}
			if len(resp.Results) != 1 || len(resp.Results[0].Matches) != 1 {
				t.Fatalf("%s: %s", e.bank, s)
			}
			m := resp.Results[0].Matches[0]
			if m["bank"] != e.bank || m["distance"] == nil {
				t.Errorf("%s: every level names the bank and the distance: %s", e.bank, s)
			}
			if q != e.value && strings.Contains(s, e.value) {
				t.Errorf("%s: a near query learned the listed value: %s", e.bank, s)
			}
			for _, f := range []string{"value", "bank_id", "negative"} {
				if _, ok := m[f]; ok {
					t.Errorf("%s: %q shown: %s", e.bank, f, s)
				}
			}
			if resp.Actions != nil {
				t.Errorf("%s: a lookup key's request ran rules: %s", e.bank, s)
			}
			wantField := map[string]bool{
				"entry_id":        e.reveal == vigil.RevealFull,
				"source_entry_id": e.reveal == vigil.RevealFull,
				"category":        e.reveal == vigil.RevealFull,
				"source":          e.reveal != vigil.RevealBank,
			}
			for f, want := range wantField {
				if _, ok := m[f]; ok != want {
					t.Errorf("%s (reveal %s): %q shown %v, want %v: %s", e.bank, e.reveal, f, ok, want, s)
				}
			}
			for _, secret := range []string{e.srcID, e.cat} {
				if e.reveal != vigil.RevealFull && strings.Contains(s, secret) {
					t.Errorf("%s: %q in the answer: %s", e.bank, secret, s)
				}
			}
		}
	}
	cases, err := ts.Cases.ListCases(ctx, vigil.CaseFilter{})
	must(t, err)
	if len(cases) != 0 {
		t.Fatalf("lookup key's queries opened %d cases", len(cases))
	}

	// A matcher key gets the whole match, as before, and its rules act.
	code, _, body := lookupRaw(t, ts, vigil.RoleMatcher, near(hostedEntries[2].value, 3))
	var full struct {
		Results []struct{ Matches []vigil.Match }
		Actions *vigil.Outcome
	}
	if err := json.Unmarshal(body, &full); err != nil || code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	m := full.Results[0].Matches[0]
	if m.Value != hostedEntries[2].value || m.EntryID == 0 || m.BankID == 0 || m.SourceEntryID != "LOCAL-ENTRY-3" || full.Actions == nil || len(full.Actions.Cases) != 1 {
		t.Errorf("matcher key's answer: %s", body)
	}

	// Lowering a bank's level takes effect at once.
	bank := vigil.RevealBank
	if code := ts.do(t, vigil.RoleCurator, "PATCH", "/v1/banks/full-bank", "", jsonBody(vigil.BankUpdate{Reveal: &bank}), nil); code != 200 {
		t.Fatalf("set reveal: %d", code)
	}
	if _, _, body := lookupRaw(t, ts, vigil.RoleLookup, hostedEntries[0].value); strings.Contains(string(body), "NCMEC-ENTRY-1") || strings.Contains(string(body), "entry_id") {
		t.Errorf("after lowering to bank: %s", body)
	}
	recs := auditedAction(t, ts, vigil.AuditBankUpdate)
	if len(recs) != 1 || !strings.Contains(recs[0].Detail, `"reveal":"bank"`) {
		t.Errorf("reveal change audit: %+v", recs)
	}
	bad := vigil.Reveal("everything")
	if code := ts.do(t, vigil.RoleCurator, "PATCH", "/v1/banks/full-bank", "", jsonBody(vigil.BankUpdate{Reveal: &bad}), nil); code != 400 {
		t.Errorf("bad reveal: %d", code)
	}
}

// TestLookupRateLimit: a key out of tokens gets 429 with a Retry-After
// that, waited, lets the next request through.
func TestLookupRateLimit(t *testing.T) {
	ts, _, k := openHosted(t, &vigil.KeyLimits{Rate: 2, Burst: 3})
	q := hostedEntries[0].value
	for i := range 3 {
		if code, _, body := lookupRaw(t, ts, vigil.RoleLookup, q); code != 200 {
			t.Fatalf("request %d of the burst: %d %s", i, code, body)
		}
	}
	code, h, body := lookupRaw(t, ts, vigil.RoleLookup, q)
	var e apiError
	json.Unmarshal(body, &e)
	if code != 429 || e.Error.Code != "rate_limited" || h.Get("Retry-After") != "1" {
		t.Fatalf("past the burst: %d Retry-After %q %s", code, h.Get("Retry-After"), body)
	}
	// Other keys are not limited by it.
	if code, _, _ := lookupRaw(t, ts, vigil.RoleMatcher, q); code != 200 {
		t.Errorf("matcher key: %d", code)
	}
	time.Sleep(time.Second)
	if code, _, body := lookupRaw(t, ts, vigil.RoleLookup, q); code != 200 {
		t.Errorf("after Retry-After: %d %s", code, body)
	}
	var metrics string
	{
		req, _ := http.NewRequest("GET", ts.URL()+"/metrics", nil)
		req.Header.Set("Authorization", "Bearer "+ts.keys[vigil.RoleAdmin])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		metrics = string(b)
	}
	id := strconv.FormatInt(k.ID, 10)
	for _, want := range []string{`vigil_lookups_total{key="` + id + `"} 4`, `vigil_lookups_refused_total{key="` + id + `",limit="rate"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if strings.Contains(metrics, ts.keys[vigil.RoleLookup]) {
		t.Error("metrics hold the key's secret")
	}
}

// TestLookupDailyQuota: signals count against the day's quota, across
// two servers on one store (replicas), and the refusal's Retry-After runs
// to the next UTC midnight.
func TestLookupDailyQuota(t *testing.T) {
	ts, _, k := openHosted(t, &vigil.KeyLimits{Daily: 5}, func(s *vhttp.Server) { s.LookupFlush = time.Hour })
	q := hostedEntries[1].value
	if code, _, body := lookupRaw(t, ts, vigil.RoleLookup, q, q, q); code != 200 {
		t.Fatalf("3 of 5: %d %s", code, body)
	}
	code, h, body := lookupRaw(t, ts, vigil.RoleLookup, q, q, q)
	var e apiError
	json.Unmarshal(body, &e)
	if code != 429 || e.Error.Code != "quota_exceeded" || !strings.Contains(e.Error.Message, "2 are left") {
		t.Fatalf("3 more: %d %s", code, body)
	}
	now := time.Now().UTC()
	toMidnight := time.Date(now.Year(), now.Month(), now.Day()+1, 0, 0, 0, 0, time.UTC).Sub(now).Seconds()
	if ra, _ := strconv.ParseFloat(h.Get("Retry-After"), 64); ra < toMidnight-5 || ra > toMidnight+5 {
		t.Errorf("Retry-After %q, want about %.0f s to UTC midnight", h.Get("Retry-After"), toMidnight)
	}
	if code, _, body := lookupRaw(t, ts, vigil.RoleLookup, q, q); code != 200 {
		t.Fatalf("the last 2: %d %s", code, body)
	}
	if code, _, _ := lookupRaw(t, ts, vigil.RoleLookup, q); code != 429 {
		t.Fatalf("past the quota: %d", code)
	}
	// Close flushes the counts to the store.
	closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	must(t, ts.Close(closeCtx))
	day := vigil.LookupDay(time.Now())
	counts, err := ts.Lookups.LookupCounts(context.Background(), day, day, k.ID)
	must(t, err)
	if len(counts) != 1 || counts[0].Lookups != 5 {
		t.Fatalf("stored counts %+v", counts)
	}

	// A second server on the same store starts from the stored count.
	other := vhttp.NewServer()
	other.Addr, other.Banks, other.Entries, other.Keys, other.Matcher = "127.0.0.1:0", ts.Banks, ts.Entries, ts.Keys, ts.Matcher
	other.Lookups = ts.Lookups
	must(t, other.Open())
	defer other.Close(context.Background())
	ts2 := &testServer{Server: other, keys: ts.keys}
	if code, _, body := lookupRaw(t, ts2, vigil.RoleLookup, q); code != 429 {
		t.Errorf("replica B after A used the quota: %d %s", code, body)
	}
	var got struct{ Counts []vigil.LookupCount }
	if code := ts2.do(t, vigil.RoleAdmin, "GET", "/v1/lookups?from="+day+"&to="+day, "", nil, &got); code != 200 || len(got.Counts) != 1 || got.Counts[0].Lookups != 5 || got.Counts[0].KeyID != k.ID {
		t.Errorf("GET /v1/lookups: %d %+v", code, got)
	}
	if code := ts2.do(t, vigil.RoleAdmin, "GET", "/v1/lookups?from=2026-01-01&to=2028-01-01", "", nil, nil); code != 400 {
		t.Errorf("two years of counts: %d, want 400", code)
	}
}

// TestKeyLimitsAPI: limits are set at creation and changed later by an
// admin, audited, and take effect on the next request.
func TestKeyLimitsAPI(t *testing.T) {
	ts, _, _ := openHosted(t, nil)
	var created struct {
		Key    vigil.Key
		Secret string
	}
	body := jsonBody(map[string]any{"name": "p2", "role": "lookup", "limits": map[string]any{"rate": 1, "burst": 1, "daily": 100}})
	if code := ts.do(t, vigil.RoleAdmin, "POST", "/v1/keys", "", body, &created); code != 201 || created.Key.Limits == nil || created.Key.Limits.Daily != 100 {
		t.Fatalf("create: %d %+v", code, created.Key)
	}
	ts.keys["p2"] = created.Secret
	q := hostedEntries[0].value
	if code, _, _ := lookupRaw(t, ts, "p2", q); code != 200 {
		t.Fatalf("first: %d", code)
	}
	if code, _, _ := lookupRaw(t, ts, "p2", q); code != 429 {
		t.Fatalf("second at rate 1 burst 1: %d", code)
	}
	path := fmt.Sprintf("/v1/keys/%d/limits", created.Key.ID)
	if code := ts.do(t, vigil.RoleCurator, "PUT", path, "", jsonBody(map[string]any{"limits": nil}), nil); code != 403 {
		t.Errorf("curator sets limits: %d", code)
	}
	var k vigil.Key
	if code := ts.do(t, vigil.RoleAdmin, "PUT", path, "", jsonBody(map[string]any{"limits": map[string]any{"rate": 1000}}), &k); code != 200 || k.Limits == nil || k.Limits.Burst != 1000 {
		t.Fatalf("set limits: %d %+v", code, k.Limits)
	}
	if code, _, body := lookupRaw(t, ts, "p2", q); code != 200 {
		t.Errorf("after raising the rate: %d %s", code, body)
	}
	if code := ts.do(t, vigil.RoleAdmin, "PUT", path, "", jsonBody(map[string]any{"limits": map[string]any{"rate": -3}}), nil); code != 400 {
		t.Errorf("negative rate: %d", code)
	}
	recs := auditedAction(t, ts, vigil.AuditKeyLimits)
	if len(recs) != 1 || recs[0].Target != "key:"+strconv.FormatInt(created.Key.ID, 10)+":p2" {
		t.Errorf("limits audit: %+v", recs)
	}
}
