package second_test

import (
	"fmt"
	"image"
	"testing"

	"golang.org/x/image/draw"

	"github.com/vigil-oss/vigil/phm/client"
	"github.com/vigil-oss/vigil/phm/second"
)

// TestDerivativeOrientations: the device's derivative of a mirrored or
// rotated copy, at sizes from 64 to 1,500 px, is within Threshold of the
// listed picture's keyed hash in all but a few cases (the derivative's
// grid is not its own mirror: see Dihedral). Fails with the old sign
// flips (112 of 1,512 over Threshold, 128 bits; now 10 of 1,512 at 256).
func TestDerivativeOrientations(t *testing.T) {
	if testing.Short() {
		t.Skip("hashes some 900 derivatives")
	}
	k := testKey(t, 11)
	h := second.NewHasher()
	pics := append(pictures(t), generated(t, 12)...)
	over, all := 0, 0
	for _, n := range []int{64, 96, 120, 128, 150, 192, 256, 300, 400, 600, 1000, 1500} {
		mx, sum, o, cnt := 0, 0, 0, 0
		for _, p0 := range pics {
			b := p0.Bounds()
			g := image.NewRGBA(image.Rect(0, 0, n, max(8, n*b.Dy()/b.Dx())))
			draw.CatmullRom.Scale(g, g.Bounds(), p0, b, draw.Src, nil)
			listed, _ := h.Hash(k, g)
			for d := 1; d < 8; d++ {
				der, err := client.Derivative(orient(g, d))
				if err != nil {
					t.Fatal(err)
				}
				got, _ := h.Dihedral(k, decode(t, der))
				v := second.Nearest(got, listed)

				mx, sum, cnt = max(mx, v), sum+v, cnt+1
				if v > second.Threshold {
					o++
				}
			}
		}
		over, all = over+o, all+cnt
		t.Log(fmt.Sprintf("width %4d: mean %2d, max %2d, %d of %d over %d", n, sum/cnt, mx, o, cnt, second.Threshold))
	}
	t.Logf("all: %d of %d over %d", over, all, second.Threshold)
	if over*50 > all {
		t.Errorf("%d of %d derivatives of mirrored or rotated copies over %d bits (more than 2%%)", over, all, second.Threshold)
	}
}
