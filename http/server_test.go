package http_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/grooming"
	"github.com/vigil-oss/vigil/hashing"
	vhttp "github.com/vigil-oss/vigil/http"
	"github.com/vigil-oss/vigil/matcher"
	"github.com/vigil-oss/vigil/report"
	"github.com/vigil-oss/vigil/sqlite"
)

const imagePDQ = "da4b8b371a4aeb359ae1ef409a41049a5fb7f0aca503f49ea1bc70abb1bc700b"

// testServer is a running API on a fresh store, with one key per role.
type testServer struct {
	*vhttp.Server
	keys map[vigil.Role]string
	db   *sqlite.DB // the store's database, for services the server does not hold
}

// mustOpenServer opens a test server; options, if any, change it before it
// opens.
func mustOpenServer(tb testing.TB, options ...func(*vhttp.Server)) *testServer {
	tb.Helper()
	ctx := context.Background()
	logger := slog.New(slog.DiscardHandler)
	db, err := sqlite.Open(ctx, tb.TempDir(), logger)
	if err != nil {
		tb.Fatal(err)
	}
	banks, entries, keys := sqlite.NewBankService(db), sqlite.NewEntryService(db), sqlite.NewKeyService(db)
	m := matcher.New(banks, entries, logger)
	signals := sqlite.NewSignalStore(db)
	m.SetSignalStore(signals)
	if err := m.Load(ctx); err != nil {
		tb.Fatal(err)
	}
	s := vhttp.NewServer()
	s.Addr, s.Banks, s.Entries, s.Keys, s.Matcher, s.Logger = "127.0.0.1:0", banks, entries, keys, m, logger
	s.Hashing = hashing.Options{Limits: hashing.Limits{MaxBytes: 4 << 20}, Dihedral: true}
	s.Conversations, s.Grooming, s.ConversationRetention = sqlite.NewConversationService(db), grooming.NewDetector(grooming.Options{}), time.Hour
	s.Audit = sqlite.NewAuditService(db)
	s.Signals, s.KeepSignals = signals, time.Hour
	s.Cases, s.Rules, s.Media = sqlite.NewCaseService(db), sqlite.NewRuleService(db), newMemMedia()
	s.Incidents = sqlite.NewIncidentService(db)
	s.Items = sqlite.NewContentItemService(db)
	s.Preservation = sqlite.NewPreservationService(db)
	s.Complaints = sqlite.NewComplaintService(db, s.Cases.(*sqlite.CaseService))
	s.Transparency = sqlite.NewTransparencyService(db)
	s.Lookups = sqlite.NewLookupCounter(db)
	s.Sessions = sqlite.NewSessionService(db)
	feeds := sqlite.NewFeedService(db)
	s.Feeds, s.Subscriptions = feeds, feeds
	// Sends nowhere until a test gives it a queue (SubmissionQueue).
	s.Submitter = &report.Submitter{Incidents: s.Incidents, Submissions: sqlite.NewSubmissionService(db),
		Destinations: []report.Destination{&report.NCMEC{Validator: &report.Validator{}, Client: &report.ISPWS{BaseURL: "http://127.0.0.1:9/ispws"}}}}
	for _, o := range options {
		o(s)
	}
	if err := s.Open(); err != nil {
		tb.Fatal(err)
	}
	ts := &testServer{Server: s, keys: map[vigil.Role]string{}, db: db}
	for _, role := range []vigil.Role{vigil.RoleAdmin, vigil.RoleCurator, vigil.RoleMatcher, vigil.RoleReviewer} {
		secret, err := keys.CreateKey(ctx, &vigil.Key{Name: string(role), Role: role, CreatedBy: "test"})
		if err != nil {
			tb.Fatal(err)
		}
		ts.keys[role] = secret
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Close(ctx)
		db.Close()
	})
	return ts
}

// do sends a request as role ("" for none) and decodes a JSON response
// into out (if not nil), returning the status.
func (ts *testServer) do(tb testing.TB, role vigil.Role, method, path, contentType string, body io.Reader, out any) int {
	tb.Helper()
	req, err := http.NewRequest(method, ts.URL()+path, body)
	if err != nil {
		tb.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if role != "" {
		req.Header.Set("Authorization", "Bearer "+ts.keys[role])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			tb.Fatalf("%s %s: status %d, body %q: %v", method, path, resp.StatusCode, data, err)
		}
	}
	return resp.StatusCode
}

func jsonBody(v any) io.Reader {
	b, _ := json.Marshal(v)
	return bytes.NewReader(b)
}

type apiError struct {
	Error struct{ Code, Message string }
}

func TestAuth(t *testing.T) {
	ts := mustOpenServer(t)
	if code := ts.do(t, "", "GET", "/healthz", "", nil, nil); code != 200 {
		t.Fatalf("healthz %d", code)
	}
	if code := ts.do(t, "", "GET", "/readyz", "", nil, nil); code != 200 {
		t.Fatalf("readyz %d", code)
	}
	// No key, wrong key: 401 with a JSON error.
	var e apiError
	if code := ts.do(t, "", "GET", "/v1/banks", "", nil, &e); code != 401 || e.Error.Code != vigil.EUNAUTHORIZED {
		t.Fatalf("no key: %d %+v", code, e)
	}
	req, _ := http.NewRequest("GET", ts.URL()+"/v1/banks", nil)
	req.Header.Set("Authorization", "Bearer vgl_notakey")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("wrong key: %d", resp.StatusCode)
	}
	// Wrong role: 403.
	for _, tc := range []struct {
		role         vigil.Role
		method, path string
		want         int
	}{
		{vigil.RoleMatcher, "POST", "/v1/banks", 403},
		{vigil.RoleReviewer, "POST", "/v1/lookup", 403},
		{vigil.RoleCurator, "POST", "/v1/keys", 403},
		{vigil.RoleMatcher, "GET", "/metrics", 403},
		{vigil.RoleAdmin, "GET", "/metrics", 200},
		{vigil.RoleReviewer, "GET", "/v1/banks", 200},
		{vigil.RoleMatcher, "GET", "/v1/openapi.json", 200},
		{"", "GET", "/v1/openapi.json", 401},
	} {
		if code := ts.do(t, tc.role, tc.method, tc.path, "application/json", strings.NewReader("{}"), nil); code != tc.want {
			t.Errorf("%s %s as %q: %d, want %d", tc.method, tc.path, tc.role, code, tc.want)
		}
	}
	// A revoked key stops working at once.
	var created struct {
		Key    vigil.Key
		Secret string
	}
	if code := ts.do(t, vigil.RoleAdmin, "POST", "/v1/keys", "", jsonBody(map[string]string{"name": "temp", "role": "matcher"}), &created); code != 201 {
		t.Fatalf("create key %d", code)
	}
	ts.keys["temp"] = created.Secret
	if code := ts.do(t, "temp", "GET", "/v1/index/status", "", nil, nil); code != 200 {
		t.Fatalf("new key: %d", code)
	}
	if code := ts.do(t, vigil.RoleAdmin, "DELETE", "/v1/keys/"+itoa(created.Key.ID), "", nil, nil); code != 200 {
		t.Fatalf("revoke %d", code)
	}
	if code := ts.do(t, "temp", "GET", "/v1/index/status", "", nil, nil); code != 401 {
		t.Fatalf("revoked key: %d", code)
	}
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func TestBanksEntriesAndMatching(t *testing.T) {
	ts := mustOpenServer(t)
	img, err := os.ReadFile("testdata/smooth-129x300.png")
	if err != nil {
		t.Fatal(err)
	}
	cur := vigil.RoleCurator
	var bank vigil.Bank
	if code := ts.do(t, cur, "POST", "/v1/banks", "", jsonBody(map[string]any{"name": "hotline", "description": "test list"}), &bank); code != 201 || !bank.Enabled {
		t.Fatalf("create bank %d %+v", code, bank)
	}
	var e apiError
	if code := ts.do(t, cur, "POST", "/v1/banks", "", jsonBody(map[string]any{"name": "hotline"}), &e); code != 409 {
		t.Fatalf("duplicate bank: %d %+v", code, e)
	}
	if code := ts.do(t, cur, "POST", "/v1/banks", "", jsonBody(map[string]any{"name": "Bad Name!"}), &e); code != 400 {
		t.Fatalf("bad name: %d", code)
	}
	if code := ts.do(t, cur, "POST", "/v1/banks", "", strings.NewReader(`{"name":"x","colour":"red"}`), &e); code != 400 || !strings.Contains(e.Error.Message, "colour") {
		t.Fatalf("unknown field: %d %+v", code, e)
	}
	// An entry 3 bits from the image's hash, with provenance.
	near := []byte(imagePDQ)
	near[63] = "0123456789abcdef"[(strings.IndexByte("0123456789abcdef", near[63])^7)%16]
	var added struct {
		Result  vigil.ImportResult
		Entries []vigil.Entry
	}
	body := map[string]any{"entries": []map[string]string{{"signal_type": "pdq", "value": string(near), "source": "ncmec", "source_entry_id": "N-42", "category": "A1"}}}
	if code := ts.do(t, cur, "POST", "/v1/banks/hotline/entries", "", jsonBody(body), &added); code != 201 || added.Result.Added != 1 {
		t.Fatalf("add entries %d %+v", code, added)
	}
	var m struct {
		Content struct{ Format string }
		Signals []vigil.Signal
		Matched bool
		Results []vigil.MatchResult
	}
	// Raw body.
	if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/match", "image/png", bytes.NewReader(img), &m); code != 200 {
		t.Fatalf("match %d", code)
	}
	if !m.Matched || m.Signals[0].Value != imagePDQ || len(m.Signals[0].Dihedral) != 7 || m.Content.Format != "png" {
		t.Fatalf("match response: %+v", m)
	}
	got := m.Results[0].Matches[0]
	if got.Bank != "hotline" || got.Distance != 3 || got.Source != "ncmec" || got.SourceEntryID != "N-42" || got.Category != "A1" || got.EntryID != added.Entries[0].ID {
		t.Fatalf("match provenance: %+v", got)
	}
	// Multipart upload.
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, _ := mw.CreateFormFile("file", "x.png")
	fw.Write(img)
	mw.Close()
	if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/match", mw.FormDataContentType(), &buf, &m); code != 200 || !m.Matched {
		t.Fatalf("multipart match %d %+v", code, m)
	}
	// Lookup by hash.
	var lr struct{ Results []vigil.MatchResult }
	if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/lookup", "", jsonBody(map[string]any{"signals": []map[string]string{{"type": "pdq", "value": imagePDQ}}}), &lr); code != 200 || len(lr.Results[0].Matches) != 1 {
		t.Fatalf("lookup %d %+v", code, lr)
	}
	// Caller mistakes are 4xx naming the problem, never 500.
	for _, tc := range []struct {
		body string
		code int
		msg  string
	}{
		{`{"signals":[{"type":"pdq","value":"zz"}]}`, 400, "signal 0"},
		{`{"signals":[{"type":"md5","value":"` + imagePDQ + `"}]}`, 400, "32 hex"},
		{`{"signals":[]}`, 400, "empty"},
		{`{"signals":`, 400, "JSON"},
		{`{"signals":[{"type":"pdq","value":"` + imagePDQ + `"}]} {}`, 400, "after"},
		{`{"signals":[` + strings.Repeat(`{"type":"md5","value":"00000000000000000000000000000000"},`, 1000) + `{"type":"md5","value":"00000000000000000000000000000000"}]}`, 413, "1000"},
	} {
		var e apiError
		if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/lookup", "", strings.NewReader(tc.body), &e); code != tc.code || !strings.Contains(e.Error.Message, tc.msg) {
			t.Errorf("lookup %.60s: %d %+v, want %d mentioning %q", tc.body, code, e, tc.code, tc.msg)
		}
	}
	if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/match", "image/png", bytes.NewReader(make([]byte, 5<<20)), &e); code != 413 {
		t.Errorf("oversized upload: %d %+v", code, e)
	}
	if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/lookup", "", bytes.NewReader(make([]byte, 5<<20)), &e); code != 413 {
		t.Errorf("oversized JSON: %d %+v", code, e)
	}
	if code := ts.do(t, cur, "GET", "/v1/banks/nope", "", nil, &e); code != 404 {
		t.Errorf("unknown bank: %d", code)
	}
	if code := ts.do(t, cur, "POST", "/v1/banks/nope/entries", "", jsonBody(body), &e); code != 404 {
		t.Errorf("add to unknown bank: %d", code)
	}
	// A non-image still gets exact hashes and a reason for no PDQ.
	var h struct {
		Signals  []vigil.Signal
		PDQError string `json:"pdq_error"`
	}
	if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/hash", "application/octet-stream", strings.NewReader("hello"), &h); code != 200 || len(h.Signals) != 3 || h.PDQError == "" {
		t.Errorf("hash of a non-image: %d %+v", code, h)
	}
	// Text is searched for listed URLs and keywords.
	text := map[string]any{"entries": []map[string]string{
		{"signal_type": "keyword", "value": "telegram", "category": "platform-move"},
		{"signal_type": "url", "value": "host:badhost.example", "source": "hotline"},
	}}
	if code := ts.do(t, cur, "POST", "/v1/banks/hotline/entries", "", jsonBody(text), nil); code != 201 {
		t.Fatalf("add text entries: %d", code)
	}
	msg := "add me on t3legram, pics at https://cdn.badhost.example/a"
	if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/match", "text/plain; charset=utf-8", strings.NewReader(msg), &m); code != 200 || !m.Matched || len(m.Results[0].Matches) != 2 {
		t.Fatalf("text match %d %+v", code, m)
	}
	if sp := m.Results[0].Matches[0].Span; len(sp) != 2 || msg[sp[0]:sp[1]] == "" {
		t.Errorf("text match span: %+v", m.Results[0].Matches[0])
	}

	// Bulk import (text list) and export round trip.
	list := "# test list\n" + strings.Repeat("0", 63) + "1\n" + strings.Repeat("0", 62) + "11\n"
	var ir vigil.ImportResult
	if code := ts.do(t, cur, "POST", "/v1/banks/hotline/import?signal_type=pdq&source=iwf", "text/plain", strings.NewReader(list), &ir); code != 200 || ir.Added != 2 {
		t.Fatalf("import %d %+v", code, ir)
	}
	if code := ts.do(t, cur, "POST", "/v1/banks/hotline/import?signal_type=pdq", "text/plain", strings.NewReader("abc\n"), &e); code != 400 || !strings.Contains(e.Error.Message, "line 1") {
		t.Errorf("bad import: %d %+v", code, e)
	}
	req, _ := http.NewRequest("GET", ts.URL()+"/v1/banks/hotline/export", nil)
	req.Header.Set("Authorization", "Bearer "+ts.keys[cur])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	csv, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if lines := strings.Count(string(csv), "\n"); lines != 6 || !strings.Contains(string(csv), "N-42") {
		t.Errorf("export: %q", csv)
	}
	var page struct {
		Entries     []vigil.Entry
		NextAfterID int64 `json:"next_after_id"`
	}
	if code := ts.do(t, vigil.RoleReviewer, "GET", "/v1/banks/hotline/entries?limit=2", "", nil, &page); code != 200 || len(page.Entries) != 2 || page.NextAfterID == 0 {
		t.Fatalf("entries page %d %+v", code, page)
	}

	// Retract: the match goes away, history stays.
	var ret vigil.Entry
	if code := ts.do(t, cur, "POST", "/v1/entries/"+itoa(got.EntryID)+"/retract", "", jsonBody(map[string]string{"reason": "false positive"}), &ret); code != 200 || ret.RetractedAt == nil || ret.RetractedBy != "key:2:curator" {
		t.Fatalf("retract %d %+v", code, ret)
	}
	if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/match", "image/png", bytes.NewReader(img), &m); code != 200 || m.Matched {
		t.Fatalf("retracted entry still matches: %+v", m)
	}
	var st vigil.IndexStatus
	if code := ts.do(t, vigil.RoleMatcher, "GET", "/v1/index/status", "", nil, &st); code != 200 || st.Types[vigil.SignalPDQ].Entries != 2 {
		t.Fatalf("index status %d %+v", code, st)
	}
	// Disable the bank.
	if code := ts.do(t, cur, "DELETE", "/v1/banks/hotline", "", nil, &bank); code != 200 || bank.Enabled {
		t.Fatalf("disable %d %+v", code, bank)
	}
}

func TestOpenAPIListsEveryRoute(t *testing.T) {
	ts := mustOpenServer(t)
	var spec struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	if code := ts.do(t, vigil.RoleReviewer, "GET", "/v1/openapi.json", "", nil, &spec); code != 200 || !strings.HasPrefix(spec.OpenAPI, "3.") {
		t.Fatalf("openapi %d", code)
	}
	for _, p := range ts.Routes() {
		method, path, _ := strings.Cut(p, " ")
		if _, ok := spec.Paths[path][strings.ToLower(method)]; !ok {
			t.Errorf("openapi.json does not describe %s", p)
		}
	}
}
