package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/vigil-oss/vigil"
)

var _ vigil.PHMInbox = (*PHMService)(nil)

// GroupedWriter is a dialect hook of the PHM inbox: a store whose writes
// are serialised (SQLite) runs small writes made at once in one shared
// transaction, so that many requests pay one commit. fn may run more than
// once and must set its results afresh each time.
type GroupedWriter interface {
	WriteGrouped(ctx context.Context, fn func(tx Querier) error) error
}

// SecureDeleter is a dialect hook of the PHM inbox: a store that can
// overwrite the bytes of the rows it deletes (SQLite's secure_delete)
// runs fn in a write transaction that does so.
type SecureDeleter interface {
	WriteSecureDelete(ctx context.Context, fn func(tx Querier) error) error
}

// AppendPHMInbox stores an account's vouchers at the inbox's end.
func (s *PHMService) AppendPHMInbox(ctx context.Context, account string, vouchers [][]byte, max int) error {
	if err := vigil.ValidatePHMAccount(account); err != nil {
		return err
	}
	if len(vouchers) > vigil.MaxPHMInboxAppend {
		return vigil.Errorf(vigil.ETOOLARGE, "more than %d vouchers in one append to the PHM inbox", vigil.MaxPHMInboxAppend)
	}
	for i, v := range vouchers {
		if len(v) == 0 || len(v) > vigil.MaxPHMInboxVoucherLen {
			return vigil.Errorf(vigil.EINVALID, "PHM voucher %d of %d bytes, want 1 to %d", i+1, len(v), vigil.MaxPHMInboxVoucherLen)
		}
	}
	if len(vouchers) == 0 {
		return nil
	}
	now := FormatTime(s.db.Now())
	fn := func(tx Querier) error {
		if max > 0 {
			// Counted up to the bound only: the check costs the same
			// however full the inbox is past it.
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM phm_inbox LIMIT ?) AS q`, max+1).Scan(&n); err != nil {
				return fmt.Errorf("count inbox: %w", err)
			}
			if n+len(vouchers) > max {
				return vigil.Errorf(vigil.EUNAVAILABLE, "the PHM inbox is full (%d vouchers); try again later", max)
			}
		}
		for _, v := range vouchers {
			if _, err := tx.ExecContext(ctx, `INSERT INTO phm_inbox (account, voucher, received_at) VALUES (?, ?, ?)`, account, v, now); err != nil {
				return fmt.Errorf("store voucher: %w", err)
			}
		}
		return nil
	}
	var err error
	if g, ok := s.db.(GroupedWriter); ok {
		err = g.WriteGrouped(ctx, fn)
	} else {
		err = s.db.WriteAudited(ctx, nil, fn)
	}
	if err != nil {
		if vigil.ErrorCode(err) == vigil.EUNAVAILABLE {
			return err
		}
		return fmt.Errorf("append %d vouchers of %s to the PHM inbox: %w", len(vouchers), account, err)
	}
	return nil
}

// PHMInboxNext returns the vouchers due at now, oldest first.
func (s *PHMService) PHMInboxNext(ctx context.Context, now time.Time, limit int) ([]vigil.PHMInboxItem, error) {
	out, err := QueryAll(ctx, s.db.Reader(), func(row Scanner) (vigil.PHMInboxItem, error) {
		var it vigil.PHMInboxItem
		err := row.Scan(&it.ID, &it.Account, &it.Voucher, &it.Attempts)
		return it, err
	}, `SELECT id, account, voucher, attempts FROM phm_inbox WHERE retry_at IS NULL OR retry_at <= ? ORDER BY id LIMIT ?`,
		FormatTime(now), PageLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("PHM inbox: %w", err)
	}
	return out, nil
}

// DeletePHMInbox removes processed vouchers.
func (s *PHMService) DeletePHMInbox(ctx context.Context, ids []int64) error {
	if len(ids) == 0 {
		return nil
	}
	if len(ids) > vigil.MaxEntryLimit {
		return vigil.Errorf(vigil.ETOOLARGE, "more than %d PHM inbox rows at a time", vigil.MaxEntryLimit)
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	fn := func(tx Querier) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM phm_inbox WHERE id IN (`+Placeholders(len(ids))+`)`, args...)
		return err
	}
	var err error
	if d, ok := s.db.(SecureDeleter); ok {
		err = d.WriteSecureDelete(ctx, fn)
	} else {
		err = s.db.WriteAudited(ctx, nil, fn)
	}
	if err != nil {
		return fmt.Errorf("delete %d PHM inbox rows: %w", len(ids), err)
	}
	return nil
}

// DeferPHMInbox records a failed attempt at a voucher.
func (s *PHMService) DeferPHMInbox(ctx context.Context, id int64, until time.Time) error {
	err := s.db.WriteAudited(ctx, nil, func(tx Querier) error {
		r, err := tx.ExecContext(ctx, `UPDATE phm_inbox SET attempts = attempts + 1, retry_at = ? WHERE id = ?`, FormatTime(until), id)
		if err != nil {
			return err
		}
		if n, err := r.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return vigil.Errorf(vigil.ENOTFOUND, "PHM inbox row %d not found", id)
		}
		return nil
	})
	if err != nil {
		if vigil.ErrorCode(err) == vigil.ENOTFOUND {
			return err
		}
		return fmt.Errorf("defer PHM inbox row %d: %w", id, err)
	}
	return nil
}

// PHMInboxDepth returns the vouchers in the inbox and their bytes.
func (s *PHMService) PHMInboxDepth(ctx context.Context) (int, int64, error) {
	var (
		n     int
		bytes sql.NullInt64
	)
	if err := s.db.Reader().QueryRowContext(ctx, `SELECT COUNT(*), SUM(LENGTH(voucher)) FROM phm_inbox`).Scan(&n, &bytes); err != nil {
		return 0, 0, fmt.Errorf("PHM inbox depth: %w", err)
	}
	return n, bytes.Int64, nil
}
