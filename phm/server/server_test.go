package server

import (
	"bytes"
	"context"
	"crypto/rand"
	"image"
	"image/jpeg"
	"testing"

	"github.com/vigil-oss/vigil/pdq"
	"github.com/vigil-oss/vigil/phm"
	"github.com/vigil-oss/vigil/phm/client"
)

// TestRoundTrip is definition of done 1: listed keys open (SHA-256, PDQ,
// a rotated PDQ, a reliability probe), unlisted never, a synthetic voucher
// opens exactly one element, and a payload opened comes out intact.
func TestRoundTrip(t *testing.T) {
	pics := make([][]byte, 6)
	imgs := make([]image.Image, 6)
	for i := range pics {
		imgs[i] = picture(i+1, 96)
		pics[i] = pngBytes(t, imgs[i])
	}
	var rot pdq.Hash
	{
		d, _ := pdq.NewHasher(pdq.Full).HashDetail(imgs[2])
		rot = d.Dihedral[pdq.Rotate90]
	}
	var probe pdq.Hash
	{
		d, _ := pdq.NewHasher(pdq.Full).HashDetail(imgs[3])
		probe = client.Probes(&d, client.ProbeBits, client.MaxProbes)[0]
	}
	listed := []phm.Key{sha256Key(t, pics[0]), pdqKey(pdqOf(t, imgs[1])), pdqKey(rot), pdqKey(probe)}
	f, s := newFixture(t, phm.DefaultParams, 0, listed...)
	for i, data := range pics {
		v := f.voucher(t, s, prepare(t, data))
		want := 0
		if i < 4 {
			want = 1
		}
		if n := f.opens(t, v); n != want {
			t.Errorf("image %d: %d elements open, want %d", i, n, want)
		}
		p, ok, err := f.opener.Open(v)
		if err != nil || ok != (want == 1) {
			t.Fatalf("image %d: Open = %v, %v", i, ok, err)
		}
		if ok && (len(p.Header.DHF) != 1+f.p.S || len(p.Header.Inner) != phm.SealedInnerSize) {
			t.Errorf("image %d: header of %d DHF values, %d inner bytes", i, len(p.Header.DHF), len(p.Header.Inner))
		}
	}

	// Synthetic: exactly one element opens, whatever the image.
	sf, ss := newFixture(t, phm.DefaultParams, 1, listed...)
	for i, data := range pics {
		if n := sf.opens(t, sf.voucher(t, ss, prepare(t, data))); n != 1 {
			t.Errorf("synthetic voucher of image %d opens %d elements, want 1", i, n)
		}
	}
}

// TestUnlistedNeverOpens runs many vouchers of unlisted content against a
// table with many listed keys: no element may open.
func TestUnlistedNeverOpens(t *testing.T) {
	n := 30
	if testing.Short() {
		n = 10
	}
	var listed []phm.Key
	for i := range 200 {
		h, _ := pdq.NewHasher(pdq.Full).Hash(picture(1000+i, 64+i%3))
		listed = append(listed, pdqKey(h))
	}
	f, s := newFixture(t, phm.DefaultParams, 0, listed...)
	for i := range n {
		v := f.voucher(t, s, prepare(t, pngBytes(t, picture(i+1, 80))))
		if _, ok, err := f.opener.Open(v); ok || err != nil {
			t.Fatalf("unlisted image %d opened (err %v)", i, err)
		}
	}
	t.Logf("%d vouchers, %d element trials, none opened", n, n*phm.K)
}

// listedImages returns n distinct pictures and their SHA-256 keys.
func listedImages(t testing.TB, n, from int) ([][]byte, []phm.Key) {
	var data [][]byte
	var keys []phm.Key
	for i := range n {
		d := pngBytes(t, picture(from+i, 72))
		data = append(data, d)
		keys = append(keys, sha256Key(t, d))
	}
	return data, keys
}

// TestThreshold is definition of done 2 and privacy test (1): t real
// matches mixed with s synthetic vouchers recover nothing; the (t+1)th
// real one recovers K_acct and opens the inner payloads of the real
// matches only; synthetic ones and non-matching vouchers stay sealed.
func TestThreshold(t *testing.T) {
	p := phm.DefaultParams
	real, keys := listedImages(t, p.T+1, 100)
	f, s := newFixture(t, p, 1, keys...) // rate 1: the first S vouchers are synthetic
	acct := NewAccount(p)
	add := func(data []byte) ([]Sealed, bool) {
		v := f.voucher(t, s, prepare(t, data))
		pos, ok, err := f.opener.Open(v)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			acct.Add(pos)
		}
		got, err := acct.TryRecover()
		if err != nil {
			t.Fatal(err)
		}
		return got, ok
	}
	unlisted := pngBytes(t, picture(999, 72))
	for i := range p.S {
		// Synthetic vouchers of listed and unlisted content alike.
		data := unlisted
		if i%2 == 0 {
			data = pngBytes(t, picture(500+i, 72))
		}
		if got, ok := add(data); !ok || got != nil {
			t.Fatalf("synthetic %d: opened %v, revealed %d", i, ok, len(got))
		}
	}
	for i := range p.T {
		if got, ok := add(real[i]); !ok || got != nil {
			t.Fatalf("real %d: opened %v, revealed %d", i, ok, len(got))
		}
		if i%10 == 0 {
			if _, ok := add(pngBytes(t, picture(700+i, 72))); ok {
				t.Fatal("a non-matching voucher opened")
			}
		}
	}
	if acct.Positives() != p.S+p.T || acct.Recovered() {
		t.Fatalf("after t real + s synthetic: %d positives, recovered %v", acct.Positives(), acct.Recovered())
	}
	got, ok := add(real[p.T])
	if !ok || !acct.Recovered() {
		t.Fatalf("the (t+1)th real match did not recover the account (opened %v)", ok)
	}
	if len(got) != p.T+1 {
		t.Fatalf("revealed %d payloads, want the %d real ones", len(got), p.T+1)
	}
	want := map[[32]byte]bool{}
	for _, d := range real {
		want[prepareSHA(t, d)] = true
	}
	for _, sl := range got {
		pl, err := OpenPayload(s.Review, sl)
		if err != nil {
			t.Fatal(err)
		}
		if !want[pl.SHA256] || pl.Ref != "att-1" {
			t.Fatalf("revealed a payload that is not a real match: %x %q", pl.SHA256, pl.Ref)
		}
		delete(want, pl.SHA256)
		if _, err := jpeg.Decode(bytes.NewReader(pl.Derivative)); err != nil {
			t.Fatalf("derivative: %v", err)
		}
	}
	if again, _ := acct.TryRecover(); len(again) != 0 {
		t.Fatalf("payloads revealed twice: %d", len(again))
	}
	// After recovery a non-matching voucher still does not open.
	if _, ok := add(pngBytes(t, picture(900, 72))); ok {
		t.Fatal("a non-matching voucher opened after recovery")
	}
}

func prepareSHA(t *testing.T, data []byte) [32]byte {
	k := sha256Key(t, data)
	return [32]byte(k[len(k)-32:])
}

// TestRepeatContentNeverOpens is privacy test (2): sending a listed image
// again makes a voucher that opens nothing, so one image resent t+1 times
// cannot open an account.
func TestRepeatContentNeverOpens(t *testing.T) {
	data := pngBytes(t, picture(3, 96))
	f, s := newFixture(t, phm.DefaultParams, 0, sha256Key(t, data))
	c := prepare(t, data)
	if n := f.opens(t, f.voucher(t, s, c)); n != 1 {
		t.Fatalf("first send opens %d elements, want 1", n)
	}
	for i := range 3 {
		if n := f.opens(t, f.voucher(t, s, c)); n != 0 {
			t.Fatalf("repeat %d opens %d elements", i, n)
		}
	}
	// The same picture re-encoded (new bytes, same PDQ) repeats too.
	var buf bytes.Buffer
	_ = jpeg.Encode(&buf, picture(3, 96), &jpeg.Options{Quality: 95})
	if n := f.opens(t, f.voucher(t, s, prepare(t, buf.Bytes()))); n != 0 {
		t.Fatalf("re-encoded repeat opens %d elements", n)
	}
}

// TestOneOpenRule is privacy test (4): over an edit suite of benign images
// against a list of their PDQ hashes, no real voucher opens more than one
// element (two would tell it from a synthetic one).
func TestOneOpenRule(t *testing.T) {
	var listed []phm.Key
	var edits [][]byte
	for i := range 6 {
		img := picture(40+i, 128)
		listed = append(listed, pdqKey(pdqOf(t, img)))
		edits = append(edits, pngBytes(t, img))
		for _, q := range []int{90, 70, 50} {
			var buf bytes.Buffer
			_ = jpeg.Encode(&buf, img, &jpeg.Options{Quality: q})
			edits = append(edits, buf.Bytes())
		}
	}
	tbl := newFixtureTable(t, listed)
	multi, opened := 0, 0
	for _, e := range edits {
		f := tbl.freshAccount(t)
		n := f.opens(t, f.voucher(t, tbl.s, prepare(t, e)))
		if n > 1 {
			multi++
		}
		if n > 0 {
			opened++
		}
	}
	t.Logf("%d edits: %d opened, %d opened more than one element", len(edits), opened, multi)
	if multi != 0 {
		t.Fatalf("%d vouchers opened more than one element", multi)
	}
}

type sharedTable struct {
	f *fixture
	s *Service
}

func newFixtureTable(t *testing.T, keys []phm.Key) *sharedTable {
	f, s := newFixture(t, phm.DefaultParams, 0, keys...)
	return &sharedTable{f, s}
}

// freshAccount is the table's fixture with a new account, so that the
// repeat-content set does not hide an edit of an image sent before.
func (st *sharedTable) freshAccount(t *testing.T) *fixture {
	f := *st.f
	f.acct = newAccount(t, st.f.p)
	return &f
}

// TestSizesIdentical is privacy test (3): match, non-match, synthetic,
// repeat and low-quality vouchers all have one length.
func TestSizesIdentical(t *testing.T) {
	match := pngBytes(t, picture(5, 96))
	flat := pngBytes(t, image.NewGray(image.Rect(0, 0, 50, 50))) // quality 0: PDQ keys become random ones
	f, s := newFixture(t, phm.DefaultParams, 0, sha256Key(t, match))
	sizes := map[string]int{
		"match":       len(f.voucher(t, s, prepare(t, match))),
		"repeat":      len(f.voucher(t, s, prepare(t, match))),
		"non-match":   len(f.voucher(t, s, prepare(t, pngBytes(t, picture(6, 96))))),
		"low quality": len(f.voucher(t, s, prepare(t, flat))),
	}
	sf, ss := newFixture(t, phm.DefaultParams, 1)
	sizes["synthetic"] = len(sf.voucher(t, ss, prepare(t, match)))
	for k, n := range sizes {
		if n != phm.DefaultParams.VoucherSize() {
			t.Errorf("%s voucher is %d bytes, want %d", k, n, phm.DefaultParams.VoucherSize())
		}
	}
	t.Logf("voucher: %d bytes at K = %d, s = %d", phm.DefaultParams.VoucherSize(), phm.K, phm.DefaultParams.S)
	if phm.DefaultParams.VoucherSize() > 18<<10 {
		t.Errorf("voucher over the 18 KB budget")
	}
}

// TestServiceSecondCheck runs the service end to end with small
// parameters: past the threshold the revealed items are checked against
// the full banks at PDQ ≤ 31, and only the confirmed ones reach the
// detection flow, as one case. An item listed in the table by SHA-256 whose
// content is not in the banks (as a crafted collision would be) is revealed
// to the service but rejected by the second check.
func TestServiceSecondCheck(t *testing.T) {
	p := phm.Params{T: 3, S: 6}
	var data [][]byte
	var keys []phm.Key
	var known []pdq.Hash
	for i := range p.T + 2 {
		img := picture(60+i, 128)
		data = append(data, pngBytes(t, img))
		keys = append(keys, sha256Key(t, data[i]))
		if i != 1 { // item 1: in the table but not in the banks
			known = append(known, pdqOf(t, img))
		}
	}
	known = append(known, pdqOf(t, picture(300, 128))) // a bank entry never sent
	f, s := newFixture(t, p, 0, keys...)
	r := &responder{}
	s.Banks, s.Respond = &banks{list: known}, r
	ctx := context.Background()
	var last *Result
	for i, d := range data[:p.T+1] {
		res, err := s.Submit(ctx, "user-7", f.voucher(t, s, prepare(t, d)))
		if err != nil {
			t.Fatal(err)
		}
		if !res.Opened || res.Positives != i+1 {
			t.Fatalf("voucher %d: opened %v, positives %d", i, res.Opened, res.Positives)
		}
		if i < p.T && (res.Recovered || len(res.Revealed) != 0 || len(r.refs) != 0) {
			t.Fatalf("voucher %d below the threshold revealed something", i)
		}
		last = res
	}
	if !last.Recovered || len(last.Revealed) != p.T+1 || len(last.Confirmed) != p.T {
		t.Fatalf("at the threshold: recovered %v, revealed %d, confirmed %d", last.Recovered, len(last.Revealed), len(last.Confirmed))
	}
	if len(r.refs) != 1 || len(r.results[0]) != p.T || r.refs[0].UserID != "user-7" || len(r.media[0]) == 0 {
		t.Fatalf("detection flow got %d calls", len(r.refs))
	}
	for _, res := range r.results[0] {
		for _, m := range res.Matches {
			if m.Distance > pdq.MatchThreshold {
				t.Fatalf("a match at distance %d passed the second check", m.Distance)
			}
		}
	}
	// Past recovery, a further real match is revealed and checked at once.
	res, err := s.Submit(ctx, "user-7", f.voucher(t, s, prepare(t, data[p.T+1])))
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Revealed) != 1 || len(res.Confirmed) != 1 || len(r.refs) != 2 {
		t.Fatalf("after recovery: revealed %d, confirmed %d, flow calls %d", len(res.Revealed), len(res.Confirmed), len(r.refs))
	}
	// Another account's vouchers count for that account only.
	if res, err := s.Submit(ctx, "user-8", f.voucher(t, s, prepare(t, pngBytes(t, picture(61, 127))))); err != nil || res.Positives > 1 {
		t.Fatalf("user-8: %+v, %v", res, err)
	}
	if _, err := s.Submit(ctx, "user-7", []byte("not a voucher")); err == nil {
		t.Fatal("garbage accepted")
	}
}

// TestAccountBounded checks an account holds at most T+S+1 positives
// before recovery (a flooding device cannot grow the service's memory or
// push junk past the DHF's capacity) and none after.
func TestAccountBounded(t *testing.T) {
	p := phm.Params{T: 2, S: 3}
	a := NewAccount(p)
	for i := range 20 {
		h := &phm.Header{DHF: make([]uint64, 1+p.S), Inner: make([]byte, phm.SealedInnerSize)}
		for j := range h.DHF {
			h.DHF[j] = uint64(i*31 + j*7 + 1)
		}
		a.Add(&Positive{ID: [phm.IDSize]byte{byte(i)}, Header: h})
	}
	if a.Positives() != p.T+p.S+1 || len(a.positives) != p.T+p.S+1 {
		t.Fatalf("%d positives held, %d counted; want %d", len(a.positives), a.Positives(), p.T+p.S+1)
	}
	if got, err := a.TryRecover(); err != nil || got != nil || a.Recovered() {
		t.Fatalf("junk recovered: %d, %v", len(got), err)
	}
}

// TestWrongTableNeverOpens: a voucher made against one table version does
// not open with another version's α, even for a key both list.
func TestWrongTableNeverOpens(t *testing.T) {
	data := pngBytes(t, picture(7, 96))
	k := sha256Key(t, data)
	f, s := newFixture(t, phm.DefaultParams, 0, k)
	other, _ := newFixture(t, phm.DefaultParams, 0, k) // same list, new α and seeds
	v := f.voucher(t, s, prepare(t, data))
	if _, ok, err := other.opener.Open(v); ok || err != nil {
		t.Fatalf("opened with another table's α (err %v)", err)
	}
	if _, ok, _ := f.opener.Open(v); !ok {
		t.Fatal("did not open with its own table")
	}
}

// TestEpochsKeptApart: matches from two epochs of one account never add
// up: t real in the old epoch and one in the new recover nothing; the new
// epoch recovers on its own t+1 and reveals only its own items.
func TestEpochsKeptApart(t *testing.T) {
	p := phm.Params{T: 2, S: 3}
	data, keys := listedImages(t, 2*p.T+1, 200)
	f, s := newFixture(t, p, 0, keys...)
	s.Banks, s.Respond = &banks{}, &responder{}
	ctx := context.Background()
	submit := func(d []byte) *Result {
		res, err := s.Submit(ctx, "u", f.voucher(t, s, prepare(t, d)))
		if err != nil || !res.Opened {
			t.Fatalf("submit: %+v, %v", res, err)
		}
		return res
	}
	for _, d := range data[:p.T] {
		submit(d)
	}
	if err := f.acct.Rotate(rand.Reader); err != nil || f.acct.Epoch() != 1 {
		t.Fatalf("rotate: %v, epoch %d", err, f.acct.Epoch())
	}
	if res := submit(data[p.T]); res.Recovered || res.Epoch != 1 || res.Positives != 1 {
		t.Fatalf("old and new epochs added up: %+v", res)
	}
	var last *Result
	for _, d := range data[p.T+1:] {
		last = submit(d)
	}
	if !last.Recovered || len(last.Revealed) != p.T+1 {
		t.Fatalf("new epoch: recovered %v, revealed %d", last.Recovered, len(last.Revealed))
	}
}
