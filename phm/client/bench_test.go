package client

import (
	"crypto/rand"
	"os"
	"testing"

	"github.com/vigil-oss/vigil/hashing"
	"github.com/vigil-oss/vigil/internal/cputime"
	"github.com/vigil-oss/vigil/pdq"
	"github.com/vigil-oss/vigil/phm"
	"github.com/vigil-oss/vigil/phm/phmtest"
)

// BenchmarkVoucherPerImage measures the device's work per image sent: the
// baseline is plain PDQ hashing of the same bytes (decode + dihedral PDQ,
// what hashing does today), then Prepare (decode, digests, PDQ with its
// DCT block, probes, derivative), then the whole voucher (Prepare + 64
// elements + header). element is the voucher's crypto alone per element,
// the figure the design's 0.30 ms was measured for.
func BenchmarkVoucherPerImage(b *testing.B) {
	for _, name := range []string{"bridge-1600x1004.jpg", "q0122.jpg"} {
		data, err := os.ReadFile("../../hashing/testdata/" + name)
		if err != nil {
			b.Fatal(err)
		}
		var listed []phm.Key
		for i := range 1000 {
			d := [32]byte{byte(i), byte(i >> 8)}
			k, _ := phm.NewKey(phm.FamilyPDQ, d[:])
			listed = append(listed, k)
		}
		tbl := phmtest.NewTable(b, listed...)
		review := phmtest.ReviewKey(b).PublicKey()
		b.Run(name+"/pdq-baseline", func(b *testing.B) {
			h := pdq.NewHasher(pdq.Full)
			cputime.PerOp(b, func() {
				img, _, release, err := hashing.DecodeImage(b.Context(), data, hashing.Limits{})
				if err != nil {
					b.Fatal(err)
				}
				h.HashDihedral(img)
				release()
			})
		})
		b.Run(name+"/prepare", func(b *testing.B) {
			cputime.PerOp(b, func() {
				if _, err := Prepare(data, hashing.Limits{}); err != nil {
					b.Fatal(err)
				}
			})
		})
		b.Run(name+"/voucher", func(b *testing.B) {
			a, _ := NewAccount(rand.Reader, phm.DefaultParams, 0)
			cputime.PerOp(b, func() {
				c, err := Prepare(data, hashing.Limits{})
				if err != nil {
					b.Fatal(err)
				}
				a.seen = map[[32]byte]struct{}{} // every voucher a real one
				if _, err := a.NewVoucher(tbl, review, c, "", rand.Reader); err != nil {
					b.Fatal(err)
				}
			})
		})
		if name != "q0122.jpg" {
			continue
		}
		b.Run("element", func(b *testing.B) {
			var e phm.Element
			kimg := make([]byte, phm.KeySize)
			cputime.PerOp(b, func() {
				if err := element(&e, tbl, listed[0], false, kimg, [phm.IDSize]byte{}, rand.Reader); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}
