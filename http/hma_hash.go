package http

import (
	"context"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/hashing"
	"github.com/vigil-oss/vigil/internal/netguard"
)

// hmaHashed is content hashed for an HMA route.
type hmaHashed struct {
	hashes map[string]string // HMA signal type name → hash, HMA's /h/hash body
	sha256 string            // for the case's content reference
	media  []byte            // the content, for the media store should a rule open a case
	form   map[string]string // the multipart form's text fields (metadata, note)
}

// hmaMaxFormField caps one text field of an HMA multipart form.
const hmaMaxFormField = 64 << 10

// hmaHash hashes data as HMA content type ct ("photo", "video") for the
// signal types in types (HMA's ?types=: comma-separated, "" for all of
// ct's), or writes HMA's 400.
func (s *Server) hmaHash(w http.ResponseWriter, r *http.Request, data []byte, d hashing.Digests, ct string, types *string) (*hmaHashed, bool) {
	var all []string
	for _, st := range hmaSignalTypes {
		if st.content == ct && !(st.vigil == vigil.SignalVPDQ && s.NoVideo) {
			all = append(all, st.name)
		}
	}
	if all == nil {
		hmaError(w, http.StatusBadRequest, "no such content_type: '%s'", ct)
		return nil, false
	}
	want := all
	if types != nil {
		want = nil
		for _, name := range strings.Split(*types, ",") {
			name = strings.TrimSpace(name)
			if name == "" {
				continue
			}
			if !contains(all, name) {
				hmaError(w, http.StatusBadRequest, "signal type '%s' doesn't exist or is disabled", name)
				return nil, false
			}
			want = append(want, name)
		}
		if want == nil {
			hmaError(w, http.StatusBadRequest, "empty signal type selection")
			return nil, false
		}
	}
	md5Hex, _, sha := d.Hex()
	out := &hmaHashed{hashes: map[string]string{}, sha256: sha, media: data}
	for _, name := range want {
		switch name {
		case "video_md5":
			out.hashes[name] = md5Hex
		case "vpdq":
			// As VPDQSignal.hash_from_file: a frame a second, through
			// ffmpeg, as /v1/match hashes a video.
			frames, _, err := hashing.HashVideo(r.Context(), data, "", s.contentOptions().Video)
			if err != nil {
				if vigil.ErrorCode(err) == vigil.EINTERNAL || vigil.ErrorCode(err) == vigil.EUNAVAILABLE {
					s.hmaStoreError(w, r, err)
					return nil, false
				}
				hmaError(w, http.StatusBadRequest, "cannot hash video: %s", vigil.ErrorMessage(err))
				return nil, false
			}
			out.hashes[name] = hmaVPDQFrames(frames)
		case "pdq":
			h := s.hashers.Get().(*hashing.Hasher)
			res, err := h.HashImageBytes(data)
			s.hashers.Put(h)
			if err != nil {
				if vigil.ErrorCode(err) == vigil.EINTERNAL || vigil.ErrorCode(err) == vigil.EUNAVAILABLE {
					s.hmaStoreError(w, r, err)
					return nil, false
				}
				hmaError(w, http.StatusBadRequest, "cannot hash photo: %s", vigil.ErrorMessage(err))
				return nil, false
			}
			// python-threatexchange's PdqSignal.QUALITY_THRESHOLD: a
			// low-quality PDQ comes back as "".
			if res.Quality < 50 {
				out.hashes[name] = ""
			} else {
				out.hashes[name] = res.PDQ.String()
			}
		}
	}
	return out, true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// hmaHashForm hashes the one file of an HMA multipart upload, whose field
// name is its content type (photo or video), and keeps the form's text
// fields.
func (s *Server) hmaHashForm(w http.ResponseWriter, r *http.Request) (*hmaHashed, bool) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		hmaError(w, http.StatusBadRequest, "Missing multipart/form-data file upload")
		return nil, false
	}
	body := http.MaxBytesReader(w, r.Body, s.Hashing.Limits.WithDefaults().MaxBytes+1<<20)
	mr := multipart.NewReader(body, params["boundary"])
	var out *hmaHashed
	form := map[string]string{}
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			if isTooLarge(err) {
				hmaError(w, http.StatusRequestEntityTooLarge, "Content too large")
			} else {
				hmaError(w, http.StatusBadRequest, "malformed multipart body")
			}
			return nil, false
		}
		if p.FileName() == "" {
			v, err := io.ReadAll(io.LimitReader(p, hmaMaxFormField+1))
			if err != nil || len(v) > hmaMaxFormField {
				hmaError(w, http.StatusBadRequest, "form field %s is too long or unreadable", p.FormName())
				return nil, false
			}
			form[p.FormName()] = string(v)
			continue
		}
		if out != nil {
			hmaError(w, http.StatusBadRequest, "Only one file allowed per request")
			return nil, false
		}
		if err := checkContentEncoding(p.Header); err != nil {
			hmaError(w, http.StatusBadRequest, "%s", vigil.ErrorMessage(err))
			return nil, false
		}
		h := s.hashers.Get().(*hashing.Hasher)
		d, data, err := h.Read(p)
		data = append([]byte(nil), data...) // the hasher's buffer is reused
		s.hashers.Put(h)
		if err != nil {
			s.hmaStoreError(w, r, err)
			return nil, false
		}
		var types *string
		if q := r.URL.Query(); q.Has("types") {
			t := q.Get("types")
			types = &t
		}
		var ok bool
		if out, ok = s.hmaHash(w, r, data, d, p.FormName(), types); !ok {
			return nil, false
		}
	}
	if out == nil {
		hmaError(w, http.StatusBadRequest, "Missing multipart/form-data file upload")
		return nil, false
	}
	out.form = form
	return out, true
}

func isTooLarge(err error) bool {
	var e *http.MaxBytesError
	return errors.As(err, &e)
}

func (s *Server) handleHMAHashPost(w http.ResponseWriter, r *http.Request) {
	h, ok := s.hmaHashForm(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, h.hashes)
}

func (s *Server) handleHMAHashURL(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if !q.Has("url") {
		hmaValidation(w, "missing", "url", "Field required")
		return
	}
	h, ok := s.hmaHashURL(w, r, q.Get("url"), q.Get("content_type"), q.Get("types"))
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, h.hashes)
}

// hmaHashURL fetches raw (HMA's ?url=) and hashes it. The fetch is a
// server-side request made for a caller, so it may reach only public
// addresses, checked on every connection it makes (redirects and DNS
// answers included), unless the host is in HMAOptions.AllowedHosts; it is
// capped in size and time.
func (s *Server) hmaHashURL(w http.ResponseWriter, r *http.Request, raw, contentType, types string) (*hmaHashed, bool) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil {
		hmaError(w, http.StatusBadRequest, "Invalid or unsafe URL provided")
		return nil, false
	}
	if p := u.Port(); p != "" {
		if _, err := strconv.Atoi(p); err != nil {
			hmaError(w, http.StatusBadRequest, "Invalid or unsafe URL provided")
			return nil, false
		}
	}
	opts := s.HMA
	limit := opts.MaxRemoteBytes
	if limit <= 0 {
		limit = DefaultHMAMaxRemoteBytes
	}
	limit = min(limit, s.Hashing.Limits.WithDefaults().MaxBytes)
	timeout := opts.FetchTimeout
	if timeout <= 0 {
		timeout = DefaultHMAFetchTimeout
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		hmaError(w, http.StatusBadRequest, "Invalid or unsafe URL provided")
		return nil, false
	}
	resp, err := s.hmaClient().Do(req)
	if err != nil {
		hmaError(w, http.StatusBadRequest, "Failed to fetch URL: %s", fetchReason(err))
		return nil, false
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		hmaError(w, http.StatusBadRequest, "Failed to fetch URL: %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
		return nil, false
	}
	if resp.ContentLength > limit {
		hmaError(w, http.StatusRequestEntityTooLarge, "Content too large")
		return nil, false
	}
	ct := contentType
	if ct == "" {
		rct := strings.ToLower(resp.Header.Get("Content-Type"))
		switch {
		case strings.HasPrefix(rct, "image"):
			ct = "photo"
		case strings.HasPrefix(rct, "video"):
			ct = "video"
		default:
			hmaError(w, http.StatusBadRequest, "unsupported url ContentType: '%s', if you know the expected type, provide it with the content_type query param", resp.Header.Get("Content-Type"))
			return nil, false
		}
	}
	h := s.hashers.Get().(*hashing.Hasher)
	d, data, err := h.Read(io.LimitReader(resp.Body, limit+1))
	data = append([]byte(nil), data...)
	s.hashers.Put(h)
	if err != nil {
		if vigil.ErrorCode(err) == vigil.ETOOLARGE {
			hmaError(w, http.StatusRequestEntityTooLarge, "Content too large")
			return nil, false
		}
		hmaError(w, http.StatusBadRequest, "Failed to fetch URL: %s", fetchReason(err))
		return nil, false
	}
	if int64(len(data)) > limit {
		hmaError(w, http.StatusRequestEntityTooLarge, "Content too large")
		return nil, false
	}
	var tp *string
	if r.URL.Query().Has("types") {
		tp = &types
	}
	return s.hmaHash(w, r, data, d, ct, tp)
}

// fetchReason says why a fetch failed without quoting internal detail
// beyond what the caller sent.
func fetchReason(err error) string {
	switch {
	case strings.Contains(err.Error(), errRefusedAddress.Error()):
		return errRefusedAddress.Error()
	case strings.Contains(err.Error(), "timeout"), strings.Contains(err.Error(), "deadline"):
		return "timed out"
	case strings.Contains(err.Error(), "stopped after"):
		return "too many redirects"
	}
	return "connection failed"
}

var errRefusedAddress = netguard.ErrRefused

// hmaClient returns the client for ?url= fetches (see netguard.Client).
func (s *Server) hmaClient() *http.Client {
	s.hmaClientOnce.Do(func() { s.hmaHTTP = netguard.Client(s.HMA.AllowedHosts, DefaultHMAFetchTimeout) })
	return s.hmaHTTP
}
