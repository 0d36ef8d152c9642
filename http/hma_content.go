package http

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-oss/vigil"
)

// HMA's bank content: every add is a content item of its own
// (vigil.ContentItem), whatever hashes other items or the bank's other
// entries hold, with HMA's disable_until_ts, note and metadata. Entries
// that came in another way (imports, feeds, /v1) appear to HMA clients as
// content too, one per entry, under the entry's id; item ids are their
// first entry's, so the two never collide.

// hmaAddSignals stores the signals of one HMA content item (HMA type name
// → value) in bank b and answers HMA's {"id", "signals"}.
func (s *Server) hmaAddSignals(w http.ResponseWriter, r *http.Request, b *vigil.Bank, signals map[string]string, meta json.RawMessage, note string) {
	if len(signals) == 0 {
		hmaError(w, http.StatusBadRequest, "No signals given")
		return
	}
	for name := range signals {
		if _, ok := hmaSignalType(name); !ok {
			hmaError(w, http.StatusBadRequest, "No such signal type %s", name)
			return
		}
	}
	item := &vigil.ContentItem{DisableUntil: vigil.ContentEnabled, Note: note, Metadata: meta}
	out := map[string]string{}
	for _, st := range hmaSignalTypes {
		v, ok := signals[st.name]
		if !ok {
			continue
		}
		c, msg := st.parse(v)
		if msg != "" {
			hmaError(w, http.StatusBadRequest, "Invalid %s signal: %s", st.name, msg)
			return
		}
		out[st.name] = st.serialise(c)
		item.Entries = append(item.Entries, &vigil.Entry{SignalType: st.vigil, Value: c, Source: "hma"})
	}
	by := actor(r)
	err := s.change(r, auditRecord(r, vigil.AuditEntriesAdd, "bank:"+b.Name, nil), func(ctx context.Context) error {
		return s.Items.AddContentItem(ctx, b.ID, by, item)
	})
	if err != nil {
		s.hmaStoreError(w, r, err)
		return
	}
	s.refresh(r)
	writeJSON(w, http.StatusOK, map[string]any{"id": item.ID, "signals": out})
}

// hmaNote reads HMA's optional note as _validate_note does: a falsy value
// (absent, null, "", 0, false, empty list or object) is no note; anything
// else must be a string of at most 255 characters.
func hmaNote(w http.ResponseWriter, raw json.RawMessage) (string, bool) {
	switch strings.TrimSpace(string(raw)) {
	case "", "null", `""`, "0", "false", "[]", "{}", "0.0":
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
	if len([]rune(note)) > vigil.MaxContentNoteLen {
		hmaError(w, http.StatusBadRequest, "note must be at most 255 characters")
		return "", false
	}
	if !vigil.Printable(note) {
		hmaError(w, http.StatusBadRequest, "note must be UTF-8 without control characters")
		return "", false
	}
	return note, true
}

// hmaMetadata reads HMA's content metadata as _validate_bank_add_metadata
// and its BankedContentMetadata schema do: an object whose collab key is
// dropped, holding only content_id and content_uri (strings) and json (an
// object; json_data is its field name, also taken), each optional. It
// returns what HMA stores: the keys given, not null, under their aliases
// in schema order; nil for none.
func hmaMetadata(w http.ResponseWriter, raw json.RawMessage) (json.RawMessage, bool) {
	if t := strings.TrimSpace(string(raw)); t == "" || t == "null" {
		return nil, true
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil || obj == nil {
		hmaError(w, http.StatusBadRequest, "metadata should be a json object")
		return nil, false
	}
	delete(obj, "collab")
	if v, ok := obj["json_data"]; ok {
		if _, both := obj["json"]; !both {
			obj["json"] = v
		}
		delete(obj, "json_data")
	}
	var out struct {
		ContentID  *string         `json:"content_id,omitempty"`
		ContentURI *string         `json:"content_uri,omitempty"`
		JSON       json.RawMessage `json:"json,omitempty"`
	}
	for k, v := range obj {
		null := strings.TrimSpace(string(v)) == "null"
		switch k {
		case "content_id", "content_uri":
			var str string
			if !null && json.Unmarshal(v, &str) != nil {
				hmaError(w, http.StatusBadRequest, "Invalid metadata: %s: Input should be a valid string", k)
				return nil, false
			}
			if !null && k == "content_id" {
				out.ContentID = &str
			} else if !null {
				out.ContentURI = &str
			}
		case "json":
			var o map[string]json.RawMessage
			if !null && (json.Unmarshal(v, &o) != nil || o == nil) {
				hmaError(w, http.StatusBadRequest, "Invalid metadata: json: Input should be a valid dictionary")
				return nil, false
			}
			if !null {
				var buf bytes.Buffer
				json.Compact(&buf, v)
				out.JSON = buf.Bytes()
			}
		default:
			hmaError(w, http.StatusBadRequest, "Invalid metadata: %s: Extra inputs are not permitted", k)
			return nil, false
		}
	}
	if out.ContentID == nil && out.ContentURI == nil && out.JSON == nil {
		return nil, true
	}
	b, _ := json.Marshal(out)
	if len(b) > vigil.MaxContentMetadataLen {
		hmaError(w, http.StatusBadRequest, "Invalid metadata: longer than %d bytes", vigil.MaxContentMetadataLen)
		return nil, false
	}
	return b, true
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
	note, ok := hmaNote(w, keys["note"])
	if !ok {
		return
	}
	delete(keys, "note")
	// HMA reads every other key as a signal type, metadata included: this
	// route takes no metadata.
	signals := map[string]string{}
	for k, raw := range keys {
		var v string
		if err := json.Unmarshal(raw, &v); err != nil {
			hmaError(w, http.StatusBadRequest, "Invalid %s signal: not a string", k)
			return
		}
		signals[k] = v
	}
	s.hmaAddSignals(w, r, b, signals, nil, note)
}

func (s *Server) handleHMAAddContent(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	b, ok := s.hmaFindBank(w, r, name, "bank '"+name+"' not found")
	if !ok {
		return
	}
	var (
		h    *hmaHashed
		meta json.RawMessage
		note string
	)
	q := r.URL.Query()
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch {
	case q.Get("url") != "":
		if mt == "application/json" {
			keys, ok := hmaJSONBody(w, r, nil)
			if !ok {
				return
			}
			if meta, ok = hmaMetadata(w, keys["metadata"]); !ok {
				return
			}
			if note, ok = hmaNote(w, keys["note"]); !ok {
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
		if m, sent := h.form["metadata"]; sent {
			if !json.Valid([]byte(m)) {
				hmaError(w, http.StatusBadRequest, "metadata form field must be valid JSON")
				return
			}
			if meta, ok = hmaMetadata(w, json.RawMessage(m)); !ok {
				return
			}
		}
		if n, sent := h.form["note"]; sent && n != "" {
			if note, ok = hmaNoteText(w, n); !ok {
				return
			}
		}
	default:
		hmaError(w, http.StatusBadRequest, "Neither `url` nor multipart file upload was received")
		return
	}
	s.hmaAddSignals(w, r, b, h.hashes, meta, note)
}

// hmaItem is what HMA calls bank content: a content item, or an entry
// that came in another way, which is content of its own.
type hmaItem struct {
	item  *vigil.ContentItem // nil for an entry outside items
	entry *vigil.Entry       // the first active entry
	all   []*vigil.Entry     // the active entries
}

func (it hmaItem) id() int64 {
	if it.item != nil {
		return it.item.ID
	}
	return it.entry.ID
}

func (it hmaItem) disableUntil() int64 {
	if it.item != nil {
		return it.item.DisableUntil
	}
	if it.entry.Quarantined() {
		return vigil.ContentDisabled
	}
	return vigil.ContentEnabled
}

// hmaFindContent returns bank NAME's content ID, or writes HMA's 404s.
func (s *Server) hmaFindContent(w http.ResponseWriter, r *http.Request) (*vigil.Bank, hmaItem, bool) {
	name := r.PathValue("name")
	b, ok := s.hmaFindBank(w, r, name, "bank '"+name+"' not found")
	if !ok {
		return nil, hmaItem{}, false
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		hmaError(w, http.StatusNotFound, "content '%s' not found", r.PathValue("id"))
		return nil, hmaItem{}, false
	}
	it, err := s.hmaContentByID(r.Context(), b, id)
	if vigil.ErrorCode(err) == vigil.ENOTFOUND {
		hmaError(w, http.StatusNotFound, "content '%d' not found", id)
		return nil, hmaItem{}, false
	} else if err != nil {
		s.hmaStoreError(w, r, err)
		return nil, hmaItem{}, false
	}
	return b, it, true
}

// hmaContentByID finds content id of bank b: an item with an active
// entry, or an active entry outside items. ENOTFOUND otherwise.
func (s *Server) hmaContentByID(ctx context.Context, b *vigil.Bank, id int64) (hmaItem, error) {
	notFound := vigil.Errorf(vigil.ENOTFOUND, "content %d not found", id)
	item, err := s.Items.FindContentItem(ctx, id)
	if err == nil {
		it := hmaItem{item: item}
		for _, e := range item.Entries {
			if !e.Retracted() {
				it.all = append(it.all, e)
			}
		}
		if item.BankID != b.ID || len(it.all) == 0 {
			return hmaItem{}, notFound
		}
		it.entry = it.all[0]
		return it, nil
	} else if vigil.ErrorCode(err) != vigil.ENOTFOUND {
		return hmaItem{}, err
	}
	e, err := s.Entries.FindEntryByID(ctx, id)
	if err != nil {
		return hmaItem{}, err
	}
	if e.BankID != b.ID || e.Retracted() {
		return hmaItem{}, notFound
	}
	// An item's later entries are not content of their own.
	if m, err := s.Items.FindContentItemsByEntry(ctx, []int64{id}); err != nil {
		return hmaItem{}, err
	} else if m[id] != nil {
		return hmaItem{}, notFound
	}
	return hmaItem{entry: e, all: []*vigil.Entry{e}}, nil
}

// hmaContent is HMA's BankContentResponse. Vigil's provenance rides along
// in extra keys.
type hmaContent struct {
	ID               int64             `json:"id"`
	DisableUntilTS   int64             `json:"disable_until_ts"`
	OriginalMediaURI *string           `json:"original_media_uri"`
	Bank             hmaBank           `json:"bank"`
	Signals          map[string]string `json:"signals,omitempty"`
	Metadata         *hmaMetadataOut   `json:"metadata,omitempty"`
	Note             *string           `json:"note,omitempty"`

	Source        string `json:"vigil_source,omitempty"`
	SourceEntryID string `json:"vigil_source_entry_id,omitempty"`
	AddedBy       string `json:"vigil_added_by,omitempty"`
}

// hmaMetadataOut is BankedContentMetadata as HMA dumps it: every field,
// null when unset; collab is HMA's exchange provenance, which Vigil gives
// in vigil_source instead.
type hmaMetadataOut struct {
	ContentID  *string         `json:"content_id"`
	ContentURI *string         `json:"content_uri"`
	JSON       json.RawMessage `json:"json"`
	Collab     *struct{}       `json:"collab"`
}

func newHMAContent(b *vigil.Bank, it hmaItem, withSignals, withMetadata bool) hmaContent {
	e := it.entry
	c := hmaContent{ID: it.id(), DisableUntilTS: it.disableUntil(), Bank: newHMABank(b),
		Source: e.Source, SourceEntryID: e.SourceEntryID, AddedBy: e.AddedBy}
	if withSignals {
		c.Signals = map[string]string{}
		for _, e := range it.all {
			if st, ok := hmaSignalTypeOf(e.SignalType); ok {
				c.Signals[st.name] = st.serialise(e.Value)
			}
		}
	}
	if it.item != nil {
		if it.item.Note != "" {
			note := it.item.Note
			c.Note = &note
		}
		if withMetadata && it.item.Metadata != nil {
			var m hmaMetadataOut
			if json.Unmarshal(it.item.Metadata, &m) == nil {
				c.Metadata = &m
			}
		}
	}
	return c
}

func (s *Server) handleHMAGetContent(w http.ResponseWriter, r *http.Request) {
	b, it, ok := s.hmaFindContent(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	withSignals := strings.ToLower(q.Get("include_signals")) == "true"
	withMetadata := !q.Has("include_metadata") || strings.ToLower(q.Get("include_metadata")) == "true"
	writeJSON(w, http.StatusOK, newHMAContent(b, it, withSignals, withMetadata))
}

// hmaFiveYears is HMA's bound on disable_until_ts.
const hmaFiveYears = 5 * 365 * 24 * time.Hour

// hmaInt reads an int as Python's int() does for a JSON value: a number
// is truncated, a bool is 0 or 1, a string must hold a decimal integer.
func hmaInt(raw json.RawMessage) (int64, bool) {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return 0, false
	}
	switch v := v.(type) {
	case float64:
		if math.IsNaN(v) || math.Abs(v) > 1<<62 {
			return 0, false
		}
		return int64(math.Trunc(v)), true
	case bool:
		if v {
			return 1, true
		}
		return 0, true
	case string:
		n, err := strconv.ParseInt(strings.ReplaceAll(strings.TrimSpace(v), "_", ""), 10, 64)
		return n, err == nil && !strings.HasPrefix(strings.TrimSpace(v), "_")
	}
	return 0, false
}

// handleHMAUpdateContent takes HMA's content update: disable_until_ts (0
// disabled, 1 enabled, else a Unix time before which the item does not
// match in /m/lookup) and note. Entries that came in outside the HMA
// routes have neither, so only 1 and no note are taken for them.
func (s *Server) handleHMAUpdateContent(w http.ResponseWriter, r *http.Request) {
	b, it, ok := s.hmaFindContent(w, r)
	if !ok {
		return
	}
	keys, ok := hmaJSONBody(w, r, nil)
	if !ok {
		return
	}
	var upd vigil.ContentItemUpdate
	if raw, sent := keys["disable_until_ts"]; sent {
		ts, ok := hmaInt(raw)
		if !ok {
			shown := strings.Trim(string(raw), `"`)
			if string(raw) == "null" {
				shown = "None"
			}
			hmaError(w, http.StatusBadRequest, "Invalid int: '%s'", shown)
			return
		}
		if ts < 0 {
			hmaError(w, http.StatusBadRequest, "disable_until_ts must be a non-negative integer")
			return
		}
		if ts > time.Now().Add(hmaFiveYears).Unix() {
			hmaError(w, http.StatusBadRequest, "disable_until_ts must be less than 5 years in the future")
			return
		}
		upd.DisableUntil = &ts
	}
	if raw, sent := keys["note"]; sent {
		note, ok := hmaNote(w, raw)
		if !ok {
			return
		}
		upd.Note = &note
	}
	if it.item == nil {
		if upd.DisableUntil != nil && (*upd.DisableUntil != vigil.ContentEnabled || it.entry.Quarantined()) {
			hmaError(w, http.StatusBadRequest, "content added outside the HMA routes keeps no disable_until_ts: only 1 (enabled) is taken; delete the content to stop it matching")
			return
		}
		if upd.Note != nil && *upd.Note != "" {
			hmaError(w, http.StatusBadRequest, "content added outside the HMA routes keeps no note")
			return
		}
		writeJSON(w, http.StatusOK, newHMAContentConfig(b, it))
		return
	}
	if upd.DisableUntil != nil || upd.Note != nil {
		err := s.change(r, auditRecord(r, vigil.AuditItemUpdate, "item:"+strconv.FormatInt(it.item.ID, 10), upd), func(ctx context.Context) error {
			item, err := s.Items.UpdateContentItem(ctx, it.item.ID, upd)
			if err == nil {
				it.item = item
			}
			return err
		})
		if err != nil {
			s.hmaStoreError(w, r, err)
			return
		}
	}
	writeJSON(w, http.StatusOK, newHMAContentConfig(b, it))
}

// newHMAContentConfig is HMA's BankContentConfig dataclass as Flask's
// jsonify writes it, the answer of HMA's content update.
func newHMAContentConfig(b *vigil.Bank, it hmaItem) map[string]any {
	name, _ := hmaName(b.Name)
	out := map[string]any{"id": it.id(), "disable_until_ts": it.disableUntil(), "collab_metadata": map[string]any{},
		"original_media_uri": nil, "bank": map[string]any{"name": name, "matching_enabled_ratio": hmaBankRatio(b)},
		"user_metadata": nil, "note": nil}
	if it.item != nil {
		if it.item.Metadata != nil {
			out["user_metadata"] = it.item.Metadata
		}
		if it.item.Note != "" {
			out["note"] = it.item.Note
		}
	}
	return out
}

// handleHMADeleteContent retracts the content's entries: Vigil keeps
// retracted entries so that past matches keep their provenance, and they
// no longer match.
func (s *Server) handleHMADeleteContent(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	b, ok := s.hmaFindBank(w, r, name, "bank '"+name+"' not found")
	if !ok {
		return
	}
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		hmaError(w, http.StatusNotFound, "content '%s' not found", r.PathValue("id"))
		return
	}
	it, err := s.hmaContentByID(r.Context(), b, id)
	if vigil.ErrorCode(err) == vigil.ENOTFOUND {
		writeJSON(w, http.StatusOK, map[string]int{"deleted": 0})
		return
	} else if err != nil {
		s.hmaStoreError(w, r, err)
		return
	}
	by, reason := actor(r), "deleted through the HMA-compatible API"
	if it.item != nil {
		err = s.change(r, auditRecord(r, vigil.AuditEntryRetract, "item:"+strconv.FormatInt(id, 10), map[string]string{"reason": reason}), func(ctx context.Context) error {
			_, err := s.Items.RetractContentItem(ctx, id, by, reason)
			return err
		})
	} else {
		err = s.change(r, auditRecord(r, vigil.AuditEntryRetract, "entry:"+strconv.FormatInt(id, 10), map[string]string{"reason": reason}), func(ctx context.Context) error {
			_, err := s.Entries.RetractEntry(ctx, id, by, reason)
			return err
		})
	}
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
