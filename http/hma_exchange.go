package http

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/internal/netguard"
)

// hmaFeedAPI is the one exchange API the compat layer installs: an
// exchange of this type is a Vigil feed subscription into the bank of the
// exchange's name, so HMA clients configure feeds as they configure
// exchanges. Vigil's other fetchers (NCMEC, StopNCII, ThreatExchange) are
// not mapped here.
const hmaFeedAPI = "vigil_feed"

// hmaFeedConfig is an exchange's api_json, as HMA's config dataclass reads it.
type hmaFeedConfig struct {
	URL         string `json:"url"`
	VerifierKey string `json:"verifier_key"`
}

// hmaField is one field descriptor of HMA's exchange schema.
type hmaField struct {
	Name     string   `json:"name"`
	Type     string   `json:"type"`
	Required bool     `json:"required"`
	Default  any      `json:"default"`
	Help     string   `json:"help"`
	Choices  []string `json:"choices"`
}

type hmaFields struct {
	Fields []hmaField `json:"fields"`
}

var hmaFeedSchema = map[string]any{
	"config_schema": hmaFields{Fields: []hmaField{
		{Name: "url", Type: "string", Required: true, Help: "the feed's base URL: https://host/v1/feeds/NAME"},
		{Name: "verifier_key", Type: "string", Required: true, Help: "the publisher's note verifier key, as vigil feed create printed it"},
	}},
	// The feed client reads a publisher's feed with an API key, but the
	// subscription store has no place for a secret: the key is given to
	// vigil feed sync instead, and credential_json is refused.
	"credentials_schema": nil,
}

func (s *Server) hmaExchangeRoutes() {
	s.hmaRoute("GET /c/exchanges/apis", func(w http.ResponseWriter, r *http.Request) {
		apis := []string{}
		if s.hmaAPIInstalled(hmaFeedAPI) {
			apis = append(apis, hmaFeedAPI)
		}
		writeJSON(w, http.StatusOK, apis)
	}, curatorRole)
	s.hmaRoute("GET /c/exchanges/api/{api}", s.handleHMAExchangeAPI, curatorRole)
	s.hmaRoute("POST /c/exchanges/api/{api}", s.handleHMAExchangeAPI, curatorRole)
	s.hmaRoute("GET /c/exchanges/api/{api}/schema", func(w http.ResponseWriter, r *http.Request) {
		if !s.hmaAPIInstalled(r.PathValue("api")) {
			hmaError(w, http.StatusNotFound, "Exchange API '%s' not found", r.PathValue("api"))
			return
		}
		writeJSON(w, http.StatusOK, hmaFeedSchema)
	}, curatorRole)
	s.hmaRoute("GET /c/exchanges", s.handleHMAListExchanges, curatorRole)
	s.hmaRoute("POST /c/exchanges", s.handleHMACreateExchange, curatorRole)
	s.hmaRoute("GET /c/exchange/{name}", s.handleHMAShowExchange, curatorRole)
	s.hmaRoute("PUT /c/exchange/{name}", s.handleHMAUpdateExchange, curatorRole)
	s.hmaRoute("DELETE /c/exchange/{name}", s.handleHMADeleteExchange, curatorRole)
	s.hmaRoute("GET /c/exchange/{name}/status", s.handleHMAExchangeStatus, curatorRole)
}

// hmaAPIInstalled reports whether api is an installed exchange API: only
// vigil_feed, and only on a server that keeps subscriptions.
func (s *Server) hmaAPIInstalled(api string) bool {
	return api == hmaFeedAPI && s.Subscriptions != nil
}

func (s *Server) handleHMAExchangeAPI(w http.ResponseWriter, r *http.Request) {
	if !s.hmaAPIInstalled(r.PathValue("api")) {
		hmaError(w, http.StatusBadRequest, "no such Exchange API '%s'", r.PathValue("api"))
		return
	}
	if r.Method == http.MethodPost {
		keys, ok := hmaJSONBody(w, r, nil)
		if !ok {
			return
		}
		if hmaCredentialsSent(keys) {
			hmaError(w, http.StatusBadRequest, hmaNoCredentials)
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]bool{"supports_authentification": false, "has_set_authentification": false})
}

// hmaNoCredentials refuses credentials: the subscription store has no
// place for a secret, and a key kept in plain text beside the feed URL
// would be worse than none.
const hmaNoCredentials = "Vigil does not store exchange credentials: give the publisher's API key to vigil feed sync --api-key-file"

// hmaCredentialsSent reports whether a body carries non-empty credentials
// (HMA treats an empty credential_json as clearing them).
func hmaCredentialsSent(keys map[string]json.RawMessage) bool {
	raw, sent := keys["credential_json"]
	if !sent {
		return false
	}
	switch strings.TrimSpace(string(raw)) {
	case "null", "{}", `""`, "false":
		return false
	}
	return true
}

// hmaExchange is a subscription seen as an HMA exchange.
type hmaExchange struct {
	sub  *vigil.Subscription
	bank *vigil.Bank
	name string // the bank's HMA name
}

// hmaExchanges returns the subscriptions whose banks have HMA names.
func (s *Server) hmaExchanges(ctx context.Context) ([]hmaExchange, error) {
	if s.Subscriptions == nil {
		return nil, nil
	}
	subs, err := s.Subscriptions.ListSubscriptions(ctx)
	if err != nil {
		return nil, err
	}
	var out []hmaExchange
	for _, sub := range subs {
		if sub.State == vigil.SubscriptionRemoved {
			continue // HMA's deleted exchange: gone
		}
		b, err := s.Banks.FindBankByID(ctx, sub.BankID)
		if err != nil {
			return nil, err
		}
		if name, ok := hmaName(b.Name); ok {
			out = append(out, hmaExchange{sub, b, name})
		}
	}
	return out, nil
}

// hmaFindExchange writes HMA's 404 and returns false for an unknown name.
func (s *Server) hmaFindExchange(w http.ResponseWriter, r *http.Request) (hmaExchange, bool) {
	name := r.PathValue("name")
	exs, err := s.hmaExchanges(r.Context())
	if err != nil {
		s.hmaStoreError(w, r, err)
		return hmaExchange{}, false
	}
	for _, ex := range exs {
		if ex.name == name {
			return ex, true
		}
	}
	hmaError(w, http.StatusNotFound, "Exchange '%s' not found", name)
	return hmaExchange{}, false
}

// config is the exchange as HMA serialises its config dataclass: enabled
// is false for a paused subscription.
func (ex hmaExchange) config() map[string]any {
	return map[string]any{"name": ex.name, "api": hmaFeedAPI, "enabled": ex.sub.State == vigil.SubscriptionActive,
		"url": ex.sub.URL, "verifier_key": ex.sub.Key, "feed": ex.sub.Feed, "subscription_id": ex.sub.ID}
}

func (s *Server) handleHMAListExchanges(w http.ResponseWriter, r *http.Request) {
	exs, err := s.hmaExchanges(r.Context())
	if err != nil {
		s.hmaStoreError(w, r, err)
		return
	}
	names := []string{}
	for _, ex := range exs {
		names = append(names, ex.name)
	}
	writeJSON(w, http.StatusOK, names)
}

func (s *Server) handleHMAShowExchange(w http.ResponseWriter, r *http.Request) {
	if ex, ok := s.hmaFindExchange(w, r); ok {
		writeJSON(w, http.StatusOK, ex.config())
	}
}

// handleHMAUpdateExchange answers HMA's enable toggle: "enabled": false
// pauses the subscription (vigil feed sync skips it), true resumes it.
func (s *Server) handleHMAUpdateExchange(w http.ResponseWriter, r *http.Request) {
	ex, ok := s.hmaFindExchange(w, r)
	if !ok {
		return
	}
	var body struct {
		Enabled *bool `json:"enabled"`
	}
	if _, ok := hmaJSONBody(w, r, &body); !ok {
		return
	}
	if body.Enabled != nil {
		state := vigil.SubscriptionPaused
		if *body.Enabled {
			state = vigil.SubscriptionActive
		}
		if !s.hmaSetExchangeState(w, r, &ex, state) {
			return
		}
	}
	writeJSON(w, http.StatusOK, ex.config())
}

// hmaSetExchangeState sets the state of ex's subscription, audited.
func (s *Server) hmaSetExchangeState(w http.ResponseWriter, r *http.Request, ex *hmaExchange, state string) bool {
	if ex.sub.State == state {
		return true
	}
	rec := auditRecord(r, vigil.AuditSubscriptionState, "subscription:"+strconv.FormatInt(ex.sub.ID, 10),
		map[string]string{"bank": ex.bank.Name, "state": state})
	err := s.change(r, rec, func(ctx context.Context) error {
		sub, err := s.Subscriptions.SetSubscriptionState(ctx, ex.sub.ID, state)
		if err == nil {
			ex.sub = sub
		}
		return err
	})
	if err != nil {
		s.hmaStoreError(w, r, err)
		return false
	}
	return true
}

// handleHMADeleteExchange is HMA's exchange delete, which deletes the
// exchange's bank with it: the subscription is removed (never synced
// again, no longer listed) and its bank disabled, in one transaction;
// Vigil keeps both rows, so that what the feed brought keeps its
// provenance. Like HMA, an unknown name is no error.
func (s *Server) handleHMADeleteExchange(w http.ResponseWriter, r *http.Request) {
	exs, err := s.hmaExchanges(r.Context())
	if err != nil {
		s.hmaStoreError(w, r, err)
		return
	}
	for i := range exs {
		if exs[i].name == r.PathValue("name") {
			if !s.hmaSetExchangeState(w, r, &exs[i], vigil.SubscriptionRemoved) {
				return
			}
			s.refresh(r)
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"message": "Exchange deleted"})
}

// handleHMAExchangeStatus maps the subscription's sync state onto HMA's
// FetchStatus: a sync is one fetch, its time the checkpoint; fetched_items
// counts the batches applied, since the store keeps no per-item count.
func (s *Server) handleHMAExchangeStatus(w http.ResponseWriter, r *http.Request) {
	ex, ok := s.hmaFindExchange(w, r)
	if !ok {
		return
	}
	st := map[string]any{"checkpoint_ts": nil, "running_fetch_start_ts": nil, "last_fetch_complete_ts": nil,
		"last_fetch_succeeded": nil, "up_to_date": false, "fetched_items": ex.sub.Applied, "error": ex.sub.Error}
	if ex.sub.SyncedAt != nil {
		ts := ex.sub.SyncedAt.Unix()
		good := ex.sub.Error == ""
		st["last_fetch_complete_ts"], st["last_fetch_succeeded"], st["up_to_date"] = ts, good, good
		if good {
			st["checkpoint_ts"] = ts
		}
	}
	writeJSON(w, http.StatusOK, st)
}

// handleHMACreateExchange checks the request as HMA does, in HMA's order,
// then creates the bank and a subscription of the feed into it.
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
	rawCfg := keys["api_json"]
	if rawCfg != nil {
		var obj map[string]json.RawMessage
		if json.Unmarshal(rawCfg, &obj) != nil || obj == nil {
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
	if !s.hmaAPIInstalled(api) {
		hmaError(w, http.StatusBadRequest, "No such exchange type '%s'", api)
		return
	}
	if hmaCredentialsSent(keys) {
		hmaError(w, http.StatusBadRequest, hmaNoCredentials)
		return
	}
	var cfg hmaFeedConfig
	if rawCfg != nil && json.Unmarshal(rawCfg, &cfg) != nil {
		hmaError(w, http.StatusBadRequest, "Failed to parse `api_json` - url and verifier_key must be strings")
		return
	}
	feedName, err := hmaFeedName(cfg)
	if err != nil {
		hmaError(w, http.StatusBadRequest, "Failed to parse `api_json` - %s", err.Error())
		return
	}
	if !s.hmaFeedHostAllowed(r.Context(), cfg.URL) {
		hmaError(w, http.StatusBadRequest, "Failed to parse `api_json` - url must reach a public address or a host in --hma-allowed-hosts")
		return
	}
	if len(vigilBankName(bank)) > vigil.MaxBankNameLen {
		hmaError(w, http.StatusBadRequest, "bank name must be 1 to %d characters", vigil.MaxBankNameLen)
		return
	}
	// The bank and the subscription in one transaction: a failed
	// subscription leaves no bank behind. The sync re-checks the address
	// rule on every connection (PublicOnly).
	b := &vigil.Bank{Name: vigilBankName(bank), Enabled: true, Description: "subscribed to " + cfg.URL}
	sub := &vigil.Subscription{URL: strings.TrimRight(cfg.URL, "/"), Feed: feedName, Key: cfg.VerifierKey, PublicOnly: true}
	rec := auditRecord(r, vigil.AuditSubscriptionCreate, "bank:"+b.Name, map[string]any{"bank": b, "subscription": sub})
	err = s.change(r, rec, func(ctx context.Context) error {
		return s.Subscriptions.CreateBankSubscription(ctx, b, sub)
	})
	if vigil.ErrorCode(err) == vigil.ECONFLICT {
		hmaError(w, http.StatusBadRequest, "Bank '%s' already exists", bank)
		return
	} else if err != nil {
		s.hmaStoreError(w, r, err)
		return
	}
	s.refresh(r)
	writeJSON(w, http.StatusCreated, map[string]string{"message": "Created successfully"})
}

// hmaFeedName checks an exchange's config as vigil feed subscribe checks
// its arguments, and returns the feed's name, the URL's last segment.
func hmaFeedName(cfg hmaFeedConfig) (string, error) {
	if cfg.URL == "" || cfg.VerifierKey == "" {
		return "", errors.New("url and verifier_key are required")
	}
	if len(cfg.URL) > vigil.MaxFeedURLLen || len(cfg.VerifierKey) > vigil.MaxFeedKeyLen {
		return "", errors.New("url or verifier_key too long")
	}
	u, err := url.Parse(cfg.URL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" {
		return "", errors.New("url must be http(s)://host/…/v1/feeds/NAME without credentials or query")
	}
	if _, err := note.NewVerifier(cfg.VerifierKey); err != nil {
		return "", errors.New("verifier_key is not a note verifier key")
	}
	p := strings.TrimRight(u.Path, "/")
	name := p[strings.LastIndexByte(p, '/')+1:]
	if vigil.ValidateBankName(name) != nil {
		return "", errors.New("url must end in the feed's name")
	}
	return name, nil
}

// hmaFeedHostAllowed applies the ?url= fetch rule to a feed URL: a curator
// key must not point the instance's feed sync at a private, loopback or
// link-local address, unless --hma-allowed-hosts lists the host. It is
// checked when the exchange is made, and again on every connection of
// every sync (the subscription is PublicOnly; vigil feed sync
// --allowed-hosts).
func (s *Server) hmaFeedHostAllowed(ctx context.Context, raw string) bool {
	u, err := url.Parse(raw)
	if err != nil {
		return false
	}
	return netguard.Reachable(ctx, u.Hostname(), s.HMA.AllowedHosts)
}
