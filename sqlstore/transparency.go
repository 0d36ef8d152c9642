package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/vigil-oss/vigil"
)

// TransparencyService computes the transparency figures with aggregate
// queries and keeps the items-checked counters.
type TransparencyService struct {
	db DB
}

// NewTransparencyService returns the transparency figures of db.
func NewTransparencyService(db DB) *TransparencyService { return &TransparencyService{db: db} }

var _ vigil.TransparencyService = (*TransparencyService)(nil)

// dayFormat is the day of the items-checked counters.
const dayFormat = "2006-01-02"

// CountChecked adds counts to day's counters, in one transaction.
func (s *TransparencyService) CountChecked(ctx context.Context, day time.Time, counts map[string]int64) error {
	d := day.UTC().Format(dayFormat)
	err := s.db.Write(ctx, func(tx Querier) error {
		for kind, n := range counts {
			if n == 0 {
				continue
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO checked_daily (day, kind, n) VALUES (?, ?, ?)
				ON CONFLICT (day, kind) DO UPDATE SET n = checked_daily.n + excluded.n`, d, kind, n); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("count items checked: %w", err)
	}
	return nil
}

// Transparency computes the figures of [from, to) in one read transaction.
func (s *TransparencyService) Transparency(ctx context.Context, from, to time.Time) (*vigil.Transparency, error) {
	if err := vigil.ValidatePeriod(from, to); err != nil {
		return nil, err
	}
	f, t := FormatTime(from), FormatTime(to)
	firstDay, lastDay := from.UTC().Format(dayFormat), to.UTC().Add(-time.Nanosecond).Format(dayFormat)
	out := &vigil.Transparency{From: from.UTC(), To: to.UTC()}
	err := s.db.Read(ctx, func(tx Querier) error {
		var err error
		// Counters are by day: a period covers the days it touches.
		if out.ItemsChecked, err = counts(ctx, tx, `SELECT kind, CAST(SUM(n) AS BIGINT) FROM checked_daily WHERE day >= ? AND day <= ? GROUP BY kind ORDER BY kind`,
			firstDay, lastDay); err != nil {
			return err
		}
		if out.HostedLookups, err = counts(ctx, tx, `SELECT 'key:' || CAST(key_id AS TEXT), CAST(SUM(lookups) AS BIGINT) FROM lookup_counts WHERE day >= ? AND day <= ? GROUP BY key_id ORDER BY key_id`,
			firstDay, lastDay); err != nil {
			return err
		}
		if out.MatchesByBank, err = counts(ctx, tx, `
			SELECT b.name, COUNT(*) FROM cases c JOIN case_entries ce ON ce.case_id = c.id JOIN banks b ON b.id = ce.bank_id
			WHERE c.created_at >= ? AND c.created_at < ? GROUP BY b.name ORDER BY b.name`, f, t); err != nil {
			return err
		}
		if out.MatchesBySource, err = counts(ctx, tx, `
			SELECT e.source, COUNT(*) FROM cases c JOIN case_entries ce ON ce.case_id = c.id JOIN entries e ON e.id = ce.entry_id
			WHERE c.created_at >= ? AND c.created_at < ? GROUP BY e.source ORDER BY e.source`, f, t); err != nil {
			return err
		}
		if out.CasesOpened, err = counts(ctx, tx, `SELECT kind, COUNT(*) FROM cases WHERE created_at >= ? AND created_at < ? GROUP BY kind ORDER BY kind`, f, t); err != nil {
			return err
		}
		if out.CasesDecided, err = counts(ctx, tx, `SELECT review_verdict, COUNT(*) FROM cases WHERE decided_at >= ? AND decided_at < ? GROUP BY review_verdict ORDER BY review_verdict`, f, t); err != nil {
			return err
		}
		if out.RatesByBank, err = rates(ctx, tx, `
			SELECT b.name, COUNT(*) FILTER (WHERE x.review_verdict = 'confirmed'), COUNT(*) FILTER (WHERE x.review_verdict = 'false_positive') FROM (
				SELECT DISTINCT c.id, ce.bank_id, c.review_verdict FROM cases c JOIN case_entries ce ON ce.case_id = c.id
				WHERE c.decided_at >= ? AND c.decided_at < ?) x JOIN banks b ON b.id = x.bank_id
			GROUP BY b.name ORDER BY b.name`, f, t); err != nil {
			return err
		}
		if out.RatesBySource, err = rates(ctx, tx, `
			SELECT x.source, COUNT(*) FILTER (WHERE x.review_verdict = 'confirmed'), COUNT(*) FILTER (WHERE x.review_verdict = 'false_positive') FROM (
				SELECT DISTINCT c.id, e.source, c.review_verdict FROM cases c JOIN case_entries ce ON ce.case_id = c.id
				JOIN entries e ON e.id = ce.entry_id
				WHERE c.decided_at >= ? AND c.decided_at < ?) x
			GROUP BY x.source ORDER BY x.source`, f, t); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM entries WHERE quarantined_at >= ? AND quarantined_at < ?`, f, t).Scan(&out.QuarantinedEntries); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM incidents WHERE created_at >= ? AND created_at < ?`, f, t).Scan(&out.Incidents); err != nil {
			return err
		}
		if out.Submissions, err = QueryAll(ctx, tx, func(row Scanner) (vigil.SubmissionCount, error) {
			var c vigil.SubmissionCount
			err := row.Scan(&c.Destination, &c.State, &c.N)
			return c, err
		}, `SELECT destination, state, COUNT(*) FROM submissions WHERE created_at >= ? AND created_at < ?
			GROUP BY destination, state ORDER BY destination, state`, f, t); err != nil {
			return err
		}
		if out.Complaints, err = counts(ctx, tx, `SELECT state, COUNT(*) FROM complaints WHERE created_at >= ? AND created_at < ? GROUP BY state ORDER BY state`, f, t); err != nil {
			return err
		}
		if out.ToDecision, err = Durations(ctx, tx, `SELECT `+s.db.SecondsBetween("decided_at", "created_at")+` AS d FROM cases
			WHERE decided_at >= ? AND decided_at < ?`, f, t); err != nil {
			return err
		}
		if out.ToReport, err = Durations(ctx, tx, `SELECT `+s.db.SecondsBetween("s.updated_at", `(SELECT MIN(c.created_at) FROM incident_cases ic
			JOIN cases c ON c.id = ic.case_id WHERE ic.incident_id = s.incident_id)`)+` AS d FROM submissions s
			WHERE s.state = 'finished' AND s.updated_at >= ? AND s.updated_at < ?`, f, t); err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM cases WHERE kind = 'conversation' AND created_at >= ? AND created_at < ?`, f, t).Scan(&out.GroomingDetections); err != nil {
			return err
		}
		var confirmed, fp int64
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FILTER (WHERE review_verdict = 'confirmed'), COUNT(*) FILTER (WHERE review_verdict = 'false_positive')
			FROM cases WHERE decided_at >= ? AND decided_at < ? AND kind = 'conversation'`, f, t).Scan(&confirmed, &fp); err != nil {
			return err
		}
		out.Grooming = vigil.NewRate("grooming", confirmed, fp)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("transparency: %w", err)
	}
	return out, nil
}

func counts(ctx context.Context, q Querier, query string, args ...any) ([]vigil.Count, error) {
	return QueryAll(ctx, q, func(row Scanner) (vigil.Count, error) {
		var c vigil.Count
		var name sql.NullString
		err := row.Scan(&name, &c.N)
		c.Name = name.String
		return c, err
	}, query, args...)
}

func rates(ctx context.Context, q Querier, query string, args ...any) ([]vigil.Rate, error) {
	return QueryAll(ctx, q, func(row Scanner) (vigil.Rate, error) {
		var name sql.NullString
		var confirmed, fp int64
		if err := row.Scan(&name, &confirmed, &fp); err != nil {
			return vigil.Rate{}, err
		}
		return vigil.NewRate(name.String, confirmed, fp), nil
	}, query, args...)
}

// Durations returns the count, median and 90th percentile of the d column
// of query, by nearest rank: the store numbers the ordered values in one
// sort and returns the two ranked rows, so Go holds three numbers, never
// the rows. ceil(n/2) and ceil(9n/10) are (n+1)/2 and (9n+9)/10 in
// integer arithmetic.
func Durations(ctx context.Context, q Querier, query string, args ...any) (vigil.Durations, error) {
	var out vigil.Durations
	rows, err := q.QueryContext(ctx, `SELECT rn, n, d FROM (
			SELECT d, ROW_NUMBER() OVER (ORDER BY d) AS rn, COUNT(*) OVER () AS n FROM (`+query+`) x WHERE d IS NOT NULL) y
		WHERE rn = (n + 1) / 2 OR rn = (9 * n + 9) / 10`, args...)
	if err != nil {
		return out, err
	}
	defer rows.Close()
	for rows.Next() {
		var rn, n int64
		var d float64
		if err := rows.Scan(&rn, &n, &d); err != nil {
			return out, err
		}
		out.N = n
		if rn == vigil.NearestRank(0.5, n)+1 {
			out.MedianSeconds = d
		}
		if rn == vigil.NearestRank(0.9, n)+1 {
			out.P90Seconds = d
		}
	}
	return out, rows.Err()
}
