package http

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/banklist"
)

// refresh brings the matcher up to date after a write, so that a match
// right after an API change sees it.
func (s *Server) refresh(r *http.Request) {
	if err := s.Matcher.Refresh(r.Context()); err != nil {
		s.Logger.Error("index refresh after write", "err", err)
	}
}

func (s *Server) bankByName(r *http.Request) (*vigil.Bank, error) {
	return s.Banks.FindBankByName(r.Context(), r.PathValue("name"))
}

type createBankRequest struct {
	Name        string                   `json:"name"`
	Description string                   `json:"description"`
	Enabled     *bool                    `json:"enabled"`
	Negative    bool                     `json:"negative"`
	Thresholds  map[vigil.SignalType]int `json:"thresholds"`
	// Reveal is what hosted lookups see of the bank's matches; absent:
	// vigil.RevealBank, the least.
	Reveal vigil.Reveal `json:"reveal"`
}

func (s *Server) handleCreateBank(w http.ResponseWriter, r *http.Request) {
	var req createBankRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	b := &vigil.Bank{Name: req.Name, Description: req.Description, Enabled: true, Negative: req.Negative, Thresholds: req.Thresholds,
		Reveal: req.Reveal}
	if req.Enabled != nil {
		b.Enabled = *req.Enabled
	}
	err := s.change(r, auditRecord(r, vigil.AuditBankCreate, "bank:"+b.Name, b), func(ctx context.Context) error {
		return s.Banks.CreateBank(ctx, b)
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.refresh(r)
	writeJSON(w, http.StatusCreated, b)
}

func (s *Server) handleListBanks(w http.ResponseWriter, r *http.Request) {
	p, err := readPage(r.URL.Query(), smallPages)
	if err != nil {
		writeError(w, r, err)
		return
	}
	banks, err := s.Banks.ListBanks(r.Context())
	if err != nil {
		writeError(w, r, err)
		return
	}
	banks, next := cutPage(p, banks, func(b *vigil.Bank) int64 { return b.ID })
	writePage(w, "banks", banks, next)
}

func (s *Server) handleGetBank(w http.ResponseWriter, r *http.Request) {
	b, err := s.bankByName(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, b)
}

func (s *Server) handleUpdateBank(w http.ResponseWriter, r *http.Request) {
	var upd vigil.BankUpdate
	if err := decodeJSON(w, r, &upd); err != nil {
		writeError(w, r, err)
		return
	}
	b, err := s.bankByName(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	err = s.change(r, auditRecord(r, vigil.AuditBankUpdate, "bank:"+b.Name, upd), func(ctx context.Context) (err error) {
		b, err = s.Banks.UpdateBank(ctx, b.ID, upd)
		return err
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.refresh(r)
	writeJSON(w, http.StatusOK, b)
}

func (s *Server) handleDisableBank(w http.ResponseWriter, r *http.Request) {
	b, err := s.bankByName(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	err = s.change(r, auditRecord(r, vigil.AuditBankDisable, "bank:"+b.Name, nil), func(ctx context.Context) (err error) {
		b, err = s.Banks.DisableBank(ctx, b.ID)
		return err
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.refresh(r)
	writeJSON(w, http.StatusOK, b)
}

type addEntriesRequest struct {
	Entries []*vigil.Entry `json:"entries"`
}

// maxAddEntries bounds a JSON batch; bigger lists go through /import.
const maxAddEntries = 10000

func (s *Server) handleAddEntries(w http.ResponseWriter, r *http.Request) {
	var req addEntriesRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	if len(req.Entries) == 0 {
		writeError(w, r, badRequest("entries is empty"))
		return
	}
	if len(req.Entries) > maxAddEntries {
		writeError(w, r, vigil.Errorf(vigil.ETOOLARGE, "at most %d entries per request; use POST /v1/banks/{name}/import for bulk lists", maxAddEntries))
		return
	}
	b, err := s.bankByName(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	for _, e := range req.Entries {
		if e == nil {
			writeError(w, r, badRequest("entries holds a null"))
			return
		}
		// The store sets these; a caller cannot forge history.
		e.ID, e.BankID, e.AddedBy, e.RetractedAt, e.RetractedBy, e.RetractReason, e.Seq = 0, 0, "", nil, "", "", 0
	}
	// The store puts its counts in the record (vigil.AuditResult).
	var res vigil.ImportResult
	err = s.change(r, auditRecord(r, vigil.AuditEntriesAdd, "bank:"+b.Name, nil), func(ctx context.Context) (err error) {
		res, err = s.Entries.AddEntries(ctx, b.ID, actor(r), req.Entries)
		return err
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.refresh(r)
	writeJSON(w, http.StatusCreated, map[string]any{"result": res, "entries": req.Entries})
}

// handleImport streams a text or CSV list into a bank, atomically.
// Query: signal_type (for text lists and CSV without that column), source
// (for lines that give none), format (auto, text, csv).
func (s *Server) handleImport(w http.ResponseWriter, r *http.Request) {
	b, err := s.bankByName(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	opt := banklist.Options{SignalType: vigil.SignalType(q.Get("signal_type")), Source: q.Get("source"), MaxBytes: maxImport}
	switch q.Get("format") {
	case "", "auto":
	case "text":
		opt.Format = banklist.FormatText
	case "csv":
		opt.Format = banklist.FormatCSV
	default:
		writeError(w, r, badRequest("format must be auto, text or csv"))
		return
	}
	// Spool the upload first: the import holds the store's single writer
	// for its whole length, which must not depend on a slow client.
	spool, err := os.CreateTemp("", "vigil-import-*")
	if err != nil {
		writeError(w, r, fmt.Errorf("spool import: %w", err))
		return
	}
	defer func() { spool.Close(); os.Remove(spool.Name()) }()
	if _, err := io.Copy(spool, http.MaxBytesReader(w, r.Body, maxImport)); err != nil {
		writeError(w, r, err)
		return
	}
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		writeError(w, r, fmt.Errorf("spool import: %w", err))
		return
	}
	rd := banklist.NewReader(spool, opt)
	// The store puts its counts in the record (vigil.AuditResult).
	var res vigil.ImportResult
	err = s.change(r, auditRecord(r, vigil.AuditEntriesImport, "bank:"+b.Name, nil), func(ctx context.Context) (err error) {
		res, err = s.Entries.ImportEntries(ctx, b.ID, actor(r), rd.All())
		return err
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.refresh(r)
	writeJSON(w, http.StatusOK, res)
}

func (s *Server) handleListEntries(w http.ResponseWriter, r *http.Request) {
	b, err := s.bankByName(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	p, err := readPage(q, entryPages)
	if err != nil {
		writeError(w, r, err)
		return
	}
	f := vigil.EntryFilter{BankID: &b.ID, AfterID: p.afterID, Limit: p.limit}
	if v := q.Get("signal_type"); v != "" {
		t := vigil.SignalType(v)
		f.SignalType = &t
	}
	if v := q.Get("include_retracted"); v != "" {
		if f.IncludeRetracted, err = strconv.ParseBool(v); err != nil {
			writeError(w, r, badRequest("include_retracted must be true or false"))
			return
		}
	}
	entries, err := s.Entries.FindEntries(r.Context(), f)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writePage(w, "entries", entries, nextAfter(p, entries, entryID))
}

func entryID(e *vigil.Entry) int64 { return e.ID }

// handleExport streams a bank's active entries as CSV, page by page, in a
// form /import reads back.
func (s *Server) handleExport(w http.ResponseWriter, r *http.Request) {
	b, err := s.bankByName(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	// Nothing leaves before the export is on record.
	if err := s.audit(r, vigil.AuditBankExport, "bank:"+b.Name, nil); err != nil {
		writeError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+b.Name+`.csv"`)
	if err := banklist.Export(r.Context(), s.Entries, b.ID, w); err != nil {
		// Headers are gone; the truncated body and the log must tell.
		s.Logger.Error("export", "bank", b.Name, "err", err)
	}
}

func (s *Server) handleGetEntry(w http.ResponseWriter, r *http.Request) {
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
	writeJSON(w, http.StatusOK, e)
}

type retractRequest struct {
	Reason string `json:"reason"`
}

func (s *Server) handleRetract(w http.ResponseWriter, r *http.Request) {
	id, err := pathID(r, "entry")
	if err != nil {
		writeError(w, r, err)
		return
	}
	var req retractRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	var e *vigil.Entry
	err = s.change(r, auditRecord(r, vigil.AuditEntryRetract, "entry:"+strconv.FormatInt(id, 10), req), func(ctx context.Context) (err error) {
		e, err = s.Entries.RetractEntry(ctx, id, actor(r), req.Reason)
		return err
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	s.refresh(r)
	writeJSON(w, http.StatusOK, e)
}
