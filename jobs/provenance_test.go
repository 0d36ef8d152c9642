package jobs_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/provenance"
	"github.com/vigil-oss/vigil/provenance/c2patest"
	"github.com/vigil-oss/vigil/sqlite"
)

// A content job's upload that declares an AI source in its XMP opens a
// case carrying the indication, as POST /v1/match does.
func TestContentJobGenerativeAI(t *testing.T) {
	e := mustOpenEnv(t)
	img := c2patest.XMPPNG(gradientPNG(t, 5), c2patest.XMP(c2patest.TrainedAlgorithmicMedia))
	e.listImage(t, img)
	flow := newFlow(t, e)
	cfg := e.config(nil)
	r, err := provenance.NewReader(provenance.Options{})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Hashing.Provenance = r
	c := mustOpenClient(t, cfg, false)
	c.OnContent(flow.Match)
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	j, err := c.SubmitContent(context.Background(), bytes.NewReader(img), vigil.ContentJobOptions{ContentID: "post-1", UserID: "u-1"})
	if err != nil {
		t.Fatal(err)
	}
	if got := waitJob(t, c, j.ID); got.State != vigil.JobCompleted {
		t.Fatalf("job %+v", got)
	}
	ids := caseIDs(t, e)
	if len(ids) != 1 {
		t.Fatalf("cases %v", ids)
	}
	cs, err := sqlite.NewCaseService(e.db).FindCase(context.Background(), ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if g := cs.Content.GenerativeAI; g == nil || g.Source != vigil.GenerativeAIXMP || g.DigitalSourceType != "trainedAlgorithmicMedia" {
		t.Fatalf("case content %+v", cs.Content)
	}
}
