package server

import (
	"crypto/rand"
	"os"
	"runtime"
	"strconv"
	"sync"
	"testing"

	"github.com/vigil-oss/vigil/phm"
	"github.com/vigil-oss/vigil/phm/client"
	"github.com/vigil-oss/vigil/phm/phmtest"
)

// TestCryptoTrials is the crypto correctness row of the design's test
// plan (../shared/docs/e2ee.md §6) at scale: elements of unlisted pictures
// never open; a listed picture's voucher made against a table under
// another blinding key (a wrong table) never opens; a listed picture's
// voucher against the right table opens exactly one element. An element
// counts as opened when any of its ways' AEADs opens under the service's
// key, whether or not the header then opens: a false way open would be the
// failure. VIGIL_PHM_TRIALS sets the unlisted element trials (the design
// asks 10⁶, about 10 CPU-minutes here: run once, figures in
// docs/benchmarks.md, "phm-trials"); the default keeps the test at a few
// seconds.
func TestCryptoTrials(t *testing.T) {
	trials := 64 * 64
	if testing.Short() {
		trials = 64 * 8
	}
	if s := os.Getenv("VIGIL_PHM_TRIALS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < phm.K {
			t.Fatalf("VIGIL_PHM_TRIALS=%q: want a number of at least %d", s, phm.K)
		}
		trials = n
	}
	p := phm.DefaultParams
	const listedN = 16
	listed, keys := listedImages(t, listedN, 900_000)
	f, s := newFixture(t, p, 0, keys...)
	wrong := phmtest.NewTable(t, keys...) // the same list under another α
	review := s.Review.PublicKey()
	vouchers := (trials + phm.K - 1) / phm.K
	workers := runtime.GOMAXPROCS(0)

	type counts struct{ unlisted, unlistedOpen, wrongOpen, rightVouchers int }
	results := make([]counts, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := &results[w]
			acct, err := client.NewAccount(rand.Reader, p, 0)
			if err != nil {
				t.Error(err)
				return
			}
			for i := w; i < vouchers && !t.Failed(); i += workers {
				v, err := acct.NewVoucher(f.tbl, review, prepare(t, pngBytes(t, picture(1_000_000+i, 72))), "att", rand.Reader)
				if err != nil {
					t.Error(err)
					return
				}
				c.unlisted += phm.K
				c.unlistedOpen += wayOpens(t, f.opener, v, p)
			}
			// Each listed picture once in each of two fresh accounts (a
			// second voucher of one content in one account is a repeat,
			// which never opens).
			right, err1 := client.NewAccount(rand.Reader, p, 0)
			other, err2 := client.NewAccount(rand.Reader, p, 0)
			if err1 != nil || err2 != nil {
				t.Error(err1, err2)
				return
			}
			for _, data := range listed {
				c2 := prepare(t, data)
				v, err := right.NewVoucher(f.tbl, review, c2, "att", rand.Reader)
				if err != nil {
					t.Error(err)
					return
				}
				if n := wayOpens(t, f.opener, v, p); n != 1 {
					t.Errorf("a listed picture's voucher opened %d elements, want 1", n)
				}
				c.rightVouchers++
				v, err = other.NewVoucher(wrong, review, c2, "att", rand.Reader)
				if err != nil {
					t.Error(err)
					return
				}
				c.wrongOpen += wayOpens(t, f.opener, v, p)
			}
		}()
	}
	wg.Wait()
	var sum counts
	for _, c := range results {
		sum.unlisted += c.unlisted
		sum.unlistedOpen += c.unlistedOpen
		sum.wrongOpen += c.wrongOpen
		sum.rightVouchers += c.rightVouchers
	}
	t.Logf("unlisted: %d element trials, %d opened; wrong table: %d element trials, %d opened; right table: %d listed vouchers, each one element open",
		sum.unlisted, sum.unlistedOpen, sum.rightVouchers*phm.K, sum.wrongOpen, sum.rightVouchers)
	if sum.unlistedOpen != 0 || sum.wrongOpen != 0 {
		t.Errorf("%d unlisted and %d wrong-table elements opened, want none", sum.unlistedOpen, sum.wrongOpen)
	}
}

// wayOpens counts the elements of voucher b of which some way's AEAD opens
// under o's key (R = α·Q), whatever the header then does.
func wayOpens(tb testing.TB, o *Opener, b []byte, p phm.Params) int {
	tb.Helper()
	v, err := phm.ParseVoucher(b, p)
	if err != nil {
		tb.Fatal(err)
	}
	n := 0
	for i := range v.Elements {
		e := &v.Elements[i]
		qb := e[:phm.ElementSize]
		q := phm.Group.NewElement()
		if q.UnmarshalBinary(qb) != nil {
			continue
		}
		rb, err := phm.Group.NewElement().Mul(q, o.alpha).MarshalBinaryCompress()
		if err != nil {
			tb.Fatal(err)
		}
		for w := range phm.Ways {
			ct := e[phm.ElementSize+w*phm.WaySize : phm.ElementSize+(w+1)*phm.WaySize]
			if _, err := phm.Open(phm.WayKey(rb, qb, w, v.ID), ct, v.ID[:]); err == nil {
				n++
				break
			}
		}
	}
	return n
}
