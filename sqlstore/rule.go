package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/vigil-oss/vigil"
)

// Ensure RuleService implements the interface.
var _ vigil.RuleService = (*RuleService)(nil)

// RuleService stores rules.
type RuleService struct {
	db DB
}

// NewRuleService returns a RuleService on db.
func NewRuleService(db DB) *RuleService {
	return &RuleService{db: db}
}

const ruleColumns = `id, name, description, enabled, source, conditions, action, corroboration, created_at, updated_at, updated_by`

func scanRule(row Scanner) (*vigil.Rule, error) {
	var r vigil.Rule
	var conditions, action, created, updated string
	if err := row.Scan(&r.ID, &r.Name, &r.Description, &r.Enabled, &r.Source, &conditions, &action,
		&r.Corroboration, &created, &updated, &r.UpdatedBy); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(conditions), &r.When); err != nil {
		return nil, fmt.Errorf("stored conditions of rule %q: %w", r.Name, err)
	}
	if err := json.Unmarshal([]byte(action), &r.Action); err != nil {
		return nil, fmt.Errorf("stored action of rule %q: %w", r.Name, err)
	}
	var err error
	if r.CreatedAt, err = ParseTime(created); err != nil {
		return nil, err
	}
	if r.UpdatedAt, err = ParseTime(updated); err != nil {
		return nil, err
	}
	return &r, nil
}

// ruleJSON returns the stored forms of r's conditions and action.
func ruleJSON(r *vigil.Rule) (conditions, action string, err error) {
	c, err := json.Marshal(r.When)
	if err != nil {
		return "", "", err
	}
	a, err := json.Marshal(r.Action)
	if err != nil {
		return "", "", err
	}
	return string(c), string(a), nil
}

// ListRules implements vigil.RuleService.
func (s *RuleService) ListRules(ctx context.Context) ([]*vigil.Rule, error) {
	out, err := QueryAll(ctx, s.db.Reader(), scanRule, `SELECT `+ruleColumns+` FROM rules ORDER BY name`)
	if err != nil {
		return nil, fmt.Errorf("list rules: %w", err)
	}
	return out, nil
}

// FindRule implements vigil.RuleService.
func (s *RuleService) FindRule(ctx context.Context, name string) (*vigil.Rule, error) {
	r, err := scanRule(s.db.Reader().QueryRowContext(ctx, `SELECT `+ruleColumns+` FROM rules WHERE name = ?`, name))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, vigil.Errorf(vigil.ENOTFOUND, "rule %q not found", name)
	} else if err != nil {
		return nil, fmt.Errorf("find rule %q: %w", name, err)
	}
	return r, nil
}

// CreateRule implements vigil.RuleService.
func (s *RuleService) CreateRule(ctx context.Context, r *vigil.Rule) error {
	if r.Source == "" {
		r.Source = vigil.RuleSourceAPI
	}
	if err := r.Validate(); err != nil {
		return err
	}
	err := s.db.Write(ctx, func(tx Querier) error { return s.insert(ctx, tx, r) })
	if err != nil {
		return fmt.Errorf("create rule %q: %w", r.Name, err)
	}
	return nil
}

// insert stores a new rule in tx; ECONFLICT if its name is taken.
func (s *RuleService) insert(ctx context.Context, tx Querier, r *vigil.Rule) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM rules WHERE name = ?`, r.Name).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return vigil.Errorf(vigil.ECONFLICT, "rule %q already exists", r.Name)
	}
	conditions, action, err := ruleJSON(r)
	if err != nil {
		return err
	}
	now := s.db.Now()
	if err := tx.QueryRowContext(ctx, `
		INSERT INTO rules (name, description, enabled, source, conditions, action, corroboration, created_at, updated_at, updated_by)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		RETURNING id`,
		r.Name, r.Description, r.Enabled, r.Source, conditions, action, r.Corroboration,
		FormatTime(now), FormatTime(now), r.UpdatedBy,
	).Scan(&r.ID); err != nil {
		return err
	}
	r.CreatedAt, r.UpdatedAt = now, now
	return nil
}

// UpdateRule implements vigil.RuleService.
func (s *RuleService) UpdateRule(ctx context.Context, r *vigil.Rule) error {
	err := s.db.Write(ctx, func(tx Querier) error {
		old, err := scanRule(tx.QueryRowContext(ctx, `SELECT `+ruleColumns+` FROM rules WHERE name = ?`, r.Name))
		if errors.Is(err, sql.ErrNoRows) {
			return vigil.Errorf(vigil.ENOTFOUND, "rule %q not found", r.Name)
		} else if err != nil {
			return err
		}
		r.ID, r.Source, r.CreatedAt = old.ID, old.Source, old.CreatedAt
		if err := r.Validate(); err != nil {
			return err
		}
		conditions, action, err := ruleJSON(r)
		if err != nil {
			return err
		}
		r.UpdatedAt = s.db.Now()
		_, err = tx.ExecContext(ctx, `
			UPDATE rules SET description = ?, enabled = ?, conditions = ?, action = ?, corroboration = ?,
				updated_at = ?, updated_by = ?
			WHERE id = ?`,
			r.Description, r.Enabled, conditions, action, r.Corroboration, FormatTime(r.UpdatedAt), r.UpdatedBy, r.ID)
		return err
	})
	if err != nil {
		return fmt.Errorf("update rule %q: %w", r.Name, err)
	}
	return nil
}

// DeleteRule implements vigil.RuleService.
func (s *RuleService) DeleteRule(ctx context.Context, name string) error {
	err := s.db.Write(ctx, func(tx Querier) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM rules WHERE name = ?`, name)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			return vigil.Errorf(vigil.ENOTFOUND, "rule %q not found", name)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("delete rule %q: %w", name, err)
	}
	return nil
}

// ReplaceFileRules implements vigil.RuleService.
func (s *RuleService) ReplaceFileRules(ctx context.Context, rules []*vigil.Rule) error {
	for _, r := range rules {
		switch r.Source {
		case "":
			r.Source = vigil.RuleSourceFile
		case vigil.RuleSourceFile, vigil.RuleSourceDefault:
		default:
			return vigil.Errorf(vigil.EINVALID, "rule %q: a rule loaded at start cannot have source %q", r.Name, r.Source)
		}
		if err := r.Validate(); err != nil {
			return err
		}
	}
	err := s.db.Write(ctx, func(tx Querier) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM rules WHERE source IN (?, ?)`,
			vigil.RuleSourceFile, vigil.RuleSourceDefault); err != nil {
			return err
		}
		for _, r := range rules {
			if err := s.insert(ctx, tx, r); err != nil {
				if vigil.ErrorCode(err) == vigil.ECONFLICT {
					return vigil.Errorf(vigil.ECONFLICT, "rules file: rule %q has the name of a rule made through the API (or of another rule in the file)", r.Name)
				}
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("replace file rules: %w", err)
	}
	return nil
}
