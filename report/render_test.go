package report_test

import (
	"context"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/report"
)

// TestRenderRefusesPurged checks that no format renders a purged
// incident: each rendering starts from report.Facts, which refuses it, so
// the API, the UI, the CLI and a submission refuse it alike.
func TestRenderRefusesPurged(t *testing.T) {
	ctx := context.Background()
	inc := approved(imageryIncident(t))
	purged := vigil.PurgedIncident(inc, t0.AddDate(1, 1, 0))
	// No store: the refusal comes before any account fact is read.
	_, err := report.Render(ctx, nil, nil, purged, cfg)
	wantPurged(t, "ncmec", err)
	_, err = report.RenderDSAIncident(ctx, nil, purged, dsaCfg, t0)
	wantPurged(t, "dsa", err)
	_, err = (&report.EU{Config: euCfg, Now: func() time.Time { return renderedAt }}).Render(ctx, nil, purged)
	wantPurged(t, "eu", err)
	for _, d := range []report.Destination{&report.NCMEC{Config: cfg, Validator: &report.Validator{}}, &report.DSA{Config: dsaCfg}, &report.Webhook{EU: &report.EU{Config: euCfg}}} {
		_, err := d.Render(ctx, nil, purged)
		wantPurged(t, d.Name(), err)
	}
}

func wantPurged(t *testing.T, format string, err error) {
	t.Helper()
	if vigil.ErrorCode(err) != vigil.ECONFLICT {
		t.Errorf("%s rendering of a purged incident: %v, want a conflict saying it was purged", format, err)
	}
}
