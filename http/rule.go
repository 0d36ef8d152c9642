package http

import (
	"context"
	"net/http"

	"github.com/vigil-oss/vigil"
)

// ruleRoutes registers the rules API. Rules decide what happens without a
// person looking, so only curators (and admins) see and change them.
func (s *Server) ruleRoutes() {
	const curator = vigil.RoleCurator
	s.route("GET /v1/rules", s.handleListRules, curator)
	s.route("POST /v1/rules", s.handleCreateRule, curator)
	s.route("PUT /v1/rules/{name}", s.handleUpdateRule, curator)
	s.route("DELETE /v1/rules/{name}", s.handleDeleteRule, curator)
}

// errNoRules answers rule requests on a server built without a rule store.
var errNoRules = vigil.Errorf(vigil.EUNSUPPORTED, "this server has no rule store")

func (s *Server) handleListRules(w http.ResponseWriter, r *http.Request) {
	if s.Rules == nil {
		writeError(w, r, errNoRules)
		return
	}
	p, err := readPage(r.URL.Query(), smallPages)
	if err != nil {
		writeError(w, r, err)
		return
	}
	rs, err := s.Rules.ListRules(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	rs, next := cutPage(p, rs, func(r *vigil.Rule) int64 { return r.ID })
	writePage(w, "rules", rs, next)
}

// ruleRequest is the body of POST /v1/rules and PUT /v1/rules/{name}.
type ruleRequest struct {
	Name          string               `json:"name,omitempty"` // POST only; PUT takes it from the path
	Description   string               `json:"description,omitempty"`
	Enabled       *bool                `json:"enabled,omitempty"` // default true
	When          vigil.RuleConditions `json:"when"`
	Action        vigil.RuleAction     `json:"action"`
	Corroboration int                  `json:"corroboration,omitempty"`
}

// readRule reads a rule from the request body and checks it, including that
// the queue it fills exists: a rule that cannot open its cases would lose
// them quietly.
func (s *Server) readRule(w http.ResponseWriter, r *http.Request) (*vigil.Rule, error) {
	var req ruleRequest
	if err := decodeJSON(w, r, &req); err != nil {
		return nil, err
	}
	rule := &vigil.Rule{
		Name: req.Name, Description: req.Description, Enabled: req.Enabled == nil || *req.Enabled,
		Source: vigil.RuleSourceAPI, When: req.When, Action: req.Action, Corroboration: req.Corroboration,
		UpdatedBy: actor(r),
	}
	if name := r.PathValue("name"); name != "" {
		if req.Name != "" && req.Name != name {
			return nil, badRequest("rule name %q in the body differs from %q in the path; rules cannot be renamed", req.Name, name)
		}
		rule.Name = name
	}
	if err := rule.Validate(); err != nil {
		return nil, err
	}
	if err := s.checkRuleQueue(r.Context(), rule); err != nil {
		return nil, err
	}
	return rule, nil
}

// checkRuleQueue returns EINVALID if rule opens cases in a queue that does
// not exist, or on a server without a case store.
func (s *Server) checkRuleQueue(ctx context.Context, rule *vigil.Rule) error {
	q := rule.Action.Queue
	if q == "" {
		return nil
	}
	if s.Cases == nil {
		return vigil.Errorf(vigil.EINVALID, "rule %q opens cases, but this server has no review store", rule.Name)
	}
	if _, err := s.Cases.FindQueue(ctx, q); vigil.ErrorCode(err) == vigil.ENOTFOUND {
		return vigil.Errorf(vigil.EINVALID, "rule %q: queue %q does not exist; create it first (POST /v1/queues)", rule.Name, q)
	} else if err != nil {
		return err
	}
	return nil
}

func (s *Server) handleCreateRule(w http.ResponseWriter, r *http.Request) {
	if s.Rules == nil {
		writeError(w, r, errNoRules)
		return
	}
	rule, err := s.readRule(w, r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	err = s.change(r, auditRecord(r, vigil.AuditRuleChange, "rule:"+rule.Name, map[string]any{"op": "create", "rule": rule}), func(ctx context.Context) error {
		return s.Rules.CreateRule(ctx, rule)
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.Flow().ForgetRules()
	writeJSON(w, http.StatusCreated, rule)
}

// apiRule returns the named rule if the API may change it: rules loaded at
// start (from the rules file, or the built-in defaults) are changed where
// they come from, or the next start would undo the change.
func (s *Server) apiRule(r *http.Request) (*vigil.Rule, error) {
	old, err := s.Rules.FindRule(r.Context(), r.PathValue("name"))
	if err != nil {
		return nil, err
	}
	switch old.Source {
	case vigil.RuleSourceFile:
		return nil, vigil.Errorf(vigil.ECONFLICT, "rule %q comes from the rules file; change it there", old.Name)
	case vigil.RuleSourceDefault:
		return nil, vigil.Errorf(vigil.ECONFLICT,
			"rule %q is a built-in default rule, loaded at every start without a rules file; to change or drop it, start the server with --rules and a rules file (see docs/rules.example.yaml)", old.Name)
	}
	return old, nil
}

func (s *Server) handleUpdateRule(w http.ResponseWriter, r *http.Request) {
	if s.Rules == nil {
		writeError(w, r, errNoRules)
		return
	}
	old, err := s.apiRule(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	rule, err := s.readRule(w, r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	err = s.change(r, auditRecord(r, vigil.AuditRuleChange, "rule:"+rule.Name, map[string]any{"op": "update", "rule": rule, "was": old}), func(ctx context.Context) error {
		return s.Rules.UpdateRule(ctx, rule)
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.Flow().ForgetRules()
	writeJSON(w, http.StatusOK, rule)
}

func (s *Server) handleDeleteRule(w http.ResponseWriter, r *http.Request) {
	if s.Rules == nil {
		writeError(w, r, errNoRules)
		return
	}
	old, err := s.apiRule(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	err = s.change(r, auditRecord(r, vigil.AuditRuleChange, "rule:"+old.Name, map[string]any{"op": "delete", "was": old}), func(ctx context.Context) error {
		return s.Rules.DeleteRule(ctx, old.Name)
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.Flow().ForgetRules()
	w.WriteHeader(http.StatusNoContent)
}
