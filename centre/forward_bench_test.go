package centre_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/centre"
	"github.com/vigil-oss/vigil/centre/intake"
	"github.com/vigil-oss/vigil/report"
)

// BenchmarkForward measures forwards delivered against a law-enforcement
// intake on loopback: baseline is the signed POST alone
// (report.Webhook.Forward), durable is the forward job's whole run
// (Outcome.Deliver: the attempt stored before the request, the reply and
// state stored with their audit record after it), on the SQLite store.
// Each iteration forwards a report decided beforehand.
func BenchmarkForward(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusAccepted)
	}))
	defer srv.Close()
	hook := &report.Webhook{URL: srv.URL, Secret: []byte("0123456789abcdef-police"), Client: srv.Client()}
	body := []byte(`{"centre_report_id":1,"report":{}}`)
	b.Run("baseline", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if _, _, err := hook.Forward(context.Background(), fmt.Sprintf("key-%d", i), body); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("durable", func(b *testing.B) {
		ctx := context.Background()
		f := newCentreFixture(b)
		o := &centre.Outcome{Reports: f.reports, Destinations: map[string]centre.Forwarder{"police": hook}, Queue: &queue{}}
		ids := make([]int64, 0, b.N)
		decide := func(n int) {
			for i := range n {
				r, _, err := f.triage.Receive(ctx, f.prov, fmt.Sprintf("r-%d-%d", len(ids), i), &intake.Parsed{Format: "eu",
					Files: []vigil.CentreFile{{SHA256: hashOf(fmt.Sprint(len(ids), i))}}}, []byte(`{}`))
				if err != nil {
					b.Fatal(err)
				}
				if _, err := o.Decide(ctx, r.ID, vigil.CentreDecision{Status: vigil.CentreForwarded, ForwardTo: "police"}, "key:4:reviewer"); err != nil {
					b.Fatal(err)
				}
				ids = append(ids, r.ID)
			}
		}
		next := 0
		for b.Loop() {
			if next == len(ids) {
				b.StopTimer()
				decide(100)
				b.StartTimer()
			}
			if err := o.Deliver(ctx, ids[next]); err != nil {
				b.Fatal(err)
			}
			next++
		}
	})
}
