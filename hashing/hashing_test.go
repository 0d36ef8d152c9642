package hashing

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"os"
	"strings"
	"testing"

	"golang.org/x/image/bmp"
	"golang.org/x/image/tiff"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/pdq"
)

func readFile(tb testing.TB, path string) []byte {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestHashReaderReference(t *testing.T) {
	// Expected values from the C++ reference (pdq/testdata/expected).
	for _, tc := range []struct {
		file, pdq string
		quality   int
		format    string
	}{
		{"testdata/synth-smooth-rgb-129x300.png", "da4b8b371a4aeb359ae1ef409a41049a5fb7f0aca503f49ea1bc70abb1bc700b", 100, "png"},
		{"testdata/q0122.jpg", "", 100, "jpeg"}, // JPEG: decoder-dependent, checked by distance below
	} {
		data := readFile(t, tc.file)
		h := NewHasher(Options{Dihedral: true})
		res, err := h.HashReader(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		if res.MD5 != md5.Sum(data) || res.SHA256 != sha256.Sum256(data) {
			t.Errorf("%s: digests differ from a separate read", tc.file)
		}
		if res.Format != tc.format || res.Quality != tc.quality {
			t.Errorf("%s: format %s quality %d", tc.file, res.Format, res.Quality)
		}
		if tc.pdq != "" && res.PDQ.String() != tc.pdq {
			t.Errorf("%s: pdq %s, want %s", tc.file, res.PDQ, tc.pdq)
		}
		if res.Dihedral == nil || res.Dihedral[pdq.Original] != res.PDQ {
			t.Errorf("%s: dihedral variants missing or inconsistent", tc.file)
		}
	}
}

// encodings of one generated picture in every supported format must all
// decode and hash close together (lossless ones identically).
func TestFormats(t *testing.T) {
	// 256 colours, so that GIF holds the picture losslessly too.
	var pal color.Palette
	for i := range 256 {
		pal = append(pal, color.RGBA{byte(i % 16 * 16), byte(i / 16 * 16), byte(255 - i), 255})
	}
	img := image.NewPaletted(image.Rect(0, 0, 120, 90), pal)
	for y := range 90 {
		for x := range 120 {
			img.SetColorIndex(x, y, byte(x*16/120+16*(y*16/90)))
		}
	}
	encode := map[string]func(*bytes.Buffer) error{
		"png":  func(b *bytes.Buffer) error { return png.Encode(b, img) },
		"bmp":  func(b *bytes.Buffer) error { return bmp.Encode(b, img) },
		"tiff": func(b *bytes.Buffer) error { return tiff.Encode(b, img, nil) },
		"gif":  func(b *bytes.Buffer) error { return gif.Encode(b, img, nil) },
	}
	want, _ := pdq.NewHasher(pdq.Full).Hash(img)
	h := NewHasher(Options{})
	for format, enc := range encode {
		var b bytes.Buffer
		if err := enc(&b); err != nil {
			t.Fatal(err)
		}
		res, err := h.HashReader(&b)
		if err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		d := pdq.Distance(res.PDQ, want)
		if res.Format != format || d != 0 {
			t.Errorf("%s: format %s, distance %d from the source image", format, res.Format, d)
		}
	}
}

// hugePNG returns a valid PNG header claiming w×h pixels, with a tiny
// IDAT: a decompression bomb must be refused from the header alone.
func hugePNG(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		binary.Write(&b, binary.BigEndian, uint32(len(data)))
		c := crc32.NewIEEE()
		c.Write([]byte(typ))
		c.Write(data)
		b.WriteString(typ)
		b.Write(data)
		binary.Write(&b, binary.BigEndian, c.Sum32())
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 2 // 8-bit RGB
	chunk("IHDR", ihdr)
	chunk("IDAT", []byte{0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01})
	chunk("IEND", nil)
	return b.Bytes()
}

func TestBadInput(t *testing.T) {
	good := readFile(t, "testdata/q0122.jpg")
	for _, tc := range []struct {
		name string
		data []byte
		code string
		msg  string
	}{
		{"empty", nil, vigil.EINVALID, "empty"},
		{"text", []byte("hello, this is not an image\n"), vigil.EUNSUPPORTED, "not an image"},
		{"truncated jpeg", good[:len(good)/2], vigil.EINVALID, "truncated"},
		{"jpeg header only", good[:20], vigil.EINVALID, "header"},
		{"50000x50000 png", hugePNG(50000, 50000), vigil.ETOOLARGE, "50000x50000"},
		{"zero-width png", hugePNG(0, 10), vigil.EINVALID, ""},
		{"oversized input", bytes.Repeat([]byte{0}, 2<<20), vigil.ETOOLARGE, "limit"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := NewHasher(Options{Limits: Limits{MaxBytes: 1 << 20}})
			_, err := h.HashReader(bytes.NewReader(tc.data))
			if err == nil {
				t.Fatal("accepted")
			}
			if vigil.ErrorCode(err) != tc.code || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("error %v (code %s), want code %s mentioning %q", err, vigil.ErrorCode(err), tc.code, tc.msg)
			}
		})
	}
}

func FuzzHashReader(f *testing.F) {
	// Small seeds: the fuzzer slows to a crawl on inputs of tens of KB.
	small := image.NewNRGBA(image.Rect(0, 0, 24, 16))
	for i := range small.Pix {
		small.Pix[i] = byte(i * 7)
	}
	var pb, jb bytes.Buffer
	png.Encode(&pb, small)
	f.Add(pb.Bytes())
	jpeg.Encode(&jb, small, nil)
	f.Add(jb.Bytes())
	f.Add(hugePNG(50000, 50000))
	var gb bytes.Buffer
	gif.Encode(&gb, image.NewPaletted(image.Rect(0, 0, 9, 9), color.Palette{color.Black, color.White}), nil)
	f.Add(gb.Bytes())
	var bb bytes.Buffer
	bmp.Encode(&bb, image.NewGray(image.Rect(0, 0, 7, 6)))
	f.Add(bb.Bytes())
	var tb bytes.Buffer
	tiff.Encode(&tb, image.NewGray(image.Rect(0, 0, 7, 6)), nil)
	f.Add(tb.Bytes())
	f.Add([]byte("RIFF\x00\x00\x00\x00WEBPVP8 "))
	h := NewHasher(Options{Limits: Limits{MaxBytes: 1 << 20, MaxPixels: 1 << 20}, Dihedral: true})
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := h.HashReader(bytes.NewReader(data))
		if err != nil {
			if vigil.ErrorCode(err) == vigil.EINTERNAL {
				t.Fatalf("bad input gave an internal error: %v", err)
			}
			return
		}
		if int64(res.Width)*int64(res.Height) > 1<<20 || res.Quality < 0 || res.Quality > 100 {
			t.Fatalf("result out of bounds: %+v", res)
		}
	})
}

func TestLimitsWithDefaults(t *testing.T) {
	for _, tc := range []struct{ in, want Limits }{
		{Limits{}, DefaultLimits},
		{Limits{MaxBytes: -1, MaxPixels: 5}, Limits{MaxBytes: DefaultLimits.MaxBytes, MaxPixels: 5}},
		{Limits{MaxBytes: 7}, Limits{MaxBytes: 7, MaxPixels: DefaultLimits.MaxPixels}},
	} {
		if got := tc.in.WithDefaults(); got != tc.want {
			t.Errorf("%+v.WithDefaults() = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}
