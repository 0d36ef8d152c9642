//go:build !linux

package sqlite

// openEntrySeq has no shared counter to map off Linux: entry writes raise
// nothing, and the matcher reads change_seq from the store
// (vigil.EntryVersions) as before.
func openEntrySeq(dbPath string) (*entrySeq, error) { return nil, nil }
