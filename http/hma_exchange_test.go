package http_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/feed"
)

// feedPublisher is a second Vigil in the process publishing bank "list"
// (n md5 entries) as feed "list": what an HMA exchange of type vigil_feed
// subscribes to.
type feedPublisher struct {
	*testServer
	url, vkey string
}

func newFeedPublisher(tb testing.TB, n int) *feedPublisher {
	tb.Helper()
	ctx := context.Background()
	ts := mustOpenServer(tb)
	b := &vigil.Bank{Name: "list", Enabled: true}
	if err := ts.Banks.CreateBank(ctx, b); err != nil {
		tb.Fatal(err)
	}
	var es []*vigil.Entry
	for i := 0; i < n; i++ {
		es = append(es, &vigil.Entry{SignalType: vigil.SignalMD5, Value: fmt.Sprintf("%032x", i), Category: "test"})
	}
	if _, err := ts.Entries.AddEntries(ctx, b.ID, "curator", es); err != nil {
		tb.Fatal(err)
	}
	skey, vkey, err := note.GenerateKey(rand.Reader, "vigil-feed-list")
	if err != nil {
		tb.Fatal(err)
	}
	signer, err := note.NewSigner(skey)
	if err != nil {
		tb.Fatal(err)
	}
	if err := ts.Feeds.CreateFeed(ctx, &vigil.Feed{Name: "list", Banks: []string{"list"}, VerifierKey: vkey}); err != nil {
		tb.Fatal(err)
	}
	pub := &feed.Publisher{Feeds: ts.Feeds, Signer: signer}
	for {
		k, err := pub.Cut(ctx, "list")
		if err != nil {
			tb.Fatal(err)
		}
		if k == 0 {
			break
		}
	}
	return &feedPublisher{testServer: ts, url: ts.URL() + "/v1/feeds/list", vkey: vkey}
}

// createBody is POST /c/exchanges's body for a vigil_feed exchange.
func (p *feedPublisher) createBody(bank string) string {
	return fmt.Sprintf(`{"bank":%q,"api":"vigil_feed","api_json":{"url":%q,"verifier_key":%q}}`, bank, p.url, p.vkey)
}

// syncExchange pulls an exchange's feed as vigil feed sync
// --allowed-hosts 127.0.0.1 does, with the publisher's curator key.
func syncExchange(tb testing.TB, ts *testServer, p *feedPublisher) {
	tb.Helper()
	if _, err := trySync(tb, ts, p, "127.0.0.1"); err != nil {
		tb.Fatal(err)
	}
	// The server's matcher refreshes on a timer; the test does not wait.
	if err := ts.Matcher.Refresh(context.Background()); err != nil {
		tb.Fatal(err)
	}
}

// trySync syncs the one subscription of ts, allowing the given hosts.
func trySync(tb testing.TB, ts *testServer, p *feedPublisher, allowed ...string) (int, error) {
	tb.Helper()
	subs, err := ts.Subscriptions.ListSubscriptions(context.Background())
	if err != nil || len(subs) != 1 {
		tb.Fatalf("subscriptions %v %v", subs, err)
	}
	cl := &feed.Client{Subs: ts.Subscriptions, APIKey: p.keys[vigil.RoleCurator], Actor: "test", AllowedHosts: allowed}
	return cl.Sync(context.Background(), subs[0].ID)
}

// TestHMAFeedExchange creates an exchange of type vigil_feed against a
// publisher Vigil, and reads it back the way HMA clients do: listed,
// shown, its fetch status before and after a sync, its entries matchable.
func TestHMAFeedExchange(t *testing.T) {
	p := newFeedPublisher(t, 3)
	ts := mustOpenHMA(t, "127.0.0.1")
	cur := vigil.RoleCurator
	jsonReq := func(method, path, body string) hmaResp {
		return ts.hma(t, cur, method, path, "application/json", strings.NewReader(body))
	}

	if r := jsonReq("POST", "/c/exchanges", p.createBody("PEER_LIST")); r.code != 201 || r.message(t) != "Created successfully" {
		t.Fatalf("create: %d %q", r.code, r.body)
	}
	if r := jsonReq("POST", "/c/exchanges", p.createBody("PEER_LIST")); r.code != 400 {
		t.Fatalf("create twice: %d %q", r.code, r.body)
	}
	if r := ts.hma(t, cur, "GET", "/c/exchanges", "", nil); r.code != 200 || string(r.body) != `["PEER_LIST"]` {
		t.Fatalf("list: %d %q", r.code, r.body)
	}
	var cfg map[string]any
	ts.hma(t, cur, "GET", "/c/exchange/PEER_LIST", "", nil).json(t, &cfg)
	if cfg["name"] != "PEER_LIST" || cfg["api"] != "vigil_feed" || cfg["enabled"] != true || cfg["url"] != p.url || cfg["verifier_key"] != p.vkey {
		t.Fatalf("exchange %v", cfg)
	}
	// The exchange's bank is a Vigil bank, under HMA's name.
	if r := ts.hma(t, cur, "GET", "/c/bank/PEER_LIST", "", nil); r.code != 200 {
		t.Fatalf("bank: %d %q", r.code, r.body)
	}

	var st map[string]any
	ts.hma(t, cur, "GET", "/c/exchange/PEER_LIST/status", "", nil).json(t, &st)
	for _, k := range []string{"checkpoint_ts", "running_fetch_start_ts", "last_fetch_complete_ts", "last_fetch_succeeded"} {
		if v, ok := st[k]; !ok || v != nil {
			t.Errorf("status before sync %s = %v", k, v)
		}
	}
	if st["up_to_date"] != false || st["fetched_items"] != float64(0) {
		t.Errorf("status before sync %v", st)
	}

	syncExchange(t, ts, p)
	st = nil
	ts.hma(t, cur, "GET", "/c/exchange/PEER_LIST/status", "", nil).json(t, &st)
	if st["last_fetch_succeeded"] != true || st["up_to_date"] != true || st["checkpoint_ts"] == nil ||
		st["checkpoint_ts"] != st["last_fetch_complete_ts"] || st["fetched_items"].(float64) < 1 || st["running_fetch_start_ts"] != nil {
		t.Errorf("status after sync %v", st)
	}
	var matches map[string][]map[string]any
	ts.hma(t, vigil.RoleMatcher, "GET", "/m/lookup?"+url.Values{"signal_type": {"video_md5"}, "signal": {fmt.Sprintf("%032x", 2)}}.Encode(), "", nil).json(t, &matches)
	if len(matches["PEER_LIST"]) != 1 {
		t.Fatalf("lookup %v", matches)
	}

	// Enabling an enabled exchange changes nothing.
	if r := jsonReq("PUT", "/c/exchange/PEER_LIST", `{"enabled":true}`); r.code != 200 || !strings.Contains(string(r.body), `"enabled":true`) {
		t.Errorf("enable: %d %q", r.code, r.body)
	}

	// Each write is in the audit log.
	recs, err := ts.Audit.ListAudit(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, rec := range recs {
		if rec.Target == "bank:peer_list" {
			seen[rec.Action] = true
		}
	}
	if !seen[vigil.AuditSubscriptionCreate] {
		t.Errorf("audit %v", seen)
	}
}

// TestHMAExchangePauseAndDelete follows HMA's exchange_update (enabled)
// and exchange_delete (the exchange and its bank go; {"message":
// "Exchange deleted"}, unknown names included), and the address rule
// checked again when the subscription syncs.
func TestHMAExchangePauseAndDelete(t *testing.T) {
	p := newFeedPublisher(t, 2)
	ts := mustOpenHMA(t, "127.0.0.1")
	cur := vigil.RoleCurator
	jsonReq := func(method, path, body string) hmaResp {
		return ts.hma(t, cur, method, path, "application/json", strings.NewReader(body))
	}
	if r := jsonReq("POST", "/c/exchanges", p.createBody("PEER_LIST")); r.code != 201 {
		t.Fatalf("create: %d %q", r.code, r.body)
	}
	// Allowed when the exchange was made, but a sync that does not allow
	// the host (vigil feed sync without --allowed-hosts) refuses it:
	// the rule holds on every connection, not just at creation.
	if _, err := trySync(t, ts, p); err == nil || !strings.Contains(err.Error(), "address refused") {
		t.Fatalf("sync of a loopback feed without --allowed-hosts: %v", err)
	}
	var vb vigil.Bank
	ts.do(t, cur, "GET", "/v1/banks/peer_list", "", nil, &vb)
	if vb.ActiveEntries != 0 {
		t.Fatalf("refused sync applied %d entries", vb.ActiveEntries)
	}

	// Paused: shown disabled, not synced.
	var cfg map[string]any
	r := jsonReq("PUT", "/c/exchange/PEER_LIST", `{"enabled":false}`)
	r.json(t, &cfg)
	if r.code != 200 || cfg["enabled"] != false {
		t.Fatalf("pause: %d %q", r.code, r.body)
	}
	cfg = nil
	ts.hma(t, cur, "GET", "/c/exchange/PEER_LIST", "", nil).json(t, &cfg)
	if cfg["enabled"] != false {
		t.Errorf("paused exchange shows %v", cfg)
	}
	if _, err := trySync(t, ts, p, "127.0.0.1"); vigil.ErrorCode(err) != vigil.ECONFLICT {
		t.Fatalf("sync of a paused exchange: %v", err)
	}
	if r := jsonReq("PUT", "/c/exchange/PEER_LIST", `{"enabled":true}`); r.code != 200 || !strings.Contains(string(r.body), `"enabled":true`) {
		t.Fatalf("resume: %d %q", r.code, r.body)
	}
	syncExchange(t, ts, p)
	ts.do(t, cur, "GET", "/v1/banks/peer_list", "", nil, &vb)
	if vb.ActiveEntries != 2 {
		t.Fatalf("after resume and sync: %d entries", vb.ActiveEntries)
	}

	// Deleted: gone from the exchange routes, its bank disabled, never
	// synced again; an unknown name is "deleted" too.
	for _, name := range []string{"PEER_LIST", "PEER_LIST", "NEVER_WAS"} {
		if r := ts.hma(t, cur, "DELETE", "/c/exchange/"+name, "", nil); r.code != 200 || r.message(t) != "Exchange deleted" {
			t.Errorf("delete %s: %d %q", name, r.code, r.body)
		}
	}
	if r := ts.hma(t, cur, "GET", "/c/exchange/PEER_LIST", "", nil); r.code != 404 {
		t.Errorf("deleted exchange: %d", r.code)
	}
	if r := ts.hma(t, cur, "GET", "/c/exchanges", "", nil); string(r.body) != "[]" {
		t.Errorf("exchanges after delete: %q", r.body)
	}
	var bank map[string]any
	ts.hma(t, cur, "GET", "/c/bank/PEER_LIST", "", nil).json(t, &bank)
	if bank["matching_enabled_ratio"] != float64(0) {
		t.Errorf("deleted exchange's bank: %v", bank)
	}
	if _, err := trySync(t, ts, p, "127.0.0.1"); vigil.ErrorCode(err) != vigil.ECONFLICT {
		t.Errorf("sync of a deleted exchange: %v", err)
	}
	recs, err := ts.Audit.ListAudit(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	states := 0
	for _, rec := range recs {
		if rec.Action == vigil.AuditSubscriptionState {
			states++
		}
	}
	if states != 3 { // pause, resume, delete
		t.Errorf("%d subscription.state records, want 3", states)
	}
}

// TestHMAFeedExchangeAPI checks the API listing, schema and credentials
// routes, and create's refusals of a bad config.
func TestHMAFeedExchangeAPI(t *testing.T) {
	p := newFeedPublisher(t, 1)
	ts := mustOpenHMA(t)
	cur := vigil.RoleCurator
	if r := ts.hma(t, cur, "GET", "/c/exchanges/apis", "", nil); r.code != 200 || string(r.body) != `["vigil_feed"]` {
		t.Fatalf("apis: %d %q", r.code, r.body)
	}
	var schema struct {
		Config struct {
			Fields []map[string]any `json:"fields"`
		} `json:"config_schema"`
		Credentials *struct{} `json:"credentials_schema"`
	}
	ts.hma(t, cur, "GET", "/c/exchanges/api/vigil_feed/schema", "", nil).json(t, &schema)
	if len(schema.Config.Fields) != 2 || schema.Credentials != nil {
		t.Fatalf("schema %+v", schema)
	}
	for _, f := range schema.Config.Fields {
		for _, k := range []string{"name", "type", "required", "default", "help", "choices"} {
			if _, ok := f[k]; !ok {
				t.Errorf("field %v has no %s", f, k)
			}
		}
	}
	for _, c := range []struct {
		method, path, body string
		code               int
		msg                string
	}{
		{"GET", "/c/exchanges/api/vigil_feed", "", 200, ""},
		{"POST", "/c/exchanges/api/vigil_feed", `{"credential_json":{}}`, 200, ""},
		{"POST", "/c/exchanges/api/vigil_feed", `{"credential_json":{"api_key":"k"}}`, 400, "Vigil does not store exchange credentials: give the publisher's API key to vigil feed sync --api-key-file"},
		{"POST", "/c/exchanges", `{"bank":"PEER","api":"vigil_feed","api_json":{}}`, 400, "Failed to parse `api_json` - url and verifier_key are required"},
		{"POST", "/c/exchanges", `{"bank":"PEER","api":"vigil_feed","api_json":{"url":"ftp://x/v1/feeds/list","verifier_key":"` + p.vkey + `"}}`, 400,
			"Failed to parse `api_json` - url must be http(s)://host/…/v1/feeds/NAME without credentials or query"},
		{"POST", "/c/exchanges", `{"bank":"PEER","api":"vigil_feed","api_json":{"url":"` + p.url + `","verifier_key":"` + p.vkey + `"}}`, 400,
			"Failed to parse `api_json` - url must reach a public address or a host in --hma-allowed-hosts"},
		{"POST", "/c/exchanges", `{"bank":"PEER","api":"vigil_feed","api_json":{"url":"http://h/","verifier_key":"` + p.vkey + `"}}`, 400,
			"Failed to parse `api_json` - url must end in the feed's name"},
		{"POST", "/c/exchanges", `{"bank":"PEER","api":"vigil_feed","api_json":{"url":"` + p.url + `","verifier_key":"nonsense"}}`, 400,
			"Failed to parse `api_json` - verifier_key is not a note verifier key"},
		{"POST", "/c/exchanges", `{"bank":"PEER","api":"vigil_feed","api_json":{"url":"` + p.url + `","verifier_key":"` + p.vkey + `"},"credential_json":{"api_key":"k"}}`, 400,
			"Vigil does not store exchange credentials: give the publisher's API key to vigil feed sync --api-key-file"},
	} {
		r := ts.hma(t, cur, c.method, c.path, "application/json", strings.NewReader(c.body))
		if r.code != c.code || (c.msg != "" && r.message(t) != c.msg) {
			t.Errorf("%s %s %s: %d %q", c.method, c.path, c.body, r.code, r.body)
		}
		if c.code == 200 && string(r.body) != `{"has_set_authentification":false,"supports_authentification":false}`+"\n" && string(r.body) != `{"has_set_authentification":false,"supports_authentification":false}` {
			t.Errorf("%s %s: %q", c.method, c.path, r.body)
		}
	}
	// Nothing was made by the refused creates.
	if r := ts.hma(t, cur, "GET", "/c/exchanges", "", nil); string(r.body) != "[]" {
		t.Errorf("list after refusals %q", r.body)
	}
}
