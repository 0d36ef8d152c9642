package http

// The HMA-compatible routes: Meta's Hasher-Matcher-Actioner (HMA 1.1.x,
// OpenMediaMatch) answers /status, /h/…, /m/… and /c/… with shapes its
// clients (ROOST Coop, scripts) depend on. These handlers answer the same
// requests with the same shapes, statuses and error texts, over Vigil's own
// store, matcher and response flow, so that a bank made here is a /v1 bank
// and a match here runs the rules like /v1/match does. The shapes were
// learnt from HMA's Flask blueprints and python-threatexchange, not from
// their docstrings, which disagree with the code in places.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-oss/vigil"
)

// HMAOptions turn on the HMA-compatible routes (Server.HMA).
type HMAOptions struct {
	// AllowedHosts are the hosts (and their subdomains) that ?url= may
	// fetch from even when they resolve to private, loopback or
	// link-local addresses; every other host must resolve to public
	// addresses only.
	AllowedHosts []string
	// MaxRemoteBytes caps content fetched by ?url= (HMA's
	// MAX_REMOTE_FILE_SIZE); 0 means DefaultHMAMaxRemoteBytes.
	MaxRemoteBytes int64
	// FetchTimeout bounds one ?url= fetch; 0 means DefaultHMAFetchTimeout.
	FetchTimeout time.Duration
}

// Defaults for HMAOptions, HMA's own where it has one.
const (
	DefaultHMAMaxRemoteBytes = 100 << 20
	DefaultHMAFetchTimeout   = 30 * time.Second
)

// hmaBankName is the bank name pattern HMA's store enforces.
var hmaBankName = regexp.MustCompile(`^[A-Z_][A-Z0-9_]*$`)

// hmaName returns the HMA name of a Vigil bank, and whether it has one:
// HMA names are Vigil names in upper case, so the banks whose names hold
// only a-z, 0-9 and _ (and do not start with a digit) appear to HMA
// clients and the others do not.
func hmaName(vigilName string) (string, bool) {
	n := strings.ToUpper(vigilName)
	return n, hmaBankName.MatchString(n)
}

// vigilBankName is the Vigil name of an HMA bank name.
func vigilBankName(hma string) string { return strings.ToLower(hma) }

// hmaSignalTypeDef is one of HMA's signal types as Vigil serves it.
type hmaSignalTypeDef struct {
	name    string
	vigil   vigil.SignalType
	content string // HMA's content type
}

// serialise returns a stored value in HMA's form for the type.
func (st hmaSignalTypeDef) serialise(v string) string {
	if st.vigil == vigil.SignalVPDQ {
		return hmaVPDQJSON(v)
	}
	return v
}

// parse checks a value in HMA's form as the type's validate_signal_str
// does and returns Vigil's canonical value, or the validator's message.
func (st hmaSignalTypeDef) parse(v string) (string, string) {
	switch st.vigil {
	case vigil.SignalPDQ:
		// python-threatexchange's PDQ validator: lower-case hex only.
		if !isLowerHex(v, 64) {
			return "", "invalid PDQ hash"
		}
		return v, ""
	case vigil.SignalVPDQ:
		c, err := hmaVPDQValue(v)
		if err != nil {
			return "", err.Error()
		}
		return c, ""
	}
	c := strings.ToLower(strings.TrimSpace(v))
	if !isLowerHex(c, 32) {
		return "", "'" + v + "' is not a valid MD5 hash"
	}
	return c, ""
}

// hmaSignalTypes maps HMA's signal type names to Vigil's, in HMA's order.
var hmaSignalTypes = []hmaSignalTypeDef{
	{"pdq", vigil.SignalPDQ, "photo"},
	{"video_md5", vigil.SignalMD5, "video"},
	// python-threatexchange's vPDQ extension, which HMA installs by
	// configuration.
	{"vpdq", vigil.SignalVPDQ, "video"},
}

// hmaSignalTypeOf returns the HMA signal type of a Vigil one.
func hmaSignalTypeOf(t vigil.SignalType) (hmaSignalTypeDef, bool) {
	for _, st := range hmaSignalTypes {
		if st.vigil == t {
			return st, true
		}
	}
	return hmaSignalTypeDef{}, false
}

func hmaSignalType(name string) (vigil.SignalType, bool) {
	for _, st := range hmaSignalTypes {
		if st.name == name {
			return st.vigil, true
		}
	}
	return "", false
}

// hmaError is HMA's error body: {"message": …}.
func hmaError(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, map[string]string{"message": fmt.Sprintf(format, args...)})
}

// hmaStoreError answers a Vigil error in HMA's shape, with HMA's statuses
// for the codes it has and never internal detail.
func (s *Server) hmaStoreError(w http.ResponseWriter, r *http.Request, err error) {
	status := http.StatusInternalServerError
	msg := "Internal Server Error"
	switch vigil.ErrorCode(err) {
	case vigil.EINVALID, vigil.EUNSUPPORTED:
		status, msg = http.StatusBadRequest, vigil.ErrorMessage(err)
	case vigil.ENOTFOUND:
		status, msg = http.StatusNotFound, vigil.ErrorMessage(err)
	case vigil.ETOOLARGE:
		status, msg = http.StatusRequestEntityTooLarge, "Content too large"
	case vigil.EUNAVAILABLE:
		status, msg = http.StatusServiceUnavailable, vigil.ErrorMessage(err)
	default:
		if rec, ok := w.(*recorder); ok {
			rec.err = err
		}
		if r.Context().Err() != nil {
			status = statusClientClosedRequest
		}
	}
	hmaError(w, status, "%s", msg)
}

// hmaValidation answers a query that fails HMA's request schema the way
// flask-openapi3 does: 422 with a list of pydantic-style errors.
func hmaValidation(w http.ResponseWriter, typ, field, msg string) {
	writeJSON(w, http.StatusUnprocessableEntity, []map[string]any{{"type": typ, "loc": []string{field}, "msg": msg}})
}

// hmaBool parses a boolean query parameter as pydantic does.
func hmaBool(w http.ResponseWriter, r *http.Request, name string) (v, ok bool) {
	s := r.URL.Query().Get(name)
	switch strings.ToLower(s) {
	case "":
		return false, true
	case "1", "true", "t", "yes", "y", "on":
		return true, true
	case "0", "false", "f", "no", "n", "off":
		return false, true
	}
	hmaValidation(w, "bool_parsing", name, "Input should be a valid boolean, unable to interpret input")
	return false, false
}

// hmaRoute registers an HMA route for the given roles (admin always).
// Routes are not in s.patterns: they are HMA's API, not Vigil's, and are
// documented by HMA and README's "Moving from HMA".
func (s *Server) hmaRoute(pattern string, h http.HandlerFunc, roles ...vigil.Role) {
	s.hmaPatterns = append(s.hmaPatterns, pattern)
	label := "hma " + pattern
	if len(roles) == 0 {
		s.handle(pattern, s.instrument(label, h))
		return
	}
	s.handle(pattern, s.instrument(label, s.hmaAuthenticate(roles, h)))
}

func (s *Server) hmaRoutes() {
	const (
		curator = vigil.RoleCurator
		matcher = vigil.RoleMatcher
	)
	s.hmaRoute("GET /status", s.handleHMAStatus)
	s.hmaRoute("GET /status/live", s.handleHMALive)
	s.hmaRoute("GET /site-map", s.handleHMASiteMap, matcher, curator)

	s.hmaRoute("GET /h/hash", s.handleHMAHashURL, matcher, curator)
	s.hmaRoute("POST /h/hash", s.handleHMAHashPost, matcher, curator)

	s.hmaRoute("GET /m/raw_lookup", s.handleHMARawLookup, matcher, curator)
	s.hmaRoute("GET /m/lookup", s.handleHMALookupGet, matcher, curator)
	s.hmaRoute("POST /m/lookup", s.handleHMALookupPost, matcher, curator)
	s.hmaRoute("GET /m/index/status", s.handleHMAIndexStatus, matcher, curator)
	s.hmaRoute("POST /m/compare", s.handleHMACompare, matcher, curator)

	s.hmaRoute("GET /c/banks", s.handleHMAListBanks, curator)
	s.hmaRoute("POST /c/banks", s.handleHMACreateBank, curator)
	s.hmaRoute("GET /c/bank/{name}", s.handleHMAGetBank, curator)
	s.hmaRoute("PUT /c/bank/{name}", s.handleHMAUpdateBank, curator)
	s.hmaRoute("DELETE /c/bank/{name}", s.handleHMADeleteBank, curator)
	s.hmaRoute("POST /c/bank/{name}/signal", s.handleHMAAddSignal, curator)
	s.hmaRoute("POST /c/bank/{name}/content", s.handleHMAAddContent, curator)
	s.hmaRoute("GET /c/bank/{name}/content/{id}", s.handleHMAGetContent, curator)
	s.hmaRoute("PUT /c/bank/{name}/content/{id}", s.handleHMAUpdateContent, curator)
	s.hmaRoute("DELETE /c/bank/{name}/content/{id}", s.handleHMADeleteContent, curator)
	s.hmaRoute("GET /c/signal_type", s.handleHMASignalTypes, curator)
	s.hmaRoute("GET /c/signal_type/index", s.handleHMASignalTypeIndex, curator)
	s.hmaRoute("PUT /c/signal_type/{name}", s.handleHMAUpdateSignalType, curator)
	s.hmaRoute("GET /c/content_type", s.handleHMAContentTypes, curator)
	s.hmaExchangeRoutes()
}

// curatorRole is the role of HMA's curator routes.
const curatorRole = vigil.RoleCurator

// hmaAuthenticate is authenticate for HMA clients: the key comes as
// "Authorization: Bearer KEY" or as the password of HTTP Basic (clients
// that only know a base URL with credentials), and refusals are in HMA's
// error shape.
func (s *Server) hmaAuthenticate(roles []vigil.Role, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		secret, ok := bearerToken(r.Header.Get("Authorization"))
		if !ok {
			_, secret, ok = r.BasicAuth()
		}
		if !ok || secret == "" {
			w.Header().Set("WWW-Authenticate", `Bearer realm="vigil", Basic realm="vigil"`)
			hmaError(w, http.StatusUnauthorized, "missing API key: send Authorization: Bearer <key>, or the key as the Basic password")
			return
		}
		k, err := s.keyBySecret(r.Context(), secret)
		if err != nil {
			if vigil.ErrorCode(err) == vigil.EUNAUTHORIZED {
				w.Header().Set("WWW-Authenticate", `Bearer realm="vigil", Basic realm="vigil"`)
				hmaError(w, http.StatusUnauthorized, "%s", vigil.ErrorMessage(err))
				return
			}
			s.hmaStoreError(w, r, err)
			return
		}
		if rec, ok := w.(*recorder); ok {
			rec.key = k
		}
		if !roleAllowed(k.Role, roles) {
			hmaError(w, http.StatusForbidden, "role %s may not call %s %s", k.Role, r.Method, r.URL.Path)
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), keyContextKey{}, k)))
	}
}

// hmaIndexReady reports whether the indexes are loaded: HMA's /status and
// lookups answer 503 until then.
func (s *Server) hmaIndexReady() bool { return !s.Matcher.Status().UpdatedAt.IsZero() }

// hmaText answers a plain string the way Flask does for a view returning
// one.
func hmaText(w http.ResponseWriter, status int, text string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write([]byte(text))
}

func (s *Server) handleHMAStatus(w http.ResponseWriter, r *http.Request) {
	if !s.hmaIndexReady() {
		hmaText(w, http.StatusServiceUnavailable, "INDEX-NOT-LOADED")
		return
	}
	hmaText(w, http.StatusOK, "I-AM-ALIVE")
}

func (s *Server) handleHMALive(w http.ResponseWriter, r *http.Request) {
	hmaText(w, http.StatusOK, "I-AM-ALIVE")
}

// hmaPaths are the rules HMA's /site-map lists that Vigil serves, in
// Flask's rule syntax.
var hmaPaths = []string{
	"/c/bank/<bank_name>", "/c/bank/<bank_name>/content", "/c/bank/<bank_name>/content/<int:content_id>",
	"/c/bank/<bank_name>/signal",
	"/c/banks", "/c/content_type", "/c/exchange/<string:exchange_name>", "/c/exchange/<string:exchange_name>/status",
	"/c/exchanges", "/c/exchanges/api/<string:api_name>", "/c/exchanges/api/<string:api_name>/schema", "/c/exchanges/apis",
	"/c/signal_type", "/c/signal_type/<signal_type_name>", "/c/signal_type/index",
	"/h/hash", "/m/compare", "/m/index/status", "/m/lookup", "/m/raw_lookup",
	"/site-map", "/status", "/status/live",
}

func (s *Server) handleHMASiteMap(w http.ResponseWriter, r *http.Request) {
	p := slices.Clone(hmaPaths)
	sort.Strings(p)
	writeJSON(w, http.StatusOK, p)
}

// hmaMatch is one match in HMA's shape: the content id and the distance as
// a string ("-" for exact types). Vigil's provenance rides along in extra
// keys HMA clients ignore.
type hmaMatch struct {
	BankContentID int64  `json:"bank_content_id"`
	Distance      string `json:"distance"`

	Bank          string `json:"vigil_bank,omitempty"`
	Source        string `json:"vigil_source,omitempty"`
	SourceEntryID string `json:"vigil_source_entry_id,omitempty"`
	Category      string `json:"vigil_category,omitempty"`
}

func newHMAMatch(m vigil.Match) hmaMatch {
	d := "-"
	switch {
	case m.SignalType == vigil.SignalVPDQ && m.Video != nil:
		// VPDQSimilarityInfo.pretty_str: query and compared match
		// percentages.
		d = fmt.Sprintf("%.0f%%[%.0f%%]", m.Video.QueryPercent, m.Video.TargetPercent)
	case m.SignalType == vigil.SignalPDQ:
		d = strconv.Itoa(m.Distance)
	}
	return hmaMatch{BankContentID: m.EntryID, Distance: d, Bank: m.Bank, Source: m.Source, SourceEntryID: m.SourceEntryID, Category: m.Category}
}

// hmaSignal checks an HMA signal type name and value as HMA does (see
// hmaSignalTypeDef.parse) and returns the Vigil signal, or writes HMA's
// 400.
func hmaSignal(w http.ResponseWriter, typeName, value string) (vigil.Signal, bool) {
	var st hmaSignalTypeDef
	found := false
	for _, t := range hmaSignalTypes {
		if t.name == typeName {
			st, found = t, true
		}
	}
	if !found {
		hmaError(w, http.StatusBadRequest, "No such SignalType '%s'", typeName)
		return vigil.Signal{}, false
	}
	v, msg := st.parse(value)
	if msg != "" {
		hmaError(w, http.StatusBadRequest, "invalid signal: %s", msg)
		return vigil.Signal{}, false
	}
	return vigil.Signal{Type: st.vigil, Value: v}, true
}

func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// hmaBanks parses ?banks= (comma-separated HMA names); nil for all.
func hmaBanks(r *http.Request) map[string]bool {
	v := r.URL.Query().Get("banks")
	if v == "" {
		return nil
	}
	m := map[string]bool{}
	for _, b := range strings.Split(v, ",") {
		m[b] = true
	}
	return m
}

// hmaLookup matches signals through the Matcher, with none of the flow.
// includeDisabled also matches disabled banks, which HMA's raw lookup
// reports and a lookup whose coin flip is 0 takes part in.
func (s *Server) hmaLookup(w http.ResponseWriter, r *http.Request, sigs []vigil.Signal, includeDisabled bool) ([]vigil.MatchResult, bool) {
	if !s.hmaIndexReady() {
		hmaError(w, http.StatusServiceUnavailable, "index not yet ready")
		return nil, false
	}
	// HMA has no quality filter on lookups: the hasher already gave ""
	// for a PDQ below 50, so a hash sent here is matched as it is.
	results, err := s.Matcher.Lookup(r.Context(), sigs, vigil.MatchOptions{MinQuality: -1, IncludeDisabled: includeDisabled})
	if err != nil {
		s.hmaStoreError(w, r, err)
		return nil, false
	}
	s.metrics.countMatches(results)
	return results, true
}

// hmaView decides which matches of a lookup HMA reports, and under which
// content id: an entry of a content item is reported as the item.
type hmaView struct {
	items map[int64]*vigil.ContentItem // by entry id
	banks map[int64]*vigil.Bank        // by id; for /m/lookup only
	only  map[string]bool              // ?banks=, nil for all
	// sampled applies /m/lookup's rules: content enabled
	// (disable_until_ts), bank ratio at least the coin flip. Raw lookups
	// apply neither, as HMA's index query does not.
	sampled bool
	coin    float64
	now     time.Time
}

// hmaNewView reads what the view needs for results' matches from the
// store: nothing when there are none, the common case.
func (s *Server) hmaNewView(ctx context.Context, results []vigil.MatchResult, only map[string]bool, sampled bool, coin float64) (*hmaView, error) {
	v := &hmaView{only: only, sampled: sampled, coin: coin, now: time.Now()}
	var ids []int64
	for _, res := range results {
		for _, set := range [][]vigil.Match{res.Matches, res.Suppressed, res.SuppressedBy} {
			for _, m := range set {
				ids = append(ids, m.EntryID)
			}
		}
	}
	if len(ids) == 0 {
		return v, nil
	}
	var err error
	if v.items, err = s.Items.FindContentItemsByEntry(ctx, ids); err != nil {
		return nil, err
	}
	if sampled {
		banks, err := s.Banks.ListBanks(ctx)
		if err != nil {
			return nil, err
		}
		v.banks = make(map[int64]*vigil.Bank, len(banks))
		for _, b := range banks {
			v.banks[b.ID] = b
		}
	}
	return v, nil
}

// contentID is the HMA content id of a match.
func (v *hmaView) contentID(m vigil.Match) int64 {
	if it := v.items[m.EntryID]; it != nil {
		return it.ID
	}
	return m.EntryID
}

// takes reports whether m survives /m/lookup's sampling (always, for a
// raw lookup): its content enabled, its bank's ratio at least the flip.
func (v *hmaView) takes(m vigil.Match) bool {
	if !v.sampled {
		return true
	}
	if it := v.items[m.EntryID]; it != nil && !it.Enabled(v.now) {
		return false
	}
	b := v.banks[m.BankID]
	return b != nil && hmaBankRatio(b) >= v.coin
}

// matches returns the matches of res that HMA clients see: in banks with
// an HMA name, among ?banks= when given, sampled for /m/lookup;
// suppressed ones included: HMA has no negative banks, and a client told
// nothing would take a suppressed match for no match at all, so they are
// reported, and the response flow still treats them as suppressed.
func (v *hmaView) matches(res vigil.MatchResult) []vigil.Match {
	var out []vigil.Match
	for _, set := range [][]vigil.Match{res.Matches, res.Suppressed, res.SuppressedBy} {
		for _, m := range set {
			name, ok := hmaName(m.Bank)
			if !ok || v.only != nil && !v.only[name] || !v.takes(m) {
				continue
			}
			out = append(out, m)
		}
	}
	return out
}

// forFlow returns the results the response flow acts on: the matches
// sampling keeps, in enabled banks, whatever their names and ?banks=
// (the flow is Vigil's, not the client's view).
func (v *hmaView) forFlow(results []vigil.MatchResult) []vigil.MatchResult {
	keep := func(ms []vigil.Match) []vigil.Match {
		var out []vigil.Match
		for _, m := range ms {
			if !m.BankDisabled && v.takes(m) {
				out = append(out, m)
			}
		}
		return out
	}
	out := make([]vigil.MatchResult, len(results))
	for i, res := range results {
		res.Matches, res.Suppressed, res.SuppressedBy = keep(res.Matches), keep(res.Suppressed), keep(res.SuppressedBy)
		if res.Matches == nil {
			res.Matches = []vigil.Match{}
		}
		if len(res.SuppressedBy) == 0 && len(res.Suppressed) > 0 {
			// What suppressed them was sampled out.
			res.Matches, res.Suppressed = res.Suppressed, nil
		}
		out[i] = res
	}
	return out
}

// newMatch is m in HMA's shape.
func (v *hmaView) newMatch(m vigil.Match) hmaMatch {
	hm := newHMAMatch(m)
	hm.BankContentID = v.contentID(m)
	return hm
}

func (s *Server) handleHMARawLookup(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for _, f := range []string{"signal", "signal_type"} {
		if !q.Has(f) {
			hmaValidation(w, "missing", f, "Field required")
			return
		}
	}
	withDistance, ok := hmaBool(w, r, "include_distance")
	if !ok {
		return
	}
	sig, ok := hmaSignal(w, q.Get("signal_type"), q.Get("signal"))
	if !ok {
		return
	}
	// raw_lookup is HMA's index query alone: no enablement check (of
	// banks or content), no rules, no cases.
	results, ok := s.hmaLookup(w, r, []vigil.Signal{sig}, true)
	if !ok {
		return
	}
	v, err := s.hmaNewView(r.Context(), results, hmaBanks(r), false, 0)
	if err != nil {
		s.hmaStoreError(w, r, err)
		return
	}
	matches := []any{}
	for _, m := range v.matches(results[0]) {
		if withDistance {
			matches = append(matches, v.newMatch(m))
		} else {
			matches = append(matches, v.contentID(m))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"matches": matches})
}

// byBank groups the reported matches by HMA bank name, HMA's /m/lookup
// shape.
func (v *hmaView) byBank(res vigil.MatchResult) map[string][]hmaMatch {
	out := map[string][]hmaMatch{}
	for _, m := range v.matches(res) {
		name, _ := hmaName(m.Bank)
		out[name] = append(out[name], v.newMatch(m))
	}
	return out
}

// hmaFlow runs the rules over the results, as /v1/match does, so that a
// match through the compat routes opens cases. The outcome is not part of
// HMA's response; failures are the flow's to log and retry.
func (s *Server) hmaFlow(r *http.Request, sigs []vigil.Signal, results []vigil.MatchResult, media []byte) {
	ref := vigil.ContentRef{SHA256: contentSHA256(sigs), ContentID: r.URL.Query().Get("seed")}
	if checkPlatformIDs(ref) != nil {
		ref.ContentID = ""
	}
	var get func() ([]byte, error)
	if media != nil {
		get = func() ([]byte, error) { return media, nil }
	}
	s.Flow().Match(r.Context(), ref, results, get)
}

// hmaCoin is /m/lookup's coin flip for a request (see hmaCoinFlip): 0,
// which every bank passes, disabled ones included, when bypassed.
func hmaCoin(r *http.Request, bypass bool) float64 {
	if bypass {
		return 0
	}
	q := r.URL.Query()
	return hmaCoinFlip(q.Get("seed"), q.Has("seed"))
}

func (s *Server) handleHMALookupGet(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	// HMA's schema checks bypass_coinflip, but its GET handler never
	// passes it on: the coin is always flipped here.
	if _, ok := hmaBool(w, r, "bypass_coinflip"); !ok {
		return
	}
	coin := hmaCoin(r, false)
	banks := hmaBanks(r)
	if u := q.Get("url"); u != "" {
		h, ok := s.hmaHashURL(w, r, u, q.Get("content_type"), q.Get("types"))
		if !ok {
			return
		}
		resp, ok := s.hmaLookupHashes(w, r, h, banks, coin)
		if !ok {
			return
		}
		if st := q.Get("signal_type"); st != "" {
			// HMA then answers only that type's matches, unkeyed.
			one := resp[st]
			if one == nil {
				one = map[string][]hmaMatch{}
			}
			writeJSON(w, http.StatusOK, one)
			return
		}
		writeJSON(w, http.StatusOK, resp)
		return
	}
	if q.Get("signal") == "" || q.Get("signal_type") == "" {
		hmaError(w, http.StatusBadRequest, "Either url or both signal and signal_type are required")
		return
	}
	sig, ok := hmaSignal(w, q.Get("signal_type"), q.Get("signal"))
	if !ok {
		return
	}
	results, ok := s.hmaLookup(w, r, []vigil.Signal{sig}, coin == 0)
	if !ok {
		return
	}
	v, err := s.hmaNewView(r.Context(), results, banks, true, coin)
	if err != nil {
		s.hmaStoreError(w, r, err)
		return
	}
	s.hmaFlow(r, []vigil.Signal{sig}, v.forFlow(results), nil)
	writeJSON(w, http.StatusOK, v.byBank(results[0]))
}

// hmaLookupHashes looks up the hashes of hashed content, runs the flow
// once over all of them, and returns HMA's shape: by signal type, then by
// bank. A type whose hash is "" (a PDQ of low quality) is looked up as HMA
// does, and so fails HMA's validator with its 400.
func (s *Server) hmaLookupHashes(w http.ResponseWriter, r *http.Request, h *hmaHashed, banks map[string]bool, coin float64) (map[string]map[string][]hmaMatch, bool) {
	var names []string
	var sigs []vigil.Signal
	for _, st := range hmaSignalTypes {
		v, ok := h.hashes[st.name]
		if !ok {
			continue
		}
		sig, ok := hmaSignal(w, st.name, v)
		if !ok {
			return nil, false
		}
		names, sigs = append(names, st.name), append(sigs, sig)
	}
	resp := map[string]map[string][]hmaMatch{}
	if len(sigs) == 0 {
		return resp, true
	}
	results, ok := s.hmaLookup(w, r, sigs, coin == 0)
	if !ok {
		return nil, false
	}
	v, err := s.hmaNewView(r.Context(), results, banks, true, coin)
	if err != nil {
		s.hmaStoreError(w, r, err)
		return nil, false
	}
	ref := append(slices.Clone(sigs), vigil.Signal{Type: vigil.SignalSHA256, Value: h.sha256})
	s.hmaFlow(r, ref, v.forFlow(results), h.media)
	for i, name := range names {
		resp[name] = v.byBank(results[i])
	}
	return resp, true
}

func (s *Server) handleHMALookupPost(w http.ResponseWriter, r *http.Request) {
	// HMA's POST reads the flag raw: only "true" bypasses.
	coin := hmaCoin(r, r.URL.Query().Get("bypass_coinflip") == "true")
	h, ok := s.hmaHashForm(w, r)
	if !ok {
		return
	}
	resp, ok := s.hmaLookupHashes(w, r, h, hmaBanks(r), coin)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, resp)
}

type hmaIndexStatus struct {
	Present bool  `json:"present"`
	BuiltTo int64 `json:"built_to"`
	Size    int   `json:"size"`
}

func (s *Server) handleHMAIndexStatus(w http.ResponseWriter, r *http.Request) {
	st := s.Matcher.Status()
	only := r.URL.Query().Get("signal_type")
	if r.URL.Query().Has("signal_type") {
		if _, ok := hmaSignalType(only); !ok {
			hmaError(w, http.StatusBadRequest, "No such signal type '%s'", only)
			return
		}
	}
	out := map[string]hmaIndexStatus{}
	for _, t := range hmaSignalTypes {
		if r.URL.Query().Has("signal_type") && t.name != only {
			continue
		}
		is := hmaIndexStatus{BuiltTo: -1}
		if !st.UpdatedAt.IsZero() {
			is = hmaIndexStatus{Present: true, BuiltTo: st.UpdatedAt.Unix(), Size: st.Types[t.vigil].Entries}
		}
		out[t.name] = is
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleHMACompare(w http.ResponseWriter, r *http.Request) {
	var req map[string]any
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxJSONBody))
	if err := dec.Decode(&req); err != nil || req == nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			hmaError(w, http.StatusRequestEntityTooLarge, "Content too large")
			return
		}
		hmaError(w, http.StatusBadRequest, "Request input was not a dict")
		return
	}
	out := map[string]any{}
	for name, v := range req {
		pair, ok := v.([]any)
		if !ok {
			hmaError(w, http.StatusBadRequest, "Comparison hashes for %s was not a list", name)
			return
		}
		if len(pair) != 2 {
			hmaError(w, http.StatusBadRequest, "Comparison hash list length must be exactly 2")
			return
		}
		t, ok := hmaSignalType(name)
		if !ok {
			hmaError(w, http.StatusBadRequest, "No such SignalType '%s'", name)
			return
		}
		a, _ := pair[0].(string)
		b, _ := pair[1].(string)
		switch t {
		case vigil.SignalVPDQ:
			res, err := hmaVPDQCompare(a, b)
			if err != nil {
				hmaError(w, http.StatusBadRequest, "Invalid %s hash: %s", name, err)
				return
			}
			out[name] = res
		case vigil.SignalPDQ:
			if !isLowerHex(a, 64) || !isLowerHex(b, 64) {
				hmaError(w, http.StatusBadRequest, "Invalid %s hash: invalid PDQ hash", name)
				return
			}
			d := hexDistance(a, b)
			// python-threatexchange's PDQ_CONFIDENT_MATCH_THRESHOLD.
			out[name] = []any{d <= 31, map[string]int{"distance": d}}
		default:
			a, b = strings.ToLower(strings.TrimSpace(a)), strings.ToLower(strings.TrimSpace(b))
			if !isLowerHex(a, 32) || !isLowerHex(b, 32) {
				hmaError(w, http.StatusBadRequest, "Invalid %s hash: not a valid MD5 hash", name)
				return
			}
			out[name] = []any{a == b, map[string]any{}}
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// hexDistance is the Hamming distance of two lower-case hex strings of
// equal length.
func hexDistance(a, b string) int {
	d := 0
	for i := 0; i < len(a); i++ {
		x := hexNibble(a[i]) ^ hexNibble(b[i])
		d += int(x&1 + x>>1&1 + x>>2&1 + x>>3&1)
	}
	return d
}

func hexNibble(c byte) byte {
	if c <= '9' {
		return c - '0'
	}
	return c - 'a' + 10
}

// isHMAPath reports whether path is under one of HMA's route prefixes.
func isHMAPath(path string) bool {
	for _, p := range []string{"/c/", "/m/", "/h/", "/status", "/site-map"} {
		if strings.HasPrefix(path, p) {
			return true
		}
	}
	return false
}

// hmaMethodNotAllowed answers a wrong method on an HMA route as HMA does:
// the 405 is raised by Flask's router, before any blueprint, so none of
// HMA's JSON error handlers sees it and werkzeug's HTML page goes out.
func hmaMethodNotAllowed(w http.ResponseWriter) {
	hmaText(w, http.StatusMethodNotAllowed, "<!doctype html>\n<html lang=en>\n<title>405 Method Not Allowed</title>\n"+
		"<h1>Method Not Allowed</h1>\n<p>The method is not allowed for the requested URL.</p>\n")
}
