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
}

// TestInboxKilled: vouchers stored in the inbox, then the process killed
// (SIGKILL) while its worker hands the account's reveal to the detection
// flow, after the reveal committed and before the vouchers left the inbox.
// The next process processes them again, which counts nothing, hands the
// reveal on once, and empties the inbox.
func TestInboxKilled(t *testing.T) {
	if dir := os.Getenv(inboxKillEnv); dir != "" {
		killHelper(t, dir)
		return
	}
	if testing.Short() {
		t.Skip("starts a subprocess")
	}
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
	setup := killSetup{Alpha: alpha, Review: review, Params: w.p}
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
	inHandOff := make(chan error, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if sc.Text() == "handing off" {
				inHandOff <- nil
				return
			}
		}
		inHandOff <- fmt.Errorf("helper ended before the hand-off: %v", sc.Err())
	}()
	select {
	case err := <-inHandOff:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Minute): // a guard, not a measure
		t.Fatal("helper did not reach the hand-off")
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()

	resp := &responder{}
	s = w.start(t, resp)
	if n := depth(t, s); n != len(batch) {
		t.Fatalf("%d vouchers in the inbox after the kill, want all %d (none was deleted)", n, len(batch))
	}
	if rev, err := s.Store.PHMRevealed(ctx, 100); err != nil || len(rev) != w.p.T+1 {
		t.Fatalf("%d vouchers revealed by the killed process (%v), want %d", len(rev), err, w.p.T+1)
	}
	n, err := s.Resume(ctx)
	if err != nil || n != w.p.T+1 {
		t.Fatalf("resume: %d, %v", n, err)
	}
	run(t, s)
	waitFor(t, "the inbox to empty", func() bool { return depth(t, s) == 0 })
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
	s := &Service{Opener: o, Review: review, Store: store, Banks: bk, Respond: hangingResponder{}, Inbox: NewInbox(store, 0)}
	if err := s.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
}
