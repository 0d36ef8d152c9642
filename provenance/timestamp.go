package provenance

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// Timestamp is what an RFC 3161 time-stamp in a claim signature says: when
// a time-stamping authority (TSA) saw the signature, and whether that
// holds. A valid one is the time the signer's certificate is judged at, so
// that a manifest signed while its certificate was valid stays trusted
// after the certificate expires.
type Timestamp struct {
	// Header is where the COSE signature carries it: sigTst2 (C2PA 2: a
	// TimeStampToken over the signature) or sigTst (C2PA 1, deprecated: a
	// TimeStampResp over the claim).
	Header string `json:"header"`
	// Time is the TSA's genTime; TSA the subject of its certificate.
	Time time.Time `json:"time,omitzero"`
	TSA  string    `json:"tsa,omitempty"`
	// Valid says the token's message imprint is that of this signature,
	// its signature verifies with the TSA's key, the TSA's certificate
	// chains to a trust anchor at Time (with the time-stamping key use),
	// and Time lies inside the signer certificate's validity.
	Valid bool `json:"valid"`
	// Trust is where the TSA's certificate leads: trusted, untrusted,
	// self_signed or invalid_chain.
	Trust string `json:"trust,omitempty"`
	// Problem says why it is not valid.
	Problem string `json:"problem,omitempty"`
}

// OIDs of RFC 3161 and CMS (RFC 5652) this reader uses.
var (
	oidSignedData    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidTSTInfo       = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 16, 1, 4}
	oidContentType   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 3}
	oidMessageDigest = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 9, 4}

	oidSHA256 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 1}
	oidSHA384 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 2}
	oidSHA512 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 2, 3}

	oidRSA          = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 1}
	oidRSASHA256    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidRSASHA384    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 12}
	oidRSASHA512    = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 13}
	oidECPublicKey  = asn1.ObjectIdentifier{1, 2, 840, 10045, 2, 1}
	oidECDSASHA256  = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
	oidECDSASHA384  = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 3}
	oidECDSASHA512  = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 4}
	oidEd25519      = asn1.ObjectIdentifier{1, 3, 101, 112}
	digestAlgorithm = map[string]crypto.Hash{
		oidSHA256.String(): crypto.SHA256, oidSHA384.String(): crypto.SHA384, oidSHA512.String(): crypto.SHA512,
	}
)

// ASN.1 shapes of RFC 5652 and RFC 3161, as far as this reader reads them.
type (
	contentInfo struct {
		ContentType asn1.ObjectIdentifier
		Content     asn1.RawValue `asn1:"explicit,tag:0"`
	}
	signedData struct {
		Version          int
		DigestAlgorithms asn1.RawValue
		EncapContentInfo struct {
			EContentType asn1.ObjectIdentifier
			EContent     []byte `asn1:"explicit,optional,tag:0"`
		}
		Certificates asn1.RawValue `asn1:"optional,tag:0"`
		CRLs         asn1.RawValue `asn1:"optional,tag:1"`
		SignerInfos  asn1.RawValue
	}
	signerInfo struct {
		Version            int
		SID                asn1.RawValue
		DigestAlgorithm    pkix.AlgorithmIdentifier
		SignedAttrs        asn1.RawValue `asn1:"optional,tag:0"`
		SignatureAlgorithm pkix.AlgorithmIdentifier
		Signature          []byte
		UnsignedAttrs      asn1.RawValue `asn1:"optional,tag:1"`
	}
	issuerAndSerial struct {
		Issuer asn1.RawValue
		Serial *big.Int
	}
	attribute struct {
		Type   asn1.ObjectIdentifier
		Values asn1.RawValue
	}
	tstInfo struct {
		Version        int
		Policy         asn1.ObjectIdentifier
		MessageImprint struct {
			HashAlgorithm pkix.AlgorithmIdentifier
			HashedMessage []byte
		}
		SerialNumber *big.Int
		GenTime      time.Time `asn1:"generalized"`
		Accuracy     struct {
			Seconds int `asn1:"optional"`
			Millis  int `asn1:"optional,tag:0"`
			Micros  int `asn1:"optional,tag:1"`
		} `asn1:"optional"`
		Ordering   bool          `asn1:"optional,default:false"`
		Nonce      *big.Int      `asn1:"optional"`
		TSA        asn1.RawValue `asn1:"optional,explicit,tag:0"`
		Extensions asn1.RawValue `asn1:"optional,tag:1"`
	}
	pssParams struct {
		Hash       pkix.AlgorithmIdentifier `asn1:"explicit,optional,tag:0"`
		MGF        pkix.AlgorithmIdentifier `asn1:"explicit,optional,tag:1"`
		SaltLength int                      `asn1:"explicit,optional,tag:2,default:20"`
	}
)

// token is a parsed TimeStampToken.
type token struct {
	info     tstInfo
	eContent []byte
	signer   signerInfo
	certs    []*x509.Certificate
	cert     *x509.Certificate // the TSA's, named by the signer info
}

// tstContainer is C2PA's CBOR wrapper of time-stamps (its §10.3.2.5).
type tstContainer struct {
	Tokens []struct {
		Val []byte `cbor:"val"`
	} `cbor:"tstTokens"`
}

// unmarshalDER parses one DER element into v, refusing trailing bytes.
func unmarshalDER(der []byte, v any, what string) error {
	rest, err := asn1.Unmarshal(der, v)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if len(rest) > 0 {
		return fmt.Errorf("%s: %d bytes after it", what, len(rest))
	}
	return nil
}

// elements splits the contents of a SET or SEQUENCE into its DER elements,
// at most max of them.
func elements(content []byte, max int, what string) ([]asn1.RawValue, error) {
	var out []asn1.RawValue
	for len(content) > 0 {
		if len(out) == max {
			return nil, fmt.Errorf("%s: more than %d elements", what, max)
		}
		var e asn1.RawValue
		var err error
		if content, err = asn1.Unmarshal(content, &e); err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		out = append(out, e)
	}
	return out, nil
}

// maxAttributes bounds a signer info's signed attributes; RFC 3161 tokens
// carry three or four.
const maxAttributes = 32

// parseToken parses a time-stamp as C2PA stores it: a TimeStampToken (a
// CMS ContentInfo), or a TimeStampResp holding one (sigTst; some writers
// put either shape in either header), within the size and chain limits.
func (r *Reader) parseToken(der []byte) (*token, error) {
	if len(der) > r.limits.MaxTimestampBytes {
		return nil, fmt.Errorf("time-stamp of %d bytes, over the limit of %d", len(der), r.limits.MaxTimestampBytes)
	}
	var outer asn1.RawValue
	if err := unmarshalDER(der, &outer, "time-stamp"); err != nil {
		return nil, err
	}
	if outer.Class != asn1.ClassUniversal || outer.Tag != asn1.TagSequence {
		return nil, errors.New("time-stamp: not a SEQUENCE")
	}
	var first asn1.RawValue
	if _, err := asn1.Unmarshal(outer.Bytes, &first); err != nil {
		return nil, fmt.Errorf("time-stamp: %w", err)
	}
	if first.Class == asn1.ClassUniversal && first.Tag == asn1.TagSequence {
		// TimeStampResp: PKIStatusInfo, then the token.
		var resp struct {
			Status asn1.RawValue
			Token  asn1.RawValue `asn1:"optional"`
		}
		if err := unmarshalDER(der, &resp, "time-stamp response"); err != nil {
			return nil, err
		}
		var status int
		if _, err := asn1.Unmarshal(resp.Status.Bytes, &status); err != nil {
			return nil, fmt.Errorf("time-stamp response status: %w", err)
		}
		if status != 0 && status != 1 { // granted, grantedWithMods
			return nil, fmt.Errorf("time-stamp response status %d: no time-stamp granted", status)
		}
		if len(resp.Token.FullBytes) == 0 {
			return nil, errors.New("time-stamp response without a token")
		}
		der = resp.Token.FullBytes
	}
	var ci contentInfo
	if err := unmarshalDER(der, &ci, "time-stamp token"); err != nil {
		return nil, err
	}
	if !ci.ContentType.Equal(oidSignedData) {
		return nil, fmt.Errorf("time-stamp token: content type %v is not signed data", ci.ContentType)
	}
	var sd signedData
	// The [0] EXPLICIT wrapper's contents are the SignedData.
	if err := unmarshalDER(ci.Content.Bytes, &sd, "time-stamp signed data"); err != nil {
		return nil, err
	}
	if !sd.EncapContentInfo.EContentType.Equal(oidTSTInfo) || len(sd.EncapContentInfo.EContent) == 0 {
		return nil, errors.New("time-stamp token: content is not a TSTInfo")
	}
	t := &token{eContent: sd.EncapContentInfo.EContent}
	if err := unmarshalDER(t.eContent, &t.info, "TSTInfo"); err != nil {
		return nil, err
	}
	// RFC 3161 §2.4.2: the TSA's is the only signature.
	infos, err := elements(sd.SignerInfos.Bytes, 1, "time-stamp signer infos")
	if err != nil {
		return nil, err
	}
	if len(infos) != 1 {
		return nil, errors.New("time-stamp token has no signer info")
	}
	if err := unmarshalDER(infos[0].FullBytes, &t.signer, "time-stamp signer info"); err != nil {
		return nil, err
	}
	certs, err := elements(sd.Certificates.Bytes, r.limits.MaxChain, "time-stamp certificates")
	if err != nil {
		return nil, err
	}
	for i, c := range certs {
		if c.Class != asn1.ClassUniversal || c.Tag != asn1.TagSequence {
			continue // an attribute or other certificate choice: not used
		}
		cert, err := ParseCertificate(c.FullBytes)
		if err != nil {
			return nil, fmt.Errorf("time-stamp certificate %d: %w", i, err)
		}
		t.certs = append(t.certs, cert)
	}
	if t.cert, err = t.signerCert(); err != nil {
		return nil, err
	}
	return t, nil
}

// signerCert finds the TSA's certificate among the token's by the signer
// info's identifier: issuer and serial number, or subject key identifier.
func (t *token) signerCert() (*x509.Certificate, error) {
	sid := t.signer.SID
	for _, c := range t.certs {
		switch {
		case sid.Class == asn1.ClassUniversal && sid.Tag == asn1.TagSequence:
			var is issuerAndSerial
			if unmarshalDER(sid.FullBytes, &is, "signer id") == nil && is.Serial != nil &&
				bytes.Equal(is.Issuer.FullBytes, c.RawIssuer) && is.Serial.Cmp(c.SerialNumber) == 0 {
				return c, nil
			}
		case sid.Class == asn1.ClassContextSpecific && sid.Tag == 0:
			if len(c.SubjectKeyId) > 0 && bytes.Equal(sid.Bytes, c.SubjectKeyId) {
				return c, nil
			}
		}
	}
	return nil, errors.New("time-stamp token does not carry its TSA's certificate")
}

// verifySignature checks the TSA's signature: over the signed attributes
// (DER, as a SET), which must name the TSTInfo content type and carry its
// digest.
func (t *token) verifySignature() error {
	h, ok := digestAlgorithm[t.signer.DigestAlgorithm.Algorithm.String()]
	if !ok {
		return fmt.Errorf("time-stamp digest algorithm %v is not SHA-2", t.signer.DigestAlgorithm.Algorithm)
	}
	sa := t.signer.SignedAttrs
	if len(sa.FullBytes) == 0 {
		return errors.New("time-stamp signer info has no signed attributes")
	}
	attrs, err := elements(sa.Bytes, maxAttributes, "time-stamp signed attributes")
	if err != nil {
		return err
	}
	var gotType, gotDigest bool
	for _, raw := range attrs {
		var a attribute
		if err := unmarshalDER(raw.FullBytes, &a, "time-stamp attribute"); err != nil {
			return err
		}
		if !a.Type.Equal(oidContentType) && !a.Type.Equal(oidMessageDigest) {
			continue
		}
		vals, err := elements(a.Values.Bytes, 1, "time-stamp attribute values")
		if err != nil || len(vals) != 1 || a.Values.Tag != asn1.TagSet {
			return fmt.Errorf("time-stamp attribute %v must have one value", a.Type)
		}
		if a.Type.Equal(oidContentType) {
			var ct asn1.ObjectIdentifier
			if unmarshalDER(vals[0].FullBytes, &ct, "content type") != nil || !ct.Equal(oidTSTInfo) || gotType {
				return errors.New("time-stamp signed content type is not TSTInfo")
			}
			gotType = true
			continue
		}
		var md []byte
		if unmarshalDER(vals[0].FullBytes, &md, "message digest") != nil || gotDigest {
			return errors.New("time-stamp message digest is malformed")
		}
		if !bytes.Equal(md, digest(h, t.eContent)) {
			return errors.New("time-stamp TSTInfo does not match its signed digest")
		}
		gotDigest = true
	}
	if !gotType || !gotDigest {
		return errors.New("time-stamp signed attributes lack the content type or message digest")
	}
	// The signature is over the attributes' DER with the SET tag, not the
	// [0] IMPLICIT one they are sent with (RFC 5652 §5.4).
	signed := bytes.Clone(sa.FullBytes)
	signed[0] = 0x31
	return verifyCMS(t.cert.PublicKey, t.signer.SignatureAlgorithm, h, signed, t.signer.Signature)
}

// verifyCMS checks a CMS signature by pub over msg, under the signature
// algorithm named, with h the digest algorithm where the name leaves it
// open.
func verifyCMS(pub crypto.PublicKey, alg pkix.AlgorithmIdentifier, h crypto.Hash, msg, sig []byte) error {
	bad := errors.New("time-stamp signature does not verify")
	oid := alg.Algorithm
	switch {
	case oid.Equal(oidEd25519):
		key, ok := pub.(ed25519.PublicKey)
		if !ok {
			return fmt.Errorf("time-stamp Ed25519 signature from a %T key", pub)
		}
		if !ed25519.Verify(key, msg, sig) {
			return bad
		}
		return nil
	case oid.Equal(oidECPublicKey), oid.Equal(oidECDSASHA256), oid.Equal(oidECDSASHA384), oid.Equal(oidECDSASHA512):
		if hh, ok := map[string]crypto.Hash{oidECDSASHA256.String(): crypto.SHA256, oidECDSASHA384.String(): crypto.SHA384,
			oidECDSASHA512.String(): crypto.SHA512}[oid.String()]; ok {
			h = hh
		}
		key, ok := pub.(*ecdsa.PublicKey)
		if !ok {
			return fmt.Errorf("time-stamp ECDSA signature from a %T key", pub)
		}
		if !ecdsa.VerifyASN1(key, digest(h, msg), sig) {
			return bad
		}
		return nil
	case oid.Equal(oidRSA), oid.Equal(oidRSASHA256), oid.Equal(oidRSASHA384), oid.Equal(oidRSASHA512):
		if hh, ok := map[string]crypto.Hash{oidRSASHA256.String(): crypto.SHA256, oidRSASHA384.String(): crypto.SHA384,
			oidRSASHA512.String(): crypto.SHA512}[oid.String()]; ok {
			h = hh
		}
		key, ok := pub.(*rsa.PublicKey)
		if !ok {
			return fmt.Errorf("time-stamp RSA signature from a %T key", pub)
		}
		if rsa.VerifyPKCS1v15(key, h, digest(h, msg), sig) != nil {
			return bad
		}
		return nil
	case oid.Equal(oidRSAPSS):
		var p pssParams
		if err := unmarshalDER(alg.Parameters.FullBytes, &p, "RSASSA-PSS parameters"); err != nil {
			return err
		}
		ph, ok := digestAlgorithm[p.Hash.Algorithm.String()]
		if !ok {
			return errors.New("time-stamp RSASSA-PSS hash is not SHA-2")
		}
		key, ok := pub.(*rsa.PublicKey)
		if !ok {
			return fmt.Errorf("time-stamp RSASSA-PSS signature from a %T key", pub)
		}
		if rsa.VerifyPSS(key, ph, digest(ph, msg), sig, &rsa.PSSOptions{SaltLength: p.SaltLength, Hash: ph}) != nil {
			return bad
		}
		return nil
	}
	return fmt.Errorf("time-stamp signature algorithm %v is not supported", oid)
}

// countersigned returns what C2PA time-stamps: a COSE Sig_structure of
// context "CounterSignature" over the claim signature's protected header,
// empty external data and payload, where the payload is the claim (sigTst)
// or the CBOR byte string of the signature's value (sigTst2, C2PA 2.1
// §10.3.2.5).
func countersigned(s *signature, payload []byte, v2 bool) ([]byte, error) {
	if v2 {
		var err error
		if payload, err = cbor.Marshal(s.sig); err != nil {
			return nil, err
		}
	}
	return cbor.Marshal([]any{"CounterSignature", s.protected, []byte{}, payload})
}

// checkTimestamp reads the claim signature's time-stamp (sigTst2 before
// sigTst; the first token of its container), or returns nil when there is
// none. It checks the token against the signature and its TSA against
// the TSA trust anchors, at the token's own time.
func (r *Reader) checkTimestamp(s *signature, claim []byte) *Timestamp {
	raw, header := s.sigTst2, "sigTst2"
	if raw == nil {
		raw, header = s.sigTst, "sigTst"
	}
	if raw == nil {
		return nil
	}
	ts := &Timestamp{Header: header}
	fail := func(err error) *Timestamp {
		ts.Valid, ts.Problem = false, err.Error()
		return ts
	}
	var tc tstContainer
	if err := r.dec.Unmarshal(raw, &tc); err != nil {
		return fail(fmt.Errorf("%s: %w", header, err))
	}
	if len(tc.Tokens) == 0 {
		return fail(fmt.Errorf("%s holds no time-stamp token", header))
	}
	t, err := r.parseToken(tc.Tokens[0].Val)
	if err != nil {
		return fail(err)
	}
	ts.Time, ts.TSA = t.info.GenTime.UTC(), clean(t.cert.Subject.String())
	tbs, err := countersigned(s, claim, header == "sigTst2")
	if err != nil {
		return fail(err)
	}
	mi := t.info.MessageImprint
	h, ok := digestAlgorithm[mi.HashAlgorithm.Algorithm.String()]
	if !ok {
		return fail(fmt.Errorf("time-stamp imprint algorithm %v is not SHA-2", mi.HashAlgorithm.Algorithm))
	}
	if !bytes.Equal(mi.HashedMessage, digest(h, tbs)) {
		return fail(errors.New("time-stamp imprint is not this signature's: the token was made for other data"))
	}
	if err := t.verifySignature(); err != nil {
		return fail(err)
	}
	var problem error
	ts.Trust, problem = r.tsaTrust(t, ts.Time)
	if ts.Trust != Trusted {
		if problem == nil {
			problem = fmt.Errorf("TSA %s is %s", ts.TSA, ts.Trust)
		}
		return fail(fmt.Errorf("time-stamp: %w", problem))
	}
	ts.Valid = true
	return ts
}

// tsaTrust says where the TSA's certificate leads at the stamped time:
// to one of the TSA anchors, with the time-stamping key use (RFC 3161
// §2.3) along the chain.
func (r *Reader) tsaTrust(t *token, at time.Time) (string, error) {
	if r.tsaRoots == nil {
		if selfSigned(t.cert) {
			return SelfSigned, nil
		}
		return Untrusted, nil
	}
	inter := x509.NewCertPool()
	for _, c := range t.certs {
		if c != t.cert {
			inter.AddCert(c)
		}
	}
	_, err := t.cert.Verify(x509.VerifyOptions{
		Roots: r.tsaRoots, Intermediates: inter, CurrentTime: at,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping},
	})
	if err == nil {
		return Trusted, nil
	}
	var unknown x509.UnknownAuthorityError
	if errors.As(err, &unknown) {
		return Untrusted, err
	}
	return InvalidChain, err
}
