package http_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/vigil-oss/vigil"
)

// TestCentreProviderRevocation: the centre's admin revokes a provider;
// from the next request its key is refused, on the intake and the status
// route, with an error that says why; another provider is untouched; the
// revoked provider's reports stay, whole, in the reviewers' lists and
// queue, marked; the revocation is audited; reinstating gives a new key
// and the revoked one stays refused.
func TestCentreProviderRevocation(t *testing.T) {
	ctx := context.Background()
	ts := mustOpenServer(t)
	c := openCentre(t, ts, "http://127.0.0.1:9/intake", []byte("0123456789abcdef-le"))
	adm, rev := vigil.RoleAdmin, vigil.RoleReviewer
	type providerKey struct {
		vigil.CentreProvider
		Key string `json:"key"`
	}
	add := func(name string) providerKey {
		var pk providerKey
		if code := ts.do(t, adm, "POST", "/v1/centre/providers", "", jsonBody(map[string]string{"name": name}), &pk); code != 201 || pk.Key == "" {
			t.Fatalf("add provider %s: %d %+v", name, code, pk)
		}
		return pk
	}
	chat, photos := add("example-chat"), add("example-photos")
	eu, err := os.ReadFile("../report/testdata/golden/imagery.eu.json")
	must(t, err)
	call := func(key, method, path, id string, body []byte) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, ts.URL()+path, bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+key)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Idempotency-Key", id)
		}
		resp, err := http.DefaultClient.Do(req)
		must(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, b := call(chat.Key, "POST", "/v1/centre/reports", "chat-1", eu)
	var fb vigil.CentreFeedback
	if json.Unmarshal([]byte(b), &fb); code != 201 || fb.ID == 0 {
		t.Fatalf("receive: %d %s", code, b)
	}
	status := fmt.Sprintf("/v1/centre/reports/%d", fb.ID)
	if code, b := call(chat.Key, "GET", status, "", nil); code != 200 {
		t.Fatalf("status before revocation: %d %s", code, b)
	}
	before, err := c.Reports.FindCentreReport(ctx, fb.ID)
	must(t, err)

	// Only the centre's admin revokes.
	revoke := "/v1/centre/providers/example-chat/revoke"
	for _, role := range []vigil.Role{rev, vigil.RoleCurator, vigil.RoleMatcher} {
		if code := ts.do(t, role, "POST", revoke, "", nil, nil); code != 403 {
			t.Errorf("%s revokes a provider: %d", role, code)
		}
	}
	if code, _ := call(chat.Key, "POST", revoke, "", nil); code != 401 {
		t.Errorf("a provider revokes itself: %d", code)
	}
	var revoked vigil.CentreProvider
	if code := ts.do(t, adm, "POST", revoke, "", nil, &revoked); code != 200 || revoked.ID != chat.ID || revoked.RevokedAt == nil {
		t.Fatalf("revoke: %d %+v", code, revoked)
	}

	// At once: intake, resend and status refused, saying why.
	for _, tc := range []struct{ method, path, id string }{
		{"POST", "/v1/centre/reports", "chat-2"},
		{"POST", "/v1/centre/reports", "chat-1"},
		{"GET", status, ""},
	} {
		var body []byte
		if tc.method == "POST" {
			body = eu
		}
		code, b := call(chat.Key, tc.method, tc.path, tc.id, body)
		if code != 403 || !strings.Contains(b, "revoked") || !strings.Contains(b, "example-chat") {
			t.Errorf("%s %s %s with the revoked key: %d %s", tc.method, tc.path, tc.id, code, b)
		}
	}
	// The other provider goes on.
	if code, b := call(photos.Key, "POST", "/v1/centre/reports", "photos-1", eu); code != 201 {
		t.Fatalf("the other provider: %d %s", code, b)
	}

	// Nothing of the report is lost, and reviewers see the provider revoked.
	var got vigil.CentreReport
	if code := ts.do(t, rev, "GET", status, "", nil, &got); code != 200 || got.Provider != "example-chat" || got.ProviderRevokedAt == nil ||
		got.Digest != before.Digest || len(got.Files) != len(before.Files) || got.Status != vigil.CentreReceived {
		t.Fatalf("report after revocation: %d %+v", code, got)
	}
	req, _ := http.NewRequest("GET", ts.URL()+status+"/raw", nil)
	req.Header.Set("Authorization", "Bearer "+ts.keys[rev])
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(raw, eu) {
		t.Fatalf("raw after revocation: %d, %d bytes", resp.StatusCode, len(raw))
	}
	var page struct{ Reports []vigil.CentreReport }
	if code := ts.do(t, rev, "GET", fmt.Sprintf("/v1/centre/reports?provider_id=%d", chat.ID), "", nil, &page); code != 200 ||
		len(page.Reports) != 1 || page.Reports[0].ID != fb.ID || page.Reports[0].ProviderRevokedAt == nil {
		t.Fatalf("reports of the revoked provider: %d %+v", code, page)
	}
	var providers struct{ Providers []vigil.CentreProvider }
	if code := ts.do(t, adm, "GET", "/v1/centre/providers", "", nil, &providers); code != 200 || len(providers.Providers) != 2 ||
		providers.Providers[0].RevokedAt == nil || providers.Providers[1].RevokedAt != nil {
		t.Fatalf("providers: %d %+v", code, providers)
	}
	ui := newUIClient(t, ts)
	ui.login(t, ts.keys[rev])
	if code, _, body := ui.get(t, "/ui/centre"); code != 200 || strings.Count(body, `class="warn provider-revoked"`) != 1 {
		t.Errorf("centre list page marks the revoked provider's report: %d", code)
	}
	if code, _, body := ui.get(t, fmt.Sprintf("/ui/centre/%d", fb.ID)); code != 200 || !strings.Contains(body, `class="warn provider-revoked">the provider's key was revoked`) {
		t.Errorf("report page marks the revoked provider: %d", code)
	}

	var e apiError
	if code := ts.do(t, adm, "POST", revoke, "", nil, &e); code != 409 {
		t.Errorf("revoke twice: %d %+v", code, e)
	}
	for _, name := range []string{"nobody", "example-chat%E2%80%AE", "EXAMPLE-CHAT", "%2e%2e", strings.Repeat("x", 5000)} {
		if code := ts.do(t, adm, "POST", "/v1/centre/providers/"+name+"/revoke", "", nil, nil); code != 404 {
			t.Errorf("revoke provider %.40q: %d, want 404", name, code)
		}
	}
	if code := ts.do(t, adm, "POST", "/v1/centre/providers/example-photos/reinstate", "", nil, nil); code != 409 {
		t.Errorf("reinstate a provider not revoked: %d", code)
	}
	if n := audited(t, ts, vigil.AuditCentreProviderRevoke, revoked.Actor()); n != 1 {
		t.Errorf("%d revocation records, want 1", n)
	}

	// Reinstated, with a new key; the revoked key is unknown.
	var back providerKey
	if code := ts.do(t, adm, "POST", "/v1/centre/providers/example-chat/reinstate", "", nil, &back); code != 200 || back.Key == "" || back.Key == chat.Key || back.RevokedAt != nil {
		t.Fatalf("reinstate: %d %+v", code, back)
	}
	if code, b := call(chat.Key, "GET", status, "", nil); code != 401 {
		t.Errorf("the revoked key after reinstatement: %d %s", code, b)
	}
	if code, b := call(back.Key, "GET", status, "", nil); code != 200 || !strings.Contains(b, `"status":"received"`) {
		t.Errorf("the new key: %d %s", code, b)
	}
	if n := audited(t, ts, vigil.AuditCentreProviderReinstate, revoked.Actor()); n != 1 {
		t.Errorf("%d reinstatement records, want 1", n)
	}
}
