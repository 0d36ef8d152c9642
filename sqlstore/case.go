package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-oss/vigil"
)

// Ensure CaseService implements the interfaces.
var (
	_ vigil.CaseService            = (*CaseService)(nil)
	_ vigil.ClassifierStatsService = (*CaseService)(nil)
	_ VerdictCounter               = (*CaseService)(nil)
)

// systemActor names Vigil itself in case histories, for what the store
// does on its own (automatic quarantine).
const systemActor = "vigil"

// CaseService stores review queues and cases, for both stores: the SQL is
// here, and what differs between the dialects is the store's CaseDialect.
type CaseService struct {
	db      DB
	dialect CaseDialect

	// Policy decides when decisions and new cases quarantine entries
	// automatically. The zero policy never does. Set it before use.
	Policy vigil.QuarantinePolicy

	// OnQuarantine, if set, is called after each automatic quarantine
	// has been committed (by OpenCase or DecideCase, in the caller's
	// goroutine), for example to log it. Its audit record is already
	// written, in the quarantine's own transaction.
	OnQuarantine func(ctx context.Context, q AutoQuarantine)
}

// CaseDialect is what the case service runs in the store's own form: the
// statements of OpenCase, which rules run at every match (SQLite's are
// prepared once and shaped so that SQLite keeps no statement journal for
// them; PostgreSQL's must not fail inside the transaction, which a failed
// statement ends there), and the grouped commit that cases opened at once
// share.
type CaseDialect interface {
	// WriteGrouped runs fn in a write transaction that writes made at
	// once may share (fn may run more than once: it sets its results
	// afresh).
	WriteGrouped(ctx context.Context, fn func(tx Querier) error) error
	// InsertCase inserts a case row into tx, a write transaction, with
	// the queue named queue and the other columns in row (CaseRow's
	// order), and returns its id; false, inserting nothing, when no queue
	// has that name or the row's dedup key is taken.
	InsertCase(ctx context.Context, tx Querier, queue string, row []any) (int64, bool, error)
	// CaseByKey returns the case whose dedup key is key (sql.ErrNoRows:
	// none), in tx.
	CaseByKey(ctx context.Context, tx Querier, key string) (*vigil.Case, error)
	// CountMatch counts a new case's match of an entry in tx: a row of
	// case_entries (at ts, under the spike check's content key) and one
	// more match in entry_stats, and returns the entry's matches now;
	// false, counting nothing, for an entry the store does not hold.
	CountMatch(ctx context.Context, tx Querier, caseID, entryID int64, ts string, key sql.NullString) (int64, bool, error)
	// SpikeEntry reads, in tx, the spike check's facts of an entry: when
	// it was added, its confirmations and false positives, and its
	// distinct content keys in case_entries since the later of start and
	// its last release.
	SpikeEntry(ctx context.Context, tx Querier, entryID int64, start string) *sql.Row
	// AddEvent appends an event to a case's history in tx, a write
	// transaction.
	AddEvent(ctx context.Context, tx Querier, caseID int64, ts, actor, kind, detail string) error
	// QuarantinedFrom is the FROM clause of the entries quarantined now,
	// entries as e, with the dialect's hint for the index that holds
	// only them.
	QuarantinedFrom() string
}

// AutoQuarantine describes an automatic quarantine: the entry, the case
// whose opening or decision caused it, and the policy's reason.
type AutoQuarantine struct {
	EntryID int64
	CaseID  int64
	Reason  string
}

// notify reports committed automatic quarantines to OnQuarantine.
func (s *CaseService) notify(ctx context.Context, qs []AutoQuarantine) {
	if s.OnQuarantine == nil {
		return
	}
	for _, q := range qs {
		s.OnQuarantine(ctx, q)
	}
}

// NewCaseService returns a CaseService on db, whose case statements are
// dialect's, with automatic quarantine off.
func NewCaseService(db DB, dialect CaseDialect) *CaseService {
	return &CaseService{db: db, dialect: dialect}
}

// CreateQueue stores a new queue.
func (s *CaseService) CreateQueue(ctx context.Context, q *vigil.Queue) error {
	if err := q.Validate(); err != nil {
		return err
	}
	roles := q.Roles
	if roles == nil {
		roles = []vigil.Role{}
	}
	rolesJSON, err := json.Marshal(roles)
	if err != nil {
		return fmt.Errorf("create queue %q: %w", q.Name, err)
	}
	now := s.db.Now()
	err = s.db.Write(ctx, func(tx Querier) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM queues WHERE name = ?`, q.Name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return vigil.Errorf(vigil.ECONFLICT, "queue %q already exists", q.Name)
		}
		return tx.QueryRowContext(ctx, `
			INSERT INTO queues (name, description, roles, created_at) VALUES (?, ?, ?, ?)
			RETURNING id`, q.Name, q.Description, string(rolesJSON), FormatTime(now)).Scan(&q.ID)
	})
	if err != nil {
		return fmt.Errorf("create queue %q: %w", q.Name, err)
	}
	q.CreatedAt = now
	return nil
}

const queueColumns = `id, name, description, roles, created_at`

func scanQueue(row Scanner) (*vigil.Queue, error) {
	var q vigil.Queue
	var roles, created string
	if err := row.Scan(&q.ID, &q.Name, &q.Description, &roles, &created); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(roles), &q.Roles); err != nil {
		return nil, fmt.Errorf("queue %d roles: %w", q.ID, err)
	}
	var err error
	q.CreatedAt, err = ParseTime(created)
	return &q, err
}

// FindQueue returns the queue with the given name.
func (s *CaseService) FindQueue(ctx context.Context, name string) (*vigil.Queue, error) {
	q, err := scanQueue(s.db.Reader().QueryRowContext(ctx, `SELECT `+queueColumns+` FROM queues WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, vigil.Errorf(vigil.ENOTFOUND, "queue %q not found", name)
	} else if err != nil {
		return nil, fmt.Errorf("find queue %q: %w", name, err)
	}
	return q, nil
}

// ListQueues returns all queues by name.
func (s *CaseService) ListQueues(ctx context.Context) ([]*vigil.Queue, error) {
	queues, err := QueryAll(ctx, s.db.Reader(), scanQueue, `SELECT `+queueColumns+` FROM queues ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list queues: %w", err)
	}
	return queues, nil
}

// QueueStats counts every queue's cases by state, with the oldest waiting
// case's opening time.
func (s *CaseService) QueueStats(ctx context.Context) ([]*vigil.QueueStats, error) {
	stats, err := QueryAll(ctx, s.db.Reader(), scanQueueStats, `
		SELECT q.name,
			COUNT(CASE WHEN c.state = 'open' THEN 1 END),
			COUNT(CASE WHEN c.state = 'assigned' THEN 1 END),
			COUNT(CASE WHEN c.state = 'escalated' THEN 1 END),
			COUNT(CASE WHEN c.state = 'decided' THEN 1 END),
			MIN(CASE WHEN c.state IN ('open', 'assigned') THEN c.created_at END)
		FROM queues q LEFT JOIN cases c ON c.queue_id = q.id
		GROUP BY q.id ORDER BY q.name`)
	if err != nil {
		return nil, fmt.Errorf("queue stats: %w", err)
	}
	return stats, nil
}

func scanQueueStats(row Scanner) (*vigil.QueueStats, error) {
	var st vigil.QueueStats
	var oldest sql.NullString
	err := row.Scan(&st.Queue, &st.Open, &st.Assigned, &st.Escalated, &st.Decided, &oldest)
	if err == nil {
		st.OldestWaiting, err = ParseNullTime(oldest)
	}
	return &st, err
}

// OpenCase stores a new case, counts a match for each entry it matched and
// applies the spike trigger of the quarantine policy; or, for a case whose
// Key is already taken, returns that case in c.
func (s *CaseService) OpenCase(ctx context.Context, c *vigil.Case, actor string) error {
	if err := ValidateActor("cases", actor); err != nil {
		return err
	}
	if err := c.Validate(); err != nil {
		return err
	}
	if c.RetainUntil.IsZero() {
		return vigil.Errorf(vigil.EINVALID, "a case needs a retention end")
	}
	content, err := json.Marshal(c.Content)
	if err != nil {
		return fmt.Errorf("open case: %w", err)
	}
	matches, err := nullJSON(c.Matches, len(c.Matches) > 0)
	if err != nil {
		return fmt.Errorf("open case: %w", err)
	}
	conversation, err := nullJSON(c.Conversation, c.Conversation != nil)
	if err != nil {
		return fmt.Errorf("open case: %w", err)
	}
	scores, err := nullJSON(c.Scores, len(c.Scores) > 0)
	if err != nil {
		return fmt.Errorf("open case: %w", err)
	}
	now := s.db.Now()
	ts := FormatTime(now)
	var quarantined []AutoQuarantine
	var existing *vigil.Case // the case already open for c.Key
	// Grouped: rules open a case at every match, and cases opened at once
	// share one commit (fn may run again alone; it resets its results).
	err = s.dialect.WriteGrouped(ctx, func(tx Querier) error {
		quarantined = nil
		existing = nil
		// The insert finds the queue and, through the unique dedup key,
		// does nothing when c.Key is taken: checked in the write
		// transaction, so that two callers acting on one detection at
		// once cannot both insert. Nothing inserted means one of the two,
		// told apart below off the common path.
		id, ok, err := s.dialect.InsertCase(ctx, tx, c.Queue, []any{
			c.Kind, vigil.CaseOpen, c.Priority, c.Rule, string(content), matches, conversation, scores,
			ts, ts, FormatTime(c.RetainUntil), sql.NullString{String: c.Key, Valid: c.Key != ""}})
		if err != nil {
			return err
		}
		if !ok {
			return s.notInserted(ctx, tx, c, &existing)
		}
		c.ID = id
		detail := ""
		if c.Rule != "" {
			detail = "rule " + c.Rule
		}
		if err := s.dialect.AddEvent(ctx, tx, c.ID, ts, actor, vigil.CaseEventOpened, detail); err != nil {
			return err
		}
		if err := countScores(ctx, tx, c.ID, c.Scores); err != nil {
			return err
		}
		key := SpikeKey(c.Content)
		for _, id := range caseEntryIDs(c.Matches) {
			// Entries the store does not hold (a forged or stale match)
			// are not counted.
			matched, held, err := s.dialect.CountMatch(ctx, tx, c.ID, id, ts, key)
			if err != nil {
				return fmt.Errorf("count match of entry %d: %w", id, err)
			}
			if !held {
				continue
			}
			q, err := s.CheckSpike(ctx, tx, c.ID, id, matched, now)
			if err != nil {
				return err
			}
			if q != nil {
				quarantined = append(quarantined, *q)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("open case: %w", err)
	}
	if existing != nil {
		existing.Key = c.Key
		*c = *existing
		return nil
	}
	s.notify(ctx, quarantined)
	c.State, c.AssignedTo, c.Decision = vigil.CaseOpen, "", nil
	c.CreatedAt, c.UpdatedAt = now, now
	c.RetainUntil = c.RetainUntil.UTC()
	return nil
}

// CaseRow is the column list of InsertCase's row, after queue_id.
const CaseRow = `kind, state, priority, rule, content, matches, conversation, scores,
	created_at, updated_at, retain_until, dedup_key`

// notInserted explains why InsertCase inserted nothing: c.Key is taken
// (the case is returned in existing, whatever its queue), or the queue
// does not exist.
func (s *CaseService) notInserted(ctx context.Context, tx Querier, c *vigil.Case, existing **vigil.Case) error {
	if c.Key != "" {
		found, err := s.dialect.CaseByKey(ctx, tx, c.Key)
		if err == nil {
			*existing = found
			return nil
		} else if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
	}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM queues WHERE name = ?`, c.Queue).Scan(&n); err != nil {
		return err
	} else if n == 0 {
		return vigil.Errorf(vigil.ENOTFOUND, "queue %q not found", c.Queue)
	}
	// A conflict on a key whose case the read above did not find: not
	// possible in one write transaction.
	return fmt.Errorf("case not inserted and its key %q not found", c.Key)
}

// caseEntryIDs returns the distinct entries of matches that review counts:
// those of positive banks. A negative bank's entry marks content as benign,
// so a verdict on the case says nothing about it.
func caseEntryIDs(matches []vigil.Match) []int64 {
	var ids []int64
	for _, m := range matches {
		if m.EntryID > 0 && !m.Negative {
			ids = append(ids, m.EntryID)
		}
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// SpikeKey names the content of a case for the spike trigger, which counts
// distinct content rather than cases: the trigger is there for a faulty
// entry, one that suddenly matches much different content (a hash of a
// blank image), and repeats of one file say nothing about that. Counting
// cases let anyone switch detection of a file off by uploading it SpikeMin
// times. Distinct (content, user) pairs would not do either: one file
// shared by many users is known material spreading, when matching it
// matters most, and a platform's user ids are cheap to make.
//
// The key is the content's SHA-256, lower-cased so that one digest is one
// key. Without one (a lookup of a PDQ hash alone) repeats cannot be told
// from new content, so the uploader stands for it: all of one user's
// unidentified content counts once. With neither the case is not counted
// (NULL, which COUNT(DISTINCT) skips): a spike the store cannot attribute
// must not be one an attacker can manufacture.
func SpikeKey(ref vigil.ContentRef) sql.NullString {
	switch {
	case ref.SHA256 != "":
		return sql.NullString{String: "sha256:" + strings.ToLower(ref.SHA256), Valid: true}
	case ref.UserID != "":
		return sql.NullString{String: "user:" + ref.UserID, Valid: true}
	}
	return sql.NullString{}
}

// CheckSpike applies the spike trigger, in tx (a write transaction), to an
// entry that case caseID just matched, the entry's matched-th match, and
// describes the quarantine if it made one (OpenCase runs it for each
// entry a new case counts). It counts the entry's distinct content
// (SpikeKey) in the window and before it.
func (s *CaseService) CheckSpike(ctx context.Context, tx Querier, caseID, entryID, matched int64, now time.Time) (*AutoQuarantine, error) {
	p := s.Policy
	if p.SpikeFactor <= 0 || p.Window <= 0 {
		return nil, nil
	}
	// The distinct content in the window is at most the entry's rows in
	// case_entries, and those at most its matches (counted with every row
	// since both were first written, never lowered): an entry matched
	// fewer times than the minimum cannot be spiking, and is not read.
	// Most of a large bank's entries are matched once or never.
	if matched < int64(max(p.SpikeMin, 1)) {
		return nil, nil
	}
	var addedAt string
	var recent, older int
	st := vigil.EntryStats{EntryID: entryID}
	start := FormatTime(now.Add(-p.Window))
	if err := s.dialect.SpikeEntry(ctx, tx, entryID, start).Scan(&addedAt, &st.Confirmed, &st.FalsePositives, &recent); err != nil {
		return nil, fmt.Errorf("spike check of entry %d: %w", entryID, err)
	}
	added, err := ParseTime(addedAt)
	if err != nil {
		return nil, err
	}
	// Under the minimum no history makes a spike: most openings stop here,
	// reading the window's rows of the index and not the entry's history.
	if recent < max(p.SpikeMin, 1) {
		return nil, nil
	}
	if err := tx.QueryRowContext(ctx, `
		SELECT COUNT(DISTINCT content_key) FROM case_entries WHERE entry_id = ? AND created_at <= ?`,
		entryID, start).Scan(&older); err != nil {
		return nil, fmt.Errorf("spike check of entry %d: %w", entryID, err)
	}
	reason, ok := p.SpikeTrigger(recent, older, max(now.Add(-p.Window).Sub(added), 0), &st)
	if !ok {
		return nil, nil
	}
	return s.autoQuarantine(ctx, tx, caseID, entryID, reason, now)
}

// checkFalsePositives applies the false-positive trigger to an entry that a
// decision on case caseID just counted a false positive against, and
// describes the quarantine if it made one.
func (s *CaseService) checkFalsePositives(ctx context.Context, tx Querier, caseID, entryID int64, now time.Time) (*AutoQuarantine, error) {
	if s.Policy.MinFalsePositives <= 0 {
		return nil, nil
	}
	var st vigil.EntryStats
	var atRelease int
	if err := tx.QueryRowContext(ctx, `
		SELECT confirmed, false_positives, fp_at_release FROM entry_stats WHERE entry_id = ?`, entryID,
	).Scan(&st.Confirmed, &st.FalsePositives, &atRelease); err != nil {
		return nil, fmt.Errorf("false positive check of entry %d: %w", entryID, err)
	}
	reason, ok := s.Policy.FalsePositiveTrigger(&st, st.FalsePositives-atRelease)
	if !ok {
		return nil, nil
	}
	return s.autoQuarantine(ctx, tx, caseID, entryID, reason, now)
}

// autoQuarantine quarantines an entry for the policy, unless it is already
// out of matching, and records it in the history of the case that tipped
// it over. It returns nil when it changed nothing.
func (s *CaseService) autoQuarantine(ctx context.Context, tx Querier, caseID, entryID int64, reason string, now time.Time) (*AutoQuarantine, error) {
	done, err := Quarantine(ctx, s.db, tx, entryID, reason, now, true)
	if err != nil || !done {
		return nil, err
	}
	if err := s.dialect.AddEvent(ctx, tx, caseID, FormatTime(now), systemActor, vigil.CaseEventQuarantined,
		fmt.Sprintf("entry %d: %s", entryID, reason)); err != nil {
		return nil, err
	}
	// Recorded as a curator's quarantine is, with Vigil as the actor, in
	// the transaction that makes it: the quarantine and its record commit
	// together or not at all.
	detail, err := json.Marshal(map[string]any{"automatic": true, "case_id": caseID, "reason": reason})
	if err != nil {
		return nil, err
	}
	rec := &vigil.AuditRecord{Actor: systemActor, Action: vigil.AuditEntryQuarantine,
		Target: "entry:" + strconv.FormatInt(entryID, 10), Detail: string(detail)}
	if err := AppendAudit(ctx, tx, now, rec); err != nil {
		return nil, fmt.Errorf("audit quarantine of entry %d: %w", entryID, err)
	}
	return &AutoQuarantine{EntryID: entryID, CaseID: caseID, Reason: reason}, nil
}

// Quarantine takes an entry out of matching in tx, a write transaction of
// db. It reports false, doing nothing, for an entry that is retracted or
// quarantined already when quiet is set, and returns ECONFLICT for it
// otherwise.
func Quarantine(ctx context.Context, db DB, tx Querier, id int64, reason string, now time.Time, quiet bool) (bool, error) {
	e, err := ScanEntry(tx.QueryRowContext(ctx, `SELECT `+EntryColumns+` FROM entries WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return false, vigil.Errorf(vigil.ENOTFOUND, "entry %d not found", id)
	} else if err != nil {
		return false, err
	}
	switch {
	case !e.Active() && quiet:
		return false, nil
	case e.Retracted():
		return false, vigil.Errorf(vigil.ECONFLICT, "entry %d is retracted", id)
	case e.Quarantined():
		return false, vigil.Errorf(vigil.ECONFLICT, "entry %d is already quarantined", id)
	}
	// A new change sequence number makes matchers following the change
	// feed drop the entry, as they do for a retraction.
	seq, err := db.NextSeq(ctx, tx, 1)
	if err != nil {
		return false, err
	}
	ts := FormatTime(now)
	if _, err := tx.ExecContext(ctx, `
		UPDATE entries SET quarantined_at = ?, quarantine_reason = ?, seq = ? WHERE id = ?`,
		ts, reason, seq, id); err != nil {
		return false, err
	}
	// A stats row makes the entry show in EntryStats even if no case
	// ever matched it.
	if _, err := tx.ExecContext(ctx, `
		INSERT INTO entry_stats (entry_id, bank_id) VALUES (?, ?) ON CONFLICT (entry_id) DO NOTHING`,
		id, e.BankID); err != nil {
		return false, err
	}
	if _, err := BumpBank(ctx, tx, e.BankID, 0, ts); err != nil {
		return false, err
	}
	return true, nil
}

// QuarantineEntry stops an entry matching and flags it for a curator.
func (s *CaseService) QuarantineEntry(ctx context.Context, id int64, reason string) error {
	if strings.TrimSpace(reason) == "" {
		return vigil.Errorf(vigil.EINVALID, "a quarantine needs a reason")
	} else if len(reason) > vigil.MaxRetractReasonLen {
		return vigil.Errorf(vigil.EINVALID, "quarantine reason longer than %d bytes", vigil.MaxRetractReasonLen)
	}
	now := s.db.Now()
	err := s.db.Write(ctx, func(tx Querier) error {
		_, err := Quarantine(ctx, s.db, tx, id, reason, now, false)
		return err
	})
	if err != nil {
		return fmt.Errorf("quarantine entry %d: %w", id, err)
	}
	return nil
}

// ReleaseEntry puts a quarantined entry back into matching. The automatic
// triggers count afresh from here, so the statistics that caused the
// quarantine do not cause it again at once.
func (s *CaseService) ReleaseEntry(ctx context.Context, id int64) error {
	now := FormatTime(s.db.Now())
	err := s.db.Write(ctx, func(tx Querier) error {
		e, err := ScanEntry(tx.QueryRowContext(ctx, `SELECT `+EntryColumns+` FROM entries WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return vigil.Errorf(vigil.ENOTFOUND, "entry %d not found", id)
		} else if err != nil {
			return err
		}
		if !e.Quarantined() {
			return vigil.Errorf(vigil.ECONFLICT, "entry %d is not quarantined", id)
		}
		seq, err := s.db.NextSeq(ctx, tx, 1)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `
			UPDATE entries SET quarantined_at = NULL, quarantine_reason = '', seq = ? WHERE id = ?`, seq, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO entry_stats (entry_id, bank_id, released_at) VALUES (?, ?, ?)
			ON CONFLICT (entry_id) DO UPDATE SET released_at = excluded.released_at, fp_at_release = entry_stats.false_positives`,
			id, e.BankID, now); err != nil {
			return err
		}
		_, err = BumpBank(ctx, tx, e.BankID, 0, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("release entry %d: %w", id, err)
	}
	return nil
}

// caseColumns are the columns ScanCase reads; the query joins queues as q.
const caseColumns = `c.id, q.name, c.kind, c.state, c.priority, c.rule, c.content, c.matches, c.conversation,
	c.assigned_to, c.decision, c.created_at, c.updated_at, c.retain_until, c.scores`

const caseFrom = ` FROM cases c JOIN queues q ON q.id = c.queue_id `

// CaseSelect is the SELECT list and FROM clause (cases c JOIN queues q)
// that ScanCase reads, without WHERE.
const CaseSelect = caseColumns + caseFrom

func ScanCase(row Scanner) (*vigil.Case, error) {
	var (
		c                                vigil.Case
		content, matches, conv, decision sql.NullString
		scores                           sql.NullString
		created, updated, retain         string
	)
	if err := row.Scan(&c.ID, &c.Queue, &c.Kind, &c.State, &c.Priority, &c.Rule, &content, &matches, &conv,
		&c.AssignedTo, &decision, &created, &updated, &retain, &scores); err != nil {
		return nil, err
	}
	for _, f := range []struct {
		name string
		s    sql.NullString
		v    any
	}{
		{"content", content, &c.Content},
		{"matches", matches, &c.Matches},
		{"conversation", conv, &c.Conversation},
		{"decision", decision, &c.Decision},
		{"scores", scores, &c.Scores},
	} {
		if !f.s.Valid {
			continue
		}
		if err := json.Unmarshal([]byte(f.s.String), f.v); err != nil {
			return nil, fmt.Errorf("case %d %s: %w", c.ID, f.name, err)
		}
	}
	var err error
	if c.CreatedAt, err = ParseTime(created); err != nil {
		return nil, err
	}
	if c.UpdatedAt, err = ParseTime(updated); err != nil {
		return nil, err
	}
	if c.RetainUntil, err = ParseTime(retain); err != nil {
		return nil, err
	}
	return &c, nil
}

// FindCase returns a case read with q, or ENOTFOUND.
func FindCase(ctx context.Context, q Querier, id int64) (*vigil.Case, error) {
	c, err := ScanCase(q.QueryRowContext(ctx, `SELECT `+caseColumns+caseFrom+`WHERE c.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, vigil.Errorf(vigil.ENOTFOUND, "case %d not found", id)
	}
	return c, err
}

// FindCase returns the case with the given id.
func (s *CaseService) FindCase(ctx context.Context, id int64) (*vigil.Case, error) {
	c, err := FindCase(ctx, s.db.Reader(), id)
	if err != nil {
		return nil, fmt.Errorf("find case %d: %w", id, err)
	}
	return c, nil
}

// NextCase returns the next waiting case of a queue for reviewer, in
// priority order (highest first, then oldest by id).
func (s *CaseService) NextCase(ctx context.Context, queue, reviewer string, after int64) (*vigil.Case, error) {
	const waiting = `WHERE q.name = ? AND c.id <> ? AND (c.state = 'open' OR (c.state = 'assigned' AND c.assigned_to = ?)) `
	const order = `ORDER BY c.priority DESC, c.id LIMIT 1`
	args := []any{queue, after, reviewer}
	var prio int
	err := s.db.Reader().QueryRowContext(ctx, `SELECT priority FROM cases WHERE id = ?`, after).Scan(&prio)
	switch {
	case err == nil:
		// The case after the current one in priority order, if any.
		c, err := ScanCase(s.db.Reader().QueryRowContext(ctx, `SELECT `+caseColumns+caseFrom+waiting+
			`AND (c.priority < ? OR (c.priority = ? AND c.id > ?)) `+order, append(args, prio, prio, after)...))
		if err == nil {
			return c, nil
		} else if !errors.Is(err, sql.ErrNoRows) {
			return nil, fmt.Errorf("next case in %q: %w", queue, err)
		}
	case !errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("next case in %q: %w", queue, err)
	}
	// From the top (also the wrap round from the last).
	c, err := ScanCase(s.db.Reader().QueryRowContext(ctx, `SELECT `+caseColumns+caseFrom+waiting+order, args...))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, vigil.Errorf(vigil.ENOTFOUND, "no case waits in queue %q", queue)
	} else if err != nil {
		return nil, fmt.Errorf("next case in %q: %w", queue, err)
	}
	return c, nil
}

// ListCases returns a page of cases in id order.
func (s *CaseService) ListCases(ctx context.Context, f vigil.CaseFilter) ([]*vigil.Case, error) {
	where, args := []string{"c.id > ?"}, []any{f.AfterID}
	if len(f.Queues) > 0 {
		where = append(where, "q.name IN ("+Placeholders(len(f.Queues))+")")
		for _, q := range f.Queues {
			args = append(args, q)
		}
	}
	if len(f.States) > 0 {
		where = append(where, "c.state IN ("+Placeholders(len(f.States))+")")
		for _, st := range f.States {
			args = append(args, st)
		}
	}
	if f.AssignedTo != "" {
		where, args = append(where, "c.assigned_to = ?"), append(args, f.AssignedTo)
	}
	limit := f.Limit
	if limit <= 0 {
		limit = vigil.DefaultCaseLimit
	}
	args = append(args, min(limit, vigil.MaxCaseLimit))
	cases, err := QueryAll(ctx, s.db.Reader(), ScanCase, `SELECT `+caseColumns+caseFrom+
		`WHERE `+strings.Join(where, " AND ")+` ORDER BY c.id LIMIT ?`, args...)
	if err != nil {
		return nil, fmt.Errorf("list cases: %w", err)
	}
	return cases, nil
}

// AssignCase assigns a case to a reviewer, or unassigns it when to is
// empty. A decided case cannot be assigned; an escalated one can (to the
// senior who will decide it) and stays escalated.
func (s *CaseService) AssignCase(ctx context.Context, id int64, to, actor string) (*vigil.Case, error) {
	if err := ValidateActor("cases", actor); err != nil {
		return nil, err
	}
	if len(to) > vigil.MaxEntryFieldLen {
		return nil, vigil.Errorf(vigil.EINVALID, "assignee name longer than %d bytes", vigil.MaxEntryFieldLen)
	}
	var c *vigil.Case
	err := s.db.Write(ctx, func(tx Querier) error {
		var err error
		if c, err = FindCase(ctx, tx, id); err != nil {
			return err
		}
		switch c.State {
		case vigil.CaseDecided:
			return vigil.Errorf(vigil.ECONFLICT, "case %d is already decided", id)
		case vigil.CaseOpen, vigil.CaseAssigned:
			c.State = vigil.CaseAssigned
			if to == "" {
				c.State = vigil.CaseOpen
			}
		}
		c.AssignedTo, c.UpdatedAt = to, s.db.Now()
		ts := FormatTime(c.UpdatedAt)
		if _, err := tx.ExecContext(ctx, `UPDATE cases SET state = ?, assigned_to = ?, updated_at = ? WHERE id = ?`,
			c.State, to, ts, id); err != nil {
			return err
		}
		detail := "unassigned"
		if to != "" {
			detail = "to " + to
		}
		return AddCaseEvent(ctx, tx, id, ts, actor, vigil.CaseEventAssigned, detail)
	})
	if err != nil {
		return nil, fmt.Errorf("assign case %d: %w", id, err)
	}
	return c, nil
}

// AddCaseEvent records a note or a reveal in a case's history. The other
// kinds are recorded by the calls that make the change, so that a history
// cannot claim a decision or assignment that did not happen.
func (s *CaseService) AddCaseEvent(ctx context.Context, ev *vigil.CaseEvent) error {
	if err := ValidateActor("cases", ev.Actor); err != nil {
		return err
	}
	switch ev.Kind {
	case vigil.CaseEventNote, vigil.CaseEventRevealed:
	default:
		return vigil.Errorf(vigil.EINVALID, "case event kind must be %q or %q", vigil.CaseEventNote, vigil.CaseEventRevealed)
	}
	if len(ev.Detail) > vigil.MaxCaseNoteLen {
		return vigil.Errorf(vigil.EINVALID, "case note longer than %d bytes", vigil.MaxCaseNoteLen)
	}
	if ev.Kind == vigil.CaseEventNote && strings.TrimSpace(ev.Detail) == "" {
		return vigil.Errorf(vigil.EINVALID, "a note needs text")
	}
	now := s.db.Now()
	err := s.db.Write(ctx, func(tx Querier) error {
		res, err := tx.ExecContext(ctx, `UPDATE cases SET updated_at = ? WHERE id = ?`, FormatTime(now), ev.CaseID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return vigil.Errorf(vigil.ENOTFOUND, "case %d not found", ev.CaseID)
		}
		return tx.QueryRowContext(ctx, `
			INSERT INTO case_events (case_id, time, actor, kind, detail) VALUES (?, ?, ?, ?, ?)
			RETURNING id`, ev.CaseID, FormatTime(now), ev.Actor, ev.Kind, ev.Detail).Scan(&ev.ID)
	})
	if err != nil {
		return fmt.Errorf("add event to case %d: %w", ev.CaseID, err)
	}
	ev.Time = now
	return nil
}

// AddCaseEvent appends an event to a case's history in tx, a write
// transaction.
func AddCaseEvent(ctx context.Context, tx Querier, caseID int64, ts, actor, kind, detail string) error {
	if _, err := tx.ExecContext(ctx, SQLAddCaseEvent, caseID, ts, actor, kind, detail); err != nil {
		return fmt.Errorf("add %s event: %w", kind, err)
	}
	return nil
}

// SQLAddCaseEvent is AddCaseEvent's statement.
const SQLAddCaseEvent = `INSERT INTO case_events (case_id, time, actor, kind, detail) VALUES (?, ?, ?, ?, ?)`

// CaseHistory returns a case's events, oldest first.
func (s *CaseService) CaseHistory(ctx context.Context, id int64) ([]*vigil.CaseEvent, error) {
	var events []*vigil.CaseEvent
	err := s.db.Read(ctx, func(tx Querier) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM cases WHERE id = ?`, id).Scan(&n); err != nil {
			return err
		} else if n == 0 {
			return vigil.Errorf(vigil.ENOTFOUND, "case %d not found", id)
		}
		var err error
		events, err = QueryAll(ctx, tx, scanCaseEvent, `
			SELECT id, case_id, time, actor, kind, detail FROM case_events WHERE case_id = ? ORDER BY id`, id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("case %d history: %w", id, err)
	}
	return events, nil
}

func scanCaseEvent(row Scanner) (*vigil.CaseEvent, error) {
	var ev vigil.CaseEvent
	var ts string
	err := row.Scan(&ev.ID, &ev.CaseID, &ts, &ev.Actor, &ev.Kind, &ev.Detail)
	if err == nil {
		ev.Time, err = ParseTime(ts)
	}
	return &ev, err
}

// DecideCase records a decision, counts it against the case's entries and
// applies the false-positive trigger of the quarantine policy.
func (s *CaseService) DecideCase(ctx context.Context, id int64, d vigil.Decision) (*vigil.Case, error) {
	if err := d.Validate(); err != nil {
		return nil, err
	}
	now := s.db.Now()
	d.DecidedAt = now
	decision, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("decide case %d: %w", id, err)
	}
	var c *vigil.Case
	var quarantined []AutoQuarantine
	err = s.db.Write(ctx, func(tx Querier) error {
		quarantined = nil
		var err error
		if c, err = FindCase(ctx, tx, id); err != nil {
			return err
		}
		switch {
		case c.State == vigil.CaseDecided:
			return vigil.Errorf(vigil.ECONFLICT, "case %d is already decided", id)
		case c.State == vigil.CaseEscalated && d.Verdict == vigil.VerdictEscalate:
			return vigil.Errorf(vigil.ECONFLICT, "case %d is already escalated", id)
		}
		c.State = vigil.CaseDecided
		if d.Verdict == vigil.VerdictEscalate {
			c.State = vigil.CaseEscalated
		}
		c.Decision, c.UpdatedAt = &d, now
		ts := FormatTime(now)
		// review_verdict and decided_at are what the transparency figures
		// and notices read (migration 00020); an escalation is no verdict.
		verdict, decidedAt := sql.NullString{}, sql.NullString{}
		if d.Verdict != vigil.VerdictEscalate {
			verdict, decidedAt = sql.NullString{String: string(d.Verdict), Valid: true}, sql.NullString{String: ts, Valid: true}
		}
		// A confirmation is an action on the user's content: its notice
		// falls due (notice.go).
		noticeDue := sql.NullString{String: ts, Valid: d.Verdict == vigil.VerdictConfirmed}
		if _, err := tx.ExecContext(ctx, `UPDATE cases SET state = ?, decision = ?, updated_at = ?, review_verdict = ?, decided_at = ?, notice_due = ? WHERE id = ?`,
			c.State, string(decision), ts, verdict, decidedAt, noticeDue, id); err != nil {
			return err
		}
		detail := string(d.Verdict)
		if d.Category != "" {
			detail += " (" + d.Category + ")"
		}
		if d.Notes != "" {
			detail += ": " + d.Notes
		}
		if err := AddCaseEvent(ctx, tx, id, ts, d.DecidedBy, vigil.CaseEventDecided, detail); err != nil {
			return err
		}
		if d.Verdict == vigil.VerdictEscalate {
			return nil // an escalation says nothing about the entries yet
		}
		q, err := s.countVerdict(ctx, tx, id, d.Verdict, 1, now)
		quarantined = q
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("decide case %d: %w", id, err)
	}
	s.notify(ctx, quarantined)
	return c, nil
}

// countVerdict counts a verdict (confirmed or false positive) on case id
// against the classifier bands and entries it held: delta 1 for a
// decision, -1 to take a confirmation back when a complaint against it is
// upheld (the complaint then counts the false positive with delta 1, in
// the same transaction). A false positive counted may quarantine entries;
// they are returned for notify.
func (s *CaseService) countVerdict(ctx context.Context, tx Querier, id int64, verdict vigil.Verdict, delta int, now time.Time) ([]AutoQuarantine, error) {
	var column string
	switch verdict {
	case vigil.VerdictConfirmed:
		column = "confirmed"
	case vigil.VerdictFalsePositive:
		column = "false_positives"
	default:
		return nil, fmt.Errorf("count verdict %q: not a verdict on entries", verdict)
	}
	if _, err := tx.ExecContext(ctx, `
		UPDATE classifier_stats SET `+column+` = `+column+` + ?
		WHERE (classifier, label, band) IN (SELECT classifier, label, band FROM case_scores WHERE case_id = ?)`, delta, id); err != nil {
		return nil, fmt.Errorf("count decision against classifier scores: %w", err)
	}
	if delta > 0 {
		if _, err := tx.ExecContext(ctx, `UPDATE case_scores SET verdict = ?, decided_at = ? WHERE case_id = ?`,
			string(verdict), FormatTime(now), id); err != nil {
			return nil, fmt.Errorf("count decision against classifier scores: %w", err)
		}
	}
	entries, err := caseEntries(ctx, tx, id)
	if err != nil {
		return nil, err
	}
	var quarantined []AutoQuarantine
	for _, e := range entries {
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO entry_stats (entry_id, bank_id, `+column+`) VALUES (?, ?, ?)
			ON CONFLICT (entry_id) DO UPDATE SET `+column+` = entry_stats.`+column+` + ?`, e[0], e[1], max(delta, 0), delta); err != nil {
			return nil, fmt.Errorf("count decision against entry %d: %w", e[0], err)
		}
		if verdict == vigil.VerdictFalsePositive && delta > 0 {
			q, err := s.checkFalsePositives(ctx, tx, id, e[0], now)
			if err != nil {
				return nil, err
			}
			if q != nil {
				quarantined = append(quarantined, *q)
			}
		}
	}
	return quarantined, nil
}

// CountVerdict is countVerdict as an upheld complaint counts through it
// (VerdictCounter): what it returns tells OnQuarantine of the entries it
// quarantined, once tx has committed.
func (s *CaseService) CountVerdict(ctx context.Context, tx Querier, id int64, verdict vigil.Verdict, delta int, now time.Time) (func(context.Context), error) {
	qs, err := s.countVerdict(ctx, tx, id, verdict, delta, now)
	return func(ctx context.Context) { s.notify(ctx, qs) }, err
}

// caseEntries returns the (entry id, bank id) pairs a case matched.
func caseEntries(ctx context.Context, tx Querier, caseID int64) ([][2]int64, error) {
	return QueryAll(ctx, tx, func(row Scanner) ([2]int64, error) {
		var e [2]int64
		err := row.Scan(&e[0], &e[1])
		return e, err
	}, `SELECT entry_id, bank_id FROM case_entries WHERE case_id = ? ORDER BY entry_id`, caseID)
}

// EntryStats returns the review statistics of entries.
func (s *CaseService) EntryStats(ctx context.Context, ids []int64) ([]*vigil.EntryStats, error) {
	if len(ids) > vigil.MaxEntryStatsIDs {
		return nil, vigil.Errorf(vigil.ETOOLARGE, "at most %d entry ids at once", vigil.MaxEntryStatsIDs)
	}
	query := `SELECT e.id, e.bank_id, COALESCE(s.confirmed, 0), COALESCE(s.false_positives, 0),
			COALESCE(s.matches, 0), e.quarantined_at, e.quarantine_reason
		FROM entry_stats s JOIN entries e ON e.id = s.entry_id ORDER BY e.id`
	var args []any
	if len(ids) > 0 {
		query = `SELECT e.id, e.bank_id, COALESCE(s.confirmed, 0), COALESCE(s.false_positives, 0),
				COALESCE(s.matches, 0), e.quarantined_at, e.quarantine_reason
			FROM entries e LEFT JOIN entry_stats s ON s.entry_id = e.id
			WHERE e.id IN (` + Placeholders(len(ids)) + `) ORDER BY e.id`
		for _, id := range ids {
			args = append(args, id)
		}
	}
	stats, err := QueryAll(ctx, s.db.Reader(), scanEntryStats, query, args...)
	if err != nil {
		return nil, fmt.Errorf("entry stats: %w", err)
	}
	return stats, nil
}

// QuarantinedEntries returns a page of the statistics of the entries
// quarantined now. The entries_quarantined index holds only them, so the
// page costs no scan of the bank entries or their statistics.
func (s *CaseService) QuarantinedEntries(ctx context.Context, afterID int64, limit int) ([]*vigil.EntryStats, error) {
	if limit <= 0 {
		limit = vigil.DefaultEntryLimit
	}
	stats, err := QueryAll(ctx, s.db.Reader(), scanEntryStats, `
		SELECT e.id, e.bank_id, COALESCE(s.confirmed, 0), COALESCE(s.false_positives, 0),
			COALESCE(s.matches, 0), e.quarantined_at, e.quarantine_reason
		FROM `+s.dialect.QuarantinedFrom()+` LEFT JOIN entry_stats s ON s.entry_id = e.id
		WHERE e.quarantined_at IS NOT NULL AND e.id > ? ORDER BY e.id LIMIT ?`,
		afterID, min(limit, vigil.MaxEntryLimit))
	if err != nil {
		return nil, fmt.Errorf("quarantined entries: %w", err)
	}
	return stats, nil
}

func scanEntryStats(row Scanner) (*vigil.EntryStats, error) {
	var st vigil.EntryStats
	var quarantined sql.NullString
	err := row.Scan(&st.EntryID, &st.BankID, &st.Confirmed, &st.FalsePositives, &st.Matches, &quarantined, &st.Quarantine)
	if err == nil {
		st.QuarantinedAt, err = ParseNullTime(quarantined)
	}
	return &st, err
}

// BankPrecision returns the review statistics of every bank with any.
func (s *CaseService) BankPrecision(ctx context.Context) ([]*vigil.BankStats, error) {
	stats, err := QueryAll(ctx, s.db.Reader(), func(row Scanner) (*vigil.BankStats, error) {
		var st vigil.BankStats
		err := row.Scan(&st.BankID, &st.Bank, &st.Confirmed, &st.FalsePositives, &st.Matches, &st.Quarantined)
		return &st, err
	}, `
		SELECT b.id, b.name, CAST(SUM(s.confirmed) AS BIGINT), CAST(SUM(s.false_positives) AS BIGINT),
			CAST(SUM(s.matches) AS BIGINT), COUNT(e.quarantined_at)
		FROM entry_stats s JOIN entries e ON e.id = s.entry_id JOIN banks b ON b.id = e.bank_id
		GROUP BY b.id ORDER BY b.id`)
	if err != nil {
		return nil, fmt.Errorf("bank precision: %w", err)
	}
	return stats, nil
}

// ExpiredCases returns cases past their retention that still hold
// evidence, the longest expired first. Retention applies whatever the
// case's state: an undecided case loses its evidence too. Preservation
// comes first: a case in an incident not yet purged, or under an active
// hold, is not expired (PreservedCase), so the evidence an unsent or
// recently submitted report needs is never deleted.
//
// Cases opened from one upload share its media blob. A case whose blob
// another case still keeps (within its retention, or preserved) holds
// comes back with an empty MediaID, so that the retention pass leaves the
// blob to the last of them.
func (s *CaseService) ExpiredCases(ctx context.Context, limit int) ([]*vigil.Case, error) {
	if limit <= 0 {
		limit = vigil.DefaultCaseLimit
	}
	now := FormatTime(s.db.Now())
	var cases []*vigil.Case
	err := s.db.Read(ctx, func(tx Querier) error {
		var err error
		cases, err = QueryAll(ctx, tx, ScanCase, `SELECT `+caseColumns+caseFrom+`
			WHERE c.purged_at IS NULL AND c.retain_until <= ? AND NOT `+PreservedCase+`
			ORDER BY c.retain_until, c.id LIMIT ?`,
			now, now, min(limit, vigil.MaxCaseLimit))
		if err != nil {
			return err
		}
		for _, c := range cases {
			if c.Content.MediaID == "" {
				continue
			}
			// The expression is the index's, so the index serves it.
			var n int
			if err := tx.QueryRowContext(ctx, `
				SELECT COUNT(*) FROM cases c
				WHERE `+s.db.JSONText("c.content", "media_id")+` = ? AND c.purged_at IS NULL AND (c.retain_until > ? OR `+PreservedCase+`)`,
				c.Content.MediaID, now, now).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				c.Content.MediaID = ""
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("expired cases: %w", err)
	}
	return cases, nil
}

// PurgeCase deletes a case's evidence: its matches, the messages of its
// conversation and its media id. The case keeps its queue, state,
// decision, platform ids and history, which transparency figures count.
// Purging a purged case does nothing. A case preservation keeps (in an
// incident not yet purged, or held) is refused with ECONFLICT, checked in
// the purge's own transaction: a hold made after ExpiredCases read the
// case still wins.
func (s *CaseService) PurgeCase(ctx context.Context, id int64) error {
	now := s.db.Now()
	err := s.db.Write(ctx, func(tx Querier) error {
		var purged sql.NullString
		if err := tx.QueryRowContext(ctx, `SELECT purged_at FROM cases WHERE id = ?`, id).Scan(&purged); errors.Is(err, sql.ErrNoRows) {
			return vigil.Errorf(vigil.ENOTFOUND, "case %d not found", id)
		} else if err != nil {
			return err
		}
		if purged.Valid {
			return nil
		}
		var preserved bool
		if err := tx.QueryRowContext(ctx, `SELECT `+PreservedCase+` FROM cases c WHERE c.id = ?`, FormatTime(now), id).Scan(&preserved); err != nil {
			return err
		}
		if preserved {
			return vigil.Errorf(vigil.ECONFLICT, "case %d is kept: it is in an incident within its retention, or under a legal hold", id)
		}
		c, err := FindCase(ctx, tx, id)
		if err != nil {
			return err
		}
		c.Content.MediaID = ""
		content, err := json.Marshal(c.Content)
		if err != nil {
			return err
		}
		if c.Conversation != nil {
			c.Conversation.Messages = nil
		}
		conversation, err := nullJSON(c.Conversation, c.Conversation != nil)
		if err != nil {
			return err
		}
		ts := FormatTime(now)
		if _, err := tx.ExecContext(ctx, `
			UPDATE cases SET content = ?, matches = NULL, scores = NULL, conversation = ?, purged_at = ?, updated_at = ?,
				dedup_key = NULL
			WHERE id = ?`, string(content), conversation, ts, ts, id); err != nil {
			return err
		}
		return AddCaseEvent(ctx, tx, id, ts, systemActor, vigil.CaseEventExpired, "retention ended; evidence deleted")
	})
	if err != nil {
		return fmt.Errorf("purge case %d: %w", id, err)
	}
	return nil
}

// MediaInUse reports whether a case not yet purged holds a media blob.
func (s *CaseService) MediaInUse(ctx context.Context, mediaID string) (bool, error) {
	var inUse bool
	// The expression is the cases_media_id index's, so the index serves it.
	err := s.db.Reader().QueryRowContext(ctx, `
		SELECT EXISTS (SELECT 1 FROM cases WHERE `+s.db.JSONText("content", "media_id")+` = ? AND purged_at IS NULL)`,
		mediaID).Scan(&inUse)
	if err != nil {
		return false, fmt.Errorf("media %s in use: %w", mediaID, err)
	}
	return inUse, nil
}

// nullJSON returns v as JSON text, or NULL when present is false.
func nullJSON(v any, present bool) (sql.NullString, error) {
	if !present {
		return sql.NullString{}, nil
	}
	b, err := json.Marshal(v)
	if err != nil {
		return sql.NullString{}, err
	}
	return sql.NullString{String: string(b), Valid: true}, nil
}

// countScores records the classifier labels a new case holds, each in the
// band of its score, so that decisions on the case count towards each
// classifier's precision per band. A label scored twice (two signals of
// one content) counts once, at its highest score.
func countScores(ctx context.Context, tx Querier, caseID int64, scores []vigil.ClassifierScore) error {
	best := map[[2]string]float64{}
	var order [][2]string
	for _, sc := range scores {
		k := [2]string{sc.Classifier, sc.Label}
		if v, ok := best[k]; !ok {
			order = append(order, k)
			best[k] = sc.Score
		} else if sc.Score > v {
			best[k] = sc.Score
		}
	}
	for _, k := range order {
		band := vigil.ScoreBand(best[k])
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO case_scores (case_id, classifier, label, band) VALUES (?, ?, ?, ?)`, caseID, k[0], k[1], band); err != nil {
			return fmt.Errorf("count classifier score: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO classifier_stats (classifier, label, band, cases) VALUES (?, ?, ?, 1)
			ON CONFLICT (classifier, label, band) DO UPDATE SET cases = classifier_stats.cases + 1`, k[0], k[1], band); err != nil {
			return fmt.Errorf("count classifier score: %w", err)
		}
	}
	return nil
}

// ClassifierStats returns the review statistics of every classifier label
// and score band that has any: all of them, from the counters, or with
// since set, the decisions made since then (and no case counts).
func (s *CaseService) ClassifierStats(ctx context.Context, since time.Time) ([]*vigil.ClassifierBandStats, error) {
	query, args := `SELECT classifier, label, band, cases, confirmed, false_positives FROM classifier_stats
		ORDER BY classifier, label, band`, []any(nil)
	if !since.IsZero() {
		query = `SELECT classifier, label, band, 0,
				SUM(CASE WHEN verdict = 'confirmed' THEN 1 ELSE 0 END),
				SUM(CASE WHEN verdict = 'false_positive' THEN 1 ELSE 0 END)
			FROM case_scores WHERE decided_at >= ?
			GROUP BY classifier, label, band ORDER BY classifier, label, band`
		args = []any{FormatTime(since)}
	}
	out, err := QueryAll(ctx, s.db.Reader(), func(row Scanner) (*vigil.ClassifierBandStats, error) {
		var st vigil.ClassifierBandStats
		err := row.Scan(&st.Classifier, &st.Label, &st.Band, &st.Cases, &st.Confirmed, &st.FalsePositives)
		st.MinScore = float64(st.Band) / vigil.ScoreBands
		return &st, err
	}, query, args...)
	if err != nil {
		return nil, fmt.Errorf("classifier stats: %w", err)
	}
	return out, nil
}

// Ensure CaseService keeps classifier states.
var _ vigil.ClassifierStateService = (*CaseService)(nil)

// ClassifierStates implements vigil.ClassifierStateService.
func (s *CaseService) ClassifierStates(ctx context.Context) ([]*vigil.ClassifierState, error) {
	return NewClassifierStateService(s.db).ClassifierStates(ctx)
}

// SetClassifierState implements vigil.ClassifierStateService.
func (s *CaseService) SetClassifierState(ctx context.Context, st *vigil.ClassifierState) error {
	return NewClassifierStateService(s.db).SetClassifierState(ctx, st)
}
