package http

import (
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/classify"
	"github.com/vigil-oss/vigil/hashing"
	"github.com/vigil-oss/vigil/textmatch"
	"github.com/vigil-oss/vigil/vpdq"
)

// contentInfo describes uploaded content.
type contentInfo struct {
	Bytes  int    `json:"bytes"`
	Format string `json:"format,omitempty"`
	Width  int    `json:"width,omitempty"`
	Height int    `json:"height,omitempty"`
}

// hashResponse is the body of POST /v1/hash, and the first part of
// POST /v1/match's.
type hashResponse struct {
	Content contentInfo    `json:"content"`
	Signals []vigil.Signal `json:"signals"`
	// PDQError says why the content has no PDQ hash (not an image,
	// corrupt, too many pixels); its exact hashes are still given.
	PDQError string `json:"pdq_error,omitempty"`

	media []byte // the content itself, for the media store should a rule open a case
	// generativeAI is the content's own declaration of a generative
	// source (its C2PA manifest or XMP), for the case a rule opens.
	generativeAI *vigil.GenerativeAI

	// hasher read media into its buffer, and is held until release so
	// that no other request's read overwrites it.
	hasher *hashing.Hasher
	pool   *sync.Pool
	wait   func() // for a reader of media started during hashing (onRead)
	// frames are the scene frames of a video that hashing kept for the
	// classifiers (readContent's keep), as JPEGs of their own.
	frames []classify.VideoFrame
}

// release returns the hasher that holds the content's bytes to the pool:
// call it when the request is done with them (media kept, classifiers
// answered).
func (h *hashResponse) release() {
	if h != nil && h.wait != nil {
		h.wait()
		h.wait = nil
	}
	if h != nil && h.hasher != nil {
		h.pool.Put(h.hasher)
		h.hasher, h.media = nil, nil
	}
}

type matchResponse struct {
	hashResponse
	Matched bool                `json:"matched"`
	Results []vigil.MatchResult `json:"results"`
	// Classifiers says what each classifier asked about the content
	// answered (scores, or why none); absent when none was asked.
	Classifiers []classify.Outcome `json:"classifiers,omitempty"`
	// Actions says what the rules did; absent on a server without rules.
	Actions *vigil.Outcome `json:"actions,omitempty"`
}

// uploadBody returns the uploaded content of a request: the raw body, or
// the "file" part of a multipart form. The body is bounded by the content
// limit plus room for multipart framing; readers of the content enforce
// the content limit itself.
func (s *Server) uploadBody(w http.ResponseWriter, r *http.Request) (io.Reader, error) {
	body := http.MaxBytesReader(w, r.Body, s.Hashing.Limits.WithDefaults().MaxBytes+64<<10)
	if mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil && mt == "multipart/form-data" {
		return filePart(multipart.NewReader(body, params["boundary"]))
	}
	return body, nil
}

// readContent reads the uploaded content and computes its signals. The
// caller must release the response when done with its media. onRead, if
// set, is called with the content and its SHA-256 as soon as they are
// read, before hashing, to start work on them (classifiers) that then
// runs while the content is hashed; the function it returns waits for
// that work, and release calls it before the bytes are reused. keep, if
// set, keeps the scene frames of a video as it is hashed (frames).
func (s *Server) readContent(w http.ResponseWriter, r *http.Request, onRead func(data []byte, sha256 string) (wait func()), keep *vpdq.Keeper) (*hashResponse, error) {
	src, err := s.uploadBody(w, r)
	if err != nil {
		return nil, err
	}
	h := s.hashers.Get().(*hashing.Hasher)
	resp := &hashResponse{hasher: h, pool: &s.hashers}
	ok := false
	defer func() {
		if !ok {
			resp.release()
		}
	}()
	d, data, err := h.Read(src)
	if err != nil {
		return nil, err
	}
	_, _, sha := d.Hex()
	if rec, ok := w.(*recorder); ok {
		rec.content = sha
	}
	resp.Content, resp.media = contentInfo{Bytes: len(data)}, data
	if onRead != nil {
		resp.wait = onRead(data, sha)
	}
	if isText(r) {
		// Text content (a message, a post) is searched for listed URLs
		// and keywords; it has no PDQ hash.
		if len(data) > textmatch.MaxTextLen {
			return nil, vigil.Errorf(vigil.ETOOLARGE, "text is larger than the %d-byte limit", textmatch.MaxTextLen)
		}
		if !utf8.Valid(data) {
			return nil, badRequest("text is not valid UTF-8")
		}
		resp.Content.Format = "text"
		resp.Signals = append([]vigil.Signal{{Type: vigil.SignalText, Value: string(data)}}, d.Signals()...)
		ok = true
		return resp, nil
	}
	// An image, else perhaps a video. Without a Path, ffmpeg is given the
	// bytes through a pipe: the upload is never written to disk.
	opts := s.contentOptions()
	opts.Video.Keep = keep
	c, err := h.HashContent(r.Context(), d, data, opts)
	if err != nil {
		return nil, err
	}
	if keep != nil && strings.HasPrefix(c.Format, "video:") {
		resp.frames = classify.Frames(keep.Frames())
	}
	resp.Signals, resp.PDQError, resp.generativeAI = c.Signals, c.PDQError, c.Provenance.GenerativeAI()
	resp.Content.Format, resp.Content.Width, resp.Content.Height = c.Format, c.Width, c.Height
	ok = true
	return resp, nil
}

// contentOptions are how the server hashes content it holds whole: an
// upload, or media kept for review.
func (s *Server) contentOptions() hashing.ContentOptions {
	return hashing.ContentOptions{NoVideo: s.NoVideo, Video: vpdq.Options{Timeout: videoTimeout}}
}

// videoTimeout bounds the hashing of an uploaded video inside a request;
// longer videos belong in a background job (POST /v1/jobs) or with
// `vigil hash` on the client side.
const videoTimeout = 2 * time.Minute

// isText reports whether the upload is declared as text (text/plain), to
// be searched for URLs and keywords rather than hashed as an image.
func isText(r *http.Request) bool {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return err == nil && mt == "text/plain"
}

func filePart(mr *multipart.Reader) (io.Reader, error) {
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return nil, badRequest(`multipart body has no "file" part`)
		} else if err != nil {
			return nil, badRequest("malformed multipart body: %v", err)
		}
		if p.FormName() == "file" {
			if err := checkContentEncoding(p.Header); err != nil {
				return nil, err
			}
			return p, nil
		}
	}
}

func (s *Server) handleHash(w http.ResponseWriter, r *http.Request) {
	resp, err := s.readContent(w, r, nil, nil)
	if err != nil {
		writeError(w, r, err)
		return
	}
	defer resp.release()
	writeJSON(w, http.StatusOK, resp)
}

// matchOptions reads ?dihedral= and ?min_quality= from the query.
func matchOptions(r *http.Request) (vigil.MatchOptions, error) {
	var o vigil.MatchOptions
	q := r.URL.Query()
	if v := q.Get("dihedral"); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return o, badRequest("dihedral must be true or false, got %q", v)
		}
		o.Dihedral = b
	}
	if v := q.Get("min_quality"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < -1 || n > 100 {
			return o, badRequest("min_quality must be -1 (no filter) or 0 to 100, got %q", v)
		}
		o.MinQuality = n
	}
	return o, nil
}

func (s *Server) handleMatch(w http.ResponseWriter, r *http.Request) {
	opts, err := matchOptions(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	ref, err := platformIDs(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	// Classifiers run while the content is hashed and the indexes are
	// searched: the match path waits only for the slowest classifier,
	// whose guard bounds it. A video's frames are classified once hashing
	// has decoded them, while the indexes are searched.
	var classified []classify.Outcome
	classifies := s.classifies(r.Context())
	var keep *vpdq.Keeper
	if o, ok := s.Classifiers.KeepOptions("match"); ok && classifies && !s.NoVideo {
		keep = vpdq.NewKeeper(o)
	}
	hashed, err := s.readContent(w, r, func(data []byte, sha string) func() {
		if !classifies {
			return nil
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			classified = s.Classifiers.ClassifyData(r.Context(), data, isText(r), "match", sha)
		}()
		return func() { <-done }
	}, keep)
	if err != nil {
		writeError(w, r, err)
		return
	}
	defer hashed.release()
	var videoDone chan []classify.Outcome
	if len(hashed.frames) > 0 {
		videoDone = make(chan []classify.Outcome, 1)
		go func() {
			videoDone <- s.Classifiers.ClassifyFrames(r.Context(), hashed.frames, "match", contentSHA256(hashed.Signals))
		}()
	}
	results, err := s.Matcher.Lookup(r.Context(), hashed.Signals, opts)
	if hashed.wait != nil {
		hashed.wait()
		hashed.wait = nil
	}
	if videoDone != nil {
		classified = append(classified, <-videoDone...)
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.metrics.countMatches(results)
	s.keepSignals(r, hashed.Signals)
	resp := matchResponse{hashResponse: *hashed, Results: results, Classifiers: classified}
	for _, res := range results {
		resp.Matched = resp.Matched || len(res.Matches) > 0
	}
	ref.SHA256, ref.GenerativeAI = contentSHA256(hashed.Signals), hashed.generativeAI
	ref.MediaType = hashing.MediaType(hashed.Content.Format)
	resp.Actions = s.Flow().Content(r.Context(), ref, results, classify.Scores(classified), func() ([]byte, error) { return hashed.media, nil })
	writeJSON(w, http.StatusOK, resp)
}

type lookupRequest struct {
	Signals    []vigil.Signal `json:"signals"`
	Dihedral   bool           `json:"dihedral,omitempty"`
	MinQuality int            `json:"min_quality,omitempty"`
	// UserID and ContentID are the platform's ids of the uploader and the
	// content, passed on to the cases and events the rules make.
	UserID    string `json:"user_id,omitempty"`
	ContentID string `json:"content_id,omitempty"`
}

type lookupResponse struct {
	Results []vigil.MatchResult `json:"results"`
	Actions *vigil.Outcome      `json:"actions,omitempty"`
}

func (s *Server) handleLookup(w http.ResponseWriter, r *http.Request) {
	k := keyFrom(r.Context())
	// A key out of tokens, or of today's quota, is refused before its
	// body is read.
	if ref := s.quotas.admit(r.Context(), k, 0); ref != nil {
		writeRefusal(w, ref)
		return
	}
	var req lookupRequest
	if err := decodeLookup(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	if len(req.Signals) == 0 {
		writeError(w, r, badRequest("signals is empty"))
		return
	}
	if len(req.Signals) > vigil.MaxLookupSignals {
		writeError(w, r, vigil.Errorf(vigil.ETOOLARGE, "at most %d signals per lookup, got %d", vigil.MaxLookupSignals, len(req.Signals)))
		return
	}
	if req.MinQuality < -1 || req.MinQuality > 100 {
		writeError(w, r, badRequest("min_quality must be -1 (no filter) or 0 to 100, got %d", req.MinQuality))
		return
	}
	// Canonical from here on: the content reference of the cases the
	// rules open must hold the hash as stored, not as sent.
	if err := vigil.CanonicalSignals(req.Signals); err != nil {
		writeError(w, r, err)
		return
	}
	ref := vigil.ContentRef{UserID: req.UserID, ContentID: req.ContentID, SHA256: contentSHA256(req.Signals)}
	if err := checkPlatformIDs(ref); err != nil {
		writeError(w, r, err)
		return
	}
	if ref := s.quotas.admit(r.Context(), k, len(req.Signals)); ref != nil {
		writeRefusal(w, ref)
		return
	}
	results, err := s.Matcher.Lookup(r.Context(), req.Signals, vigil.MatchOptions{MinQuality: req.MinQuality, Dihedral: req.Dihedral})
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.metrics.countMatches(results)
	if k.Role == vigil.RoleLookup {
		// Another platform's lookup: its matches as each bank reveals
		// them, and no rules run, so that nothing of it lands in this
		// deployment's queues, cases or webhooks.
		writeLookupResponse(w, http.StatusOK, &lookupResponse{Results: shown(results)})
		return
	}
	writeLookupResponse(w, http.StatusOK, &lookupResponse{Results: results, Actions: s.Flow().Match(r.Context(), ref, results, nil)})
}
