package translog

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/vigil-oss/vigil"
)

// cosignAlg is the c2sp signature type of an Ed25519 cosignature/v1.
const cosignAlg = 0x04

// cosignKeyHash is the c2sp key ID: SHA-256(name ‖ "\n" ‖ 0x04 ‖ key)[:4].
func cosignKeyHash(name string, pub ed25519.PublicKey) uint32 {
	h := sha256.New()
	h.Write([]byte(name + "\n"))
	h.Write([]byte{cosignAlg})
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// cosignMessage is what a cosigner signs: "cosignature/v1", the time line,
// then the whole checkpoint body.
func cosignMessage(ts uint64, body []byte) []byte {
	return append([]byte("cosignature/v1\ntime "+strconv.FormatUint(ts, 10)+"\n"), body...)
}

// Cosigner is a witness's note.Signer for c2sp cosignature/v1: its
// signature is the timestamp (8 bytes, big-endian) then an Ed25519
// signature over cosignMessage. A witness must only cosign a checkpoint
// it has checked is consistent with every earlier one it cosigned; this
// type signs, the check is the witness's (Verifier.Consistent).
type Cosigner struct {
	name string
	key  ed25519.PrivateKey
	hash uint32
	now  func() time.Time
}

// NewCosigner returns a cosigner named name with the given key and clock.
func NewCosigner(name string, key ed25519.PrivateKey, now func() time.Time) (*Cosigner, error) {
	if !validKeyName(name) || len(key) != ed25519.PrivateKeySize {
		return nil, vigil.Errorf(vigil.EINVALID, "cosigner: bad name or key")
	}
	return &Cosigner{name: name, key: key, hash: cosignKeyHash(name, key.Public().(ed25519.PublicKey)), now: now}, nil
}

// Name implements note.Signer.
func (c *Cosigner) Name() string { return c.name }

// KeyHash implements note.Signer.
func (c *Cosigner) KeyHash() uint32 { return c.hash }

// Sign implements note.Signer.
func (c *Cosigner) Sign(msg []byte) ([]byte, error) {
	t := c.now().Unix()
	if t < 0 {
		return nil, fmt.Errorf("cosigner: clock before 1970")
	}
	sig := binary.BigEndian.AppendUint64(nil, uint64(t))
	return append(sig, ed25519.Sign(c.key, cosignMessage(uint64(t), msg))...), nil
}

// CosignVerifier checks c2sp cosignature/v1 signatures of one witness.
type CosignVerifier struct {
	name string
	pub  ed25519.PublicKey
	hash uint32
}

// Name implements note.Verifier.
func (v *CosignVerifier) Name() string { return v.name }

// KeyHash implements note.Verifier.
func (v *CosignVerifier) KeyHash() uint32 { return v.hash }

// Verify implements note.Verifier.
func (v *CosignVerifier) Verify(msg, sig []byte) bool {
	if len(sig) != 8+ed25519.SignatureSize {
		return false
	}
	ts := binary.BigEndian.Uint64(sig)
	if ts > 1<<63-1 {
		return false
	}
	return ed25519.Verify(v.pub, cosignMessage(ts, msg), sig[8:])
}

// NewCosignVerifier parses a witness verifier key, c2sp vkey form with
// signature type 0x04: "name+hash+base64(0x04 ‖ 32-byte key)".
func NewCosignVerifier(vkey string) (*CosignVerifier, error) {
	name, hash, key, err := splitKey(strings.TrimSpace(vkey), "", ed25519.PublicKeySize)
	if err != nil {
		return nil, err
	}
	v := &CosignVerifier{name: name, pub: ed25519.PublicKey(key)}
	if v.hash = cosignKeyHash(name, v.pub); v.hash != hash {
		return nil, vigil.Errorf(vigil.EINVALID, "witness key: key hash does not match")
	}
	return v, nil
}

// ParseCosignerKey parses a witness signer key,
// "PRIVATE+KEY+name+hash+base64(0x04 ‖ 32-byte Ed25519 seed)".
func ParseCosignerKey(skey string, now func() time.Time) (*Cosigner, error) {
	name, hash, seed, err := splitKey(strings.TrimSpace(skey), "PRIVATE+KEY+", ed25519.SeedSize)
	if err != nil {
		return nil, err
	}
	c, err := NewCosigner(name, ed25519.NewKeyFromSeed(seed), now)
	if err != nil {
		return nil, err
	}
	if c.hash != hash {
		return nil, vigil.Errorf(vigil.EINVALID, "witness key: key hash does not match")
	}
	return c, nil
}

// GenerateCosignerKey returns a new witness signer key and its verifier
// key, in the forms ParseCosignerKey and NewCosignVerifier read.
func GenerateCosignerKey(rand io.Reader, name string) (skey, vkey string, err error) {
	if !validKeyName(name) {
		return "", "", vigil.Errorf(vigil.EINVALID, "witness key: bad name %q", name)
	}
	pub, priv, err := ed25519.GenerateKey(rand)
	if err != nil {
		return "", "", err
	}
	h := fmt.Sprintf("%08x", cosignKeyHash(name, pub))
	enc := func(b []byte) string { return base64.StdEncoding.EncodeToString(append([]byte{cosignAlg}, b...)) }
	return "PRIVATE+KEY+" + name + "+" + h + "+" + enc(priv.Seed()), name + "+" + h + "+" + enc(pub), nil
}

func splitKey(s, prefix string, size int) (name string, hash uint32, key []byte, err error) {
	bad := vigil.Errorf(vigil.EINVALID, "malformed witness key")
	rest, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return "", 0, nil, bad
	}
	name, rest, ok1 := strings.Cut(rest, "+")
	h, b64, ok2 := strings.Cut(rest, "+")
	if !ok1 || !ok2 || !validKeyName(name) || len(h) != 8 {
		return "", 0, nil, bad
	}
	hv, err1 := strconv.ParseUint(h, 16, 32)
	raw, err2 := base64.StdEncoding.DecodeString(b64)
	if err1 != nil || err2 != nil || len(raw) != 1+size || raw[0] != cosignAlg {
		return "", 0, nil, bad
	}
	return name, uint32(hv), raw[1:], nil
}

// validKeyName is note's rule for key names: non-empty, no spaces or
// plus signs, printable.
func validKeyName(name string) bool {
	return name != "" && len(name) <= 256 && !strings.ContainsAny(name, " +\n\t") && vigil.Printable(name)
}

var (
	_ note.Signer   = (*Cosigner)(nil)
	_ note.Verifier = (*CosignVerifier)(nil)
)
