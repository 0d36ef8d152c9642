package stopncii_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/feed/stopncii"
	"github.com/vigil-oss/vigil/sqlite"
)

const pdqA = "da4b8b371a4aeb359ae1ef409a41049a5fb7f0aca503f49ea1bc70abb1bc700b"

// fake answers as StopNCII does: pages chained by nextPageToken, keys
// checked, an outage of failures first answers first.
type fake struct {
	*httptest.Server
	pages    map[string]stopncii.Page // by nextPageToken ("" first)
	failures atomic.Int32             // answer 503 this many times first
	status   int                      // if set, answer this always
	feedback []stopncii.Feedback
	requests atomic.Int32
}

func newFake(t *testing.T) *fake {
	f := &fake{pages: map[string]stopncii.Page{}}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		if r.Header.Get("Ocp-Apim-Subscription-Key") != "sub" {
			http.Error(w, "no subscription key", http.StatusUnauthorized)
			return
		}
		if f.status != 0 {
			w.WriteHeader(f.status)
			return
		}
		if f.failures.Add(-1) >= 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		switch r.URL.Path {
		case "/v1/FetchHashes":
			if r.Header.Get("x-functions-key") != "fetch" || r.URL.Query().Get("startTimestamp") == "" {
				http.Error(w, "bad request", http.StatusForbidden)
				return
			}
			p, ok := f.pages[r.URL.Query().Get("nextPageToken")]
			if !ok {
				http.Error(w, "bad token", http.StatusBadRequest)
				return
			}
			json.NewEncoder(w).Encode(p)
		case "/v1/SubmitFeedback":
			if r.Header.Get("x-functions-key") != "feedback" || r.Method != http.MethodPost {
				http.Error(w, "forbidden", http.StatusForbidden)
				return
			}
			var body struct {
				Count         int                 `json:"count"`
				HashFeedbacks []stopncii.Feedback `json:"hashFeedbacks"`
			}
			b, _ := io.ReadAll(r.Body)
			if err := json.Unmarshal(b, &body); err != nil || body.Count != len(body.HashFeedbacks) {
				http.Error(w, "bad body", http.StatusBadRequest)
				return
			}
			f.feedback = append(f.feedback, body.HashFeedbacks...)
			w.Write([]byte("{}"))
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fake) client() *stopncii.Client {
	return &stopncii.Client{BaseURL: f.URL + "/v1", SubscriptionKey: "sub", FetchKey: "fetch", FeedbackKey: "feedback",
		Sleep: func(ctx context.Context, d time.Duration) error { return nil }}
}

func md5(i int) string { return fmt.Sprintf("%032x", i) }

func TestPull(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	banks, entries := sqlite.NewBankService(db), sqlite.NewEntryService(db)
	bank := &vigil.Bank{Name: "stopncii", Enabled: true}
	if err := banks.CreateBank(ctx, bank); err != nil {
		t.Fatal(err)
	}

	f := newFake(t)
	f.pages[""] = stopncii.Page{Count: 3, NextPageToken: "p2", HasMoreRecords: true, HashRecords: []stopncii.Record{
		{SignalType: "ImagePDQ", HashValue: pdqA, HashStatus: "Active"},
		{SignalType: "VideoMD5", HashValue: md5(1), HashStatus: "Received"},
		{SignalType: "VideoTMK", HashValue: "tmk", HashStatus: "Active"}, // not held by banks
	}}
	f.pages["p2"] = stopncii.Page{Count: 1, NextSetTimestamp: 1700000000, HashRecords: []stopncii.Record{
		{SignalType: "VideoMD5", HashValue: md5(2), HashStatus: "Active"},
	}}
	f.failures.Store(2) // an outage the retries ride out
	res, err := stopncii.Pull(ctx, f.client(), entries, bank.ID, 10, "stopncii-sync")
	if err != nil {
		t.Fatal(err)
	}
	if res != (stopncii.PullResult{Checkpoint: 1700000000, Added: 3, Skipped: 1}) {
		t.Fatalf("pull = %+v", res)
	}

	// Later: one hash withdrawn. A second run is harmless.
	f.pages[""] = stopncii.Page{Count: 1, NextSetTimestamp: 1700000100, HashRecords: []stopncii.Record{
		{SignalType: "VideoMD5", HashValue: md5(1), HashStatus: "Withdrawn"},
	}}
	for range 2 {
		if _, err := stopncii.Pull(ctx, f.client(), entries, bank.ID, res.Checkpoint, "stopncii-sync"); err != nil {
			t.Fatal(err)
		}
	}
	es, err := entries.FindEntries(ctx, vigil.EntryFilter{BankID: &bank.ID})
	if err != nil || len(es) != 2 {
		t.Fatalf("active entries = %d, %v", len(es), err)
	}
	for _, e := range es {
		if e.Source != "stopncii" || !strings.HasPrefix(e.SourceEntryID, map[vigil.SignalType]string{vigil.SignalPDQ: "ImagePDQ:", vigil.SignalMD5: "VideoMD5:"}[e.SignalType]) {
			t.Errorf("provenance: %+v", e)
		}
		if e.Value == md5(1) {
			t.Errorf("withdrawn hash still active")
		}
	}

	// A malformed hash stops the pull before anything of its page lands.
	f.pages[""] = stopncii.Page{HashRecords: []stopncii.Record{
		{SignalType: "VideoMD5", HashValue: md5(7), HashStatus: "Active"},
		{SignalType: "ImagePDQ", HashValue: "zz", HashStatus: "Active"},
	}}
	if _, err := stopncii.Pull(ctx, f.client(), entries, bank.ID, 0, "stopncii-sync"); vigil.ErrorCode(err) != vigil.EINVALID {
		t.Fatalf("malformed record: %v", err)
	}
	if es, _ := entries.FindEntries(ctx, vigil.EntryFilter{BankID: &bank.ID}); len(es) != 2 {
		t.Fatalf("a refused page left entries: %d", len(es))
	}
}

func TestFailures(t *testing.T) {
	ctx := context.Background()
	f := newFake(t)
	f.pages[""] = stopncii.Page{}

	c := f.client()
	c.SubscriptionKey = "wrong"
	_, err := c.Fetch(ctx, 0, "")
	if err == nil || f.requests.Load() != 1 {
		t.Fatalf("bad key: %v after %d requests; want one request, no retries", err, f.requests.Load())
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Fatalf("error shows a key: %v", err)
	}

	f.status = http.StatusTooManyRequests
	f.requests.Store(0)
	if _, err := f.client().Fetch(ctx, 0, ""); vigil.ErrorCode(err) != vigil.EUNAVAILABLE || f.requests.Load() != 4 {
		t.Fatalf("429s: %v after %d requests", err, f.requests.Load())
	}
	f.status = 0

	// A page that says more follows without a token is refused.
	f.pages[""] = stopncii.Page{HasMoreRecords: true}
	if _, err := f.client().Fetch(ctx, 0, ""); vigil.ErrorCode(err) != vigil.EINVALID {
		t.Fatalf("page without cursor: %v", err)
	}

	// Feedback: sent once, never retried.
	if err := f.client().SendFeedback(ctx, []stopncii.Feedback{{HashValue: pdqA, FeedbackValue: stopncii.FeedbackNotBlocked}}); err != nil {
		t.Fatal(err)
	}
	if len(f.feedback) != 1 || f.feedback[0].FeedbackValue != "NotBlocked" {
		t.Fatalf("feedback = %+v", f.feedback)
	}
	f.failures.Store(1)
	f.requests.Store(0)
	if err := f.client().SendFeedback(ctx, []stopncii.Feedback{{HashValue: pdqA, FeedbackValue: stopncii.FeedbackBlocked}}); err == nil || f.requests.Load() != 1 {
		t.Fatalf("feedback on 503: %v after %d requests", err, f.requests.Load())
	}
}

func FuzzParsePage(f *testing.F) {
	f.Add([]byte(`{"count":1,"nextPageToken":"x","nextSetTimestamp":5,"hasMoreRecords":true,"hashRecords":[{"signalType":"ImagePDQ","hashValue":"` + pdqA + `","hashStatus":"Active","caseNumbers":{"1":"Active"}}]}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := stopncii.ParsePage(b)
		if err != nil {
			return
		}
		if len(p.HashRecords) > stopncii.MaxPageRecords {
			t.Fatal("over the record bound")
		}
		for i := range p.HashRecords {
			if e, _, ok, err := p.HashRecords[i].Entry(); err == nil && ok && e.Validate() != nil {
				t.Fatalf("entry that does not validate: %+v", e)
			}
		}
	})
}

func TestSyncAndOpinions(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	entries, state, cases := sqlite.NewEntryService(db), sqlite.NewExchangeService(db), sqlite.NewCaseService(db)
	bank := &vigil.Bank{Name: "stopncii", Enabled: true}
	if err := sqlite.NewBankService(db).CreateBank(ctx, bank); err != nil {
		t.Fatal(err)
	}
	f := newFake(t)
	f.pages[""] = stopncii.Page{NextSetTimestamp: 1700000000, HashRecords: []stopncii.Record{
		{SignalType: "ImagePDQ", HashValue: pdqA, HashStatus: "Active"},
		{SignalType: "VideoMD5", HashValue: md5(1), HashStatus: "Active"},
	}}
	if _, err := stopncii.Sync(ctx, f.client(), entries, state, bank.ID, "sync"); err != nil {
		t.Fatal(err)
	}
	if cur, _ := state.ExchangeCursor(ctx, "stopncii", bank.ID); cur != "1700000000" {
		t.Fatalf("cursor %q", cur)
	}
	other := &vigil.Entry{SignalType: vigil.SignalMD5, Value: md5(5), Source: "threatexchange", SourceEntryID: "5"}
	if _, err := entries.AddEntries(ctx, bank.ID, "curator", []*vigil.Entry{other}); err != nil {
		t.Fatal(err)
	}
	held, _ := entries.FindEntries(ctx, vigil.EntryFilter{BankID: &bank.ID})
	if err := cases.CreateQueue(ctx, &vigil.Queue{Name: "q", Roles: []vigil.Role{vigil.RoleReviewer}}); err != nil {
		t.Fatal(err)
	}
	for i, e := range held {
		c := &vigil.Case{Queue: "q", Kind: vigil.CaseKindMatch, RetainUntil: time.Now().Add(time.Hour), Content: vigil.ContentRef{SHA256: fmt.Sprintf("%064x", i+1)},
			Matches: []vigil.Match{{BankID: bank.ID, Bank: "stopncii", EntryID: e.ID, SignalType: e.SignalType, Value: e.Value, Source: e.Source}}}
		if err := cases.OpenCase(ctx, c, "rules"); err != nil {
			t.Fatal(err)
		}
		verdict := vigil.VerdictConfirmed
		if e.SignalType == vigil.SignalMD5 {
			verdict = vigil.VerdictFalsePositive
		}
		if _, err := cases.DecideCase(ctx, c.ID, vigil.Decision{Verdict: verdict, DecidedBy: "rita"}); err != nil {
			t.Fatal(err)
		}
	}
	f.failures.Store(1) // the first send fails, and is not marked sent
	if n, err := stopncii.SendOpinions(ctx, f.client(), state, bank.ID); err == nil || n != 0 {
		t.Fatalf("send on 503: %d, %v", n, err)
	}
	n, err := stopncii.SendOpinions(ctx, f.client(), state, bank.ID)
	if err != nil || n != 2 {
		t.Fatalf("sent %d, %v", n, err)
	}
	got := map[string]string{}
	for _, fb := range f.feedback {
		got[fb.HashValue] = fb.FeedbackValue
	}
	if len(got) != 2 || got[pdqA] != "Blocked" || got[md5(1)] != "NotBlocked" {
		t.Fatalf("feedback %v (another source's entry must not be sent)", got)
	}
	if n, err := stopncii.SendOpinions(ctx, f.client(), state, bank.ID); err != nil || n != 0 {
		t.Fatalf("resent %d, %v", n, err)
	}
}
