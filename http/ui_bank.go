package http

import (
	"context"
	"net/http"
	"strconv"

	"github.com/vigil-oss/vigil"
)

// entryPageSize is how many entries a bank page lists.
const entryPageSize = 100

func (s *Server) handleUIBanks(w http.ResponseWriter, r *http.Request) {
	banks, err := s.Banks.ListBanks(r.Context())
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	// Review precision per bank, when this server reviews.
	stats := map[int64]*vigil.BankStats{}
	if s.Cases != nil {
		bs, err := s.Cases.BankPrecision(r.Context())
		if err != nil {
			s.uiError(w, r, err)
			return
		}
		for _, b := range bs {
			stats[b.BankID] = b
		}
	}
	s.render(w, r, http.StatusOK, "banks.html", "Banks", "banks", map[string]any{"Banks": banks, "Stats": stats, "Review": s.Cases != nil})
}

func (s *Server) handleUIBank(w http.ResponseWriter, r *http.Request) {
	b, err := s.bankByName(r)
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	p := page{limit: entryPageSize}
	if p.afterID, err = queryAfterID(r.URL.Query()); err != nil {
		s.uiError(w, r, err)
		return
	}
	f := vigil.EntryFilter{BankID: &b.ID, IncludeRetracted: true, AfterID: p.afterID, Limit: p.limit}
	entries, err := s.Entries.FindEntries(r.Context(), f)
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	next := nextAfter(p, entries, entryID)
	s.render(w, r, http.StatusOK, "bank.html", "Bank "+b.Name, "banks", map[string]any{
		"Bank": b, "Entries": entries, "NextAfter": next, "AfterID": f.AfterID,
	})
}

func (s *Server) handleUIEntry(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "entry")
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	e, err := s.Entries.FindEntryByID(r.Context(), id)
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	var stats *vigil.EntryStats
	if s.Cases != nil {
		st, err := s.Cases.EntryStats(r.Context(), []int64{id})
		if err != nil {
			s.uiError(w, r, err)
			return
		}
		if len(st) > 0 {
			stats = st[0]
		}
	}
	s.render(w, r, http.StatusOK, "entry.html", "Entry "+strconv.FormatInt(id, 10), "banks", map[string]any{
		"Entry": e, "Stats": stats, "Review": s.Cases != nil,
	})
}

// entryAction is one curator action on an entry from its page: it
// changes the entry, is audited as the API's equivalent is, and brings the
// indexes up to date.
func (s *Server) entryAction(w http.ResponseWriter, r *http.Request, do func(ctx context.Context, id int64, reason string) error, action string, needsReason bool) {
	id, err := pathID(r, "entry")
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	reason, err := formText(r, "reason", vigil.MaxRetractReasonLen)
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	if needsReason && reason == "" {
		s.uiError(w, r, badRequest("give a reason"))
		return
	}
	var detail any
	if needsReason {
		detail = map[string]string{"reason": reason}
	}
	err = s.change(r, auditRecord(r, action, "entry:"+strconv.FormatInt(id, 10), detail), func(ctx context.Context) error {
		return do(ctx, id, reason)
	})
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	s.refresh(r)
	http.Redirect(w, r, "/ui/entries/"+strconv.FormatInt(id, 10)+"?done=entry", http.StatusSeeOther)
}

func (s *Server) handleUIQuarantine(w http.ResponseWriter, r *http.Request) {
	if s.Cases == nil {
		s.uiError(w, r, errNoReview)
		return
	}
	s.entryAction(w, r, func(ctx context.Context, id int64, reason string) error {
		return s.Cases.QuarantineEntry(ctx, id, reason)
	}, vigil.AuditEntryQuarantine, true)
}

func (s *Server) handleUIRelease(w http.ResponseWriter, r *http.Request) {
	if s.Cases == nil {
		s.uiError(w, r, errNoReview)
		return
	}
	s.entryAction(w, r, func(ctx context.Context, id int64, _ string) error {
		return s.Cases.ReleaseEntry(ctx, id)
	}, vigil.AuditEntryRelease, false)
}

func (s *Server) handleUIRetract(w http.ResponseWriter, r *http.Request) {
	s.entryAction(w, r, func(ctx context.Context, id int64, reason string) error {
		_, err := s.Entries.RetractEntry(ctx, id, actor(r), reason)
		return err
	}, vigil.AuditEntryRetract, true)
}

// handleUIQuarantined lists the entries waiting for a curator: those that
// review statistics (or a curator) quarantined.
func (s *Server) handleUIQuarantined(w http.ResponseWriter, r *http.Request) {
	if s.Cases == nil {
		s.uiError(w, r, errNoReview)
		return
	}
	p := page{limit: quarantinePages.def}
	var err error
	if p.afterID, err = queryAfterID(r.URL.Query()); err != nil {
		s.uiError(w, r, err)
		return
	}
	rows, next, err := s.quarantinedEntries(r.Context(), p)
	if err != nil {
		s.uiError(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "quarantine.html", "Quarantined entries", "quarantine", map[string]any{"Rows": rows, "NextAfter": next})
}
