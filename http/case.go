package http

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/hashing"
	"github.com/vigil-oss/vigil/phm/second"
)

// caseRoutes registers the review API: queues, cases, decisions, media
// and review statistics. Case work is for reviewers (and admins); within
// it, a key sees only the cases of queues that allow its role.
func (s *Server) caseRoutes() {
	const (
		admin    = vigil.RoleAdmin
		curator  = vigil.RoleCurator
		reviewer = vigil.RoleReviewer
	)
	s.route("GET /v1/queues", s.handleListQueues, reviewer, curator)
	s.route("POST /v1/queues", s.handleCreateQueue, admin)
	s.route("GET /v1/queues/{name}/next", s.handleNextCase, reviewer)
	s.route("GET /v1/cases", s.handleListCases, reviewer)
	s.route("GET /v1/cases/{id}", s.handleGetCase, reviewer)
	s.route("POST /v1/cases/{id}/assign", s.handleAssignCase, reviewer)
	s.route("POST /v1/cases/{id}/notes", s.handleCaseNote, reviewer)
	s.route("POST /v1/cases/{id}/decision", s.handleDecideCase, reviewer)
	s.route("GET /v1/cases/{id}/media", s.handleCaseMedia, reviewer)
	s.route("POST /v1/cases/{id}/writeback", s.handleWriteBack, curator)
	s.route("GET /v1/entries/{id}/stats", s.handleEntryStats, curator, reviewer)
	s.route("GET /v1/precision/banks", s.handleBankPrecision, curator, reviewer)
}

// errNoReview answers review requests on a server built without a case
// store.
var errNoReview = vigil.Errorf(vigil.EUNSUPPORTED, "this server has no review store")

// mediaCSP forbids a served media file from running anything or loading
// anything, should a browser render it despite the attachment disposition.
const mediaCSP = "default-src 'none'; sandbox"

// callerRole returns the role of the request's key.
func callerRole(r *http.Request) vigil.Role {
	if k := keyFrom(r.Context()); k != nil {
		return k.Role
	}
	return ""
}

// visibleQueues returns the queues whose cases the caller may see.
func (s *Server) visibleQueues(r *http.Request) ([]*vigil.Queue, error) {
	qs, err := s.Cases.ListQueues(r.Context())
	if err != nil {
		return nil, err
	}
	var out []*vigil.Queue
	for _, q := range qs {
		if q.Allows(callerRole(r)) {
			out = append(out, q)
		}
	}
	return out, nil
}

// allowedQueue returns the named queue if the caller may see its cases.
// A queue it may not see is reported as not found, like one that does not
// exist, so that queue names do not leak.
func (s *Server) allowedQueue(r *http.Request, name string) (*vigil.Queue, error) {
	if s.Cases == nil {
		return nil, errNoReview
	}
	q, err := s.Cases.FindQueue(r.Context(), name)
	if err != nil {
		return nil, err
	}
	if !q.Allows(callerRole(r)) {
		return nil, vigil.Errorf(vigil.ENOTFOUND, "queue %q not found", name)
	}
	return q, nil
}

// visibleCase returns case id if the caller's role may see its queue. A
// case in a queue the caller may not see is reported as not found, so that
// its existence is not disclosed either.
func (s *Server) visibleCase(r *http.Request, id int64) (*vigil.Case, error) {
	if s.Cases == nil {
		return nil, errNoReview
	}
	c, err := s.Cases.FindCase(r.Context(), id)
	if err != nil {
		return nil, err
	}
	q, err := s.Cases.FindQueue(r.Context(), c.Queue)
	if err != nil {
		return nil, err
	}
	if !q.Allows(callerRole(r)) {
		return nil, vigil.Errorf(vigil.ENOTFOUND, "case %d not found", id)
	}
	return c, nil
}

// decideCase records the caller's decision on case id through the
// response service (which counts it, quarantines and publishes a
// confirmation) and audits it (vigil.AuditCaseDecide). It is the one
// place decisions are made, for the JSON API and the review UI alike: d's
// DecidedBy is set here, from the request.
func (s *Server) decideCase(r *http.Request, id int64, d vigil.Decision) (*vigil.Case, error) {
	vc, err := s.visibleCase(r, id)
	if err != nil {
		return nil, err
	}
	d.DecidedBy = actor(r)
	rec := auditRecord(r, vigil.AuditCaseDecide, caseAuditTarget(id), map[string]string{
		"verdict": string(d.Verdict), "category": d.Category, "queue": vc.Queue,
	})
	var c *vigil.Case
	err = s.change(r, rec, func(ctx context.Context) (err error) {
		c, err = s.Flow().Decide(ctx, id, d)
		return err
	})
	if err != nil {
		return nil, err
	}
	return c, nil
}

// revealCaseMedia returns the decrypted media of case id to the caller,
// after recording the reveal in the case's history (a "revealed" event)
// and in the audit log (vigil.AuditContentReveal): if either cannot be
// recorded, nothing is revealed. via says where ("api", "ui"). It is the
// one place media is revealed, for the JSON API and the review UI alike.
func (s *Server) revealCaseMedia(r *http.Request, id int64, via string) (*vigil.Case, []byte, error) {
	c, err := s.visibleCase(r, id)
	if err != nil {
		return nil, nil, err
	}
	data, err := s.caseMedia(r.Context(), c)
	if err != nil {
		return nil, nil, err
	}
	// The audit record is written with the history event, before anything
	// is sent.
	ev := &vigil.CaseEvent{CaseID: id, Actor: actor(r), Kind: vigil.CaseEventRevealed, Detail: via}
	rec := auditRecord(r, vigil.AuditContentReveal, caseAuditTarget(id), map[string]string{"media_id": c.Content.MediaID, "via": via})
	if err := s.change(r, rec, func(ctx context.Context) error { return s.Cases.AddCaseEvent(ctx, ev) }); err != nil {
		return nil, nil, err
	}
	return c, data, nil
}

// caseMedia returns the decrypted media case c keeps. It records nothing:
// what reaches a person goes through revealCaseMedia.
func (s *Server) caseMedia(ctx context.Context, c *vigil.Case) ([]byte, error) {
	if s.Media == nil || c.Content.MediaID == "" {
		return nil, vigil.Errorf(vigil.ENOTFOUND, "case %d has no media", c.ID)
	}
	return s.Media.Get(ctx, c.Content.MediaID)
}

func caseAuditTarget(id int64) string { return "case:" + strconv.FormatInt(id, 10) }

// pathID parses the {id} path value.
func pathID(r *http.Request, what string) (int64, error) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id <= 0 {
		return 0, badRequest("%s id must be a positive integer", what)
	}
	return id, nil
}

func (s *Server) handleListQueues(w http.ResponseWriter, r *http.Request) {
	if s.Cases == nil {
		writeError(w, r, errNoReview)
		return
	}
	p, err := readPage(r.URL.Query(), smallPages)
	if err != nil {
		writeError(w, r, err)
		return
	}
	qs, err := s.Cases.ListQueues(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	stats, err := s.queueStats(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	// Curators see every queue, to write rules that fill them; reviewers
	// see the queues they work.
	out := []queueResponse{}
	for _, q := range qs {
		if q.Allows(callerRole(r)) || callerRole(r) == vigil.RoleCurator {
			st := stats[q.Name]
			if st == nil {
				st = &vigil.QueueStats{Queue: q.Name}
			}
			out = append(out, queueResponse{Queue: q, Stats: st})
		}
	}
	out, next := cutPage(p, out, func(q queueResponse) int64 { return q.ID })
	writePage(w, "queues", out, next)
}

// queueResponse is a queue with the work it holds.
type queueResponse struct {
	*vigil.Queue
	Stats *vigil.QueueStats `json:"stats"`
}

// queueStats returns the case counts of every queue by name.
func (s *Server) queueStats(ctx context.Context) (map[string]*vigil.QueueStats, error) {
	list, err := s.Cases.QueueStats(ctx)
	if err != nil {
		return nil, err
	}
	m := make(map[string]*vigil.QueueStats, len(list))
	for _, st := range list {
		m[st.Queue] = st
	}
	return m, nil
}

type createQueueRequest struct {
	Name        string       `json:"name"`
	Description string       `json:"description,omitempty"`
	Roles       []vigil.Role `json:"roles"`
}

func (s *Server) handleCreateQueue(w http.ResponseWriter, r *http.Request) {
	if s.Cases == nil {
		writeError(w, r, errNoReview)
		return
	}
	var req createQueueRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	q := &vigil.Queue{Name: req.Name, Description: req.Description, Roles: req.Roles}
	if err := q.Validate(); err != nil {
		writeError(w, r, err)
		return
	}
	if err := s.Cases.CreateQueue(r.Context(), q); err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusCreated, q)
}

func (s *Server) handleListCases(w http.ResponseWriter, r *http.Request) {
	if s.Cases == nil {
		writeError(w, r, errNoReview)
		return
	}
	q := r.URL.Query()
	p, err := readPage(q, casePages)
	if err != nil {
		writeError(w, r, err)
		return
	}
	f := vigil.CaseFilter{AssignedTo: q.Get("assignee"), AfterID: p.afterID, Limit: p.limit}
	for _, st := range q["state"] {
		switch cs := vigil.CaseState(st); cs {
		case vigil.CaseOpen, vigil.CaseAssigned, vigil.CaseDecided, vigil.CaseEscalated:
			f.States = append(f.States, cs)
		default:
			writeError(w, r, badRequest("state must be open, assigned, decided or escalated, got %q", st))
			return
		}
	}
	visible, err := s.visibleQueues(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	allowed := make([]string, len(visible))
	for i, vq := range visible {
		allowed[i] = vq.Name
	}
	if want := q["queue"]; len(want) > 0 {
		for _, name := range want {
			if !slices.Contains(allowed, name) {
				writeError(w, r, vigil.Errorf(vigil.ENOTFOUND, "queue %q not found", name))
				return
			}
		}
		f.Queues = want
	} else {
		f.Queues = allowed
	}
	if len(f.Queues) == 0 {
		// An empty filter means every queue: a role that may see none
		// must get nothing, not everything.
		writePage[*vigil.Case](w, "cases", nil, 0)
		return
	}
	cs, err := s.Cases.ListCases(r.Context(), f)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writePage(w, "cases", cs, nextAfter(p, cs, caseID))
}

func caseID(c *vigil.Case) int64 { return c.ID }

type caseResponse struct {
	*vigil.Case
	History []*vigil.CaseEvent `json:"history"`
}

func (s *Server) handleGetCase(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "case")
	if err != nil {
		writeError(w, r, err)
		return
	}
	c, err := s.visibleCase(r, id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.writeCase(w, r, http.StatusOK, c)
}

// handleNextCase answers with the case the caller should work next in a
// queue (highest priority, then oldest; ?after=ID moves past the case the
// caller is on), or 404 when nothing waits.
func (s *Server) handleNextCase(w http.ResponseWriter, r *http.Request) {
	if s.Cases == nil {
		writeError(w, r, errNoReview)
		return
	}
	var after int64
	if v := r.URL.Query().Get("after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			writeError(w, r, badRequest("after must be a case id"))
			return
		}
		after = n
	}
	q, err := s.allowedQueue(r, r.PathValue("name"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	c, err := s.Cases.NextCase(r.Context(), q.Name, actor(r), after)
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.writeCase(w, r, http.StatusOK, c)
}

// writeCase answers with a case and its history.
func (s *Server) writeCase(w http.ResponseWriter, r *http.Request, status int, c *vigil.Case) {
	h, err := s.Cases.CaseHistory(r.Context(), c.ID)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if h == nil {
		h = []*vigil.CaseEvent{}
	}
	writeJSON(w, status, caseResponse{Case: c, History: h})
}

type assignRequest struct {
	// Assignee is the actor to assign the case to ("key:ID:NAME"); the caller
	// when empty.
	Assignee string `json:"assignee,omitempty"`
}

func (s *Server) handleAssignCase(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "case")
	if err != nil {
		writeError(w, r, err)
		return
	}
	var req assignRequest
	if r.ContentLength != 0 {
		if err := decodeJSON(w, r, &req); err != nil {
			writeError(w, r, err)
			return
		}
	}
	if req.Assignee == "" {
		req.Assignee = actor(r)
	}
	if err := vigil.ValidateName("assignee", req.Assignee, vigil.MaxEntryFieldLen); err != nil {
		writeError(w, r, err)
		return
	}
	if _, err := s.visibleCase(r, id); err != nil {
		writeError(w, r, err)
		return
	}
	var c *vigil.Case
	err = s.change(r, auditRecord(r, vigil.AuditCaseAssign, caseAuditTarget(id), map[string]string{"to": req.Assignee}), func(ctx context.Context) (err error) {
		c, err = s.Cases.AssignCase(ctx, id, req.Assignee, actor(r))
		return err
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.writeCase(w, r, http.StatusOK, c)
}

type noteRequest struct {
	Text string `json:"text"`
}

func (s *Server) handleCaseNote(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "case")
	if err != nil {
		writeError(w, r, err)
		return
	}
	var req noteRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	if req.Text == "" || len(req.Text) > vigil.MaxCaseNoteLen || !utf8.ValidString(req.Text) {
		writeError(w, r, badRequest("note text must be 1 to %d bytes of UTF-8", vigil.MaxCaseNoteLen))
		return
	}
	c, err := s.visibleCase(r, id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if err := s.Cases.AddCaseEvent(r.Context(), &vigil.CaseEvent{CaseID: id, Actor: actor(r), Kind: vigil.CaseEventNote, Detail: req.Text}); err != nil {
		writeError(w, r, err)
		return
	}
	s.writeCase(w, r, http.StatusCreated, c)
}

type decisionRequest struct {
	Verdict  vigil.Verdict `json:"verdict"`
	Category string        `json:"category,omitempty"`
	Notes    string        `json:"notes,omitempty"`
}

func (s *Server) handleDecideCase(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "case")
	if err != nil {
		writeError(w, r, err)
		return
	}
	var req decisionRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	c, err := s.decideCase(r, id, vigil.Decision{Verdict: req.Verdict, Category: req.Category, Notes: req.Notes})
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.writeCase(w, r, http.StatusOK, c)
}

func (s *Server) handleCaseMedia(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "case")
	if err != nil {
		writeError(w, r, err)
		return
	}
	c, data, err := s.revealCaseMedia(r, id, "api")
	if err != nil {
		writeError(w, r, err)
		return
	}
	h := w.Header()
	// The stored type came from sniffing the upload. Only pictures and
	// videos keep it: anything else (an HTML upload, say) is served as
	// opaque bytes, so that no browser runs it.
	mt := c.Content.MediaType
	if !strings.HasPrefix(mt, "image/") && !strings.HasPrefix(mt, "video/") || strings.Contains(mt, "svg") {
		mt = "application/octet-stream"
	}
	h.Set("Content-Type", mt)
	h.Set("Content-Disposition", `attachment; filename="case-`+strconv.FormatInt(id, 10)+`"`)
	h.Set("Content-Security-Policy", mediaCSP)
	h.Set("Content-Length", strconv.Itoa(len(data)))
	w.WriteHeader(http.StatusOK)
	w.Write(data)
}

// entryStatsResponse is an entry's review statistics with its precision.
type entryStatsResponse struct {
	*vigil.EntryStats
	// Precision is confirmed / (confirmed + false positives); absent
	// before any decision.
	Precision *float64 `json:"precision,omitempty"`
}

func (s *Server) handleEntryStats(w http.ResponseWriter, r *http.Request) {
	if s.Cases == nil {
		writeError(w, r, errNoReview)
		return
	}
	id, err := pathID(r, "entry")
	if err != nil {
		writeError(w, r, err)
		return
	}
	e, err := s.Entries.FindEntryByID(r.Context(), id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	st, err := s.Cases.EntryStats(r.Context(), []int64{id})
	if err != nil {
		writeError(w, r, err)
		return
	}
	resp := entryStatsResponse{EntryStats: &vigil.EntryStats{EntryID: id, BankID: e.BankID}}
	if len(st) > 0 {
		resp.EntryStats = st[0]
	}
	resp.Precision = knownPrecision(resp.EntryStats.Precision())
	writeJSON(w, http.StatusOK, resp)
}

// knownPrecision returns p for a response's precision field, or nil
// (absent) when no decision made it known (p < 0).
func knownPrecision(p float64) *float64 {
	if p < 0 {
		return nil
	}
	return &p
}

type bankStatsResponse struct {
	*vigil.BankStats
	Precision *float64 `json:"precision,omitempty"`
}

func (s *Server) handleBankPrecision(w http.ResponseWriter, r *http.Request) {
	if s.Cases == nil {
		writeError(w, r, errNoReview)
		return
	}
	p, err := readPage(r.URL.Query(), smallPages)
	if err != nil {
		writeError(w, r, err)
		return
	}
	st, err := s.Cases.BankPrecision(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	st, next := cutPage(p, st, func(b *vigil.BankStats) int64 { return b.BankID })
	out := make([]bankStatsResponse, 0, len(st))
	for _, b := range st {
		out = append(out, bankStatsResponse{BankStats: b, Precision: knownPrecision(b.Precision())})
	}
	writePage(w, "banks", out, next)
}

// hashKept computes the signals of content the server already holds (kept
// media), as an upload's are computed.
func (s *Server) hashKept(ctx context.Context, data []byte) ([]vigil.Signal, error) {
	h := s.hashers.Get().(*hashing.Hasher)
	defer s.hashers.Put(h)
	d, data, err := h.Read(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	c, err := h.HashContent(ctx, d, data, s.contentOptions())
	if err != nil {
		return nil, err
	}
	return c.Signals, nil
}

// keyWrittenBack stores the keyed second hash of a written-back case's
// kept picture for its PDQ entries, when the PHM review service has a
// keyed hash key: the server holds the listed picture here, so the
// service's second check can compare revealed derivatives with it
// (phm/server Check). Its own transaction and audit record, after the
// entries'; on an error the entries stay, and writing back again (the
// entries come back as duplicates, with their ids) keys them.
func (s *Server) keyWrittenBack(r *http.Request, kept []byte, entries []*vigil.Entry) error {
	if s.PHM == nil || s.PHM.Second == nil || s.PHM.Store == nil || len(kept) == 0 {
		return nil
	}
	var hs []vigil.PHMKeyedHash
	seen := map[int64]bool{}
	for _, e := range entries {
		if e.SignalType == vigil.SignalPDQ && e.ID != 0 && !seen[e.ID] {
			seen[e.ID] = true
			hs = append(hs, vigil.PHMKeyedHash{EntryID: e.ID})
		}
	}
	if len(hs) == 0 {
		return nil
	}
	img, _, release, err := hashing.DecodeImage(r.Context(), kept, s.Hashing.Limits)
	if err != nil {
		return fmt.Errorf("keyed hash of the kept media: %w", err)
	}
	defer release()
	h, ok := second.NewHasher().Hash(s.PHM.Second, img)
	if !ok {
		return nil // under PDQ's smallest size: it made no PDQ entry either
	}
	for i := range hs {
		hs[i].Hash = h
	}
	_, err = s.PHM.Store.PutPHMKeyedHashes(context.WithoutCancel(r.Context()), actor(r), s.PHM.Second.ID(), hs)
	return err
}

type writeBackRequest struct {
	Bank string `json:"bank"`
}

// handleWriteBack adds a confirmed case's hashes to the bank a curator
// names. The kept media, if any, is hashed here (PDQ, MD5, SHA-1, SHA-256;
// never stored in the bank) and shown to no one; the case's own SHA-256
// stands in when no media was kept.
func (s *Server) handleWriteBack(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "case")
	if err != nil {
		writeError(w, r, err)
		return
	}
	var req writeBackRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	if s.Cases == nil {
		writeError(w, r, errNoReview)
		return
	}
	c, err := s.Cases.FindCase(r.Context(), id)
	if err != nil {
		writeError(w, r, err)
		return
	}
	var signals []vigil.Signal
	var kept []byte
	if c.Content.MediaID != "" && s.Media != nil {
		data, err := s.caseMedia(r.Context(), c)
		if err == nil {
			kept = data
			signals, err = s.hashKept(r.Context(), data)
		}
		if err != nil {
			writeError(w, r, err)
			return
		}
	}
	var (
		entries []*vigil.Entry
		res     vigil.ImportResult
	)
	// The store puts its counts in the record (vigil.AuditResult); the
	// bank is added to them as the record is sealed.
	rec := auditRecord(r, vigil.AuditCaseWriteBack, caseAuditTarget(id), nil)
	rec.Complete = func(rec *vigil.AuditRecord) error {
		detail := map[string]any{}
		if rec.Detail != "" {
			if err := json.Unmarshal([]byte(rec.Detail), &detail); err != nil {
				return err
			}
		}
		detail["bank"] = req.Bank
		return rec.SetDetail(detail)
	}
	err = s.change(r, rec, func(ctx context.Context) (err error) {
		_, entries, res, err = s.Flow().WriteBack(ctx, c, req.Bank, signals, actor(r))
		return err
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	if err := s.keyWrittenBack(r, kept, entries); err != nil {
		writeError(w, r, err)
		return
	}
	s.refresh(r)
	writeJSON(w, http.StatusCreated, map[string]any{"entries": entries, "result": res})
}
