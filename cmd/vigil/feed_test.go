package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	vhttp "github.com/vigil-oss/vigil/http"
	"github.com/vigil-oss/vigil/matcher"
	"github.com/vigil-oss/vigil/sqlite"
)

// TestFeedCommands publishes a bank from one data directory and
// subscribes to it from another, over the API, with the CLI.
func TestFeedCommands(t *testing.T) {
	f := newFeedFixture(t)
	pub, sub, keyFile, vkey, must := f.pub, f.sub, f.keyFile, f.vkey, f.must
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
	if res := runExec(t, "", "feed", "keygen", "--out", keyFile, "again"); res.code != 1 {
		t.Fatalf("keygen over an existing key: exit %d", res.code)
	}
	if !strings.Contains(f.cut, `"batches":1`) {
		t.Fatalf("cut: %s", f.cut)
	}
	srv, secret := f.srv, f.secret
	dir := filepath.Dir(pub)

	url := srv.URL() + "/v1/feeds/list"
	if res := runExec(t, "", "feed", "subscribe", "--data", sub, "--key", "nonsense", "--bank", "mirror", url); res.code != 2 {
		t.Fatalf("subscribe with a bad key: exit %d", res.code)
	}
	out := must("", "feed", "subscribe", "--data", sub, "--key", vkey, "--bank", "mirror", url)
	if !strings.Contains(out, `"applied":1`) {
		t.Fatalf("subscribe: %s", out)
	}
	must("0cc175b9c0f1b6a831c399e269772661\n", "bank", "import", "--data", pub, "--signal-type", "md5", "list", "-")
	must("", "feed", "cut", "--data", pub, "--key-file", keyFile, "list")
	if out := must("", "feed", "sync", "--data", sub, "1"); !strings.Contains(out, `"applied":2`) {
		t.Fatalf("sync: %s", out)
	}
	// A key hand-over, then a cut with the new key and the old one cosigning.
	newKeyFile := filepath.Join(dir, "feed2.key")
	newVkey := strings.TrimSpace(must("", "feed", "keygen", "--out", newKeyFile, "vigil-feed-list"))
	must("", "feed", "rotate", "--data", pub, "--key-file", keyFile, "--new-key-file", newKeyFile, "list")
	must("900150983cd24fb0d6963f7d28e17f72\n", "bank", "import", "--data", pub, "--signal-type", "md5", "list", "-")
	must("", "feed", "cut", "--data", pub, "--key-file", newKeyFile, "--cosign-key-file", keyFile, "list")
	if out := must("", "feed", "sync", "--data", sub, "1"); !strings.Contains(out, `"applied":4`) {
		t.Fatalf("sync across the hand-over: %s", out)
	}
	if !strings.Contains(must("", "feed", "list", "--data", sub), newVkey) {
		t.Error("subscription did not take the new key")
	}
	got := must("", "bank", "export", "--data", sub, "mirror")
	for _, want := range []string{"d41d8cd98f00b204e9800998ecf8427e,ncmec,", "0cc175b9c0f1b6a831c399e269772661,feed:list,"} {
		if !strings.Contains(got, want) {
			t.Errorf("mirror lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(must("", "feed", "list", "--data", sub), secret) {
		t.Error("feed list shows the API key")
	}
}

// TestFeedStopNCII pulls from a local server answering as StopNCII's
// FetchHashes does.
func TestFeedStopNCII(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/FetchHashes" || r.Header.Get("x-functions-key") != "fk" || r.Header.Get("Ocp-Apim-Subscription-Key") != "sk" {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		fmt.Fprint(w, `{"count":1,"nextPageToken":"","nextSetTimestamp":1700000000,"hasMoreRecords":false,
			"hashRecords":[{"lastModtimestamp":1,"signalType":"VideoMD5","hashValue":"d41d8cd98f00b204e9800998ecf8427e","hashStatus":"Active","caseNumbers":{}}]}`)
	}))
	defer srv.Close()
	data := filepath.Join(t.TempDir(), "data")
	if res := runExec(t, "", "init", "--data", data); res.code != 0 {
		t.Fatal(res.stderr)
	}
	t.Setenv("VIGIL_STOPNCII_SUBSCRIPTION_KEY", "sk")
	t.Setenv("VIGIL_STOPNCII_FETCH_KEY", "fk")
	res := runExec(t, "", "feed", "stopncii", "--data", data, "--bank", "ncii", "--base-url", srv.URL+"/v1")
	if res.code != 0 || !strings.Contains(res.stdout, `"checkpoint":1700000000`) || !strings.Contains(res.stdout, `"added":1`) {
		t.Fatalf("exit %d: %s %s", res.code, res.stdout, res.stderr)
	}
	t.Setenv("VIGIL_STOPNCII_FETCH_KEY", "wrong")
	if res := runExec(t, "", "feed", "stopncii", "--data", data, "--bank", "ncii", "--base-url", srv.URL+"/v1"); res.code != 1 || strings.Contains(res.stderr, "wrong") {
		t.Fatalf("wrong key: exit %d: %s", res.code, res.stderr)
	}
}

// feedFixture is a publisher's data directory with a feed of one bank
// ("list", one md5 entry from ncmec) cut once and served over the API,
// a subscriber's empty data directory, and $VIGIL_FEED_API_KEY set to a
// curator key of the publisher.
type feedFixture struct {
	pub, sub, keyFile, vkey string
	cut                     string // the first cut's output
	srv                     *vhttp.Server
	secret                  string
	must                    func(stdin string, args ...string) string
}

func newFeedFixture(t *testing.T) *feedFixture {
	t.Helper()
	dir := t.TempDir()
	f := &feedFixture{pub: filepath.Join(dir, "pub"), sub: filepath.Join(dir, "sub"), keyFile: filepath.Join(dir, "feed.key")}
	f.must = func(stdin string, args ...string) string {
		t.Helper()
		res := runExec(t, stdin, args...)
		if res.code != 0 {
			t.Fatalf("vigil %s: exit %d: %s", strings.Join(args, " "), res.code, res.stderr)
		}
		return res.stdout
	}
	f.must("", "init", "--data", f.pub)
	f.must("", "init", "--data", f.sub)
	f.must("", "bank", "create", "--data", f.pub, "list")
	f.must("d41d8cd98f00b204e9800998ecf8427e\n", "bank", "import", "--data", f.pub, "--signal-type", "md5", "--source", "ncmec", "list", "-")
	f.vkey = strings.TrimSpace(f.must("", "feed", "keygen", "--out", f.keyFile, "vigil-feed-list"))
	f.must("", "feed", "create", "--data", f.pub, "--key-file", f.keyFile, "--bank", "list", "list")
	f.cut = f.must("", "feed", "cut", "--data", f.pub, "--key-file", f.keyFile, "list")

	// Serve the publisher's store, as vigil serve does.
	ctx := context.Background()
	db, err := sqlite.Open(ctx, f.pub, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	banks, entries, keys := sqlite.NewBankService(db), sqlite.NewEntryService(db), sqlite.NewKeyService(db)
	m := matcher.New(banks, entries, slog.New(slog.DiscardHandler))
	if err := m.Load(ctx); err != nil {
		t.Fatal(err)
	}
	f.srv = vhttp.NewServer()
	f.srv.Addr, f.srv.Banks, f.srv.Entries, f.srv.Keys, f.srv.Matcher, f.srv.Feeds = "127.0.0.1:0", banks, entries, keys, m, sqlite.NewFeedService(db)
	if err := f.srv.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		f.srv.Close(ctx)
	})
	if f.secret, err = keys.CreateKey(ctx, &vigil.Key{Name: "peer", Role: vigil.RoleCurator, CreatedBy: "test"}); err != nil {
		t.Fatal(err)
	}
	t.Setenv("VIGIL_FEED_API_KEY", f.secret)
	return f
}

// TestFeedExchanges fetches from local servers answering as NCMEC's hash
// sharing API and ThreatExchange's threat_updates do, twice: the second
// run resumes from the kept cursor.
func TestFeedExchanges(t *testing.T) {
	var ncmecFrom []string
	nc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, _ := r.BasicAuth(); u != "esp" || p != "hunter2-secret" {
			http.Error(w, "<error>Authentication failed</error>", http.StatusUnauthorized)
			return
		}
		ncmecFrom = append(ncmecFrom, r.URL.Query().Get("from"))
		fmt.Fprint(w, `<?xml version="1.0"?><queryResult xmlns="https://hashsharing.ncmec.org/hashsharing/v2"><images count="1" maxTimestamp="2017-10-24T15:10:00Z">`+
			`<image><member id="42">M</member><id>image1</id><classification>A1</classification><fingerprints><md5>d41d8cd98f00b204e9800998ecf8427e</md5></fingerprints></image></images></queryResult>`)
	}))
	defer nc.Close()
	te := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("access_token") != "123456789|te-secret-token-abcdefgh" {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"error":{"message":"Invalid OAuth access token.","type":"OAuthException","code":190}}`)
			return
		}
		fmt.Fprint(w, `{"data":[{"id":"77","indicator":"0cc175b9c0f1b6a831c399e269772661","type":"HASH_MD5","last_updated":"1600000000","should_delete":false,
			"descriptors":{"data":[{"id":"771","owner":{"id":"5"},"tags":["t1"],"status":"MALICIOUS"}]}}]}`)
	}))
	defer te.Close()
	data := filepath.Join(t.TempDir(), "data")
	if res := runExec(t, "", "init", "--data", data); res.code != 0 {
		t.Fatal(res.stderr)
	}
	t.Setenv("VIGIL_NCMEC_HASH_USER", "esp")
	pw := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(pw, []byte("hunter2-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("VIGIL_NCMEC_HASH_PASSWORD_FILE", pw)
	for i := range 2 {
		res := runExec(t, "", "feed", "ncmec", "--data", data, "--bank", "ncmec", "--environment", nc.URL)
		if res.code != 0 || !strings.Contains(res.stdout, fmt.Sprintf(`"added":%d`, 1-i)) {
			t.Fatalf("ncmec run %d: exit %d: %s %s", i, res.code, res.stdout, res.stderr)
		}
	}
	// The second run starts where the first ended (and asks for nothing
	// if that is still the present).
	if len(ncmecFrom) < 1 || ncmecFrom[0] != "1970-01-01T00:00:00Z" || (len(ncmecFrom) == 2 && ncmecFrom[1] == ncmecFrom[0]) || len(ncmecFrom) > 2 {
		t.Errorf("ncmec ranges from %q: the second run did not resume", ncmecFrom)
	}
	if err := os.WriteFile(pw, []byte("wrong-password-xyz"), 0o600); err != nil {
		t.Fatal(err)
	}
	if res := runExec(t, "", "feed", "ncmec", "--data", data, "--bank", "ncmec-b", "--environment", nc.URL); res.code != 1 || !strings.Contains(res.stderr, "401") || strings.Contains(res.stderr, "wrong-password") {
		t.Fatalf("wrong password: exit %d: %s", res.code, res.stderr)
	}

	t.Setenv("VIGIL_THREATEXCHANGE_TOKEN", "123456789|te-secret-token-abcdefgh")
	res := runExec(t, "", "feed", "threatexchange", "--data", data, "--bank", "te", "--privacy-group", "303636684709969", "--base-url", te.URL)
	if res.code != 0 || !strings.Contains(res.stdout, `"added":1`) || !strings.Contains(res.stdout, `"update_time":1600000000`) {
		t.Fatalf("threatexchange: exit %d: %s %s", res.code, res.stdout, res.stderr)
	}
	got := runExec(t, "", "bank", "export", "--data", data, "te").stdout
	if !strings.Contains(got, "md5,0cc175b9c0f1b6a831c399e269772661,threatexchange,77,t1") {
		t.Errorf("export lacks the provenance:\n%s", got)
	}
	t.Setenv("VIGIL_THREATEXCHANGE_TOKEN", "123456789|wrong-token-zzzzzzzzzz")
	if res := runExec(t, "", "feed", "threatexchange", "--data", data, "--bank", "te", "--privacy-group", "303636684709969", "--base-url", te.URL); res.code != 1 || !strings.Contains(res.stderr, "OAuthException") || strings.Contains(res.stderr, "wrong-token") {
		t.Fatalf("wrong token: exit %d: %s", res.code, res.stderr)
	}
}
