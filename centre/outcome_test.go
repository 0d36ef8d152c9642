package centre_test

import (
	"context"
	"testing"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/centre"
	"github.com/vigil-oss/vigil/centre/intake"
)

// forwarder records deliveries and fails while down is set.
type forwarder struct {
	down bool
	keys []string
}

func (f *forwarder) Forward(ctx context.Context, key string, body []byte) error {
	if f.down {
		return vigil.Errorf(vigil.EUNAVAILABLE, "police intake: http 503")
	}
	f.keys = append(f.keys, key)
	return nil
}

func TestOutcomeForwardAndIndicators(t *testing.T) {
	ctx := context.Background()
	known := hashOf("known picture")
	f := newCentreFixture(t, known)
	indicators := &vigil.Bank{Name: "centre-new", Enabled: true}
	if err := f.banks.CreateBank(ctx, indicators); err != nil {
		t.Fatal(err)
	}
	police := &forwarder{down: true}
	o := &centre.Outcome{Reports: f.reports, Destinations: map[string]centre.Forwarder{"police": police},
		IndicatorBank: "centre-new", Banks: f.banks, Entries: f.entries}
	newFile := hashOf("new picture")
	r, _, err := f.triage.Receive(ctx, f.prov, "r1", &intake.Parsed{Format: "eu", ReportedUser: "u1",
		Files: []vigil.CentreFile{{SHA256: known, ClaimedMatches: 1}, {SHA256: newFile}}}, []byte(`{"a":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if err := o.Check(vigil.CentreDecision{Status: vigil.CentreForwarded, ForwardTo: "interpol"}); vigil.ErrorCode(err) != vigil.EINVALID {
		t.Fatalf("forward to an unconfigured destination: %v", err)
	}
	if _, err := o.Decide(ctx, r.ID, vigil.CentreDecision{Status: vigil.CentreForwarded, ForwardTo: "police"}, "key:4:reviewer"); err != nil {
		t.Fatal(err)
	}
	// The destination is down: the decision stands, the failure is kept,
	// no indicator is made yet.
	got, err := o.Deliver(ctx, r.ID, "key:4:reviewer")
	if vigil.ErrorCode(err) != vigil.EUNAVAILABLE || got == nil || got.Forward == "delivered" || len(got.Indicators) != 0 {
		t.Fatalf("failed delivery: %+v %v", got, err)
	}
	police.down = false
	got, err = o.Deliver(ctx, r.ID, "key:4:reviewer")
	if err != nil || got.Forward != "delivered" || len(got.Indicators) != 1 {
		t.Fatalf("delivery: %+v %v", got, err)
	}
	e, err := f.entries.FindEntryByID(ctx, got.Indicators[0])
	if err != nil {
		t.Fatal(err)
	}
	if e.Value != newFile || e.SignalType != vigil.SignalSHA256 || e.Source != "centre" || e.SourceEntryID != "report-1" || e.BankID != indicators.ID {
		t.Fatalf("indicator %+v", e)
	}
	// Delivering again (a reviewer retrying) sends the same key and makes
	// no second indicator.
	again, err := o.Deliver(ctx, r.ID, "key:4:reviewer")
	if err != nil || len(again.Indicators) != 1 || len(police.keys) != 2 || police.keys[0] != police.keys[1] {
		t.Fatalf("second delivery: %+v %v keys %v", again, err, police.keys)
	}
	// A flagged report teaches the lists nothing.
	flagged, _, err := f.triage.Receive(ctx, f.prov, "r2", &intake.Parsed{Format: "eu", ReportedUser: "u2",
		Files: []vigil.CentreFile{{SHA256: hashOf("claimed"), ClaimedMatches: 1}, {SHA256: hashOf("other new")}}}, []byte(`{"b":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.Decide(ctx, flagged.ID, vigil.CentreDecision{Status: vigil.CentreForwarded, ForwardTo: "police"}, "key:4:reviewer"); err != nil {
		t.Fatal(err)
	}
	if got, err := o.Deliver(ctx, flagged.ID, "key:4:reviewer"); err != nil || len(got.Indicators) != 0 {
		t.Fatalf("flagged report's indicators: %+v %v", got, err)
	}
	// Only forwarded reports are delivered.
	closed, _, err := f.triage.Receive(ctx, f.prov, "r3", &intake.Parsed{Format: "eu"}, []byte(`{"c":1}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.Decide(ctx, closed.ID, vigil.CentreDecision{Status: vigil.CentreUnfounded, Reason: "no content"}, "key:4:reviewer"); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Deliver(ctx, closed.ID, "key:4:reviewer"); vigil.ErrorCode(err) != vigil.ECONFLICT {
		t.Fatalf("deliver a closed report: %v", err)
	}
}
