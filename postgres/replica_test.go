package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/banklist"
	"github.com/vigil-oss/vigil/internal/pausedload"
	"github.com/vigil-oss/vigil/matcher"
	"github.com/vigil-oss/vigil/postgres"
)

// TestMigrateConcurrently opens one empty database from several replicas
// at once: goose's lock makes one migrate and the others wait, so every
// open succeeds on the same schema.
func TestMigrateConcurrently(t *testing.T) {
	url := MustSchemaURL(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	dbs := make([]*postgres.DB, len(errs))
	for i := range errs {
		wg.Go(func() {
			dbs[i], errs[i] = postgres.Open(context.Background(), url, nil)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
		defer dbs[i].Close()
	}
	b := &vigil.Bank{Name: "one"}
	if err := postgres.NewBankService(dbs[0]).CreateBank(context.Background(), b); err != nil {
		t.Fatal(err)
	}
	if _, err := postgres.NewBankService(dbs[3]).FindBankByName(context.Background(), "one"); err != nil {
		t.Fatal(err)
	}
}

// TestAuditTwoReplicas appends audit records from two replicas at once,
// some alone and some with a change: the log verifies as one chain, with
// no fork and no gap.
func TestAuditTwoReplicas(t *testing.T) {
	ctx := context.Background()
	url := MustSchemaURL(t)
	replicas := []*postgres.DB{MustOpen(t, url), MustOpen(t, url)}
	const perWorker = 25
	var wg sync.WaitGroup
	errs := make(chan error, 4*perWorker)
	for r, db := range replicas {
		for w := range 2 {
			wg.Go(func() {
				audit, banks := postgres.NewAuditService(db), postgres.NewBankService(db)
				for i := range perWorker {
					name := fmt.Sprintf("r%dw%di%d", r, w, i)
					rec := &vigil.AuditRecord{Actor: "key:1:test", Action: vigil.AuditBankCreate, Target: "bank:" + name, Detail: "{}"}
					var err error
					if i%2 == 0 {
						err = audit.AppendAudit(ctx, rec)
					} else {
						err = banks.CreateBank(vigil.WithAudit(ctx, rec), &vigil.Bank{Name: name})
					}
					if err != nil {
						errs <- err
					}
				}
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	n, brk, err := postgres.NewAuditService(replicas[1]).VerifyAudit(ctx)
	if err != nil || brk != nil || n != 4*perWorker {
		t.Fatalf("verify: %d records, break %+v, %v; want %d and no break", n, brk, err, 4*perWorker)
	}
}

// TestReplicasFollow runs two replicas on one database, each with its own
// index: an entry added through A is matched by B, woken by a
// notification (its fallback poll is an hour, so only the notification
// can wake it), and so is its retraction and a quarantine; B applies the
// changed entries only.
func TestReplicasFollow(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url := MustSchemaURL(t)
	a, b := MustOpen(t, url), MustOpen(t, url)
	bank := &vigil.Bank{Name: "shared", Enabled: true}
	if err := postgres.NewBankService(a).CreateBank(ctx, bank); err != nil {
		t.Fatal(err)
	}
	mb := matcher.New(postgres.NewBankService(b), postgres.NewEntryService(b), slog.New(slog.DiscardHandler))
	if err := mb.Load(ctx); err != nil {
		t.Fatal(err)
	}
	refreshed := make(chan struct{}, 100)
	go b.Follow(ctx, time.Hour, func(ctx context.Context) error {
		err := mb.Refresh(ctx)
		refreshed <- struct{}{}
		return err
	})
	<-refreshed // the catch-up refresh once B listens

	matches := func(value string) bool {
		t.Helper()
		res, err := mb.Lookup(ctx, []vigil.Signal{{Type: vigil.SignalMD5, Value: value}}, vigil.MatchOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return len(res) == 1 && len(res[0].Matches) == 1
	}
	// waitFor waits for B's refreshes until cond holds and returns how
	// long that took after the change.
	waitFor := func(what string, cond func() bool) time.Duration {
		t.Helper()
		start := time.Now()
		for !cond() {
			select {
			case <-refreshed:
			case <-time.After(time.Minute):
				t.Fatalf("%s: replica B did not catch up", what)
			}
		}
		return time.Since(start)
	}

	entries := postgres.NewEntryService(a)
	const value = "0123456789abcdef0123456789abcdef"
	added := []*vigil.Entry{{SignalType: vigil.SignalMD5, Value: value}}
	start := time.Now()
	if _, err := entries.AddEntries(ctx, bank.ID, "curator", added); err != nil {
		t.Fatal(err)
	}
	d := time.Since(start)
	d += waitFor("add", func() bool { return matches(value) })
	t.Logf("entry added through A matched by B after %v", d)

	if _, err := entries.RetractEntry(ctx, added[0].ID, "curator", "test"); err != nil {
		t.Fatal(err)
	}
	t.Logf("retraction seen by B after %v", waitFor("retract", func() bool { return !matches(value) }))

	// A quarantine takes the entry out of matching through the same change
	// sequence.
	added = []*vigil.Entry{{SignalType: vigil.SignalMD5, Value: value}}
	if _, err := entries.AddEntries(ctx, bank.ID, "curator", added); err != nil {
		t.Fatal(err)
	}
	waitFor("re-add", func() bool { return matches(value) })
	if err := postgres.NewCaseService(a).QuarantineEntry(ctx, added[0].ID, "test"); err != nil {
		t.Fatal(err)
	}
	t.Logf("quarantine seen by B after %v", waitFor("quarantine", func() bool { return !matches(value) }))
}

// TestImportKilled kills the server process of a bulk import part-way, as
// when a replica dies mid-import: nothing of it is kept. An invalid entry
// part-way likewise keeps nothing.
func TestImportKilled(t *testing.T) {
	ctx := context.Background()
	url := MustSchemaURL(t)
	db := MustOpen(t, url)
	bank := &vigil.Bank{Name: "b"}
	if err := postgres.NewBankService(db).CreateBank(ctx, bank); err != nil {
		t.Fatal(err)
	}
	entries := postgres.NewEntryService(db)
	stalled, release := make(chan struct{}), make(chan struct{})
	imported := make(chan error, 1)
	go func() {
		_, err := entries.ImportEntries(ctx, bank.ID, "curator", func(yield func(*vigil.Entry, error) bool) {
			for i := range 100000 {
				if i == 50000 {
					close(stalled)
					<-release
				}
				if !yield(&vigil.Entry{SignalType: vigil.SignalMD5, Value: fmt.Sprintf("%032x", i)}, nil) {
					return
				}
			}
		})
		imported <- err
	}()
	<-stalled
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var killed int
	if err := conn.QueryRow(ctx, `
		SELECT COUNT(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE query ILIKE 'copy%import_entries%' AND pid <> pg_backend_pid()) k`).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := <-imported; err == nil {
		t.Fatal("import survived its server process")
	}
	if killed != 1 {
		t.Fatalf("killed %d COPY processes, want 1", killed)
	}

	_, err = entries.ImportEntries(ctx, bank.ID, "curator", func(yield func(*vigil.Entry, error) bool) {
		for i := range 1000 {
			v := fmt.Sprintf("%032x", i)
			if i == 700 {
				v = "not a hash"
			}
			if !yield(&vigil.Entry{SignalType: vigil.SignalMD5, Value: v}, nil) {
				return
			}
		}
	})
	if vigil.ErrorCode(err) != vigil.EINVALID || !strings.Contains(err.Error(), "entry 701") {
		t.Fatalf("invalid entry: %v", err)
	}
	readErr := errors.New("read failed")
	_, err = entries.ImportEntries(ctx, bank.ID, "curator", func(yield func(*vigil.Entry, error) bool) {
		yield(&vigil.Entry{SignalType: vigil.SignalMD5, Value: fmt.Sprintf("%032x", 1)}, nil)
		yield(nil, readErr)
	})
	if !errors.Is(err, readErr) {
		t.Fatalf("read error: %v", err)
	}

	// Another replica's view: nothing of the three imports.
	other := MustOpen(t, url)
	b, err := postgres.NewBankService(other).FindBankByID(ctx, bank.ID)
	if err != nil {
		t.Fatal(err)
	}
	page, err := postgres.NewEntryService(other).FindEntries(ctx, vigil.EntryFilter{BankID: &bank.ID})
	if err != nil {
		t.Fatal(err)
	}
	if b.ActiveEntries != 0 || b.Version != 1 || len(page) != 0 {
		t.Fatalf("after failed imports: %d active, version %d, %d entries listed", b.ActiveEntries, b.Version, len(page))
	}
}

// TestImportList imports list files through banklist, as the API and the
// CLI do: a bad line fails the whole import and names the line.
func TestImportList(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	banks, entries := postgres.NewBankService(db), postgres.NewEntryService(db)
	b := &vigil.Bank{Name: "iwf", Enabled: true}
	if err := banks.CreateBank(ctx, b); err != nil {
		t.Fatal(err)
	}
	opt := banklist.Options{SignalType: vigil.SignalPDQ, Source: "iwf"}

	var list strings.Builder
	for i := range 1000 {
		fmt.Fprintf(&list, "%064x\n", i)
	}
	good := list.String()
	res, err := entries.ImportEntries(ctx, b.ID, "curator", banklist.NewReader(strings.NewReader(good), opt).All())
	if err != nil {
		t.Fatal(err)
	}
	if res.Added != 1000 {
		t.Fatalf("added %d, want 1000", res.Added)
	}

	bad := "# more\n" + fmt.Sprintf("%064x\n", 5000) + "not a hash\n"
	_, err = entries.ImportEntries(ctx, b.ID, "curator", banklist.NewReader(strings.NewReader(bad), opt).All())
	if vigil.ErrorCode(err) != vigil.EINVALID || !strings.HasPrefix(vigil.ErrorMessage(err), "line 3:") {
		t.Fatalf("bad list: %v", err)
	}
	after, err := banks.FindBankByID(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if after.ActiveEntries != 1000 || after.Version != res.Version {
		t.Errorf("bad list changed the bank: %d entries, version %d", after.ActiveEntries, after.Version)
	}

	// Export and import into another bank gives the same entries.
	var out strings.Builder
	w := banklist.NewWriter(&out)
	for f := (vigil.EntryFilter{BankID: &b.ID, Limit: 300}); ; {
		page, err := entries.FindEntries(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, e := range page {
			if err := w.Write(e); err != nil {
				t.Fatal(err)
			}
		}
		f.AfterID = page[len(page)-1].ID
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	copyBank := &vigil.Bank{Name: "copy"}
	if err := banks.CreateBank(ctx, copyBank); err != nil {
		t.Fatal(err)
	}
	res, err = entries.ImportEntries(ctx, copyBank.ID, "curator", banklist.NewReader(strings.NewReader(out.String()), banklist.Options{}).All())
	if err != nil || res.Added != 1000 {
		t.Fatalf("re-import of the export: %+v, %v", res, err)
	}
	page, err := entries.FindEntries(ctx, vigil.EntryFilter{BankID: &copyBank.ID, Value: ptr(fmt.Sprintf("%064x", 999))})
	if err != nil || len(page) != 1 || page[0].Source != "iwf" {
		t.Errorf("copied entry: %+v, %v", page, err)
	}
}

func ptr[T any](v T) *T { return &v }

// TestAuthDuringImport checks that authentication does not wait for a bulk
// import, which holds the write lock, to finish: the import below waits
// for the authentication, so waiting the other way round would hang. The
// key's use is recorded outside the write lock, so it is recorded even
// then.
func TestAuthDuringImport(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	keys := postgres.NewKeyService(db)
	secret, err := keys.CreateKey(ctx, &vigil.Key{Name: "k", Role: vigil.RoleMatcher})
	if err != nil {
		t.Fatal(err)
	}
	b := &vigil.Bank{Name: "b"}
	if err := postgres.NewBankService(db).CreateBank(ctx, b); err != nil {
		t.Fatal(err)
	}

	importing, authed := make(chan struct{}), make(chan struct{})
	imported := make(chan error, 1)
	go func() {
		_, err := postgres.NewEntryService(db).ImportEntries(ctx, b.ID, "slow upload", func(yield func(*vigil.Entry, error) bool) {
			yield(&vigil.Entry{SignalType: vigil.SignalMD5, Value: fmt.Sprintf("%032x", 1)}, nil)
			close(importing)
			<-authed
		})
		imported <- err
	}()
	<-importing
	k, err := keys.FindKeyBySecret(ctx, secret)
	if err != nil {
		t.Fatal(err)
	}
	close(authed)
	if err := <-imported; err != nil {
		t.Fatal(err)
	}
	if k.LastUsedAt == nil {
		t.Errorf("use not recorded during an import")
	}
}

// TestReadsDuringImportWithWriters queues writers behind a bulk import,
// which holds the write lock: reads (authentication) must still get a
// connection, not wait behind writers that each hold one.
func TestReadsDuringImportWithWriters(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	keys, banks := postgres.NewKeyService(db), postgres.NewBankService(db)
	secret, err := keys.CreateKey(ctx, &vigil.Key{Name: "k", Role: vigil.RoleMatcher})
	if err != nil {
		t.Fatal(err)
	}
	b := &vigil.Bank{Name: "b"}
	if err := banks.CreateBank(ctx, b); err != nil {
		t.Fatal(err)
	}
	importing, release := make(chan struct{}), make(chan struct{})
	imported := make(chan error, 1)
	go func() {
		_, err := postgres.NewEntryService(db).ImportEntries(ctx, b.ID, "slow upload", func(yield func(*vigil.Entry, error) bool) {
			yield(&vigil.Entry{SignalType: vigil.SignalMD5, Value: fmt.Sprintf("%032x", 1)}, nil)
			close(importing)
			<-release
		})
		imported <- err
	}()
	<-importing
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			if err := banks.CreateBank(ctx, &vigil.Bank{Name: fmt.Sprintf("w%d", i)}); err != nil {
				t.Error(err)
			}
		})
	}
	// The deadline only turns a hang into a failure.
	rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var readErr error
	for range 5 {
		if _, readErr = keys.FindKeyBySecret(rctx, secret); readErr != nil {
			break
		}
	}
	close(release)
	if readErr != nil {
		t.Fatalf("read while writers wait: %v", readErr)
	}
	if err := <-imported; err != nil {
		t.Fatal(err)
	}
	wg.Wait()
}

// TestSessionsTwoReplicas logs a reviewer in through replica A and finds
// the session through B, counts failed logins through both against one
// limit (at once, so that the counts must add up in the database), and
// ends the session through B for A.
func TestSessionsTwoReplicas(t *testing.T) {
	ctx := context.Background()
	url := MustSchemaURL(t)
	a, b := MustOpen(t, url), MustOpen(t, url)
	sa, sb := postgres.NewSessionService(a), postgres.NewSessionService(b)
	k := &vigil.Key{Name: "r", Role: vigil.RoleReviewer, CreatedBy: "test"}
	if _, err := postgres.NewKeyService(a).CreateKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	sess := &vigil.Session{ID: vigil.SessionID("token"), KeyID: k.ID}
	if err := sa.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	got, err := sb.FindSession(ctx, sess.ID)
	if err != nil || got.Key.ID != k.ID {
		t.Fatalf("session made through A, found through B: %+v %v", got, err)
	}
	if err := sb.CountDecision(ctx, sess.ID); err != nil {
		t.Fatal(err)
	}
	if got, err := sa.FindSession(ctx, sess.ID); err != nil || got.Decided != 1 {
		t.Fatalf("decision counted through B, read through A: %+v %v", got, err)
	}
	if err := sb.DeleteSession(ctx, sess.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := sa.FindSession(ctx, sess.ID); vigil.ErrorCode(err) != vigil.ENOTFOUND {
		t.Fatalf("session logged out through B, on A: %v", err)
	}

	var wg sync.WaitGroup
	for i := range vigil.LoginBurst - 1 {
		wg.Go(func() {
			s := sa
			if i%2 == 1 {
				s = sb
			}
			if err := s.LoginFailed(ctx, "192.0.2.7"); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for _, s := range []*postgres.SessionService{sa, sb} {
		if ok, _, err := s.LoginAllowed(ctx, "192.0.2.7"); err != nil || !ok {
			t.Fatalf("after %d failures: allowed %v, %v", vigil.LoginBurst-1, ok, err)
		}
	}
	if err := sb.LoginFailed(ctx, "192.0.2.7"); err != nil {
		t.Fatal(err)
	}
	for _, s := range []*postgres.SessionService{sa, sb} {
		if ok, wait, err := s.LoginAllowed(ctx, "192.0.2.7"); err != nil || ok || wait <= 0 {
			t.Fatalf("after %d failures through A and B: allowed %v, wait %v, %v; want refused on both", vigil.LoginBurst, ok, wait, err)
		}
	}
}

// TestLoadDoesNotBlockWriters holds replica B's index load half way, with
// its snapshot open: B reports its progress and refuses lookups, while
// replica A goes on adding, retracting and importing entries without
// waiting for B; once B's load completes it matches what A added meanwhile.
func TestLoadDoesNotBlockWriters(t *testing.T) {
	ctx := context.Background()
	url := MustSchemaURL(t)
	a, b := MustOpen(t, url), MustOpen(t, url)
	bank := &vigil.Bank{Name: "shared", Enabled: true}
	if err := postgres.NewBankService(a).CreateBank(ctx, bank); err != nil {
		t.Fatal(err)
	}
	ea := postgres.NewEntryService(a)
	if _, err := ea.ImportEntries(ctx, bank.ID, "test", pdqEntries(1, 200)); err != nil {
		t.Fatal(err)
	}
	store := pausedload.New(postgres.NewEntryService(b), 100, vigil.SignalPDQ)
	mb := matcher.New(postgres.NewBankService(b), store, slog.New(slog.DiscardHandler))
	done := make(chan error, 1)
	go func() { done <- mb.Load(ctx) }()
	<-store.Paused
	if l := mb.Status().Loading; l == nil || l.EntriesLoaded != 100 || l.EntriesTotal != 200 {
		t.Fatalf("B's progress: %+v, want 100 of 200", l)
	}
	if _, err := mb.Lookup(ctx, []vigil.Signal{{Type: vigil.SignalMD5, Value: strings.Repeat("0", 32)}}, vigil.MatchOptions{}); vigil.ErrorCode(err) != vigil.EUNAVAILABLE {
		t.Fatalf("lookup on B while loading: %v, want EUNAVAILABLE", err)
	}

	// A writes while B's snapshot is open; each write must finish on its
	// own, not wait for B (the test's deadline would end a wait for the
	// paused load, which never ends by itself).
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	const md5 = "0123456789abcdef0123456789abcdef"
	if _, err := ea.AddEntries(wctx, bank.ID, "test", []*vigil.Entry{{SignalType: vigil.SignalMD5, Value: md5}}); err != nil {
		t.Fatalf("add through A while B loads: %v", err)
	}
	if _, err := ea.ImportEntries(wctx, bank.ID, "test", pdqEntries(2, 50)); err != nil {
		t.Fatalf("import through A while B loads: %v", err)
	}
	pdqType := vigil.SignalPDQ
	first, err := ea.FindEntries(wctx, vigil.EntryFilter{BankID: &bank.ID, SignalType: &pdqType, Limit: 1})
	if err != nil || len(first) != 1 {
		t.Fatalf("find: %v", err)
	}
	if _, err := ea.RetractEntry(wctx, first[0].ID, "test", "test"); err != nil {
		t.Fatalf("retract through A while B loads: %v", err)
	}

	store.Release()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	st := mb.Status()
	if st.Loading != nil || st.Types[vigil.SignalPDQ].Entries != 249 || st.Types[vigil.SignalMD5].Entries != 1 {
		t.Fatalf("B after its load: loading %+v, %d pdq, %d md5; want 200+50-1 pdq and A's md5", st.Loading, st.Types[vigil.SignalPDQ].Entries, st.Types[vigil.SignalMD5].Entries)
	}
	res, err := mb.Lookup(ctx, []vigil.Signal{{Type: vigil.SignalMD5, Value: md5}}, vigil.MatchOptions{})
	if err != nil || len(res[0].Matches) != 1 {
		t.Fatalf("B matches A's entry added during the load: %+v %v", res, err)
	}
}

// TestConversationTwoReplicas appends to one conversation through two
// replicas at once: every update reads the state the other committed
// (the store's write lock makes each read-modify-write one step), so no
// message is lost. Conversation state lives only in the store.
func TestConversationTwoReplicas(t *testing.T) {
	ctx := context.Background()
	url := MustSchemaURL(t)
	replicas := []*postgres.ConversationService{postgres.NewConversationService(MustOpen(t, url)), postgres.NewConversationService(MustOpen(t, url))}
	const each = 10
	var wg sync.WaitGroup
	for _, cs := range replicas {
		for range each {
			wg.Go(func() {
				_, err := cs.UpdateConversation(ctx, "chat-1", time.Hour, func(c *vigil.Conversation) error {
					c.Messages++
					return nil
				})
				if err != nil {
					t.Error(err)
				}
			})
		}
	}
	wg.Wait()
	c, err := replicas[0].FindConversation(ctx, "chat-1")
	if err != nil || c.Messages != 2*each {
		t.Fatalf("after %d appends through each of two replicas: %+v %v", each, c, err)
	}
}
