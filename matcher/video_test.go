package matcher_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/vigil-oss/vigil"
)

func videoValue(tb testing.TB, name string) string {
	tb.Helper()
	b, err := os.ReadFile("../vpdq/testdata/expected/" + name)
	if err != nil {
		tb.Fatal(err)
	}
	v, err := vigil.CanonicalValue(vigil.SignalVPDQ, string(b))
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

func TestVideoMatching(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	b := f.bank(t, &vigil.Bank{Name: "videos"})
	stored := &vigil.Entry{SignalType: vigil.SignalVPDQ, Value: videoValue(t, "pattern-sd-grey-bar-r1.txt"), Source: "hotline", SourceEntryID: "v-1"}
	f.add(t, b, stored)
	if err := f.m.Load(ctx); err != nil {
		t.Fatal(err)
	}
	// The same clip with a small logo added matches; another clip does not.
	res := lookup(t, f.m, vigil.MatchOptions{}, vigil.Signal{Type: vigil.SignalVPDQ, Value: videoValue(t, "pattern-sd-with-small-logo-bar-r1.txt")})
	if len(res[0].Matches) != 1 {
		t.Fatalf("logo version: %+v", res[0])
	}
	m := res[0].Matches[0]
	if m.EntryID != stored.ID || m.SourceEntryID != "v-1" || m.Video == nil || m.Video.QueryPercent < 80 || len(m.Video.Ranges) == 0 {
		t.Fatalf("video match: %+v %+v", m, m.Video)
	}
	res = lookup(t, f.m, vigil.MatchOptions{}, vigil.Signal{Type: vigil.SignalVPDQ, Value: videoValue(t, "doorknob-hd-no-bar-r1.txt")})
	if len(res[0].Matches) != 0 {
		t.Fatalf("unrelated video matched: %+v", res[0].Matches)
	}
	// Added and retracted videos reach the index through refresh.
	other := &vigil.Entry{SignalType: vigil.SignalVPDQ, Value: videoValue(t, "doorknob-hd-no-bar-r1.txt")}
	f.add(t, b, other)
	if err := f.m.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	res = lookup(t, f.m, vigil.MatchOptions{}, vigil.Signal{Type: vigil.SignalVPDQ, Value: videoValue(t, "doorknob-hd-no-bar-r1.txt")})
	if len(res[0].Matches) != 1 || res[0].Matches[0].Video.QueryPercent != 100 {
		t.Fatalf("added video: %+v", res[0])
	}
	if _, err := f.entries.RetractEntry(ctx, other.ID, "curator", "test"); err != nil {
		t.Fatal(err)
	}
	f.m.Refresh(ctx)
	res = lookup(t, f.m, vigil.MatchOptions{}, vigil.Signal{Type: vigil.SignalVPDQ, Value: videoValue(t, "doorknob-hd-no-bar-r1.txt")})
	if len(res[0].Matches) != 0 {
		t.Fatalf("retracted video matched: %+v", res[0])
	}
	if st := f.m.Status().Types[vigil.SignalVPDQ]; st.Entries != 1 {
		t.Fatalf("status %+v", st)
	}
	if _, err := f.m.Lookup(ctx, []vigil.Signal{{Type: vigil.SignalVPDQ, Value: "nonsense"}}, vigil.MatchOptions{}); vigil.ErrorCode(err) != vigil.EINVALID || !strings.Contains(err.Error(), "signal 0") {
		t.Fatalf("bad video signal: %v", err)
	}
}
