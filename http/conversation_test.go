package http_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/grooming"
)

// A non-explicit grooming pattern: age probing, secrecy, platform move and
// a meeting request from one speaker.
var groomingChat = []grooming.Message{
	{From: "u1", Text: "hey, saw your drawing, it's really good"},
	{From: "u2", Text: "thanks!!"},
	{From: "u1", Text: "how old r u? what grade are you in"},
	{From: "u2", Text: "13, 8th grade"},
	{From: "u1", Text: "you seem way more mature than 13"},
	{From: "u1", Text: "don't tell your parents we talk, this stays between us"},
	{From: "u1", Text: "add me on snap, this app watches everything"},
	{From: "u1", Text: "i could pick you up after school, just you, tell your mom you're at a friend's"},
}

func TestConversationStreamingEqualsWhole(t *testing.T) {
	ts := mustOpenServer(t)
	var whole grooming.Risk
	if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/conversations/score", "", jsonBody(map[string]any{"id": "c", "messages": groomingChat}), &whole); code != 200 {
		t.Fatalf("score %d", code)
	}
	if !whole.Flagged || whole.Suspect != "u1" {
		t.Fatalf("grooming pattern not flagged: %+v", whole)
	}
	// The same messages in three appends.
	var resp struct {
		Conversation vigil.Conversation
		Risk         grooming.Risk
	}
	for _, part := range [][]grooming.Message{groomingChat[:3], groomingChat[3:5], groomingChat[5:]} {
		if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/conversations/chat-42/messages", "", jsonBody(map[string]any{"messages": part}), &resp); code != 200 {
			t.Fatalf("append %d", code)
		}
	}
	a, _ := json.Marshal(resp.Risk)
	b, _ := json.Marshal(whole)
	if string(a) != string(b) {
		t.Fatalf("streamed risk differs from whole:\n%s\n%s", a, b)
	}
	if resp.Conversation.Messages != len(groomingChat) || !resp.Conversation.Flagged || resp.Conversation.ExpiresAt.IsZero() {
		t.Fatalf("conversation record: %+v", resp.Conversation)
	}
	var got struct{ Risk grooming.Risk }
	if code := ts.do(t, vigil.RoleReviewer, "GET", "/v1/conversations/chat-42", "", nil, &got); code != 200 || got.Risk.Score != whole.Score {
		t.Fatalf("get %d %+v", code, got)
	}
	// Messages that hit a bank's keyword or URL entries come back with them.
	if code := ts.do(t, vigil.RoleCurator, "POST", "/v1/banks", "", jsonBody(map[string]any{"name": "words"}), nil); code != 201 {
		t.Fatal("create bank")
	}
	if code := ts.do(t, vigil.RoleCurator, "POST", "/v1/banks/words/entries", "", jsonBody(map[string]any{"entries": []map[string]string{{"signal_type": "keyword", "value": "snap"}}}), nil); code != 201 {
		t.Fatal("add keyword")
	}
	var withText struct {
		TextMatches []struct {
			Message int
			Matches []vigil.Match
		} `json:"text_matches"`
	}
	if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/conversations/chat-43/messages", "", jsonBody(map[string]any{"messages": groomingChat}), &withText); code != 200 {
		t.Fatalf("append %d", code)
	}
	if len(withText.TextMatches) != 1 || withText.TextMatches[0].Message != 6 || withText.TextMatches[0].Matches[0].Value != "snap" {
		t.Fatalf("text matches: %+v", withText.TextMatches)
	}
	// A keyword filed under a grooming family feeds the detector.
	newApp := []grooming.Message{
		{From: "u1", Text: "how old r u"}, {From: "u2", Text: "12"},
		{From: "u1", Text: "dont tell your mom we talk"}, {From: "u1", Text: "get zorblechat its way better"},
	}
	var before, after grooming.Risk
	ts.do(t, vigil.RoleMatcher, "POST", "/v1/conversations/score", "", jsonBody(map[string]any{"messages": newApp}), &before)
	if code := ts.do(t, vigil.RoleCurator, "POST", "/v1/banks/words/entries", "", jsonBody(map[string]any{"entries": []map[string]string{{"signal_type": "keyword", "value": "zorblechat", "category": "platform_move"}}}), nil); code != 201 {
		t.Fatal("add family keyword")
	}
	ts.do(t, vigil.RoleMatcher, "POST", "/v1/conversations/score", "", jsonBody(map[string]any{"messages": newApp}), &after)
	if after.Score <= before.Score {
		t.Fatalf("listed keyword did not raise the risk: %v → %v", before.Score, after.Score)
	}
	var e apiError
	if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/conversations/chat-42/messages", "", strings.NewReader(`{"messages":[]}`), &e); code != 400 {
		t.Errorf("empty append: %d", code)
	}
	if code := ts.do(t, vigil.RoleReviewer, "GET", "/v1/conversations/unknown", "", nil, &e); code != 404 {
		t.Errorf("unknown conversation: %d", code)
	}
	if code := ts.do(t, vigil.RoleReviewer, "POST", "/v1/conversations/x/messages", "", jsonBody(map[string]any{"messages": groomingChat}), &e); code != 403 {
		t.Errorf("reviewer append: %d", code)
	}
}

// TestConversationLanguageInResponse: the API says which language a
// conversation was scored in, and marks one the lexicons do not cover
// rather than returning a silent low score.
func TestConversationLanguageInResponse(t *testing.T) {
	ts := mustOpenServer(t)
	var en map[string]any
	if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/conversations/score", "", jsonBody(map[string]any{"messages": groomingChat}), &en); code != 200 {
		t.Fatalf("score %d", code)
	}
	if en["language"] != "en" || en["unsupported"] != nil {
		t.Fatalf("english chat: language %v unsupported %v", en["language"], en["unsupported"])
	}
	sv := []grooming.Message{
		{From: "a", Text: "hej hur gammal är du egentligen"},
		{From: "b", Text: "jag är tretton"},
		{From: "a", Text: "du verkar mogen för din ålder, berätta inte för dina föräldrar att vi pratar"},
		{From: "a", Text: "de skulle inte förstå oss, vi kan ses på lördag"},
	}
	var out map[string]any
	if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/conversations/score", "", jsonBody(map[string]any{"messages": sv}), &out); code != 200 {
		t.Fatalf("score %d", code)
	}
	if out["language"] != grooming.UnsupportedLanguage || out["unsupported"] != true {
		t.Fatalf("swedish chat: language %v unsupported %v", out["language"], out["unsupported"])
	}
}
