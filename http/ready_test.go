package http_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/vigil-oss/vigil"
	vhttp "github.com/vigil-oss/vigil/http"
	"github.com/vigil-oss/vigil/internal/pausedload"
	"github.com/vigil-oss/vigil/matcher"
)

// TestReadyWhileLoading serves a server whose index is still loading:
// /readyz answers 503 with the progress, lookups 503 (not an empty result
// from a partial index), other routes work; once loaded, ready and
// matching.
func TestReadyWhileLoading(t *testing.T) {
	ctx := context.Background()
	var store *pausedload.Store
	done := make(chan error, 1)
	ts := mustOpenServer(t, func(s *vhttp.Server) {
		b := &vigil.Bank{Name: "big", Enabled: true}
		if err := s.Banks.CreateBank(ctx, b); err != nil {
			t.Fatal(err)
		}
		var entries []*vigil.Entry
		for i := range 30 {
			entries = append(entries, &vigil.Entry{SignalType: vigil.SignalMD5, Value: fmt.Sprintf("%032x", i+1)})
		}
		if _, err := s.Entries.AddEntries(ctx, b.ID, "test", entries); err != nil {
			t.Fatal(err)
		}
		store = pausedload.New(s.Entries, 10, "")
		m := matcher.New(s.Banks, store, slog.New(slog.DiscardHandler))
		go func() { done <- m.Load(ctx) }()
		s.Matcher = m
	})
	<-store.Paused
	var ready struct {
		Status        string `json:"status"`
		EntriesLoaded int64  `json:"entries_loaded"`
		EntriesTotal  int64  `json:"entries_total"`
	}
	if code := ts.do(t, "", "GET", "/readyz", "", nil, &ready); code != http.StatusServiceUnavailable || ready.Status != "loading" || ready.EntriesLoaded != 10 || ready.EntriesTotal != 30 {
		t.Fatalf("readyz while loading: %d %+v, want 503 loading 10 of 30", code, ready)
	}
	lookup := `{"signals":[{"type":"md5","value":"` + fmt.Sprintf("%032x", 1) + `"}]}`
	var e apiError
	if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/lookup", "application/json", strings.NewReader(lookup), &e); code != http.StatusServiceUnavailable || e.Error.Code != vigil.EUNAVAILABLE {
		t.Fatalf("lookup while loading: %d %+v, want 503", code, e)
	}
	if code := ts.do(t, vigil.RoleCurator, "GET", "/v1/banks", "", nil, nil); code != 200 {
		t.Fatalf("banks while loading: %d", code)
	}
	store.Release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if code := ts.do(t, "", "GET", "/readyz", "", nil, &ready); code != 200 || ready.Status != "ready" {
		t.Fatalf("readyz after load: %d %+v", code, ready)
	}
	var res struct {
		Results []vigil.MatchResult `json:"results"`
	}
	if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/lookup", "application/json", strings.NewReader(lookup), &res); code != 200 || len(res.Results) != 1 || len(res.Results[0].Matches) != 1 {
		t.Fatalf("lookup after load: %d %+v", code, res)
	}
}
