package provenance

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"slices"
	"time"

	"golang.org/x/crypto/ocsp"
)

// Revoked: the signer's certificate was revoked before the claim was
// signed (the time-stamp's time, else now), by the OCSP response stapled
// to the signature.
const Revoked = "revoked"

// Revocation is what an OCSP response stapled to a claim signature (the
// COSE unprotected header's rVals.ocspVals) says of the signer's
// certificate, checked offline: no responder is asked.
type Revocation struct {
	// Status is good, revoked or unknown, as the responder said.
	Status     string    `json:"status,omitempty"`
	ThisUpdate time.Time `json:"this_update,omitzero"`
	NextUpdate time.Time `json:"next_update,omitzero"`
	RevokedAt  time.Time `json:"revoked_at,omitzero"`
	// Valid says the response is signed by the signer certificate's
	// issuer (or a responder it delegated to, with the OCSP-signing key
	// use), names the signer's certificate, and covers the time the
	// signer is judged at.
	Valid   bool   `json:"valid"`
	Problem string `json:"problem,omitempty"`
}

// rVals is the C2PA revocation-values header.
type rVals struct {
	OCSPVals [][]byte `cbor:"ocspVals"`
}

// checkRevocation reads the first stapled OCSP response of s, or returns
// nil when there is none, and checks it at time at.
func (r *Reader) checkRevocation(s *signature, at time.Time) *Revocation {
	if s.rVals == nil {
		return nil
	}
	rv := &Revocation{}
	fail := func(err error) *Revocation {
		rv.Valid, rv.Problem = false, "ocsp: "+err.Error()
		return rv
	}
	var vals rVals
	if err := r.dec.Unmarshal(s.rVals, &vals); err != nil {
		return fail(fmt.Errorf("rVals: %w", err))
	}
	if len(vals.OCSPVals) == 0 {
		return nil // CRLs only, which this reader does not read
	}
	der := vals.OCSPVals[0]
	if len(der) > r.limits.MaxTimestampBytes {
		return fail(fmt.Errorf("response of %d bytes, over the limit of %d", len(der), r.limits.MaxTimestampBytes))
	}
	if len(s.chain) < 2 {
		return fail(errors.New("the signer's chain holds no issuer to check the response against"))
	}
	leaf, issuer := s.chain[0], s.chain[1]
	resp, err := ocsp.ParseResponseForCert(der, leaf, issuer)
	if err != nil {
		return fail(err)
	}
	// A delegated responder must be one the issuer made for OCSP.
	if c := resp.Certificate; c != nil && !bytes.Equal(c.Raw, issuer.Raw) &&
		!slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageOCSPSigning) {
		return fail(errors.New("the responder's certificate is not for OCSP signing"))
	}
	rv.ThisUpdate, rv.NextUpdate = resp.ThisUpdate.UTC(), resp.NextUpdate.UTC()
	switch resp.Status {
	case ocsp.Good:
		rv.Status = "good"
	case ocsp.Revoked:
		rv.Status, rv.RevokedAt = "revoked", resp.RevokedAt.UTC()
	default:
		rv.Status = "unknown"
	}
	if at.Before(resp.ThisUpdate) || (!resp.NextUpdate.IsZero() && at.After(resp.NextUpdate)) {
		return fail(fmt.Errorf("the response (%s to %s) does not cover the signing time %s",
			rv.ThisUpdate.Format(time.RFC3339), rv.NextUpdate.Format(time.RFC3339), at.UTC().Format(time.RFC3339)))
	}
	rv.Valid = true
	return rv
}
