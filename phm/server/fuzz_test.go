package server

import (
	"bytes"
	"image/jpeg"
	"strings"
	"testing"

	"github.com/vigil-oss/vigil/pdq"
	"github.com/vigil-oss/vigil/phm"
)

// FuzzOpen feeds mutated vouchers to the opener: it must never panic,
// and bytes of any other length must be refused before any work.
func FuzzOpen(f *testing.F) {
	p := phm.Params{T: 2, S: 3}
	data := pngBytes(f, picture(1, 72))
	fx, s := newFixture(f, p, 0, sha256Key(f, data))
	f.Add(fx.voucher(f, s, prepare(f, data)))
	f.Add([]byte{phm.Version})
	f.Fuzz(func(t *testing.T, b []byte) {
		pos, ok, err := fx.opener.Open(b)
		if err != nil && (ok || pos != nil) {
			t.Fatal("an error with a positive")
		}
		if len(b) != p.VoucherSize() && err == nil {
			t.Fatal("a voucher of the wrong length was accepted")
		}
		if ok {
			a := NewAccount(p)
			a.Add(pos)
			if _, err := a.TryRecover(); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// FuzzDecodeDerivative: a derivative comes from a device; whatever its
// bytes, decoding is refused or yields at most MaxDerivativeSide a side.
func FuzzDecodeDerivative(f *testing.F) {
	var buf bytes.Buffer
	_ = jpeg.Encode(&buf, picture(1, 64), nil)
	f.Add(buf.Bytes())
	f.Add(bigDerivative(f))
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > phm.MaxDerivative {
			return
		}
		img, err := DecodeDerivative(b)
		if err != nil {
			return
		}
		if img.Bounds().Dx() > MaxDerivativeSide || img.Bounds().Dy() > MaxDerivativeSide {
			t.Fatalf("decoded %v", img.Bounds())
		}
		// The second check re-encodes whatever decoded (phm.Recoded).
		if _, err := phm.Recoded(pdq.NewHasher(pdq.Full), img); err != nil {
			t.Fatalf("a decoded derivative does not re-encode: %v", err)
		}
	})
}

// bigDerivative is a small JPEG whose header claims 60000×60000 pixels.
func bigDerivative(tb testing.TB) []byte {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, picture(2, 16), nil); err != nil {
		tb.Fatal(err)
	}
	b := buf.Bytes()
	for i := 0; i+8 < len(b); i++ {
		if b[i] == 0xFF && b[i+1] == 0xC0 { // SOF0: length(2) precision(1) height(2) width(2)
			b[i+5], b[i+6], b[i+7], b[i+8] = 0xEA, 0x60, 0xEA, 0x60
			return b
		}
	}
	tb.Fatal("no SOF0 marker")
	return nil
}

// TestDerivativeClaimingHugeSizeRefused: the service refuses, before
// decoding, a derivative whose header claims 60000×60000 pixels (the
// second check used to hand any derivative to jpeg.Decode, which sizes
// its buffers from the header), and a contact sheet leaves such an item's
// cell empty.
func TestDerivativeClaimingHugeSizeRefused(t *testing.T) {
	if _, err := DecodeDerivative(bigDerivative(t)); err == nil || !strings.Contains(err.Error(), "over 256") {
		t.Fatalf("huge derivative: %v", err)
	}
	if _, err := Sheet([][]byte{bigDerivative(t), bigDerivative(t)}); err != nil {
		t.Fatalf("a sheet with an undecodable item: %v", err)
	}
}
