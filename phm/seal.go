package phm

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// WayKey derives the AEAD key of one way of an element from the shared
// point S_w (client) = α·Q (service), Q itself, the way and the voucher id.
// The way is in the derivation because a synthetic element (and a key whose
// ways share a slot) has S_1 = S_2 = S_3: one key would then seal k_img
// three times under one zero nonce, and the three equal ciphertexts would
// mark the element.
func WayKey(shared, q []byte, way int, id [IDSize]byte) []byte {
	secret := make([]byte, 0, len(shared)+len(q))
	secret = append(append(secret, shared...), q...)
	k, err := hkdf.Key(sha256.New, secret, id[:], fmt.Sprintf("vigil-phm-v1 way %d", way), KeySize)
	if err != nil {
		panic(err) // only for a length HKDF cannot produce; 32 is fine
	}
	return k
}

// InnerKey derives the per-voucher key of the inner layer from K_acct, so
// that one account key never seals two payloads under the zero nonce.
func InnerKey(kacct []byte, id [IDSize]byte) []byte {
	k, err := hkdf.Key(sha256.New, kacct, id[:], "vigil-phm-v1 inner", KeySize)
	if err != nil {
		panic(err)
	}
	return k
}

// HeaderAAD binds a sealed header to its voucher's version, epoch and id.
func HeaderAAD(epoch uint32, id [IDSize]byte) []byte {
	return append(binary.BigEndian.AppendUint32([]byte{Version}, epoch), id[:]...)
}

// Seal encrypts with AES-256-GCM under a zero nonce. Every key it is given
// is fresh (k_img per voucher, WayKey, InnerKey), which is what makes the
// fixed nonce safe and saves 12 bytes per ciphertext.
func Seal(key, plaintext, aad []byte) []byte {
	g := gcm(key)
	return g.Seal(make([]byte, 0, len(plaintext)+TagSize), make([]byte, g.NonceSize()), plaintext, aad)
}

// ErrSealed is returned when a ciphertext does not open under a key.
var ErrSealed = errors.New("phm: does not open")

// Open decrypts what Seal made, or returns ErrSealed.
func Open(key, ciphertext, aad []byte) ([]byte, error) {
	g := gcm(key)
	out, err := g.Open(nil, make([]byte, g.NonceSize()), ciphertext, aad)
	if err != nil {
		return nil, ErrSealed
	}
	return out, nil
}

func gcm(key []byte) cipher.AEAD {
	b, err := aes.NewCipher(key)
	if err != nil {
		panic(fmt.Sprintf("phm: AEAD key of %d bytes", len(key)))
	}
	g, err := cipher.NewGCM(b)
	if err != nil {
		panic(err)
	}
	return g
}
