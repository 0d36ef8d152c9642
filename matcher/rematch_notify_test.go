package matcher_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/matcher"
	"github.com/vigil-oss/vigil/sqlite"
)

// recordingNotifier keeps the events it is given, or fails.
type recordingNotifier struct {
	events []vigil.Event
	hooks  []string
	err    error
}

func (n *recordingNotifier) Notify(_ context.Context, webhook string, ev vigil.Event) error {
	if n.err != nil {
		return n.err
	}
	n.hooks, n.events = append(n.hooks, webhook), append(n.events, ev)
	return nil
}

func TestNotifyRematches(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	f := &fixture{banks: sqlite.NewBankService(db), entries: sqlite.NewEntryService(db)}
	signals := sqlite.NewSignalStore(db)
	n := &recordingNotifier{}
	f.m = matcher.New(f.banks, f.entries, slog.New(slog.DiscardHandler))
	f.m.SetSignalStore(signals)
	f.m.OnRematch(matcher.NotifyRematches(n, "platform"))
	b := f.bank(t, &vigil.Bank{Name: "later"})
	if err := f.m.Load(ctx); err != nil {
		t.Fatal(err)
	}
	const (
		a   = "aa00000000000000000000000000000000000000000000000000000000000000"
		c   = "cc00000000000000000000000000000000000000000000000000000000000000"
		md5 = "d35c785545392755e7e4164457657269"
		sha = "bb11111111111111111111111111111111111111111111111111111111111111"
	)
	// Item a is known by two digests, item c by one.
	keep := func(content string, sigs ...vigil.Signal) {
		if err := signals.KeepSignals(ctx, content, sigs, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	keep(a, vigil.Signal{Type: vigil.SignalMD5, Value: md5}, vigil.Signal{Type: vigil.SignalSHA256, Value: sha})
	keep(c, vigil.Signal{Type: vigil.SignalMD5, Value: md5})
	f.add(t, b, &vigil.Entry{SignalType: vigil.SignalMD5, Value: md5, SourceEntryID: "m-1"},
		&vigil.Entry{SignalType: vigil.SignalSHA256, Value: sha, SourceEntryID: "s-1"})
	if err := f.m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if len(n.events) != 2 {
		t.Fatalf("events: %+v", n.events)
	}
	got := map[string]int{}
	ids := map[string]bool{}
	for i, ev := range n.events {
		var data struct {
			ContentSHA256 string           `json:"content_sha256"`
			Rematches     []*vigil.Rematch `json:"rematches"`
		}
		if err := json.Unmarshal(ev.Data, &data); err != nil {
			t.Fatal(err)
		}
		if ev.Type != vigil.EventRetroactiveMatch || n.hooks[i] != "platform" || ev.ID == "" || ids[ev.ID] {
			t.Fatalf("event %+v", ev)
		}
		ids[ev.ID] = true
		for _, r := range data.Rematches {
			if r.ContentSHA256 != data.ContentSHA256 || r.ID == 0 {
				t.Fatalf("rematch %+v in event for %s", r, data.ContentSHA256)
			}
		}
		got[data.ContentSHA256] = len(data.Rematches)
	}
	if got[a] != 2 || got[c] != 1 {
		t.Fatalf("rematches per item: %v", got)
	}

	// A failing notifier fails the refresh; the matches are still stored.
	n.err = errors.New("queue unavailable")
	keep(c, vigil.Signal{Type: vigil.SignalMD5, Value: "0123456789abcdef0123456789abcdef"})
	f.add(t, b, &vigil.Entry{SignalType: vigil.SignalMD5, Value: "0123456789abcdef0123456789abcdef"})
	if err := f.m.Refresh(ctx); !errors.Is(err, n.err) {
		t.Fatalf("Refresh = %v", err)
	}
	if rs, _ := signals.ListRematches(ctx, 0, 10); len(rs) != 4 {
		t.Fatalf("stored rematches: %d", len(rs))
	}
}
