package translog

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/vigil-oss/vigil"
)

// MaxRecordBytes bounds one log record (a signed manifest).
const MaxRecordBytes = 256 << 10

// Log is an append-only transparency log of records kept in a directory:
// "origin", "size" (the committed size, replaced atomically last, so a
// crash mid-append leaves the previous log), "hashes" (tlog's stored
// hashes, 32 bytes each), "records/N" and "checkpoint" (the latest signed
// one). One writer at a time; the list operator appends one record per
// table version, so volume is tiny.
type Log struct {
	dir    string
	origin string
	size   int64
}

// CreateLog makes an empty log in dir (created if missing; it must not
// hold a log already).
func CreateLog(dir, origin string) (*Log, error) {
	if !ValidOrigin(origin) {
		return nil, vigil.Errorf(vigil.EINVALID, "log origin %q: 1 to %d printable bytes", origin, MaxOriginLen)
	}
	if err := os.MkdirAll(filepath.Join(dir, "records"), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, "origin"), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, vigil.Errorf(vigil.ECONFLICT, "%s already holds a log", dir)
		}
		return nil, err
	}
	if _, err := f.WriteString(origin + "\n"); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	l := &Log{dir: dir, origin: origin}
	return l, writeAtomic(filepath.Join(dir, "size"), []byte("0\n"))
}

// OpenLog opens the log in dir.
func OpenLog(dir string) (*Log, error) {
	origin, err := os.ReadFile(filepath.Join(dir, "origin"))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, vigil.Errorf(vigil.ENOTFOUND, "no log in %s", dir)
		}
		return nil, err
	}
	size, err := os.ReadFile(filepath.Join(dir, "size"))
	if err != nil {
		return nil, err
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(size)), 10, 64)
	o := strings.TrimSuffix(string(origin), "\n")
	if err != nil || n < 0 || !ValidOrigin(o) {
		return nil, fmt.Errorf("log %s: corrupt origin or size", dir)
	}
	return &Log{dir: dir, origin: o, size: n}, nil
}

// Origin is the log's checkpoint origin line.
func (l *Log) Origin() string { return l.origin }

// Size is the number of records.
func (l *Log) Size() int64 { return l.size }

// Append adds record as the next entry and returns its index.
func (l *Log) Append(record []byte) (int64, error) {
	if len(record) > MaxRecordBytes {
		return 0, vigil.Errorf(vigil.ETOOLARGE, "log record over %d bytes", MaxRecordBytes)
	}
	n := l.size
	hashes, err := tlog.StoredHashes(n, record, l.reader())
	if err != nil {
		return 0, fmt.Errorf("log hashes: %w", err)
	}
	if err := writeAtomic(filepath.Join(l.dir, "records", strconv.FormatInt(n, 10)), record); err != nil {
		return 0, err
	}
	f, err := os.OpenFile(filepath.Join(l.dir, "hashes"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return 0, err
	}
	// Drop hashes a crashed append left past the committed size.
	off := tlog.StoredHashCount(n) * tlog.HashSize
	err = f.Truncate(off)
	for i, h := range hashes {
		if err == nil {
			_, err = f.WriteAt(h[:], off+int64(i)*tlog.HashSize)
		}
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return 0, fmt.Errorf("log hashes: %w", err)
	}
	if err := writeAtomic(filepath.Join(l.dir, "size"), []byte(strconv.FormatInt(n+1, 10)+"\n")); err != nil {
		return 0, err
	}
	l.size = n + 1
	return n, nil
}

// Record returns record i.
func (l *Log) Record(i int64) ([]byte, error) {
	if i < 0 || i >= l.size {
		return nil, vigil.Errorf(vigil.ENOTFOUND, "log has no record %d", i)
	}
	return os.ReadFile(filepath.Join(l.dir, "records", strconv.FormatInt(i, 10)))
}

// Tree returns the current tree (size and root hash).
func (l *Log) Tree() (tlog.Tree, error) {
	h, err := tlog.TreeHash(l.size, l.reader())
	return tlog.Tree{N: l.size, Hash: h}, err
}

// Sign signs a checkpoint of the current tree with the log key and the
// given cosigners, stores it as the latest and returns it. A real
// deployment signs with the log key alone and has independent witnesses
// add their cosignatures (Witness.Cosign), then stores the result with
// SetCheckpoint.
func (l *Log) Sign(signer note.Signer, cosigners ...note.Signer) ([]byte, error) {
	t, err := l.Tree()
	if err != nil {
		return nil, fmt.Errorf("log tree: %w", err)
	}
	msg, err := note.Sign(&note.Note{Text: string(Checkpoint{Origin: l.origin, Tree: t}.Text())}, append([]note.Signer{signer}, cosigners...)...)
	if err != nil {
		return nil, fmt.Errorf("sign checkpoint: %w", err)
	}
	return msg, writeAtomic(filepath.Join(l.dir, "checkpoint"), msg)
}

// SetCheckpoint stores msg, a checkpoint of the current tree with the
// witnesses' cosignatures added, as the latest.
func (l *Log) SetCheckpoint(msg []byte) error {
	var unverified *note.UnverifiedNoteError
	if _, err := note.Open(msg, nil); !errors.As(err, &unverified) {
		return vigil.Errorf(vigil.EINVALID, "malformed checkpoint note")
	}
	c, err := ParseCheckpoint([]byte(unverified.Note.Text))
	if err != nil {
		return err
	}
	if t, err := l.Tree(); err != nil || c.Origin != l.origin || c.Tree != t {
		return vigil.Errorf(vigil.EINVALID, "checkpoint is not of this log's current tree")
	}
	return writeAtomic(filepath.Join(l.dir, "checkpoint"), msg)
}

// Checkpoint returns the latest stored signed checkpoint.
func (l *Log) Checkpoint() ([]byte, error) {
	return os.ReadFile(filepath.Join(l.dir, "checkpoint"))
}

// ProveRecord returns the proof that record i is in the tree of size n.
func (l *Log) ProveRecord(n, i int64) ([]tlog.Hash, error) {
	if i < 0 || i >= n || n > l.size {
		return nil, vigil.Errorf(vigil.ENOTFOUND, "log has no record %d in a tree of %d", i, n)
	}
	return tlog.ProveRecord(n, i, l.reader())
}

// ProveTree returns the proof that the tree of size old is a prefix of the
// tree of size n.
func (l *Log) ProveTree(n, old int64) ([]tlog.Hash, error) {
	if old < 1 || old > n || n > l.size {
		return nil, vigil.Errorf(vigil.ENOTFOUND, "log has no trees %d and %d", old, n)
	}
	return tlog.ProveTree(n, old, l.reader())
}

// reader reads stored hashes from the hashes file.
func (l *Log) reader() tlog.HashReader {
	return tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(indexes))
		if len(indexes) == 0 {
			return out, nil
		}
		f, err := os.Open(filepath.Join(l.dir, "hashes"))
		if err != nil {
			return nil, err
		}
		defer f.Close()
		for i, x := range indexes {
			if _, err := f.ReadAt(out[i][:], x*tlog.HashSize); err != nil {
				if err == io.EOF {
					err = fmt.Errorf("log hash %d missing", x)
				}
				return nil, err
			}
		}
		return out, nil
	})
}

// writeAtomic writes b to path through a synced temporary file and a
// rename, so readers see the old or the new content, never a torn one.
func writeAtomic(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}
