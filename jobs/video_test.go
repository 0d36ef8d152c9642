package jobs_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/jobs"
	"github.com/vigil-oss/vigil/sqlite"
)

// TestVideoJob runs a video through a content job: ffmpeg reads the
// spooled file, and the vPDQ signal matches a listed video.
func TestVideoJob(t *testing.T) {
	if os.Getenv("VIGIL_SKIP_FFMPEG") != "" {
		t.Skip("VIGIL_SKIP_FFMPEG set")
	}
	e := mustOpenEnv(t)
	video, err := os.ReadFile("../vpdq/testdata/sample-videos/pattern-sd-with-small-logo-bar.mp4")
	if err != nil {
		t.Fatal(err)
	}
	stored, err := os.ReadFile("../vpdq/testdata/expected/pattern-sd-grey-bar-r1.txt")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	b := &vigil.Bank{Name: "videos", Enabled: true}
	if err := sqlite.NewBankService(e.db).CreateBank(ctx, b); err != nil {
		t.Fatal(err)
	}
	value, err := vigil.CanonicalValue(vigil.SignalVPDQ, string(stored))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sqlite.NewEntryService(e.db).AddEntries(ctx, b.ID, "test", []*vigil.Entry{{SignalType: vigil.SignalVPDQ, Value: value, SourceEntryID: "V-7"}}); err != nil {
		t.Fatal(err)
	}
	if err := e.matcher.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	cfg := e.config(nil)
	cfg.NoVideo = false
	cfg.Hashing.Limits.MaxBytes = 16 << 20
	c := mustOpenClient(t, cfg, true)
	j, err := c.SubmitContent(ctx, bytes.NewReader(video), vigil.ContentJobOptions{})
	if err != nil {
		t.Fatal(err)
	}
	j = waitJob(t, c, j.ID)
	var res jobs.ContentResult
	if err := json.Unmarshal(j.Result, &res); err != nil || j.State != vigil.JobCompleted {
		t.Fatalf("job %+v: %v", j, err)
	}
	if !res.Matched || res.Signals[0].Type != vigil.SignalVPDQ || res.Content.Width == 0 {
		t.Fatalf("video result: %+v", res.Content)
	}
	if m := res.Results[0].Matches[0]; m.SourceEntryID != "V-7" || m.Video == nil || m.Video.QueryPercent < 80 {
		t.Fatalf("video match: %+v", m)
	}
}
