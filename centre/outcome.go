package centre

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/centre/intake"
)

// Forwarder delivers a forwarded report to a law-enforcement destination
// (report.Webhook.Forward: the signed webhook, with key as its
// Idempotency-Key on every attempt, for the receiver to file it once).
// It returns the destination's reply, status and body (bounded), when
// there was one; err is nil only for an accepted delivery, EUNAVAILABLE
// for one worth retrying (5xx, 408, 429, a timeout, no reply) and any
// other code for a refusal.
type Forwarder interface {
	Forward(ctx context.Context, key string, body []byte) (status int, reply []byte, err error)
}

// ForwardActor is who the forward job's records name: it acts on the
// decision of the reviewer the report names (DecidedBy).
const ForwardActor = "job:centre-forward"

// StepForward is the step of every forward attempt.
const StepForward = "deliver"

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

// Outcome carries out centre reviewers' decisions. A forward is recorded
// with the decision (pending, with its idempotency key, in the decision's
// transaction) and then delivered by a durable job (Deliver, queued on
// Queue), retried with backoff while the destination is away.
type Outcome struct {
	Reports vigil.CentreService
	// Destinations are the law-enforcement destinations, by name.
	Destinations map[string]Forwarder
	// Queue runs the deliveries (jobs.Client); without it a forward
	// cannot be decided.
	Queue vigil.CentreForwardQueue
	// IndicatorBank, when set, receives the SHA-256 (and PDQ, when the
	// report names one) of every file of a forwarded, unflagged report
	// that no centre bank held: the hashes, never the media, with the
	// report as their provenance (source Source, source entry id
	// "report-N"). Publish the bank as a feed to share it.
	IndicatorBank string
	// Source is the indicators' source: the name under which providers
	// see this centre in their matches' provenance ("" : "centre").
	Source  string
	Banks   vigil.BankService
	Entries vigil.EntryService
	Now     func() time.Time // nil: time.Now
	Logger  *slog.Logger
}

func (o *Outcome) logger() *slog.Logger {
	if o.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return o.Logger
}

func (o *Outcome) now() time.Time {
	if o.Now == nil {
		return time.Now().UTC()
	}
	return o.Now().UTC()
}

func (o *Outcome) source() string {
	if o.Source == "" {
		return "centre"
	}
	return o.Source
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
		if o.Queue == nil {
			return vigil.Errorf(vigil.EUNSUPPORTED, "this centre has no job queue to deliver forwards")
		}
	}
	return nil
}

// Decide records d on report id (ctx carries the decision's audit record,
// stored in its transaction, with the forward it makes), then queues a
// forward's delivery. A forward decided and not queued (the process died
// in between) is queued by QueuePending at the next start.
func (o *Outcome) Decide(ctx context.Context, id int64, d vigil.CentreDecision, by string) (*vigil.CentreReport, error) {
	if err := o.Check(d); err != nil {
		return nil, err
	}
	r, err := o.Reports.DecideCentreReport(ctx, id, d, by)
	if err != nil {
		return nil, err
	}
	if r.Status == vigil.CentreForwarded {
		if err := o.Queue.QueueCentreForward(context.WithoutCancel(ctx), r.ID, r.ForwardRetries); err != nil {
			return r, vigil.Errorf(vigil.EUNAVAILABLE, "centre report %d: the forward is recorded and will be queued at the next start: %s", r.ID, vigil.ErrorMessage(err))
		}
	}
	return r, nil
}

// Retry queues the delivery of forwarded report id again: a failed
// forward becomes pending (audited by ctx's record, in the same write),
// under the same key; a pending one is queued (again: once); a delivered
// one is left alone.
func (o *Outcome) Retry(ctx context.Context, id int64) (*vigil.CentreReport, error) {
	if o.Queue == nil {
		return nil, vigil.Errorf(vigil.EUNSUPPORTED, "this centre has no job queue to deliver forwards")
	}
	r, err := o.Reports.FindCentreReport(ctx, id)
	if err != nil {
		return nil, err
	}
	if r.Status != vigil.CentreForwarded {
		return nil, vigil.Errorf(vigil.ECONFLICT, "centre report %d is %s, not forwarded", id, r.Status)
	}
	switch r.Forward {
	case vigil.ForwardDelivered:
		return r, nil
	case vigil.ForwardFailed, "":
		if r, err = o.Reports.UpdateCentreForward(ctx, id, func(r *vigil.CentreReport) error {
			if r.Forward != vigil.ForwardFailed && r.Forward != "" {
				return vigil.Errorf(vigil.ECONFLICT, "centre report %d: its forward is %s now", id, r.Forward)
			}
			r.Forward = vigil.ForwardPending
			r.ForwardRetries++ // a new round: a new job, whatever the last round's is doing
			return nil
		}); err != nil {
			return nil, err
		}
	}
	if err := o.Queue.QueueCentreForward(context.WithoutCancel(ctx), id, r.ForwardRetries); err != nil {
		return r, err
	}
	return r, nil
}

// QueuePending queues the delivery of every pending forward: at start, for
// those decided by a process that died before it queued them (queueing
// one already queued does nothing). It returns how many it queued.
func (o *Outcome) QueuePending(ctx context.Context) (int, error) {
	if o.Queue == nil {
		return 0, nil
	}
	f := vigil.CentreFilter{Status: vigil.CentreForwarded, Limit: 500}
	n := 0
	for {
		page, err := o.Reports.ListCentreReports(ctx, f)
		if err != nil {
			return n, err
		}
		for _, r := range page {
			if r.Forward != vigil.ForwardPending {
				continue
			}
			if err := o.Queue.QueueCentreForward(ctx, r.ID, r.ForwardRetries); err != nil {
				return n, err
			}
			n++
		}
		if len(page) < f.Limit {
			return n, nil
		}
		f.AfterID = page[len(page)-1].ID
	}
}

// legacyForwardKey is the key of a forward decided before keys were
// stored with the decision (it was derived from the report).
func legacyForwardKey(r *vigil.CentreReport) string {
	return fmt.Sprintf("vigil-centre-%d-%s", r.ID, r.Digest[:min(16, len(r.Digest))])
}

// Deliver is the forward job's body: it makes the indicators of report
// id's new files (once: a bank hands back the entries it holds), stores
// an attempt, sends the report to its destination with the forward's
// key, and stores the reply and the forward's new state (audited as
// vigil.AuditCentreForward) in one write. It returns nil once the
// forward is delivered or failed, and an EUNAVAILABLE error when the
// attempt may pass (the destination away, a timeout): the job runs it
// again later, with the same key, so the destination files it once. A
// run stopped between the send and the record (ctx cancelled: shut down,
// killed) records nothing more, as a crash would: the attempt stays
// without a reply, and the next run sends again under the same key.
func (o *Outcome) Deliver(ctx context.Context, id int64) error {
	r, err := o.Reports.FindCentreReport(ctx, id)
	if err != nil {
		return err
	}
	if r.Status != vigil.CentreForwarded {
		return vigil.Errorf(vigil.ECONFLICT, "centre report %d is %s, not forwarded", id, r.Status)
	}
	if r.Forward == vigil.ForwardFailed {
		return nil // final: a retry is a person's (Retry)
	}
	// The indicators are the reviewer's confirmation, not law
	// enforcement's receipt: made before the first attempt. Their failure
	// (the indicator bank missing, say) holds no delivery back: it is
	// retried by the job after the delivery, and the report says why.
	var indicators []int64
	var indErr error
	if r.Indicators == nil {
		if indicators, indErr = o.indicators(ctx, r); indErr != nil {
			indErr = vigil.Errorf(vigil.EUNAVAILABLE, "centre report %d indicators: %s", id, vigil.ErrorMessage(indErr))
			o.logger().Error("centre indicators", "report", id, "err", indErr)
		}
	}
	if r.Forward == vigil.ForwardDelivered {
		if indicators == nil {
			return indErr
		}
		_, err := o.Reports.UpdateCentreForward(ctx, id, func(r *vigil.CentreReport) error {
			r.Indicators, r.ForwardError = indicators, ""
			return nil
		})
		return err
	}
	dest, ok := o.Destinations[r.ForwardedTo]
	if !ok {
		// Configured once, gone now: wait for it rather than fail what an
		// operator may bring back.
		return vigil.Errorf(vigil.EUNAVAILABLE, "law-enforcement destination %q is not configured", r.ForwardedTo)
	}
	key := r.ForwardKey
	if key == "" {
		key = legacyForwardKey(r)
	}
	if len(r.ForwardAttempts) >= vigil.MaxForwardAttempts {
		_, err := o.record(ctx, r, func(r *vigil.CentreReport) {
			r.Forward, r.ForwardError = vigil.ForwardFailed, fmt.Sprintf("gave up after %d attempts", len(r.ForwardAttempts))
		})
		return err
	}
	body, err := forwardBody(r)
	if err != nil {
		return err
	}
	started := o.now()
	if r, err = o.Reports.UpdateCentreForward(ctx, id, func(r *vigil.CentreReport) error {
		if indicators != nil {
			r.Indicators = indicators
		}
		r.ForwardAttempts = append(r.ForwardAttempts, vigil.SubmissionAttempt{Step: StepForward, Started: started})
		return nil
	}); err != nil {
		return err
	}
	status, reply, sendErr := dest.Forward(ctx, key, body)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	retry := sendErr != nil && vigil.ErrorCode(sendErr) == vigil.EUNAVAILABLE
	if _, err := o.record(ctx, r, func(r *vigil.CentreReport) {
		a := &r.ForwardAttempts[len(r.ForwardAttempts)-1]
		if status != 0 {
			a.Replied, a.HTTPStatus, a.Reply = true, status, string(reply[:min(len(reply), vigil.MaxSubmissionReply)])
		}
		switch {
		case sendErr == nil:
			r.Forward, r.ForwardError = vigil.ForwardDelivered, ""
			if indErr != nil {
				r.ForwardError = vigil.ErrorMessage(indErr) // delivered; the job makes them later
			}
		case retry:
			a.Error = vigil.ErrorMessage(sendErr)
			r.Forward, r.ForwardError = vigil.ForwardPending, a.Error
		default:
			a.Error = vigil.ErrorMessage(sendErr)
			r.Forward, r.ForwardError = vigil.ForwardFailed, a.Error
		}
	}); err != nil {
		return err
	}
	switch {
	case sendErr == nil:
		o.logger().Info("centre forward delivered", "report", id, "destination", r.ForwardedTo, "attempts", len(r.ForwardAttempts))
		return indErr
	case retry:
		o.logger().Warn("centre forward will be retried", "report", id, "destination", r.ForwardedTo, "err", sendErr)
		return vigil.Errorf(vigil.EUNAVAILABLE, "centre report %d: forward to %s: %s", id, r.ForwardedTo, vigil.ErrorMessage(sendErr))
	}
	o.logger().Error("centre forward refused", "report", id, "destination", r.ForwardedTo, "err", sendErr)
	return nil
}

// Job is the forward job's hook (jobs.ForwardHook): Deliver, and on the
// job's final attempt a forward still waiting is failed with the last
// error, so that the report says so rather than pending without a job.
func (o *Outcome) Job(ctx context.Context, id int64, final bool) error {
	err := o.Deliver(ctx, id)
	if err == nil || !final || ctx.Err() != nil || vigil.ErrorCode(err) != vigil.EUNAVAILABLE {
		return err
	}
	r, ferr := o.Reports.FindCentreReport(ctx, id)
	if ferr != nil {
		return errors.Join(err, ferr)
	}
	if r.Status != vigil.CentreForwarded || r.Forward != vigil.ForwardPending {
		return err
	}
	if _, ferr := o.record(ctx, r, func(r *vigil.CentreReport) {
		r.Forward, r.ForwardError = vigil.ForwardFailed, "gave up: "+vigil.ErrorMessage(err)
	}); ferr != nil {
		return errors.Join(err, ferr)
	}
	return err
}

// record stores fn's change to r's forward with its audit record.
func (o *Outcome) record(ctx context.Context, r *vigil.CentreReport, fn func(r *vigil.CentreReport)) (*vigil.CentreReport, error) {
	rec := &vigil.AuditRecord{Actor: ForwardActor, Action: vigil.AuditCentreForward, Target: vigil.CentreAuditTarget(r.ID)}
	var state, why string
	var attempt int
	out, err := o.Reports.UpdateCentreForward(vigil.WithAudit(ctx, rec), r.ID, func(r *vigil.CentreReport) error {
		fn(r)
		state, why, attempt = r.Forward, r.ForwardError, len(r.ForwardAttempts)
		return rec.SetDetail(map[string]any{"destination": r.ForwardedTo, "state": state, "error": why,
			"attempt": attempt, "decided_by": r.DecidedBy, "indicators": r.Indicators})
	})
	return out, err
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

// indicators adds the SHA-256 and PDQ hashes of each file of r that no
// centre bank held to the indicator bank, with r as provenance, and
// returns the entry ids. A report with flags makes none: only a
// confirmed, well-founded report teaches the centre's lists. A bank
// holding an entry already hands it back, so a run after a crash makes
// none twice.
func (o *Outcome) indicators(ctx context.Context, r *vigil.CentreReport) ([]int64, error) {
	if o.IndicatorBank == "" || len(r.Flags) > 0 {
		return nil, nil
	}
	var entries []*vigil.Entry
	add := func(t vigil.SignalType, v string) {
		// A hash the provider got wrong makes no entry, and stops nothing.
		if v, err := vigil.CanonicalValue(t, v); err == nil {
			entries = append(entries, &vigil.Entry{SignalType: t, Value: v, Source: o.source(), SourceEntryID: fmt.Sprintf("report-%d", r.ID)})
		}
	}
	for _, f := range r.Files {
		if len(f.CentreMatches) > 0 {
			continue
		}
		if f.SHA256 != "" {
			add(vigil.SignalSHA256, f.SHA256)
		}
		// A PDQ hash also matches the picture re-encoded or resized.
		for _, p := range f.PDQ {
			add(vigil.SignalPDQ, p)
		}
	}
	if len(entries) == 0 {
		return nil, nil
	}
	b, err := o.Banks.FindBankByName(ctx, o.IndicatorBank)
	if err != nil {
		return nil, fmt.Errorf("indicator bank %q: %w", o.IndicatorBank, err)
	}
	// The reviewer's confirmation makes them: the records name the reviewer.
	actor := r.DecidedBy
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
