package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/vigil-oss/vigil"
)

// Ensure ContentItemService implements the interface.
var _ vigil.ContentItemService = (*ContentItemService)(nil)

// ContentItemService stores content items (HMA's bank content).
type ContentItemService struct {
	db DB
}

// NewContentItemService returns a ContentItemService on db.
func NewContentItemService(db DB) *ContentItemService {
	return &ContentItemService{db: db}
}

const itemColumns = `id, bank_id, disable_until, note, metadata, added_by, added_at, updated_at`

// AddContentItem stores an item and its entries, never merged with others.
func (s *ContentItemService) AddContentItem(ctx context.Context, bankID int64, by string, item *vigil.ContentItem) error {
	if err := ValidateActor("banks", by); err != nil {
		return err
	}
	if len(item.Entries) == 0 || len(item.Entries) > vigil.MaxContentSignals {
		return vigil.Errorf(vigil.EINVALID, "a content item holds 1 to %d signals", vigil.MaxContentSignals)
	}
	if err := item.Validate(); err != nil {
		return err
	}
	for i, e := range item.Entries {
		e.AddedBy = by
		if err := e.Validate(); err != nil {
			return EntryError(i+1, err)
		}
	}
	now := s.db.Now()
	err := s.db.Write(ctx, func(tx Querier) error {
		bank, err := FindBank(ctx, tx, "id = ?", bankID)
		if errors.Is(err, sql.ErrNoRows) {
			return vigil.Errorf(vigil.ENOTFOUND, "bank %d not found", bankID)
		} else if err != nil {
			return err
		}
		seq, err := s.db.NextSeq(ctx, tx, int64(len(item.Entries)))
		if err != nil {
			return err
		}
		// item_id is set on every entry, the first included, so that none
		// of them falls under the active-value unique index: 0 stands in
		// for the first entry's id until it is known.
		item.ID = 0
		for i, e := range item.Entries {
			if err := tx.QueryRowContext(ctx, `
				INSERT INTO entries (bank_id, signal_type, value, source, source_entry_id, category, added_by, added_at, seq, item_id)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
				RETURNING id`,
				bankID, e.SignalType, EncodeValue(e.SignalType, e.Value), e.Source, e.SourceEntryID, e.Category,
				by, FormatTime(now), seq+int64(i), item.ID).Scan(&e.ID); err != nil {
				return fmt.Errorf("insert entry %d: %w", i+1, err)
			}
			if i == 0 {
				item.ID = e.ID
				if _, err := tx.ExecContext(ctx, `UPDATE entries SET item_id = id WHERE id = ?`, e.ID); err != nil {
					return err
				}
			}
			e.BankID, e.BankName, e.AddedAt, e.Seq = bankID, bank.Name, now, seq+int64(i)
		}
		if _, err := tx.ExecContext(ctx, `
			INSERT INTO content_items (id, bank_id, disable_until, note, metadata, added_by, added_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			item.ID, bankID, item.DisableUntil, item.Note, nullText(item.Metadata), by, FormatTime(now), FormatTime(now)); err != nil {
			return fmt.Errorf("insert item: %w", err)
		}
		if _, err := BumpBank(ctx, tx, bankID, int64(len(item.Entries)), FormatTime(now)); err != nil {
			return err
		}
		return vigil.AuditResult(ctx, map[string]any{"item_id": item.ID, "entries": len(item.Entries)})
	})
	if err != nil {
		return fmt.Errorf("add content item to bank %d: %w", bankID, err)
	}
	item.BankID, item.AddedBy, item.AddedAt, item.UpdatedAt = bankID, by, now, now
	return nil
}

// FindContentItem returns an item with all of its entries.
func (s *ContentItemService) FindContentItem(ctx context.Context, id int64) (*vigil.ContentItem, error) {
	var item *vigil.ContentItem
	err := s.db.Read(ctx, func(tx Querier) error {
		var err error
		item, err = findItem(ctx, tx, id)
		return err
	})
	if vigil.ErrorCode(err) == vigil.ENOTFOUND {
		return nil, err
	} else if err != nil {
		return nil, fmt.Errorf("find content item %d: %w", id, err)
	}
	return item, nil
}

// findItem reads an item and its entries; ENOTFOUND for an unknown id.
func findItem(ctx context.Context, tx Querier, id int64) (*vigil.ContentItem, error) {
	item, err := scanItem(tx.QueryRowContext(ctx, `SELECT `+itemColumns+` FROM content_items WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, vigil.Errorf(vigil.ENOTFOUND, "content item %d not found", id)
	} else if err != nil {
		return nil, err
	}
	if item.Entries, err = QueryAll(ctx, tx, ScanEntry, `SELECT `+EntryColumns+` FROM entries WHERE item_id = ? ORDER BY id`, id); err != nil {
		return nil, err
	}
	var name string
	if err := tx.QueryRowContext(ctx, `SELECT name FROM banks WHERE id = ?`, item.BankID).Scan(&name); err != nil {
		return nil, err
	}
	for _, e := range item.Entries {
		e.BankName = name
	}
	return item, nil
}

// itemLookupChunk bounds the ids bound in one query.
const itemLookupChunk = 500

// FindContentItemsByEntry maps entries to the items they belong to.
func (s *ContentItemService) FindContentItemsByEntry(ctx context.Context, entryIDs []int64) (map[int64]*vigil.ContentItem, error) {
	out := map[int64]*vigil.ContentItem{}
	err := s.db.Read(ctx, func(tx Querier) error {
		for len(entryIDs) > 0 {
			chunk := entryIDs[:min(len(entryIDs), itemLookupChunk)]
			entryIDs = entryIDs[len(chunk):]
			args := make([]any, len(chunk))
			for i, id := range chunk {
				args[i] = id
			}
			rows, err := tx.QueryContext(ctx, `
				SELECT e.id, i.id, i.bank_id, i.disable_until, i.note, i.metadata, i.added_by, i.added_at, i.updated_at
				FROM entries e JOIN content_items i ON i.id = e.item_id
				WHERE e.id IN (?`+strings.Repeat(",?", len(chunk)-1)+`)`, args...)
			if err != nil {
				return err
			}
			items := map[int64]*vigil.ContentItem{} // one value per item
			for rows.Next() {
				var entryID int64
				var sc itemScan
				if err := rows.Scan(append([]any{&entryID}, sc.dest()...)...); err != nil {
					rows.Close()
					return err
				}
				item, err := sc.read()
				if err != nil {
					rows.Close()
					return err
				}
				if held, ok := items[item.ID]; ok {
					item = held
				}
				items[item.ID], out[entryID] = item, item
			}
			if err := rows.Close(); err != nil {
				return err
			}
			if err := rows.Err(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("find content items by entry: %w", err)
	}
	return out, nil
}

// UpdateContentItem changes an item's disable_until and note.
func (s *ContentItemService) UpdateContentItem(ctx context.Context, id int64, upd vigil.ContentItemUpdate) (*vigil.ContentItem, error) {
	var item *vigil.ContentItem
	err := s.db.Write(ctx, func(tx Querier) error {
		var err error
		if item, err = findItem(ctx, tx, id); err != nil {
			return err
		}
		if upd.DisableUntil != nil {
			item.DisableUntil = *upd.DisableUntil
		}
		if upd.Note != nil {
			item.Note = *upd.Note
		}
		if err := item.Validate(); err != nil {
			return err
		}
		item.UpdatedAt = s.db.Now()
		_, err = tx.ExecContext(ctx, `UPDATE content_items SET disable_until = ?, note = ?, updated_at = ? WHERE id = ?`,
			item.DisableUntil, item.Note, FormatTime(item.UpdatedAt), id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("update content item %d: %w", id, err)
	}
	return item, nil
}

// RetractContentItem retracts an item's active entries.
func (s *ContentItemService) RetractContentItem(ctx context.Context, id int64, by, reason string) (*vigil.ContentItem, error) {
	if err := ValidateActor("banks", by); err != nil {
		return nil, err
	}
	if err := vigil.ValidateRetractReason(reason); err != nil {
		return nil, err
	}
	now := s.db.Now()
	var item *vigil.ContentItem
	err := s.db.Write(ctx, func(tx Querier) error {
		var err error
		if item, err = findItem(ctx, tx, id); err != nil {
			return err
		}
		var active []*vigil.Entry
		for _, e := range item.Entries {
			if !e.Retracted() {
				active = append(active, e)
			}
		}
		if len(active) == 0 {
			return vigil.Errorf(vigil.ECONFLICT, "content item %d is already retracted", id)
		}
		seq, err := s.db.NextSeq(ctx, tx, int64(len(active)))
		if err != nil {
			return err
		}
		for i, e := range active {
			e.Seq = seq + int64(i)
			e.RetractedAt, e.RetractedBy, e.RetractReason = &now, by, reason
			if _, err := tx.ExecContext(ctx, `
				UPDATE entries SET retracted_at = ?, retracted_by = ?, retract_reason = ?, seq = ?
				WHERE id = ?`, FormatTime(now), by, reason, e.Seq, e.ID); err != nil {
				return err
			}
		}
		_, err = BumpBank(ctx, tx, item.BankID, -int64(len(active)), FormatTime(now))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("retract content item %d: %w", id, err)
	}
	return item, nil
}

// itemScan holds the columns of itemColumns as scanned.
type itemScan struct {
	item               vigil.ContentItem
	metadata           sql.NullString
	addedAt, updatedAt string
}

func (sc *itemScan) dest() []any {
	i := &sc.item
	return []any{&i.ID, &i.BankID, &i.DisableUntil, &i.Note, &sc.metadata, &i.AddedBy, &sc.addedAt, &sc.updatedAt}
}

func (sc *itemScan) read() (*vigil.ContentItem, error) {
	item := sc.item
	if sc.metadata.Valid {
		item.Metadata = json.RawMessage(sc.metadata.String)
	}
	var err error
	if item.AddedAt, err = ParseTime(sc.addedAt); err != nil {
		return nil, err
	}
	if item.UpdatedAt, err = ParseTime(sc.updatedAt); err != nil {
		return nil, err
	}
	return &item, nil
}

func scanItem(row Scanner) (*vigil.ContentItem, error) {
	var sc itemScan
	if err := row.Scan(sc.dest()...); err != nil {
		return nil, err
	}
	return sc.read()
}

// nullText stores nil JSON as NULL.
func nullText(v json.RawMessage) any {
	if v == nil {
		return nil
	}
	return string(v)
}
