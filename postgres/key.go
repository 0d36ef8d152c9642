package postgres

import (
	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/sqlstore"
)

// KeyService stores API keys in PostgreSQL, with the SQL of package sqlstore.
type KeyService struct{ *keyService }

type keyService = sqlstore.KeyService

// NewKeyService returns a KeyService on db.
func NewKeyService(db *DB) *KeyService {
	return &KeyService{sqlstore.NewKeyService(db.shared())}
}

var _ vigil.KeyService = (*KeyService)(nil)
