package http_test

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/vigil-oss/vigil"
)

// TestUINotesShowInvisibleCharacters: notes are kept as written, but the
// review page writes out the characters that would hide or reorder text
// (a bidi override, a zero-width space, an escape) instead of sending them.
func TestUINotesShowInvisibleCharacters(t *testing.T) {
	ts := mustOpenServer(t)
	f := seedReview(t, ts)
	c := newUIClient(t, ts)
	c.login(t, ts.keys[vigil.RoleReviewer])
	casePath := "/ui/cases/" + strconv.FormatInt(f.imageCase, 10)

	note := "looks fine\u202etxt.exe\u200b\x1b[8m hidden"
	if code, _, _ := c.post(t, casePath+"/notes", url.Values{"note": {note}}); code != http.StatusSeeOther {
		t.Fatalf("note: %d", code)
	}
	decision := "no match\u2066 really\u2069"
	if code, _, _ := c.post(t, casePath+"/decide", url.Values{"verdict": {"false_positive"}, "notes": {decision}}); code != http.StatusSeeOther {
		t.Fatalf("decide: %d", code)
	}
	got, err := ts.Cases.FindCase(t.Context(), f.imageCase)
	if err != nil {
		t.Fatal(err)
	}
	if got.Decision.Notes != decision {
		t.Fatalf("stored notes %q, want them as written", got.Decision.Notes)
	}
	_, _, page := c.get(t, casePath)
	for _, r := range "\u202e\u200b\x1b\u2066\u2069" {
		if strings.ContainsRune(page, r) {
			t.Errorf("page sends %U", r)
		}
	}
	for _, want := range []string{`looks fine\u202Etxt.exe\u200B\u001B[8m hidden`, `no match\u2066 really\u2069`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
}
