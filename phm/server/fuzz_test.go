package server

import (
	"testing"

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
