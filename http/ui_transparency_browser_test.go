package http_test

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vigil-oss/vigil"
)

// TestBrowserTransparencyChart renders the transparency page in Chromium
// and checks the charts show the figures GET /v1/transparency gives: the
// bar of the bank's matches is labelled with its count, the rate bar
// with the confirmed rate and its interval, and the page loads nothing
// but itself and the UI's own files.
func TestBrowserTransparencyChart(t *testing.T) {
	ctx := browser(t)
	ts := mustOpenServer(t)
	f := seedReview(t, ts)
	var c vigil.Case
	if code := ts.do(t, vigil.RoleReviewer, "POST", fmt.Sprintf("/v1/cases/%d/decision", f.imageCase), "application/json",
		jsonBody(map[string]string{"verdict": "confirmed"}), &c); code != 200 {
		t.Fatalf("decide: %d", code)
	}
	day := time.Now().UTC().Format(time.DateOnly)
	query := "?from=" + day + "&to=" + day
	var tr vigil.Transparency
	if code := ts.do(t, vigil.RoleReviewer, "GET", "/v1/transparency"+query, "", nil, &tr); code != 200 || len(tr.MatchesByBank) == 0 || len(tr.RatesByBank) == 0 {
		t.Fatalf("transparency %d: %+v", code, tr)
	}

	do(t, ctx, "log in and open the transparency page",
		chromedp.Navigate(ts.URL()+"/ui/transparency"+query),
		chromedp.WaitVisible(chromedp.CSS("#key")),
		chromedp.SendKeys(chromedp.CSS("#key"), ts.keys[vigil.RoleReviewer]),
		chromedp.Submit(chromedp.CSS("#key")),
		chromedp.WaitVisible(chromedp.CSS("#matches-by-bank svg")),
	)
	bank := tr.MatchesByBank[0]
	label := eval[string](t, ctx, `document.querySelector('#matches-by-bank text.value[data-label="`+bank.Name+`"]').textContent`)
	if label != strconv.FormatInt(bank.N, 10) {
		t.Errorf("bar of %s reads %q, JSON says %d", bank.Name, label, bank.N)
	}
	// The bar is drawn: it has a width in the browser's layout.
	if w := eval[float64](t, ctx, `document.querySelector('#matches-by-bank rect').getBBox().width`); w <= 0 {
		t.Errorf("bar width %v", w)
	}
	rate := tr.RatesByBank[0]
	want := fmt.Sprintf("%.1f%% (%.1f–%.1f%%)", 100*rate.Rate, 100*rate.Low, 100*rate.High)
	if got := eval[string](t, ctx, `document.querySelector('#rates-by-bank text.value[data-label="`+rate.Name+`"]').textContent`); got != want {
		t.Errorf("rate bar of %s reads %q, JSON gives %q", rate.Name, got, want)
	}
	// Nothing fetched from elsewhere: every resource is the server's own.
	if n := eval[int](t, ctx, `performance.getEntriesByType("resource").filter(function (e) { return e.name.indexOf(location.origin) !== 0; }).length`); n != 0 {
		t.Errorf("%d resources from elsewhere", n)
	}
}
