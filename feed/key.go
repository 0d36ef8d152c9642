package feed

import (
	"crypto/ed25519"
	"encoding/base64"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/vigil-oss/vigil"
)

// MaxKeyFileBytes bounds a signer key file.
const MaxKeyFileBytes = 1024

// VerifierKey returns the note verifier key (what subscribers pin) of a
// note signer key, "PRIVATE+KEY+name+hash+key", whose Ed25519 key is
// stored as its seed.
func VerifierKey(skey string) (string, error) {
	skey = strings.TrimSpace(skey)
	s, err := note.NewSigner(skey)
	if err != nil {
		return "", vigil.Errorf(vigil.EINVALID, "not a note signer key")
	}
	// The key is the fifth field; base64 may hold "+" itself.
	rest := skey
	for range 4 {
		_, rest, _ = strings.Cut(rest, "+")
	}
	key, err := base64.StdEncoding.DecodeString(rest)
	// NewSigner took it, so the form holds; the checks guard the slicing.
	if err != nil || len(key) != 1+ed25519.SeedSize || key[0] != 1 {
		return "", vigil.Errorf(vigil.EINVALID, "signer key is not an Ed25519 key")
	}
	pub := ed25519.NewKeyFromSeed(key[1:]).Public().(ed25519.PublicKey)
	vkey, err := note.NewEd25519VerifierKey(s.Name(), pub)
	if err != nil {
		return "", vigil.Errorf(vigil.EINVALID, "signer key: %v", err)
	}
	return vkey, nil
}
