package vigil

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// Role is what an API key may do.
type Role string

// Roles, from most to least powerful.
const (
	// RoleAdmin manages keys and everything else.
	RoleAdmin Role = "admin"
	// RoleCurator manages banks and their entries.
	RoleCurator Role = "curator"
	// RoleMatcher submits content and signals for matching.
	RoleMatcher Role = "matcher"
	// RoleReviewer works the review queue.
	RoleReviewer Role = "reviewer"
	// RoleLookup is another platform's key for hosted lookups: it may
	// only send signals to POST /v1/lookup (the health checks need no
	// key). Its answers carry what each bank's Reveal
	// allows, it opens no cases and keeps nothing, and it is limited by
	// its KeyLimits or the server's default for lookup keys.
	RoleLookup Role = "lookup"
)

// Valid reports whether r is one of the known roles.
func (r Role) Valid() bool {
	switch r {
	case RoleAdmin, RoleCurator, RoleMatcher, RoleReviewer, RoleLookup:
		return true
	}
	return false
}

// KeyLimits bound what one key may look up (POST /v1/lookup): a token
// bucket of Rate requests per second holding up to Burst, and Daily
// signals per UTC day (a request of n signals counts n). A zero field sets
// no limit of its kind.
type KeyLimits struct {
	Rate  float64 `json:"rate,omitempty"`
	Burst int     `json:"burst,omitempty"`
	Daily int64   `json:"daily,omitempty"`
}

// Bounds on KeyLimits fields.
const (
	MaxKeyRate  = 1e6
	MaxKeyBurst = 1 << 20
)

// Validate returns an EINVALID error for limits out of range. A rate
// without a burst gets a burst of one second's requests (at least 1).
func (l *KeyLimits) Validate() error {
	if !(l.Rate >= 0 && l.Rate <= MaxKeyRate) { // NaN fails both
		return Errorf(EINVALID, "key rate must be 0 (no limit) to %g requests per second", float64(MaxKeyRate))
	}
	if l.Burst < 0 || l.Burst > MaxKeyBurst {
		return Errorf(EINVALID, "key burst must be 0 to %d requests", MaxKeyBurst)
	}
	if l.Daily < 0 {
		return Errorf(EINVALID, "key daily quota must be 0 (no limit) or more")
	}
	if l.Rate > 0 && l.Burst == 0 {
		l.Burst = max(1, int(math.Ceil(l.Rate)))
	}
	return nil
}

// KeySecretPrefix starts every API key secret, so that secret scanners and
// people can recognise a leaked key.
const KeySecretPrefix = "vgl_"

// MaxKeyNameLen bounds Key.Name.
const MaxKeyNameLen = 128

// Key is an API key. Only a hash of its secret is stored: the secret is
// shown once, when the key is created.
type Key struct {
	ID   int64  `json:"id"`
	Name string `json:"name"`
	Role Role   `json:"role"`

	// Hint is the start of the secret, enough for a person to tell keys
	// apart in a list and too little to guess the rest.
	Hint string `json:"hint"`

	CreatedAt  time.Time  `json:"created_at"`
	CreatedBy  string     `json:"created_by"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
	RevokedBy  string     `json:"revoked_by,omitempty"`

	// Limits are the key's own lookup limits; nil means the server's
	// default for lookup keys and no limit for other roles.
	Limits *KeyLimits `json:"limits,omitempty"`
}

// Actor returns how k is named in stored records (the audit log, case
// history, who added or retracted an entry): "key:ID:NAME". The id makes
// it unique, since a name says nothing about a key's role and a revoked
// key's name may be reused; the name keeps it readable.
func (k *Key) Actor() string { return "key:" + strconv.FormatInt(k.ID, 10) + ":" + k.Name }

// Revoked reports whether k has been revoked.
func (k *Key) Revoked() bool { return k.RevokedAt != nil }

// Validate returns an EINVALID error if k cannot be stored.
func (k *Key) Validate() error {
	// Key names show in lists, the audit log and case history, beside
	// their ids (Actor): they must read as what they are.
	if err := ValidateName("key name", k.Name, MaxKeyNameLen); err != nil {
		return err
	}
	if !k.Role.Valid() {
		return Errorf(EINVALID, "unknown role %q", k.Role)
	}
	if k.Limits != nil {
		if err := k.Limits.Validate(); err != nil {
			return err
		}
	}
	if len(k.CreatedBy) > MaxEntryFieldLen || !Printable(k.CreatedBy) {
		return Errorf(EINVALID, "key created_by must be at most %d printable bytes", MaxEntryFieldLen)
	}
	return nil
}

// keyEncoding writes secrets in lowercase base32 without padding: no
// characters that URLs, shells or config files treat specially.
var keyEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewKeySecret returns a new API key secret: KeySecretPrefix and 256 random
// bits from rand (crypto/rand.Reader outside tests). With that much entropy
// a fast unsalted hash is enough to store it (see HashKeySecret).
func NewKeySecret(rand io.Reader) (string, error) {
	b := make([]byte, 32)
	if _, err := io.ReadFull(rand, b); err != nil {
		return "", fmt.Errorf("new key secret: %w", err)
	}
	return KeySecretPrefix + keyEncoding.EncodeToString(b), nil
}

// HashKeySecret returns the hex SHA-256 of secret, the form in which key
// secrets are stored and looked up.
func HashKeySecret(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// KeySecretHint returns the part of secret stored in Key.Hint.
func KeySecretHint(secret string) string {
	const n = len(KeySecretPrefix) + 4
	if len(secret) < n || !strings.HasPrefix(secret, KeySecretPrefix) {
		return ""
	}
	return secret[:n]
}

// KeyService stores API keys.
type KeyService interface {
	// CreateKey stores k with a new secret and returns the secret, which is
	// not stored and cannot be shown again. It sets ID, Hint and CreatedAt.
	// EINVALID for a bad name or role, ECONFLICT for the name of an
	// unrevoked key.
	CreateKey(ctx context.Context, k *Key) (secret string, err error)

	// FindKeyBySecret returns the key a caller presented and records its
	// use (at most about once a minute per key, so that authentication does
	// not write on every request). EUNAUTHORIZED for an unknown or revoked
	// key, with the same message for both.
	FindKeyBySecret(ctx context.Context, secret string) (*Key, error)

	// FindKeyByID returns a key, revoked or not, or ENOTFOUND.
	FindKeyByID(ctx context.Context, id int64) (*Key, error)

	// ListKeys returns all keys, revoked ones included, by ID.
	ListKeys(ctx context.Context) ([]*Key, error)

	// RevokeKey revokes a key for good and returns it. ENOTFOUND for an
	// unknown key, ECONFLICT for a key already revoked and for the last
	// unrevoked admin key, without which no one could manage keys.
	RevokeKey(ctx context.Context, id int64, by string) (*Key, error)

	// SetKeyLimits replaces a key's own limits (nil: back to the
	// defaults) and returns the key. ENOTFOUND, EINVALID, ECONFLICT for a
	// revoked key.
	SetKeyLimits(ctx context.Context, id int64, limits *KeyLimits) (*Key, error)

	// CountKeys returns the number of keys ever created, revoked ones
	// included: a server that finds none knows it is starting for the first
	// time and prints a bootstrap admin key. Counting revoked keys too means
	// revoking every key does not hand an admin key to whoever restarts the
	// server next.
	CountKeys(ctx context.Context) (int, error)
}
