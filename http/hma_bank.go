package http

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/vigil-oss/vigil"
)

// hmaBank is HMA's bank shape. Vigil has no matching ratio between 0 and 1
// yet: an enabled bank is 1, a disabled one 0.
type hmaBank struct {
	Name                 string  `json:"name"`
	MatchingEnabledRatio float64 `json:"matching_enabled_ratio"`

	VigilName    string `json:"vigil_name"`
	VigilEntries int64  `json:"vigil_active_entries"`
}

func newHMABank(b *vigil.Bank) hmaBank {
	name, _ := hmaName(b.Name)
	ratio := 0.0
	if b.Enabled {
		ratio = 1
	}
	return hmaBank{Name: name, MatchingEnabledRatio: ratio, VigilName: b.Name, VigilEntries: b.ActiveEntries}
}

// hmaFindBank returns the bank an HMA name names, or writes HMA's 404
// with notFound as its message.
func (s *Server) hmaFindBank(w http.ResponseWriter, r *http.Request, name, notFound string) (*vigil.Bank, bool) {
	if !hmaBankName.MatchString(name) {
		hmaError(w, http.StatusNotFound, "%s", notFound)
		return nil, false
	}
	b, err := s.Banks.FindBankByName(r.Context(), vigilBankName(name))
	if vigil.ErrorCode(err) == vigil.ENOTFOUND {
		hmaError(w, http.StatusNotFound, "%s", notFound)
		return nil, false
	} else if err != nil {
		s.hmaStoreError(w, r, err)
		return nil, false
	}
	return b, true
}

// hmaJSONBody decodes a JSON object body of at most maxJSONBody bytes, in
// the lenient way Flask's get_json does (unknown keys ignored), keeping
// the keys it holds.
func hmaJSONBody(w http.ResponseWriter, r *http.Request, v any) (map[string]json.RawMessage, bool) {
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxJSONBody))
	if err != nil {
		if isTooLarge(err) {
			hmaError(w, http.StatusRequestEntityTooLarge, "Content too large")
		} else {
			hmaError(w, http.StatusBadRequest, "The browser (or proxy) sent a request that this server could not understand.")
		}
		return nil, false
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(data, &keys); err != nil || keys == nil {
		hmaValidation(w, "model_attributes_type", "body", "Input should be a valid dictionary or object to extract fields from")
		return nil, false
	}
	if v != nil {
		if err := json.Unmarshal(data, v); err != nil {
			hmaValidation(w, "type_error", "body", "Input has a field of the wrong type")
			return nil, false
		}
	}
	return keys, true
}

// hmaFloat is a float as pydantic reads one in lax mode: a JSON number or
// a string holding one (ROOST Coop sends enabled_ratio as "1").
type hmaFloat float64

func (f *hmaFloat) UnmarshalJSON(b []byte) error {
	var v float64
	if err := json.Unmarshal(b, &v); err == nil {
		*f = hmaFloat(v)
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		return err
	}
	*f = hmaFloat(v)
	return nil
}

// hmaRatio checks an enabled_ratio: HMA takes any float; Vigil matches a
// bank or does not, so only 0 and 1 are taken, and the coin flip of the
// ratios between is refused rather than silently rounded.
func hmaRatio(w http.ResponseWriter, ratio float64) (enabled, ok bool) {
	switch {
	case ratio == 1:
		return true, true
	case ratio == 0:
		return false, true
	case math.IsNaN(ratio) || ratio < 0 || ratio > 1:
		hmaError(w, http.StatusBadRequest, "enabled_ratio must be between 0 and 1")
	default:
		hmaError(w, http.StatusBadRequest, "enabled_ratio between 0 and 1 (sampled matching) is not supported by Vigil: use 0 or 1")
	}
	return false, false
}

func (s *Server) handleHMAListBanks(w http.ResponseWriter, r *http.Request) {
	banks, err := s.Banks.ListBanks(r.Context())
	if err != nil {
		s.hmaStoreError(w, r, err)
		return
	}
	out := []hmaBank{}
	for _, b := range banks {
		if _, ok := hmaName(b.Name); ok {
			out = append(out, newHMABank(b))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleHMAGetBank(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	b, ok := s.hmaFindBank(w, r, name, "bank '"+name+"' not found")
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, newHMABank(b))
}

func (s *Server) handleHMACreateBank(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name         *string   `json:"name"`
		EnabledRatio *hmaFloat `json:"enabled_ratio"`
		Enabled      *bool     `json:"enabled"`
	}
	keys, ok := hmaJSONBody(w, r, &req)
	if !ok {
		return
	}
	if req.Name == nil {
		hmaValidation(w, "missing", "name", "Field required")
		return
	}
	// HMA's schema defaults enabled_ratio to 1.0, so "enabled" counts
	// only when enabled_ratio is sent as null.
	ratio := 1.0
	if req.EnabledRatio != nil {
		ratio = float64(*req.EnabledRatio)
	} else if _, sent := keys["enabled_ratio"]; sent && req.Enabled != nil && !*req.Enabled {
		ratio = 0
	}
	if !hmaBankName.MatchString(*req.Name) {
		hmaError(w, http.StatusBadRequest, "Bank names must be UPPER_WITH_UNDERSCORE")
		return
	}
	enabled, ok := hmaRatio(w, ratio)
	if !ok {
		return
	}
	b := &vigil.Bank{Name: vigilBankName(*req.Name), Enabled: enabled}
	if len(b.Name) > vigil.MaxBankNameLen {
		hmaError(w, http.StatusBadRequest, "bank name must be 1 to %d characters", vigil.MaxBankNameLen)
		return
	}
	err := s.change(r, auditRecord(r, vigil.AuditBankCreate, "bank:"+b.Name, b), func(ctx context.Context) error {
		return s.Banks.CreateBank(ctx, b)
	})
	if vigil.ErrorCode(err) == vigil.ECONFLICT {
		hmaError(w, http.StatusForbidden, "Bank already exists")
		return
	} else if err != nil {
		s.hmaStoreError(w, r, err)
		return
	}
	s.refresh(r)
	writeJSON(w, http.StatusCreated, newHMABank(b))
}

func (s *Server) handleHMAUpdateBank(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Name         *string   `json:"name"`
		EnabledRatio *hmaFloat `json:"enabled_ratio"`
		Enabled      *bool     `json:"enabled"`
	}
	b, ok := s.hmaFindBank(w, r, r.PathValue("name"), "Bank not found")
	if !ok {
		return
	}
	if _, ok := hmaJSONBody(w, r, &req); !ok {
		return
	}
	if req.Name != nil {
		if !hmaBankName.MatchString(*req.Name) {
			hmaError(w, http.StatusBadRequest, "Bank names must be UPPER_WITH_UNDERSCORE")
			return
		}
		if vigilBankName(*req.Name) != b.Name {
			// Vigil bank names are stable: matches, cases, feeds and
			// audit records name them.
			hmaError(w, http.StatusBadRequest, "renaming a bank is not supported by Vigil")
			return
		}
	}
	var upd vigil.BankUpdate
	if req.Enabled != nil {
		e := *req.Enabled
		upd.Enabled = &e
	}
	if req.EnabledRatio != nil {
		e, ok := hmaRatio(w, float64(*req.EnabledRatio))
		if !ok {
			return
		}
		upd.Enabled = &e
	}
	if upd.Enabled != nil {
		err := s.change(r, auditRecord(r, vigil.AuditBankUpdate, "bank:"+b.Name, upd), func(ctx context.Context) error {
			var err error
			b, err = s.Banks.UpdateBank(ctx, b.ID, upd)
			return err
		})
		if err != nil {
			s.hmaStoreError(w, r, err)
			return
		}
		s.refresh(r)
	}
	writeJSON(w, http.StatusOK, newHMABank(b))
}

// handleHMADeleteBank disables the bank: Vigil never deletes a bank, so
// that past matches and cases keep their provenance. Like HMA, an unknown
// bank is no error.
func (s *Server) handleHMADeleteBank(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	if hmaBankName.MatchString(name) {
		b, err := s.Banks.FindBankByName(r.Context(), vigilBankName(name))
		switch {
		case err == nil:
			err = s.change(r, auditRecord(r, vigil.AuditBankDisable, "bank:"+b.Name, nil), func(ctx context.Context) error {
				_, err := s.Banks.DisableBank(ctx, b.ID)
				return err
			})
			if err != nil {
				s.hmaStoreError(w, r, err)
				return
			}
			s.refresh(r)
		case vigil.ErrorCode(err) != vigil.ENOTFOUND:
			s.hmaStoreError(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"message": "Done"})
}

// hmaAddSignals stores the signals of one HMA content item (HMA type name
// → value) in bank b and answers HMA's {"id", "signals"}. The id is the
// first entry's; Vigil keeps one entry per signal.
func (s *Server) hmaAddSignals(w http.ResponseWriter, r *http.Request, b *vigil.Bank, signals map[string]string) {
	if len(signals) == 0 {
		hmaError(w, http.StatusBadRequest, "No signals given")
		return
	}
	var entries []*vigil.Entry
	out := map[string]string{}
	for _, st := range hmaSignalTypes {
		v, ok := signals[st.name]
		if !ok {
			continue
		}
		if st.vigil == vigil.SignalPDQ && !isLowerHex(v, 64) {
			hmaError(w, http.StatusBadRequest, "Invalid %s signal: invalid PDQ hash", st.name)
			return
		}
		c, err := vigil.CanonicalValue(st.vigil, v)
		if err != nil {
			hmaError(w, http.StatusBadRequest, "Invalid %s signal: '%s' is not a valid MD5 hash", st.name, v)
			return
		}
		out[st.name] = c
		entries = append(entries, &vigil.Entry{SignalType: st.vigil, Value: c, Source: "hma"})
	}
	for name := range signals {
		if _, ok := hmaSignalType(name); !ok {
			hmaError(w, http.StatusBadRequest, "No such signal type %s", name)
			return
		}
	}
	by := actor(r)
	err := s.change(r, auditRecord(r, vigil.AuditEntriesAdd, "bank:"+b.Name, nil), func(ctx context.Context) error {
		_, err := s.Entries.AddEntries(ctx, b.ID, by, entries)
		return err
	})
	if err != nil {
		s.hmaStoreError(w, r, err)
		return
	}
	s.refresh(r)
	writeJSON(w, http.StatusOK, map[string]any{"id": entries[0].ID, "signals": out})
}

// hmaNote reads HMA's optional note (at most 255 characters), checked as
// HMA does. Vigil has no field for it yet and does not keep it.
func hmaNote(w http.ResponseWriter, raw json.RawMessage, present bool) (string, bool) {
	if !present || string(raw) == "null" {
		return "", true
	}
	var note string
	if err := json.Unmarshal(raw, &note); err != nil {
		hmaError(w, http.StatusBadRequest, "note should be a string")
		return "", false
	}
	return hmaNoteText(w, note)
}

func hmaNoteText(w http.ResponseWriter, note string) (string, bool) {
	if len([]rune(note)) > 255 {
		hmaError(w, http.StatusBadRequest, "note must be at most 255 characters")
		return "", false
	}
	return note, true
}

func (s *Server) handleHMAAddSignal(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	b, ok := s.hmaFindBank(w, r, name, "bank '"+name+"' not found")
	if !ok {
		return
	}
	keys, ok := hmaJSONBody(w, r, nil)
	if !ok {
		return
	}
	if _, ok := hmaNote(w, keys["note"], keys["note"] != nil); !ok {
		return
	}
	signals := map[string]string{}
	for k, raw := range keys {
		if k == "note" || k == "metadata" {
			continue
		}
		var v string
		if err := json.Unmarshal(raw, &v); err != nil {
			hmaError(w, http.StatusBadRequest, "Invalid %s signal: not a string", k)
			return
		}
		signals[k] = v
	}
	s.hmaAddSignals(w, r, b, signals)
}

func (s *Server) handleHMAAddContent(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	b, ok := s.hmaFindBank(w, r, name, "bank '"+name+"' not found")
	if !ok {
		return
	}
	var h *hmaHashed
	q := r.URL.Query()
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case q.Get("url") != "":
		if mt == "application/json" {
			keys, ok := hmaJSONBody(w, r, nil)
			if !ok {
				return
			}
			if _, ok := hmaNote(w, keys["note"], keys["note"] != nil); !ok {
				return
			}
		}
		if h, ok = s.hmaHashURL(w, r, q.Get("url"), q.Get("content_type"), q.Get("types")); !ok {
			return
		}
	case mt == "multipart/form-data":
		if h, ok = s.hmaHashForm(w, r); !ok {
			return
		}
		if n, sent := h.form["note"]; sent {
			if _, ok := hmaNoteText(w, n); !ok {
				return
			}
		}
		if m, sent := h.form["metadata"]; sent {
			var v map[string]any
			if json.NewDecoder(bytes.NewReader([]byte(m))).Decode(&v) != nil {
				hmaError(w, http.StatusBadRequest, "metadata form field must be valid JSON")
				return
			}
		}
	default:
		hmaError(w, http.StatusBadRequest, "Neither `url` nor multipart file upload was received")
		return
	}
	s.hmaAddSignals(w, r, b, h.hashes)
}

func (s *Server) handleHMASignalTypes(w http.ResponseWriter, r *http.Request) {
	out := []map[string]any{}
	for _, st := range hmaSignalTypes {
		out = append(out, map[string]any{"name": st.name, "enabled_ratio": 1.0})
	}
	writeJSON(w, http.StatusOK, out)
}

func (s *Server) handleHMAContentTypes(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, []map[string]any{{"name": "photo", "enabled": true}, {"name": "video", "enabled": true}})
}

// hmaContent is HMA's bank content shape. disable_until_ts is 1 (HMA's
// ENABLED) for an entry that matches and 0 for a quarantined one.
type hmaContent struct {
	ID               int64             `json:"id"`
	DisableUntilTS   int64             `json:"disable_until_ts"`
	OriginalMediaURI *string           `json:"original_media_uri"`
	Bank             hmaBank           `json:"bank"`
	Signals          map[string]string `json:"signals,omitempty"`

	Source        string `json:"vigil_source,omitempty"`
	SourceEntryID string `json:"vigil_source_entry_id,omitempty"`
	AddedBy       string `json:"vigil_added_by,omitempty"`
}

// hmaFindContent returns bank NAME's active or quarantined entry ID, or
// writes HMA's 404s.
func (s *Server) hmaFindContent(w http.ResponseWriter, r *http.Request) (*vigil.Bank, *vigil.Entry, bool) {
	name := r.PathValue("name")
	b, ok := s.hmaFindBank(w, r, name, "bank '"+name+"' not found")
	if !ok {
		return nil, nil, false
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		hmaError(w, http.StatusNotFound, "content '%s' not found", r.PathValue("id"))
		return nil, nil, false
	}
	e, err := s.Entries.FindEntryByID(r.Context(), id)
	if vigil.ErrorCode(err) == vigil.ENOTFOUND || err == nil && (e.BankID != b.ID || e.Retracted()) {
		hmaError(w, http.StatusNotFound, "content '%d' not found", id)
		return nil, nil, false
	} else if err != nil {
		s.hmaStoreError(w, r, err)
		return nil, nil, false
	}
	return b, e, true
}

func newHMAContent(b *vigil.Bank, e *vigil.Entry, withSignals bool) hmaContent {
	c := hmaContent{ID: e.ID, DisableUntilTS: 1, Bank: newHMABank(b), Source: e.Source, SourceEntryID: e.SourceEntryID, AddedBy: e.AddedBy}
	if e.Quarantined() {
		c.DisableUntilTS = 0
	}
	if withSignals {
		for _, st := range hmaSignalTypes {
			if st.vigil == e.SignalType {
				c.Signals = map[string]string{st.name: e.Value}
			}
		}
	}
	return c
}

func (s *Server) handleHMAGetContent(w http.ResponseWriter, r *http.Request) {
	b, e, ok := s.hmaFindContent(w, r)
	if !ok {
		return
	}
	writeJSON(w, http.StatusOK, newHMAContent(b, e, strings.EqualFold(r.URL.Query().Get("include_signals"), "true")))
}

// handleHMAUpdateContent takes HMA's content update. Vigil has no
// time-limited disabling of an entry: only disable_until_ts 1 (enabled,
// what an active entry is) is taken; to stop an entry matching, delete
// (retract) it.
func (s *Server) handleHMAUpdateContent(w http.ResponseWriter, r *http.Request) {
	b, e, ok := s.hmaFindContent(w, r)
	if !ok {
		return
	}
	keys, ok := hmaJSONBody(w, r, nil)
	if !ok {
		return
	}
	if raw, sent := keys["disable_until_ts"]; sent {
		var ts hmaFloat
		if json.Unmarshal(raw, &ts) != nil || ts != hmaFloat(math.Trunc(float64(ts))) {
			hmaError(w, http.StatusBadRequest, "Invalid int: '%s'", strings.Trim(string(raw), `"`))
			return
		}
		if ts < 0 {
			hmaError(w, http.StatusBadRequest, "disable_until_ts must be a non-negative integer")
			return
		}
		if ts != 1 || e.Quarantined() {
			hmaError(w, http.StatusBadRequest, "disable_until_ts other than 1 (enabled) is not supported by Vigil: delete the content to stop it matching")
			return
		}
	}
	if _, ok := hmaNote(w, keys["note"], keys["note"] != nil); !ok {
		return
	}
	writeJSON(w, http.StatusOK, newHMAContent(b, e, false))
}

// handleHMADeleteContent retracts the entry: Vigil keeps retracted entries
// so that past matches keep their provenance, and they no longer match.
func (s *Server) handleHMADeleteContent(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	b, ok := s.hmaFindBank(w, r, name, "bank '"+name+"' not found")
	if !ok {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		hmaError(w, http.StatusNotFound, "content '%s' not found", r.PathValue("id"))
		return
	}
	e, err := s.Entries.FindEntryByID(r.Context(), id)
	if vigil.ErrorCode(err) == vigil.ENOTFOUND || err == nil && (e.BankID != b.ID || e.Retracted()) {
		writeJSON(w, http.StatusOK, map[string]int{"deleted": 0})
		return
	} else if err != nil {
		s.hmaStoreError(w, r, err)
		return
	}
	by, reason := actor(r), "deleted through the HMA-compatible API"
	err = s.change(r, auditRecord(r, vigil.AuditEntryRetract, "entry:"+strconv.FormatInt(id, 10), map[string]string{"reason": reason}), func(ctx context.Context) error {
		_, err := s.Entries.RetractEntry(ctx, id, by, reason)
		return err
	})
	if vigil.ErrorCode(err) == vigil.ECONFLICT {
		writeJSON(w, http.StatusOK, map[string]int{"deleted": 0})
		return
	} else if err != nil {
		s.hmaStoreError(w, r, err)
		return
	}
	s.refresh(r)
	writeJSON(w, http.StatusOK, map[string]int{"deleted": 1})
}

// handleHMASignalTypeIndex is HMA's index build status by signal type.
// Vigil's indexes follow the store's change log (within --refresh), so
// the index holds what the store does once loaded.
func (s *Server) handleHMASignalTypeIndex(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Has("signal_type") {
		if _, ok := hmaSignalType(q.Get("signal_type")); !ok {
			hmaError(w, http.StatusBadRequest, "No such signal type '%s'", q.Get("signal_type"))
			return
		}
	}
	st := s.Matcher.Status()
	out := map[string]map[string]any{}
	for _, t := range hmaSignalTypes {
		if q.Has("signal_type") && q.Get("signal_type") != t.name {
			continue
		}
		built, n := int64(0), st.Types[t.vigil].Entries
		if !st.UpdatedAt.IsZero() {
			built = st.UpdatedAt.Unix()
		}
		out[t.name] = map[string]any{"db_size": n, "index_size": n, "index_out_of_date": st.UpdatedAt.IsZero(),
			"newest_db_item": built, "index_built_to": built}
	}
	writeJSON(w, http.StatusOK, out)
}

// handleHMAUpdateSignalType takes HMA's signal type override. Vigil's
// signal types are always on: enabled_ratio 1 is taken (HMA answers 204),
// anything else refused.
func (s *Server) handleHMAUpdateSignalType(w http.ResponseWriter, r *http.Request) {
	keys, ok := hmaJSONBody(w, r, nil)
	if !ok {
		return
	}
	raw, sent := keys["enabled_ratio"]
	if !sent || string(raw) == "null" {
		hmaError(w, http.StatusBadRequest, "enabled_ratio is required")
		return
	}
	var ratio hmaFloat
	if json.Unmarshal(raw, &ratio) != nil {
		hmaError(w, http.StatusBadRequest, "Invalid float: '%s'", strings.Trim(string(raw), `"`))
		return
	}
	if ratio != 1 {
		hmaError(w, http.StatusBadRequest, "signal types cannot be disabled or sampled in Vigil: enabled_ratio must be 1")
		return
	}
	w.WriteHeader(http.StatusNoContent)
}
