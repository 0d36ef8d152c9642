package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	url2 "net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/internal/pgtest"
	"github.com/vigil-oss/vigil/postgres"
)

// TestServeReplicasPostgres runs two `vigil serve` replicas on one
// PostgreSQL database, each with its own index: an entry added through A
// is matched by B, and its retraction too, without B being told
// anything but the database's notification; the audit records both wrote
// verify as one chain.
func TestServeReplicasPostgres(t *testing.T) {
	url := pgtest.SchemaURL(t)
	// --refresh is long, so that only the notification can bring the
	// change to B in time.
	a := startServe(t, "--db", url, "--refresh", "1h")
	b := startServe(t, "--db", url, "--refresh", "1h")
	if a.key == "" || b.key != "" {
		t.Fatalf("bootstrap keys: A %q, B %q; want one, from the first start only", a.key, b.key)
	}
	b.key = a.key // one store, one set of keys

	const md5 = "0123456789abcdef0123456789abcdef"
	if code, body := a.call("POST", "/v1/banks", "application/json", strings.NewReader(`{"name":"shared","enabled":true}`)); code != 201 {
		t.Fatalf("create bank: %d %s", code, body)
	}
	matched := func(srv *served) bool {
		code, body := srv.call("POST", "/v1/lookup", "application/json",
			strings.NewReader(`{"signals":[{"type":"md5","value":"`+md5+`"}]}`))
		var res struct {
			Results []vigil.MatchResult `json:"results"`
		}
		if err := json.Unmarshal(body, &res); code != 200 || err != nil {
			t.Fatalf("lookup: %d %s", code, body)
		}
		return len(res.Results) == 1 && len(res.Results[0].Matches) == 1
	}
	start := time.Now()
	code, body := a.call("POST", "/v1/banks/shared/entries", "application/json",
		strings.NewReader(`{"entries":[{"signal_type":"md5","value":"`+md5+`"}]}`))
	if code != 201 {
		t.Fatalf("add entry: %d %s", code, body)
	}
	waitFor(t, "B to match the entry added through A", func() bool { return matched(b) })
	t.Logf("entry added through A matched by B %v after the request began", time.Since(start))

	var added struct {
		Entries []vigil.Entry `json:"entries"`
	}
	if err := json.Unmarshal(body, &added); err != nil || len(added.Entries) != 1 {
		t.Fatalf("added: %s", body)
	}
	start = time.Now()
	if code, body := a.call("POST", "/v1/entries/"+jsonInt(added.Entries[0].ID)+"/retract", "application/json",
		strings.NewReader(`{"reason":"test"}`)); code != 200 {
		t.Fatalf("retract: %d %s", code, body)
	}
	waitFor(t, "B to drop the retracted entry", func() bool { return !matched(b) })
	t.Logf("retraction through A seen by B %v after the request began", time.Since(start))

	// A reviewer logged in through A goes on through B: the session is in
	// the database, not in A's memory.
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	login, err := http.NewRequest("POST", a.base+"/ui/login", strings.NewReader(url2.Values{"key": {a.key}, "next": {"/ui/"}}.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	login.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := noRedirect.Do(login)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cookies := resp.Cookies()
	if resp.StatusCode != http.StatusSeeOther || len(cookies) != 1 {
		t.Fatalf("login through A: %d, cookies %v", resp.StatusCode, cookies)
	}
	page, _ := http.NewRequest("GET", b.base+"/ui/banks", nil)
	page.AddCookie(cookies[0])
	resp, err = noRedirect.Do(page)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("page through B with A's session: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}

	out, _, err := runMain(t, "", "audit", "verify", "--db", url)
	if err != nil || !strings.Contains(out, "chain intact") {
		t.Fatalf("audit verify: %s %v", out, err)
	}
	t.Log(strings.TrimSpace(out))
}

func jsonInt(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// TestFeedsAndIncidentsPostgres checks that what was SQLite-only works on
// a PostgreSQL store: the feed commands publish a bank that a replica then
// serves, another instance on PostgreSQL subscribes to it, and the
// incident routes and the report command find an incident made on the
// store.
func TestFeedsAndIncidentsPostgres(t *testing.T) {
	url := pgtest.SchemaURL(t)
	srv := startServe(t, "--db", url, "--refresh", "1h")
	// cli runs a command (two words, then flags and arguments) on the store.
	cli := func(stdin string, args ...string) string {
		t.Helper()
		res := runExec(t, stdin, slices.Concat(args[:2], []string{"--db", url}, args[2:])...)
		if res.code != 0 {
			t.Fatalf("vigil %s: exit %d: %s", strings.Join(args, " "), res.code, res.stderr)
		}
		return res.stdout
	}
	cli("", "bank", "create", "list")
	cli("d41d8cd98f00b204e9800998ecf8427e\n", "bank", "import", "--signal-type", "md5", "--source", "ncmec", "list", "-")
	keyFile := filepath.Join(t.TempDir(), "feed.key")
	kg := runExec(t, "", "feed", "keygen", "--out", keyFile, "vigil-feed-list")
	if kg.code != 0 {
		t.Fatalf("keygen: %s", kg.stderr)
	}
	cli("", "feed", "create", "--key-file", keyFile, "--bank", "list", "list")
	if out := cli("", "feed", "cut", "--key-file", keyFile, "list"); !strings.Contains(out, `"batches":1`) {
		t.Fatalf("cut: %s", out)
	}
	if out := cli("", "feed", "list"); !strings.Contains(out, `"name":"list"`) {
		t.Fatalf("feed list: %s", out)
	}
	if code, body := srv.call("GET", "/v1/feeds/list/head", "", nil); code != 200 || !strings.Contains(string(body), "vigil-feed-list") {
		t.Fatalf("feed head from the replica: %d %s", code, body)
	}
	if code, body := srv.call("GET", "/v1/feeds/list/batches/1?tree=1", "", nil); code != 200 {
		t.Fatalf("feed batch from the replica: %d %s", code, body)
	}
	// Another instance, on a database of its own, subscribes to it.
	mirror := pgtest.SchemaURL(t)
	if res := runExec(t, "", "init", "--db", mirror); res.code != 0 {
		t.Fatalf("init mirror: %s", res.stderr)
	}
	t.Setenv("VIGIL_FEED_API_KEY", srv.key)
	res := runExec(t, "", "feed", "subscribe", "--db", mirror, "--key", strings.TrimSpace(kg.stdout), "--bank", "mirror", srv.base+"/v1/feeds/list")
	if res.code != 0 || !strings.Contains(res.stdout, `"applied":1`) {
		t.Fatalf("subscribe from PostgreSQL: exit %d: %s %s", res.code, res.stdout, res.stderr)
	}
	if res := runExec(t, "", "bank", "export", "--db", mirror, "mirror"); res.code != 0 || !strings.Contains(res.stdout, "d41d8cd98f00b204e9800998ecf8427e") {
		t.Fatalf("mirror bank after the sync: exit %d: %s %s", res.code, res.stdout, res.stderr)
	}
	// An incident made on the store by another process, as a reviewer
	// would through any replica.
	ctx := context.Background()
	db, err := postgres.Open(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cases, incidents := postgres.NewCaseService(db), postgres.NewIncidentService(db)
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(cases.CreateQueue(ctx, &vigil.Queue{Name: "q"}))
	c := &vigil.Case{Queue: "q", Kind: vigil.CaseKindMatch, RetainUntil: time.Now().Add(time.Hour),
		Content: vigil.ContentRef{SHA256: strings.Repeat("ab", 32), UserID: "u-1"},
		Matches: []vigil.Match{{Bank: "list", EntryID: 1, SignalType: vigil.SignalMD5, Value: "d41d8cd98f00b204e9800998ecf8427e"}}}
	must(cases.OpenCase(ctx, c, "rules"))
	c, err = cases.DecideCase(ctx, c.ID, vigil.Decision{Verdict: vigil.VerdictConfirmed, Category: "B1", DecidedBy: "r", DecidedAt: time.Now()})
	must(err)
	inc, err := vigil.NewIncident([]*vigil.Case{c})
	must(err)
	must(incidents.CreateIncident(ctx, inc, "r"))

	if code, body := srv.call("GET", "/v1/incidents", "", nil); code != 200 || !strings.Contains(string(body), `"u-1"`) {
		t.Fatalf("list incidents on the replica: %d %s", code, body)
	}
	cfg := filepath.Join(t.TempDir(), "ncmec.json")
	must(os.WriteFile(cfg, []byte(`{"reporter_email":"safety@example.org","platform":"Example","industry_mou":true}`), 0o600))
	if out := cli("", "report", "render", "--incident", jsonInt(inc.ID), "--ncmec-config", cfg); !strings.Contains(out, "<industryClassification>B1<") {
		t.Fatalf("render: %s", out)
	}
}

// TestServePostgresCreatesDataDir: serve on PostgreSQL keeps its
// per-process files (job spool, media key) in --data, which it creates as
// it does on SQLite.
func TestServePostgresCreatesDataDir(t *testing.T) {
	url := pgtest.SchemaURL(t)
	dir := filepath.Join(t.TempDir(), "not", "yet")
	m := &Main{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard, Logger: slog.New(slog.DiscardHandler)}
	st, err := m.createStore(context.Background(), &storeFlags{data: &dir, db: &url})
	if err != nil {
		t.Fatal(err)
	}
	st.Close()
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		t.Fatalf("data directory not created: %v", err)
	}
}
