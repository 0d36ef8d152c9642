package sqlite

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// openEntrySeq maps the entry change counter file of the database at
// dbPath, creating it if it does not exist. A file that exists but is not
// a counter file (short, or another magic or version) is an error that
// names it: see parseEntrySeq for why it is not recreated.
func openEntrySeq(dbPath string) (*entrySeq, error) {
	path := dbPath + entrySeqSuffix
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		if err = createEntrySeq(path); err == nil {
			f, err = os.OpenFile(path, os.O_RDWR, 0)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("entry change counter: %w", err)
	}
	defer f.Close() // the mapping outlives the descriptor
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("entry change counter: %w", err)
	}
	if fi.Size() != entrySeqSize {
		return nil, entrySeqCorrupt(path, fmt.Errorf("entry change counter file is %d bytes, want %d", fi.Size(), entrySeqSize))
	}
	mem, err := syscall.Mmap(int(f.Fd()), 0, entrySeqSize, syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("entry change counter %s: mmap: %w", path, err)
	}
	s, err := newEntrySeq(mem, syscall.Munmap)
	if err != nil {
		syscall.Munmap(mem)
		return nil, entrySeqCorrupt(path, err)
	}
	return s, nil
}

// entrySeqCorrupt says what to do about a counter file that is not one.
func entrySeqCorrupt(path string, err error) error {
	return fmt.Errorf("%s: %w; stop every process that has the database open, then remove the file (it is recreated at the next open)", path, err)
}

// createEntrySeq creates the counter file whole: written under a temporary
// name and linked into place, so that no process ever opens a partial one;
// if another process linked its own first, that one is kept.
func createEntrySeq(path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(entrySeqHeader())
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	return nil
}
