package c2patest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
	"math/big"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// TSA is an RFC 3161 time-stamping authority for tests: a root CA of its
// own and a TSA certificate (extended key use timeStamping) issued by it,
// both valid for ten years either side of now so that tokens can be dated
// in the past.
type TSA struct {
	Alg  string // EdDSA, ES256, RS256 (PKCS #1 v1.5) or PS256
	Key  crypto.Signer
	Cert *x509.Certificate
	Root *x509.Certificate
}

// NewTSA makes a TSA signing with Ed25519, whose signatures are of one
// length: a manifest's size then settles whatever the draw (an ECDSA DER
// signature's length varies from one signing to the next).
func NewTSA() (*TSA, error) { return NewTSAAlg("EdDSA") }

// NewTSAAlg makes a TSA signing with alg: EdDSA, ES256, RS256 (RSA PKCS #1
// v1.5) or PS256 (RSASSA-PSS, SHA-256, salt of 32 bytes).
func NewTSAAlg(alg string) (*TSA, error) {
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	from, to := time.Now().AddDate(-10, 0, 0), time.Now().AddDate(10, 0, 0)
	root, err := certValid("Vigil Test TSA Root CA", true, &rootKey.PublicKey, nil, rootKey, from, to)
	if err != nil {
		return nil, err
	}
	var key crypto.Signer
	switch alg {
	case "EdDSA":
		_, key, err = ed25519.GenerateKey(rand.Reader)
	case "ES256":
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "RS256", "PS256":
		key, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		err = fmt.Errorf("c2patest: TSA algorithm %q", alg)
	}
	if err != nil {
		return nil, err
	}
	serial++
	t := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "Vigil Test TSA", Organization: []string{"Vigil Tests"}},
		NotBefore:    from, NotAfter: to,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping},
	}
	der, err := x509.CreateCertificate(rand.Reader, t, root, key.Public(), rootKey)
	if err != nil {
		return nil, err
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &TSA{Alg: alg, Key: key, Cert: c, Root: root}, nil
}

// OIDs of CMS and RFC 3161.
var (
	oidSignedData    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidTSTInfo       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}
	oidContentType   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidMessageDigest = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}
	oidSHA256        = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidECDSASHA256   = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidRSASHA256     = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidEd25519       = asn1.ObjectIdentifier{1, 3, 101, 112}
	oidRSAPSS        = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}
	oidMGF1          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 8}
	oidTestPolicy    = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 32473, 1} // the documentation arc
)

// Token is a TimeStampToken (CMS ContentInfo of SignedData over a
// TSTInfo) and where its signature's value lies, to tamper with.
type Token struct {
	DER       []byte
	Signature []byte
}

func explicit(tag int, der []byte) asn1.RawValue {
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: tag, IsCompound: true, Bytes: der}
}

func seq(parts ...[]byte) []byte {
	var body []byte
	for _, p := range parts {
		body = append(body, p...)
	}
	der, _ := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: body})
	return der
}

func mustMarshal(v any) []byte {
	der, err := asn1.Marshal(v)
	if err != nil {
		panic(err) // only fixed shapes are marshalled here
	}
	return der
}

// Token returns a token stamping the SHA-256 digest imprint at time at.
func (t *TSA) Token(imprint []byte, at time.Time) (*Token, error) {
	sha := pkix.AlgorithmIdentifier{Algorithm: oidSHA256, Parameters: asn1.NullRawValue}
	serial++
	info := seq(
		mustMarshal(1),
		mustMarshal(oidTestPolicy),
		seq(mustMarshal(sha), mustMarshal(imprint)),
		mustMarshal(big.NewInt(serial)),
		mustMarshal(asn1.RawValue{Tag: asn1.TagGeneralizedTime, Bytes: []byte(at.UTC().Format("20060102150405Z"))}),
	)
	digest := sha256.Sum256(info)
	attrs := append(
		seq(mustMarshal(oidContentType), setOf(mustMarshal(oidTSTInfo))),
		seq(mustMarshal(oidMessageDigest), setOf(mustMarshal(digest[:])))...)
	signed := mustMarshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: attrs})
	d := sha256.Sum256(signed)
	var sig []byte
	var err error
	sigAlg := pkix.AlgorithmIdentifier{Algorithm: oidEd25519}
	switch k := t.Key.(type) {
	case ed25519.PrivateKey:
		sig = ed25519.Sign(k, signed)
	case *ecdsa.PrivateKey:
		sig, err = ecdsa.SignASN1(rand.Reader, k, d[:])
		sigAlg.Algorithm = oidECDSASHA256
	case *rsa.PrivateKey:
		if t.Alg == "PS256" {
			sig, err = rsa.SignPSS(rand.Reader, k, crypto.SHA256, d[:], &rsa.PSSOptions{SaltLength: 32})
			sha256ID := mustMarshal(pkix.AlgorithmIdentifier{Algorithm: oidSHA256, Parameters: asn1.NullRawValue})
			params := seq(
				mustMarshal(explicit(0, sha256ID)),
				mustMarshal(explicit(1, seq(mustMarshal(oidMGF1), sha256ID))),
				mustMarshal(explicit(2, mustMarshal(32))),
			)
			sigAlg = pkix.AlgorithmIdentifier{Algorithm: oidRSAPSS, Parameters: asn1.RawValue{FullBytes: params}}
		} else {
			sig, err = rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, d[:])
			sigAlg = pkix.AlgorithmIdentifier{Algorithm: oidRSASHA256, Parameters: asn1.NullRawValue}
		}
	}
	if err != nil {
		return nil, err
	}
	signerInfo := seq(
		mustMarshal(1),
		seq(t.Cert.RawIssuer, mustMarshal(t.Cert.SerialNumber)),
		mustMarshal(sha),
		mustMarshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: attrs}),
		mustMarshal(sigAlg),
		mustMarshal(sig),
	)
	sd := seq(
		mustMarshal(3),
		setOf(mustMarshal(sha)),
		seq(mustMarshal(oidTSTInfo), mustMarshal(explicit(0, mustMarshal(info)))),
		mustMarshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: t.Cert.Raw}),
		setOf(signerInfo),
	)
	ci := seq(mustMarshal(oidSignedData), mustMarshal(explicit(0, sd)))
	return &Token{DER: ci, Signature: sig}, nil
}

func setOf(elems ...[]byte) []byte {
	var body []byte
	for _, e := range elems {
		body = append(body, e...)
	}
	return mustMarshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSet, IsCompound: true, Bytes: body})
}

// Response wraps a token in a TimeStampResp whose status is granted, as a
// TSA answers and as C2PA 1's sigTst stores it.
func Response(token []byte) []byte {
	return seq(seq(mustMarshal(0)), token)
}

// Timestamp says how a manifest's signature is time-stamped.
type Timestamp struct {
	TSA *TSA
	At  time.Time
	// V1 stores a TimeStampResp over the claim in sigTst (C2PA 1), instead
	// of a TimeStampToken over the signature in sigTst2 (C2PA 2).
	V1 bool
	// Other, when set, is stamped instead of what the header's version
	// says: a token made for other data.
	Other []byte
}

// stamp returns the unprotected header holding a time-stamp of the
// signature sig, with protected header prot, over payload.
func (ts *Timestamp) stamp(prot, payload, sig []byte) (map[string]any, *Token, error) {
	data := payload
	if !ts.V1 {
		var err error
		if data, err = cbor.Marshal(sig); err != nil {
			return nil, nil, err
		}
	}
	tbs, err := cbor.Marshal([]any{"CounterSignature", prot, []byte{}, data})
	if err != nil {
		return nil, nil, err
	}
	if ts.Other != nil {
		tbs = ts.Other
	}
	imprint := sha256.Sum256(tbs)
	tok, err := ts.TSA.Token(imprint[:], ts.At)
	if err != nil {
		return nil, nil, err
	}
	val, label := tok.DER, "sigTst2"
	if ts.V1 {
		val, label = Response(tok.DER), "sigTst"
	}
	return map[string]any{label: map[string]any{"tstTokens": []map[string]any{{"val": val}}}}, tok, nil
}
