package http_test

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	vhttp "github.com/vigil-oss/vigil/http"
	"github.com/vigil-oss/vigil/matcher"
	"github.com/vigil-oss/vigil/sqlite"
)

// memMedia is a MediaStore in memory: the encrypted store has tests of
// its own; these check what the API puts in and takes out.
type memMedia struct {
	mu    sync.Mutex
	blobs map[string][]byte
	puts  int
}

func newMemMedia() *memMedia { return &memMedia{blobs: map[string][]byte{}} }

func (m *memMedia) Put(ctx context.Context, data []byte) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.puts++
	id := fmt.Sprintf("blob-%d", m.puts)
	m.blobs[id] = append([]byte(nil), data...)
	return id, nil
}

func (m *memMedia) Get(ctx context.Context, id string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.blobs[id]
	if !ok {
		return nil, vigil.Errorf(vigil.ENOTFOUND, "media %q not found", id)
	}
	return b, nil
}

func (m *memMedia) Delete(ctx context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.blobs, id)
	return nil
}

func (m *memMedia) count() (puts, kept int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.puts, len(m.blobs)
}

// recordingNotifier is a Notifier that keeps the events, with one
// configured webhook, "ts".
type recordingNotifier struct {
	mu     sync.Mutex
	events []vigil.Event
}

func (n *recordingNotifier) Notify(ctx context.Context, webhook string, ev vigil.Event) error {
	if webhook != "ts" {
		return vigil.Errorf(vigil.ENOTFOUND, "webhook %q is not configured", webhook)
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	n.events = append(n.events, ev)
	return nil
}

// raw sends a request as role and returns the response with its body read.
func (ts *testServer) raw(tb testing.TB, role vigil.Role, method, path string) (*http.Response, []byte) {
	tb.Helper()
	req, _ := http.NewRequest(method, ts.URL()+path, nil)
	req.Header.Set("Authorization", "Bearer "+ts.keys[role])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

type actions struct {
	Rules []struct {
		Name, Action, Queue, Auto string
		Sources                   []string
		CaseID                    int64 `json:"case_id"`
	}
	Cases  []int64
	Auto   []string
	Vetoed bool
	Errors []string
}

type caseWithHistory struct {
	vigil.Case
	History []vigil.CaseEvent
}

// setupReview makes two queues (default for reviewers, legal for admins
// only), two banks from two sources holding the digests of content, and
// rules that review every match, copy the second bank's matches to legal
// and block what both sources agree on (the block recorded on the default
// queue's case).
func setupReview(t *testing.T, ts *testServer, content string) (ncmecEntry int64) {
	t.Helper()
	adm, cur := vigil.RoleAdmin, vigil.RoleCurator
	if code := ts.do(t, adm, "POST", "/v1/queues", "", jsonBody(map[string]any{"name": "default", "roles": []string{"reviewer"}}), nil); code != 201 {
		t.Fatalf("create queue %d", code)
	}
	if code := ts.do(t, adm, "POST", "/v1/queues", "", jsonBody(map[string]any{"name": "legal", "roles": []string{}}), nil); code != 201 {
		t.Fatalf("create queue %d", code)
	}
	md := md5.Sum([]byte(content))
	sh := sha256.Sum256([]byte(content))
	var added struct{ Entries []vigil.Entry }
	for _, b := range []struct{ bank, typ, value, source string }{
		{"ncmec", "md5", hex.EncodeToString(md[:]), "ncmec"},
		{"iwf", "sha256", hex.EncodeToString(sh[:]), "iwf"},
	} {
		if code := ts.do(t, cur, "POST", "/v1/banks", "", jsonBody(map[string]any{"name": b.bank}), nil); code != 201 {
			t.Fatalf("create bank %d", code)
		}
		body := map[string]any{"entries": []map[string]string{{"signal_type": b.typ, "value": b.value, "source": b.source, "category": "A1"}}}
		if code := ts.do(t, cur, "POST", "/v1/banks/"+b.bank+"/entries", "", jsonBody(body), &added); code != 201 {
			t.Fatalf("add entry %d", code)
		}
		if b.bank == "ncmec" {
			ncmecEntry = added.Entries[0].ID
		}
	}
	for _, rule := range []map[string]any{
		{"name": "any-match", "when": map[string]any{"kind": "match"}, "action": map[string]any{"type": "case", "queue": "default", "priority": 50}},
		{"name": "legal-copy", "when": map[string]any{"kind": "match", "banks": []string{"iwf"}}, "action": map[string]any{"type": "case", "queue": "legal", "priority": 10}},
		{"name": "block", "when": map[string]any{"kind": "match"}, "corroboration": 2, "action": map[string]any{"type": "auto", "auto": "block", "webhook": "ts", "queue": "default"}},
	} {
		if code := ts.do(t, cur, "POST", "/v1/rules", "", jsonBody(rule), nil); code != 201 {
			t.Fatalf("create rule %v: %d", rule["name"], code)
		}
	}
	return ncmecEntry
}

func TestMatchActionsAndReview(t *testing.T) {
	ts := mustOpenServer(t)
	media := ts.Media.(*memMedia)
	notes := &recordingNotifier{}
	ts.Notifier = notes
	const content = "a benign test post that two lists happen to hold"
	entry := setupReview(t, ts, content)
	rev := vigil.RoleReviewer

	// Content that matches nothing: no action, nothing kept.
	var m struct {
		Matched bool
		Actions *actions
	}
	if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/match", "text/plain", strings.NewReader("something else"), &m); code != 200 || m.Matched {
		t.Fatalf("match %d %+v", code, m)
	}
	if m.Actions == nil || len(m.Actions.Rules) != 0 || len(m.Actions.Cases) != 0 {
		t.Fatalf("actions without a match: %+v", m.Actions)
	}
	if puts, _ := media.count(); puts != 0 {
		t.Fatalf("media kept without a case: %d", puts)
	}

	// Content both lists hold: a case in each queue, a block, an event.
	if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/match?user_id=u-1&content_id=post-9", "text/plain", strings.NewReader(content), &m); code != 200 || !m.Matched {
		t.Fatalf("match %d %+v", code, m)
	}
	a := m.Actions
	var fired []string
	for _, r := range a.Rules {
		fired = append(fired, r.Name)
	}
	if !slices.Equal(fired, []string{"any-match", "block", "legal-copy"}) || len(a.Cases) != 2 || !slices.Equal(a.Auto, []string{"block"}) || len(a.Errors) != 0 {
		t.Fatalf("actions %+v", a)
	}
	if !slices.Equal(a.Rules[1].Sources, []string{"iwf", "ncmec"}) || a.Rules[0].CaseID != a.Cases[0] {
		t.Errorf("fired rules %+v", a.Rules)
	}
	if puts, kept := media.count(); puts != 1 || kept != 1 {
		t.Fatalf("media put %d times, %d kept; want once for both cases", puts, kept)
	}
	if len(notes.events) != 1 {
		t.Fatalf("%d webhook events", len(notes.events))
	}
	var ev struct {
		Rule, Auto string
		Content    vigil.ContentRef
		Matches    []vigil.Match
	}
	if err := json.Unmarshal(notes.events[0].Data, &ev); err != nil || notes.events[0].Type != vigil.EventRuleMatched || notes.events[0].ID == "" {
		t.Fatal(err)
	}
	if ev.Rule != "block" || ev.Auto != "block" || ev.Content.UserID != "u-1" || ev.Content.ContentID != "post-9" || ev.Content.MediaID != "" || len(ev.Matches) != 2 {
		t.Errorf("event %+v", ev)
	}
	caseID, legalID := a.Cases[0], a.Cases[1]

	// A reviewer sees the default queue's case, not legal's.
	var list struct{ Cases []vigil.Case }
	if code := ts.do(t, rev, "GET", "/v1/cases", "", nil, &list); code != 200 || len(list.Cases) != 1 || list.Cases[0].ID != caseID {
		t.Fatalf("reviewer's cases %d %+v", code, list)
	}
	if code := ts.do(t, rev, "GET", "/v1/cases?queue=legal", "", nil, nil); code != 404 {
		t.Fatalf("reviewer lists legal: %d", code)
	}
	if code := ts.do(t, rev, "GET", fmt.Sprintf("/v1/cases/%d", legalID), "", nil, nil); code != 404 {
		t.Fatalf("reviewer reads a legal case: %d", code)
	}
	if code := ts.do(t, vigil.RoleAdmin, "GET", "/v1/cases?state=open", "", nil, &list); code != 200 || len(list.Cases) != 2 {
		t.Fatalf("admin's cases %d %+v", code, list)
	}
	if code := ts.do(t, vigil.RoleMatcher, "GET", "/v1/cases", "", nil, nil); code != 403 {
		t.Fatalf("matcher lists cases: %d", code)
	}
	var qs struct {
		Queues []struct {
			vigil.Queue
			Stats vigil.QueueStats
		}
	}
	if code := ts.do(t, rev, "GET", "/v1/queues", "", nil, &qs); code != 200 || len(qs.Queues) != 1 || qs.Queues[0].Name != "default" {
		t.Fatalf("reviewer's queues %d %+v", code, qs)
	}
	if st := qs.Queues[0].Stats; st.Queue != "default" || st.Open != 1 || st.Assigned+st.Escalated+st.Decided != 0 || st.OldestWaiting == nil {
		t.Errorf("default queue's stats %+v, want the one open case", st)
	}

	var next caseWithHistory
	if code := ts.do(t, rev, "GET", "/v1/queues/default/next", "", nil, &next); code != 200 || next.ID != caseID {
		t.Errorf("next case %d %+v, want case %d", code, next.Case, caseID)
	}
	for _, tc := range []struct {
		path string
		code int
	}{
		{fmt.Sprintf("/v1/queues/default/next?after=%d", caseID), 404}, // nothing else waits
		{"/v1/queues/legal/next", 404},                                 // a queue the reviewer may not see
		{"/v1/queues/nope/next", 404},
		{"/v1/queues/default/next?after=x", 400},
	} {
		if code := ts.do(t, rev, "GET", tc.path, "", nil, nil); code != tc.code {
			t.Errorf("GET %s = %d, want %d", tc.path, code, tc.code)
		}
	}
	if code := ts.do(t, vigil.RoleAdmin, "GET", "/v1/queues/legal/next", "", nil, &next); code != 200 || next.ID != legalID {
		t.Errorf("admin's next in legal: %d %+v", code, next.Case)
	}

	var c caseWithHistory
	path := fmt.Sprintf("/v1/cases/%d", caseID)
	if code := ts.do(t, rev, "GET", path, "", nil, &c); code != 200 {
		t.Fatalf("get case %d", code)
	}
	sh := sha256.Sum256([]byte(content))
	if c.Rule != "any-match" || c.Priority != 50 || c.Kind != vigil.CaseKindMatch || c.Content.UserID != "u-1" || c.Content.ContentID != "post-9" ||
		c.Content.SHA256 != hex.EncodeToString(sh[:]) || c.Content.MediaID == "" || !strings.HasPrefix(c.Content.MediaType, "text/plain") ||
		len(c.Matches) != 2 || len(c.History) != 1 || c.History[0].Kind != vigil.CaseEventOpened {
		t.Fatalf("case %+v", c)
	}

	// Reveal: the bytes, as an attachment, recorded first.
	resp, body := ts.raw(t, rev, "GET", path+"/media")
	if resp.StatusCode != 200 || string(body) != content {
		t.Fatalf("media %d %q", resp.StatusCode, body)
	}
	// Text is not a picture: it goes out as opaque bytes.
	if !strings.HasPrefix(resp.Header.Get("Content-Disposition"), "attachment") || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") ||
		resp.Header.Get("Content-Type") != "application/octet-stream" {
		t.Errorf("media headers %v", resp.Header)
	}
	if resp, _ := ts.raw(t, rev, "GET", fmt.Sprintf("/v1/cases/%d/media", legalID)); resp.StatusCode != 404 {
		t.Errorf("reviewer reveals a legal case: %d", resp.StatusCode)
	}

	// Assign, note, decide.
	if code := ts.do(t, rev, "POST", path+"/assign", "", nil, &c); code != 200 || c.State != vigil.CaseAssigned || c.AssignedTo != "key:4:reviewer" {
		t.Fatalf("assign %d %+v", code, c.Case)
	}
	if code := ts.do(t, rev, "POST", path+"/notes", "", jsonBody(map[string]string{"text": "checked the lists"}), &c); code != 201 {
		t.Fatalf("note %d", code)
	}
	if code := ts.do(t, rev, "POST", path+"/notes", "", jsonBody(map[string]string{"text": ""}), nil); code != 400 {
		t.Fatalf("empty note %d", code)
	}
	if code := ts.do(t, rev, "POST", path+"/decision", "", jsonBody(map[string]string{"verdict": "maybe"}), nil); code != 400 {
		t.Fatalf("bad verdict %d", code)
	}
	if code := ts.do(t, rev, "POST", path+"/decision", "", jsonBody(map[string]string{"verdict": "confirmed", "category": "A1", "notes": "matches both lists"}), &c); code != 200 {
		t.Fatalf("decide %d", code)
	}
	if c.State != vigil.CaseDecided || c.Decision == nil || c.Decision.DecidedBy != "key:4:reviewer" || c.Decision.Category != "A1" {
		t.Fatalf("decided case %+v", c.Case)
	}
	var kinds []string
	for _, ev := range c.History {
		kinds = append(kinds, ev.Kind)
	}
	if want := []string{"opened", "revealed", "assigned", "note", "decided"}; !slices.Equal(kinds, want) {
		t.Errorf("history %v, want %v", kinds, want)
	}
	if code := ts.do(t, rev, "POST", path+"/decision", "", jsonBody(map[string]string{"verdict": "false_positive"}), nil); code != 409 {
		t.Fatalf("second decision %d", code)
	}

	// Review statistics.
	var st struct {
		Confirmed int
		Matches   int
		Precision *float64
	}
	if code := ts.do(t, vigil.RoleCurator, "GET", fmt.Sprintf("/v1/entries/%d/stats", entry), "", nil, &st); code != 200 || st.Confirmed != 1 || st.Precision == nil || *st.Precision != 1 {
		t.Fatalf("entry stats %d %+v", code, st)
	}
	var banks struct {
		Banks []struct {
			Bank      string
			Confirmed int
		}
	}
	if code := ts.do(t, rev, "GET", "/v1/precision/banks", "", nil, &banks); code != 200 || len(banks.Banks) != 2 || banks.Banks[0].Confirmed != 1 {
		t.Fatalf("bank precision %d %+v", code, banks)
	}

	// The audit log holds the reveal and the decision.
	recs, err := ts.Audit.ListAudit(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var audited []string
	for _, r := range recs {
		if r.Action == vigil.AuditContentReveal || r.Action == vigil.AuditCaseDecide || r.Action == vigil.AuditCaseAssign {
			audited = append(audited, r.Action+" "+r.Target+" by "+r.Actor)
		}
	}
	target := fmt.Sprintf("case:%d", caseID)
	want := []string{"content.reveal " + target + " by key:4:reviewer", "case.assign " + target + " by key:4:reviewer", "case.decide " + target + " by key:4:reviewer"}
	if !slices.Equal(audited, want) {
		t.Errorf("audit %v, want %v", audited, want)
	}

	// A lookup by signals opens a case too, without media.
	md := md5.Sum([]byte(content))
	var lr struct{ Actions *actions }
	if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/lookup", "", jsonBody(map[string]any{
		"signals": []map[string]string{{"type": "md5", "value": hex.EncodeToString(md[:])}}, "user_id": "u-2",
	}), &lr); code != 200 || lr.Actions == nil || len(lr.Actions.Cases) != 1 || len(lr.Actions.Auto) != 0 {
		t.Fatalf("lookup %d %+v", code, lr.Actions)
	}
	c = caseWithHistory{}
	if code := ts.do(t, rev, "GET", fmt.Sprintf("/v1/cases/%d", lr.Actions.Cases[0]), "", nil, &c); code != 200 || c.Content.MediaID != "" || c.Content.UserID != "u-2" {
		t.Fatalf("lookup case %d %+v", code, c.Case)
	}
	if resp, _ := ts.raw(t, rev, "GET", fmt.Sprintf("/v1/cases/%d/media", c.ID)); resp.StatusCode != 404 {
		t.Errorf("media of a case without: %d", resp.StatusCode)
	}
	if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/match?user_id=a%0Ab", "text/plain", strings.NewReader(content), nil); code != 400 {
		t.Errorf("user id with a newline: %d", code)
	}
}

func TestConversationOpensCaseOnce(t *testing.T) {
	ts := mustOpenServer(t)
	if code := ts.do(t, vigil.RoleAdmin, "POST", "/v1/queues", "", jsonBody(map[string]any{"name": "default", "roles": []string{"reviewer"}}), nil); code != 201 {
		t.Fatal("create queue")
	}
	rule := map[string]any{"name": "flagged", "when": map[string]any{"kind": "conversation", "flagged": true}, "action": map[string]any{"type": "case", "queue": "default", "priority": 60}}
	if code := ts.do(t, vigil.RoleCurator, "POST", "/v1/rules", "", jsonBody(rule), nil); code != 201 {
		t.Fatal("create rule")
	}
	var resp struct {
		Conversation vigil.Conversation
		Actions      *actions
	}
	var opened []int64
	for _, part := range [][]int{{0, 3}, {3, 7}, {7, 8}} {
		msgs := groomingChat[part[0]:part[1]]
		resp.Actions = nil
		if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/conversations/chat-7/messages?user_id=suspect-1", "", jsonBody(map[string]any{"messages": msgs}), &resp); code != 200 {
			t.Fatalf("append %d", code)
		}
		opened = append(opened, resp.Actions.Cases...)
	}
	if len(opened) != 1 {
		t.Fatalf("cases opened %v, want one when the conversation became flagged", opened)
	}
	var c caseWithHistory
	if code := ts.do(t, vigil.RoleReviewer, "GET", fmt.Sprintf("/v1/cases/%d", opened[0]), "", nil, &c); code != 200 {
		t.Fatalf("get case %d", code)
	}
	cv := c.Conversation
	if c.Kind != vigil.CaseKindConversation || cv == nil || cv.ConversationID != "chat-7" || cv.Suspect != "u1" || c.Content.UserID != "suspect-1" || len(cv.Messages) == 0 {
		t.Fatalf("conversation case %+v", c.Case)
	}
	// The case holds the messages of the append that flagged it, at their
	// places in the conversation, with their indicators.
	tagged := 0
	for _, m := range cv.Messages {
		if groomingChat[m.Index].Text != m.Text {
			t.Errorf("message %d: %q", m.Index, m.Text)
		}
		if len(m.Indicators) > 0 {
			tagged++
		}
	}
	if tagged == 0 {
		t.Errorf("no message carries an indicator: %+v", cv.Messages)
	}

	// Scoring a whole conversation at once runs the rules too.
	var whole struct {
		Flagged bool
		Actions *actions
	}
	if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/conversations/score", "", jsonBody(map[string]any{"id": "c2", "messages": groomingChat}), &whole); code != 200 || !whole.Flagged || whole.Actions == nil || len(whole.Actions.Cases) != 1 {
		t.Fatalf("score %d %+v", code, whole)
	}
	if code := ts.do(t, vigil.RoleReviewer, "GET", fmt.Sprintf("/v1/cases/%d", whole.Actions.Cases[0]), "", nil, &c); code != 200 || len(c.Conversation.Messages) != len(groomingChat) {
		t.Fatalf("whole conversation case %d %+v", code, c.Conversation)
	}
}

func TestRetroactiveMatchOpensCase(t *testing.T) {
	ts := mustOpenServer(t)
	ts.Matcher.(*matcher.Matcher).OnRematch(ts.Flow().Rematches)
	if code := ts.do(t, vigil.RoleAdmin, "POST", "/v1/queues", "", jsonBody(map[string]any{"name": "default", "roles": []string{"reviewer"}}), nil); code != 201 {
		t.Fatal("create queue")
	}
	rule := map[string]any{"name": "any-match", "when": map[string]any{"kind": "match"}, "action": map[string]any{"type": "case", "queue": "default", "priority": 50}}
	if code := ts.do(t, vigil.RoleCurator, "POST", "/v1/rules", "", jsonBody(rule), nil); code != 201 {
		t.Fatal("create rule")
	}
	const content = "a post seen before its entry was listed"
	var m struct{ Actions *actions }
	if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/match", "text/plain", strings.NewReader(content), &m); code != 200 || len(m.Actions.Cases) != 0 {
		t.Fatalf("first match %d %+v", code, m.Actions)
	}
	// The entry arrives later: the kept signals match it, and the rules
	// open a case for the content seen before.
	md := md5.Sum([]byte(content))
	ts.do(t, vigil.RoleCurator, "POST", "/v1/banks", "", jsonBody(map[string]any{"name": "later"}), nil)
	body := map[string]any{"entries": []map[string]string{{"signal_type": "md5", "value": hex.EncodeToString(md[:]), "source": "hotline"}}}
	if code := ts.do(t, vigil.RoleCurator, "POST", "/v1/banks/later/entries", "", jsonBody(body), nil); code != 201 {
		t.Fatalf("add entry %d", code)
	}
	var list struct{ Cases []vigil.Case }
	if code := ts.do(t, vigil.RoleReviewer, "GET", "/v1/cases", "", nil, &list); code != 200 || len(list.Cases) != 1 {
		t.Fatalf("cases %d %+v", code, list)
	}
	c := list.Cases[0]
	sh := sha256.Sum256([]byte(content))
	if c.Rule != "any-match" || c.Content.SHA256 != hex.EncodeToString(sh[:]) || c.Content.MediaID != "" || len(c.Matches) != 1 || c.Matches[0].Bank != "later" {
		t.Fatalf("retroactive case %+v", c)
	}
}

// TestCaseMessageWithoutTime checks that a conversation case's messages
// sent without a time show none, in the API and the review UI, rather
// than the zero time.
func TestCaseMessageWithoutTime(t *testing.T) {
	ts := mustOpenServer(t)
	if code := ts.do(t, vigil.RoleAdmin, "POST", "/v1/queues", "", jsonBody(map[string]any{"name": "default", "roles": []string{"reviewer"}}), nil); code != 201 {
		t.Fatal("create queue")
	}
	rule := map[string]any{"name": "flagged", "when": map[string]any{"kind": "conversation", "flagged": true}, "action": map[string]any{"type": "case", "queue": "default"}}
	if code := ts.do(t, vigil.RoleCurator, "POST", "/v1/rules", "", jsonBody(rule), nil); code != 201 {
		t.Fatal("create rule")
	}
	var scored struct{ Actions *actions }
	if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/conversations/score", "", jsonBody(map[string]any{"id": "c1", "messages": groomingChat}), &scored); code != 200 || scored.Actions == nil || len(scored.Actions.Cases) != 1 {
		t.Fatalf("score %d %+v", code, scored)
	}
	path := fmt.Sprintf("/v1/cases/%d", scored.Actions.Cases[0])
	resp, body := ts.raw(t, vigil.RoleReviewer, "GET", path)
	if resp.StatusCode != 200 {
		t.Fatalf("get case %d", resp.StatusCode)
	}
	var c struct {
		Conversation struct{ Messages []map[string]any }
	}
	if err := json.Unmarshal(body, &c); err != nil || len(c.Conversation.Messages) == 0 {
		t.Fatalf("case %s: %v", body, err)
	}
	for _, m := range c.Conversation.Messages {
		if _, ok := m["time"]; ok {
			t.Fatalf("a message without a time has one: %v", m)
		}
	}
	ui := newUIClient(t, ts)
	ui.login(t, ts.keys[vigil.RoleReviewer])
	code, _, page := ui.get(t, "/ui"+strings.TrimPrefix(path, "/v1"))
	if code != 200 {
		t.Fatalf("case page %d", code)
	}
	if strings.Contains(page, "0001-01-01") || strings.Contains(page, `class="msg-head"><span class="speaker">u1</span> <time`) {
		t.Fatalf("the case page shows a time for a message without one:\n%s", page)
	}
}

// TestRepeatedUploadKeepsMatching checks the attack that counting cases
// allowed: one user uploading one file over and over must not quarantine
// the entry that detects it (vigil serve's default spike policy).
func TestRepeatedUploadKeepsMatching(t *testing.T) {
	ts := mustOpenServer(t, func(s *vhttp.Server) {
		s.Cases.(*sqlite.CaseService).Policy = vigil.QuarantinePolicy{SpikeFactor: 10, SpikeMin: 20, Window: 24 * time.Hour}
	})
	const content = "one benign post uploaded again and again"
	md := md5.Sum([]byte(content))
	if code := ts.do(t, vigil.RoleAdmin, "POST", "/v1/queues", "", jsonBody(map[string]any{"name": "default", "roles": []string{"reviewer"}}), nil); code != 201 {
		t.Fatal("create queue")
	}
	if code := ts.do(t, vigil.RoleCurator, "POST", "/v1/banks", "", jsonBody(map[string]any{"name": "known"}), nil); code != 201 {
		t.Fatal("create bank")
	}
	body := map[string]any{"entries": []map[string]string{{"signal_type": "md5", "value": hex.EncodeToString(md[:]), "category": "A1"}}}
	if code := ts.do(t, vigil.RoleCurator, "POST", "/v1/banks/known/entries", "", jsonBody(body), nil); code != 201 {
		t.Fatal("add entry")
	}
	rule := map[string]any{"name": "any-match", "when": map[string]any{"kind": "match"}, "action": map[string]any{"type": "case", "queue": "default"}}
	if code := ts.do(t, vigil.RoleCurator, "POST", "/v1/rules", "", jsonBody(rule), nil); code != 201 {
		t.Fatal("create rule")
	}
	for i := range 22 {
		var m struct {
			Matched bool
			Actions *actions
		}
		if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/match?user_id=u-1", "text/plain", strings.NewReader(content), &m); code != 200 || !m.Matched || m.Actions == nil || len(m.Actions.Cases) != 1 {
			t.Fatalf("upload %d: %d, matched %v, actions %+v", i+1, code, m.Matched, m.Actions)
		}
	}
	var q struct{ Entries []json.RawMessage }
	if code := ts.do(t, vigil.RoleCurator, "GET", "/v1/quarantine", "", nil, &q); code != 200 || len(q.Entries) != 0 {
		t.Fatalf("quarantine %d: %s", code, q.Entries)
	}
}

// TestActingTwiceOpensOneCase sends the same detection twice (a client
// resending a request): the second finds the cases the first opened, in
// each queue, and keeps no second copy of the media; other platform ids
// are another item.
func TestActingTwiceOpensOneCase(t *testing.T) {
	ts := mustOpenServer(t)
	media := ts.Media.(*memMedia)
	ts.Notifier = &recordingNotifier{}
	const content = "a benign test post sent twice"
	setupReview(t, ts, content)
	match := func(query string) *actions {
		t.Helper()
		var m struct{ Actions *actions }
		if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/match"+query, "text/plain", strings.NewReader(content), &m); code != 200 || m.Actions == nil {
			t.Fatalf("match %d %+v", code, m)
		}
		return m.Actions
	}
	first := match("?user_id=u-1&content_id=post-9")
	again := match("?user_id=u-1&content_id=post-9")
	if len(first.Cases) != 2 || !slices.Equal(again.Cases, first.Cases) || again.Rules[0].CaseID != first.Rules[0].CaseID {
		t.Fatalf("cases %v then %v, want the same two", first.Cases, again.Cases)
	}
	if puts, kept := media.count(); puts != 2 || kept != 1 {
		t.Errorf("media put %d times, %d kept; want the repeat's copy dropped", puts, kept)
	}
	var list struct{ Cases []vigil.Case }
	if code := ts.do(t, vigil.RoleAdmin, "GET", "/v1/cases", "", nil, &list); code != 200 || len(list.Cases) != 2 {
		t.Fatalf("cases %d %d, want 2", code, len(list.Cases))
	}
	sh := sha256.Sum256([]byte(content))
	var lk struct{ Actions *actions }
	body := map[string]any{"signals": []map[string]string{{"type": "sha256", "value": hex.EncodeToString(sh[:])}}, "user_id": "u-1", "content_id": "post-9"}
	if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/lookup", "", jsonBody(body), &lk); code != 200 || !slices.Contains(first.Cases, lk.Actions.Rules[0].CaseID) {
		t.Fatalf("lookup of the same item %d %+v, want its case", code, lk.Actions)
	}
	other := match("?user_id=u-1&content_id=post-10")
	if len(other.Cases) != 2 || slices.Contains(first.Cases, other.Cases[0]) {
		t.Fatalf("another content id: cases %v, want new ones", other.Cases)
	}

	// A conversation scored twice at the same point is one case too.
	rule := map[string]any{"name": "flagged", "when": map[string]any{"kind": "conversation", "flagged": true}, "action": map[string]any{"type": "case", "queue": "default", "priority": 60}}
	if code := ts.do(t, vigil.RoleCurator, "POST", "/v1/rules", "", jsonBody(rule), nil); code != 201 {
		t.Fatal("create rule")
	}
	var score struct{ Actions *actions }
	for range 2 {
		if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/conversations/score", "", jsonBody(map[string]any{"id": "c9", "messages": groomingChat}), &score); code != 200 {
			t.Fatalf("score %d", code)
		}
	}
	if code := ts.do(t, vigil.RoleAdmin, "GET", "/v1/cases", "", nil, &list); code != 200 || len(list.Cases) != 5 {
		t.Fatalf("cases %d %d, want 5 (2 + 2 + one conversation)", code, len(list.Cases))
	}
}
