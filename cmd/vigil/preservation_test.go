package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/sqlite"
)

// TestPurgePreservation runs the serve purge pass (incidents, drafts,
// then cases) on a fake clock over a store holding a submitted incident,
// an approved one never sent, a draft nobody approved, a held draft, a
// held case and a plain case: what retention (or a draft's lifetime) has
// ended for goes, each with its audit record, what preservation keeps
// stays, and the audit chain verifies after.
func TestPurgePreservation(t *testing.T) {
	ctx := context.Background()
	db, dir := mustOpenDB(t)
	now := time.Date(2027, 1, 31, 9, 0, 0, 0, time.UTC)
	db.Now = func() time.Time { return now }
	store := mustOpenMedia(t, dir)
	cases, incidents := sqlite.NewCaseService(db), sqlite.NewIncidentService(db)
	subs, pres, audit := sqlite.NewSubmissionService(db), sqlite.NewPreservationService(db), sqlite.NewAuditService(db)
	if err := cases.CreateQueue(ctx, &vigil.Queue{Name: "q"}); err != nil {
		t.Fatal(err)
	}
	bank := &vigil.Bank{Name: "b", Enabled: true}
	if err := sqlite.NewBankService(db).CreateBank(ctx, bank); err != nil {
		t.Fatal(err)
	}
	entry := &vigil.Entry{SignalType: vigil.SignalMD5, Value: "0123456789abcdef0123456789abcdef", Source: "test"}
	if _, err := sqlite.NewEntryService(db).AddEntries(ctx, bank.ID, "curator", []*vigil.Entry{entry}); err != nil {
		t.Fatal(err)
	}
	// open opens a case of user's upload with media, retained 90 days (the
	// case default), confirmed if asked.
	open := func(user string, confirm bool) (*vigil.Case, string) {
		t.Helper()
		blob, err := store.Put(ctx, []byte("gradient stand-in "+user))
		if err != nil {
			t.Fatal(err)
		}
		c := &vigil.Case{Queue: "q", Kind: vigil.CaseKindMatch, RetainUntil: now.Add(90 * 24 * time.Hour),
			Content: vigil.ContentRef{MediaID: blob, UserID: user, SHA256: "ab" + user},
			Matches: []vigil.Match{{BankID: bank.ID, Bank: "b", EntryID: entry.ID, SignalType: entry.SignalType, Value: entry.Value, Source: "test"}}}
		if err := cases.OpenCase(ctx, c, "rules"); err != nil {
			t.Fatal(err)
		}
		if confirm {
			if c, err = cases.DecideCase(ctx, c.ID, vigil.Decision{Verdict: vigil.VerdictConfirmed, DecidedBy: "r", DecidedAt: now}); err != nil {
				t.Fatal(err)
			}
		}
		return c, blob
	}
	incident := func(c *vigil.Case) *vigil.Incident {
		t.Helper()
		inc, err := vigil.NewIncident([]*vigil.Case{c})
		if err != nil {
			t.Fatal(err)
		}
		if err := incidents.CreateIncident(ctx, inc, "key:1:curator"); err != nil {
			t.Fatal(err)
		}
		return inc
	}
	sentCase, sentBlob := open("u-sent", true)
	unsentCase, unsentBlob := open("u-unsent", true)
	draftCase, draftBlob := open("u-draft", true)
	heldDraftCase, heldDraftBlob := open("u-held-draft", true)
	heldCase, heldBlob := open("u-held", false)
	plainCase, plainBlob := open("u-plain", false)
	sent := incident(sentCase)
	unsent := incident(unsentCase)
	draft := incident(draftCase)
	heldDraft := incident(heldDraftCase)
	for _, inc := range []*vigil.Incident{sent, unsent} {
		if _, err := incidents.ApproveIncident(ctx, inc.ID, "key:2:reviewer"); err != nil {
			t.Fatal(err)
		}
	}
	sub := &vigil.Submission{IncidentID: sent.ID, Destination: "ncmec", CreatedBy: "key:2:reviewer"}
	if err := subs.CreateSubmission(ctx, sub); err != nil {
		t.Fatal(err)
	}
	if _, err := subs.UpdateSubmission(ctx, sub.ID, func(s *vigil.Submission) error {
		s.State, s.ReportID = vigil.SubmissionFinished, 1001
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	hold := &vigil.Hold{CaseID: heldCase.ID, Reason: "preservation request", Until: now.AddDate(2, 0, 0)}
	if err := pres.CreateHold(ctx, hold, "key:1:curator"); err != nil {
		t.Fatal(err)
	}
	draftHold := &vigil.Hold{IncidentID: heldDraft.ID, Reason: "preservation request 2", Until: now.AddDate(2, 0, 0)}
	if err := pres.CreateHold(ctx, draftHold, "key:1:curator"); err != nil {
		t.Fatal(err)
	}

	discarded := 0
	pass := func() (int, int) {
		t.Helper()
		ni, err := purgeExpiredIncidents(ctx, pres, vigil.RetentionPolicy{})
		if err != nil {
			t.Fatal(err)
		}
		nd, err := discardStaleDrafts(ctx, pres, vigil.RetentionPolicy{})
		if err != nil {
			t.Fatal(err)
		}
		discarded += nd
		nc, err := purgeExpiredCases(ctx, cases, store)
		if err != nil {
			t.Fatal(err)
		}
		return ni, nc
	}
	present := func(blob string) bool {
		t.Helper()
		_, err := store.Get(ctx, blob)
		if err != nil && vigil.ErrorCode(err) != vigil.ENOTFOUND {
			t.Fatal(err)
		}
		return err == nil
	}

	// Past the cases' 90 days and the drafts' lifetime (90 days
	// unchanged) but within the report's year: the plain case goes, and
	// the draft nobody approved, then its case; the held draft stays.
	now = now.AddDate(0, 6, 0)
	if ni, nc := pass(); ni != 0 || nc != 2 || discarded != 1 {
		t.Errorf("after 6 months purged %d incidents, %d cases, discarded %d drafts; want 0, 2, 1", ni, nc, discarded)
	}
	if present(plainBlob) || present(draftBlob) || !present(sentBlob) || !present(unsentBlob) || !present(heldBlob) || !present(heldDraftBlob) {
		t.Errorf("after 6 months media present: plain %v draft %v sent %v unsent %v held %v held draft %v; want the plain and draft cases' gone",
			present(plainBlob), present(draftBlob), present(sentBlob), present(unsentBlob), present(heldBlob), present(heldDraftBlob))
	}
	if got, err := incidents.FindIncident(ctx, draft.ID); err != nil || got.PurgedAt == nil || len(got.Files) != 0 {
		t.Errorf("draft past its lifetime: %+v, %v", got, err)
	}

	// A second short of a year after submission: still kept.
	now = now.AddDate(0, 6, 0).Add(-time.Second)
	if ni, nc := pass(); ni != 0 || nc != 0 {
		t.Errorf("a second before a year purged %d incidents, %d cases", ni, nc)
	}
	now = now.Add(time.Second)
	if ni, nc := pass(); ni != 1 || nc != 1 {
		t.Errorf("a year after submission purged %d incidents, %d cases; want 1, 1", ni, nc)
	}
	if present(sentBlob) || !present(unsentBlob) || !present(heldBlob) {
		t.Errorf("a year on media present: sent %v unsent %v held %v", present(sentBlob), present(unsentBlob), present(heldBlob))
	}
	if got, err := incidents.FindIncident(ctx, sent.ID); err != nil || got.PurgedAt == nil || len(got.Files) != 0 {
		t.Errorf("sent incident after its retention: %+v, %v", got, err)
	}
	if got, err := incidents.FindIncident(ctx, unsent.ID); err != nil || got.PurgedAt != nil || len(got.Files) != 1 {
		t.Errorf("unsent incident: %+v, %v", got, err)
	}

	// Released, the held case goes at the next pass, and the held draft
	// (unchanged for far longer than its lifetime), then its case.
	for _, h := range []*vigil.Hold{hold, draftHold} {
		if _, err := pres.ReleaseHold(ctx, h.ID, "request withdrawn", "key:1:curator"); err != nil {
			t.Fatal(err)
		}
	}
	if ni, nc := pass(); ni != 0 || nc != 2 || discarded != 2 || present(heldBlob) || present(heldDraftBlob) {
		t.Errorf("after release purged %d incidents, %d cases, discarded %d drafts in all, held media present %v %v",
			ni, nc, discarded, present(heldBlob), present(heldDraftBlob))
	}
	// The approved incident never sent is kept: it is never discarded.
	if got, err := incidents.FindIncident(ctx, unsent.ID); err != nil || got.PurgedAt != nil || !present(unsentBlob) {
		t.Errorf("approved, unsent incident a year on: %+v, %v", got, err)
	}

	recs, err := audit.ListAudit(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	purged := map[string]int{}
	for _, r := range recs {
		if r.Action == vigil.AuditIncidentPurge || r.Action == vigil.AuditCasePurge || r.Action == vigil.AuditIncidentDiscard {
			purged[r.Target]++
			if r.Actor != purgeActor {
				t.Errorf("purge record by %q", r.Actor)
			}
		}
	}
	for _, target := range []string{vigil.IncidentAuditTarget(sent.ID), caseTarget(plainCase.ID), caseTarget(sentCase.ID), caseTarget(heldCase.ID),
		vigil.IncidentAuditTarget(draft.ID), caseTarget(draftCase.ID), vigil.IncidentAuditTarget(heldDraft.ID), caseTarget(heldDraftCase.ID)} {
		if purged[target] != 1 {
			t.Errorf("%d purge records of %s, want 1 (all: %v)", purged[target], target, purged)
		}
	}
	if len(purged) != 8 {
		t.Errorf("purge records %v", purged)
	}
	if n, brk, err := audit.VerifyAudit(ctx); err != nil || brk != nil || n == 0 {
		t.Errorf("audit verify: %d records, break %+v, %v", n, brk, err)
	}
}

func caseTarget(id int64) string { return fmt.Sprintf("case:%d", id) }

// TestHoldCommand makes, lists, extends and releases a hold from the
// command line, each change audited by "cli".
func TestHoldCommand(t *testing.T) {
	ctx := context.Background()
	data := newDataDir(t)
	db, err := sqlite.Open(ctx, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	cases := sqlite.NewCaseService(db)
	if err := cases.CreateQueue(ctx, &vigil.Queue{Name: "q"}); err != nil {
		t.Fatal(err)
	}
	c := &vigil.Case{Queue: "q", Kind: vigil.CaseKindConversation, RetainUntil: time.Now().Add(time.Hour),
		Conversation: &vigil.CaseConversation{ConversationID: "c", Messages: []vigil.CaseMessage{{Speaker: "a", Text: "hi"}}}}
	if err := cases.OpenCase(ctx, c, "test"); err != nil {
		t.Fatal(err)
	}
	db.Close()

	day := time.Now().UTC().AddDate(0, 2, 0).Format(time.DateOnly)
	for _, bad := range [][]string{
		{"hold", "create", "--data", data, "--reason", "x", "--until", day},
		{"hold", "create", "--data", data, "--case", "1", "--incident", "1", "--reason", "x", "--until", day},
		{"hold", "create", "--data", data, "--case", "1", "--until", day},
		{"hold", "create", "--data", data, "--case", "1", "--reason", "x", "--until", "soon"},
		{"hold", "release", "--data", data, "--reason", "x", "one"},
	} {
		if r := runExec(t, "", bad...); r.code != 2 {
			t.Errorf("vigil %s: exit %d, stderr %q; want 2", strings.Join(bad, " "), r.code, r.stderr)
		}
	}
	r := runExec(t, "", "hold", "create", "--data", data, "--case", fmt.Sprint(c.ID), "--reason", "court order 7", "--requested-by", "Court", "--until", day)
	var h vigil.Hold
	if r.code != 0 || json.Unmarshal([]byte(r.stdout), &h) != nil || h.ID == 0 || h.CreatedBy != "cli" || h.Until.Format(time.DateOnly) != time.Now().UTC().AddDate(0, 2, 1).Format(time.DateOnly) {
		t.Fatalf("create: %+v %+v", r, h)
	}
	if r := runExec(t, "", "hold", "create", "--data", data, "--case", "999", "--reason", "x", "--until", day); r.code != 1 {
		t.Errorf("hold of an unknown case: %+v", r)
	}
	if r := runExec(t, "", "hold", "extend", "--data", data, "--until", time.Now().UTC().AddDate(0, 4, 0).Format(time.DateOnly), fmt.Sprint(h.ID)); r.code != 0 {
		t.Errorf("extend: %+v", r)
	}
	if r := runExec(t, "", "hold", "list", "--data", data, "--active"); r.code != 0 || strings.Count(r.stdout, "\n") != 1 || !strings.Contains(r.stdout, "court order 7") {
		t.Errorf("list: %+v", r)
	}
	if r := runExec(t, "", "hold", "release", "--data", data, "--reason", "lifted", fmt.Sprint(h.ID)); r.code != 0 || !strings.Contains(r.stdout, `"released_by":"cli"`) {
		t.Errorf("release: %+v", r)
	}
	if r := runExec(t, "", "hold", "list", "--data", data, "--active"); r.code != 0 || r.stdout != "" {
		t.Errorf("active after release: %+v", r)
	}
	if r := runExec(t, "", "audit", "list", "--data", data); r.code != 0 || strings.Count(r.stdout, `"actor":"cli","action":"hold.`) != 3 {
		t.Errorf("audit of holds: %+v", r)
	}
	if r := runExec(t, "", "audit", "verify", "--data", data); r.code != 0 || !strings.Contains(r.stdout, "chain intact") {
		t.Errorf("audit verify: %+v", r)
	}
}

// holdAfterRead is a case store on which a hold is made on every case
// ExpiredCases returns, just after it returns them: a curator's hold
// arriving while a purge pass runs.
type holdAfterRead struct {
	*sqlite.CaseService
	pres  *sqlite.PreservationService
	until time.Time
}

func (h holdAfterRead) ExpiredCases(ctx context.Context, limit int) ([]*vigil.Case, error) {
	cases, err := h.CaseService.ExpiredCases(ctx, limit)
	for _, c := range cases {
		if err := h.pres.CreateHold(ctx, &vigil.Hold{CaseID: c.ID, Reason: "arrived mid-pass", Until: h.until}, "key:1:curator"); err != nil {
			return nil, err
		}
	}
	return cases, err
}

// TestPurgeHoldMidPass checks that a hold made after the purge pass read a
// case but before it purged it keeps the case and its media: the store's
// transaction decides, and the media follows it.
func TestPurgeHoldMidPass(t *testing.T) {
	ctx := context.Background()
	db, dir := mustOpenDB(t)
	now := time.Date(2027, 1, 31, 9, 0, 0, 0, time.UTC)
	db.Now = func() time.Time { return now }
	store := mustOpenMedia(t, dir)
	cases := sqlite.NewCaseService(db)
	if err := cases.CreateQueue(ctx, &vigil.Queue{Name: "q"}); err != nil {
		t.Fatal(err)
	}
	blob, err := store.Put(ctx, []byte("gradient stand-in"))
	if err != nil {
		t.Fatal(err)
	}
	c := &vigil.Case{Queue: "q", Kind: vigil.CaseKindConversation, RetainUntil: now.Add(time.Hour), Content: vigil.ContentRef{MediaID: blob},
		Conversation: &vigil.CaseConversation{ConversationID: "c", Messages: []vigil.CaseMessage{{Speaker: "a", Text: "hi"}}}}
	if err := cases.OpenCase(ctx, c, "test"); err != nil {
		t.Fatal(err)
	}
	now = now.Add(2 * time.Hour)
	racing := holdAfterRead{CaseService: cases, pres: sqlite.NewPreservationService(db), until: now.AddDate(0, 1, 0)}
	if n, err := purgeExpiredCases(ctx, racing, store); n != 0 || err != nil {
		t.Errorf("purged %d, %v; want none", n, err)
	}
	if _, err := store.Get(ctx, blob); err != nil {
		t.Errorf("media of the case held mid-pass: %v", err)
	}
	if got, err := cases.FindCase(ctx, c.ID); err != nil || got.Content.MediaID != blob || len(got.Conversation.Messages) != 1 {
		t.Errorf("case held mid-pass: %+v, %v", got, err)
	}
}

// TestDaysFlag checks --draft-retention's forms: days, durations, and
// what is neither.
func TestDaysFlag(t *testing.T) {
	var d time.Duration
	f := daysFlag{&d}
	for in, want := range map[string]time.Duration{"90d": 90 * 24 * time.Hour, "1d": 24 * time.Hour, "36h": 36 * time.Hour} {
		if err := f.Set(in); err != nil || d != want {
			t.Errorf("%q: %v, %v; want %v", in, d, err, want)
		}
	}
	if d = 90 * 24 * time.Hour; f.String() != "90d" {
		t.Errorf("String of 90 days: %q", f.String())
	}
	for _, bad := range []string{"", "d", "-3d", "ninety", "1.5d", "99999d"} {
		if err := f.Set(bad); err == nil {
			t.Errorf("%q accepted as %v", bad, d)
		}
	}
	if r := runExec(t, "", "serve", "--data", t.TempDir(), "--draft-retention", "2h"); r.code != 2 || !strings.Contains(r.stderr, "draft") {
		t.Errorf("serve --draft-retention 2h: exit %d, %q; want a usage error", r.code, r.stderr)
	}
}
