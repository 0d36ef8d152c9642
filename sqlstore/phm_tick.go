package sqlstore

import (
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/vigil-oss/vigil"
)

// PHMDue returns the accounts due for the hand-off grid, the
// longest-waiting first.
func (s *PHMService) PHMDue(ctx context.Context, limit int) ([]vigil.PHMDueAccount, error) {
	out, err := QueryAll(ctx, s.db.Reader(), func(row Scanner) (vigil.PHMDueAccount, error) {
		var (
			d     vigil.PHMDueAccount
			epoch int64
		)
		err := row.Scan(&d.Account, &epoch)
		d.Epoch = uint32(epoch)
		return d, err
	}, `SELECT account, epoch FROM phm_accounts WHERE due = 1 ORDER BY updated_at, account, epoch LIMIT ?`, PageLimit(limit))
	if err != nil {
		return nil, fmt.Errorf("due PHM accounts: %w", err)
	}
	return out, nil
}

// RecoverPHMAccount runs a due account's turn of the hand-off grid in one
// transaction: its state, fn, the changes of its pending vouchers, its
// row and fn's audit record.
func (s *PHMService) RecoverPHMAccount(ctx context.Context, account string, epoch uint32, fn func(a *vigil.PHMAccount) (*vigil.AuditRecord, error)) error {
	if err := vigil.ValidatePHMAccount(account); err != nil {
		return err
	}
	err := s.db.WriteAudited(ctx, nil, func(tx Querier) error {
		at := s.db.Now()
		now := FormatTime(at)
		a, err := loadPHMAccount(ctx, tx, account, epoch)
		if errors.Is(err, sql.ErrNoRows) {
			return vigil.Errorf(vigil.ENOTFOUND, "PHM account %s not found", vigil.PHMTarget(account, epoch))
		}
		if err != nil {
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
		// The zero id is never submitted here: every change must name a
		// pending voucher.
		var none [vigil.PHMVoucherIDLen]byte
		delete(pending, none)
		if err := vigil.ValidatePHMChanges(a, none, pending); err != nil {
			return err
		}
		for _, c := range a.Changes {
			if !pending[c.ID] {
				return vigil.Errorf(vigil.EINVALID, "PHM recovery changes a voucher that is not pending")
			}
			var data []byte
			if len(c.Data) > 0 {
				data = c.Data
			}
			if _, err := tx.ExecContext(ctx, `UPDATE phm_vouchers SET state = ?, data = ? WHERE account = ? AND epoch = ? AND voucher_id = ?`,
				string(c.State), data, account, int64(epoch), c.ID[:]); err != nil {
				return fmt.Errorf("store voucher: %w", err)
			}
		}
		if err := writePHMAccount(ctx, tx, a, now); err != nil {
			return err
		}
		if err := checkChaff(a.Chaff, true); err != nil {
			return err
		}
		if err := s.chaffRows(ctx, tx, a.Chaff); err != nil {
			return err
		}
		if rec != nil {
			if err := AppendAudit(ctx, tx, at, rec); err != nil {
				return fmt.Errorf("audit %s %s: %w", rec.Action, rec.Target, err)
			}
		}
		return nil
	})
	if err != nil {
		if c := vigil.ErrorCode(err); c == vigil.ENOTFOUND || c == vigil.EINVALID {
			return err
		}
		return fmt.Errorf("recover PHM account %s: %w", vigil.PHMTarget(account, epoch), err)
	}
	return nil
}

// WritePHMChaff writes rows of random bytes of sizes into the chaff ring,
// at consecutive slots from a random one, in one transaction.
func (s *PHMService) WritePHMChaff(ctx context.Context, sizes []int) error {
	if err := checkChaff(sizes, false); err != nil {
		return err
	}
	if err := s.db.WriteAudited(ctx, nil, func(tx Querier) error { return s.chaffRows(ctx, tx, sizes) }); err != nil {
		return fmt.Errorf("write %d PHM chaff rows: %w", len(sizes), err)
	}
	return nil
}

// checkChaff checks chaff row sizes against the limits (none: whether
// that may be).
func checkChaff(sizes []int, none bool) error {
	if (len(sizes) == 0 && !none) || len(sizes) > vigil.MaxPHMChaffRows {
		return vigil.Errorf(vigil.EINVALID, "%d PHM chaff rows, want 1 to %d", len(sizes), vigil.MaxPHMChaffRows)
	}
	for _, n := range sizes {
		if n < 0 || n > vigil.MaxPHMDataLen+64 {
			return vigil.Errorf(vigil.EINVALID, "a PHM chaff row of %d bytes, want 0 to %d", n, vigil.MaxPHMDataLen+64)
		}
	}
	return nil
}

// chaffRows writes rows of random bytes of sizes into the ring in tx, at
// consecutive slots from a random one.
func (s *PHMService) chaffRows(ctx context.Context, tx Querier, sizes []int) error {
	if len(sizes) == 0 {
		return nil
	}
	var b [8]byte
	if _, err := io.ReadFull(s.db.Rand(), b[:]); err != nil {
		return fmt.Errorf("chaff: %w", err)
	}
	base := int64(binary.BigEndian.Uint64(b[:]) % vigil.PHMChaffSlots)
	for i, n := range sizes {
		data := make([]byte, n)
		if _, err := io.ReadFull(s.db.Rand(), data); err != nil {
			return fmt.Errorf("chaff: %w", err)
		}
		slot := (base + int64(i)) % vigil.PHMChaffSlots
		if _, err := tx.ExecContext(ctx, `INSERT INTO phm_chaff (slot, data) VALUES (?, ?) ON CONFLICT (slot) DO UPDATE SET data = excluded.data`,
			slot, data); err != nil {
			return fmt.Errorf("chaff: %w", err)
		}
	}
	return nil
}
