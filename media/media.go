// Package media keeps content for review on disk, encrypted at rest: each
// blob is one file sealed with AES-256-GCM under a key from a Keyring.
//
// A blob file is a header followed by the sealed data:
//
//	"VGM1"            4 bytes, magic and format version
//	key id length     1 byte, 1 to MaxKeyIDLen
//	key id            that many bytes
//	data length       8 bytes, big-endian, so truncation is told apart
//	nonce             12 bytes, random per blob
//	ciphertext + tag  the data sealed with the key, 16 bytes longer
//
// The associated data is the header and the blob's id, so a file copied or
// renamed to another id, or with its key id altered, fails to open.
package media

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/vigil-oss/vigil"
)

// Ensure Store implements the interface.
var _ vigil.MediaStore = (*Store)(nil)

// DefaultMaxSize is the largest blob Put accepts unless Store.MaxSize says
// otherwise: the default upload limit for hashing.
const DefaultMaxSize = 64 << 20

const (
	magic     = "VGM1"
	nonceSize = 12
	tagSize   = 16
	idBytes   = 16 // 128 random bits: ids are unguessable and never collide
)

// Errors of blobs that cannot be opened. They wrap with the blob's id.
var (
	ErrUnknownKey = errors.New("sealed with a key not in the keyring")
	ErrCorrupt    = errors.New("failed authentication: tampered with, renamed or wrong key")
	ErrTruncated  = errors.New("truncated")
	ErrFormat     = errors.New("not a media blob")
)

// Store is a vigil.MediaStore in a directory.
type Store struct {
	// MaxSize bounds the data of one blob, in bytes.
	MaxSize int64

	dir    string
	keys   *Keyring
	random io.Reader
}

// Open returns a Store in dir, creating it (mode 0700) if needed, and
// removes temporary files that writes cut short by a crash left there.
func Open(dir string, keys *Keyring) (*Store, error) {
	if keys == nil || keys.current == "" {
		return nil, errors.New("open media store: no keys")
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open media store: %w", err)
	}
	if err := removeStaleTemps(dir, time.Now().Add(-staleTemp)); err != nil {
		return nil, fmt.Errorf("open media store: %w", err)
	}
	return &Store{MaxSize: DefaultMaxSize, dir: dir, keys: keys, random: rand.Reader}, nil
}

// staleTemp is the age past which a temporary file cannot belong to a
// write still under way: a write takes seconds.
const staleTemp = time.Hour

// removeStaleTemps removes temporary files last changed before cutoff.
func removeStaleTemps(dir string, cutoff time.Time) error {
	temps, err := filepath.Glob(filepath.Join(dir, "*", tempPattern))
	if err != nil {
		return err
	}
	for _, path := range temps {
		fi, err := os.Lstat(path)
		if err != nil || !fi.Mode().IsRegular() || !fi.ModTime().Before(cutoff) {
			continue
		}
		if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// tempPattern names temporary files; ids are hex, so none can match it.
const tempPattern = ".tmp-*"

// Put seals data under the current key and stores it under a new random
// id.
func (s *Store) Put(ctx context.Context, data []byte) (string, error) {
	if err := ctx.Err(); err != nil {
		return "", err
	}
	if int64(len(data)) > s.MaxSize {
		return "", vigil.Errorf(vigil.ETOOLARGE, "media larger than %d bytes", s.MaxSize)
	}
	raw := make([]byte, idBytes)
	if _, err := io.ReadFull(s.random, raw); err != nil {
		return "", fmt.Errorf("put media: %w", err)
	}
	id := hex.EncodeToString(raw)
	blob, err := s.keys.seal(id, data, s.random)
	if err != nil {
		return "", fmt.Errorf("put media: %w", err)
	}
	if err := writeFile(s.path(id), blob); err != nil {
		return "", fmt.Errorf("put media: %w", err)
	}
	return id, nil
}

// Get opens the blob with the given id. ENOTFOUND if there is none,
// EINVALID for an id that Put cannot have made.
func (s *Store) Get(ctx context.Context, id string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := ValidateID(id); err != nil {
		return nil, err
	}
	blob, err := s.readBlob(id)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, vigil.Errorf(vigil.ENOTFOUND, "media %s not found", id)
	} else if err != nil {
		return nil, fmt.Errorf("get media %s: %w", id, err)
	}
	data, err := s.keys.open(id, blob)
	if err != nil {
		return nil, fmt.Errorf("get media %s: %w", id, err)
	}
	return data, nil
}

// Delete removes the blob with the given id. Deleting a blob that is not
// there is no error, so that a retention run cut short can be repeated.
func (s *Store) Delete(ctx context.Context, id string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := ValidateID(id); err != nil {
		return err
	}
	if err := os.Remove(s.path(id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete media %s: %w", id, err)
	}
	return nil
}

// ForEachBlob calls fn with the id of every blob last written before
// cutoff, in no particular order, and stops at fn's first error. It is for
// sweeping blobs that no case holds, left by a crash between storing the
// media and opening its case.
func (s *Store) ForEachBlob(ctx context.Context, cutoff time.Time, fn func(id string) error) error {
	dirs, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("list media: %w", err)
	}
	for _, d := range dirs {
		if !d.IsDir() || len(d.Name()) != 2 {
			continue
		}
		files, err := os.ReadDir(filepath.Join(s.dir, d.Name()))
		if err != nil {
			return fmt.Errorf("list media: %w", err)
		}
		for _, f := range files {
			if err := ctx.Err(); err != nil {
				return err
			}
			id := f.Name()
			if ValidateID(id) != nil || id[:2] != d.Name() || !f.Type().IsRegular() {
				continue
			}
			fi, err := f.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue // deleted meanwhile
			} else if err != nil {
				return fmt.Errorf("list media: %w", err)
			}
			if !fi.ModTime().Before(cutoff) {
				continue
			}
			if err := fn(id); err != nil {
				return err
			}
		}
	}
	return nil
}

// Rekey seals again, under the current key, every blob sealed under
// another, keeping its id, so that old keys can be dropped from the
// keyring. It returns how many blobs it rewrote. Nothing else may write
// to or delete from the store meanwhile: a blob deleted while Rekey
// rewrites it would come back.
func (s *Store) Rekey(ctx context.Context) (int, error) {
	n := 0
	// A cutoff in the future takes every blob, however new.
	err := s.ForEachBlob(ctx, time.Now().Add(time.Hour), func(id string) error {
		blob, err := s.readBlob(id)
		if err != nil {
			return fmt.Errorf("rekey media %s: %w", id, err)
		}
		keyID, _, _, _, err := parseBlob(blob)
		if err != nil {
			return fmt.Errorf("rekey media %s: %w", id, err)
		}
		if keyID == s.keys.current {
			return nil
		}
		data, err := s.keys.open(id, blob)
		if err != nil {
			return fmt.Errorf("rekey media %s: %w", id, err)
		}
		sealed, err := s.keys.seal(id, data, s.random)
		if err != nil {
			return fmt.Errorf("rekey media %s: %w", id, err)
		}
		if err := writeFile(s.path(id), sealed); err != nil {
			return fmt.Errorf("rekey media %s: %w", id, err)
		}
		n++
		return nil
	})
	return n, err
}

// ValidateID returns an EINVALID error unless id has the form Put gives:
// 32 lowercase hex digits. Only such ids reach the file system, so no id
// can name a path outside the store.
func ValidateID(id string) error {
	if len(id) != 2*idBytes {
		return vigil.Errorf(vigil.EINVALID, "media id must be %d hex digits", 2*idBytes)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return vigil.Errorf(vigil.EINVALID, "media id must be %d lowercase hex digits", 2*idBytes)
		}
	}
	return nil
}

// readBlob reads the file of blob id, refusing one larger than a blob of
// MaxSize can be.
func (s *Store) readBlob(id string) ([]byte, error) {
	return readLimited(s.path(id), s.MaxSize+int64(headerMax+tagSize))
}

// path returns a blob's file. Files sit in 256 subdirectories by their
// id's first two digits, so no one directory grows huge.
func (s *Store) path(id string) string {
	return filepath.Join(s.dir, id[:2], id)
}

// writeFile writes data to path atomically: to a temporary file in the
// same directory, synced, then renamed over path. Readers see the whole
// blob or none, even after a crash.
func writeFile(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, tempPattern) // mode 0600
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(f.Name())
		}
	}()
	if err := f.Chmod(0o600); err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return err
	}
	// Sync the directory so that the rename itself survives a power cut.
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// headerMax is the longest header: magic, id length, id, data length,
// nonce.
const headerMax = len(magic) + 1 + MaxKeyIDLen + 8 + nonceSize

// seal returns the blob file of data with the current key, for blob id.
func (kr *Keyring) seal(id string, data []byte, random io.Reader) ([]byte, error) {
	keyID := kr.current
	aead := kr.aeads[keyID]
	hdr := make([]byte, 0, headerMax+len(data)+tagSize)
	hdr = append(hdr, magic...)
	hdr = append(hdr, byte(len(keyID)))
	hdr = append(hdr, keyID...)
	hdr = binary.BigEndian.AppendUint64(hdr, uint64(len(data)))
	nonce := make([]byte, nonceSize)
	if _, err := io.ReadFull(random, nonce); err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	ad := associatedData(hdr, id)
	hdr = append(hdr, nonce...)
	return aead.Seal(hdr, nonce, data, ad), nil
}

// open returns the data of blob, the file of blob id.
func (kr *Keyring) open(id string, blob []byte) ([]byte, error) {
	keyID, prefix, nonce, sealed, err := parseBlob(blob)
	if err != nil {
		return nil, err
	}
	aead, ok := kr.aeads[keyID]
	if !ok {
		return nil, fmt.Errorf("key %q: %w", keyID, ErrUnknownKey)
	}
	// Decrypt in place: blobs can be large, and the sealed copy is not
	// needed afterwards.
	data, err := aead.Open(sealed[:0], nonce, sealed, associatedData(prefix, id))
	if err != nil {
		return nil, ErrCorrupt
	}
	return data, nil
}

// parseBlob splits a blob file into its key id, the header bytes before
// the nonce, the nonce and the sealed data.
func parseBlob(blob []byte) (keyID string, prefix, nonce, sealed []byte, err error) {
	if len(blob) < len(magic)+1 {
		if len(blob) == 0 || string(blob) == magic[:len(blob)] {
			return "", nil, nil, nil, ErrTruncated
		}
		return "", nil, nil, nil, ErrFormat
	}
	if string(blob[:len(magic)]) != magic {
		return "", nil, nil, nil, ErrFormat
	}
	n := int(blob[len(magic)])
	if n == 0 || n > MaxKeyIDLen {
		return "", nil, nil, nil, ErrFormat
	}
	end := len(magic) + 1 + n + 8
	if len(blob) < end+nonceSize {
		return "", nil, nil, nil, ErrTruncated
	}
	keyID = string(blob[len(magic)+1 : end-8])
	if validateKeyID(keyID) != nil {
		return "", nil, nil, nil, ErrFormat
	}
	size := binary.BigEndian.Uint64(blob[end-8 : end])
	sealed = blob[end+nonceSize:]
	switch {
	case size > uint64(len(sealed)) || uint64(len(sealed))-size < tagSize:
		return "", nil, nil, nil, ErrTruncated
	case uint64(len(sealed))-size > tagSize:
		return "", nil, nil, nil, ErrFormat // bytes after the blob
	}
	return keyID, blob[:end], blob[end : end+nonceSize], sealed, nil
}

// associatedData binds a blob to its header and its id.
func associatedData(prefix []byte, id string) []byte {
	ad := make([]byte, 0, len(prefix)+len(id))
	ad = append(ad, prefix...)
	return append(ad, id...)
}
