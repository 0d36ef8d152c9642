package http_test

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/vigil-oss/vigil"
	vhttp "github.com/vigil-oss/vigil/http"
)

// browser starts Debian's chromium headless at 1280×720 and returns a
// chromedp context bounded by one overall timeout. The test is skipped when
// no chromium is installed (.ci/run installs it) and in -short mode.
func browser(tb testing.TB) context.Context {
	tb.Helper()
	if testing.Short() {
		tb.Skip("browser test skipped in -short mode")
	}
	var path string
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		tb.Skip("chromium not installed (apt-get install chromium); .ci/run installs it")
	}
	// The timeout bounds the whole browser: chromedp ties the browser's
	// life to the context of its first action.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // CI runs as root, where chromium's sandbox cannot start
		chromedp.WindowSize(1280, 720),
		chromedp.Flag("disable-gpu", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx, chromedp.WithLogf(tb.Logf))
	tb.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
		cancel()
	})
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		tb.Fatalf("start chromium: %v", err)
	}
	return bctx
}

// eval runs a JavaScript expression in the page and returns its value.
func eval[T any](tb testing.TB, ctx context.Context, js string) T {
	tb.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		tb.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// do runs browser steps, failing the test with what was being done.
func do(tb testing.TB, ctx context.Context, what string, steps ...chromedp.Action[chromedp.Void]) {
	tb.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		tb.Fatalf("%s: %v", what, err)
	}
}

func TestBrowserReviewImageCase(t *testing.T) {
	ctx := browser(t)
	ts := mustOpenServer(t)
	f := seedReview(t, ts)
	id := strconv.FormatInt(f.imageCase, 10)
	casePath := "/ui/cases/" + id

	do(t, ctx, "log in",
		chromedp.Navigate(ts.URL()+"/ui/"),
		chromedp.WaitVisible(chromedp.CSS("#key")),
		chromedp.SendKeys(chromedp.CSS("#key"), ts.keys[vigil.RoleReviewer]),
		chromedp.Submit(chromedp.CSS("#key")),
		chromedp.WaitVisible(chromedp.CSS(`a[href="/ui/queues/review"]`)),
	)
	do(t, ctx, "open the queue and the case",
		chromedp.Click(chromedp.CSS(`a[href="/ui/queues/review"]`)),
		chromedp.WaitVisible(chromedp.CSS("#cases")),
		chromedp.Click(chromedp.CSS(`a[href="`+casePath+`"]`)),
		chromedp.WaitVisible(chromedp.CSS("#media")),
	)
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.getElementById("media").complete && document.getElementById("media").naturalWidth > 0`)); err != nil {
		t.Fatalf("preview did not load: %v", err)
	}

	// Blurred twice over: the server sent the small greyscale rendition,
	// and the page blurs and greys it further.
	if src := eval[string](t, ctx, `document.getElementById("media").getAttribute("src")`); src != casePath+"/preview" {
		t.Fatalf("img src %q, want the blurred rendition", src)
	}
	if w := eval[int](t, ctx, `document.getElementById("media").naturalWidth`); w > 160 {
		t.Fatalf("preview is %d pixels wide: not the reduced rendition", w)
	}
	filter := eval[string](t, ctx, `getComputedStyle(document.getElementById("media")).filter`)
	if !strings.Contains(filter, "blur(") || !strings.Contains(filter, "grayscale(") {
		t.Fatalf("media filter %q, want blur and grayscale", filter)
	}
	// The case page fits 1280 pixels without scrolling sideways.
	if w := eval[int](t, ctx, `document.documentElement.scrollWidth`); w > 1280 {
		t.Fatalf("page is %d pixels wide at 1280", w)
	}

	if vis := eval[string](t, ctx, `[document.getElementById("reveal").checkVisibility(), document.getElementById("reblur").checkVisibility()].join()`); vis != "true,false" {
		t.Fatalf("before reveal, reveal and blur-again buttons visible: %s, want true,false", vis)
	}

	// r focuses the reveal button; Enter reveals.
	do(t, ctx, "reveal", chromedp.KeyEvent("r"))
	if got := eval[string](t, ctx, `document.activeElement.id`); got != "reveal" {
		t.Fatalf("after r the focus is on %q, want the reveal button", got)
	}
	do(t, ctx, "confirm the reveal", chromedp.KeyEvent("\r"))
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`(function () {
		var m = document.getElementById("media");
		return m.getAttribute("src").indexOf("/original/") > 0 && m.complete && m.naturalWidth > 0;
	})()`)); err != nil {
		t.Fatalf("original did not load after reveal: %v", err)
	}
	if filter := eval[string](t, ctx, `getComputedStyle(document.getElementById("media")).filter`); filter != "none" {
		t.Fatalf("revealed media filter %q, want none", filter)
	}
	if vis := eval[string](t, ctx, `[document.getElementById("reveal").checkVisibility(), document.getElementById("reblur").checkVisibility(), document.activeElement.id].join()`); vis != "false,true,reblur" {
		t.Fatalf("after reveal, reveal and blur-again buttons visible and focus: %s, want false,true,reblur", vis)
	}
	if w := eval[int](t, ctx, `document.getElementById("media").naturalWidth`); w != 480 {
		t.Fatalf("revealed image is %d wide, want the original's 480", w)
	}
	if n := audited(t, ts, vigil.AuditContentReveal, "case:"+id); n != 1 {
		t.Fatalf("%d reveals in the audit log, want 1", n)
	}
	if h := caseHistory(t, ts, f.imageCase); !strings.Contains(strings.Join(h, ","), vigil.CaseEventRevealed) {
		t.Fatalf("case history %v lacks the reveal", h)
	}

	// Leaving the window re-blurs.
	do(t, ctx, "leave the window", chromedp.Evaluate[chromedp.Void](`window.dispatchEvent(new Event("blur"))`))
	if src := eval[string](t, ctx, `document.getElementById("media").getAttribute("src")`); src != casePath+"/preview" {
		t.Fatalf("after leaving, img src %q, want the preview again", src)
	}
	if filter := eval[string](t, ctx, `getComputedStyle(document.getElementById("media")).filter`); !strings.Contains(filter, "blur(") {
		t.Fatalf("after leaving, filter %q, want blurred", filter)
	}

	// The blur slider changes the strength and is remembered.
	do(t, ctx, "set the blur strength", chromedp.Evaluate[chromedp.Void](`(function () {
		var s = document.getElementById("blur-strength");
		s.value = "30";
		s.dispatchEvent(new Event("input"));
	})()`))
	if filter := eval[string](t, ctx, `getComputedStyle(document.getElementById("media")).filter`); !strings.Contains(filter, "blur(30px)") {
		t.Fatalf("filter %q after setting 30px", filter)
	}
	if v := eval[string](t, ctx, `localStorage.getItem("vigil.blur")`); v != "30" {
		t.Fatalf("blur strength stored as %q", v)
	}

	// c arms the decision form with "confirmed"; Enter submits it.
	do(t, ctx, "arm confirm", chromedp.KeyEvent("c"))
	if got := eval[string](t, ctx, `document.activeElement.id + "," + document.getElementById("verdict-confirmed").checked`); got != "decide-submit,true" {
		t.Fatalf("after c: %q, want the submit button focused and confirmed chosen", got)
	}
	do(t, ctx, "submit the decision",
		chromedp.KeyEvent("\r"),
		chromedp.WaitVisible(chromedp.CSS("#decision")),
	)
	if v := eval[string](t, ctx, `document.getElementById("decision-verdict").textContent`); v != "Confirmed" {
		t.Fatalf("decision shown as %q", v)
	}
	if n := eval[string](t, ctx, `document.getElementById("decided-count").textContent`); n != "1" {
		t.Fatalf("session counter %q after one decision, want 1", n)
	}
	c, err := ts.Cases.FindCase(context.Background(), f.imageCase)
	if err != nil {
		t.Fatal(err)
	}
	if c.State != vigil.CaseDecided || c.Decision.Verdict != vigil.VerdictConfirmed || c.Decision.DecidedBy != "key:4:reviewer" {
		t.Fatalf("case after the decision: state %s, decision %+v", c.State, c.Decision)
	}
	if n := audited(t, ts, vigil.AuditCaseDecide, "case:"+id); n != 1 {
		t.Fatalf("%d decisions audited, want 1", n)
	}

	// A newly loaded page starts blurred again, at the remembered strength.
	do(t, ctx, "reload", chromedp.Navigate(ts.URL()+casePath), chromedp.WaitVisible(chromedp.CSS("#media")))
	if filter := eval[string](t, ctx, `getComputedStyle(document.getElementById("media")).filter`); !strings.Contains(filter, "blur(30px)") || !strings.Contains(filter, "grayscale(") {
		t.Fatalf("reloaded filter %q", filter)
	}

	// ? opens the shortcut help, Escape closes it.
	do(t, ctx, "open help", chromedp.KeyEvent("?"))
	if hidden := eval[bool](t, ctx, `document.getElementById("help").hidden`); hidden {
		t.Fatal("? did not open the help")
	}
	do(t, ctx, "close help", chromedp.KeyEvent("\x1b"))
	if hidden := eval[bool](t, ctx, `document.getElementById("help").hidden`); !hidden {
		t.Fatal("Escape did not close the help")
	}
}

func TestBrowserConversationCase(t *testing.T) {
	ctx := browser(t)
	// A short break interval, to see the page's script show the reminder.
	ts := mustOpenServer(t, func(s *vhttp.Server) { s.UI.BreakEvery = 3 * time.Second })
	f := seedReview(t, ts)
	do(t, ctx, "log in and open the conversation",
		chromedp.Navigate(ts.URL()+"/ui/cases/"+strconv.FormatInt(f.convCase, 10)),
		chromedp.WaitVisible(chromedp.CSS("#key")),
		chromedp.SendKeys(chromedp.CSS("#key"), ts.keys[vigil.RoleReviewer]),
		chromedp.Submit(chromedp.CSS("#key")),
		chromedp.WaitVisible(chromedp.CSS("#conversation")),
	)
	got := eval[[]string](t, ctx, `Array.from(document.querySelectorAll("#conversation .msg.indicator")).map(function (li) {
		return li.id + ":" + Array.from(li.querySelectorAll(".tag")).map(function (t) { return t.textContent; }).join("+");
	})`)
	want := []string{"msg-2:Age probing", "msg-4:Gift+Secrecy", "msg-5:Platform move"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("highlighted messages %q, want %q", got, want)
	}
	// Highlighted messages look different from the others.
	bg := eval[[]string](t, ctx, `[getComputedStyle(document.getElementById("msg-2")).backgroundColor, getComputedStyle(document.getElementById("msg-1")).backgroundColor]`)
	if bg[0] == bg[1] {
		t.Fatalf("indicator message background %q equals a plain message's", bg[0])
	}
	// Typing a note does not trigger shortcuts.
	do(t, ctx, "type a note", chromedp.SendKeys(chromedp.CSS("#note"), "cfe"))
	if armed := eval[bool](t, ctx, `document.getElementById("decide-form").classList.contains("armed")`); armed {
		t.Fatal("typing c in the note field armed the decision form")
	}
	// The time-based break reminder appears on its own. (On a machine so
	// slow that the page loaded after the interval, the server has put
	// the reminder in the page instead.)
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`!!document.getElementById("break-reminder") || !document.getElementById("break-timer").hidden`)); err != nil {
		t.Fatalf("no break reminder after the interval: %v", err)
	}
}

// TestBrowserIncidentMediaBlurred opens an incident page in a real
// browser and checks that its files' media arrive as the reduced
// rendition and show blurred and greyscale, as on case pages.
func TestBrowserIncidentMediaBlurred(t *testing.T) {
	ctx := browser(t)
	ts := mustOpenServer(t)
	f := seedReview(t, ts)
	if code := ts.do(t, vigil.RoleReviewer, "POST", "/v1/cases/"+strconv.FormatInt(f.imageCase, 10)+"/decision", "",
		jsonBody(map[string]string{"verdict": "confirmed", "category": "B2"}), nil); code != 200 {
		t.Fatalf("decide %d", code)
	}
	var inc vigil.Incident
	if code := ts.do(t, vigil.RoleReviewer, "POST", "/v1/incidents", "", jsonBody(map[string]any{"case_ids": []int64{f.imageCase}}), &inc); code != 201 {
		t.Fatalf("create incident %d", code)
	}
	path := "/ui/incidents/" + strconv.FormatInt(inc.ID, 10)
	do(t, ctx, "log in and open the incident",
		chromedp.Navigate(ts.URL()+path),
		chromedp.WaitVisible(chromedp.CSS("#key")),
		chromedp.SendKeys(chromedp.CSS("#key"), ts.keys[vigil.RoleReviewer]),
		chromedp.Submit(chromedp.CSS("#key")),
		chromedp.WaitVisible(chromedp.CSS("#files img.media")),
	)
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`(() => { const i = document.querySelector("#files img.media"); return i.complete && i.naturalWidth > 0 })()`)); err != nil {
		t.Fatalf("preview did not load: %v", err)
	}
	if w := eval[int](t, ctx, `document.querySelector("#files img.media").naturalWidth`); w > 160 {
		t.Fatalf("preview is %d pixels wide: not the reduced rendition", w)
	}
	if filter := eval[string](t, ctx, `getComputedStyle(document.querySelector("#files img.media")).filter`); !strings.Contains(filter, "blur(") || !strings.Contains(filter, "grayscale(") {
		t.Fatalf("incident media filter %q, want blur and grayscale", filter)
	}
}
