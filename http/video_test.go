package http_test

import (
	"bytes"
	"os"
	"testing"

	"github.com/vigil-oss/vigil"
)

func TestVideoUploadMatches(t *testing.T) {
	if os.Getenv("VIGIL_SKIP_FFMPEG") != "" {
		t.Skip("VIGIL_SKIP_FFMPEG set")
	}
	ts := mustOpenServer(t)
	video, err := os.ReadFile("../vpdq/testdata/sample-videos/pattern-sd-with-small-logo-bar.mp4")
	if err != nil {
		t.Fatal(err)
	}
	stored, err := os.ReadFile("../vpdq/testdata/expected/pattern-sd-grey-bar-r1.txt")
	if err != nil {
		t.Fatal(err)
	}
	ts.do(t, vigil.RoleCurator, "POST", "/v1/banks", "", jsonBody(map[string]any{"name": "videos"}), nil)
	if code := ts.do(t, vigil.RoleCurator, "POST", "/v1/banks/videos/entries", "", jsonBody(map[string]any{"entries": []map[string]string{{"signal_type": "vpdq", "value": string(stored), "source_entry_id": "V-7"}}}), nil); code != 201 {
		t.Fatalf("add video entry: %d", code)
	}
	var m struct {
		Content struct{ Format string }
		Signals []vigil.Signal
		Matched bool
		Results []vigil.MatchResult
	}
	if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/match", "video/mp4", bytes.NewReader(video), &m); code != 200 {
		t.Fatalf("match %d", code)
	}
	if !m.Matched || m.Signals[0].Type != vigil.SignalVPDQ || m.Content.Format == "" {
		t.Fatalf("video upload: %+v", m)
	}
	got := m.Results[0].Matches[0]
	if got.SourceEntryID != "V-7" || got.Video == nil || got.Video.QueryPercent < 80 || len(got.Video.Ranges) == 0 {
		t.Fatalf("video match: %+v %+v", got, got.Video)
	}
}
