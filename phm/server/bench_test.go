package server

import (
	"image"
	"testing"

	"github.com/cloudflare/circl/secretsharing"

	"github.com/vigil-oss/vigil/internal/cputime"
	"github.com/vigil-oss/vigil/pdq"
	"github.com/vigil-oss/vigil/phm"
	"github.com/vigil-oss/vigil/phm/client"
	"github.com/vigil-oss/vigil/phm/dhf"
)

// BenchmarkServerOpen measures opening one voucher: miss tries all 64
// elements of a non-matching voucher (the common case), hit stops at the
// opening element. The per-element figure is what the design measured as
// 65 µs (one scalar multiplication and up to three AES-GCM opens).
func BenchmarkServerOpen(b *testing.B) {
	hitData := pngBytes(b, picture(1, 96))
	f, s := newFixture(b, phm.DefaultParams, 0, sha256Key(b, hitData))
	miss := f.voucher(b, s, prepare(b, pngBytes(b, picture(2, 96))))
	hit := f.voucher(b, s, prepare(b, hitData))
	b.Run("miss", func(b *testing.B) {
		cputime.PerOp(b, func() {
			if _, ok, err := f.opener.Open(miss); ok || err != nil {
				b.Fatal("miss opened")
			}
		})
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/phm.K, "ns/element")
	})
	b.Run("hit", func(b *testing.B) {
		cputime.PerOp(b, func() {
			if _, ok, err := f.opener.Open(hit); !ok || err != nil {
				b.Fatal("hit did not open")
			}
		})
	})
}

// BenchmarkAccountRecover measures the threshold work for an account at
// v1's parameters: t+1 = 31 real and s = 60 synthetic positives. dhf is
// detection alone (design: 0.87 ms), shamir the recovery from 31 shares
// alone (design: 0.83 ms), all is TryRecover: both, plus opening the 31
// inner layers.
func BenchmarkAccountRecover(b *testing.B) {
	p := phm.DefaultParams
	real, keys := listedImages(b, p.T+1, 100)
	f, s := newFixture(b, p, 1, keys...)
	var positives []*Positive
	add := func(data []byte) {
		pos, ok, err := f.opener.Open(f.voucher(b, s, prepare(b, data)))
		if err != nil || !ok {
			b.Fatal("a positive did not open")
		}
		positives = append(positives, pos)
	}
	for i := range p.S {
		add(pngBytes(b, picture(500+i, 72)))
	}
	for _, d := range real {
		add(d)
	}
	fresh := func() *Account {
		a := NewAccount(p)
		for _, pos := range positives {
			a.Add(pos)
		}
		return a
	}
	if got, _ := fresh().TryRecover(); len(got) != p.T+1 {
		b.Fatalf("recovered %d, want %d", len(got), p.T+1)
	}
	pts := make([][]uint64, len(positives))
	for i, pos := range positives {
		pts[i] = pos.Header.DHF
	}
	found, _ := dhf.Detect(pts, p.S, p.T)
	var shares []secretsharing.Share
	for _, i := range found {
		id, v := phm.Group.NewScalar(), phm.Group.NewScalar()
		_ = id.UnmarshalBinary(phm.ShareID(positives[i].ID))
		_ = v.UnmarshalBinary(positives[i].Header.Share[:])
		shares = append(shares, secretsharing.Share{ID: id, Value: v})
	}
	b.Run("dhf", func(b *testing.B) {
		cputime.PerOp(b, func() { _, _ = dhf.Detect(pts, p.S, p.T) })
	})
	b.Run("shamir", func(b *testing.B) {
		cputime.PerOp(b, func() { _, _ = secretsharing.Recover(uint(p.T), shares) })
	})
	b.Run("all", func(b *testing.B) {
		accts := make([]*Account, 0, 16)
		cputime.PerOp(b, func() {
			b.StopTimer()
			if len(accts) == 0 {
				for range 16 {
					accts = append(accts, fresh())
				}
			}
			a := accts[len(accts)-1]
			accts = accts[:len(accts)-1]
			b.StartTimer()
			if got, _ := a.TryRecover(); len(got) != p.T+1 {
				b.Fatal("not recovered")
			}
		})
	})
}

// BenchmarkSecondCheckHash measures the second check's per-item hashing:
// plain is what it did before the re-encode (decode the derivative, PDQ in
// eight orientations), recoded adds the service's JPEG re-encode and its
// PDQ (phm.Recoded). The baseline and the change run in the same process.
func BenchmarkSecondCheckHash(b *testing.B) {
	deriv, err := client.Derivative(picture(3, 256))
	if err != nil {
		b.Fatal(err)
	}
	h := pdq.NewHasher(pdq.Full)
	plain := func() image.Image {
		img, err := DecodeDerivative(deriv)
		if err != nil {
			b.Fatal(err)
		}
		h.HashDihedral(img)
		return img
	}
	b.Run("plain", func(b *testing.B) { cputime.PerOp(b, func() { plain() }) })
	b.Run("recoded", func(b *testing.B) {
		cputime.PerOp(b, func() {
			if _, err := phm.Recoded(h, plain()); err != nil {
				b.Fatal(err)
			}
		})
	})
}
