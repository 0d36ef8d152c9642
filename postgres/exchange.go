package postgres

import (
	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/sqlstore"
)

// ExchangeService implements vigil.ExchangeService on PostgreSQL,
// with the SQL of package sqlstore.
type ExchangeService struct{ *exchangeService }

type exchangeService = sqlstore.ExchangeService

// NewExchangeService returns an ExchangeService on db.
func NewExchangeService(db *DB) *ExchangeService {
	return &ExchangeService{sqlstore.NewExchangeService(db.shared())}
}

var _ vigil.ExchangeService = (*ExchangeService)(nil)
