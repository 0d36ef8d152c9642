package http

import (
	"encoding/json"
	"net/http"
)

// The HMA exchange routes answer as an HMA with no exchange API installed
// does: Vigil's own fetchers (NCMEC, StopNCII, ThreatExchange) and feeds
// are not mapped onto these routes yet, so no API is listed, none can be
// configured, and no exchange exists. A client learns that plainly rather
// than from an exchange that never fetches.

func (s *Server) hmaExchangeRoutes() {
	for _, p := range []string{"GET /c/exchanges/apis", "GET /c/exchanges"} {
		s.hmaRoute(p, func(w http.ResponseWriter, r *http.Request) { writeJSON(w, http.StatusOK, []string{}) }, curatorRole)
	}
	s.hmaRoute("GET /c/exchanges/api/{api}", s.handleHMAExchangeAPI, curatorRole)
	s.hmaRoute("POST /c/exchanges/api/{api}", s.handleHMAExchangeAPI, curatorRole)
	s.hmaRoute("GET /c/exchanges/api/{api}/schema", func(w http.ResponseWriter, r *http.Request) {
		hmaError(w, http.StatusNotFound, "Exchange API '%s' not found", r.PathValue("api"))
	}, curatorRole)
	s.hmaRoute("POST /c/exchanges", s.handleHMACreateExchange, curatorRole)
	notFound := func(w http.ResponseWriter, r *http.Request) {
		hmaError(w, http.StatusNotFound, "Exchange '%s' not found", r.PathValue("name"))
	}
	for _, p := range []string{"GET /c/exchange/{name}", "PUT /c/exchange/{name}", "DELETE /c/exchange/{name}", "GET /c/exchange/{name}/status"} {
		s.hmaRoute(p, notFound, curatorRole)
	}
}

func (s *Server) handleHMAExchangeAPI(w http.ResponseWriter, r *http.Request) {
	hmaError(w, http.StatusBadRequest, "no such Exchange API '%s'", r.PathValue("api"))
}

// handleHMACreateExchange checks the request as HMA does, in HMA's order,
// and then refuses it: no exchange API is installed.
func (s *Server) handleHMACreateExchange(w http.ResponseWriter, r *http.Request) {
	keys, ok := hmaJSONBody(w, r, nil)
	if !ok {
		return
	}
	var bank string
	if raw, sent := keys["bank"]; !sent || string(raw) == "null" {
		hmaError(w, http.StatusBadRequest, "bank is required")
		return
	} else if json.Unmarshal(raw, &bank) != nil || !hmaBankName.MatchString(bank) {
		hmaError(w, http.StatusBadRequest, "Field `bank` must match /^[A-Z0-9_]+$/")
		return
	}
	if raw, sent := keys["api_json"]; sent {
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) != nil || obj == nil {
			hmaError(w, http.StatusBadRequest, "Field `api_json` must be object")
			return
		}
	}
	var api string
	if raw, sent := keys["api"]; !sent || string(raw) == "null" {
		hmaError(w, http.StatusBadRequest, "Field `api_type` is required")
		return
	} else if json.Unmarshal(raw, &api) != nil {
		api = string(raw)
	}
	hmaError(w, http.StatusBadRequest, "No such exchange type '%s'", api)
}
