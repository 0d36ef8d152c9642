package jobs_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/jobs"
	"github.com/vigil-oss/vigil/respond"
	"github.com/vigil-oss/vigil/sqlite"
)

// newFlow returns a response service on e's store with one rule: every
// match opens a case in queue "q". It creates the queue and the rule only
// in a store that has neither.
func newFlow(tb testing.TB, e *env) *respond.Service {
	tb.Helper()
	ctx := context.Background()
	cases, rules := sqlite.NewCaseService(e.db), sqlite.NewRuleService(e.db)
	if _, err := cases.FindQueue(ctx, "q"); vigil.ErrorCode(err) == vigil.ENOTFOUND {
		if err := cases.CreateQueue(ctx, &vigil.Queue{Name: "q", Roles: []vigil.Role{vigil.RoleReviewer}}); err != nil {
			tb.Fatal(err)
		}
		r := &vigil.Rule{Name: "any-match", Enabled: true, Source: vigil.RuleSourceAPI, UpdatedBy: "test",
			When: vigil.RuleConditions{Kind: "match"}, Action: vigil.RuleAction{Type: vigil.ActionCase, Queue: "q"}}
		if err := rules.CreateRule(ctx, r); err != nil {
			tb.Fatal(err)
		}
	} else if err != nil {
		tb.Fatal(err)
	}
	return &respond.Service{Rules: rules, Cases: cases}
}

// caseIDs returns the ids of every case in e's store.
func caseIDs(tb testing.TB, e *env) []int64 {
	tb.Helper()
	cs, err := sqlite.NewCaseService(e.db).ListCases(context.Background(), vigil.CaseFilter{})
	if err != nil {
		tb.Fatal(err)
	}
	var ids []int64
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	return ids
}

// TestRetriedJobOpensOneCase runs a content job whose first attempt dies
// (a panic) after its case opened: the retry finds that case instead of
// opening a second.
func TestRetriedJobOpensOneCase(t *testing.T) {
	e := mustOpenEnv(t)
	img := gradientPNG(t, 11)
	e.listImage(t, img)
	flow := newFlow(t, e)
	c := mustOpenClient(t, e.config(nil), false)
	var once sync.Once
	c.OnContent(func(ctx context.Context, ref vigil.ContentRef, results []vigil.MatchResult, media func() ([]byte, error)) *vigil.Outcome {
		out := flow.Match(ctx, ref, results, media)
		once.Do(func() { panic("process dies after acting, before the job completes") })
		return out
	})
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	j, err := c.SubmitContent(context.Background(), bytes.NewReader(img), vigil.ContentJobOptions{ContentID: "post-1", UserID: "u-1"})
	if err != nil {
		t.Fatal(err)
	}
	if got := waitJob(t, c, j.ID); got.State != vigil.JobCompleted || got.Attempts != 2 {
		t.Fatalf("job %+v, want completed on its second attempt", got)
	}
	if ids := caseIDs(t, e); len(ids) != 1 {
		t.Fatalf("cases %v after a retried job, want one", ids)
	}
}

// flakyCases fails the first fails calls of OpenCase as a busy store
// would.
type flakyCases struct {
	vigil.CaseService
	mu    sync.Mutex
	fails int
}

func (f *flakyCases) OpenCase(ctx context.Context, c *vigil.Case, actor string) error {
	f.mu.Lock()
	fail := f.fails > 0
	f.fails--
	f.mu.Unlock()
	if fail {
		return errors.New("database is locked")
	}
	return f.CaseService.OpenCase(ctx, c, actor)
}

// TestFailedCaseActionRetried opens a case through a store that fails
// once: the outcome says the action was queued, and the queued retry
// opens the case; acting on the same detection again finds it.
func TestFailedCaseActionRetried(t *testing.T) {
	e := mustOpenEnv(t)
	flow := newFlow(t, e)
	flow.Cases = &flakyCases{CaseService: flow.Cases, fails: 1}
	c := mustOpenClient(t, e.config(nil), false)
	flow.Queue = c
	c.OnAction(flow.Carry)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ref := vigil.ContentRef{SHA256: strings.Repeat("ab", 32), ContentID: "post-2"}
	results := []vigil.MatchResult{{Matches: []vigil.Match{{BankID: 1, Bank: "b", EntryID: 1, SignalType: vigil.SignalSHA256, Value: ref.SHA256}}}}
	out := flow.Match(ctx, ref, results, nil)
	if len(out.Queued) != 1 || len(out.Cases) != 0 || len(out.Errors) != 0 {
		t.Fatalf("outcome %+v, want the case action queued", out)
	}
	deadline := time.Now().Add(60 * time.Second) // only keeps a broken test from hanging
	var ids []int64
	for len(ids) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the queued case action never landed")
		}
		time.Sleep(20 * time.Millisecond)
		ids = caseIDs(t, e)
	}
	again := flow.Match(ctx, ref, results, nil)
	if len(again.Cases) != 1 || again.Cases[0] != ids[0] || len(again.Queued) != 0 {
		t.Fatalf("acting again: %+v, want case %d", again, ids[0])
	}
	if ids := caseIDs(t, e); len(ids) != 1 {
		t.Fatalf("cases %v, want one", ids)
	}
}

// flowKillHelperEnv, when set to "MODE:DIR", turns this test binary into
// the process that TestFlowSurvivesKill kills; MODE says where.
const flowKillHelperEnv = "VIGIL_JOBS_FLOW_KILL_HELPER"

// flowKillConfig is the jobs configuration of both processes: a job left
// running by the killed one is rescued soon after.
func flowKillConfig(e *env) jobs.Config {
	cfg := e.config(nil)
	cfg.ContentTimeout, cfg.RescueAfter = 10*time.Second, 11*time.Second
	return cfg
}

// TestFlowSurvivesKill kills (SIGKILL) a process running a content job
// between the detection and its actions, and after its actions but before
// the job completed; either way a new process completes the job with
// exactly one case: no action lost, none doubled.
func TestFlowSurvivesKill(t *testing.T) {
	if v := os.Getenv(flowKillHelperEnv); v != "" {
		mode, dir, _ := strings.Cut(v, ":")
		actAndHang(t, mode, dir)
		return
	}
	if testing.Short() {
		t.Skip("starts subprocesses and waits for River to rescue their jobs")
	}
	for _, mode := range []string{"before-actions", "after-actions"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			e := openEnvIn(t, dir)
			e.listImage(t, gradientPNG(t, 12))
			newFlow(t, e)

			id := killHelperAt(t, "^TestFlowSurvivesKill$", flowKillHelperEnv+"="+mode+":"+dir, "reached ", 2*time.Minute)
			killedAt := time.Now()
			wantCases := 0
			if mode == "after-actions" {
				wantCases = 1
			}
			if ids := caseIDs(t, e); len(ids) != wantCases {
				t.Fatalf("cases at the kill %v, want %d", ids, wantCases)
			}

			// The job is still "running" for the dead process: River
			// rescues it once RescueAfter has passed, at the new
			// process's first look.
			cfg := flowKillConfig(e)
			time.Sleep(time.Until(killedAt.Add(cfg.RescueAfter)))
			flow := newFlow(t, e)
			c := mustOpenClient(t, cfg, false)
			c.OnContent(flow.Match)
			if err := c.Start(context.Background()); err != nil {
				t.Fatal(err)
			}
			if j := waitJob(t, c, id); j.State != vigil.JobCompleted || len(j.Result) == 0 {
				t.Fatalf("job after the kill: %+v", j)
			}
			if ids := caseIDs(t, e); len(ids) != 1 {
				t.Fatalf("cases after the restart %v, want exactly one", ids)
			}
		})
	}
}

// actAndHang is the helper process: it runs a content job whose hook says
// it has reached the kill point (before acting, or after) and hangs there.
func actAndHang(t *testing.T, mode, dir string) {
	e := openEnvIn(t, dir)
	flow := newFlow(t, e)
	c, err := jobs.Open(context.Background(), flowKillConfig(e))
	if err != nil {
		t.Fatal(err)
	}
	var jobID int64
	ready := make(chan struct{})
	c.OnContent(func(ctx context.Context, ref vigil.ContentRef, results []vigil.MatchResult, media func() ([]byte, error)) *vigil.Outcome {
		<-ready
		if mode == "after-actions" {
			flow.Match(ctx, ref, results, media)
		}
		fmt.Printf("reached %d\n", jobID)
		time.Sleep(time.Hour)
		return nil
	})
	j, err := c.SubmitContent(context.Background(), bytes.NewReader(gradientPNG(t, 12)), vigil.ContentJobOptions{ContentID: "post-3"})
	if err != nil {
		t.Fatal(err)
	}
	jobID = j.ID
	close(ready)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Hour)
}
