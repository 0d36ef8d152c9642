package sqlite

import (
	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/sqlstore"
)

// RuleService implements vigil.RuleService on SQLite,
// with the SQL of package sqlstore.
type RuleService struct{ *ruleService }

type ruleService = sqlstore.RuleService

// NewRuleService returns a RuleService on db.
func NewRuleService(db *DB) *RuleService { return &RuleService{sqlstore.NewRuleService(db.shared())} }

var _ vigil.RuleService = (*RuleService)(nil)
