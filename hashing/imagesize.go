package hashing

import (
	"encoding/binary"
	"image"
	"image/color"

	"github.com/vigil-oss/vigil"
)

// Compression bounds: the most pixel data a byte of each format can
// describe, so that a header claiming more than the file could hold is
// refused before any memory is allocated for it.
const (
	// deflateMaxRatio: a deflate stream expands at most 1032 times (a
	// 258-byte match in two bits).
	deflateMaxRatio = 1032
	// jpegBlocksPerByte: each 8×8 block of a scanned component costs at
	// least one bit (its DC code), and the one component a file may scan
	// can be subsampled up to 4×4: so at least one byte per 128 blocks of
	// the full-resolution grid.
	jpegBlocksPerByte = 8 * 16
)

// checkPlausible refuses an image whose header claims more pixels than its
// bytes could encode: an uncompressed BMP needs all of its rows; PNG's
// deflate and JPEG's entropy coding have a bounded expansion. GIF, TIFF
// (CCITT) and WebP (lossless) can compress a plain image past any useful
// bound and are only held to the decode budget.
func checkPlausible(format string, cfg image.Config, data []byte) error {
	w, h, n := int64(cfg.Width), int64(cfg.Height), int64(len(data))
	var need int64
	switch format {
	case "bmp":
		// Only uncompressed BMPs are decoded (the header check refuses
		// the others): the rows must all be there, each padded to 4 bytes.
		if len(data) < 30 {
			return nil
		}
		offset := int64(binary.LittleEndian.Uint32(data[10:14]))
		bpp := int64(binary.LittleEndian.Uint16(data[28:30]))
		need = offset + (w*bpp+31)/32*4*h
	case "png":
		if len(data) < 26 {
			return nil
		}
		bits := int64(data[24]) * int64(pngChannels(data[25]))
		need = (w*bits + 7) / 8 * h / deflateMaxRatio
	case "jpeg":
		need = (w + 7) / 8 * ((h + 7) / 8) / jpegBlocksPerByte
	default:
		return nil
	}
	if n < need {
		return vigil.Errorf(vigil.EINVALID, "%s header claims %dx%d pixels, which need at least %d bytes, but the file has %d", format, cfg.Width, cfg.Height, need, n)
	}
	return nil
}

// pngChannels returns the samples per pixel of a PNG colour type.
func pngChannels(colorType byte) int {
	switch colorType {
	case 2:
		return 3 // RGB
	case 4:
		return 2 // grey and alpha
	case 6:
		return 4 // RGBA
	default:
		return 1 // grey, palette
	}
}

// decodeCost estimates, from the header, the bytes decoding the image and
// holding it for hashing takes: the decoded image and the decoder's own
// whole-image buffers. It errs high.
func decodeCost(format string, cfg image.Config, data []byte) int64 {
	px := int64(cfg.Width) * int64(cfg.Height)
	bpp := bytesPerPixel(cfg.ColorModel)
	switch format {
	case "jpeg":
		if jpegProgressive(data) {
			// A progressive decoder keeps every block's coefficients,
			// 64 int32s per 64 pixels, for each component.
			bpp += 4 * int64(jpegComponents(cfg.ColorModel))
		}
	case "png":
		if len(data) > 28 && data[28] == 1 {
			bpp *= 2 // Adam7: each pass decoded apart, then merged
		}
	case "tiff":
		bpp *= 2 // a strip or tile decompressed whole, then converted
	case "webp":
		if cfg.ColorModel == color.NRGBAModel {
			bpp *= 3 // lossless: ARGB words and transforms beside the image
		}
	case "gif":
		bpp++ // the LZW output beside the frame
	}
	return px*bpp + 64<<10
}

// bytesPerPixel returns the bytes a decoded pixel of the colour model
// takes (the most for the model: 4:4:4 for YCbCr).
func bytesPerPixel(m color.Model) int64 {
	switch m {
	case color.GrayModel, color.AlphaModel:
		return 1
	case color.Gray16Model, color.Alpha16Model:
		return 2
	case color.YCbCrModel:
		return 3
	case color.RGBAModel, color.NRGBAModel, color.CMYKModel, color.NYCbCrAModel:
		return 4
	}
	if _, ok := m.(color.Palette); ok {
		return 1
	}
	return 8
}

func jpegComponents(m color.Model) int {
	switch m {
	case color.GrayModel:
		return 1
	case color.CMYKModel:
		return 4
	}
	return 3
}

// jpegProgressive reports whether a JPEG's frame header is progressive
// (SOF2), walking its marker segments up to the first scan.
func jpegProgressive(data []byte) bool {
	for i := 2; i+4 <= len(data); {
		if data[i] != 0xff {
			return false
		}
		marker := data[i+1]
		switch {
		case marker == 0xff: // fill byte
			i++
			continue
		case marker == 0xc2 || marker == 0xc6 || marker == 0xca || marker == 0xce:
			return true
		case marker >= 0xc0 && marker <= 0xcf && marker != 0xc4 && marker != 0xc8 && marker != 0xcc, marker == 0xda:
			return false // another frame type, or the first scan
		}
		i += 2 + int(binary.BigEndian.Uint16(data[i+2:i+4]))
	}
	return false
}
