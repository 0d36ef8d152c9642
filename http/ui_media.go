package http

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/hashing"
	"github.com/vigil-oss/vigil/vpdq"

	// Decoders for every format the hashing package accepts.
	_ "image/gif"
	_ "image/jpeg"

	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/tiff"
	_ "golang.org/x/image/webp"
)

// The blurred rendition: the original scaled down to fit previewSize on its
// longer side, in greyscale, box-blurred three times (close to a Gaussian)
// with a radius of a twentieth of that side. It keeps the layout of a
// picture, enough to tell a false positive such as a landscape, and none of
// its detail. The browser blurs it further; the original is sent only after
// a reveal.
const (
	previewSize   = 160
	previewPasses = 3
)

// blurredRendition decodes an image of at most lim's size and returns its
// blurred greyscale rendition as PNG.
func blurredRendition(data []byte, lim hashing.Limits) ([]byte, error) {
	lim = lim.WithDefaults()
	if int64(len(data)) > lim.MaxBytes {
		return nil, vigil.Errorf(vigil.ETOOLARGE, "media is larger than %d bytes", lim.MaxBytes)
	}
	// The preview is small and bounded: the budget's bounded wait, not
	// the request, limits how long it may wait for decode memory.
	img, _, release, err := hashing.DecodeImage(context.Background(), data, lim)
	if err != nil {
		return nil, err
	}
	defer release()
	return blurImage(img)
}

// blurImage returns img's blurred greyscale rendition as PNG.
func blurImage(img image.Image) ([]byte, error) {
	g := greyDownscale(img, previewSize)
	r := max(2, max(g.Rect.Dx(), g.Rect.Dy())/20)
	for range previewPasses {
		boxBlur(g, r)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, g); err != nil {
		return nil, fmt.Errorf("encode preview: %w", err)
	}
	return buf.Bytes(), nil
}

// greyDownscale returns img's luma, area-averaged down to fit size×size
// (never up). JPEG's Y plane is read directly; other images through their
// colour model.
func greyDownscale(img image.Image, size int) *image.Gray {
	b := img.Bounds()
	sw, sh := b.Dx(), b.Dy()
	dw, dh := sw, sh
	if sw > size || sh > size {
		if sw >= sh {
			dw, dh = size, max(1, sh*size/sw)
		} else {
			dw, dh = max(1, sw*size/sh), size
		}
	}
	sum := make([]uint32, dw*dh)
	n := make([]uint32, dw*dh)
	luma := lumaFunc(img)
	for y := 0; y < sh; y++ {
		row := (y * dh / sh) * dw
		for x := 0; x < sw; x++ {
			i := row + x*dw/sw
			sum[i] += uint32(luma(b.Min.X+x, b.Min.Y+y))
			n[i]++
		}
	}
	g := image.NewGray(image.Rect(0, 0, dw, dh))
	for i := range sum {
		if n[i] > 0 {
			g.Pix[i] = uint8(sum[i] / n[i])
		}
	}
	return g
}

// lumaFunc returns a reader of img's luma (ITU-R BT.601), with fast paths
// for the types decoders return most.
func lumaFunc(img image.Image) func(x, y int) uint8 {
	switch m := img.(type) {
	case *image.YCbCr:
		return func(x, y int) uint8 { return m.Y[m.YOffset(x, y)] }
	case *image.Gray:
		return func(x, y int) uint8 { return m.Pix[m.PixOffset(x, y)] }
	case *image.RGBA:
		return func(x, y int) uint8 {
			p := m.Pix[m.PixOffset(x, y):]
			return uint8((19595*uint32(p[0]) + 38470*uint32(p[1]) + 7471*uint32(p[2]) + 1<<15) >> 16)
		}
	case *image.NRGBA:
		return func(x, y int) uint8 {
			p := m.Pix[m.PixOffset(x, y):]
			return uint8((19595*uint32(p[0]) + 38470*uint32(p[1]) + 7471*uint32(p[2]) + 1<<15) >> 16)
		}
	}
	return func(x, y int) uint8 { return color.GrayModel.Convert(img.At(x, y)).(color.Gray).Y }
}

// boxBlur blurs g in place with a (2r+1)-wide box, rows then columns,
// clamping at the edges.
func boxBlur(g *image.Gray, r int) {
	w, h := g.Rect.Dx(), g.Rect.Dy()
	line := make([]uint8, max(w, h))
	blur1 := func(get func(i int) uint8, set func(i int, v uint8), n int) {
		for i := 0; i < n; i++ {
			line[i] = get(i)
		}
		var acc int
		for k := -r; k <= r; k++ {
			acc += int(line[min(max(k, 0), n-1)])
		}
		for i := 0; i < n; i++ {
			set(i, uint8(acc/(2*r+1)))
			acc += int(line[min(i+r+1, n-1)]) - int(line[max(i-r, 0)])
		}
	}
	for y := 0; y < h; y++ {
		row := g.Pix[y*g.Stride:]
		blur1(func(i int) uint8 { return row[i] }, func(i int, v uint8) { row[i] = v }, w)
	}
	for x := 0; x < w; x++ {
		blur1(func(i int) uint8 { return g.Pix[i*g.Stride+x] }, func(i int, v uint8) { g.Pix[i*g.Stride+x] = v }, h)
	}
}

// placeholder is the preview of media that has no picture to blur (a video
// without ffmpeg, or media that does not decode): a flat grey tile. Nothing of the
// content is in it.
func placeholder() []byte {
	g := image.NewGray(image.Rect(0, 0, previewSize, previewSize*9/16))
	for i := range g.Pix {
		g.Pix[i] = 0x80
	}
	var buf bytes.Buffer
	png.Encode(&buf, g)
	return buf.Bytes()
}

// handleUIPreview serves the blurred rendition, the only form in which
// media reaches the browser before a reveal. For a video, ?t=SECONDS
// asks for the frame shown then (a classifier score's frame) instead of
// the first.
func (s *Server) handleUIPreview(w http.ResponseWriter, r *http.Request) {
	c, err := s.caseFor(r)
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	at := 0.0
	if v := r.URL.Query().Get("t"); v != "" {
		if at, err = strconv.ParseFloat(v, 64); err != nil || at != at || at < 0 || at > vpdq.MaxPosterTime.Seconds() {
			s.uiError(w, r, vigil.Errorf(vigil.EINVALID, "t must be seconds from 0 to %.0f", vpdq.MaxPosterTime.Seconds()))
			return
		}
	}
	data, err := s.caseMedia(r.Context(), c)
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	var out []byte
	if strings.HasPrefix(c.Content.MediaType, "video/") {
		// The poster frame comes from ffmpeg at preview size, then gets
		// the same greyscale and blur as an image.
		if !s.NoVideo {
			var frame image.Image
			if frame, err = vpdq.PosterAt(r.Context(), data, at, previewSize, vpdq.Options{}); err == nil {
				out, err = blurImage(frame)
			}
		}
	} else {
		out, err = blurredRendition(data, s.Hashing.Limits)
	}
	if err != nil {
		s.Logger.Warn("no blurred preview", "case", c.ID, "err", err)
	}
	if out == nil {
		out = placeholder()
	}
	w.Header().Set("Content-Type", "image/png")
	w.Header().Set("Content-Security-Policy", mediaCSP)
	w.Write(out)
}

// handleUIReveal records that the reviewer chose to see the original (case
// history and audit log, before anything is sent, through the API's
// revealCaseMedia) and grants the session a short-lived URL for it.
func (s *Server) handleUIReveal(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "case")
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	if _, _, err := s.revealCaseMedia(r, id, "ui"); err != nil {
		s.uiError(w, r, err)
		return
	}
	token := sessionFrom(r.Context()).grantReveal(id, time.Now())
	caseURL := "/ui/cases/" + strconv.FormatInt(id, 10)
	if wantsJSON(r) {
		writeJSON(w, http.StatusOK, map[string]string{"url": caseURL + "/original/" + url.PathEscape(token)})
		return
	}
	http.Redirect(w, r, caseURL+"?reveal="+url.QueryEscape(token), http.StatusSeeOther)
}

// handleUIOriginal serves revealed media to the session that revealed it,
// while the grant lasts.
func (s *Server) handleUIOriginal(w http.ResponseWriter, r *http.Request) {
	c, err := s.caseFor(r)
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	if !sessionFrom(r.Context()).revealed(r.PathValue("token"), c.ID, time.Now()) {
		s.uiError(w, r, vigil.Errorf(vigil.EFORBIDDEN, "reveal the media again to see it"))
		return
	}
	data, err := s.caseMedia(r.Context(), c)
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	// Sniffed, not taken from the case, so that no stored type can make
	// this an HTML or SVG document; sniffing knows few video containers,
	// so video keeps its declared type.
	ct := http.DetectContentType(data)
	if strings.HasPrefix(c.Content.MediaType, "video/") && !strings.HasPrefix(ct, "video/") {
		ct = c.Content.MediaType
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Content-Disposition", "inline")
	w.Header().Set("Content-Security-Policy", mediaCSP)
	http.ServeContent(w, r, "", c.UpdatedAt, bytes.NewReader(data))
}
