package provenance_test

import (
	"bytes"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil/provenance"
	"github.com/vigil-oss/vigil/provenance/c2patest"
)

func tsa(tb testing.TB) *c2patest.TSA {
	tb.Helper()
	t, err := c2patest.NewTSA()
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// expiredSigner's certificate was valid from three days ago to yesterday.
func expiredSigner(tb testing.TB) *c2patest.Signer {
	tb.Helper()
	s, err := c2patest.NewSignerValid("ES256", time.Now().Add(-72*time.Hour), time.Now().Add(-24*time.Hour))
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func tsaReader(tb testing.TB, roots, tsaRoots []*x509.Certificate) *provenance.Reader {
	tb.Helper()
	r, err := provenance.NewReader(provenance.Options{Roots: roots, TSARoots: tsaRoots})
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// A manifest signed with a certificate that has expired since, but
// time-stamped (C2PA 2 sigTst2 and C2PA 1 sigTst) while it was valid by
// a trusted TSA, is trusted: the chain is judged at the time-stamp's
// time. Without the time-stamp it is only "expired". Before time-stamps
// were read, both reported "expired".
func TestTimestampExpiredSignerTrusted(t *testing.T) {
	s, a := expiredSigner(t), tsa(t)
	signedAt := time.Now().Add(-48 * time.Hour).Truncate(time.Second)
	for _, v1 := range []bool{false, true} {
		for _, format := range []string{"jpeg", "png"} {
			name := map[bool]string{false: "sigTst2", true: "sigTst"}[v1]
			t.Run(name+"/"+format, func(t *testing.T) {
				m := generated(s)
				m.Timestamp = &c2patest.Timestamp{TSA: a, At: signedAt, V1: v1}
				e := embed(t, format, m)
				c := readC2PA(t, tsaReader(t, []*x509.Certificate{s.Root}, []*x509.Certificate{a.Root}), e.Data)
				ts := c.Timestamp
				if ts == nil || !ts.Valid || ts.Header != name || !ts.Time.Equal(signedAt) || ts.Trust != provenance.Trusted ||
					!strings.Contains(ts.TSA, "CN=Vigil Test TSA") || ts.Problem != "" {
					t.Fatalf("time-stamp %+v", ts)
				}
				if c.Trust != provenance.Trusted || !c.SignatureValid || !c.BindingValid || len(c.Problems) > 0 {
					t.Fatalf("time-stamped manifest: %+v", c)
				}
				if g := tsaReader(t, []*x509.Certificate{s.Root}, []*x509.Certificate{a.Root}).Read(e.Data).GenerativeAI(); g == nil || !g.Verified() || !g.Timestamped {
					t.Fatalf("indication %+v", g)
				}
			})
		}
	}
	// The same signer without a time-stamp: expired.
	c := readC2PA(t, tsaReader(t, []*x509.Certificate{s.Root}, nil), embed(t, "jpeg", generated(s)).Data)
	if c.Trust != provenance.Expired || c.Timestamp != nil || !strings.Contains(strings.Join(c.Problems, ";"), "no valid time-stamp") {
		t.Fatalf("expired, not time-stamped: %+v", c)
	}
}

// With no TSA anchors of their own, the signers' anchors are used for
// TSAs too (one trust file holding both lists).
func TestTimestampTSARootsDefault(t *testing.T) {
	s, a := expiredSigner(t), tsa(t)
	m := generated(s)
	m.Timestamp = &c2patest.Timestamp{TSA: a, At: time.Now().Add(-48 * time.Hour)}
	c := readC2PA(t, tsaReader(t, []*x509.Certificate{s.Root, a.Root}, nil), embed(t, "png", m).Data)
	if !c.Timestamp.Valid || c.Trust != provenance.Trusted {
		t.Fatalf("one list for both: %+v %+v", c, c.Timestamp)
	}
}

// What does not hold in a time-stamp makes it invalid, says why, and
// leaves the signer judged now: expired.
func TestTimestampTampered(t *testing.T) {
	s, a, other := expiredSigner(t), tsa(t), tsa(t)
	signedAt := time.Now().Add(-48 * time.Hour)
	for _, tc := range []struct {
		name     string
		ts       c2patest.Timestamp
		tsaRoots []*x509.Certificate
		tamper   func(e *c2patest.Embedded) []byte
		want     string
		trust    string // the TSA's
	}{
		{name: "wrong-imprint", ts: c2patest.Timestamp{TSA: a, At: signedAt, Other: []byte("another signature")},
			want: "imprint is not this signature's"},
		{name: "wrong-imprint-v1", ts: c2patest.Timestamp{TSA: a, At: signedAt, V1: true, Other: []byte("another claim")},
			want: "imprint is not this signature's"},
		{name: "bad-tsa-signature", ts: c2patest.Timestamp{TSA: a, At: signedAt}, want: "time-stamp signature does not verify",
			tamper: func(e *c2patest.Embedded) []byte {
				data := bytes.Clone(e.Data)
				// The signature's last byte: the end of s in r‖s DER,
				// whatever the draw, so the DER stays well formed.
				at := bytes.Index(data, e.TSASignature) + len(e.TSASignature) - 1
				data[at] ^= 0x01
				return data
			}},
		{name: "untrusted-tsa", ts: c2patest.Timestamp{TSA: a, At: signedAt}, tsaRoots: []*x509.Certificate{other.Root},
			want: "signed by unknown authority", trust: provenance.Untrusted},
		{name: "before-signer-validity", ts: c2patest.Timestamp{TSA: a, At: time.Now().Add(-96 * time.Hour)},
			want: "outside the signer certificate's validity", trust: provenance.Trusted},
		{name: "after-signer-validity", ts: c2patest.Timestamp{TSA: a, At: time.Now().Add(-time.Hour)},
			want: "outside the signer certificate's validity", trust: provenance.Trusted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := generated(s)
			ts := tc.ts
			m.Timestamp = &ts
			e := embed(t, "jpeg", m)
			data := e.Data
			if tc.tamper != nil {
				data = tc.tamper(e)
			}
			roots := tc.tsaRoots
			if roots == nil {
				roots = []*x509.Certificate{a.Root}
			}
			c := readC2PA(t, tsaReader(t, []*x509.Certificate{s.Root}, roots), data)
			got := c.Timestamp
			if got == nil || got.Valid || !strings.Contains(got.Problem, tc.want) || got.Trust != tc.trust {
				t.Fatalf("time-stamp %+v, want a problem %q, TSA trust %q", got, tc.want, tc.trust)
			}
			if c.Trust != provenance.Expired || !c.SignatureValid || !c.BindingValid ||
				!strings.Contains(strings.Join(c.Problems, ";"), tc.want) {
				t.Fatalf("manifest %+v", c)
			}
			if g := tsaReader(t, []*x509.Certificate{s.Root}, roots).Read(data).GenerativeAI(); g == nil || g.Timestamped || g.Trust != provenance.Expired {
				t.Fatalf("indication %+v", g)
			}
		})
	}
}

// A valid time-stamp on a signer valid now changes nothing but adds the
// time; one by a TSA whose anchors are not given says untrusted without
// making the signer any less trusted than it is now.
func TestTimestampCurrentSigner(t *testing.T) {
	s, a := signer(t, "ES256"), tsa(t)
	m := generated(s)
	m.Timestamp = &c2patest.Timestamp{TSA: a, At: time.Now().Add(-time.Minute)}
	data := embed(t, "png", m).Data
	c := readC2PA(t, tsaReader(t, []*x509.Certificate{s.Root}, []*x509.Certificate{a.Root}), data)
	if c.Trust != provenance.Trusted || !c.Timestamp.Valid || len(c.Problems) > 0 {
		t.Fatalf("%+v %+v", c, c.Timestamp)
	}
	c = readC2PA(t, tsaReader(t, []*x509.Certificate{s.Root}, nil), data)
	if c.Trust != provenance.Trusted || c.Timestamp.Valid || c.Timestamp.Trust != provenance.Untrusted {
		t.Fatalf("%+v %+v", c, c.Timestamp)
	}
}

// A time-stamp over the size limit is a problem, not read.
func TestTimestampLimit(t *testing.T) {
	s, a := expiredSigner(t), tsa(t)
	m := generated(s)
	m.Timestamp = &c2patest.Timestamp{TSA: a, At: time.Now().Add(-48 * time.Hour)}
	e := embed(t, "png", m)
	r := tsaReader(t, []*x509.Certificate{s.Root}, []*x509.Certificate{a.Root})
	// Limits: a reader whose time-stamp limit is under the token's size
	// (a few hundred bytes with its one certificate).
	small, err := provenance.NewReader(provenance.Options{Roots: []*x509.Certificate{s.Root}, TSARoots: []*x509.Certificate{a.Root},
		Limits: provenance.Limits{MaxTimestampBytes: 200}})
	if err != nil {
		t.Fatal(err)
	}
	if c := readC2PA(t, small, e.Data); c.Timestamp == nil || c.Timestamp.Valid || !strings.Contains(c.Timestamp.Problem, "over the limit") {
		t.Fatalf("size limit: %+v", c.Timestamp)
	}
	if c := readC2PA(t, r, e.Data); !c.Timestamp.Valid {
		t.Fatalf("untouched: %+v", c.Timestamp)
	}
}
