package feed

import (
	"bytes"
	"crypto/rand"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/vigil-oss/vigil"
)

func fuzzKey(f *testing.F) (note.Signer, note.Verifier) {
	skey, vkey, err := note.GenerateKey(rand.Reader, "fuzz")
	if err != nil {
		f.Fatal(err)
	}
	s, _ := note.NewSigner(skey)
	v, _ := note.NewVerifier(vkey)
	return s, v
}

// FuzzParseBatch: any text parses to a valid batch or an error, never a
// panic, and what parses encodes back to a text that parses alike.
func FuzzParseBatch(f *testing.F) {
	text, _ := BatchText(&Batch{Feed: "list", Number: 1, Prev: zeroHash, Changes: []vigil.FeedChange{
		{Op: vigil.FeedAdd, Bank: "b", ID: 1, SignalType: vigil.SignalMD5, Value: "00"},
		{Op: vigil.FeedBank, Bank: "b", Meta: &vigil.FeedBankMeta{Description: "d"}},
	}})
	f.Add(text)
	f.Add([]byte(batchHeader + "{}\n"))
	f.Add([]byte(batchHeader + `{"feed":"x","number":1,"prev":"` + zeroHash + `","changes":null}` + "\n"))
	f.Fuzz(func(t *testing.T, text []byte) {
		b, err := ParseBatch(text)
		if err != nil {
			return
		}
		again, err := BatchText(b)
		if err != nil {
			return // too large once re-encoded
		}
		b2, err := ParseBatch(again)
		if err != nil || b2.Number != b.Number || len(b2.Changes) != len(b.Changes) {
			t.Fatalf("re-encoded batch does not parse alike: %v", err)
		}
	})
}

// FuzzOpenBatch: a signed batch, however damaged, verifies only if it is
// the one that was signed.
func FuzzOpenBatch(f *testing.F) {
	s, v := fuzzKey(f)
	text, signed, err := SignBatch(&Batch{Feed: "list", Number: 2, Prev: zeroHash}, s)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(signed)
	f.Add(text)
	f.Fuzz(func(t *testing.T, msg []byte) {
		b, got, err := OpenBatch(msg, v)
		if err != nil {
			return
		}
		if !bytes.Equal(got, text) || b.Number != 2 {
			t.Fatalf("a batch that was never signed verified: %q", got)
		}
	})
}

// FuzzOpenHead: the same for heads.
func FuzzOpenHead(f *testing.F) {
	s, v := fuzzKey(f)
	tree := tlog.Tree{N: 3, Hash: tlog.RecordHash([]byte("x"))}
	signed, err := note.Sign(&note.Note{Text: string(HeadText("list", tree))}, s)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(signed)
	f.Add(HeadText("list", tree))
	f.Fuzz(func(t *testing.T, msg []byte) {
		got, err := OpenHead(msg, v, "list")
		if err == nil && got != tree {
			t.Fatalf("a head that was never signed verified: %+v", got)
		}
	})
}

// FuzzParseProof: proofs parse within their bound, and round-trip.
func FuzzParseProof(f *testing.F) {
	f.Add(FormatProof([]tlog.Hash{tlog.RecordHash([]byte("a")), tlog.RecordHash([]byte("b"))}))
	f.Add([]byte(""))
	f.Add([]byte("\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseProof(b)
		if err != nil {
			return
		}
		if len(p) > MaxProofHashes {
			t.Fatalf("%d hashes over the bound", len(p))
		}
		p2, err := ParseProof(FormatProof(p))
		if err != nil || len(p2) != len(p) {
			t.Fatalf("proof does not round-trip: %v", err)
		}
	})
}

func TestVerifierKey(t *testing.T) {
	skey, vkey, err := note.GenerateKey(rand.Reader, "vigil-feed-x")
	if err != nil {
		t.Fatal(err)
	}
	got, err := VerifierKey(skey + "\n")
	if err != nil || got != vkey {
		t.Fatalf("VerifierKey = %q, %v; want %q", got, err, vkey)
	}
	if _, err := VerifierKey(vkey); err == nil {
		t.Fatal("a verifier key passed for a signer key")
	}
}
