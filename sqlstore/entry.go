package sqlstore

import (
	"database/sql"
	"encoding/hex"

	"github.com/vigil-oss/vigil"
)

// EntryColumns are the columns ScanEntry reads, without the bank's name,
// which is looked up separately: banks are few and entries many.
const EntryColumns = `id, bank_id, signal_type, value, source, source_entry_id, category,
	added_by, added_at, retracted_by, retracted_at, retract_reason, quarantined_at, quarantine_reason, seq, quality`

// ScanEntry reads a row of EntryColumns.
func ScanEntry(row Scanner) (*vigil.Entry, error) {
	var e vigil.Entry
	if err := ScanEntryInto(row, &e); err != nil {
		return nil, err
	}
	return &e, nil
}

// ScanEntryInto is ScanEntry into e.
func ScanEntryInto(row Scanner, e *vigil.Entry) error {
	var (
		value         []byte
		addedAt       string
		retractedAt   sql.NullString
		quarantinedAt sql.NullString
		quality       sql.NullInt64
	)
	if err := row.Scan(&e.ID, &e.BankID, &e.SignalType, &value, &e.Source, &e.SourceEntryID, &e.Category,
		&e.AddedBy, &addedAt, &e.RetractedBy, &retractedAt, &e.RetractReason,
		&quarantinedAt, &e.QuarantineReason, &e.Seq, &quality); err != nil {
		return err
	}
	e.Quality = nil
	if quality.Valid {
		q := int(quality.Int64)
		e.Quality = &q
	}
	e.Value = DecodeValue(e.SignalType, value)
	var err error
	if e.AddedAt, err = ParseTime(addedAt); err != nil {
		return err
	}
	if e.RetractedAt, err = ParseNullTime(retractedAt); err != nil {
		return err
	}
	e.QuarantinedAt, err = ParseNullTime(quarantinedAt)
	return err
}

// EncodeValue returns the stored form of a canonical value: the bytes of a
// hash, half the size of its hex, which keeps the entries' unique index small
// enough to stay in the page cache during large imports; other values as
// they are.
func EncodeValue(t vigil.SignalType, v string) []byte {
	if isHash(t) {
		if b, err := hex.DecodeString(v); err == nil {
			return b
		}
	}
	return []byte(v)
}

// DecodeValue reverses EncodeValue.
func DecodeValue(t vigil.SignalType, b []byte) string {
	if isHash(t) {
		return hex.EncodeToString(b)
	}
	return string(b)
}

// isHash reports whether values of type t are hex hashes.
func isHash(t vigil.SignalType) bool {
	switch t {
	case vigil.SignalPDQ, vigil.SignalMD5, vigil.SignalSHA1, vigil.SignalSHA256:
		return true
	}
	return false
}

// EntryError names the position of an invalid entry and keeps the error's
// code.
func EntryError(n int, err error) error {
	return vigil.Errorf(vigil.ErrorCode(err), "entry %d: %s", n, vigil.ErrorMessage(err))
}

// NullQuality is an entry's quality as stored: NULL when unknown.
func NullQuality(q *int) any {
	if q == nil {
		return nil
	}
	return int64(*q)
}
