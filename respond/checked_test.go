package respond_test

import (
	"context"
	"errors"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/respond"
	"github.com/vigil-oss/vigil/sqlite"
	"github.com/vigil-oss/vigil/storetest"
)

// failingTransparency fails the next CountChecked.
type failingTransparency struct {
	vigil.TransparencyService
	fail bool
}

func (f *failingTransparency) CountChecked(ctx context.Context, day time.Time, counts map[string]int64) error {
	if f.fail {
		f.fail = false
		return errors.New("disk full")
	}
	return f.TransparencyService.CountChecked(ctx, day, counts)
}

// TestItemsChecked: every item handed to the service counts once by kind
// and day, retroactive matches (content checked before) not again, and
// counts survive a failed flush.
func TestItemsChecked(t *testing.T) {
	ctx := context.Background()
	clock := storetest.NewClock()
	db, err := sqlite.Open(ctx, t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	store := &failingTransparency{TransparencyService: sqlite.NewTransparencyService(db)}
	counter := &respond.CheckCounter{Store: store, Now: clock.Now}
	s := &respond.Service{Checked: counter}
	s.Content(ctx, vigil.ContentRef{SHA256: "aa", MediaType: "image/png"}, nil, nil, nil)
	s.Content(ctx, vigil.ContentRef{SHA256: "bb", MediaType: "image/jpeg"}, nil, nil, nil)
	s.Match(ctx, vigil.ContentRef{SHA256: "cc", MediaType: "video/mp4"}, nil, nil)
	s.Match(ctx, vigil.ContentRef{}, nil, nil) // signals only
	s.Conversation(ctx, respond.Conversation{ID: "chat-1"})
	if err := s.Rematches(ctx, []*vigil.Rematch{{ContentSHA256: "aa"}}); err != nil {
		t.Fatal(err)
	}
	store.fail = true
	if err := counter.Flush(ctx); err == nil {
		t.Fatal("a failed flush was not reported")
	}
	clock.Advance(24 * time.Hour)
	s.Content(ctx, vigil.ContentRef{SHA256: "dd", MediaType: "text/plain"}, nil, nil, nil)
	if err := counter.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	day := clock.Now().Add(-24 * time.Hour).Truncate(24 * time.Hour)
	got, err := store.Transparency(ctx, day, day.Add(24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := []vigil.Count{{Name: "conversation", N: 1}, {Name: "image", N: 2}, {Name: "signals", N: 1}, {Name: "video", N: 1}}
	if !reflect.DeepEqual(got.ItemsChecked, want) {
		t.Errorf("first day: %+v, want %+v", got.ItemsChecked, want)
	}
	got, err = store.Transparency(ctx, day, day.Add(48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if len(got.ItemsChecked) != 5 {
		t.Errorf("two days: %+v", got.ItemsChecked)
	}
}
