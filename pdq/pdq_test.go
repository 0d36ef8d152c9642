package pdq

import (
	"image"
	"image/color"
	"math/rand/v2"
	"testing"
)

func TestHashText(t *testing.T) {
	const s = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"
	h, err := ParseHash(s)
	if err != nil {
		t.Fatal(err)
	}
	if h.String() != s {
		t.Fatalf("round trip %s", h)
	}
	if u, err := ParseHash("F8F8F0CEE0F4A84F06370A22038F63F0B36E2ED596621E1D33E6B39C4E9C9B22"); err != nil || u != h {
		t.Fatalf("upper case: %v %v", u, err)
	}
	if h.PopCount() != 128 {
		t.Fatalf("popcount %d", h.PopCount())
	}
	for _, bad := range []string{"", "f8", s + "00", s[:63] + "g"} {
		if _, err := ParseHash(bad); err == nil {
			t.Errorf("ParseHash(%q) accepted", bad)
		}
	}
}

func TestBitOrder(t *testing.T) {
	// Bit 0 (DCT row 0, column 0) is the lowest bit of the last hex digit;
	// bit 255 the highest bit of the first.
	var h Hash
	h.setBit(0)
	if got := h.String(); got[62:] != "01" || !h.Bit(0) {
		t.Fatalf("bit 0: %s", got)
	}
	h = Hash{}
	h.setBit(255)
	if got := h.String(); got[:2] != "80" {
		t.Fatalf("bit 255: %s", got)
	}
	// Row i of the DCT is the 16-bit word w[i], printed last to first.
	h = Hash{}
	for j := range 16 {
		h.setBit(16*15 + j)
	}
	if got := h.String(); got[:4] != "ffff" || got[4:] != "000000000000000000000000000000000000000000000000000000000000" {
		t.Fatalf("row 15: %s", got)
	}
}

func TestDistance(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 100 {
		var a, b Hash
		for i := range a {
			a[i], b[i] = byte(r.Uint32()), byte(r.Uint32())
		}
		want := 0
		for k := range 256 {
			if a.Bit(k) != b.Bit(k) {
				want++
			}
		}
		if got := Distance(a, b); got != want {
			t.Fatalf("Distance = %d, want %d", got, want)
		}
	}
}

// naiveBox is the reference's box1DFloat written literally, with a stride,
// as the oracle for the streaming filter.
func naiveBox(in, out []float32, n, stride, w int) {
	half := (w + 2) / 2
	li, ri, oi := 0, 0, 0
	var sum, cnt float32
	for i := 0; i < half-1; i++ {
		sum += in[ri]
		cnt++
		ri += stride
	}
	for i := 0; i < w-half+1; i++ {
		sum += in[ri]
		cnt++
		out[oi] = sum / cnt
		ri += stride
		oi += stride
	}
	for i := 0; i < n-w; i++ {
		sum += in[ri]
		sum -= in[li]
		out[oi] = sum / cnt
		li += stride
		ri += stride
		oi += stride
	}
	for i := 0; i < half-1; i++ {
		sum -= in[li]
		cnt--
		out[oi] = sum / cnt
		li += stride
		oi += stride
	}
}

// naiveTransform is the reference's whole-buffer Jarosz filter and
// decimation: two passes of rows then columns over full-size buffers.
func naiveTransform(luma []float32, rows, cols int) (a [64 * 64]float32) {
	buf1 := append([]float32(nil), luma...)
	buf2 := make([]float32, len(luma))
	wr, wc := jaroszWindow(cols), jaroszWindow(rows)
	for range 2 {
		for i := range rows {
			naiveBox(buf1[i*cols:], buf2[i*cols:], cols, 1, wr)
		}
		for j := range cols {
			naiveBox(buf2[j:], buf1[j:], rows, cols, wc)
		}
	}
	for i := range 64 {
		ini := int(((float64(i) + 0.5) * float64(rows)) / 64)
		for j := range 64 {
			inj := int(((float64(j) + 0.5) * float64(cols)) / 64)
			a[i*64+j] = buf1[ini*cols+inj]
		}
	}
	return a
}

// TestStreamingFilterMatchesNaive checks the streaming, sampled filter
// against the literal whole-buffer one on many sizes, bit for bit.
func TestStreamingFilterMatchesNaive(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	sizes := [][2]int{{5, 5}, {5, 300}, {300, 5}, {63, 65}, {64, 64}, {127, 129}, {128, 128}, {129, 257}, {256, 384}, {385, 513}, {700, 33}}
	for range 10 {
		sizes = append(sizes, [2]int{5 + r.IntN(600), 5 + r.IntN(600)})
	}
	h := NewHasher(Full)
	for _, sz := range sizes {
		rows, cols := sz[0], sz[1]
		luma := make([]float32, rows*cols)
		for i := range luma {
			luma[i] = float32(r.IntN(256))
		}
		want := naiveTransform(luma, rows, cols)
		h.filterDecimate(lumaBuffer{luma, rows, cols}, rows, cols)
		if h.a != want {
			t.Errorf("%dx%d: streaming filter differs from the whole-buffer reference", cols, rows)
		}
	}
}

func TestTinyImage(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 4, 100))
	h, q := NewHasher(Full).Hash(img)
	if h != (Hash{}) || q != 0 {
		t.Fatalf("under-size image: %v q%d, want zero hash q0", h, q)
	}
}

func TestSubImage(t *testing.T) {
	// A sub-image must hash like the same pixels in an image of its own.
	r := rand.New(rand.NewPCG(5, 6))
	big := image.NewNRGBA(image.Rect(0, 0, 300, 200))
	for i := range big.Pix {
		big.Pix[i] = byte(r.Uint32())
	}
	rect := image.Rect(17, 23, 217, 163)
	sub := big.SubImage(rect)
	own := image.NewNRGBA(image.Rect(0, 0, rect.Dx(), rect.Dy()))
	for y := range rect.Dy() {
		for x := range rect.Dx() {
			own.Set(x, y, big.At(x+rect.Min.X, y+rect.Min.Y))
		}
	}
	h := NewHasher(Full)
	a, qa := h.Hash(sub)
	b, qb := h.Hash(own)
	if a != b || qa != qb {
		t.Fatalf("sub-image %v q%d, copy %v q%d", a, qa, b, qb)
	}
}

func TestGreyDetection(t *testing.T) {
	img := image.NewNRGBA(image.Rect(0, 0, 10, 10))
	for i := range 100 {
		img.Set(i%10, i/10, color.NRGBA{byte(i), byte(i), byte(i), 255})
	}
	if !IsGrey(img) {
		t.Fatal("all-grey RGB image not detected as grey")
	}
	img.Set(9, 9, color.NRGBA{1, 2, 3, 255})
	if IsGrey(img) {
		t.Fatal("colour pixel missed")
	}
}

func FuzzHashLuma(f *testing.F) {
	f.Add(uint16(5), uint16(5), []byte{1, 2, 3})
	f.Add(uint16(64), uint16(64), []byte{255, 0})
	f.Add(uint16(129), uint16(7), []byte{9})
	f.Fuzz(func(t *testing.T, rows, cols uint16, seed []byte) {
		r, c := int(rows%400), int(cols%400)
		luma := make([]float32, r*c)
		for i := range luma {
			if len(seed) > 0 {
				luma[i] = float32(seed[i%len(seed)]) * float32(i%7)
			}
		}
		h := NewHasher(Full)
		hash, q := h.HashLuma(luma, r, c)
		if q < 0 || q > 100 {
			t.Fatalf("quality %d", q)
		}
		if r < MinDimension || c < MinDimension {
			if hash != (Hash{}) {
				t.Fatal("under-size input hashed")
			}
			return
		}
		if r != 64 || c != 64 {
			dih, dq := h.HashLumaDihedral(luma, r, c)
			if dih[Original] != hash || dq != q {
				t.Fatal("dihedral original differs from plain hash")
			}
		}
	})
}

func TestHashRGB24MatchesImage(t *testing.T) {
	img := benchImage(200, 150)
	pix := make([]byte, 0, 3*200*150)
	for i := 0; i < len(img.Pix); i += 4 {
		pix = append(pix, img.Pix[i], img.Pix[i+1], img.Pix[i+2])
	}
	h := NewHasher(Full)
	a, qa := h.HashRGB24(pix, 200, 150)
	b, qb := h.Hash(img)
	if a != b || qa != qb {
		t.Fatalf("HashRGB24 %v q%d, Hash %v q%d", a, qa, b, qb)
	}
}
