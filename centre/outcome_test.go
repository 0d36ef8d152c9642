package centre_test

import (
	"context"
	"strings"
	"testing"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/centre"
	"github.com/vigil-oss/vigil/centre/intake"
)

// forwarder answers each delivery with the next of replies (the last one
// again once they run out), recording the keys it was sent; hook, if set,
// runs when a request arrives.
type forwarder struct {
	replies []reply
	keys    []string
	hook    func()
}

type reply struct {
	status int
	err    error
}

func (f *forwarder) Forward(ctx context.Context, key string, body []byte) (int, []byte, error) {
	f.keys = append(f.keys, key)
	if f.hook != nil {
		f.hook()
	}
	r := f.replies[min(len(f.keys), len(f.replies))-1]
	return r.status, []byte("reply " + key), r.err
}

// queue records what is queued.
type queue struct{ ids []int64 }

func (q *queue) QueueCentreForward(ctx context.Context, id int64, retry int) error {
	q.ids = append(q.ids, id)
	return nil
}

var (
	unavailable = reply{503, vigil.Errorf(vigil.EUNAVAILABLE, "police intake: http 503")}
	refused     = reply{400, vigil.Errorf(vigil.EINVALID, "police intake refused: http 400")}
	accepted    = reply{202, nil}
)

func TestOutcomeForwardAndIndicators(t *testing.T) {
	ctx := context.Background()
	known := hashOf("known picture")
	f := newCentreFixture(t, known)
	indicators := &vigil.Bank{Name: "centre-new", Enabled: true}
	if err := f.banks.CreateBank(ctx, indicators); err != nil {
		t.Fatal(err)
	}
	police := &forwarder{replies: []reply{unavailable, accepted}}
	q := &queue{}
	o := &centre.Outcome{Reports: f.reports, Destinations: map[string]centre.Forwarder{"police": police}, Queue: q,
		IndicatorBank: "centre-new", Source: "centre:eu", Banks: f.banks, Entries: f.entries}
	newFile, pdq := hashOf("new picture"), strings.Repeat("f0", 32)
	r, _, err := f.triage.Receive(ctx, f.prov, "r1", &intake.Parsed{Format: "eu", ReportedUser: "u1",
		Files: []vigil.CentreFile{{SHA256: known, ClaimedMatches: 1}, {SHA256: newFile, PDQ: []string{pdq}}}}, []byte(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Check(vigil.CentreDecision{Status: vigil.CentreForwarded, ForwardTo: "interpol"}); vigil.ErrorCode(err) != vigil.EINVALID {
		t.Fatalf("forward to an unconfigured destination: %v", err)
	}
	noQueue := *o
	noQueue.Queue = nil
	if err := noQueue.Check(vigil.CentreDecision{Status: vigil.CentreForwarded, ForwardTo: "police"}); vigil.ErrorCode(err) != vigil.EUNSUPPORTED {
		t.Fatalf("forward without a job queue: %v", err)
	}
	// The decision records the forward, pending with its key, and queues
	// its delivery; nothing is sent yet.
	dec, err := o.Decide(ctx, r.ID, vigil.CentreDecision{Status: vigil.CentreForwarded, ForwardTo: "police"}, "key:4:reviewer")
	if err != nil {
		t.Fatal(err)
	}
	if dec.Forward != vigil.ForwardPending || dec.ForwardKey == "" || len(q.ids) != 1 || q.ids[0] != r.ID || len(police.keys) != 0 {
		t.Fatalf("decided: %+v queued %v sent %v", dec, q.ids, police.keys)
	}
	// The destination is down: the job is to retry; the attempt and its
	// reply are kept; the indicators (the reviewer's confirmation) are
	// made already.
	if err := o.Deliver(ctx, r.ID); vigil.ErrorCode(err) != vigil.EUNAVAILABLE {
		t.Fatalf("delivery to a destination that is down: %v", err)
	}
	got, err := f.reports.FindCentreReport(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Forward != vigil.ForwardPending || len(got.ForwardAttempts) != 1 || got.ForwardAttempts[0].HTTPStatus != 503 ||
		!strings.Contains(got.ForwardError, "503") || len(got.Indicators) != 2 {
		t.Fatalf("after a 503: %+v", got)
	}
	if err := o.Deliver(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	got, err = f.reports.FindCentreReport(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	last := got.ForwardAttempts[len(got.ForwardAttempts)-1]
	if got.Forward != vigil.ForwardDelivered || got.ForwardError != "" || len(got.ForwardAttempts) != 2 || !last.Replied || last.HTTPStatus != 202 ||
		last.Reply != "reply "+dec.ForwardKey || len(got.Indicators) != 2 {
		t.Fatalf("delivered: %+v", got)
	}
	if len(police.keys) != 2 || police.keys[0] != dec.ForwardKey || police.keys[1] != dec.ForwardKey {
		t.Fatalf("keys sent %v, want %q twice", police.keys, dec.ForwardKey)
	}
	for i, want := range []struct {
		t vigil.SignalType
		v string
	}{{vigil.SignalSHA256, newFile}, {vigil.SignalPDQ, pdq}} {
		e, err := f.entries.FindEntryByID(ctx, got.Indicators[i])
		if err != nil {
			t.Fatal(err)
		}
		if e.Value != want.v || e.SignalType != want.t || e.Source != "centre:eu" || e.SourceEntryID != "report-1" || e.BankID != indicators.ID {
			t.Fatalf("indicator %d %+v", i, e)
		}
	}
	// Delivered is final: the job and a reviewer's retry send nothing.
	if err := o.Deliver(ctx, r.ID); err != nil || len(police.keys) != 2 {
		t.Fatalf("deliver a delivered forward: %v, %d sent", err, len(police.keys))
	}
	if again, err := o.Retry(ctx, r.ID); err != nil || again.Forward != vigil.ForwardDelivered || len(q.ids) != 1 {
		t.Fatalf("retry a delivered forward: %+v %v queued %v", again, err, q.ids)
	}

	// A flagged report teaches the lists nothing; a refusal fails the
	// forward (the job stops), and a reviewer's retry queues it again
	// under the same key.
	police.replies, police.keys = []reply{refused, accepted}, nil
	flagged, _, err := f.triage.Receive(ctx, f.prov, "r2", &intake.Parsed{Format: "eu", ReportedUser: "u2",
		Files: []vigil.CentreFile{{SHA256: hashOf("claimed"), ClaimedMatches: 1}, {SHA256: hashOf("other new")}}}, []byte(`{"b":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.Decide(ctx, flagged.ID, vigil.CentreDecision{Status: vigil.CentreForwarded, ForwardTo: "police"}, "key:4:reviewer"); err != nil {
		t.Fatal(err)
	}
	if err := o.Deliver(ctx, flagged.ID); err != nil {
		t.Fatalf("a refusal is final for the job: %v", err)
	}
	got, err = f.reports.FindCentreReport(ctx, flagged.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Forward != vigil.ForwardFailed || !strings.Contains(got.ForwardError, "400") || len(got.Indicators) != 0 {
		t.Fatalf("refused: %+v", got)
	}
	if err := o.Deliver(ctx, flagged.ID); err != nil || len(police.keys) != 1 {
		t.Fatalf("the job ran a failed forward again: %v, %d sent", err, len(police.keys))
	}
	retried, err := o.Retry(ctx, flagged.ID)
	if err != nil || retried.Forward != vigil.ForwardPending || retried.ForwardRetries != 1 || q.ids[len(q.ids)-1] != flagged.ID {
		t.Fatalf("retry: %+v %v queued %v", retried, err, q.ids)
	}
	if err := o.Deliver(ctx, flagged.ID); err != nil {
		t.Fatal(err)
	}
	got, err = f.reports.FindCentreReport(ctx, flagged.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Forward != vigil.ForwardDelivered || len(got.ForwardAttempts) != 2 || police.keys[0] != police.keys[1] || police.keys[0] != got.ForwardKey {
		t.Fatalf("after the retry: %+v keys %v", got, police.keys)
	}

	// Only forwarded reports are delivered.
	closed, _, err := f.triage.Receive(ctx, f.prov, "r3", &intake.Parsed{Format: "eu"}, []byte(`{"c":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.Decide(ctx, closed.ID, vigil.CentreDecision{Status: vigil.CentreUnfounded, Reason: "no content"}, "key:4:reviewer"); err != nil {
		t.Fatal(err)
	}
	if err := o.Deliver(ctx, closed.ID); vigil.ErrorCode(err) != vigil.ECONFLICT {
		t.Fatalf("deliver a closed report: %v", err)
	}
	if _, err := o.Retry(ctx, closed.ID); vigil.ErrorCode(err) != vigil.ECONFLICT {
		t.Fatalf("retry a closed report: %v", err)
	}
}

// TestOutcomeForwardStoppedAfterSend: a run stopped after the request
// went out and before its reply was stored (as a crash there) records
// nothing more; the next run sends again under the same key, so a
// receiver that files each key once has the report once.
func TestOutcomeForwardStoppedAfterSend(t *testing.T) {
	ctx := context.Background()
	f := newCentreFixture(t)
	runCtx, stop := context.WithCancel(ctx)
	police := &forwarder{replies: []reply{accepted}, hook: stop}
	q := &queue{}
	o := &centre.Outcome{Reports: f.reports, Destinations: map[string]centre.Forwarder{"police": police}, Queue: q}
	r, _, err := f.triage.Receive(ctx, f.prov, "r1", &intake.Parsed{Format: "eu", Files: []vigil.CentreFile{{SHA256: hashOf("x")}}}, []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.Decide(ctx, r.ID, vigil.CentreDecision{Status: vigil.CentreForwarded, ForwardTo: "police"}, "key:4:reviewer"); err != nil {
		t.Fatal(err)
	}
	if err := o.Deliver(runCtx, r.ID); err == nil {
		t.Fatal("a stopped run reported success")
	}
	mid, err := f.reports.FindCentreReport(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if mid.Forward != vigil.ForwardPending || len(mid.ForwardAttempts) != 1 || mid.ForwardAttempts[0].Replied {
		t.Fatalf("after the stop: %+v", mid)
	}
	police.hook = nil
	if err := o.Deliver(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	got, err := f.reports.FindCentreReport(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	distinct := map[string]bool{}
	for _, k := range police.keys {
		distinct[k] = true
	}
	if got.Forward != vigil.ForwardDelivered || len(got.ForwardAttempts) != 2 || len(police.keys) != 2 || len(distinct) != 1 {
		t.Fatalf("after the restart: %+v, keys %v", got, police.keys)
	}
}

// TestOutcomeJobGivesUp: on the job's last attempt a forward still
// waiting is failed with the reason, not left pending with no job.
func TestOutcomeJobGivesUp(t *testing.T) {
	ctx := context.Background()
	f := newCentreFixture(t)
	police := &forwarder{replies: []reply{unavailable}}
	o := &centre.Outcome{Reports: f.reports, Destinations: map[string]centre.Forwarder{"police": police}, Queue: &queue{}}
	r, _, err := f.triage.Receive(ctx, f.prov, "r1", &intake.Parsed{Format: "eu", Files: []vigil.CentreFile{{SHA256: hashOf("x")}}}, []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.Decide(ctx, r.ID, vigil.CentreDecision{Status: vigil.CentreForwarded, ForwardTo: "police"}, "key:4:reviewer"); err != nil {
		t.Fatal(err)
	}
	if err := o.Job(ctx, r.ID, false); vigil.ErrorCode(err) != vigil.EUNAVAILABLE {
		t.Fatalf("an attempt before the last: %v", err)
	}
	if got, _ := f.reports.FindCentreReport(ctx, r.ID); got.Forward != vigil.ForwardPending {
		t.Fatalf("after an attempt before the last: %q", got.Forward)
	}
	if err := o.Job(ctx, r.ID, true); vigil.ErrorCode(err) != vigil.EUNAVAILABLE {
		t.Fatalf("the last attempt: %v", err)
	}
	got, err := f.reports.FindCentreReport(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Forward != vigil.ForwardFailed || !strings.HasPrefix(got.ForwardError, "gave up: ") || len(got.ForwardAttempts) != 2 {
		t.Fatalf("after the last attempt: %+v", got)
	}
}

// TestOutcomeIndicatorBankMissing: indicators that cannot be made (the
// bank is missing) hold no delivery back; the job tries them again
// after it, and the report says why meanwhile.
func TestOutcomeIndicatorBankMissing(t *testing.T) {
	ctx := context.Background()
	f := newCentreFixture(t)
	police := &forwarder{replies: []reply{accepted}}
	o := &centre.Outcome{Reports: f.reports, Destinations: map[string]centre.Forwarder{"police": police}, Queue: &queue{},
		IndicatorBank: "later", Banks: f.banks, Entries: f.entries}
	r, _, err := f.triage.Receive(ctx, f.prov, "r1", &intake.Parsed{Format: "eu", Files: []vigil.CentreFile{{SHA256: hashOf("x")}}}, []byte(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.Decide(ctx, r.ID, vigil.CentreDecision{Status: vigil.CentreForwarded, ForwardTo: "police"}, "key:4:reviewer"); err != nil {
		t.Fatal(err)
	}
	if err := o.Deliver(ctx, r.ID); vigil.ErrorCode(err) != vigil.EUNAVAILABLE {
		t.Fatalf("delivery without the indicator bank: %v", err)
	}
	got, err := f.reports.FindCentreReport(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Forward != vigil.ForwardDelivered || len(police.keys) != 1 || !strings.Contains(got.ForwardError, `"later"`) || got.Indicators != nil {
		t.Fatalf("delivered without indicators: %+v", got)
	}
	if err := f.banks.CreateBank(ctx, &vigil.Bank{Name: "later", Enabled: true}); err != nil {
		t.Fatal(err)
	}
	if err := o.Deliver(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	got, err = f.reports.FindCentreReport(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Forward != vigil.ForwardDelivered || len(police.keys) != 1 || got.ForwardError != "" || len(got.Indicators) != 1 {
		t.Fatalf("after the bank was made: %+v, %d sent", got, len(police.keys))
	}
}
