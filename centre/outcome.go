package centre

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"slices"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/centre/intake"
)

// Forwarder delivers a forwarded report to a law-enforcement destination,
// once per key (report.Webhook.Forward: the signed webhook, with key as
// its Idempotency-Key on every attempt).
type Forwarder interface {
	Forward(ctx context.Context, key string, body []byte) error
}

// ForwardBody is what a forward delivers: the report as the provider
// sent it, with the centre's triage and decision.
type ForwardBody struct {
	CentreReportID   int64              `json:"centre_report_id"`
	Provider         string             `json:"provider"`
	ProviderReportID string             `json:"provider_report_id"`
	Format           string             `json:"format"`
	Digest           string             `json:"digest"`
	ReportedUser     string             `json:"reported_user,omitempty"`
	Files            []vigil.CentreFile `json:"files"`
	Flags            []string           `json:"flags"`
	Duplicates       []int64            `json:"duplicates"`
	Priority         int                `json:"priority"`
	DecidedBy        string             `json:"decided_by"`
	// Report is the EU rendering (JSON) as received; XML reports are
	// carried as a JSON string.
	Report json.RawMessage `json:"report"`
}

// Outcome carries out centre reviewers' decisions.
type Outcome struct {
	Reports vigil.CentreService
	// Destinations are the law-enforcement destinations, by name.
	Destinations map[string]Forwarder
	// IndicatorBank, when set, receives the SHA-256 of every file of a
	// forwarded report that no centre bank held: the hash, never the
	// media, with the report as its provenance (source "centre",
	// source entry id "report-N"). Publish the bank as a feed to share it.
	IndicatorBank string
	Banks         vigil.BankService
	Entries       vigil.EntryService
	Logger        *slog.Logger
}

func (o *Outcome) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

// Check returns EINVALID for a decision this centre cannot carry out (a
// forward to a destination it does not have), before anything is stored.
func (o *Outcome) Check(d vigil.CentreDecision) error {
	if err := d.Validate(); err != nil {
		return err
	}
	if d.Status == vigil.CentreForwarded {
		if _, ok := o.Destinations[d.ForwardTo]; !ok {
			names := make([]string, 0, len(o.Destinations))
			for n := range o.Destinations {
				names = append(names, n)
			}
			slices.Sort(names)
			return vigil.Errorf(vigil.EINVALID, "no law-enforcement destination %q (this centre forwards to: %v)", d.ForwardTo, names)
		}
	}
	return nil
}

// Decide records d on report id (ctx carries the decision's audit record,
// stored in its transaction); a forward is then delivered (Deliver).
func (o *Outcome) Decide(ctx context.Context, id int64, d vigil.CentreDecision, by string) (*vigil.CentreReport, error) {
	if err := o.Check(d); err != nil {
		return nil, err
	}
	r, err := o.Reports.DecideCentreReport(ctx, id, d, by)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Deliver sends forwarded report id to its destination and records how it
// went (audited as vigil.AuditCentreForward by actor), then makes the
// indicators of its new files. It may run again (a delivery that failed):
// the key is the same, so the destination files it once.
func (o *Outcome) Deliver(ctx context.Context, id int64, actor string) (*vigil.CentreReport, error) {
	r, err := o.Reports.FindCentreReport(ctx, id)
	if err != nil {
		return nil, err
	}
	if r.Status != vigil.CentreForwarded {
		return nil, vigil.Errorf(vigil.ECONFLICT, "centre report %d is %s, not forwarded", id, r.Status)
	}
	dest, ok := o.Destinations[r.ForwardedTo]
	if !ok {
		return nil, vigil.Errorf(vigil.EUNAVAILABLE, "law-enforcement destination %q is not configured", r.ForwardedTo)
	}
	body, err := forwardBody(r)
	if err != nil {
		return nil, err
	}
	key := fmt.Sprintf("vigil-centre-%d-%s", r.ID, r.Digest[:16])
	state, deliverErr := "delivered", dest.Forward(ctx, key, body)
	if deliverErr != nil {
		state = "failed: " + vigil.ErrorMessage(deliverErr)
		o.logger().Error("centre forward failed", "report", id, "destination", r.ForwardedTo, "err", deliverErr)
	}
	var indicators []int64
	if deliverErr == nil && r.Forward != "delivered" {
		if indicators, err = o.indicators(ctx, r, actor); err != nil {
			return nil, err
		}
	}
	rec := &vigil.AuditRecord{Actor: actor, Action: vigil.AuditCentreForward, Target: vigil.CentreAuditTarget(id)}
	if err := rec.SetDetail(map[string]any{"destination": r.ForwardedTo, "state": state, "key": key, "indicators": indicators}); err != nil {
		return nil, err
	}
	out, err := o.Reports.SetCentreForward(vigil.WithAudit(ctx, rec), id, state, indicators)
	if err != nil {
		return nil, err
	}
	if deliverErr != nil {
		return out, vigil.Errorf(vigil.EUNAVAILABLE, "centre report %d: forward to %s: %s (the decision stands; POST /v1/centre/reports/%d/forward retries)",
			id, r.ForwardedTo, vigil.ErrorMessage(deliverErr), id)
	}
	return out, nil
}

func forwardBody(r *vigil.CentreReport) ([]byte, error) {
	raw := json.RawMessage(r.Raw)
	if r.Format != vigil.CentreFormatEU || !json.Valid(raw) {
		s, err := json.Marshal(string(r.Raw))
		if err != nil {
			return nil, err
		}
		raw = s
	}
	return json.Marshal(ForwardBody{CentreReportID: r.ID, Provider: r.Provider, ProviderReportID: r.ProviderReportID,
		Format: r.Format, Digest: r.Digest, ReportedUser: r.ReportedUser, Files: r.Files, Flags: r.Flags,
		Duplicates: r.Duplicates, Priority: r.Priority, DecidedBy: r.DecidedBy, Report: raw})
}

// indicators adds the SHA-256 of each file of r that no centre bank held
// to the indicator bank, with r as provenance, and returns the entry ids.
// A report with flags makes none: only a confirmed, well-founded report
// teaches the centre's lists.
func (o *Outcome) indicators(ctx context.Context, r *vigil.CentreReport, actor string) ([]int64, error) {
	if o.IndicatorBank == "" || len(r.Flags) > 0 {
		return nil, nil
	}
	var entries []*vigil.Entry
	for _, f := range r.Files {
		if f.SHA256 == "" || len(f.CentreMatches) > 0 {
			continue
		}
		entries = append(entries, &vigil.Entry{SignalType: vigil.SignalSHA256, Value: f.SHA256,
			Source: "centre", SourceEntryID: fmt.Sprintf("report-%d", r.ID)})
	}
	if len(entries) == 0 {
		return nil, nil
	}
	b, err := o.Banks.FindBankByName(ctx, o.IndicatorBank)
	if err != nil {
		return nil, fmt.Errorf("indicator bank %q: %w", o.IndicatorBank, err)
	}
	rec := &vigil.AuditRecord{Actor: actor, Action: vigil.AuditEntriesAdd, Target: "bank:" + b.Name}
	if err := rec.SetDetail(map[string]any{"from": vigil.CentreAuditTarget(r.ID), "count": len(entries)}); err != nil {
		return nil, err
	}
	if _, err := o.Entries.AddEntries(vigil.WithAudit(ctx, rec), b.ID, actor, entries); err != nil {
		return nil, fmt.Errorf("centre report %d indicators: %w", r.ID, err)
	}
	ids := make([]int64, 0, len(entries))
	for _, e := range entries {
		ids = append(ids, e.ID)
	}
	return ids, nil
}

// Receive triages a report from provider and stores it (ctx carries the
// receipt's audit record): the one path of the intake route.
func (t *Triage) Receive(ctx context.Context, provider *vigil.CentreProvider, reportID string, p *intake.Parsed, raw []byte) (*vigil.CentreReport, bool, error) {
	r, err := t.Triage(ctx, provider, reportID, p, raw)
	if err != nil {
		return nil, false, err
	}
	return t.Reports.ReceiveReport(ctx, r)
}
