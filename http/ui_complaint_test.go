package http_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/vigil-oss/vigil"
)

// TestUIComplaints: the queue shows each open complaint's age; the
// reviewer who confirmed the case gets no form and is refused if they
// post one anyway; another reviewer rejects it through the form, and the
// case's history shows it.
func TestUIComplaints(t *testing.T) {
	ts := mustOpenServer(t)
	f := seedReview(t, ts)
	ctx := context.Background()
	if code := ts.do(t, vigil.RoleReviewer, "POST", fmt.Sprintf("/v1/cases/%d/decision", f.imageCase), "application/json",
		jsonBody(map[string]string{"verdict": "confirmed"}), nil); code != 200 {
		t.Fatalf("decide: %d", code)
	}
	var k struct{ ID int64 }
	if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/complaints", "application/json",
		jsonBody(map[string]string{"reference": fmt.Sprint(f.imageCase), "text": "It is my <b>garden</b>."}), &k); code != 201 {
		t.Fatalf("complaint: %d", code)
	}

	first := newUIClient(t, ts)
	first.login(t, ts.keys[vigil.RoleReviewer])
	code, _, body := first.get(t, "/ui/complaints")
	if code != 200 || !strings.Contains(body, fmt.Sprintf(`id="complaint-%d"`, k.ID)) || !strings.Contains(body, "data-age-seconds=") ||
		!strings.Contains(body, "another reviewer decides this one") || strings.Contains(body, "<b>garden</b>") {
		t.Fatalf("queue for the original reviewer: %d\n%s", code, body)
	}
	decide := fmt.Sprintf("/ui/complaints/%d/decide", k.ID)
	if code, _, _ := first.post(t, decide, url.Values{"outcome": {"rejected"}, "reasons": {"stands"}}); code != http.StatusForbidden {
		t.Fatalf("the original reviewer decides: %d", code)
	}

	secret, err := ts.Keys.CreateKey(ctx, &vigil.Key{Name: "second-reviewer", Role: vigil.RoleReviewer, CreatedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	second := newUIClient(t, ts)
	second.login(t, secret)
	if _, _, body := second.get(t, "/ui/complaints"); !strings.Contains(body, `action="`+decide+`"`) {
		t.Fatalf("no form for another reviewer:\n%s", body)
	}
	if code, loc, _ := second.post(t, decide, url.Values{"outcome": {"rejected"}, "reasons": {"the match is right"}}); code != http.StatusSeeOther || loc != "/ui/complaints?done=complaint" {
		t.Fatalf("decide: %d %q", code, loc)
	}
	if hist := strings.Join(caseHistory(t, ts, f.imageCase), ","); hist != "opened,decided,complaint,complaint.decided" {
		t.Fatalf("history: %s", hist)
	}
	// The case page shows the complaint's outcome in the history.
	if code, _, body := second.get(t, fmt.Sprintf("/ui/cases/%d", f.imageCase)); code != 200 || !strings.Contains(body, "rejected: the match is right") {
		t.Fatalf("case page: %d", code)
	}
	if code, _, body := second.get(t, "/ui/complaints?state=rejected"); code != 200 || !strings.Contains(body, "the match is right") {
		t.Fatalf("rejected tab: %d", code)
	}
	if code, _, body := second.get(t, "/ui/transparency"); code != 200 || !strings.Contains(body, `id="rates-by-bank"`) || !strings.Contains(body, "<svg") {
		t.Fatalf("transparency page: %d\n%.500s", code, body)
	}
}
