package provenance

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"math/big"

	"github.com/fxamacker/cbor/v2"
)

// COSE (RFC 9052) header labels and algorithm ids this reader uses.
const (
	coseAlg     = 1
	coseX5Chain = 33
	coseTagSig1 = 18
)

// coseAlgs are the signature algorithms C2PA allows (its §13.2), by COSE id.
var coseAlgs = map[int64]string{
	-7: "ES256", -35: "ES384", -36: "ES512",
	-37: "PS256", -38: "PS384", -39: "PS512",
	-8: "EdDSA",
}

// coseSign1 is a COSE_Sign1 message; C2PA's payload is detached (nil):
// it is the claim.
type coseSign1 struct {
	_           struct{} `cbor:",toarray"`
	Protected   []byte
	Unprotected cbor.RawMessage
	Payload     []byte
	Signature   []byte
}

// signature is a decoded claim signature, ready to check.
type signature struct {
	alg       string
	chain     []*x509.Certificate
	protected []byte
	sig       []byte
	// sigTst and sigTst2 are the unprotected header's time-stamp
	// containers (CBOR), nil when absent.
	sigTst, sigTst2 cbor.RawMessage
	// rVals is the unprotected header's stapled revocation values.
	rVals cbor.RawMessage
}

// decodeSignature decodes the COSE_Sign1_Tagged message of a claim
// signature box and parses its certificate chain (x5chain: in the
// protected header, where C2PA 2 puts it, else in the unprotected one,
// where earlier manifests may have it).
func (r *Reader) decodeSignature(data []byte) (*signature, error) {
	var tag cbor.RawTag
	if err := r.dec.Unmarshal(data, &tag); err != nil {
		return nil, fmt.Errorf("cose: %w", err)
	}
	if tag.Number != coseTagSig1 {
		return nil, fmt.Errorf("cose: tag %d is not COSE_Sign1", tag.Number)
	}
	var msg coseSign1
	if err := r.dec.Unmarshal(tag.Content, &msg); err != nil {
		return nil, fmt.Errorf("cose: %w", err)
	}
	prot, err := r.headers(msg.Protected)
	if err != nil {
		return nil, fmt.Errorf("cose: protected header: %w", err)
	}
	var unprot map[any]cbor.RawMessage
	if len(msg.Unprotected) > 0 {
		if err := r.dec.Unmarshal(msg.Unprotected, &unprot); err != nil {
			return nil, fmt.Errorf("cose: unprotected header: %w", err)
		}
	}
	s := &signature{protected: msg.Protected, sig: msg.Signature, sigTst: unprot["sigTst"], sigTst2: unprot["sigTst2"], rVals: unprot["rVals"]}
	rawAlg, ok := header(prot, coseAlg)
	if !ok {
		return nil, errors.New("cose: no algorithm in the protected header")
	}
	var alg int64
	if err := r.dec.Unmarshal(rawAlg, &alg); err != nil {
		return nil, fmt.Errorf("cose: algorithm: %w", err)
	}
	if s.alg = coseAlgs[alg]; s.alg == "" {
		return nil, fmt.Errorf("cose: algorithm %d is not one C2PA allows", alg)
	}
	rawChain, ok := header(prot, coseX5Chain)
	if !ok {
		rawChain, ok = header(unprot, coseX5Chain)
	}
	if !ok {
		// Manifests from before the label was registered (C2PA 1.0
		// drafts) name it in text.
		rawChain, ok = prot["x5chain"]
	}
	if !ok {
		rawChain, ok = unprot["x5chain"]
	}
	if !ok {
		return nil, errors.New("cose: no certificate chain (x5chain)")
	}
	if s.chain, err = r.parseChain(rawChain); err != nil {
		return nil, err
	}
	return s, nil
}

func (r *Reader) headers(protected []byte) (map[any]cbor.RawMessage, error) {
	if len(protected) == 0 {
		return nil, nil
	}
	var h map[any]cbor.RawMessage
	if err := r.dec.Unmarshal(protected, &h); err != nil {
		return nil, err
	}
	return h, nil
}

// header returns a header's value by integer label, whichever integer type
// the decoder gave the key.
func header(h map[any]cbor.RawMessage, label int64) (cbor.RawMessage, bool) {
	for k, v := range h {
		switch k := k.(type) {
		case int64:
			if k == label {
				return v, true
			}
		case uint64:
			if label >= 0 && k == uint64(label) {
				return v, true
			}
		}
	}
	return nil, false
}

// parseChain parses x5chain: one DER certificate, or an array of them,
// signer first, within the chain-length limit.
func (r *Reader) parseChain(raw cbor.RawMessage) ([]*x509.Certificate, error) {
	var ders [][]byte
	var one []byte
	if err := r.dec.Unmarshal(raw, &one); err == nil {
		ders = [][]byte{one}
	} else if err := r.dec.Unmarshal(raw, &ders); err != nil {
		return nil, fmt.Errorf("cose: x5chain: %w", err)
	}
	if len(ders) == 0 {
		return nil, errors.New("cose: empty x5chain")
	}
	if len(ders) > r.limits.MaxChain {
		return nil, fmt.Errorf("cose: x5chain of %d certificates, over the limit of %d", len(ders), r.limits.MaxChain)
	}
	chain := make([]*x509.Certificate, len(ders))
	for i, der := range ders {
		c, err := ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("cose: x5chain certificate %d: %w", i, err)
		}
		chain[i] = c
	}
	return chain, nil
}

// verify checks the signature over the detached payload with the signer
// certificate's key (RFC 9052 §4.4: Sig_structure "Signature1", the
// protected header as sent, empty external data, the payload).
func (s *signature) verify(payload []byte) error {
	tbs, err := cbor.Marshal([]any{"Signature1", s.protected, []byte{}, payload})
	if err != nil {
		return err
	}
	pub := s.chain[0].PublicKey
	switch s.alg {
	case "ES256", "ES384", "ES512":
		key, ok := pub.(*ecdsa.PublicKey)
		if !ok {
			return fmt.Errorf("%s signature from a %T key", s.alg, pub)
		}
		curve, h := map[string]elliptic.Curve{"ES256": elliptic.P256(), "ES384": elliptic.P384(), "ES512": elliptic.P521()}[s.alg],
			map[string]crypto.Hash{"ES256": crypto.SHA256, "ES384": crypto.SHA384, "ES512": crypto.SHA512}[s.alg]
		if key.Curve != curve {
			return fmt.Errorf("%s signature from a %s key", s.alg, key.Curve.Params().Name)
		}
		// COSE signs ECDSA as r‖s, each the curve's size (not ASN.1).
		n := (curve.Params().BitSize + 7) / 8
		if len(s.sig) != 2*n {
			// Some signers write ASN.1 DER, which COSE does not allow
			// but verifies all the same; the length tells them apart.
			if ecdsa.VerifyASN1(key, digest(h, tbs), s.sig) {
				return nil
			}
			return fmt.Errorf("%s signature of %d bytes, want %d", s.alg, len(s.sig), 2*n)
		}
		rr, ss := new(big.Int).SetBytes(s.sig[:n]), new(big.Int).SetBytes(s.sig[n:])
		if !ecdsa.Verify(key, digest(h, tbs), rr, ss) {
			return errors.New("signature does not verify")
		}
	case "PS256", "PS384", "PS512":
		key, ok := pub.(*rsa.PublicKey)
		if !ok {
			return fmt.Errorf("%s signature from a %T key", s.alg, pub)
		}
		h := map[string]crypto.Hash{"PS256": crypto.SHA256, "PS384": crypto.SHA384, "PS512": crypto.SHA512}[s.alg]
		if err := rsa.VerifyPSS(key, h, digest(h, tbs), s.sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}); err != nil {
			return errors.New("signature does not verify")
		}
	case "EdDSA":
		key, ok := pub.(ed25519.PublicKey)
		if !ok {
			return fmt.Errorf("EdDSA signature from a %T key", pub)
		}
		if !ed25519.Verify(key, tbs, s.sig) {
			return errors.New("signature does not verify")
		}
	default:
		return fmt.Errorf("algorithm %s", s.alg)
	}
	return nil
}

func digest(h crypto.Hash, data []byte) []byte {
	w := h.New()
	w.Write(data)
	return w.Sum(nil)
}
