package http

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/phm"
	phmserver "github.com/vigil-oss/vigil/phm/server"
)

// MaxPHMBatch bounds the vouchers of one POST /v1/phm/vouchers: the body
// is at most MaxPHMBatch times the voucher size.
const MaxPHMBatch = 16

// phmResponse is the body of POST /v1/phm/vouchers. It is the same for
// every well-formed batch of the same length, whatever the vouchers did:
// the platform relaying them learns nothing of a match from it.
type phmResponse struct {
	Received int `json:"received"`
}

// handlePHMVouchers receives an account's vouchers from the platform: the
// body is one or more constant-size vouchers back to back (opaque bytes,
// application/octet-stream), the account is the request's user_id. The
// batch is stored in the service's inbox, and answered once stored (503,
// for any batch alike, if the inbox is full or the store fails); the
// service's worker then gives each to the PHM service (phm/server), as
// the route itself does when the service has no inbox: one that opens is counted in
// its own transaction with its audit record; past the threshold the
// account's matching payloads are opened, re-checked on the server and
// sent to review as one case. The answer is 202 and {"received": n} for
// every well-formed batch: a voucher that matched, one that did not, a
// replay, and one whose processing failed (logged and counted in
// vigil_phm_voucher_errors_total, never answered differently) all look
// the same. Only bytes that are not vouchers (a wrong length, a wrong
// version byte) are refused, and that refusal depends on the bytes alone,
// never on the table.
func (s *Server) handlePHMVouchers(w http.ResponseWriter, r *http.Request) {
	if s.PHM == nil {
		writeError(w, r, vigil.Errorf(vigil.EUNSUPPORTED, "this server runs no private hash matching service (vigil serve --phm-table)"))
		return
	}
	if !s.phmReady.Load() {
		// Until StartPHM (the indexes of the second check loaded, what an
		// earlier run revealed handed on), every voucher waits alike.
		writeError(w, r, vigil.Errorf(vigil.EUNAVAILABLE, "the private hash matching service is starting"))
		return
	}
	ref, err := platformIDs(r)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if err := vigil.ValidatePHMAccount(ref.UserID); err != nil {
		writeError(w, r, badRequest("user_id names the account the vouchers came from: %v", vigil.ErrorMessage(err)))
		return
	}
	params := s.PHM.Params()
	size := params.VoucherSize()
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, int64(size*MaxPHMBatch)))
	if err != nil {
		writeError(w, r, err)
		return
	}
	if len(data) == 0 || len(data)%size != 0 {
		writeError(w, r, badRequest("the body must be 1 to %d vouchers of %d bytes each, got %d bytes", MaxPHMBatch, size, len(data)))
		return
	}
	n := len(data) / size
	// Every voucher is parsed before any is opened: a batch is refused
	// whole or taken whole, and the refusal cannot depend on an opening.
	for i := range n {
		if _, err := phm.ParseVoucher(data[i*size:(i+1)*size], params); err != nil {
			writeError(w, r, badRequest("voucher %d of %d: %v", i+1, n, err))
			return
		}
	}
	// A client that hangs up does not stop a batch half-way: its vouchers
	// are the device's, which cannot send them again.
	ctx := context.WithoutCancel(r.Context())
	if s.PHM.Inbox != nil {
		// Stored, not processed: the answer waits for the batch's commit
		// to the inbox, whose cost depends on the batch's length alone;
		// the service's worker opens the vouchers after (phm/server's
		// Run). Full or failing, the inbox refuses the batch whole, for
		// every batch alike, and nothing of it is kept: the platform
		// sends it again.
		vouchers := make([][]byte, n)
		for i := range n {
			vouchers[i] = data[i*size : (i+1)*size]
		}
		if err := s.PHM.Receive(ctx, ref.UserID, vouchers); err != nil {
			if vigil.ErrorCode(err) != vigil.EUNAVAILABLE {
				s.Logger.Error("phm inbox", "account", ref.UserID, "vouchers", n, "err", err)
				err = vigil.Errorf(vigil.EUNAVAILABLE, "the vouchers could not be stored; send them again")
			}
			writeError(w, r, err)
			return
		}
		s.metrics.phmReceived.Add(float64(n))
		// The worker starts on them only once the answer is sent, whole
		// (its length given, so that the client has it all with the
		// flush): woken before, its opening would share the CPU with the
		// answer's last bytes, whose time would depend on the vouchers
		// again. The bytes are writeJSON's.
		body, _ := json.Marshal(phmResponse{Received: n}) // an int: cannot fail
		body = append(body, '\n')
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(http.StatusAccepted)
		w.Write(body)
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		s.PHM.Wake()
		return
	}
	// Without an inbox each voucher is processed before the answer, whose
	// time then says what the vouchers did (README).
	for i := range n {
		if _, err := s.PHM.Submit(ctx, ref.UserID, data[i*size:(i+1)*size]); err != nil {
			s.metrics.phmErrors.Inc()
			s.Logger.Error("phm voucher", "account", ref.UserID, "err", err)
		}
	}
	s.metrics.phmReceived.Add(float64(n))
	writeJSON(w, http.StatusAccepted, phmResponse{Received: n})
}

// StartPHM readies POST /v1/phm/vouchers: it hands to the detection flow
// what an earlier run revealed but did not hand on (phm/server's Resume),
// starts the inbox's worker (phm/server's Run, which stops when ctx
// ends), then lets vouchers in. Call it once the matcher's indexes are loaded
// (the second check needs them); until then the route answers 503.
func (s *Server) StartPHM(ctx context.Context) error {
	if s.PHM == nil {
		return nil
	}
	n, err := s.PHM.Resume(ctx)
	if err != nil {
		return fmt.Errorf("resume PHM: %w", err)
	}
	if n > 0 {
		s.Logger.Info("phm: handed on vouchers revealed before the restart", "count", n)
	}
	if s.PHM.Inbox != nil {
		// Registered once, should StartPHM be called again.
		if err := s.metrics.reg.Register(phmInboxCollector{s.PHM.Inbox}); err != nil && !errors.As(err, new(prometheus.AlreadyRegisteredError)) {
			return fmt.Errorf("PHM inbox metrics: %w", err)
		}
		// The worker takes what the inbox holds, from before a restart
		// too, until ctx ends.
		go func() {
			if err := s.PHM.Run(ctx); err != nil {
				s.Logger.Error("phm inbox worker", "err", err)
			}
		}()
	}
	s.phmReady.Store(true)
	return nil
}

var (
	phmConfirmedDesc = prometheus.NewDesc("vigil_phm_items_confirmed_total",
		"Items revealed by recovered PHM accounts that the second, server-only check (PDQ ≤ 31 on the derivative) confirmed and sent to review.", nil, nil)
	phmRejectedDesc = prometheus.NewDesc("vigil_phm_items_rejected_total",
		"Items revealed by recovered PHM accounts that the second check refused (false matches of the exact table, crafted collisions): never shown as matches.", nil, nil)
	phmKeyedRefusedDesc = prometheus.NewDesc("vigil_phm_items_keyed_refused_total",
		"Revealed PHM items that passed PDQ and the re-encode but that the keyed second hash refused against an entry's listed picture (counted in vigil_phm_items_rejected_total too).", nil, nil)
	phmUnkeyedRefusedDesc = prometheus.NewDesc("vigil_phm_items_unkeyed_refused_total",
		"Revealed PHM items that passed PDQ and the re-encode but were refused because no matched entry has a keyed hash under the service's key (strict mode; counted in vigil_phm_items_rejected_total too).", nil, nil)
	phmUnopenedDesc = prometheus.NewDesc("vigil_phm_payloads_unopened_total",
		"Revealed PHM payloads the review key did not open (sealed to another review key).", nil, nil)
)

// phmCollector reads the PHM service's counts at scrape time.
type phmCollector struct{ s *phmserver.Service }

func (c phmCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- phmConfirmedDesc
	ch <- phmRejectedDesc
	ch <- phmKeyedRefusedDesc
	ch <- phmUnkeyedRefusedDesc
	ch <- phmUnopenedDesc
}

func (c phmCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.s.Stats
	if st == nil {
		return
	}
	ch <- prometheus.MustNewConstMetric(phmConfirmedDesc, prometheus.CounterValue, float64(st.Confirmed()))
	ch <- prometheus.MustNewConstMetric(phmRejectedDesc, prometheus.CounterValue, float64(st.Rejected()))
	ch <- prometheus.MustNewConstMetric(phmKeyedRefusedDesc, prometheus.CounterValue, float64(st.KeyedRefused()))
	ch <- prometheus.MustNewConstMetric(phmUnkeyedRefusedDesc, prometheus.CounterValue, float64(st.UnkeyedRefused()))
	ch <- prometheus.MustNewConstMetric(phmUnopenedDesc, prometheus.CounterValue, float64(st.Unopened()))
}

var (
	phmInboxDepthDesc = prometheus.NewDesc("vigil_phm_inbox_vouchers",
		"PHM vouchers received and stored, not yet processed.", nil, nil)
	phmInboxBytesDesc = prometheus.NewDesc("vigil_phm_inbox_bytes",
		"Bytes of the PHM vouchers waiting in the inbox.", nil, nil)
	phmInboxProcessedDesc = prometheus.NewDesc("vigil_phm_inbox_processed_total",
		"PHM vouchers taken from the inbox and processed, dropped ones included.", nil, nil)
	phmInboxDroppedDesc = prometheus.NewDesc("vigil_phm_inbox_dropped_total",
		"PHM vouchers dropped from the inbox as malformed after all.", nil, nil)
	phmInboxRetriedDesc = prometheus.NewDesc("vigil_phm_inbox_retries_total",
		"Failed attempts at PHM vouchers left in the inbox to be tried again (store errors).", nil, nil)
	phmInboxFullDesc = prometheus.NewDesc("vigil_phm_inbox_full_total",
		"Batches of PHM vouchers refused with 503 because the inbox was full.", nil, nil)
	phmHandOffFailedDesc = prometheus.NewDesc("vigil_phm_handoff_failures_total",
		"Hand-offs of revealed PHM vouchers to the detection flow that failed and wait for a retry.", nil, nil)
	phmHandedOnDesc = prometheus.NewDesc("vigil_phm_handoff_retried_total",
		"Revealed PHM vouchers handed to the detection flow by a retry (after a failed hand-off, or from before a restart).", nil, nil)
)

// phmInboxCollector reads the PHM inbox's depth (from the store) and its
// worker's counts at scrape time.
type phmInboxCollector struct{ in *phmserver.Inbox }

func (c phmInboxCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{phmInboxDepthDesc, phmInboxBytesDesc, phmInboxProcessedDesc, phmInboxDroppedDesc,
		phmInboxRetriedDesc, phmInboxFullDesc, phmHandOffFailedDesc, phmHandedOnDesc} {
		ch <- d
	}
}

func (c phmInboxCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if n, b, err := c.in.Depth(ctx); err == nil {
		ch <- prometheus.MustNewConstMetric(phmInboxDepthDesc, prometheus.GaugeValue, float64(n))
		ch <- prometheus.MustNewConstMetric(phmInboxBytesDesc, prometheus.GaugeValue, float64(b))
	}
	for _, m := range []struct {
		d *prometheus.Desc
		v int64
	}{{phmInboxProcessedDesc, c.in.Processed()}, {phmInboxDroppedDesc, c.in.Dropped()}, {phmInboxRetriedDesc, c.in.Retried()},
		{phmInboxFullDesc, c.in.Full()}, {phmHandOffFailedDesc, c.in.HandOffFailures()}, {phmHandedOnDesc, c.in.HandedOn()}} {
		ch <- prometheus.MustNewConstMetric(m.d, prometheus.CounterValue, float64(m.v))
	}
}
