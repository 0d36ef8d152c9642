package http

import (
	"context"
	"io"
	"net/http"
	"strconv"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/centre"
	"github.com/vigil-oss/vigil/centre/intake"
	"github.com/vigil-oss/vigil/report"
)

// CentreOptions turn on centre mode (vigil serve --centre): the intake of
// registered providers' reports, triage, and the centre reviewers'
// routes. Nil: the centre routes answer 501.
type CentreOptions struct {
	Reports vigil.CentreService
	Triage  *centre.Triage
	Outcome *centre.Outcome
	// Validator checks CyberTipline documents against NCMEC's schema;
	// nil: one on the embedded schema (report.Validator).
	Validator intake.Validator
}

// AuditCentreRead records a centre reviewer reading a report's raw body
// (content access).
const AuditCentreRead = "centre.read"

var errNoCentre = vigil.Errorf(vigil.EUNSUPPORTED, "this server is not a centre (vigil serve --centre)")

type providerContextKey struct{}

// providerFrom returns the provider a request authenticated as, if any.
func providerFrom(ctx context.Context) *vigil.CentreProvider {
	p, _ := ctx.Value(providerContextKey{}).(*vigil.CentreProvider)
	return p
}

// centreRoutes registers the centre API. Providers authenticate with
// their own keys (vigil centre provider add), which open only the intake
// and their own reports' status; centre reviewers use reviewer keys.
func (s *Server) centreRoutes() {
	const (
		admin    = vigil.RoleAdmin
		reviewer = vigil.RoleReviewer
	)
	s.providerRoute("POST /v1/centre/reports", s.handleCentreReceive)
	s.providerRoute("GET /v1/centre/reports/{id}", s.handleCentreGet, reviewer)
	s.route("GET /v1/centre/reports", s.handleCentreList, reviewer)
	s.route("GET /v1/centre/next", s.handleCentreNext, reviewer)
	s.route("GET /v1/centre/reports/{id}/raw", s.handleCentreRaw, reviewer)
	s.route("POST /v1/centre/reports/{id}/decision", s.handleCentreDecide, reviewer)
	s.route("POST /v1/centre/reports/{id}/forward", s.handleCentreForward, reviewer)
	s.route("POST /v1/centre/providers", s.handleCentreAddProvider, admin)
	s.route("GET /v1/centre/providers", s.handleCentreListProviders, admin)
	s.route("POST /v1/centre/providers/{name}/revoke", s.handleCentreRevokeProvider, admin)
	s.route("POST /v1/centre/providers/{name}/reinstate", s.handleCentreReinstateProvider, admin)
}

// providerRoute registers a route a registered provider may call with its
// key; an API key of one of roles (or admin) may call it too, and none if
// roles is empty.
func (s *Server) providerRoute(pattern string, h http.HandlerFunc, roles ...vigil.Role) {
	s.patterns = append(s.patterns, pattern)
	byKey := s.authenticate(roles, h)
	s.handle(pattern, s.instrument(pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		secret, ok := bearerToken(r.Header.Get("Authorization"))
		if ok && s.Centre != nil {
			p, err := s.Centre.Reports.FindProviderBySecret(r.Context(), secret)
			switch {
			case err == nil:
				h(w, r.WithContext(context.WithValue(r.Context(), providerContextKey{}, p)))
				return
			case vigil.ErrorCode(err) != vigil.EUNAUTHORIZED:
				// A revoked provider's key (EFORBIDDEN, saying so), or
				// the store failing.
				writeError(w, r, err)
				return
			}
		}
		if len(roles) == 0 {
			// An API key is not a provider's: say which key is wanted.
			if _, err := s.keyBySecret(r.Context(), secret); ok && err == nil {
				writeError(w, r, vigil.Errorf(vigil.EFORBIDDEN, "only a registered provider's key may call %s %s", r.Method, r.URL.Path))
				return
			}
		}
		byKey(w, r)
	})))
}

func (s *Server) centre() (*CentreOptions, error) {
	if s.Centre == nil {
		return nil, errNoCentre
	}
	return s.Centre, nil
}

// centreReportID returns the centre and the report id of a request's path.
func (s *Server) centreReportID(r *http.Request) (*CentreOptions, int64, error) {
	c, err := s.centre()
	if err != nil {
		return nil, 0, err
	}
	id, err := pathID(r, "centre report")
	return c, id, err
}

// centreReceived is the intake's answer: what the provider may see.
type centreReceived struct {
	vigil.CentreFeedback
	Duplicate bool `json:"resend"` // the report was stored before, under this provider report id
}

// handleCentreReceive takes a provider's report: the EU Centre rendering
// (application/json) or CyberTipline XML (application/xml, or
// multipart/mixed of a <report> and its <fileDetails>). The provider's id
// of the report is the Idempotency-Key header: a resend returns the
// report stored first.
func (s *Server) handleCentreReceive(w http.ResponseWriter, r *http.Request) {
	c, err := s.centre()
	if err != nil {
		writeError(w, r, err)
		return
	}
	p := providerFrom(r.Context())
	reportID := r.Header.Get("Idempotency-Key")
	if reportID == "" || len(reportID) > vigil.MaxProviderReportID || !vigil.Printable(reportID) {
		writeError(w, r, badRequest("send the provider's id of the report as Idempotency-Key (1 to %d printable bytes)", vigil.MaxProviderReportID))
		return
	}
	if r.ContentLength > vigil.MaxCentreReportBytes {
		writeError(w, r, vigil.Errorf(vigil.ETOOLARGE, "a report is at most %d bytes", vigil.MaxCentreReportBytes))
		return
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, vigil.MaxCentreReportBytes))
	if err != nil {
		writeError(w, r, err)
		return
	}
	v := c.Validator
	if v == nil && s.NCMECValidator != nil {
		v = s.NCMECValidator
	} else if v == nil {
		tmp := &report.Validator{}
		defer tmp.Close()
		v = tmp
	}
	parsed, err := intake.Parse(r.Context(), raw, r.Header.Get("Content-Type"), v)
	if err != nil {
		writeError(w, r, err)
		return
	}
	var stored *vigil.CentreReport
	var created bool
	rec := &vigil.AuditRecord{Actor: p.Actor(), Action: vigil.AuditCentreReceive, Target: "centre_report:new"}
	rec.Complete = func(rec *vigil.AuditRecord) error {
		if stored != nil {
			rec.Target = vigil.CentreAuditTarget(stored.ID)
		}
		if rec.Detail != "" {
			return nil // a resend: the store said so
		}
		return rec.SetDetail(map[string]any{"provider_report_id": reportID, "format": parsed.Format, "bytes": len(raw)})
	}
	ctx := vigil.WithAudit(r.Context(), rec)
	triaged, err := c.Triage.Triage(ctx, p, reportID, parsed, raw)
	if err == nil {
		stored = triaged // the target, once the store gives it its id
		stored, created, err = c.Reports.ReceiveReport(ctx, triaged)
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	if vigil.PendingAudit(ctx) != nil && s.Audit != nil {
		if err := s.Audit.AppendAudit(context.WithoutCancel(ctx), rec); err != nil {
			s.Logger.Error("audit record lost", "action", rec.Action, "err", err)
		}
	}
	status := http.StatusCreated
	if !created {
		status = http.StatusOK
	}
	writeJSON(w, status, centreReceived{CentreFeedback: stored.Feedback(), Duplicate: !created})
}

// handleCentreGet answers a provider with its own report's status and
// feedback (another provider's report is not found), and a centre
// reviewer with the whole triaged report.
func (s *Server) handleCentreGet(w http.ResponseWriter, r *http.Request) {
	c, id, err := s.centreReportID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	rep, err := c.Reports.FindCentreReport(r.Context(), id)
	if p := providerFrom(r.Context()); p != nil {
		if err == nil && rep.ProviderID != p.ID {
			err = vigil.Errorf(vigil.ENOTFOUND, "centre report %d not found", id)
		}
		if err != nil {
			writeError(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, rep.Feedback())
		return
	}
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

func (s *Server) handleCentreList(w http.ResponseWriter, r *http.Request) {
	c, err := s.centre()
	if err != nil {
		writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	pg, err := readPage(q, casePages)
	if err != nil {
		writeError(w, r, err)
		return
	}
	f := vigil.CentreFilter{Status: vigil.CentreStatus(q.Get("status")), AfterID: pg.afterID, Limit: pg.limit}
	if f.Status != "" && !f.Status.Valid() {
		writeError(w, r, badRequest("status is received, forwarded, unfounded or more_info"))
		return
	}
	if v := q.Get("provider_id"); v != "" {
		if f.ProviderID, err = strconv.ParseInt(v, 10, 64); err != nil || f.ProviderID <= 0 {
			writeError(w, r, badRequest("provider_id must be a positive integer"))
			return
		}
	}
	list, err := c.Reports.ListCentreReports(r.Context(), f)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writePage(w, "reports", list, nextAfter(pg, list, func(r *vigil.CentreReport) int64 { return r.ID }))
}

func (s *Server) handleCentreNext(w http.ResponseWriter, r *http.Request) {
	c, err := s.centre()
	if err != nil {
		writeError(w, r, err)
		return
	}
	rep, err := c.Reports.NextCentreReport(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// handleCentreRaw sends a report's body as the provider sent it, after
// recording the read (content access) in the audit log.
func (s *Server) handleCentreRaw(w http.ResponseWriter, r *http.Request) {
	c, id, err := s.centreReportID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	rep, err := c.Reports.FindCentreReport(r.Context(), id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if err := s.audit(r, AuditCentreRead, vigil.CentreAuditTarget(id), map[string]any{"digest": rep.Digest}); err != nil {
		writeError(w, r, vigil.Errorf(vigil.EUNAVAILABLE, "the read could not be recorded, so the report is not sent"))
		return
	}
	ct := "application/json"
	if rep.Format == vigil.CentreFormatNCMEC {
		ct = "application/octet-stream" // XML or multipart, as received
	}
	w.Header().Set("Content-Type", ct)
	w.Header().Set("Vigil-Digest", rep.Digest)
	w.WriteHeader(http.StatusOK)
	w.Write(rep.Raw)
}

// handleCentreDecide records a reviewer's outcome (audited in the
// decision's transaction, a forward with it) and queues a forward's
// delivery.
func (s *Server) handleCentreDecide(w http.ResponseWriter, r *http.Request) {
	c, id, err := s.centreReportID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	var d vigil.CentreDecision
	if err := decodeJSON(w, r, &d); err != nil {
		writeError(w, r, err)
		return
	}
	rep, err := s.centreDecide(r, c, id, d)
	if err != nil && rep == nil {
		writeError(w, r, err)
		return
	}
	// A forward that could not be queued is recorded and queued at the
	// next start (or by POST …/forward): the decision stands.
	writeJSON(w, http.StatusOK, rep)
}

// centreDecide records a reviewer's decision, audited in its transaction,
// and queues a forward's delivery: the one path of the API and the UI. A
// forward recorded and not queued returns the report with the error.
func (s *Server) centreDecide(r *http.Request, c *CentreOptions, id int64, d vigil.CentreDecision) (*vigil.CentreReport, error) {
	if err := c.Outcome.Check(d); err != nil {
		return nil, err
	}
	var rep *vigil.CentreReport
	rec := auditRecord(r, vigil.AuditCentreDecide, vigil.CentreAuditTarget(id), d)
	var queueErr error
	if err := s.change(r, rec, func(ctx context.Context) (err error) {
		rep, err = c.Outcome.Decide(ctx, id, d, actor(r))
		if rep != nil && err != nil {
			queueErr, err = err, nil // decided and stored: only the queueing failed
		}
		return err
	}); err != nil {
		return nil, err
	}
	return rep, queueErr
}

// handleCentreForward queues a forward's delivery again: a failed one
// becomes pending (audited), under the same idempotency key, so the
// destination files it once.
func (s *Server) handleCentreForward(w http.ResponseWriter, r *http.Request) {
	c, id, err := s.centreReportID(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	rep, err := s.centreRetry(r, c, id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, rep)
}

// centreRetry queues a forward's delivery again, audited: the one path of
// the API and the UI.
func (s *Server) centreRetry(r *http.Request, c *CentreOptions, id int64) (*vigil.CentreReport, error) {
	var rep *vigil.CentreReport
	rec := auditRecord(r, vigil.AuditCentreForwardRetry, vigil.CentreAuditTarget(id), nil)
	err := s.change(r, rec, func(ctx context.Context) (err error) {
		rep, err = c.Outcome.Retry(ctx, id)
		return err
	})
	return rep, err
}

type addProviderRequest struct {
	Name string `json:"name"`
}

type addProviderResponse struct {
	*vigil.CentreProvider
	Key string `json:"key"`
}

func (s *Server) handleCentreAddProvider(w http.ResponseWriter, r *http.Request) {
	c, err := s.centre()
	if err != nil {
		writeError(w, r, err)
		return
	}
	var req addProviderRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	p := &vigil.CentreProvider{Name: req.Name, CreatedBy: actor(r)}
	var secret string
	rec := auditRecord(r, vigil.AuditCentreProviderAdd, "provider:new", nil)
	rec.Complete = func(rec *vigil.AuditRecord) error {
		rec.Target = p.Actor()
		return nil
	}
	if err := s.change(r, rec, func(ctx context.Context) (err error) {
		secret, err = c.Reports.CreateProvider(ctx, p)
		return err
	}); err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, addProviderResponse{CentreProvider: p, Key: secret})
}

func (s *Server) handleCentreListProviders(w http.ResponseWriter, r *http.Request) {
	c, err := s.centre()
	if err != nil {
		writeError(w, r, err)
		return
	}
	list, err := c.Reports.ListProviders(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"providers": list})
}

// handleCentreRevokeProvider revokes a provider's key, audited in the
// same transaction. The store refuses the key from the next request on:
// provider keys are not cached (providerRoute reads the store at each
// call), so there is no cache to clear. The provider's reports stay.
func (s *Server) handleCentreRevokeProvider(w http.ResponseWriter, r *http.Request) {
	c, err := s.centre()
	if err != nil {
		writeError(w, r, err)
		return
	}
	// A provider's id and name never change: read them for the record.
	p, err := findProvider(r.Context(), c.Reports, r.PathValue("name"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	name := p.Name
	rec := auditRecord(r, vigil.AuditCentreProviderRevoke, p.Actor(), nil)
	if err := s.change(r, rec, func(ctx context.Context) (err error) {
		p, err = c.Reports.RevokeProvider(ctx, name, actor(r))
		return err
	}); err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}

// handleCentreReinstateProvider gives a revoked provider a new key (shown
// once), audited; the revoked key stays refused.
func (s *Server) handleCentreReinstateProvider(w http.ResponseWriter, r *http.Request) {
	c, err := s.centre()
	if err != nil {
		writeError(w, r, err)
		return
	}
	// A provider's id and name never change: read them for the record.
	p, err := findProvider(r.Context(), c.Reports, r.PathValue("name"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	name := p.Name
	rec := auditRecord(r, vigil.AuditCentreProviderReinstate, p.Actor(), nil)
	var secret string
	if err := s.change(r, rec, func(ctx context.Context) (err error) {
		p, secret, err = c.Reports.ReinstateProvider(ctx, name, actor(r))
		return err
	}); err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, addProviderResponse{CentreProvider: p, Key: secret})
}

// findProvider returns the named provider, or ENOTFOUND.
func findProvider(ctx context.Context, reports vigil.CentreService, name string) (*vigil.CentreProvider, error) {
	list, err := reports.ListProviders(ctx)
	if err != nil {
		return nil, err
	}
	for _, p := range list {
		if p.Name == name {
			return p, nil
		}
	}
	return nil, vigil.Errorf(vigil.ENOTFOUND, "provider %q not found", name)
}
