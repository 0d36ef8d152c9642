package http

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vigil-oss/vigil"
)

// casePageSize is how many cases a queue page lists.
const casePageSize = 50

// queueSummary is one row of the queues page.
type queueSummary struct {
	Queue     *vigil.Queue
	Open      int // open or assigned
	Escalated int
	Oldest    time.Time // the oldest waiting case's opening; zero if none
}

func (s *Server) handleUIQueues(w http.ResponseWriter, r *http.Request) {
	if s.Cases == nil {
		s.render(w, r, http.StatusOK, "queues.html", "Queues", "queues", map[string]any{"Disabled": true})
		return
	}
	if role := keyFrom(r.Context()).Role; role != vigil.RoleReviewer && role != vigil.RoleAdmin {
		s.render(w, r, http.StatusOK, "queues.html", "Queues", "queues", map[string]any{"NotReviewer": role})
		return
	}
	qs, err := s.visibleQueues(r)
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	stats, err := s.queueStats(r.Context())
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	var rows []queueSummary
	for _, q := range qs {
		sum := queueSummary{Queue: q}
		if st := stats[q.Name]; st != nil {
			sum.Open, sum.Escalated = st.Open+st.Assigned, st.Escalated
			if st.OldestWaiting != nil {
				sum.Oldest = *st.OldestWaiting
			}
		}
		rows = append(rows, sum)
	}
	s.render(w, r, http.StatusOK, "queues.html", "Queues", "queues", map[string]any{"Queues": rows})
}

// caseStates maps the case list's state filter to the states it shows.
var caseStates = map[string][]vigil.CaseState{
	"waiting":   {vigil.CaseOpen, vigil.CaseAssigned},
	"mine":      {vigil.CaseAssigned},
	"escalated": {vigil.CaseEscalated},
	"decided":   {vigil.CaseDecided},
	"all":       nil,
}

func (s *Server) handleUIQueue(w http.ResponseWriter, r *http.Request) {
	q, err := s.allowedQueue(r, r.PathValue("name"))
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	state := r.URL.Query().Get("state")
	if state == "" {
		state = "waiting"
	}
	states, ok := caseStates[state]
	if !ok {
		s.uiError(w, r, badRequest("state must be waiting, mine, escalated, decided or all"))
		return
	}
	p := page{limit: casePageSize}
	if p.afterID, err = queryAfterID(r.URL.Query()); err != nil {
		s.uiError(w, r, err)
		return
	}
	f := vigil.CaseFilter{Queues: []string{q.Name}, States: states, AfterID: p.afterID, Limit: p.limit}
	if state == "mine" {
		f.AssignedTo = actor(r)
	}
	cs, err := s.Cases.ListCases(r.Context(), f)
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	next := nextAfter(p, cs, caseID)
	s.render(w, r, http.StatusOK, "queue.html", "Queue "+q.Name, "queues", map[string]any{
		"Queue": q, "Cases": cs, "State": state, "States": []string{"waiting", "mine", "escalated", "decided", "all"}, "NextAfter": next,
	})
}

// handleUINext opens the next case to work in a queue after the one given:
// the reviewer's own assigned cases and unassigned open ones, highest
// priority first, then oldest, wrapping round once.
func (s *Server) handleUINext(w http.ResponseWriter, r *http.Request) {
	q, err := s.allowedQueue(r, r.PathValue("name"))
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
	c, err := s.Cases.NextCase(r.Context(), q.Name, actor(r), after)
	if err == nil {
		http.Redirect(w, r, "/ui/cases/"+strconv.FormatInt(c.ID, 10), http.StatusSeeOther)
		return
	} else if vigil.ErrorCode(err) != vigil.ENOTFOUND {
		s.uiError(w, r, err)
		return
	}
	http.Redirect(w, r, "/ui/queues/"+url.PathEscape(q.Name)+"?done=empty", http.StatusSeeOther)
}

// caseFor returns the case named in the path if the request's key may see
// its queue (the API's visibleCase rule).
func (s *Server) caseFor(r *http.Request) (*vigil.Case, error) {
	id, err := pathID(r, "case")
	if err != nil {
		return nil, err
	}
	return s.visibleCase(r, id)
}

// categories are the decision form's suggested categories: the industry
// classification most hotlines use. Reviewers may type another.
var categories = []struct{ Value, Label string }{
	{"A1", "A1: prepubescent, sex act"},
	{"A2", "A2: prepubescent, lascivious exhibition"},
	{"B1", "B1: pubescent, sex act"},
	{"B2", "B2: pubescent, lascivious exhibition"},
}

// casePage is the case page's data.
type casePage struct {
	Case       *vigil.Case
	History    []*vigil.CaseEvent
	Messages   []caseMessageView
	Categories any
	HasMedia   bool
	Video      bool
	Open       bool // still waiting for a decision (escalated ones too)
	Escalated  bool // escalated already: decided by someone senior, not escalated again
	Mine       bool
	RevealURL  string // set when the page was loaded right after a reveal without script
	CaseURL    string
	NextURL    string
}

// caseMessageView is one conversation message with its indicators ready
// for display.
type caseMessageView struct {
	vigil.CaseMessage
	Suspect bool
}

func (s *Server) handleUICase(w http.ResponseWriter, r *http.Request) {
	c, err := s.caseFor(r)
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	hist, err := s.Cases.CaseHistory(r.Context(), c.ID)
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	id := strconv.FormatInt(c.ID, 10)
	p := casePage{
		Case: c, History: hist, Categories: categories,
		HasMedia:  c.Content.MediaID != "" && s.Media != nil,
		Video:     strings.HasPrefix(c.Content.MediaType, "video/"),
		Open:      c.State != vigil.CaseDecided,
		Escalated: c.State == vigil.CaseEscalated,
		Mine:      c.AssignedTo == actor(r),
		CaseURL:   "/ui/cases/" + id,
		NextURL:   "/ui/queues/" + url.PathEscape(c.Queue) + "/next?after=" + id,
	}
	if c.Conversation != nil {
		for _, m := range c.Conversation.Messages {
			p.Messages = append(p.Messages, caseMessageView{CaseMessage: m, Suspect: m.Speaker != "" && m.Speaker == c.Conversation.Suspect})
		}
	}
	if t := r.URL.Query().Get("reveal"); t != "" && p.HasMedia && sessionFrom(r.Context()).revealed(t, c.ID, time.Now()) {
		p.RevealURL = p.CaseURL + "/original/" + url.PathEscape(t)
	}
	s.render(w, r, http.StatusOK, "case.html", "Case "+id, "queues", p)
}

func (s *Server) handleUIAssign(w http.ResponseWriter, r *http.Request) {
	c, err := s.caseFor(r)
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	me := actor(r)
	err = s.change(r, auditRecord(r, vigil.AuditCaseAssign, caseAuditTarget(c.ID), map[string]string{"to": me}), func(ctx context.Context) (err error) {
		c, err = s.Cases.AssignCase(ctx, c.ID, me, me)
		return err
	})
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	http.Redirect(w, r, "/ui/cases/"+strconv.FormatInt(c.ID, 10)+"?done=assigned", http.StatusSeeOther)
}

// formText returns a form field checked for length and UTF-8.
func formText(r *http.Request, field string, max int) (string, error) {
	v := strings.TrimSpace(r.PostFormValue(field))
	if len(v) > max {
		return "", badRequest("%s is longer than %d bytes", field, max)
	}
	if !utf8.ValidString(v) {
		return "", badRequest("%s is not valid UTF-8", field)
	}
	return v, nil
}

func (s *Server) handleUINote(w http.ResponseWriter, r *http.Request) {
	c, err := s.caseFor(r)
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	text, err := formText(r, "note", vigil.MaxCaseNoteLen)
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	if text == "" {
		s.uiError(w, r, badRequest("the note is empty"))
		return
	}
	if err := s.Cases.AddCaseEvent(r.Context(), &vigil.CaseEvent{CaseID: c.ID, Actor: actor(r), Kind: vigil.CaseEventNote, Detail: text}); err != nil {
		s.uiError(w, r, err)
		return
	}
	http.Redirect(w, r, "/ui/cases/"+strconv.FormatInt(c.ID, 10)+"?done=noted", http.StatusSeeOther)
}

func (s *Server) handleUIDecide(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "case")
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	d := vigil.Decision{Verdict: vigil.Verdict(r.PostFormValue("verdict"))}
	if !d.Verdict.Valid() {
		s.uiError(w, r, badRequest("choose a verdict: confirmed, false positive or escalate"))
		return
	}
	if d.Category, err = formText(r, "category", vigil.MaxEntryFieldLen); err != nil {
		s.uiError(w, r, err)
		return
	}
	if d.Notes, err = formText(r, "notes", vigil.MaxCaseNoteLen); err != nil {
		s.uiError(w, r, err)
		return
	}
	// decideCase checks the queue, records and audits, as for the API.
	if _, err := s.decideCase(r, id, d); err != nil {
		s.uiError(w, r, err)
		return
	}
	// The decision is made: a counter that fails to count only delays the
	// break reminder.
	if err := s.Sessions.CountDecision(r.Context(), sessionFrom(r.Context()).ID); err != nil {
		s.Logger.Error("decision not counted for the break reminder", "err", err)
	}
	http.Redirect(w, r, "/ui/cases/"+strconv.FormatInt(id, 10)+"?done=decided", http.StatusSeeOther)
}
