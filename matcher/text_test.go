package matcher_test

import (
	"context"
	"testing"

	"github.com/vigil-oss/vigil"
)

func TestTextMatching(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	b := f.bank(t, &vigil.Bank{Name: "links"})
	f.add(t, b,
		&vigil.Entry{SignalType: vigil.SignalURL, Value: "https://files.example.com/album/123", Source: "hotline", SourceEntryID: "u-1"},
		&vigil.Entry{SignalType: vigil.SignalURL, Value: "host:badhost.example"},
		&vigil.Entry{SignalType: vigil.SignalURL, Value: "prefix:https://share.example.org/u/alice"},
		&vigil.Entry{SignalType: vigil.SignalKeyword, Value: "telegram", Category: "platform-move"},
	)
	if err := f.m.Load(ctx); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		sig  vigil.Signal
		want int
	}{
		{vigil.Signal{Type: vigil.SignalURL, Value: "HTTP://www.Files.Example.com:80/album/123#top"}, 1},
		{vigil.Signal{Type: vigil.SignalURL, Value: "https://cdn.badhost.example/x.jpg"}, 1},
		{vigil.Signal{Type: vigil.SignalURL, Value: "https://share.example.org/u/alice/p/9"}, 1},
		{vigil.Signal{Type: vigil.SignalURL, Value: "https://share.example.org/u/alicette"}, 0},
		{vigil.Signal{Type: vigil.SignalText, Value: "add me on t e l e g r a m, pics at files.example[.]com/album/123"}, 2},
		{vigil.Signal{Type: vigil.SignalText, Value: "nothing listed here"}, 0},
	} {
		res := lookup(t, f.m, vigil.MatchOptions{}, tc.sig)
		if len(res[0].Matches) != tc.want {
			t.Errorf("%s %q: %d matches, want %d: %+v", tc.sig.Type, tc.sig.Value, len(res[0].Matches), tc.want, res[0].Matches)
		}
	}
	text := "add me on t e l e g r a m"
	res := lookup(t, f.m, vigil.MatchOptions{}, vigil.Signal{Type: vigil.SignalText, Value: text})
	m := res[0].Matches[0]
	if m.SignalType != vigil.SignalKeyword || m.Category != "platform-move" || len(m.Span) != 2 || text[m.Span[0]:m.Span[1]] != "t e l e g r a m" {
		t.Fatalf("keyword match: %+v", m)
	}
	// A new keyword is picked up by a refresh.
	f.add(t, b, &vigil.Entry{SignalType: vigil.SignalKeyword, Value: "robux"})
	if err := f.m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	res = lookup(t, f.m, vigil.MatchOptions{}, vigil.Signal{Type: vigil.SignalText, Value: "free R0BUX for you"})
	if len(res[0].Matches) != 1 {
		t.Fatalf("refreshed keyword: %+v", res[0])
	}
	if st := f.m.Status(); st.Types[vigil.SignalKeyword].Entries != 2 || st.Types[vigil.SignalURL].Entries != 3 {
		t.Fatalf("status %+v", st.Types)
	}
	if _, err := f.m.Lookup(ctx, []vigil.Signal{{Type: vigil.SignalKeyword, Value: "x"}}, vigil.MatchOptions{}); vigil.ErrorCode(err) != vigil.EINVALID {
		t.Fatalf("keyword lookup: %v", err)
	}
}
