package client

import (
	"bytes"
	"crypto/rand"
	"go/ast"
	"go/parser"
	"go/token"
	"image"
	"image/color"
	"image/png"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-oss/vigil/hashing"
	"github.com/vigil-oss/vigil/pdq"
	"github.com/vigil-oss/vigil/phm"
	"github.com/vigil-oss/vigil/phm/phmtest"
)

func picture(tb testing.TB, seed int) []byte {
	tb.Helper()
	r := mrand.New(mrand.NewPCG(uint64(seed), 3))
	img := image.NewRGBA(image.Rect(0, 0, 120, 90))
	for y := range 90 {
		for x := range 120 {
			img.Set(x, y, color.RGBA{uint8(x * 2), uint8(y * 2), 100, 255})
		}
	}
	for range 10 {
		c := color.RGBA{uint8(r.IntN(256)), uint8(r.IntN(256)), uint8(r.IntN(256)), 255}
		x0, y0 := r.IntN(100), r.IntN(70)
		for y := y0; y < y0+5+r.IntN(20); y++ {
			for x := x0; x < x0+5+r.IntN(20); x++ {
				img.Set(x, y, c)
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func TestKeys(t *testing.T) {
	keys, err := Keys(picture(t, 1))
	if err != nil {
		t.Fatal(err)
	}
	if keys[0].Family() != phm.FamilySHA256 || keys[1].Family() != phm.FamilyMD5 {
		t.Fatalf("first keys are %s, %s", keys[0].Family(), keys[1].Family())
	}
	if len(keys) > phm.K || len(keys) < 2+8+1 {
		t.Fatalf("%d keys", len(keys))
	}
	for i, k := range keys {
		for _, o := range keys[:i] {
			if bytes.Equal(k, o) {
				t.Fatal("a key repeats")
			}
		}
		if i >= 2 && k.Family() != phm.FamilyPDQ {
			t.Fatalf("key %d is %s", i, k.Family())
		}
	}
	var flat bytes.Buffer
	_ = png.Encode(&flat, image.NewGray(image.Rect(0, 0, 40, 40)))
	if keys, _ := Keys(flat.Bytes()); len(keys) != 2 {
		t.Fatalf("a flat image has %d keys, want only its two digests", len(keys))
	}
	if _, err := Keys([]byte("not an image")); err == nil {
		t.Fatal("garbage gave keys")
	}
}

// TestProbes checks the probes are balanced swaps among the q least
// reliable bits, fewest swaps first.
func TestProbes(t *testing.T) {
	c, err := Prepare(picture(t, 2), hashing.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	img, _, release, _ := hashing.DecodeImage(t.Context(), picture(t, 2), hashing.Limits{})
	defer release()
	d, _ := pdq.NewHasher(pdq.Full).HashDetail(img)
	probes := Probes(&d, ProbeBits, 1000)
	// With a ones among the 8 weakest bits there are C(8, a) − 1 balanced swaps.
	orig := d.Dihedral[pdq.Original]
	weak := map[int]bool{}
	var all []int
	for k := range 256 {
		all = append(all, k)
	}
	for range ProbeBits { // the ProbeBits smallest margins
		best := -1
		for _, k := range all {
			if !weak[k] && (best < 0 || d.Margin(k) < d.Margin(best)) {
				best = k
			}
		}
		weak[best] = true
	}
	a := 0
	for k := range weak {
		if orig.Bit(k) {
			a++
		}
	}
	if want := binom(ProbeBits, a) - 1; len(probes) != want {
		t.Fatalf("%d probes, want %d (a = %d)", len(probes), want, a)
	}
	last := 0
	for _, p := range probes {
		dist := pdq.Distance(p, orig)
		if dist == 0 || dist%2 != 0 || p.PopCount() != orig.PopCount() {
			t.Fatalf("probe at distance %d, popcount %d vs %d", dist, p.PopCount(), orig.PopCount())
		}
		if dist < last {
			t.Fatal("probes not ordered by swaps")
		}
		last = dist
		for k := range 256 {
			if p.Bit(k) != orig.Bit(k) && !weak[k] {
				t.Fatalf("probe flips bit %d, not among the weakest", k)
			}
		}
	}
	if n := len(Probes(&d, ProbeBits, MaxProbes)); n > MaxProbes {
		t.Fatalf("%d probes past the cap", n)
	}
	if len(c.keys) > phm.K {
		t.Fatal("too many keys")
	}
}

func binom(n, k int) int {
	r := 1
	for i := range k {
		r = r * (n - i) / (i + 1)
	}
	return r
}

// TestAccountRoundTrip checks an account survives encoding: same shares,
// same DHF, same repeat set and synthetic count.
func TestAccountRoundTrip(t *testing.T) {
	a, err := NewAccount(rand.Reader, phm.Params{T: 3, S: 4}, 1)
	if err != nil {
		t.Fatal(err)
	}
	tbl := phmtest.NewTable(t)
	review := phmtest.ReviewKey(t).PublicKey()
	c, _ := Prepare(picture(t, 3), hashing.Limits{})
	for range 6 { // 4 synthetic, then real, then a repeat
		if _, err := a.NewVoucher(tbl, review, c, "", rand.Reader); err != nil {
			t.Fatal(err)
		}
	}
	if a.synthetic != 4 || len(a.order) != 2 {
		t.Fatalf("synthetic %d, seen %d", a.synthetic, len(a.order))
	}
	b, _ := a.MarshalBinary()
	back, err := ParseAccount(b)
	if err != nil {
		t.Fatal(err)
	}
	id := [phm.IDSize]byte{7}
	if back.share(id) != a.share(id) || back.point(id) != a.point(id) || back.dhf.Hash(5)[3] != a.dhf.Hash(5)[3] {
		t.Fatal("secrets differ after a round trip")
	}
	if back.synthetic != 4 || !back.repeats(c) || back.rate != 1 {
		t.Fatal("state lost in a round trip")
	}
	for _, bad := range [][]byte{nil, b[:len(b)-1], append(b[:len(b):len(b)], 0)} {
		if _, err := ParseAccount(bad); err == nil {
			t.Fatalf("a %d-byte account was accepted", len(bad))
		}
	}
}

// TestNoMatchSignal is privacy test (5): the client's exported API returns
// nothing that could say whether an image matched. No exported function or
// method returns a bool, and the exported types have no exported fields.
// (That every voucher has one length is TestSizesIdentical in phm/server.)
func TestNoMatchSignal(t *testing.T) {
	files, _ := filepath.Glob("*.go")
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		src, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		f, err := parser.ParseFile(fset, name, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.FuncDecl:
				if !n.Name.IsExported() || n.Type.Results == nil {
					return true
				}
				for _, r := range n.Type.Results.List {
					if id, ok := r.Type.(*ast.Ident); ok && id.Name == "bool" {
						t.Errorf("%s: exported %s returns a bool", fset.Position(n.Pos()), n.Name)
					}
				}
			case *ast.TypeSpec:
				if st, ok := n.Type.(*ast.StructType); ok && n.Name.IsExported() {
					for _, fl := range st.Fields.List {
						for _, nm := range fl.Names {
							if nm.IsExported() {
								t.Errorf("%s: exported field %s.%s", fset.Position(nm.Pos()), n.Name, nm.Name)
							}
						}
					}
				}
			}
			return true
		})
	}
}

// TestSyntheticCap checks no more than S synthetic vouchers are made in
// an epoch: past S, the DHF could no longer separate real from synthetic.
func TestSyntheticCap(t *testing.T) {
	p := phm.Params{T: 2, S: 3}
	a, _ := NewAccount(rand.Reader, p, 1)
	tbl := phmtest.NewTable(t)
	review := phmtest.ReviewKey(t).PublicKey()
	for i := range 6 {
		c, _ := Prepare(picture(t, 10+i), hashing.Limits{})
		v, err := a.NewVoucher(tbl, review, c, "", rand.Reader)
		if err != nil || len(v) != p.VoucherSize() {
			t.Fatalf("voucher %d: %d bytes, %v", i, len(v), err)
		}
	}
	if a.synthetic != p.S {
		t.Fatalf("%d synthetic vouchers, cap %d", a.synthetic, p.S)
	}
}

func FuzzParseAccount(f *testing.F) {
	a, _ := NewAccount(rand.Reader, phm.Params{T: 2, S: 3}, 0.1)
	good, _ := a.MarshalBinary()
	f.Add(good)
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := ParseAccount(b)
		if err != nil {
			return
		}
		out, _ := a.MarshalBinary()
		if !bytes.Equal(out, b) {
			t.Fatal("parse and marshal disagree")
		}
	})
}

// TestRotate checks a new epoch has new secrets, no synthetic count and an
// empty repeat set, and survives encoding.
func TestRotate(t *testing.T) {
	a, _ := NewAccount(rand.Reader, phm.Params{T: 2, S: 3}, 1)
	tbl := phmtest.NewTable(t)
	review := phmtest.ReviewKey(t).PublicKey()
	c, _ := Prepare(picture(t, 4), hashing.Limits{})
	for range 5 {
		_, _ = a.NewVoucher(tbl, review, c, "", rand.Reader)
	}
	id := [phm.IDSize]byte{1}
	share := a.share(id)
	if err := a.Rotate(rand.Reader); err != nil {
		t.Fatal(err)
	}
	if a.Epoch() != 1 || a.synthetic != 0 || len(a.order) != 0 || a.repeats(c) || a.share(id) == share {
		t.Fatalf("rotated account: epoch %d, synthetic %d, seen %d", a.Epoch(), a.synthetic, len(a.order))
	}
	b, _ := a.MarshalBinary()
	back, err := ParseAccount(b)
	if err != nil || back.Epoch() != 1 || back.share(id) != a.share(id) {
		t.Fatalf("rotated account did not survive encoding: %v", err)
	}
}
