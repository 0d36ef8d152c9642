package server

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	vigil "github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/pdq"
	"github.com/vigil-oss/vigil/phm"
	"github.com/vigil-oss/vigil/sqlite"
)

// inboxKillEnv, when set to a directory, turns this test binary into the
// process that TestInboxKilled kills.
const inboxKillEnv = "VIGIL_PHM_INBOX_KILL_HELPER"

// killSetup is what the helper process needs to run the same service: the
// table's α, the review key and the second check's list.
type killSetup struct {
	Alpha  []byte
	Review []byte
	Known  []string
	Params phm.Params
	// Before: the helper stops inside the batch's transaction, before it
	// commits, and says "in the batch"; otherwise in the hand-off after.
	Before bool
}

// TestInboxKilled: vouchers stored in the inbox, then the process killed
// (SIGKILL) either inside the transaction of their batch, before it
// commits, or while its worker hands the account's reveal to the detection
// flow, after it committed (the batch's counts, reveal and inbox deletion
// in one). Before: the next process finds the batch in the inbox and
// nothing counted, and processes it. After: it finds the inbox empty and
// the reveal waiting, redoes nothing, and hands the reveal on once. Either
// way the account counts each voucher once and one case opens.
func TestInboxKilled(t *testing.T) {
	if dir := os.Getenv(inboxKillEnv); dir != "" {
		killHelper(t, dir)
		return
	}
	if testing.Short() {
		t.Skip("starts a subprocess")
	}
	for _, before := range []bool{true, false} {
		name := map[bool]string{true: "BeforeCommit", false: "AfterCommit"}[before]
		t.Run(name, func(t *testing.T) { testInboxKilled(t, before) })
	}
}

func testInboxKilled(t *testing.T, before bool) {
	w := newInboxWorld(t)
	ctx := context.Background()
	s := w.start(t, &responder{})
	batch := append(append([][]byte{}, w.matching...), w.other...)
	if err := s.Receive(ctx, "u", batch); err != nil {
		t.Fatal(err)
	}
	alpha, err := w.r.base.Opener.alpha.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	review, err := w.r.base.Review.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	setup := killSetup{Alpha: alpha, Review: review, Params: w.p, Before: before}
	for _, h := range w.r.base.Banks.(*banks).list {
		setup.Known = append(setup.Known, h.String())
	}
	b, err := json.Marshal(setup)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(w.r.dir, "setup.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := w.r.db.Close(); err != nil {
		t.Fatal(err)
	}
	w.r.db = nil

	cmd := exec.Command(os.Args[0], "-test.run=^TestInboxKilled$")
	cmd.Env = append(os.Environ(), inboxKillEnv+"="+w.r.dir)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill() // on an early failure
	mark := "handing off"
	if before {
		mark = "in the batch"
	}
	reached := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == mark {
				reached <- nil
				return
			}
		}
		reached <- fmt.Errorf("helper ended before %q: %v", mark, sc.Err())
	}()
	select {
	case err := <-reached:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Minute): // a guard, not a measure
		t.Fatalf("helper did not reach %q", mark)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	resp := &responder{}
	s = w.start(t, resp)
	revealed := w.p.T + 1
	if before {
		if n := depth(t, s); n != len(batch) {
			t.Fatalf("%d vouchers in the inbox after a kill before the commit, want all %d", n, len(batch))
		}
		if _, err := s.Store.PHMAccount(ctx, "u", 0); vigil.ErrorCode(err) != vigil.ENOTFOUND {
			t.Fatalf("the account after a kill before the commit: %v, want none", err)
		}
		revealed = 0
	} else if n := depth(t, s); n != 0 {
		t.Fatalf("%d vouchers in the inbox after a kill after the commit, want none", n)
	}
	if rev, err := s.Store.PHMRevealed(ctx, 100); err != nil || len(rev) != revealed {
		t.Fatalf("%d vouchers revealed by the killed process (%v), want %d", len(rev), err, revealed)
	}
	n, err := s.Resume(ctx)
	if err != nil || n != revealed {
		t.Fatalf("resume: %d, %v", n, err)
	}
	stop := run(t, s)
	handed := int64(w.p.T+1) - int64(revealed) // by the worker, on its grid
	waitFor(t, "the inbox to empty and the reveal handed on", func() bool { return depth(t, s) == 0 && s.Inbox.HandedOn() == handed })
	stop()
	st, err := s.Store.PHMAccount(ctx, "u", 0)
	if err != nil || st.Positives != w.p.T+1 || st.Key == nil {
		t.Fatalf("account after the kill: %+v, %v", st, err)
	}
	if len(resp.refs) != 1 {
		t.Fatalf("%d hand-offs after the kill, want 1", len(resp.refs))
	}
	if a := w.audit(t); a[vigil.AuditPHMReveal] != 1 || a[AuditPHMSecondCheck] != 1 {
		t.Fatalf("audit after the kill: %v", a)
	}
}

// stallingStore says it is in the batch, then stalls in the transaction
// until the process is killed: in the last item's update, after the
// batch's other items wrote their rows.
type stallingStore struct{ vigil.PHMService }

func (s stallingStore) ApplyPHMInbox(ctx context.Context, items []vigil.PHMInboxUpdate) ([]vigil.PHMInboxApplied, error) {
	last := &items[len(items)-1]
	last.Fn = func(*vigil.PHMAccount, bool) (*vigil.AuditRecord, error) {
		fmt.Println("in the batch")
		select {}
	}
	return s.PHMService.ApplyPHMInbox(ctx, items)
}

// hangingResponder says it is handing off, then never returns.
type hangingResponder struct{}

func (hangingResponder) Match(context.Context, vigil.ContentRef, []vigil.MatchResult, func() ([]byte, error)) *vigil.Outcome {
	fmt.Println("handing off")
	select {}
}

// killHelper runs the service of dir's setup over its store, with a flow
// that hangs, until it is killed.
func killHelper(t *testing.T, dir string) {
	b, err := os.ReadFile(filepath.Join(dir, "setup.json"))
	if err != nil {
		t.Fatal(err)
	}
	var setup killSetup
	if err := json.Unmarshal(b, &setup); err != nil {
		t.Fatal(err)
	}
	alpha := phm.Group.NewScalar()
	if err := alpha.UnmarshalBinary(setup.Alpha); err != nil {
		t.Fatal(err)
	}
	o, err := NewOpener(alpha, setup.Params)
	if err != nil {
		t.Fatal(err)
	}
	review, err := phm.InnerKEM.NewPrivateKey(setup.Review)
	if err != nil {
		t.Fatal(err)
	}
	bk := &banks{}
	for _, k := range setup.Known {
		h, err := pdq.ParseHash(k)
		if err != nil {
			t.Fatal(err)
		}
		bk.list = append(bk.list, h)
	}
	db, err := sqlite.Open(context.Background(), dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	store := sqlite.NewPHMService(db)
	var svc vigil.PHMService = store
	if setup.Before {
		svc = stallingStore{store}
	}
	s := &Service{Opener: o, Review: review, Store: svc, Banks: bk, Respond: hangingResponder{}, Inbox: NewInbox(store, 0)}
	if err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
}
