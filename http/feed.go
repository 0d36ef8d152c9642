package http

import (
	"context"
	"net/http"
	"strconv"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/feed"
)

// feedLog returns the server's feed log, or an error when it publishes none.
func (s *Server) feedLog() (*feed.Log, error) {
	if s.Feeds == nil {
		return nil, vigil.Errorf(vigil.ENOTFOUND, "this server publishes no feeds")
	}
	return &feed.Log{Feeds: s.Feeds}, nil
}

// handleFeedHead serves a feed's signed head, a note.
func (s *Server) handleFeedHead(w http.ResponseWriter, r *http.Request) {
	l, err := s.feedLog()
	if err != nil {
		writeError(w, r, err)
		return
	}
	head, err := l.Head(r.Context(), r.PathValue("name"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeNote(w, head)
}

// handleFeedBatch serves a signed batch, with its inclusion proof in the
// tree the query's "tree" names.
func (s *Server) handleFeedBatch(w http.ResponseWriter, r *http.Request) {
	l, err := s.feedLog()
	if err != nil {
		writeError(w, r, err)
		return
	}
	n, err1 := strconv.ParseInt(r.PathValue("n"), 10, 64)
	tree, err2 := strconv.ParseInt(r.URL.Query().Get("tree"), 10, 64)
	if err1 != nil || err2 != nil {
		writeError(w, r, badRequest("batch number and tree size must be numbers"))
		return
	}
	msg, proof, err := l.Batch(r.Context(), r.PathValue("name"), n, tree)
	if err != nil {
		writeError(w, r, err)
		return
	}
	w.Header().Set(feed.ProofHeader, strings.ReplaceAll(strings.TrimSuffix(string(feed.FormatProof(proof)), "\n"), "\n", ","))
	writeNote(w, msg)
}

// handleFeedProof serves the consistency proof between two tree sizes.
func (s *Server) handleFeedProof(w http.ResponseWriter, r *http.Request) {
	l, err := s.feedLog()
	if err != nil {
		writeError(w, r, err)
		return
	}
	q := r.URL.Query()
	old, err1 := strconv.ParseInt(q.Get("old"), 10, 64)
	n, err2 := strconv.ParseInt(q.Get("new"), 10, 64)
	if err1 != nil || err2 != nil {
		writeError(w, r, badRequest("old and new must be numbers"))
		return
	}
	p, err := l.Proof(r.Context(), r.PathValue("name"), old, n)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeNote(w, feed.FormatProof(p))
}

func writeNote(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
}

// feedbackRequest is the body of POST /v1/feeds/{name}/feedback.
type feedbackRequest struct {
	Opinions []vigil.FeedOpinion `json:"opinions"`
}

// handleFeedFeedback stores a subscriber's review counts of feed entries,
// under the reporting key's name.
func (s *Server) handleFeedFeedback(w http.ResponseWriter, r *http.Request) {
	if s.Feeds == nil {
		writeError(w, r, vigil.Errorf(vigil.ENOTFOUND, "this server publishes no feeds"))
		return
	}
	var req feedbackRequest
	if err := decodeJSON(w, r, &req); err != nil {
		writeError(w, r, err)
		return
	}
	f, err := s.Feeds.FindFeedByName(r.Context(), r.PathValue("name"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	var stored int
	err = s.change(r, auditRecord(r, vigil.AuditFeedFeedback, "feed:"+f.Name, nil), func(ctx context.Context) error {
		var err error
		stored, err = s.Feeds.RecordFeedback(ctx, f.ID, actor(r), req.Opinions)
		return err
	})
	if err != nil {
		writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"stored": stored})
}

// handleListFeedFeedback lists the feedback on a feed's entries, summed
// over subscribers, a page at a time.
func (s *Server) handleListFeedFeedback(w http.ResponseWriter, r *http.Request) {
	if s.Feeds == nil {
		writeError(w, r, vigil.Errorf(vigil.ENOTFOUND, "this server publishes no feeds"))
		return
	}
	p, err := readPage(r.URL.Query(), entryPages)
	if err != nil {
		writeError(w, r, err)
		return
	}
	f, err := s.Feeds.FindFeedByName(r.Context(), r.PathValue("name"))
	if err != nil {
		writeError(w, r, err)
		return
	}
	items, err := s.Feeds.FeedFeedback(r.Context(), f.ID, p.afterID, p.limit)
	if err != nil {
		writeError(w, r, err)
		return
	}
	writePage(w, "feedback", items, nextAfter(p, items, func(e vigil.FeedEntryFeedback) int64 { return e.EntryID }))
}

// failingSubscriptions returns the ids of the subscriptions whose last
// sync failed (nil when there are none or they cannot be read).
func (s *Server) failingSubscriptions(ctx context.Context) []int64 {
	if s.Subscriptions == nil {
		return nil
	}
	subs, err := s.Subscriptions.ListSubscriptions(ctx)
	if err != nil {
		s.Logger.Error("list subscriptions", "err", err)
		return nil
	}
	var ids []int64
	for _, sub := range subs {
		if sub.Error != "" {
			ids = append(ids, sub.ID)
		}
	}
	return ids
}

var (
	feedAppliedDesc = prometheus.NewDesc("vigil_feed_batches_applied", "Batches applied from a subscribed feed, by subscription.", []string{"subscription", "feed"}, nil)
	feedFailingDesc = prometheus.NewDesc("vigil_feed_sync_failing", "1 if the subscription's last sync failed (the error is in vigil feed list), else 0.", []string{"subscription", "feed"}, nil)
)

// subscriptionCollector reads the subscriptions' state at scrape time.
type subscriptionCollector struct{ subs vigil.SubscriptionService }

func (c subscriptionCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- feedAppliedDesc
	ch <- feedFailingDesc
}

func (c subscriptionCollector) Collect(ch chan<- prometheus.Metric) {
	subs, err := c.subs.ListSubscriptions(context.Background())
	if err != nil {
		return
	}
	for _, sub := range subs {
		id := strconv.FormatInt(sub.ID, 10)
		failing := 0.0
		if sub.Error != "" {
			failing = 1
		}
		ch <- prometheus.MustNewConstMetric(feedAppliedDesc, prometheus.GaugeValue, float64(sub.Applied), id, sub.Feed)
		ch <- prometheus.MustNewConstMetric(feedFailingDesc, prometheus.GaugeValue, failing, id, sub.Feed)
	}
}
