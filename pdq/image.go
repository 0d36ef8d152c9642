package pdq

import (
	"image"
	"image/color"
)

// Luminance weights, as float32 constants, and their products with every
// 8-bit value. The reference computes 0.299f*R + 0.587f*G + 0.114f*B left to
// right in float32; looking the rounded products up gives the same bits.
const (
	lumaR float32 = 0.299
	lumaG float32 = 0.587
	lumaB float32 = 0.114
)

var lumaTable = func() (t [3][256]float32) {
	for v := range 256 {
		t[0][v] = lumaR * float32(v)
		t[1][v] = lumaG * float32(v)
		t[2][v] = lumaB * float32(v)
	}
	return t
}()

// Hash returns the PDQ hash and quality of img.
//
// Pixels are taken as the reference's ImageMagick-based loader hands them
// over: alpha is dropped (the stored colour under a transparent pixel is
// hashed, not a composite on any background), 16-bit samples keep their low
// byte (see scale16), and an image whose every pixel is grey (R = G = B, including all
// 1-channel images) uses the grey path, luminance = value, because
// ImageMagick writes such an image as a one-channel PGM. EXIF orientation is
// not the decoder's business and is ignored, as the reference ignores it.
func (h *Hasher) Hash(img image.Image) (Hash, int) {
	return h.HashSource(h.imageSource(img))
}

// HashDihedral returns the hashes of the eight dihedral variants of img,
// indexed by Dihedral, and its quality.
func (h *Hasher) HashDihedral(img image.Image) ([8]Hash, int) {
	return h.HashSourceDihedral(h.imageSource(img))
}

// imageSource wraps img as a RowSource of luminance, reusing the hasher's
// row buffers so that hashing allocates nothing in the steady state.
func (h *Hasher) imageSource(img image.Image) *imageRows {
	b := img.Bounds()
	h.rgb = growBytes(h.rgb, 3*b.Dx())
	h.src = imageRows{img: img, rect: b, grey: isGrey(img, h.rgb), rgb: h.rgb}
	if p, ok := img.(*image.Paletted); ok {
		h.src.palette = paletteRGB(p.Palette)
	}
	return &h.src
}

type imageRows struct {
	img     image.Image
	rect    image.Rectangle
	grey    bool
	rgb     []byte
	palette [][3]byte
}

func (s *imageRows) Rows() int { return s.rect.Dy() }
func (s *imageRows) Cols() int { return s.rect.Dx() }

func (s *imageRows) FillRow(y int, dst []float32) {
	y += s.rect.Min.Y
	x0 := s.rect.Min.X
	if s.grey {
		if g, ok := s.img.(*image.Gray); ok {
			row := g.Pix[g.PixOffset(x0, y):]
			for x := range dst {
				dst[x] = float32(row[x])
			}
			return
		}
		rgbRow(s.img, s.rect, y, s.rgb, s.palette)
		for x := range dst {
			dst[x] = float32(s.rgb[3*x])
		}
		return
	}
	// The common decoder outputs go straight to luminance; the rest
	// through an RGB row.
	switch m := s.img.(type) {
	case *image.NRGBA:
		lumaRGBA(m.Pix[m.PixOffset(x0, y):], dst)
		return
	case *image.RGBA:
		lumaRGBA(m.Pix[m.PixOffset(x0, y):], dst)
		return
	case *image.YCbCr:
		lumaYCbCr(m, x0, y, dst)
		return
	}
	rgb := s.rgb
	rgbRow(s.img, s.rect, y, rgb, s.palette)
	for x := range dst {
		p := rgb[3*x : 3*x+3 : 3*x+3]
		dst[x] = lumaTable[0][p[0]] + lumaTable[1][p[1]] + lumaTable[2][p[2]]
	}
}

func lumaRGBA(pix []byte, dst []float32) {
	pix = pix[:4*len(dst)]
	for x := range dst {
		p := pix[4*x : 4*x+3 : 4*x+3]
		dst[x] = lumaTable[0][p[0]] + lumaTable[1][p[1]] + lumaTable[2][p[2]]
	}
}

func lumaYCbCr(m *image.YCbCr, x0, y int, dst []float32) {
	yrow := m.Y[m.YOffset(x0, y):][:len(dst)]
	cbase := m.COffset(x0, y)
	shift := chromaShift(m.SubsampleRatio)
	first := x0 >> shift
	for x, yy := range yrow {
		ci := cbase + ((x0+x)>>shift - first)
		r, g, b := color.YCbCrToRGB(yy, m.Cb[ci], m.Cr[ci])
		dst[x] = lumaTable[0][r] + lumaTable[1][g] + lumaTable[2][b]
	}
}

// chromaShift is log2 of the horizontal chroma subsampling.
func chromaShift(r image.YCbCrSubsampleRatio) int {
	switch r {
	case image.YCbCrSubsampleRatio422, image.YCbCrSubsampleRatio420:
		return 1
	case image.YCbCrSubsampleRatio411, image.YCbCrSubsampleRatio410:
		return 2
	}
	return 0
}

// rgbRow writes row y of img as interleaved 8-bit RGB, alpha dropped.
func rgbRow(img image.Image, r image.Rectangle, y int, rgb []byte, palette [][3]byte) {
	x0, x1 := r.Min.X, r.Max.X
	switch m := img.(type) {
	case *image.YCbCr:
		ycbcrRow(m, x0, x1, y, rgb)
	case *image.NYCbCrA:
		ycbcrRow(&m.YCbCr, x0, x1, y, rgb)
	case *image.NRGBA:
		rgbaRow(m.Pix[m.PixOffset(x0, y):], rgb)
	case *image.RGBA:
		// Premultiplied storage has lost the colour under transparency;
		// what is stored is the best available.
		rgbaRow(m.Pix[m.PixOffset(x0, y):], rgb)
	case *image.Gray:
		row := m.Pix[m.PixOffset(x0, y):]
		for x := range x1 - x0 {
			v := row[x]
			rgb[3*x], rgb[3*x+1], rgb[3*x+2] = v, v, v
		}
	case *image.Gray16:
		row := m.Pix[m.PixOffset(x0, y):]
		for x := range x1 - x0 {
			v := scale16(row[2*x], row[2*x+1])
			rgb[3*x], rgb[3*x+1], rgb[3*x+2] = v, v, v
		}
	case *image.NRGBA64:
		rgba64Row(m.Pix[m.PixOffset(x0, y):], rgb)
	case *image.RGBA64:
		rgba64Row(m.Pix[m.PixOffset(x0, y):], rgb)
	case *image.Paletted:
		row := m.Pix[m.PixOffset(x0, y):]
		for x := range x1 - x0 {
			var c [3]byte
			if i := int(row[x]); i < len(palette) {
				c = palette[i]
			}
			rgb[3*x], rgb[3*x+1], rgb[3*x+2] = c[0], c[1], c[2]
		}
	case *image.CMYK:
		row := m.Pix[m.PixOffset(x0, y):]
		for x := range x1 - x0 {
			rgb[3*x], rgb[3*x+1], rgb[3*x+2] = color.CMYKToRGB(row[4*x], row[4*x+1], row[4*x+2], row[4*x+3])
		}
	default:
		for x := x0; x < x1; x++ {
			c := unpremultiplied(img.At(x, y))
			i := 3 * (x - x0)
			rgb[i], rgb[i+1], rgb[i+2] = c[0], c[1], c[2]
		}
	}
}

func ycbcrRow(m *image.YCbCr, x0, x1, y int, rgb []byte) {
	yrow := m.Y[m.YOffset(x0, y):]
	cbase := m.COffset(x0, y)
	shift := chromaShift(m.SubsampleRatio)
	first := x0 >> shift
	for x := range x1 - x0 {
		ci := cbase + ((x0+x)>>shift - first)
		r, g, b := color.YCbCrToRGB(yrow[x], m.Cb[ci], m.Cr[ci])
		rgb[3*x], rgb[3*x+1], rgb[3*x+2] = r, g, b
	}
}

func rgbaRow(pix, rgb []byte) {
	for x := range len(rgb) / 3 {
		rgb[3*x], rgb[3*x+1], rgb[3*x+2] = pix[4*x], pix[4*x+1], pix[4*x+2]
	}
}

func rgba64Row(pix, rgb []byte) {
	for x := range len(rgb) / 3 {
		p := pix[8*x : 8*x+6 : 8*x+6]
		rgb[3*x], rgb[3*x+1], rgb[3*x+2] = scale16(p[0], p[1]), scale16(p[2], p[3]), scale16(p[4], p[5])
	}
}

// scale16 reduces a big-endian 16-bit sample to 8 bits the way the C++
// reference's loader does: it reads pixels into a CImg<uint8_t>, so a 16-bit
// value is truncated modulo 256 and only the low byte survives (measured on
// pytx-resources/I16.png: low byte exact, rounding or the high byte 130 bits
// off). Python-threatexchange clamps instead, so 16-bit images do not
// interoperate between the two references whatever we choose; we follow the
// C++ one.
func scale16(_, lo byte) byte { return lo }

func paletteRGB(p color.Palette) [][3]byte {
	out := make([][3]byte, len(p))
	for i, c := range p {
		out[i] = unpremultiplied(c)
	}
	return out
}

// unpremultiplied returns the stored 8-bit colour of c with alpha dropped.
func unpremultiplied(c color.Color) [3]byte {
	switch v := c.(type) {
	case color.NRGBA:
		return [3]byte{v.R, v.G, v.B}
	case color.Gray:
		return [3]byte{v.Y, v.Y, v.Y}
	}
	n := color.NRGBAModel.Convert(c).(color.NRGBA)
	return [3]byte{n.R, n.G, n.B}
}

// IsGrey reports whether every pixel of img is grey (R = G = B after
// decoding). Such images take the reference's grey luminance path.
func IsGrey(img image.Image) bool {
	return isGrey(img, make([]byte, 3*img.Bounds().Dx()))
}

// isGrey is IsGrey with a caller's row buffer of 3·width bytes.
func isGrey(img image.Image, rgb []byte) bool {
	r := img.Bounds()
	switch m := img.(type) {
	case *image.Gray, *image.Gray16:
		return true
	case *image.YCbCr:
		return chromaNeutral(m, r)
	case *image.NYCbCrA:
		return chromaNeutral(&m.YCbCr, r)
	}
	var palette [][3]byte
	if p, ok := img.(*image.Paletted); ok {
		palette = paletteRGB(p.Palette)
	}
	for y := r.Min.Y; y < r.Max.Y; y++ {
		rgbRow(img, r, y, rgb, palette)
		for x := 0; x < len(rgb); x += 3 {
			if rgb[x] != rgb[x+1] || rgb[x] != rgb[x+2] {
				return false
			}
		}
	}
	return true
}

// chromaNeutral reports whether every chroma sample covering r is 128, in
// which case the YCbCr → RGB conversion gives R = G = B = Y.
func chromaNeutral(m *image.YCbCr, r image.Rectangle) bool {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			ci := m.COffset(x, y)
			if m.Cb[ci] != 128 || m.Cr[ci] != 128 {
				return false
			}
		}
	}
	return true
}

func growBytes(b []byte, n int) []byte {
	if cap(b) < n {
		return make([]byte, n)
	}
	return b[:n]
}
