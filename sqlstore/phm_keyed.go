package sqlstore

import (
	"bytes"
	"context"
	"fmt"
	"slices"

	"github.com/vigil-oss/vigil"
)

var _ vigil.PHMKeyedHashService = (*PHMService)(nil)

// checkKeyedIDs checks a call's key id and entry ids, and returns the ids
// as query arguments after keyID.
func checkKeyedIDs(keyID string, ids []int64) ([]any, error) {
	if err := vigil.ValidatePHMKeyID(keyID); err != nil {
		return nil, err
	}
	if len(ids) > vigil.MaxPHMKeyedHashes {
		return nil, vigil.Errorf(vigil.ETOOLARGE, "more than %d PHM keyed hashes at a time", vigil.MaxPHMKeyedHashes)
	}
	args := make([]any, 0, 1+len(ids))
	args = append(args, keyID)
	for _, id := range ids {
		args = append(args, id)
	}
	return args, nil
}

// PutPHMKeyedHashes stores keyed hashes of entries under keyID, with
// their audit record in the same transaction.
func (s *PHMService) PutPHMKeyedHashes(ctx context.Context, by, keyID string, hashes []vigil.PHMKeyedHash) (int, error) {
	if err := ValidateActor("PHM keyed hashes", by); err != nil {
		return 0, err
	}
	if len(hashes) == 0 {
		return 0, vigil.Errorf(vigil.EINVALID, "no PHM keyed hashes to store")
	}
	ids := make([]int64, len(hashes))
	for i, h := range hashes {
		ids[i] = h.EntryID
	}
	args, err := checkKeyedIDs(keyID, ids)
	if err != nil {
		return 0, err
	}
	sorted := slices.Clone(ids)
	slices.Sort(sorted)
	if len(slices.Compact(sorted)) != len(ids) {
		return 0, vigil.Errorf(vigil.EINVALID, "an entry given twice among the PHM keyed hashes")
	}
	in := Placeholders(len(ids))
	var changed []int64
	err = s.db.WriteAudited(ctx, nil, func(tx Querier) error {
		found, err := QueryAll(ctx, tx, scanInt64, `SELECT id FROM entries WHERE id IN (`+in+`)`, args[1:]...)
		if err != nil {
			return fmt.Errorf("find entries: %w", err)
		}
		if len(found) != len(ids) {
			have := map[int64]bool{}
			for _, id := range found {
				have[id] = true
			}
			for _, id := range ids {
				if !have[id] {
					return vigil.Errorf(vigil.ENOTFOUND, "entry %d not found", id)
				}
			}
		}
		old, err := readKeyed(ctx, tx, in, args)
		if err != nil {
			return err
		}
		now := s.db.Now()
		changed = changed[:0] // set afresh should the store run this again
		for _, h := range hashes {
			if o, ok := old[h.EntryID]; ok && bytes.Equal(o.Hash[:], h.Hash[:]) {
				continue // the same picture keyed again: nothing changes
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO phm_keyed_hashes (entry_id, key_id, keyed_hash, created_at) VALUES (?, ?, ?, ?)
				ON CONFLICT (key_id, entry_id) DO UPDATE SET keyed_hash = excluded.keyed_hash, created_at = excluded.created_at`,
				h.EntryID, keyID, h.Hash[:], FormatTime(now)); err != nil {
				return fmt.Errorf("store keyed hash of entry %d: %w", h.EntryID, err)
			}
			changed = append(changed, h.EntryID)
		}
		if len(changed) == 0 {
			return nil
		}
		rec := &vigil.AuditRecord{Actor: by, Action: vigil.AuditPHMKeyedHashes, Target: vigil.PHMKeyTarget(keyID)}
		if err := rec.SetDetail(map[string]any{"entries": changed, "count": len(changed)}); err != nil {
			return err
		}
		return AppendAudit(ctx, tx, now, rec)
	})
	if err != nil {
		return 0, fmt.Errorf("store PHM keyed hashes under %s: %w", keyID, err)
	}
	return len(changed), nil
}

// PHMKeyedHashes returns the keyed hashes under keyID of those of
// entryIDs that have one.
func (s *PHMService) PHMKeyedHashes(ctx context.Context, keyID string, entryIDs []int64) (map[int64]vigil.PHMKeyedHash, error) {
	args, err := checkKeyedIDs(keyID, entryIDs)
	if err != nil {
		return nil, err
	}
	if len(entryIDs) == 0 {
		return map[int64]vigil.PHMKeyedHash{}, nil
	}
	out, err := readKeyed(ctx, s.db.Reader(), Placeholders(len(entryIDs)), args)
	if err != nil {
		return nil, fmt.Errorf("PHM keyed hashes under %s: %w", keyID, err)
	}
	return out, nil
}

// readKeyed reads the keyed hashes of args (the key id, then the entry
// ids that in holds the placeholders of).
func readKeyed(ctx context.Context, q Querier, in string, args []any) (map[int64]vigil.PHMKeyedHash, error) {
	rows, err := QueryAll(ctx, q, func(row Scanner) (vigil.PHMKeyedHash, error) {
		var (
			h       vigil.PHMKeyedHash
			b       []byte
			created string
		)
		if err := row.Scan(&h.EntryID, &b, &created); err != nil {
			return h, err
		}
		if len(b) != vigil.PHMKeyedHashLen {
			return h, fmt.Errorf("stored keyed hash of entry %d is %d bytes", h.EntryID, len(b))
		}
		h.Hash = [vigil.PHMKeyedHashLen]byte(b)
		var err error
		h.CreatedAt, err = ParseTime(created)
		return h, err
	}, `SELECT entry_id, keyed_hash, created_at FROM phm_keyed_hashes WHERE key_id = ? AND entry_id IN (`+in+`)`, args...)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]vigil.PHMKeyedHash, len(rows))
	for _, h := range rows {
		out[h.EntryID] = h
	}
	return out, nil
}

func scanInt64(row Scanner) (int64, error) {
	var v int64
	err := row.Scan(&v)
	return v, err
}
