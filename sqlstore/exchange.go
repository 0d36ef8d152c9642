package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/vigil-oss/vigil"
)

// ExchangeService implements vigil.ExchangeService.
type ExchangeService struct {
	db DB
}

// NewExchangeService returns an ExchangeService on db.
func NewExchangeService(db DB) *ExchangeService { return &ExchangeService{db: db} }

var _ vigil.ExchangeService = (*ExchangeService)(nil)

// ExchangeCursor returns the saved cursor, "" if none.
func (s *ExchangeService) ExchangeCursor(ctx context.Context, exchange string, bankID int64) (string, error) {
	var cur string
	err := s.db.Reader().QueryRowContext(ctx, `SELECT cursor FROM exchange_cursors WHERE exchange = ? AND bank_id = ?`, exchange, bankID).Scan(&cur)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("cursor of %s into bank %d: %w", exchange, bankID, err)
	}
	return cur, nil
}

// SetExchangeCursor saves a cursor.
func (s *ExchangeService) SetExchangeCursor(ctx context.Context, exchange string, bankID int64, cursor string) error {
	if err := vigil.ValidateExchangeName(exchange); err != nil {
		return err
	}
	if len(cursor) > vigil.MaxExchangeCursorLen {
		return vigil.Errorf(vigil.EINVALID, "exchange cursor longer than %d bytes", vigil.MaxExchangeCursorLen)
	}
	err := s.db.Write(ctx, func(tx Querier) error {
		var one int
		if err := tx.QueryRowContext(ctx, `SELECT 1 FROM banks WHERE id = ?`, bankID).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return vigil.Errorf(vigil.ENOTFOUND, "bank %d not found", bankID)
		} else if err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO exchange_cursors (exchange, bank_id, cursor, updated_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (exchange, bank_id) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at`,
			exchange, bankID, cursor, FormatTime(s.db.Now()))
		return err
	})
	if err != nil {
		return fmt.Errorf("save cursor of %s into bank %d: %w", exchange, bankID, err)
	}
	return nil
}

// ExchangeOpinions returns the opinions not yet sent, or changed since.
func (s *ExchangeService) ExchangeOpinions(ctx context.Context, exchange string, bankID, afterID int64, limit int) ([]vigil.ExchangeOpinion, error) {
	out, err := QueryAll(ctx, s.db.Reader(), func(row Scanner) (vigil.ExchangeOpinion, error) {
		var o vigil.ExchangeOpinion
		err := row.Scan(&o.EntryID, &o.SignalType, &o.SourceEntryID, &o.Confirmed, &o.FalsePositives)
		return o, err
	}, exchangeOpinionsQuery, exchange, bankID, exchange, afterID, min(PageLimit(limit), vigil.MaxFeedbackOpinions))
	if err != nil {
		return nil, fmt.Errorf("opinions for %s of bank %d: %w", exchange, bankID, err)
	}
	return out, nil
}

// exchangeOpinionsQuery is the same in both dialects.
const exchangeOpinionsQuery = `SELECT st.entry_id, e.signal_type, e.source_entry_id, st.confirmed, st.false_positives
	FROM entry_stats st
	JOIN entries e ON e.id = st.entry_id
	LEFT JOIN exchange_opinions f ON f.exchange = ? AND f.entry_id = st.entry_id
	WHERE st.bank_id = ? AND e.source = ? AND st.entry_id > ?
		AND (st.confirmed > 0 OR st.false_positives > 0)
		AND (f.entry_id IS NULL OR f.confirmed <> st.confirmed OR f.false_positives <> st.false_positives)
	ORDER BY st.entry_id LIMIT ?`

// MarkExchangeOpinionsSent records the counts sent.
func (s *ExchangeService) MarkExchangeOpinionsSent(ctx context.Context, exchange string, ops []vigil.ExchangeOpinion) error {
	if err := vigil.ValidateExchangeName(exchange); err != nil {
		return err
	}
	if len(ops) > vigil.MaxFeedbackOpinions {
		return vigil.Errorf(vigil.ETOOLARGE, "more than %d opinions at a time", vigil.MaxFeedbackOpinions)
	}
	now := FormatTime(s.db.Now())
	err := s.db.Write(ctx, func(tx Querier) error {
		for _, o := range ops {
			if o.Confirmed < 0 || o.FalsePositives < 0 {
				return vigil.Errorf(vigil.EINVALID, "negative review counts")
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO exchange_opinions (exchange, entry_id, confirmed, false_positives, sent_at) VALUES (?, ?, ?, ?, ?)
				ON CONFLICT (exchange, entry_id) DO UPDATE SET confirmed = excluded.confirmed, false_positives = excluded.false_positives, sent_at = excluded.sent_at`,
				exchange, o.EntryID, o.Confirmed, o.FalsePositives, now)
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("mark opinions sent to %s: %w", exchange, err)
	}
	return nil
}
