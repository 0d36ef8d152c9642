package client

import (
	"bytes"
	"image"
	"image/jpeg"
	_ "image/png"
	"os"
	"testing"

	"github.com/vigil-oss/vigil/pdq"
	"github.com/vigil-oss/vigil/phm"
)

// TestDerivativeKeepsPDQ is the second check's recall on true matches:
// the service hashes the derivative a voucher carries (8 orientations,
// PDQ ≤ 31) and must find the image's own PDQ. These four pictures of
// pdq/testdata are the 4 of 20 that vigil phm eval lost with the old
// derivative (a bilinear resize to 128×128): PDQ's filter on the larger
// original keeps detail the resize had dropped, 32–70 bits away. The
// derivative sampled at PDQ's own points stays within DerivativeDrift.
func TestDerivativeKeepsPDQ(t *testing.T) {
	for _, name := range []string{"decoded/q0122.decoded.png", "pytx-resources/I16.png", "pytx-resources/LA.png", "pytx-resources/rgb.jpeg"} {
		data, err := os.ReadFile("../../pdq/testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		img, _, err := image.Decode(bytes.NewReader(data))
		if err != nil {
			t.Fatal(err)
		}
		// Each is 256 pixels a side, as the eval scales them: PDQ's filter
		// window is 2 and its 64 samples a side fall on every 4th pixel.
		for _, pic := range []image.Image{img} {
			h := pdq.NewHasher(pdq.Full)
			d, ok := h.HashDetail(pic)
			if !ok || d.Quality < pdq.MinQuality {
				continue
			}
			b, err := Derivative(pic)
			if err != nil {
				t.Fatal(err)
			}
			if len(b) > phm.MaxDerivative {
				t.Fatalf("%s: derivative of %d bytes, over %d", name, len(b), phm.MaxDerivative)
			}
			dec, err := jpeg.Decode(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			dih, q := pdq.NewHasher(pdq.Full).HashDihedral(dec)
			best := 256
			for _, v := range dih {
				best = min(best, pdq.Distance(v, d.Dihedral[pdq.Original]))
			}
			if best > DerivativeDrift || q < pdq.MinQuality {
				t.Errorf("%s (%v): the derivative's PDQ is %d bits from the picture's (quality %d), want ≤ %d", name, pic.Bounds().Size(), best, q, DerivativeDrift)
			}
		}
	}
}
