// Package c2patest makes C2PA fixtures for tests: a certificate chain
// generated on the spot, a manifest with a claim and a c2pa.actions
// assertion signed with it (COSE_Sign1), bound to the file by a
// c2pa.hash.data assertion and embedded in a JPEG (APP11 segments) or a
// PNG (a caBX chunk), or by a c2pa.hash.bmff assertion in an MP4's C2PA
// uuid box; RFC 3161 time-stamps by a test TSA and OCSP responses by the
// signer's issuer; and XMP packets declaring a digital source type.
// Nothing here is real content: callers pass images generated in code.
package c2patest

import (
	"bytes"
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
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math/big"
	"time"

	"github.com/fxamacker/cbor/v2"
	"golang.org/x/crypto/ocsp"
)

// IPTC digital source types, as C2PA and XMP write them.
const (
	TrainedAlgorithmicMedia = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
	CompositeSynthetic      = "http://cv.iptc.org/newscodes/digitalsourcetype/compositeSynthetic"
	DigitalCapture          = "http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture"
)

// Signer is a signing key with its certificate chain (signer first) and
// the root it chains to (nil for a self-signed signer).
type Signer struct {
	Alg   string // ES256, ES384, PS256 or EdDSA
	Key   crypto.Signer
	Chain []*x509.Certificate
	Root  *x509.Certificate
	// IssuerKey is the key of Chain[1], the signer certificate's issuer
	// (to sign OCSP responses with), when the chain has one.
	IssuerKey crypto.Signer
}

// NewSigner makes a root CA, an intermediate and a signer certificate
// with a key for alg; the chain holds the signer and the intermediate,
// as a manifest's x5chain does (the root is the verifier's).
func NewSigner(alg string) (*Signer, error) {
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	root, err := cert("Vigil Test Root CA", true, &rootKey.PublicKey, nil, rootKey)
	if err != nil {
		return nil, err
	}
	interKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	inter, err := cert("Vigil Test Intermediate CA", true, &interKey.PublicKey, root, rootKey)
	if err != nil {
		return nil, err
	}
	key, err := newKey(alg)
	if err != nil {
		return nil, err
	}
	leaf, err := cert("Vigil Test Generator", false, key.Public(), inter, interKey)
	if err != nil {
		return nil, err
	}
	return &Signer{Alg: alg, Key: key, Chain: []*x509.Certificate{leaf, inter}, Root: root, IssuerKey: interKey}, nil
}

// NewSignerValid makes a signer as NewSigner does whose signer
// certificate is valid from notBefore to notAfter (an expired one, say),
// and whose CAs are valid for ten years either side of now.
func NewSignerValid(alg string, notBefore, notAfter time.Time) (*Signer, error) {
	from, to := time.Now().AddDate(-10, 0, 0), time.Now().AddDate(10, 0, 0)
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	root, err := certValid("Vigil Test Root CA", true, &rootKey.PublicKey, nil, rootKey, from, to)
	if err != nil {
		return nil, err
	}
	interKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	inter, err := certValid("Vigil Test Intermediate CA", true, &interKey.PublicKey, root, rootKey, from, to)
	if err != nil {
		return nil, err
	}
	key, err := newKey(alg)
	if err != nil {
		return nil, err
	}
	leaf, err := certValid("Vigil Test Generator", false, key.Public(), inter, interKey, notBefore, notAfter)
	if err != nil {
		return nil, err
	}
	return &Signer{Alg: alg, Key: key, Chain: []*x509.Certificate{leaf, inter}, Root: root, IssuerKey: interKey}, nil
}

// OCSP returns an OCSP response, signed by the signer certificate's
// issuer, saying the signer's certificate is good (revokedAt zero) or
// was revoked at revokedAt, valid from thisUpdate to nextUpdate.
func (s *Signer) OCSP(revokedAt, thisUpdate, nextUpdate time.Time) ([]byte, error) {
	if len(s.Chain) < 2 || s.IssuerKey == nil {
		return nil, errors.New("c2patest: a signer without an issuer key")
	}
	t := ocsp.Response{Status: ocsp.Good, SerialNumber: s.Chain[0].SerialNumber, ThisUpdate: thisUpdate, NextUpdate: nextUpdate}
	if !revokedAt.IsZero() {
		t.Status, t.RevokedAt, t.RevocationReason = ocsp.Revoked, revokedAt, ocsp.KeyCompromise
	}
	return ocsp.CreateResponse(s.Chain[1], s.Chain[1], t, s.IssuerKey)
}

// NewSelfSigned makes a signer whose one certificate is its own issuer.
func NewSelfSigned(alg string) (*Signer, error) {
	key, err := newKey(alg)
	if err != nil {
		return nil, err
	}
	c, err := cert("Vigil Test Self-Signed", false, key.Public(), nil, key)
	if err != nil {
		return nil, err
	}
	return &Signer{Alg: alg, Key: key, Chain: []*x509.Certificate{c}}, nil
}

func newKey(alg string) (crypto.Signer, error) {
	switch alg {
	case "ES256":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "ES384":
		return ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	case "PS256":
		return rsa.GenerateKey(rand.Reader, 2048)
	case "EdDSA":
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}
	return nil, fmt.Errorf("c2patest: algorithm %q", alg)
}

var serial int64

func cert(cn string, ca bool, pub crypto.PublicKey, parent *x509.Certificate, parentKey crypto.Signer) (*x509.Certificate, error) {
	return certValid(cn, ca, pub, parent, parentKey, time.Now().Add(-time.Hour), time.Now().Add(24*time.Hour))
}

func certValid(cn string, ca bool, pub crypto.PublicKey, parent *x509.Certificate, parentKey crypto.Signer, from, to time.Time) (*x509.Certificate, error) {
	serial++
	t := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"Vigil Tests"}},
		NotBefore:    from,
		NotAfter:     to,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
	}
	if ca {
		t.IsCA, t.BasicConstraintsValid = true, true
		t.KeyUsage |= x509.KeyUsageCertSign
		t.ExtKeyUsage = nil
	}
	if parent == nil {
		parent = t
	}
	der, err := x509.CreateCertificate(rand.Reader, t, parent, pub, parentKey)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// Action is one entry of the manifest's c2pa.actions assertion.
type Action struct {
	Action            string // c2pa.created, c2pa.edited, …
	DigitalSourceType string // an IPTC URI, or ""
}

// Manifest says what to embed.
type Manifest struct {
	ClaimGenerator string
	Actions        []Action
	Signer         *Signer
	// SegmentSize is the JUMBF bytes per JPEG APP11 segment (at most
	// 65519); small values spread the manifest over many segments.
	SegmentSize int
	// V2 writes a C2PA 2 claim (c2pa.claim.v2: claim_generator_info,
	// created_assertions) and c2pa.actions.v2, instead of version 1's.
	V2 bool
	// BoxesBinding labels the hard binding c2pa.hash.boxes (a binding by
	// box, whose content here is the data hash's) instead of
	// c2pa.hash.data.
	BoxesBinding bool
	// RepeatRefs lists each assertion this many times more in the claim,
	// as a hostile claim would to make a reader hash one box many times.
	RepeatRefs int
	// Ingredient, when set, is a manifest carried in the store before
	// this one, as an ingredient's (the picture this one was edited
	// from), with its own ingredients before it; its binding is to
	// another file.
	Ingredient *Manifest
	// Timestamp, when set, time-stamps the claim signature (RFC 3161).
	Timestamp *Timestamp
	// OCSP, when set, is a DER OCSP response stapled to the claim
	// signature (rVals.ocspVals); see Signer.OCSP.
	OCSP []byte

	tsaSig []byte // the time-stamp's signature, once built
	bmff   int    // the c2pa.hash.bmff version, for a BMFF file
}

// Embedded is a file with a manifest, and where its parts lie.
type Embedded struct {
	Data []byte
	// Signature is the COSE signature's value and Claim the claim's CBOR,
	// to find and tamper with in Data.
	Signature, Claim []byte
	// TSASignature is the active manifest's time-stamp's signature value,
	// when it has one.
	TSASignature []byte
}

// JUMBF content-type UUIDs: a four-character code then ISO's suffix.
func uuid(code string) []byte {
	return append([]byte(code), 0x00, 0x11, 0x00, 0x10, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71)
}

func boxOf(typ string, body []byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(8+len(body)))
	return append(append(b, typ...), body...)
}

// superbox returns a jumb box's body (its description and children), the
// bytes an assertion's hash covers.
func superboxBody(code, label string, kids ...[]byte) []byte {
	jumd := append(uuid(code), 0x03) // requestable, labelled
	jumd = append(append(jumd, label...), 0)
	body := boxOf("jumd", jumd)
	for _, k := range kids {
		body = append(body, k...)
	}
	return body
}

func superbox(code, label string, kids ...[]byte) []byte {
	return boxOf("jumb", superboxBody(code, label, kids...))
}

var coseAlgIDs = map[string]int64{"ES256": -7, "ES384": -35, "PS256": -37, "EdDSA": -8}

// store builds the manifest store for a file whose bytes outside the
// manifest hash to fileHash, with the manifest excluded at [start, +n).
func (m *Manifest) store(fileHash []byte, start, n uint64, format string) (store, sig, claimCBOR []byte, err error) {
	// Ingredients (and theirs) go first, the oldest first, as a store
	// keeps them.
	var ings []*Manifest
	for ing := m.Ingredient; ing != nil; ing = ing.Ingredient {
		ings = append(ings, ing)
	}
	var kids [][]byte
	for i := len(ings) - 1; i >= 0; i-- {
		other := sha256.Sum256([]byte("the ingredient's own file"))
		ing, _, _, err := ings[i].manifest(other[:], 0, 0, format, fmt.Sprintf("urn:uuid:00000000-0000-4000-8000-%012d", 3+i))
		if err != nil {
			return nil, nil, nil, err
		}
		kids = append(kids, ing)
	}
	active, sig, claimCBOR, err := m.manifest(fileHash, start, n, format, "urn:uuid:00000000-0000-4000-8000-000000000002")
	if err != nil {
		return nil, nil, nil, err
	}
	return superbox("c2pa", "c2pa", append(kids, active)...), sig, claimCBOR, nil
}

// manifest builds one manifest box labelled label.
func (m *Manifest) manifest(fileHash []byte, start, n uint64, format, label string) (box, sig, claimCBOR []byte, err error) {
	acts := []map[string]any{}
	for _, a := range m.Actions {
		act := map[string]any{"action": a.Action, "softwareAgent": m.ClaimGenerator}
		if a.DigitalSourceType != "" {
			act["digitalSourceType"] = a.DigitalSourceType
		}
		acts = append(acts, act)
	}
	actions, err := cbor.Marshal(map[string]any{"actions": acts})
	if err != nil {
		return nil, nil, nil, err
	}
	dataHash, err := cbor.Marshal(map[string]any{
		"exclusions": []map[string]uint64{{"start": start, "length": n}},
		"name":       "jumbf manifest", "alg": "sha256", "hash": fileHash, "pad": []byte{},
	})
	if err != nil {
		return nil, nil, nil, err
	}
	actLabel := "c2pa.actions"
	if m.V2 {
		actLabel = "c2pa.actions.v2"
	}
	actBody := superboxBody("cbor", actLabel, boxOf("cbor", actions))
	hashLabel := "c2pa.hash.data"
	if m.BoxesBinding {
		hashLabel = "c2pa.hash.boxes"
	}
	if m.bmff != 0 {
		hashLabel = fmt.Sprintf("c2pa.hash.bmff.v%d", m.bmff)
		if dataHash, err = cbor.Marshal(map[string]any{
			"exclusions": bmffExclusions, "name": "jumbf manifest", "alg": "sha256", "hash": fileHash,
		}); err != nil {
			return nil, nil, nil, err
		}
	}
	hashBody := superboxBody("cbor", hashLabel, boxOf("cbor", dataHash))
	sum := func(b []byte) []byte { s := sha256.Sum256(b); return s[:] }
	refs := []map[string]any{
		{"url": "self#jumbf=c2pa.assertions/" + actLabel, "hash": sum(actBody)},
		{"url": "self#jumbf=c2pa.assertions/" + hashLabel, "hash": sum(hashBody)},
	}
	for range m.RepeatRefs {
		refs = append(refs, refs[0], refs[1])
	}
	claimLabel := "c2pa.claim"
	claim := map[string]any{
		"claim_generator": m.ClaimGenerator,
		"signature":       "self#jumbf=c2pa.signature",
		"assertions":      refs,
		"dc:format":       format,
		"instanceID":      "xmp:iid:00000000-0000-4000-8000-000000000001",
		"alg":             "sha256",
	}
	if m.V2 {
		claimLabel = "c2pa.claim.v2"
		claim = map[string]any{
			"claim_generator_info": map[string]any{"name": m.ClaimGenerator},
			"signature":            "self#jumbf=c2pa.signature",
			"created_assertions":   refs,
			"instanceID":           "xmp:iid:00000000-0000-4000-8000-000000000001",
			"alg":                  "sha256",
		}
	}
	claimCBOR, err = cbor.Marshal(claim)
	if err != nil {
		return nil, nil, nil, err
	}
	cose, sig, tok, err := m.Signer.sign(claimCBOR, m.Timestamp, m.OCSP)
	if err != nil {
		return nil, nil, nil, err
	}
	if tok != nil {
		m.tsaSig = tok.Signature
	}
	manifest := superbox("c2ma", label,
		superbox("c2as", "c2pa.assertions", boxOf("jumb", actBody), boxOf("jumb", hashBody)),
		superbox("c2cl", claimLabel, boxOf("cbor", claimCBOR)),
		superbox("c2cs", "c2pa.signature", boxOf("cbor", cose)))
	return manifest, sig, claimCBOR, nil
}

// sign returns the COSE_Sign1_Tagged signature of a detached payload and
// the signature's value.
func (s *Signer) sign(payload []byte, ts *Timestamp, ocspDER []byte) (cose, sig []byte, tok *Token, err error) {
	ders := make([][]byte, len(s.Chain))
	for i, c := range s.Chain {
		ders[i] = c.Raw
	}
	var chain any = ders
	if len(ders) == 1 {
		chain = ders[0]
	}
	prot, err := cbor.Marshal(map[int64]any{1: coseAlgIDs[s.Alg], 33: chain})
	if err != nil {
		return nil, nil, nil, err
	}
	tbs, err := cbor.Marshal([]any{"Signature1", prot, []byte{}, payload})
	if err != nil {
		return nil, nil, nil, err
	}
	switch s.Alg {
	case "ES256", "ES384":
		h := crypto.SHA256
		if s.Alg == "ES384" {
			h = crypto.SHA384
		}
		d := h.New()
		d.Write(tbs)
		r, ss, err := ecdsa.Sign(rand.Reader, s.Key.(*ecdsa.PrivateKey), d.Sum(nil))
		if err != nil {
			return nil, nil, nil, err
		}
		n := (s.Key.(*ecdsa.PrivateKey).Curve.Params().BitSize + 7) / 8
		sig = make([]byte, 2*n)
		r.FillBytes(sig[:n])
		ss.FillBytes(sig[n:])
	case "PS256":
		d := sha256.Sum256(tbs)
		sig, err = rsa.SignPSS(rand.Reader, s.Key.(*rsa.PrivateKey), crypto.SHA256, d[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case "EdDSA":
		sig, err = s.Key.Sign(rand.Reader, tbs, crypto.Hash(0))
	default:
		err = fmt.Errorf("c2patest: algorithm %q", s.Alg)
	}
	if err != nil {
		return nil, nil, nil, err
	}
	unprot := map[string]any{}
	if ts != nil {
		if unprot, tok, err = ts.stamp(prot, payload, sig); err != nil {
			return nil, nil, nil, err
		}
	}
	if ocspDER != nil {
		unprot["rVals"] = map[string]any{"ocspVals": [][]byte{ocspDER}}
	}
	cose, err = cbor.Marshal(cbor.Tag{Number: 18, Content: []any{prot, unprot, nil, sig}})
	return cose, sig, tok, err
}

// EmbedJPEG returns jpeg with the manifest in APP11 segments after SOI.
func EmbedJPEG(jpeg []byte, m Manifest) (*Embedded, error) {
	if len(jpeg) < 2 || jpeg[0] != 0xFF || jpeg[1] != 0xD8 {
		return nil, errors.New("c2patest: not a JPEG")
	}
	seg := m.SegmentSize
	if seg <= 0 || seg > 65519 {
		seg = 65519
	}
	return embed(jpeg, 2, "image/jpeg", &m, func(store []byte) []byte { return app11(store, seg) })
}

// app11 splits a manifest store into APP11 segments: each carries "JP",
// box instance 1, its sequence number and the superbox header, then its
// part of the box.
func app11(store []byte, seg int) []byte {
	hdr, rest := store[:8], store[8:]
	var out []byte
	for z := uint32(1); len(rest) > 0 || z == 1; z++ {
		part := rest[:min(seg-8, len(rest))]
		rest = rest[len(part):]
		payload := append([]byte("JP\x00\x01"), binary.BigEndian.AppendUint32(nil, z)...)
		payload = append(append(payload, hdr...), part...)
		out = append(out, 0xFF, 0xEB)
		out = binary.BigEndian.AppendUint16(out, uint16(2+len(payload)))
		out = append(out, payload...)
	}
	return out
}

// EmbedPNG returns png with the manifest in a caBX chunk after IHDR.
func EmbedPNG(png []byte, m Manifest) (*Embedded, error) {
	if len(png) < 33 || string(png[:8]) != "\x89PNG\r\n\x1a\n" {
		return nil, errors.New("c2patest: not a PNG")
	}
	return embed(png, 33, "image/png", &m, func(store []byte) []byte { return Chunk("caBX", store) })
}

// Chunk returns a PNG chunk.
func Chunk(typ string, data []byte) []byte {
	c := binary.BigEndian.AppendUint32(nil, uint32(len(data)))
	c = append(append(c, typ...), data...)
	return binary.BigEndian.AppendUint32(c, crc32.ChecksumIEEE(c[4:]))
}

// embed inserts the wrapped manifest store at offset at. The store's size
// depends on the exclusion's length it records, so it is built until the
// two agree; the hash covers the file without the manifest, which is the
// original file.
func embed(file []byte, at int, format string, m *Manifest, wrap func([]byte) []byte) (*Embedded, error) {
	sum := sha256.Sum256(file)
	n := uint64(0)
	for range 8 {
		store, sig, claim, err := m.store(sum[:], uint64(at), n, format)
		if err != nil {
			return nil, err
		}
		w := wrap(store)
		if uint64(len(w)) == n {
			out := append(append(append([]byte{}, file[:at]...), w...), file[at:]...)
			return &Embedded{Data: out, Signature: sig, Claim: claim, TSASignature: m.tsaSig}, nil
		}
		n = uint64(len(w))
	}
	return nil, errors.New("c2patest: manifest size does not settle")
}

// XMP returns an XMP packet declaring the digital source type.
func XMP(sourceType string) []byte {
	return []byte(`<?xpacket begin="" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
<rdf:Description rdf:about="" xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/">
<Iptc4xmpExt:DigitalSourceType rdf:resource="` + sourceType + `"/>
</rdf:Description></rdf:RDF></x:xmpmeta><?xpacket end="w"?>`)
}

// XMPJPEG returns jpeg with packet in an APP1 segment after SOI.
func XMPJPEG(jpeg, packet []byte) []byte {
	payload := append([]byte("http://ns.adobe.com/xap/1.0/\x00"), packet...)
	seg := binary.BigEndian.AppendUint16([]byte{0xFF, 0xE1}, uint16(2+len(payload)))
	return bytes.Join([][]byte{jpeg[:2], seg, payload, jpeg[2:]}, nil)
}

// XMPPNG returns png with packet in an uncompressed iTXt chunk after IHDR.
func XMPPNG(png, packet []byte) []byte {
	data := append([]byte("XML:com.adobe.xmp\x00\x00\x00\x00\x00"), packet...)
	return bytes.Join([][]byte{png[:33], Chunk("iTXt", data), png[33:]}, nil)
}

// NewPSSKeySigner makes a signer as NewSigner("PS256") does, but whose
// intermediate and signer certificates label their RSA keys
// id-RSASSA-PSS (RFC 4055), as C2PA's own test certificates do: a
// verifier must parse such keys itself (crypto/x509 does not), for the
// claim's signature and for the intermediate's signature on the signer.
func NewPSSKeySigner() (*Signer, error) {
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	root, err := cert("Vigil Test Root CA", true, &rootKey.PublicKey, nil, rootKey)
	if err != nil {
		return nil, err
	}
	interKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	inter, err := cert("Vigil Test PSS Intermediate CA", true, &interKey.PublicKey, root, rootKey)
	if err != nil {
		return nil, err
	}
	if inter, err = pssKeyed(inter, rootKey); err != nil {
		return nil, err
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	serial++
	t := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "Vigil Test PSS Generator"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageEmailProtection},
		SignatureAlgorithm: x509.SHA256WithRSAPSS,
	}
	// Signed by a PSS-keyed issuer: crypto/x509 would refuse its parsed
	// form as a parent, so the template's issuer is the intermediate as
	// generated, and the result is relabelled and re-signed.
	plainInter, err := x509.ParseCertificate(inter.Raw)
	if err != nil {
		return nil, err
	}
	plainInter.PublicKey, plainInter.PublicKeyAlgorithm = &interKey.PublicKey, x509.RSA
	der, err := x509.CreateCertificate(rand.Reader, t, plainInter, &key.PublicKey, interKey)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	if leaf, err = pssKeyed(leaf, interKey); err != nil {
		return nil, err
	}
	return &Signer{Alg: "PS256", Key: key, Chain: []*x509.Certificate{leaf, inter}, Root: root}, nil
}

// pssKeyed returns c with its RSA key's algorithm relabelled
// id-RSASSA-PSS, re-signed by issuerKey with c's signature algorithm.
func pssKeyed(c *x509.Certificate, issuerKey crypto.Signer) (*x509.Certificate, error) {
	var tbs asn1.RawValue
	if _, err := asn1.Unmarshal(c.RawTBSCertificate, &tbs); err != nil {
		return nil, err
	}
	var fields []asn1.RawValue
	for rest := tbs.Bytes; len(rest) > 0; {
		var f asn1.RawValue
		var err error
		if rest, err = asn1.Unmarshal(rest, &f); err != nil {
			return nil, err
		}
		fields = append(fields, f)
	}
	// version, serial, signature, issuer, validity, subject, SPKI, …
	if len(fields) < 7 {
		return nil, errors.New("c2patest: short TBSCertificate")
	}
	pub := c.PublicKey.(*rsa.PublicKey)
	spki, err := asn1.Marshal(struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}{pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}},
		asn1.BitString{Bytes: x509.MarshalPKCS1PublicKey(pub), BitLength: 8 * len(x509.MarshalPKCS1PublicKey(pub))}})
	if err != nil {
		return nil, err
	}
	fields[6] = asn1.RawValue{FullBytes: spki}
	var body []byte
	for _, f := range fields {
		body = append(body, f.FullBytes...)
	}
	newTBS, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: body})
	if err != nil {
		return nil, err
	}
	var sig []byte
	switch k := issuerKey.(type) {
	case *rsa.PrivateKey:
		d := sha256.Sum256(newTBS)
		sig, err = rsa.SignPSS(rand.Reader, k, crypto.SHA256, d[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case *ecdsa.PrivateKey:
		d := sha256.Sum256(newTBS)
		sig, err = ecdsa.SignASN1(rand.Reader, k, d[:])
	default:
		err = fmt.Errorf("c2patest: issuer key %T", issuerKey)
	}
	if err != nil {
		return nil, err
	}
	der, err := asn1.Marshal(struct {
		TBS    asn1.RawValue
		SigAlg asn1.RawValue
		Sig    asn1.BitString
	}{asn1.RawValue{FullBytes: newTBS}, fields[2], asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)}})
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}
