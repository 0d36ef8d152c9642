package media

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
)

// KeySize is the length of a media key: AES-256.
const KeySize = 32

// MaxKeyIDLen bounds a key id, which every blob carries in its header.
const MaxKeyIDLen = 32

// EnvKeys is the environment variable that holds a keyring (see
// ParseKeyring).
const EnvKeys = "VIGIL_MEDIA_KEYS"

// Keyring holds the media keys by id. The current key seals new blobs; any
// key opens the blobs that name it, so keys can be rotated: put a new key
// first and keep the old ones until their blobs have expired.
type Keyring struct {
	current string
	aeads   map[string]cipher.AEAD
}

// ParseKeyring parses a keyring written as comma- or newline-separated
// "id:key" pairs, where id is 1 to MaxKeyIDLen characters of A-Z, a-z,
// 0-9, '.', '_' and '-', and key is 32 bytes in standard or URL-safe
// base64 (padded or not). The first key is the current one. Blank lines
// and lines starting with '#' are skipped, so a key file can say what it
// is. For example:
//
//	VIGIL_MEDIA_KEYS="2026-11:q83vEjRWeJq83vEjRWeJq83vEjRWeJq83vEjRWeJq80=,2026-05:…"
func ParseKeyring(s string) (*Keyring, error) {
	kr := &Keyring{aeads: map[string]cipher.AEAD{}}
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		for _, pair := range strings.Split(line, ",") {
			pair = strings.TrimSpace(pair)
			if pair == "" {
				continue
			}
			id, b64, ok := strings.Cut(pair, ":")
			if !ok {
				return nil, fmt.Errorf("media key %d: want id:base64key", len(kr.aeads)+1)
			}
			key, err := decodeKey(b64)
			if err != nil {
				// The key itself is never echoed: it may be most of a secret.
				return nil, fmt.Errorf("media key %q: %w", id, err)
			}
			if err := kr.Add(id, key); err != nil {
				return nil, err
			}
		}
	}
	if len(kr.aeads) == 0 {
		return nil, errors.New("media keyring holds no keys")
	}
	return kr, nil
}

// decodeKey decodes a base64 key in any of the usual alphabets and checks
// its length.
func decodeKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if key, err := enc.DecodeString(s); err == nil {
			if len(key) != KeySize {
				return nil, fmt.Errorf("key is %d bytes, want %d", len(key), KeySize)
			}
			return key, nil
		}
	}
	return nil, errors.New("key is not base64")
}

// Add adds a key; the first key added is the current one. It refuses a
// malformed id, a key of the wrong size and an id already held.
func (kr *Keyring) Add(id string, key []byte) error {
	if err := validateKeyID(id); err != nil {
		return err
	}
	if len(key) != KeySize {
		return fmt.Errorf("media key %q is %d bytes, want %d", id, len(key), KeySize)
	}
	if kr.aeads == nil {
		kr.aeads = map[string]cipher.AEAD{}
	}
	if _, ok := kr.aeads[id]; ok {
		return fmt.Errorf("media key %q given twice", id)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return fmt.Errorf("media key %q: %w", id, err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return fmt.Errorf("media key %q: %w", id, err)
	}
	kr.aeads[id] = aead
	if kr.current == "" {
		kr.current = id
	}
	return nil
}

// Current returns the id of the key that seals new blobs.
func (kr *Keyring) Current() string { return kr.current }

func validateKeyID(id string) error {
	if id == "" || len(id) > MaxKeyIDLen {
		return fmt.Errorf("media key id must be 1 to %d characters", MaxKeyIDLen)
	}
	for _, c := range []byte(id) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("media key id %q may hold only A-Z, a-z, 0-9, '.', '_' and '-'", id)
		}
	}
	return nil
}

// maxKeyFile bounds a key file: a few hundred keys.
const maxKeyFile = 64 << 10

// LoadKeyFile reads a keyring from a file in ParseKeyring's format.
func LoadKeyFile(path string) (*Keyring, error) {
	b, err := readLimited(path, maxKeyFile)
	if err != nil {
		return nil, fmt.Errorf("read media key file: %w", err)
	}
	kr, err := ParseKeyring(string(b))
	if err != nil {
		return nil, fmt.Errorf("media key file %s: %w", path, err)
	}
	return kr, nil
}

// LoadOrCreateKeyFile reads the keyring in path or, if there is no such
// file, generates one key from random, writes it there (mode 0600) and
// reports created. It is for a first start without configured keys; the
// file must then be kept with the data, and backed up apart from it.
func LoadOrCreateKeyFile(path string, random io.Reader) (kr *Keyring, created bool, err error) {
	kr, err = LoadKeyFile(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return kr, false, err
	}
	key := make([]byte, KeySize)
	if _, err := io.ReadFull(random, key); err != nil {
		return nil, false, fmt.Errorf("generate media key: %w", err)
	}
	id := "k1"
	text := "# Vigil media key: id:base64. Keep it secret; without it the stored media cannot be read.\n" +
		id + ":" + base64.StdEncoding.EncodeToString(key) + "\n"
	// O_EXCL: two processes starting at once must not each write a key
	// and seal blobs with different ones.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		kr, err = LoadKeyFile(path)
		return kr, false, err
	} else if err != nil {
		return nil, false, fmt.Errorf("create media key file: %w", err)
	}
	if _, err := f.WriteString(text); err != nil {
		f.Close()
		os.Remove(path)
		return nil, false, fmt.Errorf("write media key file: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(path)
		return nil, false, fmt.Errorf("write media key file: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return nil, false, fmt.Errorf("write media key file: %w", err)
	}
	kr = &Keyring{}
	if err := kr.Add(id, key); err != nil {
		return nil, false, err
	}
	return kr, true, nil
}

// readLimited reads a whole file, refusing one longer than limit. It
// reads into one buffer of the file's size, since blobs are large and
// growing a buffer as io.ReadAll does cost more than the decryption.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes", path, limit)
	}
	b := make([]byte, fi.Size())
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, err
	}
	// A file that grew since the Stat would be cut short above; a rename
	// replaces files whole, so only tampering can do that, and the
	// authentication catches it.
	return b, nil
}
