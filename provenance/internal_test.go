package provenance

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/vigil-oss/vigil/provenance/c2patest"
)

// Tokens signed with each algorithm a test TSA has parse and verify; a
// flipped bit in the signature, or in the TSTInfo the signature covers
// through its digest, does not.
func TestTokenAlgorithms(t *testing.T) {
	r, err := NewReader(Options{})
	if err != nil {
		t.Fatal(err)
	}
	imprint := sha256.Sum256([]byte("a signature"))
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for _, alg := range []string{"EdDSA", "ES256", "RS256", "PS256"} {
		t.Run(alg, func(t *testing.T) {
			a, err := c2patest.NewTSAAlg(alg)
			if err != nil {
				t.Fatal(err)
			}
			tok, err := a.Token(imprint[:], at)
			if err != nil {
				t.Fatal(err)
			}
			for _, der := range [][]byte{tok.DER, c2patest.Response(tok.DER)} {
				p, err := r.parseToken(der)
				if err != nil {
					t.Fatal(err)
				}
				if err := p.verifySignature(); err != nil {
					t.Fatal(err)
				}
				if !p.info.GenTime.Equal(at) || !bytes.Equal(p.info.MessageImprint.HashedMessage, imprint[:]) || p.cert.Subject.CommonName != "Vigil Test TSA" {
					t.Fatalf("token %+v", p.info)
				}
			}
			sigAt := bytes.Index(tok.DER, tok.Signature) + len(tok.Signature) - 1
			imprintAt := bytes.Index(tok.DER, imprint[:])
			for what, at := range map[string]int{"signature": sigAt, "imprint": imprintAt} {
				bad := bytes.Clone(tok.DER)
				bad[at] ^= 0x01
				p, err := r.parseToken(bad)
				if err != nil {
					t.Fatalf("%s: %v", what, err)
				}
				if err := p.verifySignature(); err == nil {
					t.Fatalf("a token with its %s changed verifies", what)
				}
			}
		})
	}
}

// Every prefix of a token, and a response that grants nothing, is an
// error from the parser, not a panic.
func TestTokenTruncated(t *testing.T) {
	r, err := NewReader(Options{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := c2patest.NewTSA()
	if err != nil {
		t.Fatal(err)
	}
	tok, err := a.Token(make([]byte, 32), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for n := range len(tok.DER) {
		if _, err := r.parseToken(tok.DER[:n]); err == nil {
			t.Fatalf("a token cut at %d of %d bytes parses", n, len(tok.DER))
		}
	}
	rejected := c2patest.Response(tok.DER)
	rejected[bytes.Index(rejected, []byte{0x02, 0x01, 0x00})+2] = 2 // status: rejection
	if _, err := r.parseToken(rejected); err == nil || !strings.Contains(err.Error(), "no time-stamp granted") {
		t.Fatalf("rejected response: %v", err)
	}
}

// FuzzTimestamp: an RFC 3161 token (or response) through parse, signature
// and trust checks, as a claim signature's sigTst2 would bring it.
func FuzzTimestamp(f *testing.F) {
	a, err := c2patest.NewTSAAlg("ES256")
	if err != nil {
		f.Fatal(err)
	}
	tok, err := a.Token(make([]byte, 32), time.Now())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(tok.DER)
	f.Add(c2patest.Response(tok.DER))
	r, err := NewReader(Options{Roots: []*x509.Certificate{a.Root}})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, der []byte) {
		p, err := r.parseToken(der)
		if err != nil {
			return
		}
		if p.cert == nil {
			t.Fatal("a parsed token without its TSA's certificate")
		}
		_ = p.verifySignature()
		_, _ = r.tsaTrust(p, p.info.GenTime)
	})
}

// A BMFF binding whose exclusions would compare more bytes than twice the
// file's (many boxes, long data to match in each), or name more ranges
// than there are boxes and exclusions, is refused, not worked through.
func TestBMFFExclusionBudget(t *testing.T) {
	var file []byte
	for range 1000 {
		file = append(binary.BigEndian.AppendUint32(file, 8+100), "free"...)
		file = append(file, make([]byte, 100)...)
	}
	var excl, other []map[string]any
	for range 5 {
		excl = append(excl, map[string]any{"xpath": "/free", "data": []map[string]any{{"offset": 8, "value": make([]byte, 100)}}})
		other = append(other, map[string]any{"xpath": "/free", "data": []map[string]any{{"offset": 8, "value": bytes.Repeat([]byte{1}, 100)}}})
	}
	r, err := NewReader(Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		excl []map[string]any
		want string
	}{{other, "compare more data"}, {excl, "more than 1064 ranges"}} {
		content, err := cbor.Marshal(map[string]any{"exclusions": tc.excl, "alg": "sha256", "hash": make([]byte, 32)})
		if err != nil {
			t.Fatal(err)
		}
		if err := r.checkBMFFHash(content, "", 3, file); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Fatalf("got %v, want %q", err, tc.want)
		}
	}
	// One such exclusion is within the budget: every box is excluded, and
	// the hash is of nothing.
	empty := sha256.Sum256(nil)
	content, err := cbor.Marshal(map[string]any{"exclusions": excl[:1], "alg": "sha256", "hash": empty[:]})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.checkBMFFHash(content, "", 2, file); err != nil {
		t.Fatal(err)
	}
}
