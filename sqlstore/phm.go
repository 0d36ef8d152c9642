package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/vigil-oss/vigil"
)

// PHMService keeps the private hash matching service's account state.
type PHMService struct {
	db DB
}

// NewPHMService returns a PHMService on db.
func NewPHMService(db DB) *PHMService { return &PHMService{db: db} }

var _ vigil.PHMService = (*PHMService)(nil)

// UpdatePHMAccount runs one opened voucher's transaction: the account
// update of ApplyPHMInbox, as UpdatePHMAccount's contract has it (a replay
// calls nothing; what fn changes is kept even when its voucher is not in
// the changes).
func (s *PHMService) UpdatePHMAccount(ctx context.Context, account string, epoch uint32, voucher [vigil.PHMVoucherIDLen]byte, fn func(a *vigil.PHMAccount) (*vigil.AuditRecord, error)) (bool, error) {
	if err := vigil.ValidatePHMAccount(account); err != nil {
		return false, err
	}
	u := &vigil.PHMInboxUpdate{Account: account, Opened: true, Epoch: epoch, Voucher: voucher,
		Fn: func(a *vigil.PHMAccount, _ bool) (*vigil.AuditRecord, error) { return fn(a) }}
	counted := false
	err := s.db.WriteAudited(ctx, nil, func(tx Querier) error {
		var drop, err error
		counted, drop, err = s.applyPHM(ctx, tx, s.db.Now(), u, true)
		if drop != nil {
			return drop
		}
		return err
	})
	if err != nil {
		return false, fmt.Errorf("update PHM account %s: %w", vigil.PHMTarget(account, epoch), err)
	}
	return counted, nil
}

// ApplyPHMInbox runs a batch of processed inbox vouchers in one
// transaction.
func (s *PHMService) ApplyPHMInbox(ctx context.Context, items []vigil.PHMInboxUpdate) ([]vigil.PHMInboxApplied, error) {
	if len(items) == 0 {
		return nil, nil
	}
	if len(items) > vigil.MaxPHMInboxBatch {
		return nil, vigil.Errorf(vigil.ETOOLARGE, "more than %d PHM inbox vouchers in one batch", vigil.MaxPHMInboxBatch)
	}
	var out []vigil.PHMInboxApplied
	fn := func(tx Querier) error {
		out = make([]vigil.PHMInboxApplied, len(items)) // afresh, should the store run this again
		at := s.db.Now()
		now := FormatTime(at)
		var ids []any
		for i := range items {
			u := &items[i]
			if u.ID != 0 {
				ids = append(ids, u.ID)
			}
			if err := vigil.ValidatePHMAccount(u.Account); err != nil {
				out[i].Err = err
				if err := s.writeChaff(ctx, tx, now, u); err != nil {
					return err
				}
				continue
			}
			counted, drop, err := s.applyPHM(ctx, tx, at, u, false)
			if err != nil {
				return fmt.Errorf("voucher %d of %s: %w", i+1, u.Account, err)
			}
			out[i] = vigil.PHMInboxApplied{Counted: counted, Err: drop}
		}
		if len(ids) > 0 {
			if _, err := tx.ExecContext(ctx, `DELETE FROM phm_inbox WHERE id IN (`+Placeholders(len(ids))+`)`, ids...); err != nil {
				return fmt.Errorf("delete inbox rows: %w", err)
			}
		}
		return nil
	}
	var err error
	if d, ok := s.db.(SecureDeleter); ok {
		err = d.WriteSecureDelete(ctx, fn)
	} else {
		err = s.db.WriteAudited(ctx, nil, fn)
	}
	if err != nil {
		return nil, fmt.Errorf("apply %d PHM inbox vouchers: %w", len(items), err)
	}
	return out, nil
}

// applyPHM is one account update in tx, a write transaction: the reads
// every item makes, fn, and the item's rows or its chaff. legacy is
// UpdatePHMAccount's contract: a replay reads no further and writes
// nothing, and what fn changes is kept even where its voucher is not in
// the changes. drop is an EINVALID error of fn or its changes, found
// before anything was written; err any other, which undoes the
// transaction.
func (s *PHMService) applyPHM(ctx context.Context, tx Querier, at time.Time, u *vigil.PHMInboxUpdate, legacy bool) (counted bool, drop, err error) {
	now := FormatTime(at)
	// The same four reads for every item, in the same order: the latest
	// epoch (the state a voucher that did not open is given), the replay
	// check, the account and its pending vouchers.
	var latest int64
	err = tx.QueryRowContext(ctx, `SELECT epoch FROM phm_accounts WHERE account = ? ORDER BY epoch DESC LIMIT 1`, u.Account).Scan(&latest)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return false, nil, fmt.Errorf("latest epoch: %w", err)
	}
	epoch := uint32(latest)
	if u.Opened {
		epoch = u.Epoch
	}
	var one int
	replay := false
	err = tx.QueryRowContext(ctx, `SELECT 1 FROM phm_vouchers WHERE account = ? AND epoch = ? AND voucher_id = ?`, u.Account, int64(epoch), u.Voucher[:]).Scan(&one)
	if err == nil {
		replay = true
	} else if !errors.Is(err, sql.ErrNoRows) {
		return false, nil, fmt.Errorf("replay check: %w", err)
	}
	keep := u.Opened && !replay
	if legacy && !keep {
		return false, nil, nil
	}
	a, err := loadPHMAccount(ctx, tx, u.Account, epoch)
	if errors.Is(err, sql.ErrNoRows) {
		a = &vigil.PHMAccount{Account: u.Account, Epoch: epoch}
		// The pending vouchers' read all the same, as for an account
		// that has a row: the latest epoch's, given for the work alone
		// (a voucher that did not open is given that epoch's state), or
		// this epoch's (it finds none).
		from := epoch
		if !legacy && u.Opened && uint32(latest) != epoch {
			from = uint32(latest)
		}
		var got []vigil.PHMVoucher
		if got, err = loadPHMPending(ctx, tx, u.Account, from); err != nil {
			return false, nil, err
		}
		if from != epoch {
			a.Latest = got
		} else {
			a.Pending = got
		}
	} else if err != nil {
		return false, nil, err
	}
	pending := map[[vigil.PHMVoucherIDLen]byte]bool{}
	for _, v := range a.Pending {
		pending[v.ID] = true
	}
	rec, err := u.Fn(a, keep)
	if err != nil {
		if !legacy && vigil.ErrorCode(err) == vigil.EINVALID {
			return false, err, s.writeChaff(ctx, tx, now, u)
		}
		return false, nil, err
	}
	if keep {
		if err := vigil.ValidatePHMChanges(a, u.Voucher, pending); err != nil {
			if legacy {
				return false, err, nil
			}
			return false, err, s.writeChaff(ctx, tx, now, u)
		}
		if !legacy && !slices.ContainsFunc(a.Changes, func(c vigil.PHMVoucher) bool { return c.ID == u.Voucher }) {
			keep = false // not counted (an account past its bound): nothing of it kept
		}
	}
	if !keep {
		return false, nil, s.writeChaff(ctx, tx, now, u)
	}
	for _, c := range a.Changes {
		var data []byte
		if len(c.Data) > 0 {
			data = c.Data
		}
		if pending[c.ID] {
			_, err = tx.ExecContext(ctx, `UPDATE phm_vouchers SET state = ?, data = ? WHERE account = ? AND epoch = ? AND voucher_id = ?`,
				string(c.State), data, u.Account, int64(epoch), c.ID[:])
		} else {
			counted = true
			_, err = tx.ExecContext(ctx, `INSERT INTO phm_vouchers (account, epoch, voucher_id, n, state, data, opened_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
				voucherRow(u.Account, epoch, c.ID[:], c.N, c.State, data, now)...)
		}
		if err != nil {
			return false, nil, fmt.Errorf("store voucher: %w", err)
		}
	}
	if legacy {
		if err := writePHMAccount(ctx, tx, a, now); err != nil {
			return false, nil, err
		}
	} else if _, err := tx.ExecContext(ctx, `INSERT INTO phm_accounts (account, epoch, positives, due, updated_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (account, epoch) DO UPDATE SET positives = excluded.positives, due = excluded.due, updated_at = excluded.updated_at`,
		accountRow(u.Account, epoch, a.Positives, a.Due, now)...); err != nil {
		// The batch writes the same columns for every account, recovered
		// or not: the key is the tick's (RecoverPHMAccount) to write.
		return false, nil, fmt.Errorf("store account: %w", err)
	}
	if rec != nil {
		if err := AppendAudit(ctx, tx, at, rec); err != nil {
			return false, nil, fmt.Errorf("audit %s %s: %w", rec.Action, rec.Target, err)
		}
	}
	return counted, nil, nil
}

// voucherRow and accountRow are the arguments of a voucher's and an
// account's row, in the order of their INSERTs; the chaff is sized from
// them.
func voucherRow(account string, epoch uint32, id []byte, n int, state vigil.PHMVoucherState, data []byte, now string) []any {
	return []any{account, int64(epoch), id, int64(n), string(state), data, now}
}

func accountRow(account string, epoch uint32, positives int, due bool, now string) []any {
	d := int64(0)
	if due {
		d = 1
	}
	return []any{account, int64(epoch), int64(positives), d, now}
}

// writePHMAccount stores every field of a's row: UpdatePHMAccount's and
// RecoverPHMAccount's write, which may change the key.
func writePHMAccount(ctx context.Context, tx Querier, a *vigil.PHMAccount, now string) error {
	var recovered any
	if a.RecoveredAt != nil {
		recovered = FormatTime(*a.RecoveredAt)
	}
	var key []byte
	if len(a.Key) > 0 {
		key = a.Key
	}
	due := int64(0)
	if a.Due {
		due = 1
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO phm_accounts (account, epoch, positives, account_key, recovered_at, due, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (account, epoch) DO UPDATE SET positives = excluded.positives, account_key = excluded.account_key,
			recovered_at = excluded.recovered_at, due = excluded.due, updated_at = excluded.updated_at`,
		a.Account, int64(a.Epoch), int64(a.Positives), key, recovered, due, now); err != nil {
		return fmt.Errorf("store account: %w", err)
	}
	return nil
}

// ArgBytes is the bytes of a statement's arguments: a string's or a byte
// slice's length, 8 for an integer, 0 for NULL. It is the measure by
// which chaff matches the rows of a voucher that opened.
func ArgBytes(args ...any) int {
	n := 0
	for _, a := range args {
		switch v := a.(type) {
		case string:
			n += len(v)
		case []byte:
			n += len(v)
		case int64, int, uint32:
			n += 8
		case nil:
		default:
			panic(fmt.Sprintf("sqlstore: ArgBytes of %T", a))
		}
	}
	return n
}

// writeChaff writes, for an item that keeps nothing, two rows of the
// chaff ring (slots 2·(ID mod PHMChaffSlots/2) and the next), of random
// bytes as long as the voucher row and the account row a voucher that
// opened below the threshold writes: two statements, two rows, the same
// argument bytes (ArgBytes), in storage bounded by the ring whatever
// clients send.
func (s *PHMService) writeChaff(ctx context.Context, tx Querier, now string, u *vigil.PHMInboxUpdate) error {
	var id [vigil.PHMVoucherIDLen]byte
	lens := [2]int{
		ArgBytes(voucherRow(u.Account, 0, id[:], 0, vigil.PHMPending, make([]byte, u.Pad), now)...),
		ArgBytes(accountRow(u.Account, 0, 0, false, now)...),
	}
	base := 2 * (u.ID % (vigil.PHMChaffSlots / 2))
	if base < 0 {
		base = -base
	}
	for i, n := range lens {
		data := make([]byte, n-8) // the slot's 8 bytes are the rest
		if _, err := io.ReadFull(s.db.Rand(), data); err != nil {
			return fmt.Errorf("chaff: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO phm_chaff (slot, data) VALUES (?, ?) ON CONFLICT (slot) DO UPDATE SET data = excluded.data`,
			base+int64(i), data); err != nil {
			return fmt.Errorf("chaff: %w", err)
		}
	}
	return nil
}

// loadPHMAccount reads an account's state with its pending vouchers, or
// sql.ErrNoRows.
func loadPHMAccount(ctx context.Context, q Querier, account string, epoch uint32) (*vigil.PHMAccount, error) {
	a := &vigil.PHMAccount{Account: account, Epoch: epoch}
	var recovered sql.NullString
	var due int64
	if err := q.QueryRowContext(ctx, `SELECT positives, account_key, recovered_at, due FROM phm_accounts WHERE account = ? AND epoch = ?`,
		account, int64(epoch)).Scan(&a.Positives, &a.Key, &recovered, &due); err != nil {
		return nil, err
	}
	a.Due = due != 0
	var err error
	if a.RecoveredAt, err = ParseNullTime(recovered); err != nil {
		return nil, err
	}
	if a.Pending, err = loadPHMPending(ctx, q, account, epoch); err != nil {
		return nil, err
	}
	return a, nil
}

// loadPHMPending reads an account's pending vouchers, in order.
func loadPHMPending(ctx context.Context, q Querier, account string, epoch uint32) ([]vigil.PHMVoucher, error) {
	out, err := QueryAll(ctx, q, scanPHMVoucher,
		`SELECT voucher_id, state, data, n FROM phm_vouchers WHERE account = ? AND epoch = ? AND state = 'pending' ORDER BY n`, account, int64(epoch))
	if err != nil {
		return nil, fmt.Errorf("pending vouchers: %w", err)
	}
	return out, nil
}

func scanPHMVoucher(row Scanner) (vigil.PHMVoucher, error) {
	var (
		v     vigil.PHMVoucher
		id    []byte
		state string
	)
	if err := row.Scan(&id, &state, &v.Data, &v.N); err != nil {
		return v, err
	}
	if len(id) != vigil.PHMVoucherIDLen {
		return v, fmt.Errorf("stored voucher id of %d bytes", len(id))
	}
	v.ID, v.State = [vigil.PHMVoucherIDLen]byte(id), vigil.PHMVoucherState(state)
	return v, nil
}

// PHMAccount returns an account's state.
func (s *PHMService) PHMAccount(ctx context.Context, account string, epoch uint32) (*vigil.PHMAccount, error) {
	var a *vigil.PHMAccount
	err := s.db.Read(ctx, func(tx Querier) error {
		var err error
		a, err = loadPHMAccount(ctx, tx, account, epoch)
		return err
	})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, vigil.Errorf(vigil.ENOTFOUND, "PHM account %s not found", vigil.PHMTarget(account, epoch))
	}
	if err != nil {
		return nil, fmt.Errorf("PHM account %s: %w", vigil.PHMTarget(account, epoch), err)
	}
	return a, nil
}

// PHMRevealed returns revealed vouchers not yet handled, oldest first.
func (s *PHMService) PHMRevealed(ctx context.Context, limit int) ([]vigil.PHMRevealedVoucher, error) {
	out, err := QueryAll(ctx, s.db.Reader(), func(row Scanner) (vigil.PHMRevealedVoucher, error) {
		var (
			r     vigil.PHMRevealedVoucher
			epoch int64
		)
		v, err := scanPHMVoucher(scanFirst{row, []any{&r.Account, &epoch}})
		r.Epoch, r.PHMVoucher = uint32(epoch), v
		return r, err
	}, `SELECT account, epoch, voucher_id, state, data, n FROM phm_vouchers WHERE state = 'revealed' ORDER BY opened_at, account, epoch, n LIMIT ?`, PageLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("revealed PHM vouchers: %w", err)
	}
	return out, nil
}

// scanFirst scans the leading columns into first, the rest as the
// wrapped scan asks.
type scanFirst struct {
	row   Scanner
	first []any
}

func (s scanFirst) Scan(dest ...any) error { return s.row.Scan(append(s.first, dest...)...) }

// MarkPHMHandled moves revealed vouchers to handled.
func (s *PHMService) MarkPHMHandled(ctx context.Context, account string, epoch uint32, ids [][vigil.PHMVoucherIDLen]byte, chaff []int) error {
	if len(ids) > vigil.MaxPHMPending+1 {
		return vigil.Errorf(vigil.ETOOLARGE, "more than %d vouchers at a time", vigil.MaxPHMPending+1)
	}
	if err := checkChaff(chaff, true); err != nil {
		return err
	}
	err := s.db.Write(ctx, func(tx Querier) error {
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, `UPDATE phm_vouchers SET state = 'handled', data = NULL WHERE account = ? AND epoch = ? AND voucher_id = ? AND state = 'revealed'`,
				account, int64(epoch), id[:]); err != nil {
				return err
			}
		}
		return s.chaffRows(ctx, tx, chaff)
	})
	if err != nil {
		return fmt.Errorf("mark PHM vouchers of %s handled: %w", vigil.PHMTarget(account, epoch), err)
	}
	return nil
}
