package threatexchange_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/feed/threatexchange"
	"github.com/vigil-oss/vigil/sqlite"
)

const (
	token = "1234567890|abcdefghijklmnopqrstuvwxyz"
	group = "303636684709969"
	pdqA  = "da4b8b371a4aeb359ae1ef409a41049a5fb7f0aca503f49ea1bc70abb1bc700b"
)

func md5(i int) string { return fmt.Sprintf("%032x", i) }

// update renders a threat update as the Graph API sends one.
func update(id int, typ, indicator string, last int64, tags ...string) map[string]any {
	return map[string]any{
		"id": fmt.Sprint(id), "indicator": indicator, "type": typ, "last_updated": fmt.Sprint(last), "should_delete": false,
		"descriptors": map[string]any{"data": []any{map[string]any{
			"id": fmt.Sprint(id*10 + 1), "owner": map[string]any{"id": "616912251743987"}, "tags": tags, "status": "MALICIOUS",
			"added_on": "2020-07-01T18:31:15+0000", "reactions": []any{map[string]any{"key": "HELPFUL", "value": "1,2"}},
		}}},
	}
}

func deletion(id int, typ, indicator string, last int64) map[string]any {
	return map[string]any{"id": fmt.Sprint(id), "indicator": indicator, "type": typ, "last_updated": last, "should_delete": true}
}

// fake answers as the Graph API does: token in the query, pages chained
// by paging.next (a full URL carrying the token), OAuth errors as JSON.
type fake struct {
	*httptest.Server
	mu        sync.Mutex
	pages     map[string][]map[string]any // "after" cursor ("" first) -> updates
	nexts     map[string]string           // after -> next after
	starts    []string                    // start_time of first-page requests
	afters    []string
	fail      map[string]int
	reactions map[string][]string // descriptor -> reactions posted
	status    int
}

func newFake(t *testing.T) *fake {
	f := &fake{pages: map[string][]map[string]any{}, nexts: map[string]string{}, fail: map[string]int{}, reactions: map[string][]string{}}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if r.URL.Query().Get("access_token") != token {
			w.WriteHeader(http.StatusBadRequest) // the Graph API answers a bad token with 400 OAuthException
			fmt.Fprint(w, `{"error":{"message":"Invalid OAuth access token.","type":"OAuthException","code":190,"fbtrace_id":"A1"}}`)
			return
		}
		if f.status != 0 {
			w.WriteHeader(f.status)
			fmt.Fprint(w, `{"error":{"message":"(#10) Application does not have permission for this action","type":"OAuthException","code":10}}`)
			return
		}
		path := strings.TrimPrefix(r.URL.Path, "/v21.0/")
		switch {
		case path == group+"/threat_updates/" && r.Method == http.MethodGet:
			q := r.URL.Query()
			after := q.Get("after")
			if after == "" {
				f.starts = append(f.starts, q.Get("start_time"))
				if q.Get("fields") != threatexchange.Fields {
					http.Error(w, `{"error":{"message":"fields"}}`, http.StatusBadRequest)
					return
				}
			}
			f.afters = append(f.afters, after)
			if f.fail[after] > 0 {
				f.fail[after]--
				w.WriteHeader(http.StatusInternalServerError)
				fmt.Fprint(w, `{"error":{"message":"An unexpected error has occurred.","type":"OAuthException","code":2}}`)
				return
			}
			body := map[string]any{"data": f.pages[after]}
			if n, ok := f.nexts[after]; ok {
				// The next URL repeats the query, token included.
				q.Set("after", n)
				body["paging"] = map[string]any{"cursors": map[string]string{"after": n}, "next": f.URL + r.URL.Path + "?" + q.Encode()}
			}
			json.NewEncoder(w).Encode(body)
		case r.Method == http.MethodGet && r.URL.Query().Get("fields") == "descriptors":
			json.NewEncoder(w).Encode(map[string]any{"id": path, "descriptors": map[string]any{"data": []any{
				map[string]any{"id": path + "1"}, map[string]any{"id": path + "2"}}}})
		case r.Method == http.MethodPost:
			r.ParseForm()
			f.reactions[strings.TrimSuffix(path, "/")] = append(f.reactions[strings.TrimSuffix(path, "/")], r.PostForm.Get("reactions"))
			fmt.Fprint(w, `{"success":true}`)
		default:
			http.Error(w, `{"error":{"message":"Unsupported get request."}}`, http.StatusBadRequest)
		}
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fake) client() *threatexchange.Client {
	return &threatexchange.Client{BaseURL: f.URL + "/v21.0", Token: token, Sleep: func(context.Context, time.Duration) error { return nil }}
}

type stores struct {
	db        *sqlite.DB
	entries   vigil.EntryService
	exchanges vigil.ExchangeService
	cases     *sqlite.CaseService
	bank      *vigil.Bank
}

func openStores(t *testing.T) *stores {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s := &stores{db: db, entries: sqlite.NewEntryService(db), exchanges: sqlite.NewExchangeService(db), cases: sqlite.NewCaseService(db)}
	s.bank = &vigil.Bank{Name: "te", Enabled: true}
	if err := sqlite.NewBankService(db).CreateBank(ctx, s.bank); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *stores) active(t *testing.T) map[string]*vigil.Entry {
	t.Helper()
	es, err := s.entries.FindEntries(context.Background(), vigil.EntryFilter{BankID: &s.bank.ID, Limit: vigil.MaxEntryLimit})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*vigil.Entry{}
	for _, e := range es {
		out[e.Value] = e
	}
	return out
}

var now = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

func TestSync(t *testing.T) {
	ctx := context.Background()
	s := openStores(t)
	f := newFake(t)
	opt := threatexchange.Options{Now: func() time.Time { return now }}
	f.pages[""] = []map[string]any{update(1, "HASH_PDQ", pdqA, 100, "media_type_photo", "csam"), update(2, "HASH_MD5", md5(2), 110)}
	f.nexts[""] = "c2"
	f.pages["c2"] = []map[string]any{update(3, "HASH_VIDEO_MD5", md5(3), 120), update(4, "URI", "https://example.org", 121), deletion(2, "HASH_MD5", md5(2), 130)}
	f.fail["c2"] = 2
	res, err := threatexchange.Sync(ctx, f.client(), s.entries, s.exchanges, s.bank.ID, group, opt)
	if err != nil {
		t.Fatal(err)
	}
	if res.Pages != 2 || res.Added != 3 || res.Retracted != 1 || res.Skipped != 1 || res.Cursor.UpdateTime != 130 {
		t.Fatalf("sync = %+v", res)
	}
	got := s.active(t)
	if e := got[pdqA]; e == nil || e.Source != "threatexchange" || e.SourceEntryID != "1" || e.Category != "csam media_type_photo" {
		t.Errorf("pdq entry: %+v", e)
	}
	if got[md5(2)] != nil || got[md5(3)] == nil || len(got) != 2 {
		t.Errorf("entries: %v", got)
	}
	// The saved cursor holds no token; the next sync starts where this ended.
	saved, _ := s.exchanges.ExchangeCursor(ctx, "threatexchange-"+group, s.bank.ID)
	if strings.Contains(saved, "abcdefghij") {
		t.Fatalf("cursor keeps the token: %s", saved)
	}
	f.pages[""] = nil
	delete(f.nexts, "")
	f.starts = nil
	if _, err := threatexchange.Sync(ctx, f.client(), s.entries, s.exchanges, s.bank.ID, group, opt); err != nil || len(f.starts) != 1 || f.starts[0] != "130" {
		t.Fatalf("second sync: %v, starts %q", err, f.starts)
	}
}

func TestResumeAndFailures(t *testing.T) {
	ctx := context.Background()
	s := openStores(t)
	f := newFake(t)
	opt := threatexchange.Options{Now: func() time.Time { return now }}
	f.pages[""] = []map[string]any{update(1, "HASH_MD5", md5(1), 100)}
	f.nexts[""] = "c2"
	f.pages["c2"] = []map[string]any{update(2, "HASH_MD5", md5(2), 200)}
	f.fail["c2"] = 100 // dies on page two
	if _, err := threatexchange.Sync(ctx, f.client(), s.entries, s.exchanges, s.bank.ID, group, opt); vigil.ErrorCode(err) != vigil.EUNAVAILABLE || !strings.Contains(err.Error(), "unexpected error") {
		t.Fatalf("500s: %v", err)
	}
	saved, _ := s.exchanges.ExchangeCursor(ctx, "threatexchange-"+group, s.bank.ID)
	if cur, _ := threatexchange.ParseCursor(saved); cur.UpdateTime != 100 || len(s.active(t)) != 1 {
		t.Fatalf("after page one: cursor %s, %d entries", saved, len(s.active(t)))
	}
	// Restart: from the time of the last page applied.
	f.fail["c2"] = 0
	f.starts = nil
	res, err := threatexchange.Sync(ctx, f.client(), s.entries, s.exchanges, s.bank.ID, group, opt)
	if err != nil || f.starts[0] != "100" || res.Added != 1 || res.Duplicates != 1 || len(s.active(t)) != 2 {
		t.Fatalf("resume: %v, starts %q, %+v", err, f.starts, res)
	}

	// A bad token: 400 OAuthException, no retry, no token in the error.
	c := f.client()
	c.Token = "999999999|zzzzzzzzzzzzzzzzzzzzzzzzzz"
	_, err = threatexchange.Sync(ctx, c, s.entries, s.exchanges, s.bank.ID, group, opt)
	if vigil.ErrorCode(err) != vigil.EINVALID || !strings.Contains(err.Error(), "OAuthException") || strings.Contains(err.Error(), "zzzzzz") {
		t.Fatalf("bad token: %v", err)
	}
	f.status = http.StatusForbidden
	_, err = threatexchange.Sync(ctx, f.client(), s.entries, s.exchanges, s.bank.ID, group, opt)
	if vigil.ErrorCode(err) != vigil.EFORBIDDEN || strings.Contains(err.Error(), "abcdefghij") {
		t.Fatalf("403: %v", err)
	}
	f.status = 0

	// A malformed page: nothing of it applied, the cursor unmoved.
	f.pages[""] = []map[string]any{update(5, "HASH_MD5", md5(5), 300), update(6, "HASH_PDQ", "nothex", 301)}
	delete(f.nexts, "")
	before, _ := s.exchanges.ExchangeCursor(ctx, "threatexchange-"+group, s.bank.ID)
	if _, err := threatexchange.Sync(ctx, f.client(), s.entries, s.exchanges, s.bank.ID, group, opt); vigil.ErrorCode(err) != vigil.EINVALID {
		t.Fatalf("malformed page: %v", err)
	}
	after, _ := s.exchanges.ExchangeCursor(ctx, "threatexchange-"+group, s.bank.ID)
	if s.active(t)[md5(5)] != nil || before != after {
		t.Fatalf("malformed page applied: cursor %s -> %s", before, after)
	}

	// A next URL on another host is refused: the token would go with it.
	f.pages[""] = nil
	if _, err := f.client().GetUpdates(ctx, group, 0, "https://elsewhere.example/v21.0/x?after=1"); vigil.ErrorCode(err) != vigil.EINVALID {
		t.Fatalf("foreign next: %v", err)
	}

	// A cursor not advanced for StaleAfter is refused unless restarted.
	late := threatexchange.Options{Now: func() time.Time { return now.Add(threatexchange.StaleAfter + time.Hour) }}
	if _, err := threatexchange.Sync(ctx, f.client(), s.entries, s.exchanges, s.bank.ID, group, late); vigil.ErrorCode(err) != vigil.EINVALID {
		t.Fatalf("stale cursor: %v", err)
	}
	late.Restart = true
	f.starts = nil
	if _, err := threatexchange.Sync(ctx, f.client(), s.entries, s.exchanges, s.bank.ID, group, late); err != nil || f.starts[0] != "" {
		t.Fatalf("restart: %v, starts %q", err, f.starts)
	}
}

func FuzzParsePage(f *testing.F) {
	b, _ := json.Marshal(map[string]any{"data": []any{update(1, "HASH_PDQ", pdqA, 100, "a"), deletion(2, "HASH_MD5", md5(2), 5)},
		"paging": map[string]any{"next": "https://graph.facebook.com/v21.0/1/threat_updates/?after=x"}})
	f.Add(b)
	f.Add([]byte(`{"data":[{"id":"1","type":"HASH_MD5","indicator":"x","last_updated":5,"descriptors":{"data":[{"id":"2","owner":{"id":"3"},"tags":{"data":[{"text":"t"}]}}]}}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := threatexchange.ParsePage(b)
		if err != nil {
			return
		}
		if len(p.Data) > threatexchange.MaxPageUpdates {
			t.Fatal("over the update bound")
		}
		for i := range p.Data {
			e, ok, err := p.Data[i].Entry()
			if err == nil && ok && (e.Validate() != nil || len(e.Category) > vigil.MaxEntryFieldLen) {
				t.Fatalf("entry that does not validate: %+v", e)
			}
		}
	})
}

// decide opens a case on a match of e and decides it.
func (s *stores) decide(t *testing.T, n int, e *vigil.Entry, verdict vigil.Verdict) {
	t.Helper()
	ctx := context.Background()
	if n == 1 {
		if err := s.cases.CreateQueue(ctx, &vigil.Queue{Name: "q", Roles: []vigil.Role{vigil.RoleReviewer}}); err != nil {
			t.Fatal(err)
		}
	}
	c := &vigil.Case{Queue: "q", Kind: vigil.CaseKindMatch, RetainUntil: time.Now().Add(24 * time.Hour),
		Content: vigil.ContentRef{SHA256: fmt.Sprintf("%064x", n)},
		Matches: []vigil.Match{{BankID: e.BankID, Bank: "te", EntryID: e.ID, SignalType: e.SignalType, Value: e.Value, Source: e.Source}}}
	if err := s.cases.OpenCase(ctx, c, "rules"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.cases.DecideCase(ctx, c.ID, vigil.Decision{Verdict: verdict, DecidedBy: "rita"}); err != nil {
		t.Fatal(err)
	}
}

func TestSendOpinions(t *testing.T) {
	ctx := context.Background()
	s := openStores(t)
	f := newFake(t)
	f.pages[""] = []map[string]any{update(7, "HASH_MD5", md5(7), 100), update(8, "HASH_MD5", md5(8), 100)}
	if _, err := threatexchange.Sync(ctx, f.client(), s.entries, s.exchanges, s.bank.ID, group, threatexchange.Options{}); err != nil {
		t.Fatal(err)
	}
	// An entry of another source in the same bank: never sent.
	local := &vigil.Entry{SignalType: vigil.SignalMD5, Value: md5(9), Source: "ncmec", SourceEntryID: "9"}
	if _, err := s.entries.AddEntries(ctx, s.bank.ID, "curator", []*vigil.Entry{local}); err != nil {
		t.Fatal(err)
	}
	got := s.active(t)
	s.decide(t, 1, got[md5(7)], vigil.VerdictConfirmed)
	s.decide(t, 2, got[md5(8)], vigil.VerdictFalsePositive)
	s.decide(t, 3, got[md5(9)], vigil.VerdictFalsePositive)

	f.fail[""] = 0
	f.mu.Lock()
	f.status = http.StatusServiceUnavailable // the first send fails: nothing marked sent
	f.mu.Unlock()
	if n, err := threatexchange.SendOpinions(ctx, f.client(), s.exchanges, s.bank.ID); err == nil || n != 0 {
		t.Fatalf("send during an outage: %d, %v", n, err)
	}
	f.mu.Lock()
	f.status = 0
	f.mu.Unlock()
	n, err := threatexchange.SendOpinions(ctx, f.client(), s.exchanges, s.bank.ID)
	if err != nil || n != 2 {
		t.Fatalf("sent %d, %v", n, err)
	}
	want := map[string][]string{"71": {"SAW_THIS_TOO"}, "72": {"SAW_THIS_TOO"}, "81": {"DISAGREE_WITH_TAGS"}, "82": {"DISAGREE_WITH_TAGS"}}
	if fmt.Sprint(f.reactions) != fmt.Sprint(want) {
		t.Fatalf("reactions %v, want %v", f.reactions, want)
	}
	// Sent once: nothing more until a decision changes the counts.
	if n, err := threatexchange.SendOpinions(ctx, f.client(), s.exchanges, s.bank.ID); err != nil || n != 0 {
		t.Fatalf("second send: %d, %v", n, err)
	}
}
