package media

import (
	"bytes"
	"crypto/rand"
	"errors"
	"testing"
)

// FuzzOpen feeds arbitrary bytes to the blob parser and opener: they must
// fail cleanly with one of the package's errors, never panic, and a blob
// sealed from the input must open to the input.
func FuzzOpen(f *testing.F) {
	kr := &Keyring{}
	if err := kr.Add("k1", bytes.Repeat([]byte{9}, KeySize)); err != nil {
		f.Fatal(err)
	}
	const id = "0123456789abcdef0123456789abcdef"
	valid, err := kr.seal(id, []byte("seed data"), rand.Reader)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add(valid[:len(valid)-1])
	f.Add(valid[:7])
	f.Add([]byte(magic))
	f.Add([]byte("VGM1\x21"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, blob []byte) {
		data, err := kr.open(id, blob)
		if err == nil {
			// Only a genuine seal opens; the fuzzer cannot forge a tag, so
			// this is the seed itself.
			if !bytes.Equal(data, []byte("seed data")) {
				t.Fatalf("forged blob opened to %q", data)
			}
		} else if !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrTruncated) && !errors.Is(err, ErrFormat) && !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("unexpected error %v", err)
		}
		sealed, err := kr.seal(id, blob, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		back, err := kr.open(id, sealed)
		if err != nil || !bytes.Equal(back, blob) {
			t.Fatalf("round trip of %d bytes: %v", len(blob), err)
		}
	})
}

// FuzzParseKeyring feeds arbitrary text to the keyring parser: it must
// not panic, and a keyring it accepts has a valid current key that seals
// and opens.
func FuzzParseKeyring(f *testing.F) {
	f.Add("k1:" + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	f.Add("# c\nnew:CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk,old:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	f.Add("a:")
	f.Add(":,:")
	f.Fuzz(func(t *testing.T, s string) {
		kr, err := ParseKeyring(s)
		if err != nil {
			return
		}
		if validateKeyID(kr.Current()) != nil {
			t.Fatalf("current key id %q is invalid", kr.Current())
		}
		const id = "00000000000000000000000000000000"
		sealed, err := kr.seal(id, []byte("x"), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		if data, err := kr.open(id, sealed); err != nil || string(data) != "x" {
			t.Fatalf("round trip: %q, %v", data, err)
		}
	})
}
