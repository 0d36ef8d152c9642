package provenance

import (
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"fmt"
)

// oidRSAPSS is id-RSASSA-PSS: C2PA signers' RSA keys often carry it in
// their certificates (RFC 4055), which crypto/x509 leaves unparsed.
var oidRSAPSS = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 10}

// maxRSABits bounds the RSA keys this reader verifies with, as crypto/x509
// does for the keys it parses.
const maxRSABits = 8192

// ParseCertificate parses a DER certificate as crypto/x509 does and, for an
// RSA key labelled id-RSASSA-PSS, fills in the key crypto/x509 leaves nil,
// so that signatures by it (of claims and of certificates) can be checked.
func ParseCertificate(der []byte) (*x509.Certificate, error) {
	c, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	if c.PublicKeyAlgorithm != x509.UnknownPublicKeyAlgorithm {
		return c, nil
	}
	var spki struct {
		Algorithm pkix.AlgorithmIdentifier
		PublicKey asn1.BitString
	}
	if rest, err := asn1.Unmarshal(c.RawSubjectPublicKeyInfo, &spki); err != nil || len(rest) > 0 {
		return c, nil // leave it unknown: its signatures do not verify
	}
	if !spki.Algorithm.Algorithm.Equal(oidRSAPSS) {
		return c, nil
	}
	key, err := x509.ParsePKCS1PublicKey(spki.PublicKey.RightAlign())
	if err != nil {
		return nil, fmt.Errorf("x509: RSASSA-PSS public key: %w", err)
	}
	if key.N.BitLen() > maxRSABits {
		return nil, fmt.Errorf("x509: RSASSA-PSS key of %d bits, over %d", key.N.BitLen(), maxRSABits)
	}
	c.PublicKey, c.PublicKeyAlgorithm = (*rsa.PublicKey)(key), x509.RSA
	return c, nil
}
