package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/media"
	"github.com/vigil-oss/vigil/sqlite"
)

// reviewCommand returns a ServeCommand whose log goes to the returned
// buffer.
func reviewCommand() (*ServeCommand, *bytes.Buffer) {
	var log bytes.Buffer
	m := &Main{Stdin: strings.NewReader(""), Stdout: io.Discard, Stderr: io.Discard, Logger: slog.New(slog.NewTextHandler(&log, nil))}
	return &ServeCommand{m}, &log
}

// parseReviewFlags parses args as serve's review flags.
func parseReviewFlags(t *testing.T, args ...string) *reviewFlags {
	t.Helper()
	fs := (&Main{Stdout: io.Discard}).newFlagSet("test", "")
	r := addReviewFlags(fs)
	if err := fs.parse(args); err != nil {
		t.Fatal(err)
	}
	return r
}

// mustOpenDB opens a store in a new temporary data directory, closed at
// the end of the test.
func mustOpenDB(tb testing.TB) (*sqlite.DB, string) {
	tb.Helper()
	dir := tb.TempDir()
	db, err := sqlite.Open(context.Background(), dir, nil)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db, dir
}

// mustOpenMedia opens a media store under dir with a fixed test key.
func mustOpenMedia(tb testing.TB, dir string) *media.Store {
	tb.Helper()
	kr, err := media.ParseKeyring("k:" + base64.StdEncoding.EncodeToString(make([]byte, 32)))
	if err != nil {
		tb.Fatal(err)
	}
	store, err := media.Open(filepath.Join(dir, "media"), kr)
	if err != nil {
		tb.Fatal(err)
	}
	return store
}

func TestOpenReviewKeys(t *testing.T) {
	ctx := context.Background()
	db, dir := mustOpenDB(t)
	t.Setenv(media.EnvKeys, "")

	// First start without keys: one is generated into the data directory
	// and the log says so; the next start reuses it.
	c, log := reviewCommand()
	cases, store, err := c.openReview(ctx, sqliteStore(db), dir, parseReviewFlags(t))
	if err != nil {
		t.Fatal(err)
	}
	if p := cases.(*sqlite.CaseService).Policy; p.MinFalsePositives != 3 || p.Window != 24*time.Hour {
		t.Errorf("default policy %+v", p)
	}
	if !strings.Contains(log.String(), "generated a media encryption key") {
		t.Errorf("log does not tell of the generated key: %s", log)
	}
	fi, err := os.Stat(filepath.Join(dir, mediaKeyFileName))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v", fi, err)
	}
	id, err := store.Put(ctx, []byte("blob"))
	if err != nil {
		t.Fatal(err)
	}
	c, log = reviewCommand()
	_, store, err = c.openReview(ctx, sqliteStore(db), dir, parseReviewFlags(t, "-quarantine-false-positives", "0"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(log.String(), "generated") {
		t.Error("generated a second key")
	}
	if got, err := store.Get(ctx, id); err != nil || string(got) != "blob" {
		t.Errorf("after restart: %q, %v", got, err)
	}

	// Keys from the environment win over the generated file.
	t.Setenv(media.EnvKeys, "env1:"+base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{5}, 32)))
	c, log = reviewCommand()
	if _, _, err := c.openReview(ctx, sqliteStore(db), dir, parseReviewFlags(t)); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "media_key=env1") {
		t.Errorf("environment keys not used: %s", log)
	}

	// Rotation: the new key first, the generated one after it; --media-rekey
	// seals the old blob again, after which the new key alone opens it.
	generated, err := os.ReadFile(filepath.Join(dir, mediaKeyFileName))
	if err != nil {
		t.Fatal(err)
	}
	env1 := "env1:" + base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{5}, 32))
	t.Setenv(media.EnvKeys, env1+"\n"+string(generated))
	c, log = reviewCommand()
	if _, _, err := c.openReview(ctx, sqliteStore(db), dir, parseReviewFlags(t, "-media-rekey")); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), "blobs=1") {
		t.Errorf("rekey did not report one blob: %s", log)
	}
	t.Setenv(media.EnvKeys, env1)
	_, store, err = c.openReview(ctx, sqliteStore(db), dir, parseReviewFlags(t))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := store.Get(ctx, id); err != nil || string(got) != "blob" {
		t.Errorf("after rekey, with the new key only: %q, %v", got, err)
	}

	t.Setenv(media.EnvKeys, "env1:tooshort")
	if _, _, err := c.openReview(ctx, sqliteStore(db), dir, parseReviewFlags(t)); err == nil || !strings.Contains(err.Error(), media.EnvKeys) {
		t.Errorf("bad environment keys: %v", err)
	}
	if _, _, err := c.openReview(ctx, sqliteStore(db), dir, parseReviewFlags(t, "-quarantine-max-precision", "2")); err == nil {
		t.Error("accepted a precision above 1")
	}
}

// failingDelete is a media store whose Delete fails for one id.
type failingDelete struct {
	vigil.MediaStore
	bad string
}

func (f failingDelete) Delete(ctx context.Context, id string) error {
	if id == f.bad {
		return errors.New("disk on fire")
	}
	return f.MediaStore.Delete(ctx, id)
}

func TestPurgeExpiredCases(t *testing.T) {
	ctx := context.Background()
	db, dir := mustOpenDB(t)
	now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	db.Now = func() time.Time { return now }
	store := mustOpenMedia(t, dir)
	cases := sqlite.NewCaseService(db)
	if err := cases.CreateQueue(ctx, &vigil.Queue{Name: "q"}); err != nil {
		t.Fatal(err)
	}
	open := func(retain time.Duration, withMedia bool) (*vigil.Case, string) {
		t.Helper()
		var id string
		if withMedia {
			var err error
			if id, err = store.Put(ctx, []byte("gradient stand-in")); err != nil {
				t.Fatal(err)
			}
		}
		c := &vigil.Case{Queue: "q", Kind: vigil.CaseKindConversation, RetainUntil: now.Add(retain),
			Content:      vigil.ContentRef{MediaID: id},
			Conversation: &vigil.CaseConversation{ConversationID: "c", Messages: []vigil.CaseMessage{{Speaker: "a", Text: "hi"}}}}
		if err := cases.OpenCase(ctx, c, "test"); err != nil {
			t.Fatal(err)
		}
		return c, id
	}
	expired, expiredMedia := open(time.Hour, true)
	noMedia, _ := open(time.Hour, false)
	stuck, stuckMedia := open(time.Hour, true)
	kept, keptMedia := open(48*time.Hour, true)

	now = now.Add(2 * time.Hour)
	n, err := purgeExpiredCases(ctx, cases, failingDelete{store, stuckMedia})
	if n != 3 || err == nil {
		t.Fatalf("purged %d, err %v; want 3 and the stuck blob's error", n, err)
	}
	if _, err := store.Get(ctx, expiredMedia); vigil.ErrorCode(err) != vigil.ENOTFOUND {
		t.Errorf("expired media still there: %v", err)
	}
	for _, c := range []*vigil.Case{expired, noMedia, stuck} {
		got, err := cases.FindCase(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Content.MediaID != "" || len(got.Conversation.Messages) != 0 {
			t.Errorf("case %d not purged: %+v", c.ID, got)
		}
	}
	// The store decides first, then the media goes: the blob whose
	// deletion failed belongs to no case, and the orphan sweep takes it.
	if left, err := cases.ExpiredCases(ctx, 10); err != nil || len(left) != 0 {
		t.Fatalf("left to purge: %+v, %v", left, err)
	}
	if n, err := sweepOrphanMedia(ctx, cases, store, time.Now().Add(time.Hour)); err != nil || n != 1 {
		t.Errorf("sweep after the failed delete: %d, %v", n, err)
	}
	if _, err := store.Get(ctx, stuckMedia); vigil.ErrorCode(err) != vigil.ENOTFOUND {
		t.Errorf("stuck media still there after the sweep: %v", err)
	}
	if _, err := store.Get(ctx, keptMedia); err != nil {
		t.Errorf("media of a case within retention: %v", err)
	}
	if got, err := cases.FindCase(ctx, kept.ID); err != nil || len(got.Conversation.Messages) != 1 {
		t.Errorf("case within retention purged: %+v, %v", got, err)
	}
}

func TestSweepOrphanMedia(t *testing.T) {
	ctx := context.Background()
	db, dir := mustOpenDB(t)
	store := mustOpenMedia(t, dir)
	cases := sqlite.NewCaseService(db)
	if err := cases.CreateQueue(ctx, &vigil.Queue{Name: "q"}); err != nil {
		t.Fatal(err)
	}
	put := func() string {
		id, err := store.Put(ctx, []byte("shape stand-in"))
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	held, orphan := put(), put()
	c := &vigil.Case{Queue: "q", Kind: vigil.CaseKindConversation, RetainUntil: time.Now().Add(time.Hour),
		Content: vigil.ContentRef{MediaID: held}, Conversation: &vigil.CaseConversation{ConversationID: "c"}}
	if err := cases.OpenCase(ctx, c, "test"); err != nil {
		t.Fatal(err)
	}
	// A cutoff before the blobs were written: both are too young to sweep.
	if n, err := sweepOrphanMedia(ctx, cases, store, time.Now().Add(-time.Hour)); n != 0 || err != nil {
		t.Errorf("young blobs swept: %d, %v", n, err)
	}
	n, err := sweepOrphanMedia(ctx, cases, store, time.Now().Add(time.Minute))
	if n != 1 || err != nil {
		t.Fatalf("swept %d, %v; want the orphan only", n, err)
	}
	if _, err := store.Get(ctx, orphan); vigil.ErrorCode(err) != vigil.ENOTFOUND {
		t.Errorf("orphan still there: %v", err)
	}
	if _, err := store.Get(ctx, held); err != nil {
		t.Errorf("blob a case holds: %v", err)
	}
}

func TestAutoQuarantineAudited(t *testing.T) {
	ctx := context.Background()
	db, dir := mustOpenDB(t)
	t.Setenv(media.EnvKeys, "")
	c, log := reviewCommand()
	cases, _, err := c.openReview(ctx, sqliteStore(db), dir, parseReviewFlags(t, "-quarantine-false-positives", "1"))
	if err != nil {
		t.Fatal(err)
	}
	b := &vigil.Bank{Name: "b", Enabled: true}
	if err := sqlite.NewBankService(db).CreateBank(ctx, b); err != nil {
		t.Fatal(err)
	}
	e := &vigil.Entry{SignalType: vigil.SignalMD5, Value: strings.Repeat("ab", 16)}
	if _, err := sqlite.NewEntryService(db).AddEntries(ctx, b.ID, "curator", []*vigil.Entry{e}); err != nil {
		t.Fatal(err)
	}
	if err := cases.CreateQueue(ctx, &vigil.Queue{Name: "q"}); err != nil {
		t.Fatal(err)
	}
	cs := &vigil.Case{Queue: "q", Kind: vigil.CaseKindMatch, RetainUntil: time.Now().Add(time.Hour),
		Matches: []vigil.Match{{BankID: b.ID, EntryID: e.ID, SignalType: e.SignalType, Value: e.Value}}}
	if err := cases.OpenCase(ctx, cs, "rules"); err != nil {
		t.Fatal(err)
	}
	if _, err := cases.DecideCase(ctx, cs.ID, vigil.Decision{Verdict: vigil.VerdictFalsePositive, DecidedBy: "r"}); err != nil {
		t.Fatal(err)
	}
	recs, err := sqlite.NewAuditService(db).ListAudit(ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Actor != "vigil" || recs[0].Action != vigil.AuditEntryQuarantine ||
		recs[0].Target != "entry:"+strconv.FormatInt(e.ID, 10) || !strings.Contains(recs[0].Detail, `"automatic":true`) {
		t.Fatalf("audit records %+v", recs)
	}
	if !strings.Contains(log.String(), "quarantined automatically") {
		t.Errorf("not logged: %s", log)
	}
}
