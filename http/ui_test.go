package http_test

import (
	"bytes"
	"context"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	vhttp "github.com/vigil-oss/vigil/http"
)

// uiClient is a browser stand-in: a cookie jar, and redirects not followed
// so that tests see them.
type uiClient struct {
	*http.Client
	base string
	csrf string
}

func newUIClient(tb testing.TB, ts *testServer) *uiClient {
	tb.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		tb.Fatal(err)
	}
	return &uiClient{
		Client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		base:   ts.URL(),
	}
}

// get fetches a page and returns its status, location and body; it keeps
// the page's CSRF token for later posts.
func (c *uiClient) get(tb testing.TB, path string) (int, string, string) {
	tb.Helper()
	resp, err := c.Get(c.base + path)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if m := csrfMeta.FindSubmatch(b); m != nil {
		c.csrf = string(m[1])
	}
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

var csrfMeta = regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)">`)

// post sends a form as a same-origin browser would (with the page's CSRF
// token unless the form sets its own) and returns status and location.
func (c *uiClient) post(tb testing.TB, path string, form url.Values, header ...string) (int, string, string) {
	tb.Helper()
	if form == nil {
		form = url.Values{}
	}
	if _, ok := form["csrf"]; !ok && c.csrf != "" {
		form.Set("csrf", c.csrf)
	}
	req, err := http.NewRequest("POST", c.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", c.base)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Location"), string(b)
}

// login logs in with secret and loads the queues page for a CSRF token.
func (c *uiClient) login(tb testing.TB, secret string) {
	tb.Helper()
	code, loc, body := c.post(tb, "/ui/login", url.Values{"key": {secret}, "next": {"/ui/"}})
	if code != http.StatusSeeOther || loc != "/ui/" {
		tb.Fatalf("login: %d %q %s", code, loc, body)
	}
	if code, _, body := c.get(tb, "/ui/"); code != 200 || c.csrf == "" {
		tb.Fatalf("queues after login: %d %s", code, body)
	}
}

func TestUILoginLogout(t *testing.T) {
	ts := mustOpenServer(t)
	c := newUIClient(t, ts)

	// The root and UI pages send a browser without a session to the login form.
	if code, loc, _ := c.get(t, "/"); code != http.StatusSeeOther || loc != "/ui/" {
		t.Fatalf("GET / = %d %q", code, loc)
	}
	if code, loc, _ := c.get(t, "/ui/banks"); code != http.StatusSeeOther || loc != "/ui/login?next=%2Fui%2Fbanks" {
		t.Fatalf("GET /ui/banks without session = %d %q", code, loc)
	}
	resp, err := c.Get(c.base + "/ui/login")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	for h, want := range map[string]string{
		"Content-Security-Policy": "default-src 'self'",
		"X-Frame-Options":         "DENY",
		"X-Content-Type-Options":  "nosniff",
		"Cache-Control":           "no-store",
	} {
		if !strings.Contains(resp.Header.Get(h), want) {
			t.Errorf("%s = %q, want it to contain %q", h, resp.Header.Get(h), want)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP %q", csp)
	}

	// Assets are served without a session, one file at a time.
	for path, want := range map[string]int{"/ui/static/ui.css": 200, "/ui/static/ui.js": 200, "/ui/static/": 404, "/ui/static/nope.js": 404} {
		if code, _, _ := c.get(t, path); code != want {
			t.Errorf("GET %s = %d, want %d", path, code, want)
		}
	}

	// A wrong key gets the form again, no session.
	if code, _, body := c.post(t, "/ui/login", url.Values{"key": {"vgl_nope"}}); code != http.StatusUnauthorized || !strings.Contains(body, "not valid") {
		t.Fatalf("bad key: %d", code)
	}
	if code, _, _ := c.get(t, "/ui/"); code != http.StatusSeeOther {
		t.Fatalf("bad key made a session: %d", code)
	}

	// The right key: a session cookie with the safe attributes, and the
	// login in the audit log.
	code, loc, _ := c.post(t, "/ui/login", url.Values{"key": {ts.keys[vigil.RoleReviewer]}, "next": {"/ui/banks"}})
	if code != http.StatusSeeOther || loc != "/ui/banks" {
		t.Fatalf("login = %d %q", code, loc)
	}
	u, _ := url.Parse(c.base + "/ui/")
	cookies := c.Jar.Cookies(u)
	if len(cookies) != 1 || len(cookies[0].Value) < 40 {
		t.Fatalf("cookies %v", cookies)
	}
	resp, err = c.PostForm(c.base+"/ui/login", url.Values{"key": {ts.keys[vigil.RoleReviewer]}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	sc := resp.Header.Get("Set-Cookie")
	for _, attr := range []string{"HttpOnly", "SameSite=Strict", "Path=/ui/"} {
		if !strings.Contains(sc, attr) {
			t.Errorf("Set-Cookie %q lacks %s", sc, attr)
		}
	}
	recs, err := ts.Audit.ListAudit(context.Background(), 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var logins int
	for _, r := range recs {
		if r.Action == vigil.AuditLogin && r.Actor == "key:4:reviewer" {
			logins++
		}
	}
	if logins != 2 {
		t.Fatalf("%d logins audited, want 2", logins)
	}

	if code, _, body := c.get(t, "/ui/banks"); code != 200 || !strings.Contains(body, "reviewer (reviewer)") {
		t.Fatalf("banks page: %d", code)
	}
	// Logging out needs the CSRF token, then ends the session for good.
	if code, _, _ := c.post(t, "/ui/logout", url.Values{"csrf": {"forged"}}); code != http.StatusForbidden {
		t.Fatalf("logout with a forged token: %d", code)
	}
	if code, loc, _ := c.post(t, "/ui/logout", nil); code != http.StatusSeeOther || !strings.HasPrefix(loc, "/ui/login") {
		t.Fatalf("logout: %d %q", code, loc)
	}
	if code, _, _ := c.get(t, "/ui/banks"); code != http.StatusSeeOther {
		t.Fatalf("page after logout: %d", code)
	}
}

func TestUICSRF(t *testing.T) {
	ts := mustOpenServer(t)
	c := newUIClient(t, ts)
	c.login(t, ts.keys[vigil.RoleReviewer])
	tests := []struct {
		name   string
		form   url.Values
		header []string
		want   int
	}{
		{"no token", url.Values{"csrf": {""}}, nil, http.StatusForbidden},
		{"wrong token", url.Values{"csrf": {"x" + c.csrf[1:]}}, nil, http.StatusForbidden},
		{"cross-site", nil, []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"other origin", nil, []string{"Origin", "https://evil.example"}, http.StatusForbidden},
		{"token in header", url.Values{"csrf": {""}}, []string{"X-CSRF-Token", c.csrf}, http.StatusSeeOther},
		{"token in form", nil, nil, http.StatusSeeOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if code, _, _ := c.post(t, "/ui/break", tt.form, tt.header...); code != tt.want {
				t.Fatalf("status %d, want %d", code, tt.want)
			}
		})
	}
	// A token of one session does not work in another.
	other := newUIClient(t, ts)
	other.login(t, ts.keys[vigil.RoleReviewer])
	if code, _, _ := other.post(t, "/ui/break", url.Values{"csrf": {c.csrf}}); code != http.StatusForbidden {
		t.Fatalf("another session's token: %d", code)
	}
}

// TestUIFormTooLarge checks that a form over the limit is refused as too
// large, whether its CSRF token is in the form or in the header, not taken
// for a form without its fields.
func TestUIFormTooLarge(t *testing.T) {
	ts := mustOpenServer(t)
	c := newUIClient(t, ts)
	c.login(t, ts.keys[vigil.RoleReviewer])
	big := strings.Repeat("x", 100<<10)
	if code, _, body := c.post(t, "/ui/break", url.Values{"note": {big}}); code != http.StatusRequestEntityTooLarge || !strings.Contains(body, "larger than") {
		t.Errorf("token in form: %d %s", code, body)
	}
	if code, _, _ := c.post(t, "/ui/break", url.Values{"csrf": {""}, "note": {big}}, "X-CSRF-Token", c.csrf); code != http.StatusRequestEntityTooLarge {
		t.Errorf("token in header: %d", code)
	}
	if code, _, _ := newUIClient(t, ts).post(t, "/ui/login", url.Values{"key": {big}}); code != http.StatusRequestEntityTooLarge {
		t.Errorf("login: %d", code)
	}
}

func TestUIRoles(t *testing.T) {
	ts := mustOpenServer(t)
	tests := []struct {
		role vigil.Role
		path string
		want int
	}{
		{vigil.RoleMatcher, "/ui/banks", http.StatusForbidden},
		{vigil.RoleMatcher, "/ui/", http.StatusOK},
		{vigil.RoleCurator, "/ui/banks", http.StatusOK},
		{vigil.RoleReviewer, "/ui/banks", http.StatusOK},
		{vigil.RoleAdmin, "/ui/banks", http.StatusOK},
	}
	for _, tt := range tests {
		c := newUIClient(t, ts)
		c.login(t, ts.keys[tt.role])
		if code, _, _ := c.get(t, tt.path); code != tt.want {
			t.Errorf("%s GET %s = %d, want %d", tt.role, tt.path, code, tt.want)
		}
	}
}

func TestUIRevokedKeyEndsSession(t *testing.T) {
	ts := mustOpenServer(t)
	ctx := context.Background()
	secret, err := ts.Keys.CreateKey(ctx, &vigil.Key{Name: "temp", Role: vigil.RoleReviewer, CreatedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	c := newUIClient(t, ts)
	c.login(t, secret)
	// Revoking through the API ends the key's sessions at once.
	keys, _ := ts.Keys.ListKeys(ctx)
	var id int64
	for _, k := range keys {
		if k.Name == "temp" {
			id = k.ID
		}
	}
	if code := ts.do(t, vigil.RoleAdmin, "DELETE", "/v1/keys/"+strconv.FormatInt(id, 10), "", nil, nil); code != 200 {
		t.Fatalf("revoke: %d", code)
	}
	if code, _, _ := c.get(t, "/ui/banks"); code != http.StatusSeeOther {
		t.Fatalf("revoked key's session still works: %d", code)
	}
}

func TestUILoginRateLimit(t *testing.T) {
	ts := mustOpenServer(t)
	c := newUIClient(t, ts)
	for i := range 5 {
		if code, _, _ := c.post(t, "/ui/login", url.Values{"key": {"vgl_guess" + strconv.Itoa(i)}}); code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i, code)
		}
	}
	// Past the burst even the right key waits: the limiter counts the
	// address, not the key.
	if code, _, body := c.post(t, "/ui/login", url.Values{"key": {ts.keys[vigil.RoleReviewer]}}); code != http.StatusTooManyRequests || !strings.Contains(body, "Too many") {
		t.Fatalf("sixth try: %d", code)
	}
}

// caseHistory returns the kinds of a case's events in order.
func caseHistory(tb testing.TB, ts *testServer, id int64) []string {
	tb.Helper()
	evs, err := ts.Cases.CaseHistory(context.Background(), id)
	if err != nil {
		tb.Fatal(err)
	}
	var kinds []string
	for _, ev := range evs {
		kinds = append(kinds, ev.Kind)
	}
	return kinds
}

// audited counts audit records with the given action and target.
func audited(tb testing.TB, ts *testServer, action, target string) int {
	tb.Helper()
	recs, err := ts.Audit.ListAudit(context.Background(), 0, 1000)
	if err != nil {
		tb.Fatal(err)
	}
	n := 0
	for _, r := range recs {
		if r.Action == action && r.Target == target {
			n++
		}
	}
	return n
}

func TestUIQueuesByRole(t *testing.T) {
	ts := mustOpenServer(t)
	f := seedReview(t, ts)
	rev := newUIClient(t, ts)
	rev.login(t, ts.keys[vigil.RoleReviewer])
	_, _, body := rev.get(t, "/ui/")
	if !strings.Contains(body, `href="/ui/queues/review"`) || strings.Contains(body, "curation") {
		t.Fatalf("reviewer's queues page:\n%s", body)
	}
	if !regexp.MustCompile(`<td class="num">2</td>`).MatchString(body) {
		t.Fatalf("review queue does not count its 2 open cases:\n%s", body)
	}
	// A queue and a case the role may not see are not found, as if absent.
	for _, p := range []string{"/ui/queues/curation", "/ui/cases/" + strconv.FormatInt(f.hiddenCase, 10), "/ui/cases/" + strconv.FormatInt(f.hiddenCase, 10) + "/preview"} {
		if code, _, _ := rev.get(t, p); code != http.StatusNotFound {
			t.Errorf("reviewer GET %s = %d, want 404", p, code)
		}
	}
	// Case work is for reviewers, as in the API, even in a queue that
	// allows another role.
	cur := newUIClient(t, ts)
	cur.login(t, ts.keys[vigil.RoleCurator])
	if _, _, body := cur.get(t, "/ui/"); strings.Contains(body, "/ui/queues/") || !strings.Contains(body, "does not review cases") {
		t.Fatalf("curator's queues page:\n%s", body)
	}
	if code, _, _ := cur.get(t, "/ui/queues/curation"); code != http.StatusForbidden {
		t.Fatalf("curator GET /ui/queues/curation = %d, want 403", code)
	}
	adm := newUIClient(t, ts)
	adm.login(t, ts.keys[vigil.RoleAdmin])
	if _, _, body := adm.get(t, "/ui/"); !strings.Contains(body, "/ui/queues/curation") || !strings.Contains(body, "/ui/queues/review") {
		t.Fatal("admin does not see every queue")
	}
	// The case list and next-case redirect.
	if _, _, body := rev.get(t, "/ui/queues/review"); !strings.Contains(body, "Case "+strconv.FormatInt(f.imageCase, 10)) {
		t.Fatalf("queue page lacks the image case:\n%s", body)
	}
	// Highest priority first: the conversation (80), then the image (50),
	// then round again.
	img, conv := "/ui/cases/"+strconv.FormatInt(f.imageCase, 10), "/ui/cases/"+strconv.FormatInt(f.convCase, 10)
	for _, tt := range []struct{ after, want string }{{"", conv}, {strconv.FormatInt(f.convCase, 10), img}, {strconv.FormatInt(f.imageCase, 10), conv}} {
		if code, loc, _ := rev.get(t, "/ui/queues/review/next?after="+tt.after); code != http.StatusSeeOther || loc != tt.want {
			t.Errorf("next after %q = %d %q, want %s", tt.after, code, loc, tt.want)
		}
	}
}

func TestUIRevealAndDecide(t *testing.T) {
	ts := mustOpenServer(t)
	f := seedReview(t, ts)
	c := newUIClient(t, ts)
	c.login(t, ts.keys[vigil.RoleReviewer])
	id := strconv.FormatInt(f.imageCase, 10)
	casePath := "/ui/cases/" + id

	code, _, page := c.get(t, casePath)
	if code != 200 {
		t.Fatalf("case page %d", code)
	}
	if !strings.Contains(page, `class="media blurred" src="`+casePath+`/preview"`) || strings.Contains(page, "/original/") {
		t.Fatalf("case page does not show only the blurred preview:\n%s", page)
	}
	for _, want := range []string{"test-list", "t-1", `href="/ui/entries/` + strconv.FormatInt(f.entryID, 10) + `"`, "upload-17"} {
		if !strings.Contains(page, want) {
			t.Errorf("case page lacks %q", want)
		}
	}

	// The preview is a greyscale rendition, not the original.
	resp, err := c.Get(c.base + casePath + "/preview")
	if err != nil {
		t.Fatal(err)
	}
	preview, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.Header.Get("Content-Type") != "image/png" || bytes.Equal(preview, f.media) {
		t.Fatalf("preview: %s, %d bytes", resp.Header.Get("Content-Type"), len(preview))
	}
	img, err := png.Decode(bytes.NewReader(preview))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := img.(*image.Gray); !ok {
		t.Fatalf("preview is %T, want greyscale", img)
	}
	if code, _, _ := c.get(t, casePath+"/original/guess"); code != http.StatusForbidden {
		t.Fatalf("original without a reveal: %d", code)
	}
	if n := audited(t, ts, vigil.AuditContentReveal, "case:"+id); n != 0 {
		t.Fatalf("%d reveals audited before any", n)
	}

	// Reveal as the script does: CSRF header, JSON answer with the URL.
	code, _, body := c.post(t, casePath+"/reveal", url.Values{"csrf": {""}}, "X-CSRF-Token", c.csrf, "Accept", "application/json")
	if code != 200 {
		t.Fatalf("reveal: %d %s", code, body)
	}
	var rev struct{ URL string }
	if err := json.Unmarshal([]byte(body), &rev); err != nil || !strings.HasPrefix(rev.URL, casePath+"/original/") {
		t.Fatalf("reveal answer %q", body)
	}
	if n := audited(t, ts, vigil.AuditContentReveal, "case:"+id); n != 1 {
		t.Fatalf("%d reveals audited, want 1", n)
	}
	if h := caseHistory(t, ts, f.imageCase); !slices.Contains(h, vigil.CaseEventRevealed) {
		t.Fatalf("history %v lacks the reveal", h)
	}
	resp, err = c.Get(c.base + rev.URL)
	if err != nil {
		t.Fatal(err)
	}
	orig, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.Equal(orig, f.media) || resp.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("original: %d %s, %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(orig))
	}
	// The grant is the session's: another reviewer's session cannot use it.
	other := newUIClient(t, ts)
	other.login(t, ts.keys[vigil.RoleReviewer])
	if code, _, _ := other.get(t, rev.URL); code != http.StatusForbidden {
		t.Fatalf("another session fetched the original: %d", code)
	}
	// Without script: the form posts, the page comes back with the original.
	code, loc, _ := c.post(t, casePath+"/reveal", nil)
	if code != http.StatusSeeOther || !strings.HasPrefix(loc, casePath+"?reveal=") {
		t.Fatalf("form reveal: %d %q", code, loc)
	}
	if _, _, page := c.get(t, loc); !strings.Contains(page, casePath+"/original/") || strings.Contains(page, `class="media blurred"`) {
		t.Fatal("page after a form reveal does not show the original")
	}

	// A note, then a decision.
	if code, _, _ := c.post(t, casePath+"/notes", url.Values{"note": {"benign landscape"}}); code != http.StatusSeeOther {
		t.Fatalf("note: %d", code)
	}
	if code, _, _ := c.post(t, casePath+"/decide", url.Values{"verdict": {"maybe"}}); code != http.StatusBadRequest {
		t.Fatalf("bad verdict: %d", code)
	}
	code, loc, _ = c.post(t, casePath+"/decide", url.Values{"verdict": {"false_positive"}, "category": {"benign"}, "notes": {"a drawing of a sun"}})
	if code != http.StatusSeeOther || loc != casePath+"?done=decided" {
		t.Fatalf("decide: %d %q", code, loc)
	}
	got, err := ts.Cases.FindCase(context.Background(), f.imageCase)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != vigil.CaseDecided || got.Decision == nil || got.Decision.Verdict != vigil.VerdictFalsePositive ||
		got.Decision.DecidedBy != "key:4:reviewer" || got.Decision.Category != "benign" {
		t.Fatalf("case after decision: %+v %+v", got, got.Decision)
	}
	if n := audited(t, ts, vigil.AuditCaseDecide, "case:"+id); n != 1 {
		t.Fatalf("%d decisions audited", n)
	}
	if h := caseHistory(t, ts, f.imageCase); !slices.Contains(h, vigil.CaseEventNote) || !slices.Contains(h, vigil.CaseEventDecided) {
		t.Fatalf("history %v", h)
	}
	_, _, page = c.get(t, loc)
	if !strings.Contains(page, `<strong id="decided-count">1</strong>`) || !strings.Contains(page, "Decision recorded.") || strings.Contains(page, `id="decide-form"`) {
		t.Fatalf("page after the decision:\n%s", page)
	}
	if strings.Contains(page, "break-reminder") || !strings.Contains(page, `id="break-timer"`) {
		t.Fatal("break reminder after one decision, or no timer for the time-based one")
	}
	if _, _, page := c.get(t, "/ui/banks"); !strings.Contains(page, `<td class="num">0%</td>`) {
		t.Fatalf("banks page does not show the bank's review precision after one false positive:\n%s", page)
	}
	// A decided case cannot be decided again.
	if code, _, _ := c.post(t, casePath+"/decide", url.Values{"verdict": {"confirmed"}}); code != http.StatusConflict {
		t.Fatalf("second decision: %d", code)
	}
	// The entry page shows what review said about the entry.
	if _, _, page := c.get(t, "/ui/entries/"+strconv.FormatInt(f.entryID, 10)); !regexp.MustCompile(`False positives</dt><dd>1<`).MatchString(page) {
		t.Fatalf("entry page:\n%s", page)
	}
}

func TestUIConversationCase(t *testing.T) {
	ts := mustOpenServer(t)
	f := seedReview(t, ts)
	c := newUIClient(t, ts)
	c.login(t, ts.keys[vigil.RoleReviewer])
	code, _, page := c.get(t, "/ui/cases/"+strconv.FormatInt(f.convCase, 10))
	if code != 200 {
		t.Fatalf("conversation case: %d", code)
	}
	// Messages 2, 4 and 5 carry indicators and are highlighted and
	// labelled; the others are not.
	for i, want := range map[int][]string{2: {"Age probing"}, 4: {"Gift", "Secrecy"}, 5: {"Platform move"}} {
		li := regexp.MustCompile(`(?s)<li class="msg indicator[^"]*" id="msg-` + strconv.Itoa(i) + `">.*?</li>`).FindString(page)
		if li == "" {
			t.Fatalf("message %d is not highlighted:\n%s", i, page)
		}
		for _, label := range want {
			if !strings.Contains(li, `class="tag"`) || !strings.Contains(li, ">"+label+"<") {
				t.Errorf("message %d lacks the label %q: %s", i, label, li)
			}
		}
	}
	if regexp.MustCompile(`class="msg indicator[^"]*" id="msg-[013]"`).MatchString(page) {
		t.Fatal("a message without indicators is highlighted")
	}
	if strings.Contains(page, `id="media-box"`) {
		t.Fatal("a conversation case shows a media box")
	}
}

func TestUIVideoCase(t *testing.T) {
	if os.Getenv("VIGIL_SKIP_FFMPEG") != "" {
		t.Skip("VIGIL_SKIP_FFMPEG set")
	}
	ts := mustOpenServer(t)
	f := seedReview(t, ts)
	ctx := context.Background()
	video, err := os.ReadFile("../vpdq/testdata/sample-videos/pattern-sd-with-small-logo-bar.mp4")
	if err != nil {
		t.Fatal(err)
	}
	mediaID, err := ts.Media.Put(ctx, video)
	if err != nil {
		t.Fatal(err)
	}
	img, err := ts.Cases.FindCase(ctx, f.imageCase)
	if err != nil {
		t.Fatal(err)
	}
	vc := &vigil.Case{Queue: "review", Kind: vigil.CaseKindMatch, Matches: img.Matches, RetainUntil: img.RetainUntil,
		Content: vigil.ContentRef{MediaType: "video/mp4", MediaID: mediaID}}
	if err := ts.Cases.OpenCase(ctx, vc, "test"); err != nil {
		t.Fatal(err)
	}
	c := newUIClient(t, ts)
	c.login(t, ts.keys[vigil.RoleReviewer])
	casePath := "/ui/cases/" + strconv.FormatInt(vc.ID, 10)

	// Before a reveal: a blurred poster image, no video element.
	_, _, page := c.get(t, casePath)
	if strings.Contains(page, "<video") || !strings.Contains(page, `class="media blurred" src="`+casePath+`/preview"`) {
		t.Fatalf("video case page before reveal:\n%s", page)
	}
	resp, err := c.Get(c.base + casePath + "/preview")
	if err != nil {
		t.Fatal(err)
	}
	poster, err := png.Decode(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	// The first frame (480×720 fits 160 as 106×160), greyscale, with
	// more than the flat placeholder's one value.
	g, ok := poster.(*image.Gray)
	if !ok || g.Rect.Dx() != 106 || g.Rect.Dy() != 160 {
		t.Fatalf("poster %T %v, want a 106x160 greyscale frame", poster, poster.Bounds())
	}
	levels := map[uint8]bool{}
	for _, v := range g.Pix {
		levels[v] = true
	}
	if len(levels) < 8 {
		t.Fatalf("poster has %d grey levels: the placeholder, not a frame", len(levels))
	}

	// After a reveal: the video, muted, with controls, never autoplaying.
	code, loc, _ := c.post(t, casePath+"/reveal", nil)
	if code != http.StatusSeeOther {
		t.Fatalf("reveal: %d", code)
	}
	_, _, page = c.get(t, loc)
	v := regexp.MustCompile(`<video [^>]*>`).FindString(page)
	if v == "" || !strings.Contains(v, " controls") || !strings.Contains(v, " muted") || strings.Contains(v, "autoplay") {
		t.Fatalf("revealed video element %q", v)
	}
	src := regexp.MustCompile(`src="([^"]+)"`).FindStringSubmatch(v)[1]
	resp, err = c.Get(c.base + src)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "video/mp4" || !bytes.Equal(body, video) {
		t.Fatalf("revealed video: %d %s, %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(body))
	}
}

func TestUIEscalatedCase(t *testing.T) {
	ts := mustOpenServer(t)
	f := seedReview(t, ts)
	c := newUIClient(t, ts)
	c.login(t, ts.keys[vigil.RoleReviewer])
	casePath := "/ui/cases/" + strconv.FormatInt(f.convCase, 10)
	if code, _, _ := c.post(t, casePath+"/decide", url.Values{"verdict": {"escalate"}, "notes": {"needs a senior"}}); code != http.StatusSeeOther {
		t.Fatalf("escalate: %d", code)
	}
	// Escalated: still open for a decision, but not for another escalation.
	_, _, page := c.get(t, casePath)
	if !strings.Contains(page, `id="decide-form"`) || strings.Contains(page, `id="verdict-escalate"`) || !strings.Contains(page, "needs a senior") {
		t.Fatalf("escalated case page:\n%s", page)
	}
	if code, _, _ := c.post(t, casePath+"/decide", url.Values{"verdict": {"escalate"}}); code != http.StatusConflict {
		t.Fatalf("second escalation: %d", code)
	}
	adm := newUIClient(t, ts)
	adm.login(t, ts.keys[vigil.RoleAdmin])
	if code, _, _ := adm.post(t, casePath+"/decide", url.Values{"verdict": {"confirmed"}, "category": {"grooming"}}); code != http.StatusSeeOther {
		t.Fatalf("senior decision: %d", code)
	}
	got, err := ts.Cases.FindCase(context.Background(), f.convCase)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != vigil.CaseDecided || got.Decision.DecidedBy != "key:1:admin" {
		t.Fatalf("after the senior decision: %s %+v", got.State, got.Decision)
	}
	// Each session counts its own decisions.
	if _, _, page := c.get(t, "/ui/"); !strings.Contains(page, `<strong id="decided-count">1</strong>`) {
		t.Fatal("reviewer's counter is not 1")
	}
}

func TestUICuratorEntryActions(t *testing.T) {
	ts := mustOpenServer(t)
	f := seedReview(t, ts)
	ctx := context.Background()
	entryPath := "/ui/entries/" + strconv.FormatInt(f.entryID, 10)
	target := "entry:" + strconv.FormatInt(f.entryID, 10)

	rev := newUIClient(t, ts)
	rev.login(t, ts.keys[vigil.RoleReviewer])
	if _, _, page := rev.get(t, entryPath); strings.Contains(page, "quarantine-submit") {
		t.Fatal("a reviewer is offered the curator's forms")
	}
	if code, _, _ := rev.post(t, entryPath+"/quarantine", url.Values{"reason": {"x"}}); code != http.StatusForbidden {
		t.Fatalf("reviewer quarantine: %d", code)
	}

	cur := newUIClient(t, ts)
	cur.login(t, ts.keys[vigil.RoleCurator])
	if _, _, page := cur.get(t, entryPath); !strings.Contains(page, "quarantine-submit") || !strings.Contains(page, "retract-submit") {
		t.Fatalf("curator's entry page lacks the forms:\n%s", page)
	}
	if code, _, _ := cur.post(t, entryPath+"/quarantine", url.Values{"reason": {""}}); code != http.StatusBadRequest {
		t.Fatalf("quarantine without a reason: %d", code)
	}
	if code, _, _ := cur.post(t, entryPath+"/quarantine", url.Values{"reason": {"too many false positives"}}); code != http.StatusSeeOther {
		t.Fatalf("quarantine: %d", code)
	}
	if e, err := ts.Entries.FindEntryByID(ctx, f.entryID); err != nil || !e.Quarantined() {
		t.Fatalf("entry after quarantine: %+v %v", e, err)
	}
	if n := audited(t, ts, vigil.AuditEntryQuarantine, target); n != 1 {
		t.Fatalf("%d quarantines audited", n)
	}
	if _, _, page := cur.get(t, "/ui/quarantine"); !strings.Contains(page, `href="`+entryPath+`"`) || !strings.Contains(page, "too many false positives") {
		t.Fatalf("quarantine list:\n%s", page)
	}
	if _, _, page := cur.get(t, entryPath); !strings.Contains(page, `id="quarantine"`) || !strings.Contains(page, `id="release"`) {
		t.Fatalf("quarantined entry page:\n%s", page)
	}
	if code, _, _ := cur.post(t, entryPath+"/release", nil); code != http.StatusSeeOther {
		t.Fatalf("release: %d", code)
	}
	if e, _ := ts.Entries.FindEntryByID(ctx, f.entryID); e.Quarantined() || audited(t, ts, vigil.AuditEntryRelease, target) != 1 {
		t.Fatal("release did not take or was not audited")
	}
	if code, _, _ := cur.post(t, entryPath+"/retract", url.Values{"reason": {"source withdrew it"}}); code != http.StatusSeeOther {
		t.Fatalf("retract: %d", code)
	}
	if e, _ := ts.Entries.FindEntryByID(ctx, f.entryID); !e.Retracted() || e.RetractedBy != "key:2:curator" {
		t.Fatalf("entry after retraction: %+v", e)
	}
}

func TestUIBreakReminder(t *testing.T) {
	ts := mustOpenServer(t, func(s *vhttp.Server) { s.UI.BreakAfter = 2 })
	ctx := context.Background()
	f := seedReview(t, ts)
	img, _ := ts.Cases.FindCase(ctx, f.imageCase)
	c := newUIClient(t, ts)
	c.login(t, ts.keys[vigil.RoleReviewer])
	decide := func(id int64) string {
		t.Helper()
		code, loc, _ := c.post(t, "/ui/cases/"+strconv.FormatInt(id, 10)+"/decide", url.Values{"verdict": {"false_positive"}})
		if code != http.StatusSeeOther {
			t.Fatalf("decide %d: %d", id, code)
		}
		_, _, page := c.get(t, loc)
		return page
	}
	if page := decide(f.imageCase); strings.Contains(page, `id="break-reminder"`) {
		t.Fatal("reminder after 1 of 2 decisions")
	}
	page := decide(f.convCase)
	if !strings.Contains(page, `id="break-reminder"`) || !strings.Contains(page, "You have reviewed 2 items") {
		t.Fatalf("no reminder after 2 decisions:\n%s", page)
	}
	// Saying so restarts the reminder's count; the session's count goes on.
	if code, loc, _ := c.post(t, "/ui/break", nil); code != http.StatusSeeOther || loc != "/ui/?done=break" {
		t.Fatalf("break: %d %q", code, loc)
	}
	_, _, page = c.get(t, "/ui/?done=break")
	if strings.Contains(page, `id="break-reminder"`) || !strings.Contains(page, `<strong id="decided-count">2</strong>`) {
		t.Fatalf("after the break:\n%s", page)
	}
	third := &vigil.Case{Queue: "review", Kind: vigil.CaseKindMatch, Matches: img.Matches, RetainUntil: img.RetainUntil}
	if err := ts.Cases.OpenCase(ctx, third, "test"); err != nil {
		t.Fatal(err)
	}
	if page := decide(third.ID); strings.Contains(page, `id="break-reminder"`) || !strings.Contains(page, `<strong id="decided-count">3</strong>`) {
		t.Fatal("reminder right after a break, or the session count restarted")
	}
}

// twin opens a second server over ts's stores: another replica on the
// same database, or this one after a restart, with nothing in memory.
func (ts *testServer) twin(tb testing.TB) *vhttp.Server {
	tb.Helper()
	s := vhttp.NewServer()
	s.Addr, s.Banks, s.Entries, s.Keys, s.Matcher, s.Logger = "127.0.0.1:0", ts.Banks, ts.Entries, ts.Keys, ts.Matcher, ts.Logger
	s.Hashing, s.Conversations, s.Grooming, s.ConversationRetention = ts.Hashing, ts.Conversations, ts.Grooming, ts.ConversationRetention
	s.Audit, s.Signals, s.KeepSignals = ts.Audit, ts.Signals, ts.KeepSignals
	s.Cases, s.Rules, s.Media, s.Incidents, s.Items = ts.Cases, ts.Rules, ts.Media, ts.Incidents, ts.Items
	s.Preservation, s.Feeds, s.Subscriptions, s.Sessions = ts.Preservation, ts.Feeds, ts.Subscriptions, ts.Sessions
	if err := s.Open(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Close(ctx)
	})
	return s
}

// TestUISessionSharedAcrossServers logs in through one server and goes on
// through another over the same store, as through two replicas behind a
// load balancer or across a restart: the session, its CSRF token and its
// reveal grants work on both, logout and revocation end it on both, and
// failed logins through both count against one limit.
func TestUISessionSharedAcrossServers(t *testing.T) {
	ts := mustOpenServer(t)
	b := ts.twin(t)
	ctx := context.Background()
	secret, err := ts.Keys.CreateKey(ctx, &vigil.Key{Name: "temp", Role: vigil.RoleReviewer, CreatedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ca := newUIClient(t, ts)
	ca.login(t, secret)
	// The same browser session, sent to B.
	au, _ := url.Parse(ts.URL())
	bu, _ := url.Parse(b.URL())
	cb := &uiClient{Client: &http.Client{Jar: ca.Jar, CheckRedirect: ca.CheckRedirect}, base: b.URL()}
	cb.Jar.SetCookies(bu, ca.Jar.Cookies(au))
	if code, loc, _ := cb.get(t, "/ui/banks"); code != 200 {
		t.Fatalf("session made through A, page through B: %d %q", code, loc)
	}
	// A form rendered by A posts to B (the CSRF token is the session's).
	cb.csrf = ca.csrf
	if code, loc, body := cb.post(t, "/ui/break", nil); code != http.StatusSeeOther || loc != "/ui/?done=break" {
		t.Fatalf("break through B with A's form: %d %q %s", code, loc, body)
	}
	// Logout through B ends the session on A.
	if code, _, _ := cb.post(t, "/ui/logout", nil); code != http.StatusSeeOther {
		t.Fatalf("logout through B: %d", code)
	}
	if code, _, _ := ca.get(t, "/ui/banks"); code != http.StatusSeeOther {
		t.Fatalf("session logged out through B still works on A: %d", code)
	}

	// Revocation through A ends a session on B at once.
	ca.login(t, secret)
	cb.Jar.SetCookies(bu, ca.Jar.Cookies(au))
	if code, _, _ := cb.get(t, "/ui/banks"); code != 200 {
		t.Fatalf("second session through B: %d", code)
	}
	keys, _ := ts.Keys.ListKeys(ctx)
	for _, k := range keys {
		if k.Name == "temp" {
			if code := ts.do(t, vigil.RoleAdmin, "DELETE", "/v1/keys/"+strconv.FormatInt(k.ID, 10), "", nil, nil); code != 200 {
				t.Fatalf("revoke: %d", code)
			}
		}
	}
	if code, _, _ := cb.get(t, "/ui/banks"); code != http.StatusSeeOther {
		t.Fatalf("revoked key's session still works on B: %d", code)
	}

	// Failures through A and B add up to one limit.
	for i := range vigil.LoginBurst {
		c := ca
		if i%2 == 1 {
			c = cb
		}
		if code, _, _ := c.post(t, "/ui/login", url.Values{"key": {"vgl_guess" + strconv.Itoa(i)}}); code != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i, code)
		}
	}
	for _, c := range []*uiClient{ca, cb} {
		if code, _, _ := c.post(t, "/ui/login", url.Values{"key": {ts.keys[vigil.RoleReviewer]}}); code != http.StatusTooManyRequests {
			t.Fatalf("after %d failures split between A and B, a login through %s: %d, want 429", vigil.LoginBurst, c.base, code)
		}
	}
}
