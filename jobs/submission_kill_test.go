package jobs_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/jobs"
	"github.com/vigil-oss/vigil/report"
	"github.com/vigil-oss/vigil/sqlite"
)

// dsaKillHelperEnv, when set to "SUBMISSION:DIR:URL", turns this test
// binary into the process that TestDSASubmissionSurvivesKill kills.
const dsaKillHelperEnv = "VIGIL_JOBS_DSA_KILL_HELPER"

var killDSAConfig = report.DSAConfig{PUIDPrefix: "example", DecisionGround: "DECISION_GROUND_ILLEGAL_CONTENT",
	IllegalContentLegalGround: "Directive 2011/93/EU", IllegalContentExplanation: "illegal in every Member State",
	DecisionVisibility: []string{"DECISION_VISIBILITY_CONTENT_REMOVED"}, TerritorialScope: []string{"DE"}}

// stallingTransparencyDB stores statements by puid as the Transparency
// Database does (a puid it holds is refused with 422, naming it) and,
// once, stores the second statement and never answers: the process that
// sent it is killed waiting. GET /stalled says whether that happened.
type stallingTransparencyDB struct {
	mu       sync.Mutex
	stored   map[string]int // puid → times sent
	requests int
	stalled  bool
}

func (f *stallingTransparencyDB) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	if r.Method == http.MethodGet && r.URL.Path == "/stalled" {
		stalled := f.stalled
		f.mu.Unlock()
		if !stalled {
			w.WriteHeader(http.StatusNotFound)
		}
		return
	}
	f.requests++
	var s struct {
		PUID string `json:"puid"`
	}
	if err := json.NewDecoder(r.Body).Decode(&s); err != nil || r.Header.Get("Authorization") != "Bearer tok" {
		f.mu.Unlock()
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	f.stored[s.PUID]++
	n := f.stored[s.PUID]
	stall := len(f.stored) == 2 && !f.stalled
	if stall {
		f.stalled = true
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch {
	case stall:
		<-r.Context().Done()
	case n > 1:
		w.WriteHeader(http.StatusUnprocessableEntity)
		fmt.Fprintf(w, `{"message":"The identifier given is not unique within this platform.","errors":{"puid":["The identifier given is not unique within this platform."]},"existing":{"puid":%q}}`, s.PUID)
	default:
		w.WriteHeader(http.StatusCreated)
		fmt.Fprintf(w, `{"uuid":"uuid-%d","puid":%q,"permalink":"https://db.example/statement/uuid-%d"}`, len(f.stored), s.PUID, len(f.stored))
	}
}

func dsaSubmitter(e *env, url string) *report.Submitter {
	return &report.Submitter{Incidents: sqlite.NewIncidentService(e.db), Submissions: sqlite.NewSubmissionService(e.db),
		Destinations: []report.Destination{&report.DSA{Config: killDSAConfig,
			DB: &report.TransparencyDB{BaseURL: url, Token: "tok", Client: &http.Client{Timeout: time.Minute}}}}}
}

// TestDSASubmissionSurvivesKill kills (SIGKILL) a process whose
// submission job has sent an incident's second statement of reasons,
// which the database stored, before the reply came back. A new process
// rescues the job, sends the statement again and takes the database's
// "already held" as its receipt: both statements stored once each.
func TestDSASubmissionSurvivesKill(t *testing.T) {
	if v := os.Getenv(dsaKillHelperEnv); v != "" {
		sendAndHang(t, v)
		return
	}
	if testing.Short() {
		t.Skip("starts a subprocess and waits for River to rescue its job")
	}
	ctx := context.Background()
	dir := t.TempDir()
	e := openEnvIn(t, dir)
	fake := &stallingTransparencyDB{stored: map[string]int{}}
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)

	cases, incidents := sqlite.NewCaseService(e.db), sqlite.NewIncidentService(e.db)
	must(t, cases.CreateQueue(ctx, &vigil.Queue{Name: "q"}))
	var all []*vigil.Case
	for i := range 2 {
		c := &vigil.Case{Queue: "q", Kind: vigil.CaseKindMatch, RetainUntil: time.Now().Add(time.Hour),
			Content: vigil.ContentRef{SHA256: fmt.Sprintf("%064x", i+1), UserID: "u-1"},
			Matches: []vigil.Match{{Bank: "b", EntryID: int64(i + 1), SignalType: vigil.SignalMD5, Value: fmt.Sprintf("%032x", i+1)}}}
		must(t, cases.OpenCase(ctx, c, "rules"))
		c, err := cases.DecideCase(ctx, c.ID, vigil.Decision{Verdict: vigil.VerdictConfirmed, DecidedBy: "r", DecidedAt: time.Now()})
		must(t, err)
		all = append(all, c)
	}
	inc, err := vigil.NewIncident(all)
	must(t, err)
	must(t, incidents.CreateIncident(ctx, inc, "r"))
	_, err = incidents.ApproveIncident(ctx, inc.ID, "r2")
	must(t, err)
	sub, err := dsaSubmitter(e, srv.URL).Start(ctx, inc.ID, report.DestinationDSA, "key:2:rev")
	must(t, err)

	killHelperAt(t, "^TestDSASubmissionSurvivesKill$", fmt.Sprintf("%s=%d:%s:%s", dsaKillHelperEnv, sub.ID, dir, srv.URL), "sending ", 2*time.Minute)
	killedAt := time.Now()
	subs := sqlite.NewSubmissionService(e.db)
	mid, err := subs.FindSubmission(ctx, sub.ID)
	must(t, err)
	if len(mid.Statements) != 1 || len(mid.Attempts) != 2 || mid.Attempts[1].Replied || len(fake.stored) != 2 {
		t.Fatalf("at the kill: %+v; database holds %v", mid, fake.stored)
	}

	cfg := flowKillConfig(e)
	time.Sleep(time.Until(killedAt.Add(cfg.RescueAfter)))
	c := mustOpenClient(t, cfg, false)
	c.OnSubmission(dsaSubmitter(e, srv.URL).Run)
	must(t, c.Start(ctx))
	var got *vigil.Submission
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if got, err = subs.FindSubmission(ctx, sub.ID); err == nil && got.State.Finished() {
			break
		}
	}
	if got.State != vigil.SubmissionFinished || len(got.Statements) != 2 || got.Statements[0].UUID == "" || !got.Statements[1].Existing {
		t.Fatalf("after the restart: %+v", got)
	}
	fake.mu.Lock()
	defer fake.mu.Unlock()
	if len(fake.stored) != 2 || fake.requests != 3 {
		t.Errorf("database: %v after %d requests, want 2 statements and 3 requests", fake.stored, fake.requests)
	}
}

// sendAndHang is the helper process: it runs the submission's job and,
// once the database has stored the second statement without answering,
// says so and waits to be killed.
func sendAndHang(t *testing.T, v string) {
	idText, rest, _ := strings.Cut(v, ":")
	dir, url, _ := strings.Cut(rest, ":")
	id, err := strconv.ParseInt(idText, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	e := openEnvIn(t, dir)
	c, err := jobs.Open(context.Background(), flowKillConfig(e))
	if err != nil {
		t.Fatal(err)
	}
	c.OnSubmission(dsaSubmitter(e, url).Run)
	must(t, c.QueueSubmission(context.Background(), id))
	must(t, c.Start(context.Background()))
	for {
		if resp, err := http.Get(url + "/stalled"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	fmt.Printf("sending %d\n", id)
	time.Sleep(time.Hour)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
