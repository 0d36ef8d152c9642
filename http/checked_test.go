package http_test

import (
	"bytes"
	"context"
	"reflect"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	vhttp "github.com/vigil-oss/vigil/http"
	"github.com/vigil-oss/vigil/respond"
)

// TestMatchCountsItemsByType: an image posted to /v1/match counts as an
// image in the transparency figures' items checked, text as text, and
// hashes sent to /v1/lookup as signals (the figure is by type).
func TestMatchCountsItemsByType(t *testing.T) {
	var counter *respond.CheckCounter
	var figures vigil.TransparencyService
	ts := mustOpenServer(t, func(s *vhttp.Server) {
		figures = s.Transparency
		counter = &respond.CheckCounter{Store: figures}
		s.Respond = &respond.Service{Rules: s.Rules, Cases: s.Cases, Media: s.Media, Banks: s.Banks, Entries: s.Entries, Checked: counter}
	})
	if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/match", "image/jpeg", bytes.NewReader(testImage(t)), nil); code != 200 {
		t.Fatalf("match an image: %d", code)
	}
	if code := ts.do(t, vigil.RoleMatcher, "POST", "/v1/match", "text/plain", bytes.NewReader([]byte("hello there")), nil); code != 200 {
		t.Fatalf("match text: %d", code)
	}
	ctx := context.Background()
	if err := counter.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	got, err := figures.Transparency(ctx, now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := []vigil.Count{{Name: respond.CheckedImage, N: 1}, {Name: respond.CheckedText, N: 1}}
	if !reflect.DeepEqual(got.ItemsChecked, want) {
		t.Errorf("items checked %+v, want %+v", got.ItemsChecked, want)
	}
}
