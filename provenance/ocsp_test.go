package provenance_test

import (
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil/provenance"
	"github.com/vigil-oss/vigil/provenance/c2patest"
)

// An OCSP response stapled to the signature (rVals.ocspVals) is checked
// offline at the signing time: the time-stamp's when there is a valid
// one, else now. Revoked before then, the signer is "revoked"; revoked
// after a time-stamped signing, it stays trusted. A response that is not
// the issuer's, not for this certificate or not covering the time is a
// problem and changes nothing.
func TestOCSPStapled(t *testing.T) {
	now := time.Now().Truncate(time.Second)
	cur, old, other := signer(t, "ES256"), expiredSigner(t), signer(t, "ES256")
	a := tsa(t)
	ocspOf := func(s *c2patest.Signer, revokedAt, from, to time.Time) []byte {
		t.Helper()
		der, err := s.OCSP(revokedAt, from, to)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}
	var never time.Time
	for _, tc := range []struct {
		name    string
		s       *c2patest.Signer
		stamped bool
		ocsp    []byte
		status  string // the response's, "" for an invalid one
		problem string
		trust   string
	}{
		{"good", cur, false, ocspOf(cur, never, now.Add(-time.Hour), now.Add(time.Hour)), "good", "", provenance.Trusted},
		{"revoked-before-signing", cur, false, ocspOf(cur, now.Add(-30*time.Minute), now.Add(-time.Hour), now.Add(time.Hour)),
			"revoked", "revoked at", provenance.Revoked},
		{"revoked-after-stamped-signing", old, true, ocspOf(old, now.Add(-30*time.Hour), now.Add(-50*time.Hour), now.Add(time.Hour)),
			"revoked", "", provenance.Trusted},
		{"revoked-before-stamped-signing", old, true, ocspOf(old, now.Add(-49*time.Hour), now.Add(-50*time.Hour), now.Add(time.Hour)),
			"revoked", "revoked at", provenance.Revoked},
		{"another-issuer", cur, false, ocspOf(other, never, now.Add(-time.Hour), now.Add(time.Hour)), "", "ocsp:", provenance.Trusted},
		{"stale", cur, false, ocspOf(cur, never, now.Add(-3*time.Hour), now.Add(-2*time.Hour)), "", "does not cover the signing time", provenance.Trusted},
		{"not-yet", cur, false, ocspOf(cur, never, now.Add(2*time.Hour), now.Add(3*time.Hour)), "", "does not cover the signing time", provenance.Trusted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := generated(tc.s)
			m.OCSP = tc.ocsp
			if tc.stamped {
				m.Timestamp = &c2patest.Timestamp{TSA: a, At: now.Add(-48 * time.Hour)}
			}
			r := tsaReader(t, []*x509.Certificate{tc.s.Root, a.Root}, nil)
			data := embed(t, "jpeg", m).Data
			c := readC2PA(t, r, data)
			rv := c.Revocation
			if rv == nil || rv.Valid != (tc.status != "") || (tc.status != "" && rv.Status != tc.status) {
				t.Fatalf("revocation %+v", rv)
			}
			problems := strings.Join(c.Problems, ";")
			if c.Trust != tc.trust || !c.SignatureValid || (tc.problem == "") != (problems == "") || !strings.Contains(problems, tc.problem) {
				t.Fatalf("trust %s, problems %q; want %s, %q", c.Trust, problems, tc.trust, tc.problem)
			}
			g := r.Read(data).GenerativeAI()
			if err := g.Validate(); err != nil || g.Verified() != (tc.trust == provenance.Trusted) {
				t.Fatalf("indication %+v: %v", g, err)
			}
		})
	}
	// No response stapled: nothing said.
	if c := readC2PA(t, reader(t, cur.Root), embed(t, "png", generated(cur)).Data); c.Revocation != nil {
		t.Fatalf("revocation without a response: %+v", c.Revocation)
	}
}
