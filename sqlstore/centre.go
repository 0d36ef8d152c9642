package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vigil-oss/vigil"
)

// Ensure CentreService implements the interface.
var _ vigil.CentreService = (*CentreService)(nil)

// CentreService stores a centre's providers and received reports, for
// both stores (migration 00019).
type CentreService struct {
	db DB
}

// NewCentreService returns a CentreService on db.
func NewCentreService(db DB) *CentreService { return &CentreService{db: db} }

// CreateProvider registers a provider with a new key.
func (s *CentreService) CreateProvider(ctx context.Context, p *vigil.CentreProvider) (string, error) {
	if err := vigil.ValidateName("provider name", p.Name, vigil.MaxKeyNameLen); err != nil {
		return "", err
	}
	if err := ValidateActor("providers", p.CreatedBy); err != nil {
		return "", err
	}
	secret, err := vigil.NewKeySecret(s.db.Rand())
	if err != nil {
		return "", fmt.Errorf("create provider %q: %w", p.Name, err)
	}
	in := *p
	in.Hint, in.CreatedAt, in.RevokedAt = vigil.KeySecretHint(secret), s.db.Now(), nil
	err = s.db.Write(ctx, func(tx Querier) error {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM centre_providers WHERE name = ?`, in.Name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return vigil.Errorf(vigil.ECONFLICT, "a provider named %q is registered", in.Name)
		}
		if err := tx.QueryRowContext(ctx, `INSERT INTO centre_providers (name, secret_hash, hint, created_by, created_at)
			VALUES (?, ?, ?, ?, ?) RETURNING id`, in.Name, vigil.HashKeySecret(secret), in.Hint, in.CreatedBy,
			FormatTime(in.CreatedAt)).Scan(&in.ID); err != nil {
			return err
		}
		p.ID = in.ID // for the audit record, written next in this transaction
		return nil
	})
	if err != nil {
		p.ID = 0
		return "", fmt.Errorf("create provider %q: %w", p.Name, err)
	}
	*p = in
	return secret, nil
}

const providerColumns = `id, name, hint, created_by, created_at, revoked_at`

func scanProvider(row Scanner) (*vigil.CentreProvider, error) {
	var (
		p       vigil.CentreProvider
		created string
		revoked sql.NullString
	)
	if err := row.Scan(&p.ID, &p.Name, &p.Hint, &p.CreatedBy, &created, &revoked); err != nil {
		return nil, err
	}
	var err error
	if p.CreatedAt, err = ParseTime(created); err != nil {
		return nil, err
	}
	if p.RevokedAt, err = ParseNullTime(revoked); err != nil {
		return nil, err
	}
	return &p, nil
}

// FindProviderBySecret returns the provider of a key.
func (s *CentreService) FindProviderBySecret(ctx context.Context, secret string) (*vigil.CentreProvider, error) {
	p, err := scanProvider(s.db.Reader().QueryRowContext(ctx, `SELECT `+providerColumns+` FROM centre_providers WHERE secret_hash = ?`,
		vigil.HashKeySecret(secret)))
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, vigil.Errorf(vigil.EUNAUTHORIZED, "invalid api key")
	case err != nil:
		return nil, fmt.Errorf("find provider by secret: %w", err)
	case p.RevokedAt != nil:
		return nil, p.RevokedError()
	}
	return p, nil
}

// providerByName reads the named provider in tx.
func providerByName(ctx context.Context, tx Querier, name string) (*vigil.CentreProvider, error) {
	p, err := scanProvider(tx.QueryRowContext(ctx, `SELECT `+providerColumns+` FROM centre_providers WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, vigil.Errorf(vigil.ENOTFOUND, "provider %q not found", name)
	}
	return p, err
}

// RevokeProvider revokes a provider's key; its reports stay.
func (s *CentreService) RevokeProvider(ctx context.Context, name, by string) (*vigil.CentreProvider, error) {
	if err := ValidateActor("providers", by); err != nil {
		return nil, err
	}
	var out *vigil.CentreProvider
	err := s.db.Write(ctx, func(tx Querier) error {
		p, err := providerByName(ctx, tx, name)
		if err != nil {
			return err
		}
		if p.RevokedAt != nil {
			return vigil.Errorf(vigil.ECONFLICT, "provider %q was revoked on %s", name, p.RevokedAt.UTC().Format(time.RFC3339))
		}
		now := s.db.Now()
		if _, err := tx.ExecContext(ctx, `UPDATE centre_providers SET revoked_at = ? WHERE id = ?`, FormatTime(now), p.ID); err != nil {
			return err
		}
		p.RevokedAt, out = &now, p
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("revoke provider %q: %w", name, err)
	}
	return out, nil
}

// ReinstateProvider gives a revoked provider a new key.
func (s *CentreService) ReinstateProvider(ctx context.Context, name, by string) (*vigil.CentreProvider, string, error) {
	if err := ValidateActor("providers", by); err != nil {
		return nil, "", err
	}
	secret, err := vigil.NewKeySecret(s.db.Rand())
	if err != nil {
		return nil, "", fmt.Errorf("reinstate provider %q: %w", name, err)
	}
	var out *vigil.CentreProvider
	err = s.db.Write(ctx, func(tx Querier) error {
		p, err := providerByName(ctx, tx, name)
		if err != nil {
			return err
		}
		if p.RevokedAt == nil {
			return vigil.Errorf(vigil.ECONFLICT, "provider %q is not revoked: its key works", name)
		}
		// The revoked key's hash is replaced, so that key is unknown
		// from now on, whatever happens to the provider later.
		p.Hint, p.RevokedAt = vigil.KeySecretHint(secret), nil
		if _, err := tx.ExecContext(ctx, `UPDATE centre_providers SET secret_hash = ?, hint = ?, revoked_at = NULL WHERE id = ?`,
			vigil.HashKeySecret(secret), p.Hint, p.ID); err != nil {
			return err
		}
		out = p
		return nil
	})
	if err != nil {
		return nil, "", fmt.Errorf("reinstate provider %q: %w", name, err)
	}
	return out, secret, nil
}

// ListProviders returns every provider by id.
func (s *CentreService) ListProviders(ctx context.Context) ([]*vigil.CentreProvider, error) {
	rows, err := s.db.Reader().QueryContext(ctx, `SELECT `+providerColumns+` FROM centre_providers ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list providers: %w", err)
	}
	defer rows.Close()
	var out []*vigil.CentreProvider
	for rows.Next() {
		p, err := scanProvider(rows)
		if err != nil {
			return nil, fmt.Errorf("list providers: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// checkCentreReport returns EINVALID for a report that cannot be stored.
func checkCentreReport(r *vigil.CentreReport) error {
	if r.ProviderID == 0 {
		return vigil.Errorf(vigil.EINVALID, "a centre report names its provider")
	}
	if r.ProviderReportID == "" || len(r.ProviderReportID) > vigil.MaxProviderReportID || !vigil.Printable(r.ProviderReportID) {
		return vigil.Errorf(vigil.EINVALID, "a provider report id is 1 to %d printable bytes", vigil.MaxProviderReportID)
	}
	if r.Format != vigil.CentreFormatEU && r.Format != vigil.CentreFormatNCMEC {
		return vigil.Errorf(vigil.EINVALID, "unknown report format %q", r.Format)
	}
	if len(r.Raw) == 0 || len(r.Raw) > vigil.MaxCentreReportBytes {
		return vigil.Errorf(vigil.EINVALID, "a report's raw body is 1 to %d bytes", vigil.MaxCentreReportBytes)
	}
	if len(r.Files) > vigil.MaxCentreFiles {
		return vigil.Errorf(vigil.ETOOLARGE, "at most %d files per report", vigil.MaxCentreFiles)
	}
	return nil
}

// ReceiveReport stores a triaged report, or finds the one its provider
// sent under the same id.
func (s *CentreService) ReceiveReport(ctx context.Context, r *vigil.CentreReport) (*vigil.CentreReport, bool, error) {
	if err := checkCentreReport(r); err != nil {
		return nil, false, err
	}
	sum := sha256.Sum256(r.Raw)
	in := *r
	in.Digest = hex.EncodeToString(sum[:])
	in.Status, in.ReceivedAt = vigil.CentreReceived, s.db.Now()
	in.DecidedBy, in.DecidedAt, in.Reason, in.Message, in.ForwardedTo, in.Forward, in.Indicators = "", nil, "", "", "", "", nil
	in.ProviderRevokedAt = nil // read from the provider's row, never stored with the report
	in.ForwardKey, in.ForwardError, in.ForwardAttempts = "", "", nil
	if in.Files == nil {
		in.Files = []vigil.CentreFile{}
	}
	var (
		stored  *vigil.CentreReport
		created bool
	)
	err := s.db.Write(ctx, func(tx Querier) error {
		p, err := scanProvider(tx.QueryRowContext(ctx, `SELECT `+providerColumns+` FROM centre_providers WHERE id = ?`, in.ProviderID))
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return vigil.Errorf(vigil.ENOTFOUND, "provider %d not found", in.ProviderID)
		case err != nil:
			return err
		case p.RevokedAt != nil:
			// Revoked between the key's check and this write.
			return p.RevokedError()
		}
		var id int64
		switch err := tx.QueryRowContext(ctx, `SELECT id FROM centre_reports WHERE provider_id = ? AND provider_report_id = ?`,
			in.ProviderID, in.ProviderReportID).Scan(&id); {
		case err == nil:
			// A resend: nothing changes, and the pending audit record
			// says so (the digest tells whether the body differed).
			if rec := vigil.PendingAudit(ctx); rec != nil {
				rec.Action = vigil.AuditCentreReceive
				rec.Target = vigil.CentreAuditTarget(id)
				if err := rec.SetDetail(map[string]any{"resend": true, "digest": in.Digest}); err != nil {
					return err
				}
			}
			r.ID = id // for the audit record
			got, err := findCentreReport(ctx, tx, id)
			stored = got
			return err
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		in.Provider = p.Name
		body, err := json.Marshal(&in)
		if err != nil {
			return err
		}
		if err := tx.QueryRowContext(ctx, `INSERT INTO centre_reports
			(provider_id, provider_report_id, format, digest, raw, status, priority, reported_user, body, received_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
			in.ProviderID, in.ProviderReportID, in.Format, in.Digest, in.Raw, in.Status, in.Priority, in.ReportedUser,
			string(body), FormatTime(in.ReceivedAt)).Scan(&in.ID); err != nil {
			return err
		}
		for _, h := range fileSHA256s(in.Files) {
			if _, err := tx.ExecContext(ctx, `INSERT INTO centre_report_hashes (sha256, report_id) VALUES (?, ?) ON CONFLICT DO NOTHING`, h, in.ID); err != nil {
				return err
			}
		}
		r.ID = in.ID // for the audit record, written next in this transaction
		stored, created = &in, true
		return nil
	})
	if err != nil {
		r.ID = 0
		return nil, false, fmt.Errorf("receive centre report: %w", err)
	}
	return stored, created, nil
}

func fileSHA256s(files []vigil.CentreFile) []string {
	var out []string
	for _, f := range files {
		if f.SHA256 != "" {
			out = append(out, f.SHA256)
		}
	}
	return out
}

// centreColumns end with the provider's revocation, read at each read
// (a subquery, so that callers' WHERE clauses name centre_reports alone).
const centreColumns = `id, raw, status, priority, body, decided_at,
	(SELECT p.revoked_at FROM centre_providers p WHERE p.id = centre_reports.provider_id)`

func scanCentreReport(row Scanner) (*vigil.CentreReport, error) {
	var (
		id       int64
		raw      []byte
		status   string
		priority int
		body     string
		decided  sql.NullString
		revoked  sql.NullString
		r        vigil.CentreReport
	)
	if err := row.Scan(&id, &raw, &status, &priority, &body, &decided, &revoked); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil {
		return nil, fmt.Errorf("centre report %d: %w", id, err)
	}
	r.ID, r.Raw, r.Status, r.Priority = id, raw, vigil.CentreStatus(status), priority
	var err error
	if r.ProviderRevokedAt, err = ParseNullTime(revoked); err != nil {
		return nil, fmt.Errorf("centre report %d: %w", id, err)
	}
	return &r, nil
}

func findCentreReport(ctx context.Context, q Querier, id int64) (*vigil.CentreReport, error) {
	r, err := scanCentreReport(q.QueryRowContext(ctx, `SELECT `+centreColumns+` FROM centre_reports WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, vigil.Errorf(vigil.ENOTFOUND, "centre report %d not found", id)
	}
	return r, err
}

// FindCentreReport returns a report with its raw body.
func (s *CentreService) FindCentreReport(ctx context.Context, id int64) (*vigil.CentreReport, error) {
	r, err := findCentreReport(ctx, s.db.Reader(), id)
	if err != nil {
		return nil, fmt.Errorf("find centre report %d: %w", id, err)
	}
	return r, nil
}

// ListCentreReports returns a page of reports in id order.
func (s *CentreService) ListCentreReports(ctx context.Context, f vigil.CentreFilter) ([]*vigil.CentreReport, error) {
	limit := f.Limit
	if limit <= 0 {
		limit = vigil.DefaultCaseLimit
	}
	limit = min(limit, vigil.MaxCaseLimit)
	where, args := []string{"id > ?"}, []any{f.AfterID}
	if f.Status != "" {
		where, args = append(where, "status = ?"), append(args, string(f.Status))
	}
	if f.ProviderID != 0 {
		where, args = append(where, "provider_id = ?"), append(args, f.ProviderID)
	}
	rows, err := s.db.Reader().QueryContext(ctx, `SELECT `+centreColumns+` FROM centre_reports WHERE `+
		strings.Join(where, " AND ")+` ORDER BY id LIMIT ?`, append(args, limit)...)
	if err != nil {
		return nil, fmt.Errorf("list centre reports: %w", err)
	}
	defer rows.Close()
	var out []*vigil.CentreReport
	for rows.Next() {
		r, err := scanCentreReport(rows)
		if err != nil {
			return nil, fmt.Errorf("list centre reports: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// NextCentreReport returns the received report to work next.
func (s *CentreService) NextCentreReport(ctx context.Context) (*vigil.CentreReport, error) {
	r, err := scanCentreReport(s.db.Reader().QueryRowContext(ctx, `SELECT `+centreColumns+` FROM centre_reports
		WHERE status = 'received' ORDER BY priority DESC, id LIMIT 1`))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, vigil.Errorf(vigil.ENOTFOUND, "no centre report waits for review")
	} else if err != nil {
		return nil, fmt.Errorf("next centre report: %w", err)
	}
	return r, nil
}

// EarlierReports returns the reports sharing a file hash or the provider
// and reported user, in one query.
func (s *CentreService) EarlierReports(ctx context.Context, sha256s []string, providerID int64, reportedUser string) ([]vigil.EarlierReport, error) {
	var (
		parts []string
		args  []any
	)
	// Each side is bounded first, so a picture reported a million times
	// costs a hundred rows, not a million.
	if len(sha256s) > 0 {
		parts = append(parts, `SELECT rid, 0 AS same_user FROM (SELECT report_id AS rid FROM centre_report_hashes WHERE sha256 IN (?`+
			strings.Repeat(", ?", len(sha256s)-1)+`) ORDER BY report_id LIMIT 100) AS h`)
		for _, h := range sha256s {
			args = append(args, h)
		}
	}
	if reportedUser != "" {
		parts = append(parts, `SELECT rid, 1 AS same_user FROM (SELECT id AS rid FROM centre_reports WHERE provider_id = ? AND reported_user = ?
			ORDER BY id LIMIT 100) AS u`)
		args = append(args, providerID, reportedUser)
	}
	if len(parts) == 0 {
		return nil, nil
	}
	rows, err := s.db.Reader().QueryContext(ctx, `SELECT rid, MAX(same_user) FROM (`+strings.Join(parts, " UNION ALL ")+`) AS t
		GROUP BY rid ORDER BY rid LIMIT 100`, args...)
	if err != nil {
		return nil, fmt.Errorf("earlier centre reports: %w", err)
	}
	defer rows.Close()
	var out []vigil.EarlierReport
	for rows.Next() {
		var (
			e    vigil.EarlierReport
			same int
		)
		if err := rows.Scan(&e.ID, &same); err != nil {
			return nil, err
		}
		e.SameUser = same == 1
		out = append(out, e)
	}
	return out, rows.Err()
}

// updateCentreReport reads report id, lets fn change it and stores it,
// in one write with the pending audit record.
func (s *CentreService) updateCentreReport(ctx context.Context, id int64, fn func(r *vigil.CentreReport) error) (*vigil.CentreReport, error) {
	var out *vigil.CentreReport
	err := s.db.Write(ctx, func(tx Querier) error {
		r, err := findCentreReport(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
		// The provider's revocation is read from its row each time,
		// never kept in the report.
		keep := *r
		keep.ProviderRevokedAt = nil
		body, err := json.Marshal(&keep)
		if err != nil {
			return err
		}
		var decided sql.NullString
		if r.DecidedAt != nil {
			decided = sql.NullString{String: FormatTime(*r.DecidedAt), Valid: true}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE centre_reports SET status = ?, body = ?, decided_at = ? WHERE id = ?`,
			string(r.Status), string(body), decided, id); err != nil {
			return err
		}
		out = r
		return nil
	})
	return out, err
}

// DecideCentreReport records a reviewer's decision.
func (s *CentreService) DecideCentreReport(ctx context.Context, id int64, d vigil.CentreDecision, by string) (*vigil.CentreReport, error) {
	if err := ValidateActor("centre reports", by); err != nil {
		return nil, err
	}
	if err := d.Validate(); err != nil {
		return nil, err
	}
	var key string
	if d.Status == vigil.CentreForwarded {
		var err error
		if key, err = vigil.NewForwardKey(s.db.Rand()); err != nil {
			return nil, fmt.Errorf("decide centre report %d: %w", id, err)
		}
	}
	now := s.db.Now()
	r, err := s.updateCentreReport(ctx, id, func(r *vigil.CentreReport) error { return vigil.ApplyCentreDecision(r, d, by, now, key) })
	if err != nil {
		return nil, fmt.Errorf("decide centre report %d: %w", id, err)
	}
	return r, nil
}

// UpdateCentreForward changes a forward's delivery (vigil.ApplyCentreForward).
func (s *CentreService) UpdateCentreForward(ctx context.Context, id int64, fn func(r *vigil.CentreReport) error) (*vigil.CentreReport, error) {
	r, err := s.updateCentreReport(ctx, id, func(r *vigil.CentreReport) error { return vigil.ApplyCentreForward(r, fn) })
	if err != nil {
		return nil, fmt.Errorf("centre report %d forward: %w", id, err)
	}
	return r, nil
}
