package http_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/vigil-oss/vigil"
)

// TestLookupCanonicalisesSignals checks that a looked-up hash with white
// space around it and in upper case matches and opens its cases, carrying
// the canonical value (issue 10: the match was found but no case opened,
// "case sha256 must be at most 256 printable bytes").
func TestLookupCanonicalisesSignals(t *testing.T) {
	ts := mustOpenServer(t)
	const content = "a post with a listed digest"
	setupReview(t, ts, content)
	sh := sha256.Sum256([]byte(content))
	want := hex.EncodeToString(sh[:])
	var resp struct {
		Results []vigil.MatchResult
		Actions *actions
	}
	body := map[string]any{"signals": []map[string]string{{"type": "sha256", "value": " " + strings.ToUpper(want) + "\n"}}, "content_id": "post-1"}
	if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/lookup", "", jsonBody(body), &resp); code != 200 {
		t.Fatalf("lookup %d", code)
	}
	if len(resp.Results) != 1 || len(resp.Results[0].Matches) != 1 || resp.Results[0].Signal.Value != want {
		t.Fatalf("results %+v", resp.Results)
	}
	if resp.Actions == nil || len(resp.Actions.Errors) != 0 || len(resp.Actions.Cases) == 0 {
		t.Fatalf("actions %+v", resp.Actions)
	}
	c, err := ts.Cases.FindCase(context.Background(), resp.Actions.Cases[0])
	if err != nil {
		t.Fatal(err)
	}
	if c.Content.SHA256 != want {
		t.Errorf("case sha256 %q, want %q", c.Content.SHA256, want)
	}
}

// TestEntriesThatCannotMatchAreRefused checks that the API refuses, with
// 400, entries the index could never match, in a JSON batch and in an
// import, and that the index keeps working (issue 10: a keyword of only a
// zero-width space was stored and stopped every later URL and keyword
// entry from matching).
func TestEntriesThatCannotMatchAreRefused(t *testing.T) {
	ts := mustOpenServer(t)
	cur := vigil.RoleCurator
	if code := ts.do(t, cur, "POST", "/v1/banks", "", jsonBody(map[string]any{"name": "words"}), nil); code != 201 {
		t.Fatalf("create bank %d", code)
	}
	pdq := strings.Repeat("ab", 32)
	for _, e := range []map[string]string{
		{"signal_type": "keyword", "value": "\u200b"},
		{"signal_type": "keyword", "value": "\u0301"},
		{"signal_type": "url", "value": "a,b,c"},
		{"signal_type": "url", "value": "prefix:javascript:alert(1)"},
		{"signal_type": "vpdq", "value": "0,100," + pdq + ",NaN"},
		{"signal_type": "vpdq", "value": "0,100," + pdq + ",1e308"},
	} {
		body := map[string]any{"entries": []map[string]string{e}}
		if code := ts.do(t, cur, "POST", "/v1/banks/words/entries", "", jsonBody(body), nil); code != 400 {
			t.Errorf("add %s %q: status %d, want 400", e["signal_type"], e["value"], code)
		}
	}
	if code := ts.do(t, cur, "POST", "/v1/banks/words/import?signal_type=keyword", "text/plain", strings.NewReader("telegram\n\u200b\n"), nil); code != 400 {
		t.Errorf("import of an invisible keyword: status %d, want 400", code)
	}
	body := map[string]any{"entries": []map[string]string{{"signal_type": "keyword", "value": "telegram"}, {"signal_type": "url", "value": "host:bad.example"}}}
	if code := ts.do(t, cur, "POST", "/v1/banks/words/entries", "", jsonBody(body), nil); code != 201 {
		t.Fatalf("add good entries %d", code)
	}
	var resp struct{ Results []vigil.MatchResult }
	lookup := map[string]any{"signals": []map[string]string{{"type": "text", "value": "see telegram"}, {"type": "url", "value": "https://a.bad.example/"}}}
	if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/lookup", "", jsonBody(lookup), &resp); code != 200 {
		t.Fatalf("lookup %d", code)
	}
	for i, r := range resp.Results {
		if len(r.Matches) != 1 {
			t.Errorf("signal %d: %d matches, want 1", i, len(r.Matches))
		}
	}
	var st vigil.IndexStatus
	if code := ts.do(t, cur, "GET", "/v1/index/status", "", nil, &st); code != 200 {
		t.Fatalf("status %d", code)
	}
	if st.Types[vigil.SignalKeyword].Entries != 1 || len(st.Rejected) != 0 {
		t.Errorf("status %+v", st)
	}
}
