package jobs_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/jobs"
)

// killHelperEnv, when set to a data directory, turns this test binary into
// the process that TestJobSurvivesKill kills.
const killHelperEnv = "VIGIL_JOBS_KILL_HELPER"

// TestJobSurvivesKill queues a job in a subprocess that is then killed
// (SIGKILL: no Stop, no Close), and checks that a new process finds the
// job and its spooled upload, and completes it.
func TestJobSurvivesKill(t *testing.T) {
	if dir := os.Getenv(killHelperEnv); dir != "" {
		queueAndHang(t, dir)
		return
	}
	if testing.Short() {
		t.Skip("starts a subprocess")
	}
	dir := t.TempDir()
	id := killHelperAt(t, "^TestJobSurvivesKill$", killHelperEnv+"="+dir, "queued ", time.Minute)

	e := openEnvIn(t, dir)
	c := mustOpenClient(t, e.config(nil), true)
	if j := waitJob(t, c, id); j.State != vigil.JobCompleted || len(j.Result) == 0 {
		t.Fatalf("job after the kill: %+v", j)
	}
	if names := spoolFiles(t, e.spoolDir); len(names) != 0 {
		t.Fatalf("spool not emptied: %v", names)
	}
}

// queueAndHang is the helper process: it queues a job with no worker
// running, says so, and waits to be killed.
func queueAndHang(t *testing.T, dir string) {
	e := openEnvIn(t, dir)
	c, err := jobs.Open(context.Background(), e.config(nil))
	if err != nil {
		t.Fatal(err)
	}
	j, err := c.SubmitContent(context.Background(), bytes.NewReader(gradientPNG(t, 6)), vigil.ContentJobOptions{})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("queued %d\n", j.ID)
	time.Sleep(time.Hour)
}

// killHelperAt runs this test binary's test named by run as a helper
// process, with env added, until it prints marker followed by an id, then
// kills it (SIGKILL) and returns the id. wait only keeps a broken helper
// from hanging the test.
func killHelperAt(t *testing.T, run, env, marker string, wait time.Duration) int64 {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run="+run)
	cmd.Env = append(os.Environ(), env)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill() // on an early failure
	reached := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if id, ok := strings.CutPrefix(sc.Text(), marker); ok {
				reached <- id
				return
			}
			t.Log("helper:", sc.Text()) // a failure of the helper, say
		}
		close(reached)
	}()
	var id int64
	select {
	case s, ok := <-reached:
		if id, err = strconv.ParseInt(s, 10, 64); !ok || err != nil {
			t.Fatalf("helper did not print %q: %q %v", marker, s, err)
		}
	case <-time.After(wait):
		t.Fatalf("helper did not print %q within %v", marker, wait)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	if cmd.Wait(); cmd.ProcessState.Success() {
		t.Fatal("helper ended by itself instead of being killed")
	}
	return id
}
