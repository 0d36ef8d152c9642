package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/vigil-oss/vigil"
)

// PHMService keeps the private hash matching service's account state.
type PHMService struct {
	db DB
}

// NewPHMService returns a PHMService on db.
func NewPHMService(db DB) *PHMService { return &PHMService{db: db} }

var _ vigil.PHMService = (*PHMService)(nil)

// UpdatePHMAccount runs one opened voucher's transaction.
func (s *PHMService) UpdatePHMAccount(ctx context.Context, account string, epoch uint32, voucher [vigil.PHMVoucherIDLen]byte, fn func(a *vigil.PHMAccount) (*vigil.AuditRecord, error)) (bool, error) {
	if err := vigil.ValidatePHMAccount(account); err != nil {
		return false, err
	}
	counted := false
	err := s.db.WriteAudited(ctx, nil, func(tx Querier) error {
		var one int
		err := tx.QueryRowContext(ctx, `SELECT 1 FROM phm_vouchers WHERE account = ? AND epoch = ? AND voucher_id = ?`, account, int64(epoch), voucher[:]).Scan(&one)
		if err == nil {
			return nil // a replay
		} else if !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		a, err := loadPHMAccount(ctx, tx, account, epoch)
		if errors.Is(err, sql.ErrNoRows) {
			a = &vigil.PHMAccount{Account: account, Epoch: epoch}
		} else if err != nil {
			return err
		}
		pending := map[[vigil.PHMVoucherIDLen]byte]bool{}
		for _, v := range a.Pending {
			pending[v.ID] = true
		}
		rec, err := fn(a)
		if err != nil {
			return err
		}
		if err := vigil.ValidatePHMChanges(a, voucher, pending); err != nil {
			return err
		}
		now := s.db.Now()
		for _, c := range a.Changes {
			var data []byte
			if len(c.Data) > 0 {
				data = c.Data
			}
			if pending[c.ID] {
				_, err = tx.ExecContext(ctx, `UPDATE phm_vouchers SET state = ?, data = ? WHERE account = ? AND epoch = ? AND voucher_id = ?`,
					string(c.State), data, account, int64(epoch), c.ID[:])
			} else {
				counted = true
				_, err = tx.ExecContext(ctx, `INSERT INTO phm_vouchers (account, epoch, voucher_id, n, state, data, opened_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
					account, int64(epoch), c.ID[:], c.N, string(c.State), data, FormatTime(now))
			}
			if err != nil {
				return fmt.Errorf("store voucher: %w", err)
			}
		}
		var recovered any
		if a.RecoveredAt != nil {
			recovered = FormatTime(*a.RecoveredAt)
		}
		var key []byte
		if len(a.Key) > 0 {
			key = a.Key
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO phm_accounts (account, epoch, positives, account_key, recovered_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (account, epoch) DO UPDATE SET positives = excluded.positives, account_key = excluded.account_key,
				recovered_at = excluded.recovered_at, updated_at = excluded.updated_at`,
			account, int64(epoch), a.Positives, key, recovered, FormatTime(now)); err != nil {
			return fmt.Errorf("store account: %w", err)
		}
		if rec != nil {
			if err := AppendAudit(ctx, tx, now, rec); err != nil {
				return fmt.Errorf("audit %s %s: %w", rec.Action, rec.Target, err)
			}
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("update PHM account %s: %w", vigil.PHMTarget(account, epoch), err)
	}
	return counted, nil
}

// loadPHMAccount reads an account's state with its pending vouchers, or
// sql.ErrNoRows.
func loadPHMAccount(ctx context.Context, q Querier, account string, epoch uint32) (*vigil.PHMAccount, error) {
	a := &vigil.PHMAccount{Account: account, Epoch: epoch}
	var recovered sql.NullString
	if err := q.QueryRowContext(ctx, `SELECT positives, account_key, recovered_at FROM phm_accounts WHERE account = ? AND epoch = ?`,
		account, int64(epoch)).Scan(&a.Positives, &a.Key, &recovered); err != nil {
		return nil, err
	}
	var err error
	if a.RecoveredAt, err = ParseNullTime(recovered); err != nil {
		return nil, err
	}
	a.Pending, err = QueryAll(ctx, q, scanPHMVoucher,
		`SELECT voucher_id, state, data, n FROM phm_vouchers WHERE account = ? AND epoch = ? AND state = 'pending' ORDER BY n`, account, int64(epoch))
	if err != nil {
		return nil, fmt.Errorf("pending vouchers: %w", err)
	}
	return a, nil
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
func (s *PHMService) MarkPHMHandled(ctx context.Context, account string, epoch uint32, ids [][vigil.PHMVoucherIDLen]byte) error {
	if len(ids) > vigil.MaxPHMPending+1 {
		return vigil.Errorf(vigil.ETOOLARGE, "more than %d vouchers at a time", vigil.MaxPHMPending+1)
	}
	err := s.db.Write(ctx, func(tx Querier) error {
		for _, id := range ids {
			if _, err := tx.ExecContext(ctx, `UPDATE phm_vouchers SET state = 'handled', data = NULL WHERE account = ? AND epoch = ? AND voucher_id = ? AND state = 'revealed'`,
				account, int64(epoch), id[:]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("mark PHM vouchers of %s handled: %w", vigil.PHMTarget(account, epoch), err)
	}
	return nil
}
