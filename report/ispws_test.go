package report_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/report"
	"github.com/vigil-oss/vigil/sqlite"
)

// fakeISPWS answers as NCMEC documents ISPWS: HTTP Basic, XML replies
// with a responseCode, 32-hex file ids, reportDoneResponse on finish. A
// test sets hook to fail or stall a step.
type fakeISPWS struct {
	t  testing.TB
	mu sync.Mutex
	// hook, if set, runs first for every request; if it returns true it
	// has answered (or stalled) and the request goes no further.
	hook    func(w http.ResponseWriter, r *http.Request, step string) bool
	next    int64
	reports map[int64]*fakeReport
	calls   map[string]int
}

type fakeReport struct {
	files     []string
	infos     int
	finished  int
	retracted bool
}

func newFakeISPWS(t testing.TB) (*fakeISPWS, *httptest.Server) {
	f := &fakeISPWS{t: t, next: 9000, reports: map[int64]*fakeReport{}, calls: map[string]int{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv
}

func reply(w http.ResponseWriter, status int, body string) {
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(status)
	io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?>`+body)
}

func code(w http.ResponseWriter, c int, desc string) {
	reply(w, 200, fmt.Sprintf("<reportResponse><responseCode>%d</responseCode><responseDescription>%s</responseDescription></reportResponse>", c, desc))
}

func (f *fakeISPWS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	step := strings.TrimPrefix(r.URL.Path, "/ispws/")
	if u, p, ok := r.BasicAuth(); !ok || u != "esp" || p != "secret" {
		code(w, 2000, "Authentication required")
		return
	}
	f.mu.Lock()
	f.calls[step]++
	hook := f.hook
	f.mu.Unlock()
	if hook != nil && hook(w, r, step) {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch step {
	case "submit":
		body, _ := io.ReadAll(r.Body)
		if !strings.Contains(string(body), "<report>") {
			code(w, 4110, "Malformed XML")
			return
		}
		f.next++
		f.reports[f.next] = &fakeReport{}
		reply(w, 200, fmt.Sprintf("<reportResponse><responseCode>0</responseCode><responseDescription>Success</responseDescription><reportId>%d</reportId></reportResponse>", f.next))
	case "upload":
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			code(w, 4200, "Malformed file submittal")
			return
		}
		rep := f.open(w, r.FormValue("id"))
		if rep == nil {
			return
		}
		file, _, err := r.FormFile("file")
		if err != nil {
			code(w, 4200, "Malformed file submittal")
			return
		}
		data, _ := io.ReadAll(file)
		sum := md5.Sum(data)
		id := hex.EncodeToString(sum[:]) // 32 hex, as NCMEC's file ids
		rep.files = append(rep.files, id)
		reply(w, 200, fmt.Sprintf("<reportResponse><responseCode>0</responseCode><responseDescription>Success</responseDescription><reportId>%s</reportId><fileId>%s</fileId><hash>%x</hash></reportResponse>",
			r.FormValue("id"), id, sum))
	case "fileinfo":
		body, _ := io.ReadAll(r.Body)
		s := string(body)
		i, j := strings.Index(s, "<reportId>"), strings.Index(s, "</reportId>")
		if i < 0 || j < i {
			code(w, 4100, "Schema validation failed: reportId is missing")
			return
		}
		if rep := f.open(w, s[i+len("<reportId>"):j]); rep != nil {
			rep.infos++
			code(w, 0, "Success")
		}
	case "finish":
		r.ParseForm()
		rep := f.reports[atoi(r.FormValue("id"))]
		switch {
		case rep == nil:
			code(w, 5001, "Report does not exist")
		case rep.finished > 0:
			rep.finished++
			code(w, 5102, "Report already finished")
		default:
			rep.finished++
			files := ""
			for _, id := range rep.files {
				files += "<fileId>" + id + "</fileId>"
			}
			reply(w, 200, fmt.Sprintf("<reportDoneResponse><responseCode>0</responseCode><reportId>%s</reportId><files>%s</files></reportDoneResponse>", r.FormValue("id"), files))
		}
	case "retract":
		r.ParseForm()
		rep := f.reports[atoi(r.FormValue("id"))]
		switch {
		case rep == nil:
			code(w, 5001, "Report does not exist")
		case rep.retracted:
			code(w, 5101, "Report already retracted")
		default:
			rep.retracted = true
			code(w, 0, "Success")
		}
	default:
		http.NotFound(w, r)
	}
}

// open returns the open report id names, or answers the error.
func (f *fakeISPWS) open(w http.ResponseWriter, id string) *fakeReport {
	rep := f.reports[atoi(id)]
	switch {
	case rep == nil:
		code(w, 5001, "Report does not exist")
	case rep.retracted:
		code(w, 5101, "Report already retracted")
	case rep.finished > 0:
		code(w, 5102, "Report already finished")
	default:
		return rep
	}
	return nil
}

// stall answers nothing until the client gives up. The body is read
// first: the server notices a closed connection only once it has.
func stall(r *http.Request) {
	io.Copy(io.Discard, r.Body)
	<-r.Context().Done()
}

func atoi(s string) int64 { n, _ := strconv.ParseInt(s, 10, 64); return n }

// finished returns the reports finished once and how many were retracted.
func (f *fakeISPWS) tally() (finished []*fakeReport, retracted int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.reports {
		if r.finished > 0 {
			finished = append(finished, r)
		}
		if r.retracted {
			retracted++
		}
	}
	return finished, retracted
}

type submitFixture struct {
	sub       *report.Submitter
	db        *sqlite.DB
	incidents *sqlite.IncidentService
	subs      *sqlite.SubmissionService
	incident  *vigil.Incident
	media     *memMedia
	n         int
}

// newSubmitFixture stores an approved incident of two files (with media)
// and a Submitter pointed at the fake server.
func newSubmitFixture(t testing.TB, srv *httptest.Server) *submitFixture {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, t.TempDir(), slog.New(slog.DiscardHandler))
	must(t, err)
	t.Cleanup(func() { db.Close() })
	incidents, subs := sqlite.NewIncidentService(db), sqlite.NewSubmissionService(db)
	must(t, sqlite.NewCaseService(db).CreateQueue(ctx, &vigil.Queue{Name: "q"}))
	v := &report.Validator{}
	t.Cleanup(func() { v.Close() })
	fx := &submitFixture{db: db, incidents: incidents, subs: subs, media: &memMedia{blobs: map[string][]byte{}}}
	fx.sub = &report.Submitter{Incidents: incidents, Submissions: subs, Destinations: []report.Destination{&report.NCMEC{
		Media: fx.media, Validator: v, Config: cfg,
		Client: &report.ISPWS{BaseURL: srv.URL + "/ispws", Username: "esp", Password: "secret",
			HTTP: &http.Client{Timeout: 2 * time.Second}},
	}}}
	fx.incident = fx.addIncident(t)
	return fx
}

// addIncident stores an approved incident of two confirmed match cases
// with media.
func (fx *submitFixture) addIncident(t testing.TB) *vigil.Incident {
	t.Helper()
	ctx := context.Background()
	cases := sqlite.NewCaseService(fx.db)
	var all []*vigil.Case
	for i := range 2 {
		fx.n++
		id, _ := fx.media.Put(ctx, []byte(fmt.Sprintf("benign test picture %d", fx.n)))
		c := &vigil.Case{Queue: "q", Kind: vigil.CaseKindMatch, RetainUntil: time.Now().Add(time.Hour),
			Content: vigil.ContentRef{SHA256: fmt.Sprintf("%064x", fx.n), UserID: "u-1", MediaID: id, ContentID: fmt.Sprintf("p-%d.png", i)},
			Matches: []vigil.Match{{Bank: "b", EntryID: int64(i + 1), SignalType: vigil.SignalMD5, Value: fmt.Sprintf("%032x", fx.n), Source: "hotline"}}}
		must(t, cases.OpenCase(ctx, c, "rules"))
		c, err := cases.DecideCase(ctx, c.ID, vigil.Decision{Verdict: vigil.VerdictConfirmed, Category: "A1", DecidedBy: "r", DecidedAt: time.Now()})
		must(t, err)
		all = append(all, c)
	}
	inc, err := vigil.NewIncident(all)
	must(t, err)
	must(t, fx.incidents.CreateIncident(ctx, inc, "r"))
	inc, err = fx.incidents.ApproveIncident(ctx, inc.ID, "r2")
	must(t, err)
	return inc
}

// ncmec is the fixture's NCMEC destination.
func (fx *submitFixture) ncmec() *report.NCMEC { return fx.sub.Destinations[0].(*report.NCMEC) }

func (fx *submitFixture) start(t testing.TB) *vigil.Submission {
	t.Helper()
	s, err := fx.sub.Start(context.Background(), fx.incident.ID, report.DestinationNCMEC, "key:2:rev")
	must(t, err)
	return s
}

func (fx *submitFixture) find(t testing.TB, id int64) *vigil.Submission {
	t.Helper()
	s, err := fx.subs.FindSubmission(context.Background(), id)
	must(t, err)
	return s
}

func TestSubmitNCMEC(t *testing.T) {
	ctx := context.Background()
	f, srv := newFakeISPWS(t)
	fx := newSubmitFixture(t, srv)
	s := fx.start(t)
	must(t, fx.sub.Run(ctx, s.ID))
	got := fx.find(t, s.ID)
	if got.State != vigil.SubmissionFinished || got.ReportID == 0 || len(got.Files) != 2 || len(got.Files[0].FileID) != 32 || !got.Files[1].InfoSent {
		t.Fatalf("submission %+v", got)
	}
	// submit, 2 uploads, 2 fileinfos, finish: each stored with its reply.
	if len(got.Attempts) != 6 {
		t.Errorf("%d attempts, want 6: %+v", len(got.Attempts), got.Attempts)
	}
	for _, a := range got.Attempts {
		if !a.Replied || a.ResponseCode == nil || *a.ResponseCode != 0 || a.Reply == "" {
			t.Errorf("attempt %+v", a)
		}
	}
	fin, retracted := f.tally()
	if len(fin) != 1 || len(fin[0].files) != 2 || fin[0].infos != 2 || retracted != 0 {
		t.Errorf("ncmec has %d finished reports, %d retracted", len(fin), retracted)
	}
	// Running again sends nothing; a second submission of the incident is refused.
	must(t, fx.sub.Run(ctx, s.ID))
	if _, err := fx.sub.Start(ctx, fx.incident.ID, report.DestinationNCMEC, "key:2:rev"); vigil.ErrorCode(err) != vigil.ECONFLICT {
		t.Errorf("second submission: %v, want ECONFLICT", err)
	}
	if f.calls["submit"] != 1 || f.calls["finish"] != 1 {
		t.Errorf("calls %v", f.calls)
	}
}

func TestSubmitRefusesDraft(t *testing.T) {
	_, srv := newFakeISPWS(t)
	fx := newSubmitFixture(t, srv)
	ctx := context.Background()
	// A new draft incident from other cases is not sent.
	cases := sqlite.NewCaseService(fx.db)
	oc := &vigil.Case{Queue: "q", Kind: vigil.CaseKindMatch, RetainUntil: time.Now().Add(time.Hour), Content: vigil.ContentRef{UserID: "u-2"}, Matches: []vigil.Match{{Bank: "b"}}}
	must(t, cases.OpenCase(ctx, oc, "r"))
	oc, err := cases.DecideCase(ctx, oc.ID, vigil.Decision{Verdict: vigil.VerdictConfirmed, DecidedBy: "r", DecidedAt: time.Now()})
	must(t, err)
	draft, err := vigil.NewIncident([]*vigil.Case{oc})
	must(t, err)
	must(t, fx.incidents.CreateIncident(ctx, draft, "r"))
	if _, err := fx.sub.Start(ctx, draft.ID, report.DestinationNCMEC, "x"); vigil.ErrorCode(err) != vigil.ECONFLICT {
		t.Errorf("start of a draft: %v", err)
	}
}

// NCMEC's 4100 after the report is open retracts it and fails the
// submission with NCMEC's reason.
func TestSubmit4100Retracts(t *testing.T) {
	ctx := context.Background()
	f, srv := newFakeISPWS(t)
	f.hook = func(w http.ResponseWriter, r *http.Request, step string) bool {
		if step == "fileinfo" {
			code(w, 4100, "Schema validation failed: cvc-complex-type.2.4.a: Invalid content was found starting with element 'fileRelevance'")
			return true
		}
		return false
	}
	fx := newSubmitFixture(t, srv)
	s := fx.start(t)
	must(t, fx.sub.Run(ctx, s.ID))
	got := fx.find(t, s.ID)
	if got.State != vigil.SubmissionFailed || !strings.Contains(got.Error, "4100") || !strings.Contains(got.Error, "fileRelevance") {
		t.Fatalf("submission %+v", got)
	}
	if fin, retracted := f.tally(); len(fin) != 0 || retracted != 1 {
		t.Errorf("%d finished, %d retracted; want 0 and 1", len(fin), retracted)
	}
	// A failed submission may be tried again.
	f.hook = nil
	s2 := fx.start(t)
	must(t, fx.sub.Run(ctx, s2.ID))
	if got := fx.find(t, s2.ID); got.State != vigil.SubmissionFinished {
		t.Errorf("second try %+v", got)
	}
}

// 5xx and timeouts are retried; the report is made once.
func TestSubmitRetries5xxAndTimeouts(t *testing.T) {
	ctx := context.Background()
	f, srv := newFakeISPWS(t)
	var mu sync.Mutex
	seen := map[string]int{}
	f.hook = func(w http.ResponseWriter, r *http.Request, step string) bool {
		mu.Lock()
		seen[step]++
		n := seen[step]
		mu.Unlock()
		switch {
		case step == "submit" && n == 1:
			reply(w, 503, "<html>busy</html>")
			return true
		case step == "upload" && n == 1:
			code(w, 1110, "Upload failed")
			return true
		case step == "finish" && n == 1:
			// No answer until the client gives up: a timeout. NCMEC
			// finishes the report all the same.
			f.mu.Lock()
			for _, rep := range f.reports {
				if !rep.retracted {
					rep.finished++
				}
			}
			f.mu.Unlock()
			stall(r)
			return true
		}
		return false
	}
	fx := newSubmitFixture(t, srv)
	fx.ncmec().Client.HTTP.Timeout = 300 * time.Millisecond
	s := fx.start(t)
	var errs []error
	for range 10 {
		err := fx.sub.Run(ctx, s.ID)
		if err == nil {
			break
		}
		if vigil.ErrorCode(err) != vigil.EUNAVAILABLE {
			t.Fatalf("run: %v, want a retryable error", err)
		}
		errs = append(errs, err)
	}
	got := fx.find(t, s.ID)
	if got.State != vigil.SubmissionFinished || len(errs) != 3 {
		t.Fatalf("submission %+v after %d retries: %v", got, len(errs), errs)
	}
	if fin, retracted := f.tally(); len(fin) != 1 || retracted != 0 {
		t.Errorf("%d finished, %d retracted; want 1 and 0", len(fin), retracted)
	}
}

// errKilled stands for the process dying.
var errKilled = errors.New("killed")

// A kill between the uploads and finish resumes where it stopped: one
// report, each file once, finished.
func TestSubmitKilledBeforeFinish(t *testing.T) {
	f, srv := newFakeISPWS(t)
	killCtx, kill := context.WithCancelCause(context.Background())
	f.hook = func(w http.ResponseWriter, r *http.Request, step string) bool {
		if step == "fileinfo" && killCtx.Err() == nil {
			kill(errKilled)
			stall(r)
			return true
		}
		return false
	}
	fx := newSubmitFixture(t, srv)
	s := fx.start(t)
	if err := fx.sub.Run(killCtx, s.ID); !errors.Is(err, context.Canceled) {
		t.Fatalf("killed run: %v", err)
	}
	mid := fx.find(t, s.ID)
	if mid.State != vigil.SubmissionSubmitted || mid.Files[1].FileID == "" || mid.Attempts[len(mid.Attempts)-1].Replied {
		t.Fatalf("after the kill %+v", mid)
	}
	// A new process (a new Submitter on the same store) resumes.
	again := *fx.sub
	must(t, again.Run(context.Background(), s.ID))
	got := fx.find(t, s.ID)
	fin, retracted := f.tally()
	if got.State != vigil.SubmissionFinished || len(fin) != 1 || len(fin[0].files) != 2 || retracted != 0 || f.calls["submit"] != 1 || f.calls["upload"] != 2 {
		t.Errorf("resumed: %+v; ncmec %d finished (%v), %d retracted, calls %v", got.State, len(fin), fin, retracted, f.calls)
	}
}

// A kill during an upload (the file may or may not be in the report)
// retracts the report and sends a new one: never two finished reports.
func TestSubmitKilledDuringUpload(t *testing.T) {
	f, srv := newFakeISPWS(t)
	killCtx, kill := context.WithCancelCause(context.Background())
	f.hook = func(w http.ResponseWriter, r *http.Request, step string) bool {
		if step == "upload" && killCtx.Err() == nil {
			kill(errKilled)
			stall(r)
			return true
		}
		return false
	}
	fx := newSubmitFixture(t, srv)
	s := fx.start(t)
	if err := fx.sub.Run(killCtx, s.ID); !errors.Is(err, context.Canceled) {
		t.Fatalf("killed run: %v", err)
	}
	must(t, fx.sub.Run(context.Background(), s.ID))
	got := fx.find(t, s.ID)
	fin, retracted := f.tally()
	if got.State != vigil.SubmissionFinished || len(fin) != 1 || retracted != 1 || len(fin[0].files) != 2 {
		t.Errorf("after the restart: %+v; ncmec %d finished, %d retracted", got, len(fin), retracted)
	}
}

// A kill during /submit leaves the submission stuck: nothing more is sent
// rather than risk a second report.
func TestSubmitKilledDuringSubmitIsStuck(t *testing.T) {
	f, srv := newFakeISPWS(t)
	killCtx, kill := context.WithCancelCause(context.Background())
	f.hook = func(w http.ResponseWriter, r *http.Request, step string) bool {
		if step == "submit" && killCtx.Err() == nil {
			kill(errKilled)
			stall(r)
			return true
		}
		return false
	}
	fx := newSubmitFixture(t, srv)
	s := fx.start(t)
	fx.sub.Run(killCtx, s.ID)
	must(t, fx.sub.Run(context.Background(), s.ID))
	got := fx.find(t, s.ID)
	if got.State != vigil.SubmissionStuck || !strings.Contains(got.Error, "check with NCMEC") || f.calls["submit"] != 1 {
		t.Errorf("after a kill in /submit: %+v, calls %v", got, f.calls)
	}
}

func TestISPWSAuthError(t *testing.T) {
	_, srv := newFakeISPWS(t)
	c := &report.ISPWS{BaseURL: srv.URL + "/ispws", Username: "esp", Password: "wrong"}
	_, err := c.Submit(context.Background(), []byte("<report/>"))
	if vigil.ErrorCode(err) != vigil.EUNAUTHORIZED {
		t.Errorf("wrong password: %v", err)
	}
	if (&report.ISPWS{}).BaseURL != "" || report.NCMECTestURL != "https://exttest.cybertip.org/ispws" {
		t.Error("the default must be NCMEC's test environment")
	}
}

func FuzzParseISPWSReply(f *testing.F) {
	f.Add(`<reportResponse><responseCode>0</responseCode><reportId>1</reportId></reportResponse>`)
	f.Add(`<reportDoneResponse><responseCode>0</responseCode><files><fileId>ab</fileId></files></reportDoneResponse>`)
	f.Add(`<reportResponse><responseCode>4100</responseCode></reportResponse>`)
	f.Fuzz(func(t *testing.T, body string) {
		r, err := report.ParseISPWSReply(200, []byte(body))
		if r == nil || len(r.Body) > vigil.MaxSubmissionReply {
			t.Fatalf("reply %v", r)
		}
		if err == nil {
			r.Err()
		}
	})
}

// memMedia is a MediaStore in memory.
type memMedia struct {
	mu    sync.Mutex
	blobs map[string][]byte
}

func (m *memMedia) Put(ctx context.Context, data []byte) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := fmt.Sprintf("blob-%d", len(m.blobs)+1)
	m.blobs[id] = data
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

func (m *memMedia) Delete(ctx context.Context, id string) error { return nil }
