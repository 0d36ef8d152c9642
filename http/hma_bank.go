package http

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"net/http"
	"strconv"
	"strings"

	"github.com/vigil-oss/vigil"
)

// hmaBank is HMA's bank shape. matching_enabled_ratio is 0 for a disabled
// bank and the bank's MatchRatio for an enabled one.
type hmaBank struct {
	Name                 string  `json:"name"`
	MatchingEnabledRatio float64 `json:"matching_enabled_ratio"`

	VigilName    string `json:"vigil_name"`
	VigilEntries int64  `json:"vigil_active_entries"`
}

func newHMABank(b *vigil.Bank) hmaBank {
	name, _ := hmaName(b.Name)
	return hmaBank{Name: name, MatchingEnabledRatio: hmaBankRatio(b), VigilName: b.Name, VigilEntries: b.ActiveEntries}
}

// hmaBankRatio is a bank's HMA matching_enabled_ratio: 0 when disabled.
func hmaBankRatio(b *vigil.Bank) float64 {
	if !b.Enabled {
		return 0
	}
	if b.MatchRatio == 0 {
		return 1
	}
	return b.MatchRatio
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

// hmaRatio maps an enabled_ratio onto a bank: 0 disables it (HMA's
// BankConfig.enabled is ratio > 0), anything above enables it with that
// MatchRatio, which /m/lookup's coin flip samples. HMA stores any float;
// Vigil refuses one outside [0, 1], which no coin flip could tell apart
// from 0 or 1.
func hmaRatio(w http.ResponseWriter, ratio float64, upd *vigil.BankUpdate) bool {
	if math.IsNaN(ratio) || ratio < 0 || ratio > 1 {
		hmaError(w, http.StatusBadRequest, "enabled_ratio must be between 0 and 1")
		return false
	}
	enabled := ratio > 0
	upd.Enabled = &enabled
	if enabled {
		upd.MatchRatio = &ratio
	}
	return true
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
	var upd vigil.BankUpdate
	if !hmaRatio(w, ratio, &upd) {
		return
	}
	b := &vigil.Bank{Name: vigilBankName(*req.Name), Enabled: *upd.Enabled}
	if upd.MatchRatio != nil {
		b.MatchRatio = *upd.MatchRatio
	}
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
	// HMA applies name, then enabled (1 or 0), then enabled_ratio.
	var upd vigil.BankUpdate
	if req.Name != nil {
		if !hmaBankName.MatchString(*req.Name) {
			hmaError(w, http.StatusBadRequest, "Bank names must be UPPER_WITH_UNDERSCORE")
			return
		}
		if n := vigilBankName(*req.Name); n != b.Name {
			if len(n) > vigil.MaxBankNameLen {
				hmaError(w, http.StatusBadRequest, "bank name must be 1 to %d characters", vigil.MaxBankNameLen)
				return
			}
			upd.Name = &n
		}
	}
	if req.Enabled != nil {
		ratio := 0.0
		if *req.Enabled {
			ratio = 1
		}
		hmaRatio(w, ratio, &upd)
	}
	if req.EnabledRatio != nil && !hmaRatio(w, float64(*req.EnabledRatio), &upd) {
		return
	}
	if upd.Name != nil || upd.Enabled != nil {
		old := b.Name
		err := s.change(r, auditRecord(r, vigil.AuditBankUpdate, "bank:"+old, upd), func(ctx context.Context) error {
			var err error
			b, err = s.Banks.UpdateBank(ctx, b.ID, upd)
			return err
		})
		if vigil.ErrorCode(err) == vigil.ECONFLICT {
			// HMA's answer to a taken name (its IntegrityError); Vigil
			// also refuses to rename a bank a feed publishes.
			msg := "Bank name already exists"
			if !strings.Contains(vigil.ErrorMessage(err), "already exists") {
				msg = vigil.ErrorMessage(err)
			}
			hmaError(w, http.StatusForbidden, "%s", msg)
			return
		} else if err != nil {
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
