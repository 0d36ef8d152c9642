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

	"github.com/vigil-oss/vigil"
)

// Ensure the services implement their interfaces.
var (
	_ vigil.FeedService         = (*FeedService)(nil)
	_ vigil.SubscriptionService = (*FeedService)(nil)
)

// FeedService stores published feeds and subscriptions.
type FeedService struct {
	db     DB
	addRun FeedAddRun

	// Policy's false-positive trigger quarantines a feed's entry from its
	// subscribers' feedback alone (summed over them), once at least two
	// subscribers report false positives on it, so that one subscriber's
	// key cannot take entries out of everyone's matching; the quarantine
	// reaches every subscriber as a retraction. An entry a curator has
	// released is left to the curator. Zero: feedback quarantines nothing.
	Policy vigil.QuarantinePolicy
}

// NewFeedService returns a FeedService on db. addRun, if not nil, is the
// store's set-based way of applying a run of additions (FeedAddRun);
// without it every change is applied by itself.
func NewFeedService(db DB, addRun FeedAddRun) *FeedService {
	return &FeedService{db: db, addRun: addRun}
}

// FeedAddRun applies run, the additions changes[r.Start:r.Start+len(run)]
// of a batch, in a few statements, with the outcome of applying them one
// by one: a store's fast path (PostgreSQL's arrays, where each statement
// is a round trip), called in the batch's write transaction r.Tx.
type FeedAddRun func(ctx context.Context, r *FeedRun, run []vigil.FeedChange) error

// FeedRun is what a FeedAddRun needs of the batch it applies, and what it
// counts.
type FeedRun struct {
	Tx  Querier
	Sub *vigil.Subscription
	// By is the entries' AddedBy; Now the stored time of the batch.
	By, Now string
	// Seq is the batch's first change sequence: change i has Seq+i.
	Seq int64
	// Start is the index of the run's first change in its batch.
	Start int

	// Added and Dups count the entries the run added and the duplicates.
	Added, Dups int
}

const feedColumns = `id, name, banks, verifier_key, cursor, size, head, meta, created_at`

func scanFeed(row Scanner) (*vigil.Feed, error) {
	var f vigil.Feed
	var banks, meta, created string
	if err := row.Scan(&f.ID, &f.Name, &banks, &f.VerifierKey, &f.Cursor, &f.Size, &f.Head, &meta, &created); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(banks), &f.Banks); err != nil {
		return nil, fmt.Errorf("feed %d banks: %w", f.ID, err)
	}
	if err := json.Unmarshal([]byte(meta), &f.Meta); err != nil {
		return nil, fmt.Errorf("feed %d meta: %w", f.ID, err)
	}
	var err error
	f.CreatedAt, err = ParseTime(created)
	return &f, err
}

// CreateFeed stores a new, empty feed.
func (s *FeedService) CreateFeed(ctx context.Context, f *vigil.Feed) error {
	if err := vigil.ValidateBankName(f.Name); err != nil {
		return vigil.Errorf(vigil.EINVALID, "feed name: %s", vigil.ErrorMessage(err))
	}
	if len(f.Banks) == 0 || len(f.Banks) > vigil.MaxFeedBanks {
		return vigil.Errorf(vigil.EINVALID, "a feed publishes 1 to %d banks", vigil.MaxFeedBanks)
	}
	if f.VerifierKey == "" || len(f.VerifierKey) > vigil.MaxFeedKeyLen || !vigil.Printable(f.VerifierKey) {
		return vigil.Errorf(vigil.EINVALID, "feed needs a verifier key of at most %d bytes", vigil.MaxFeedKeyLen)
	}
	banks := slices.Clone(f.Banks)
	slices.Sort(banks)
	banks = slices.Compact(banks)
	b, err := json.Marshal(banks)
	if err != nil {
		return err
	}
	now := s.db.Now()
	err = s.db.Write(ctx, func(tx Querier) error {
		for _, name := range banks {
			if _, err := FindBank(ctx, tx, "name = ?", name); errors.Is(err, sql.ErrNoRows) {
				return vigil.Errorf(vigil.ENOTFOUND, "bank %q not found", name)
			} else if err != nil {
				return err
			}
		}
		err := tx.QueryRowContext(ctx, `
			INSERT INTO feeds (name, banks, verifier_key, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (name) DO NOTHING RETURNING id`, f.Name, string(b), f.VerifierKey, FormatTime(now)).Scan(&f.ID)
		if errors.Is(err, sql.ErrNoRows) {
			return vigil.Errorf(vigil.ECONFLICT, "feed %q exists", f.Name)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("create feed %q: %w", f.Name, err)
	}
	f.Banks, f.CreatedAt, f.Cursor, f.Size, f.Head, f.Meta = banks, now, 0, 0, "", nil
	return nil
}

// FindFeedByName returns a feed.
func (s *FeedService) FindFeedByName(ctx context.Context, name string) (*vigil.Feed, error) {
	f, err := scanFeed(s.db.Reader().QueryRowContext(ctx, `SELECT `+feedColumns+` FROM feeds WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, vigil.Errorf(vigil.ENOTFOUND, "feed %q not found", name)
	} else if err != nil {
		return nil, fmt.Errorf("find feed %q: %w", name, err)
	}
	return f, nil
}

// ListFeeds returns every feed by name.
func (s *FeedService) ListFeeds(ctx context.Context) ([]*vigil.Feed, error) {
	feeds, err := QueryAll(ctx, s.db.Reader(), scanFeed, `SELECT `+feedColumns+` FROM feeds ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list feeds: %w", err)
	}
	return feeds, nil
}

// feedBankIDs returns the ids and names of a feed's banks.
func feedBankIDs(ctx context.Context, q Querier, feedID int64) (map[int64]string, error) {
	var banks string
	if err := q.QueryRowContext(ctx, `SELECT banks FROM feeds WHERE id = ?`, feedID).Scan(&banks); errors.Is(err, sql.ErrNoRows) {
		return nil, vigil.Errorf(vigil.ENOTFOUND, "feed %d not found", feedID)
	} else if err != nil {
		return nil, err
	}
	var names []string
	if err := json.Unmarshal([]byte(banks), &names); err != nil {
		return nil, err
	}
	all, err := BankNames(ctx, q)
	if err != nil {
		return nil, err
	}
	ids := make(map[int64]string)
	for id, n := range all {
		if slices.Contains(names, n) {
			ids[id] = n
		}
	}
	return ids, nil
}

// allSignalTypes are the types banks hold, each read through the entries'
// (signal_type, seq) index.
var allSignalTypes = []vigil.SignalType{vigil.SignalPDQ, vigil.SignalVPDQ, vigil.SignalMD5, vigil.SignalSHA1,
	vigil.SignalSHA256, vigil.SignalURL, vigil.SignalKeyword}

// FeedChanges returns the changes of a feed's banks after a sequence.
//
// The entries table has an index on (signal_type, seq) and none on seq
// alone (each index slows bulk imports), so the changes are read per type
// in sequence order and merged: the limit first changes overall are among
// the limit first of each type.
func (s *FeedService) FeedChanges(ctx context.Context, feedID, after int64, limit int) ([]vigil.FeedChange, int64, error) {
	limit = max(1, min(limit, vigil.MaxBatchChanges))
	var all []*vigil.Entry
	var banks map[int64]string
	err := s.db.Read(ctx, func(tx Querier) error {
		var err error
		if banks, err = feedBankIDs(ctx, tx, feedID); err != nil {
			return err
		}
		if len(banks) == 0 {
			return nil
		}
		in := strings.Repeat(",?", len(banks))[1:]
		for _, t := range allSignalTypes {
			args := []any{t, after}
			for id := range banks {
				args = append(args, id)
			}
			args = append(args, limit)
			es, err := QueryAll(ctx, tx, ScanEntry, `SELECT `+EntryColumns+` FROM entries
				WHERE signal_type = ? AND seq > ? AND bank_id IN (`+in+`) ORDER BY seq LIMIT ?`, args...)
			if err != nil {
				return err
			}
			all = append(all, es...)
		}
		return nil
	})
	if err != nil {
		return nil, 0, fmt.Errorf("feed %d changes after %d: %w", feedID, after, err)
	}
	slices.SortFunc(all, func(a, b *vigil.Entry) int { return int(a.Seq - b.Seq) })
	if len(all) > limit {
		all = all[:limit]
	}
	changes := make([]vigil.FeedChange, len(all))
	last := after
	for i, e := range all {
		c := vigil.FeedChange{Op: vigil.FeedAdd, Bank: banks[e.BankID], ID: e.ID}
		if e.Active() {
			c.SignalType, c.Value, c.Category = e.SignalType, e.Value, e.Category
			c.Source, c.SourceEntryID = e.Source, e.SourceEntryID
		} else {
			c.Op, c.Reason = vigil.FeedRetract, e.RetractReason
			if !e.Retracted() {
				c.Reason = "quarantined: " + e.QuarantineReason
			}
		}
		changes[i], last = c, e.Seq
	}
	return changes, last, nil
}

// FeedBankMeta returns the current metadata of a feed's banks.
func (s *FeedService) FeedBankMeta(ctx context.Context, feedID int64) (map[string]vigil.FeedBankMeta, error) {
	meta := make(map[string]vigil.FeedBankMeta)
	err := s.db.Read(ctx, func(tx Querier) error {
		banks, err := feedBankIDs(ctx, tx, feedID)
		if err != nil {
			return err
		}
		for id := range banks {
			b, err := FindBank(ctx, tx, "id = ?", id)
			if err != nil {
				return err
			}
			meta[b.Name] = vigil.FeedBankMeta{Description: b.Description, Thresholds: b.Thresholds}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("feed %d bank metadata: %w", feedID, err)
	}
	return meta, nil
}

// AppendFeed stores a cut.
func (s *FeedService) AppendFeed(ctx context.Context, feedID int64, a vigil.FeedAppend) error {
	meta, err := json.Marshal(a.Meta)
	if err != nil {
		return err
	}
	err = s.db.Write(ctx, func(tx Querier) error {
		var size, cursor int64
		if err := tx.QueryRowContext(ctx, `SELECT size, cursor FROM feeds WHERE id = ?`, feedID).Scan(&size, &cursor); errors.Is(err, sql.ErrNoRows) {
			return vigil.Errorf(vigil.ENOTFOUND, "feed %d not found", feedID)
		} else if err != nil {
			return err
		}
		if size != a.OldSize || cursor != a.OldCursor {
			return vigil.Errorf(vigil.ECONFLICT, "feed %d changed during the cut", feedID)
		}
		for i, b := range a.Batches {
			if b.Number != size+int64(i)+1 {
				return fmt.Errorf("batch %d out of order", b.Number)
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO feed_batches (feed_id, number, note) VALUES (?, ?, ?)`, feedID, b.Number, b.Note); err != nil {
				return err
			}
		}
		for idx, h := range a.Hashes {
			if _, err := tx.ExecContext(ctx, `INSERT INTO feed_hashes (feed_id, idx, hash) VALUES (?, ?, ?)`, feedID, idx, h); err != nil {
				return err
			}
		}
		if a.VerifierKey != "" {
			if len(a.VerifierKey) > vigil.MaxFeedKeyLen || !vigil.Printable(a.VerifierKey) {
				return vigil.Errorf(vigil.EINVALID, "verifier key must be at most %d printable bytes", vigil.MaxFeedKeyLen)
			}
			if _, err := tx.ExecContext(ctx, `UPDATE feeds SET verifier_key = ? WHERE id = ?`, a.VerifierKey, feedID); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `UPDATE feeds SET size = ?, cursor = ?, head = ?, meta = ? WHERE id = ?`,
			size+int64(len(a.Batches)), a.Cursor, a.Head, string(meta), feedID)
		return err
	})
	if err != nil {
		return fmt.Errorf("append to feed %d: %w", feedID, err)
	}
	return nil
}

// FeedBatch returns the signed note of a batch.
func (s *FeedService) FeedBatch(ctx context.Context, feedID, n int64) ([]byte, error) {
	var note []byte
	err := s.db.Reader().QueryRowContext(ctx, `SELECT note FROM feed_batches WHERE feed_id = ? AND number = ?`, feedID, n).Scan(&note)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, vigil.Errorf(vigil.ENOTFOUND, "batch %d not found", n)
	} else if err != nil {
		return nil, fmt.Errorf("feed %d batch %d: %w", feedID, n, err)
	}
	return note, nil
}

// FeedHashes returns tlog stored hashes.
func (s *FeedService) FeedHashes(ctx context.Context, feedID int64, indexes []int64) ([][]byte, error) {
	out := make([][]byte, len(indexes))
	err := s.db.Read(ctx, func(tx Querier) error {
		p, ok := tx.(preparer)
		if !ok {
			return fmt.Errorf("%T does not prepare statements", tx)
		}
		stmt, err := p.PrepareContext(ctx, `SELECT hash FROM feed_hashes WHERE feed_id = ? AND idx = ?`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for i, idx := range indexes {
			if err := stmt.QueryRowContext(ctx, feedID, idx).Scan(&out[i]); errors.Is(err, sql.ErrNoRows) {
				return vigil.Errorf(vigil.ENOTFOUND, "tlog hash %d not found", idx)
			} else if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("feed %d hashes: %w", feedID, err)
	}
	return out, nil
}

const subscriptionColumns = `id, url, feed, key, bank_id, applied, last_hash, tree_size, tree_hash, error, synced_at, state, public_only, created_at`

func scanSubscription(row Scanner) (*vigil.Subscription, error) {
	var sub vigil.Subscription
	var synced sql.NullString
	var created string
	if err := row.Scan(&sub.ID, &sub.URL, &sub.Feed, &sub.Key, &sub.BankID, &sub.Applied, &sub.LastHash,
		&sub.TreeSize, &sub.TreeHash, &sub.Error, &synced, &sub.State, &sub.PublicOnly, &created); err != nil {
		return nil, err
	}
	var err error
	if sub.SyncedAt, err = ParseNullTime(synced); err != nil {
		return nil, err
	}
	sub.CreatedAt, err = ParseTime(created)
	return &sub, err
}

// CreateSubscription stores a subscription.
func (s *FeedService) CreateSubscription(ctx context.Context, sub *vigil.Subscription) error {
	return s.createSubscription(ctx, nil, sub)
}

// CreateBankSubscription creates a bank and a subscription into it.
func (s *FeedService) CreateBankSubscription(ctx context.Context, b *vigil.Bank, sub *vigil.Subscription) error {
	return s.createSubscription(ctx, b, sub)
}

// createSubscription stores sub, into a new bank b if b is not nil.
func (s *FeedService) createSubscription(ctx context.Context, b *vigil.Bank, sub *vigil.Subscription) error {
	if sub.URL == "" || len(sub.URL) > vigil.MaxFeedURLLen || !vigil.Printable(sub.URL) {
		return vigil.Errorf(vigil.EINVALID, "subscription needs a URL of at most %d bytes", vigil.MaxFeedURLLen)
	}
	if err := vigil.ValidateBankName(sub.Feed); err != nil {
		return vigil.Errorf(vigil.EINVALID, "feed name: %s", vigil.ErrorMessage(err))
	}
	if sub.Key == "" || len(sub.Key) > vigil.MaxFeedKeyLen || !vigil.Printable(sub.Key) {
		return vigil.Errorf(vigil.EINVALID, "subscription needs a key of at most %d bytes", vigil.MaxFeedKeyLen)
	}
	var pending *BankInsert
	if b != nil {
		var err error
		if pending, err = PrepareBank(b); err != nil {
			return err
		}
	}
	now := s.db.Now()
	err := s.db.Write(ctx, func(tx Querier) error {
		if pending != nil {
			if err := pending.Insert(ctx, tx, now); err != nil {
				return err
			}
			sub.BankID = b.ID
		}
		if _, err := FindBank(ctx, tx, "id = ?", sub.BankID); errors.Is(err, sql.ErrNoRows) {
			return vigil.Errorf(vigil.ENOTFOUND, "bank %d not found", sub.BankID)
		} else if err != nil {
			return err
		}
		return tx.QueryRowContext(ctx, `INSERT INTO subscriptions (url, feed, key, bank_id, public_only, created_at) VALUES (?, ?, ?, ?, ?, ?) RETURNING id`,
			sub.URL, sub.Feed, sub.Key, sub.BankID, sub.PublicOnly, FormatTime(now)).Scan(&sub.ID)
	})
	if err != nil {
		return fmt.Errorf("create subscription: %w", err)
	}
	if pending != nil {
		pending.Done(now)
	}
	sub.CreatedAt, sub.State = now, vigil.SubscriptionActive
	return nil
}

// SetSubscriptionState pauses, resumes or removes a subscription.
func (s *FeedService) SetSubscriptionState(ctx context.Context, id int64, state string) (*vigil.Subscription, error) {
	switch state {
	case vigil.SubscriptionActive, vigil.SubscriptionPaused, vigil.SubscriptionRemoved:
	default:
		return nil, vigil.Errorf(vigil.EINVALID, "unknown subscription state %q", state)
	}
	var sub *vigil.Subscription
	err := s.db.Write(ctx, func(tx Querier) error {
		var err error
		sub, err = scanSubscription(tx.QueryRowContext(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return vigil.Errorf(vigil.ENOTFOUND, "subscription %d not found", id)
		} else if err != nil {
			return err
		}
		if sub.State == vigil.SubscriptionRemoved {
			return vigil.Errorf(vigil.ECONFLICT, "subscription %d is removed", id)
		}
		if sub.State == state {
			return nil
		}
		sub.State = state
		if _, err := tx.ExecContext(ctx, `UPDATE subscriptions SET state = ? WHERE id = ?`, state, id); err != nil {
			return err
		}
		if state == vigil.SubscriptionRemoved {
			_, err := tx.ExecContext(ctx, `UPDATE banks SET enabled = ?, version = version + 1, updated_at = ? WHERE id = ?`,
				false, FormatTime(s.db.Now()), sub.BankID)
			return err
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("set subscription %d state: %w", id, err)
	}
	return sub, nil
}

// FindSubscriptionByID returns a subscription.
func (s *FeedService) FindSubscriptionByID(ctx context.Context, id int64) (*vigil.Subscription, error) {
	sub, err := scanSubscription(s.db.Reader().QueryRowContext(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, vigil.Errorf(vigil.ENOTFOUND, "subscription %d not found", id)
	} else if err != nil {
		return nil, fmt.Errorf("find subscription %d: %w", id, err)
	}
	return sub, nil
}

// ListSubscriptions returns every subscription.
func (s *FeedService) ListSubscriptions(ctx context.Context) ([]*vigil.Subscription, error) {
	subs, err := QueryAll(ctx, s.db.Reader(), scanSubscription, `SELECT `+subscriptionColumns+` FROM subscriptions ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list subscriptions: %w", err)
	}
	return subs, nil
}

// SetSubscriptionHead records a verified head.
func (s *FeedService) SetSubscriptionHead(ctx context.Context, id, size int64, hash string) error {
	return s.setSubscription(ctx, id, `tree_size = ?, tree_hash = ?`, size, hash)
}

// SetSubscriptionError records why a sync failed.
func (s *FeedService) SetSubscriptionError(ctx context.Context, id int64, msg string) error {
	if len(msg) > vigil.MaxRetractReasonLen {
		msg = msg[:vigil.MaxRetractReasonLen]
	}
	return s.setSubscription(ctx, id, `error = ?, synced_at = ?`, msg, FormatTime(s.db.Now()))
}

func (s *FeedService) setSubscription(ctx context.Context, id int64, set string, args ...any) error {
	err := s.db.Write(ctx, func(tx Querier) error {
		r, err := tx.ExecContext(ctx, `UPDATE subscriptions SET `+set+` WHERE id = ?`, append(args, id)...)
		if err != nil {
			return err
		}
		if n, _ := r.RowsAffected(); n == 0 {
			return vigil.Errorf(vigil.ENOTFOUND, "subscription %d not found", id)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("update subscription %d: %w", id, err)
	}
	return nil
}

// ApplyBatch applies a verified batch in one transaction.
func (s *FeedService) ApplyBatch(ctx context.Context, id, n int64, hash string, changes []vigil.FeedChange) (vigil.ImportResult, error) {
	var res vigil.ImportResult
	now := FormatTime(s.db.Now())
	err := s.db.Write(ctx, func(tx Querier) error {
		sub, err := scanSubscription(tx.QueryRowContext(ctx, `SELECT `+subscriptionColumns+` FROM subscriptions WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return vigil.Errorf(vigil.ENOTFOUND, "subscription %d not found", id)
		} else if err != nil {
			return err
		}
		if n != sub.Applied+1 {
			return vigil.Errorf(vigil.ECONFLICT, "batch %d does not follow batch %d, the last applied", n, sub.Applied)
		}
		a, err := newApplier(ctx, s.db, tx, sub, now, len(changes))
		if err != nil {
			return err
		}
		defer a.close()
		for i := 0; i < len(changes); {
			// With the store's addRun, a run of additions (most of any
			// batch) goes in a few set-based statements; other changes
			// one by one, in order.
			if s.addRun != nil {
				if j := addRunEnd(changes, i); j > i {
					r := &FeedRun{Tx: tx, Sub: sub, By: a.by, Now: now, Seq: a.seq, Start: i}
					if err := s.addRun(ctx, r, changes[i:j]); err != nil {
						return err
					}
					a.added, a.dups = a.added+r.Added, a.dups+r.Dups
					i = j
					continue
				}
			}
			if err := a.apply(ctx, i, &changes[i]); err != nil {
				return fmt.Errorf("change %d: %w", i+1, err)
			}
			i++
		}
		res.Added, res.Duplicates = a.added, a.dups
		if res.Version, err = BumpBank(ctx, tx, sub.BankID, int64(a.added-a.retracted), now); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE subscriptions SET applied = ?, last_hash = ?, error = '', synced_at = ? WHERE id = ?`,
			n, hash, now, id); err != nil {
			return err
		}
		return vigil.AuditResult(ctx, map[string]any{"batch": n, "added": a.added, "duplicates": a.dups, "retracted": a.retracted})
	})
	if err != nil {
		return vigil.ImportResult{}, fmt.Errorf("apply batch %d to subscription %d: %w", n, id, err)
	}
	return res, nil
}

// applier applies the changes of one batch inside its transaction.
type applier struct {
	tx                 Querier
	sub                *vigil.Subscription
	now                string
	by                 string
	ins, held, mapping *sql.Stmt
	lookup, retract    *sql.Stmt
	seq                int64 // the batch's first change sequence

	added, dups, retracted int
}

func newApplier(ctx context.Context, db DB, tx Querier, sub *vigil.Subscription, now string, n int) (*applier, error) {
	// The write transactions of both stores prepare statements.
	p, ok := tx.(preparer)
	if !ok {
		return nil, fmt.Errorf("apply batch: %T does not prepare statements", tx)
	}
	a := &applier{tx: tx, sub: sub, now: now, by: vigil.FeedSource(sub.Feed)}
	var err error
	// Sequence numbers for the whole batch, as AddEntries takes them.
	if a.seq, err = db.NextSeq(ctx, tx, int64(max(n, 1))); err != nil {
		return nil, err
	}
	for _, st := range []struct {
		st  **sql.Stmt
		sql string
	}{
		{&a.ins, `INSERT INTO entries (bank_id, signal_type, value, source, source_entry_id, category, added_by, added_at, seq)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id`},
		{&a.held, `SELECT id FROM entries WHERE bank_id = ? AND signal_type = ? AND value = ? AND retracted_at IS NULL AND item_id IS NULL`},
		{&a.mapping, `INSERT INTO subscription_entries (subscription_id, remote_id, entry_id, owned) VALUES (?, ?, ?, ?)
			ON CONFLICT (subscription_id, remote_id) DO UPDATE SET entry_id = excluded.entry_id, owned = excluded.owned`},
		{&a.lookup, `SELECT m.entry_id, m.owned, e.retracted_at IS NULL FROM subscription_entries m JOIN entries e ON e.id = m.entry_id
			WHERE m.subscription_id = ? AND m.remote_id = ?`},
		{&a.retract, `UPDATE entries SET retracted_at = ?, retracted_by = ?, retract_reason = ?, seq = ? WHERE id = ? AND retracted_at IS NULL`},
	} {
		if *st.st, err = p.PrepareContext(ctx, st.sql); err != nil {
			a.close()
			return nil, err
		}
	}
	return a, nil
}

func (a *applier) close() {
	for _, st := range []*sql.Stmt{a.ins, a.held, a.mapping, a.lookup, a.retract} {
		if st != nil {
			st.Close()
		}
	}
}

// preparer is a transaction that prepares statements.
type preparer interface {
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// addRunEnd returns the end of the run of additions that starts at i
// (i itself if changes[i] is not one).
func addRunEnd(changes []vigil.FeedChange, i int) int {
	j := i
	for j < len(changes) && changes[j].Op == vigil.FeedAdd {
		j++
	}
	return j
}

// apply applies change c, the i-th of its batch.
func (a *applier) apply(ctx context.Context, i int, c *vigil.FeedChange) error {
	seq := a.seq + int64(i)
	switch c.Op {
	case vigil.FeedAdd:
		var held int64
		var owned, active bool
		err := a.lookup.QueryRowContext(ctx, a.sub.ID, c.ID).Scan(&held, &owned, &active)
		if err == nil && active {
			a.dups++ // the feed sent an entry twice
			return nil
		} else if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		e := vigil.Entry{SignalType: c.SignalType, Value: c.Value, Source: c.Source, SourceEntryID: c.SourceEntryID,
			Category: c.Category, AddedBy: a.by}
		if e.Source == "" {
			// An entry the publisher made: it is the source.
			e.Source, e.SourceEntryID = vigil.FeedSource(a.sub.Feed), strconv.FormatInt(c.ID, 10)
		}
		if err := e.Validate(); err != nil {
			return err
		}
		value := EncodeValue(e.SignalType, e.Value)
		var id int64
		own := true
		err = a.ins.QueryRowContext(ctx, a.sub.BankID, e.SignalType, value, e.Source, e.SourceEntryID, e.Category,
			a.by, a.now, seq).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			// The bank holds the signal already, from elsewhere: note it,
			// but leave it alone on a retraction.
			if err := a.held.QueryRowContext(ctx, a.sub.BankID, e.SignalType, value).Scan(&id); err != nil {
				return fmt.Errorf("find held entry: %w", err)
			}
			own = false
			a.dups++
		} else if err != nil {
			return err
		} else {
			a.added++
		}
		_, err = a.mapping.ExecContext(ctx, a.sub.ID, c.ID, id, own)
		return err
	case vigil.FeedRetract:
		var id int64
		var owned, active bool
		err := a.lookup.QueryRowContext(ctx, a.sub.ID, c.ID).Scan(&id, &owned, &active)
		if errors.Is(err, sql.ErrNoRows) || err == nil && (!owned || !active) {
			return nil // never applied, not ours, or retracted already
		} else if err != nil {
			return err
		}
		reason := c.Reason
		if strings.TrimSpace(reason) == "" {
			reason = "retracted by the feed"
		}
		if len(reason) > vigil.MaxRetractReasonLen || !vigil.Printable(reason) {
			return vigil.Errorf(vigil.EINVALID, "retraction reason must be at most %d printable bytes", vigil.MaxRetractReasonLen)
		}
		if _, err := a.retract.ExecContext(ctx, a.now, a.by, reason, seq, id); err != nil {
			return err
		}
		a.retracted++
		return nil
	case vigil.FeedBank:
		if c.Meta == nil {
			return vigil.Errorf(vigil.EINVALID, "bank change without metadata")
		}
		b := vigil.Bank{Name: "x", Description: c.Meta.Description, Thresholds: c.Meta.Thresholds}
		if err := b.Validate(); err != nil {
			return err
		}
		th, err := MarshalThresholds(b.Thresholds)
		if err != nil {
			return err
		}
		_, err = a.tx.ExecContext(ctx, `UPDATE banks SET description = ?, thresholds = ? WHERE id = ?`, b.Description, th, a.sub.BankID)
		return err
	case vigil.FeedKey:
		// The client checked the key parses and the batch is signed by the
		// old one.
		if c.Value == "" || len(c.Value) > vigil.MaxFeedKeyLen || !vigil.Printable(c.Value) {
			return vigil.Errorf(vigil.EINVALID, "key hand-over without a valid key")
		}
		a.sub.Key = c.Value
		_, err := a.tx.ExecContext(ctx, `UPDATE subscriptions SET key = ? WHERE id = ?`, c.Value, a.sub.ID)
		return err
	}
	return vigil.Errorf(vigil.EINVALID, "unknown change %q", c.Op)
}

// RecordFeedback replaces a subscriber's opinions of a feed's entries.
func (s *FeedService) RecordFeedback(ctx context.Context, feedID int64, subscriber string, ops []vigil.FeedOpinion) (int, error) {
	if err := ValidateActor("feedback", subscriber); err != nil {
		return 0, err
	}
	if len(ops) > vigil.MaxFeedbackOpinions {
		return 0, vigil.Errorf(vigil.ETOOLARGE, "more than %d opinions in one report", vigil.MaxFeedbackOpinions)
	}
	for i, o := range ops {
		if o.EntryID <= 0 || o.Confirmed < 0 || o.FalsePositives < 0 {
			return 0, vigil.Errorf(vigil.EINVALID, "opinion %d: entry id must be positive and counts not negative", i+1)
		}
	}
	now := FormatTime(s.db.Now())
	stored, quarantined := 0, 0
	err := s.db.Write(ctx, func(tx Querier) error {
		banks, err := feedBankIDs(ctx, tx, feedID)
		if err != nil {
			return err
		}
		p, ok := tx.(preparer)
		if !ok {
			return fmt.Errorf("%T does not prepare statements", tx)
		}
		bankOf, err := p.PrepareContext(ctx, `SELECT bank_id FROM entries WHERE id = ?`)
		if err != nil {
			return err
		}
		defer bankOf.Close()
		for _, o := range ops {
			var bank int64
			if err := bankOf.QueryRowContext(ctx, o.EntryID).Scan(&bank); errors.Is(err, sql.ErrNoRows) {
				continue
			} else if err != nil {
				return err
			}
			if _, ok := banks[bank]; !ok {
				continue // not the feed's: a subscriber may not comment on other lists
			}
			if _, err := tx.ExecContext(ctx, `
				INSERT INTO feed_feedback (feed_id, subscriber, entry_id, confirmed, false_positives, updated_at)
				VALUES (?, ?, ?, ?, ?, ?)
				ON CONFLICT (feed_id, entry_id, subscriber) DO UPDATE SET
					confirmed = excluded.confirmed, false_positives = excluded.false_positives, updated_at = excluded.updated_at`,
				feedID, subscriber, o.EntryID, o.Confirmed, o.FalsePositives, now); err != nil {
				return err
			}
			stored++
			q, err := s.feedbackQuarantine(ctx, tx, feedID, o.EntryID)
			if err != nil {
				return err
			}
			quarantined += q
		}
		return vigil.AuditResult(ctx, map[string]int{"opinions": len(ops), "stored": stored, "quarantined": quarantined})
	})
	if err != nil {
		return 0, fmt.Errorf("record feedback on feed %d: %w", feedID, err)
	}
	return stored, nil
}

// feedbackQuarantine applies Policy to the feedback on one entry and
// returns 1 if it quarantined the entry.
func (s *FeedService) feedbackQuarantine(ctx context.Context, tx Querier, feedID, entryID int64) (int, error) {
	if s.Policy.MinFalsePositives <= 0 {
		return 0, nil
	}
	// SUM of BIGINT is NUMERIC in PostgreSQL: cast back.
	var st vigil.EntryStats
	var reporters int
	if err := tx.QueryRowContext(ctx, `
		SELECT CAST(COALESCE(SUM(confirmed), 0) AS BIGINT), CAST(COALESCE(SUM(false_positives), 0) AS BIGINT), COUNT(*) FILTER (WHERE false_positives > 0)
		FROM feed_feedback WHERE feed_id = ? AND entry_id = ?`, feedID, entryID).Scan(&st.Confirmed, &st.FalsePositives, &reporters); err != nil {
		return 0, err
	}
	if reporters < 2 {
		return 0, nil
	}
	var released bool
	if err := tx.QueryRowContext(ctx, `SELECT released_at IS NOT NULL FROM entry_stats WHERE entry_id = ?`, entryID).Scan(&released); err != nil && !errors.Is(err, sql.ErrNoRows) {
		return 0, err
	} else if released {
		return 0, nil
	}
	reason, ok := s.Policy.FalsePositiveTrigger(&st, st.FalsePositives)
	if !ok {
		return 0, nil
	}
	done, err := Quarantine(ctx, s.db, tx, entryID, fmt.Sprintf("%s, reported by %d subscribers", reason, reporters), s.db.Now(), true)
	if !done || err != nil {
		return 0, err
	}
	return 1, nil
}

// FeedFeedback returns the feedback on a feed's entries.
func (s *FeedService) FeedFeedback(ctx context.Context, feedID, afterID int64, limit int) ([]vigil.FeedEntryFeedback, error) {
	out, err := QueryAll(ctx, s.db.Reader(), func(row Scanner) (vigil.FeedEntryFeedback, error) {
		var f vigil.FeedEntryFeedback
		err := row.Scan(&f.EntryID, &f.Subscribers, &f.Confirmed, &f.FalsePositives)
		return f, err
	}, `SELECT entry_id, COUNT(*), CAST(SUM(confirmed) AS BIGINT), CAST(SUM(false_positives) AS BIGINT) FROM feed_feedback
		WHERE feed_id = ? AND entry_id > ? GROUP BY entry_id ORDER BY entry_id LIMIT ?`, feedID, afterID, PageLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("feedback on feed %d: %w", feedID, err)
	}
	return out, nil
}

// SubscriptionOpinions returns the review counts of a subscription's entries.
func (s *FeedService) SubscriptionOpinions(ctx context.Context, id, afterID int64, limit int) ([]vigil.FeedOpinion, error) {
	// owned is BOOLEAN in PostgreSQL, 0 or 1 in SQLite: tested as itself.
	out, err := QueryAll(ctx, s.db.Reader(), func(row Scanner) (vigil.FeedOpinion, error) {
		var o vigil.FeedOpinion
		err := row.Scan(&o.EntryID, &o.Confirmed, &o.FalsePositives)
		return o, err
	}, `SELECT m.remote_id, st.confirmed, st.false_positives
		FROM subscription_entries m JOIN entry_stats st ON st.entry_id = m.entry_id
		WHERE m.subscription_id = ? AND m.owned AND m.remote_id > ? AND (st.confirmed > 0 OR st.false_positives > 0)
		ORDER BY m.remote_id LIMIT ?`, id, afterID, min(PageLimit(limit), vigil.MaxFeedbackOpinions))
	if err != nil {
		return nil, fmt.Errorf("opinions of subscription %d: %w", id, err)
	}
	return out, nil
}
