package sqlite

import (
	"context"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/sqlstore"
)

// BankService implements vigil.BankService on SQLite,
// with the SQL of package sqlstore.
type BankService struct{ *bankService }

type bankService = sqlstore.BankService

// NewBankService returns a BankService on db.
func NewBankService(db *DB) *BankService { return &BankService{sqlstore.NewBankService(db.shared())} }

var _ vigil.BankService = (*BankService)(nil)

// querier is what *sql.DB and *sql.Tx have in common.
type querier = sqlstore.Querier

// scanner is what *sql.Row and *sql.Rows have in common.
type scanner = sqlstore.Scanner

// queryAll runs a query and returns every row as scan reads it.
func queryAll[T any](ctx context.Context, q querier, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	return sqlstore.QueryAll(ctx, q, scan, query, args...)
}

// bankInsert is a checked bank ready to insert (sqlstore.BankInsert).
type bankInsert = sqlstore.BankInsert

func prepareBank(b *vigil.Bank) (*bankInsert, error) { return sqlstore.PrepareBank(b) }

func bumpBank(ctx context.Context, tx querier, id, delta int64, now string) (int64, error) {
	return sqlstore.BumpBank(ctx, tx, id, delta, now)
}

func findBank(ctx context.Context, q querier, where string, args ...any) (*vigil.Bank, error) {
	return sqlstore.FindBank(ctx, q, where, args...)
}

func marshalThresholds(m map[vigil.SignalType]int) (string, error) {
	return sqlstore.MarshalThresholds(m)
}
