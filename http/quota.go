package http

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-oss/vigil"
)

// DefaultLookupFlush is how often a server adds the lookups it counted to
// the store's daily totals (Server.LookupFlush).
const DefaultLookupFlush = time.Second

// quotas hold each key's token bucket and its share of the daily lookup
// count on this replica. Both are shared through the store
// (vigil.LookupCounter), neither with a round trip per request.
//
// The rate: every flush the replica beats in the store and learns how
// many replicas beat within the last replicaLive flushes; its bucket
// refills at a key's rate divided by that number and holds the burst
// divided likewise (at least one). Behind a balancer that spreads load
// evenly the replicas together admit what one would; uneven load
// under-admits (a replica's unused share is not lent to the others), and
// a replica joining or stopping is counted or forgotten at the others'
// next flush, one that dies after replicaLive flushes (see README,
// "Offering hosted lookups").
//
// The daily count: each replica admits against the total it last read
// plus what it admitted since, and adds its admissions to the total every
// flush. A replica therefore cannot see what the others admitted since
// their last flush, and a key may overshoot its daily quota by what the
// other replicas admit in one flush interval; with one replica the quota
// is exact.
type quotas struct {
	counter  vigil.LookupCounter // nil: counts and daily quotas are per process
	defaults vigil.KeyLimits     // for lookup keys without limits of their own
	now      func() time.Time
	logger   *slog.Logger

	mu   sync.Mutex
	keys map[int64]*keyQuota
	// carried are counts of a day that ended before they were flushed.
	carried []vigil.LookupCount

	lookups *prometheus.CounterVec
	refused *prometheus.CounterVec

	day atomic.Pointer[dayName] // the last day named, to name it once

	// replica names this process in the store's replica beats; replicas
	// is how many were live at the last beat (0 before the first: one).
	replica  string
	replicas atomic.Int64
	live     time.Duration // a replica silent longer is not counted
}

// replicaLive is how many flush intervals a replica may miss before the
// others stop counting it: one missed or slow flush does not double the
// others' shares.
const replicaLive = 3

// dayName is a UTC day's number since the Unix epoch and its name.
type dayName struct {
	n    int64
	name string
}

// today returns vigil.LookupDay(now), formatted once a day.
func (q *quotas) today(now time.Time) string {
	n := now.Unix() / 86400
	if now.Unix() < 0 && now.Unix()%86400 != 0 {
		n--
	}
	if d := q.day.Load(); d != nil && d.n == n {
		return d.name
	}
	d := &dayName{n, vigil.LookupDay(now)}
	q.day.Store(d)
	return d.name
}

// keyQuota is one key's state on this replica.
type keyQuota struct {
	mu     sync.Mutex
	tokens float64
	filled time.Time // when tokens was last topped up
	day    string
	// base is the store's total for day when last read; pending counts
	// what this replica admitted since and has not yet added to it.
	base, pending int64
	loaded        bool // base was read for day
	// lookups is the key's vigil_lookups_total, looked up once.
	lookups prometheus.Counter
}

func newQuotas(reg prometheus.Registerer) *quotas {
	q := &quotas{keys: map[int64]*keyQuota{}, now: time.Now, logger: slog.New(slog.DiscardHandler),
		replica: newReplicaName(), live: replicaLive * DefaultLookupFlush}
	q.lookups = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vigil_lookups_total",
		Help: "Signals looked up through POST /v1/lookup, by key id.",
	}, []string{"key"})
	q.refused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "vigil_lookups_refused_total",
		Help: "Lookup requests refused with 429, by key id and the limit they hit (rate, daily).",
	}, []string{"key", "limit"})
	replicas := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "vigil_lookup_replicas",
		Help: "Replicas live in the store at this replica's last beat, that lookup keys' rate limits are divided among.",
	}, func() float64 { return float64(q.share()) })
	reg.MustRegister(q.lookups, q.refused, replicas)
	return q
}

// newReplicaName returns a name for this process's replica beats: its
// host and a random suffix, unique across restarts.
func newReplicaName() string {
	host, _ := os.Hostname()
	if len(host) > 40 {
		host = host[:40]
	}
	return host + "-" + rand.Text()[:16]
}

// share returns the number of replicas a key's rate is divided among.
func (q *quotas) share() int64 { return max(q.replicas.Load(), 1) }

// limits returns the limits that apply to k: its own, else the default
// for lookup keys; nil for none.
func (q *quotas) limits(k *vigil.Key) *vigil.KeyLimits {
	if k.Limits != nil {
		return k.Limits
	}
	if k.Role == vigil.RoleLookup {
		return &q.defaults
	}
	return nil
}

func (q *quotas) key(id int64) *keyQuota {
	q.mu.Lock()
	defer q.mu.Unlock()
	kq := q.keys[id]
	if kq == nil {
		kq = &keyQuota{}
		q.keys[id] = kq
	}
	return kq
}

// refusal says why a lookup was refused and when to try again.
type refusal struct {
	limit string // rate or daily
	msg   string
	after time.Duration
}

// admit counts n signals of a request by k, or says why it may not be
// made now. n == 0 only checks: a request that would be refused whatever
// it holds is refused before its body is read.
func (q *quotas) admit(ctx context.Context, k *vigil.Key, n int) *refusal {
	if q == nil {
		return nil // the benchmarks' baseline
	}
	lim := q.limits(k)
	now := q.now()
	kq := q.key(k.ID)
	kq.mu.Lock()
	defer kq.mu.Unlock()
	day := q.today(now)
	if kq.day != day {
		if kq.pending > 0 {
			q.carry(vigil.LookupCount{KeyID: k.ID, Day: kq.day, Lookups: kq.pending})
		}
		kq.day, kq.base, kq.pending, kq.loaded = day, 0, 0, false
	}
	var rate, daily *refusal
	if lim != nil && lim.Rate > 0 {
		// This replica's share of the key's rate and burst.
		n := float64(q.share())
		r, burst := lim.Rate/n, max(math.Floor(float64(max(lim.Burst, 1))/n), 1)
		if kq.filled.IsZero() {
			kq.tokens = burst
		} else if dt := now.Sub(kq.filled).Seconds(); dt > 0 {
			kq.tokens = min(burst, kq.tokens+dt*r)
		} else {
			kq.tokens = min(burst, kq.tokens) // the share shrank
		}
		kq.filled = now
		if kq.tokens < 1 {
			rate = &refusal{limit: "rate", msg: fmt.Sprintf("key %d may make %g lookups per second (burst %d)", k.ID, lim.Rate, lim.Burst),
				after: time.Duration((1 - kq.tokens) / r * float64(time.Second))}
		}
	}
	if lim != nil && lim.Daily > 0 {
		if !kq.loaded && q.counter != nil {
			// The first lookup of the day on this replica reads what the
			// others counted, so that a restart or a new replica does not
			// start the day again from zero.
			counts, err := q.counter.LookupCounts(ctx, day, day, k.ID)
			if err != nil {
				q.logger.Warn("read daily lookup count", "key", k.ID, "err", err)
			} else {
				kq.loaded = true
				for _, c := range counts {
					kq.base = c.Lookups
				}
			}
		}
		if used := kq.base + kq.pending; used+int64(max(n, 1)) > lim.Daily {
			u := now.UTC()
			midnight := time.Date(u.Year(), u.Month(), u.Day()+1, 0, 0, 0, 0, time.UTC)
			msg := fmt.Sprintf("key %d may look up %d signals per UTC day; %d are left today", k.ID, lim.Daily, max(lim.Daily-used, 0))
			if n > 0 { // 0: refused before the body is read
				msg += fmt.Sprintf(" and this request has %d", n)
			}
			daily = &refusal{limit: "daily", after: midnight.Sub(now), msg: msg}
		}
	}
	if rate != nil || daily != nil {
		r := rate
		if daily != nil && (r == nil || daily.after > r.after) {
			r = daily
		}
		q.refused.WithLabelValues(strconv.FormatInt(k.ID, 10), r.limit).Inc()
		return r
	}
	if n == 0 {
		return nil
	}
	if lim != nil && lim.Rate > 0 {
		kq.tokens--
	}
	kq.pending += int64(n)
	if kq.lookups == nil {
		kq.lookups = q.lookups.WithLabelValues(strconv.FormatInt(k.ID, 10))
	}
	kq.lookups.Add(float64(n))
	return nil
}

func (q *quotas) carry(c vigil.LookupCount) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.carried = append(q.carried, c)
}

// flush adds what this replica counted to the store's totals and reads
// the totals back, for the keys it counted for.
func (q *quotas) flush(ctx context.Context) error {
	if q.counter == nil {
		return nil
	}
	// The beat first: a store that cannot take it keeps the last count of
	// replicas, and the counts are still tried.
	var beatErr error
	if n, err := q.counter.BeatReplica(ctx, q.replica, q.now(), q.live); err != nil {
		beatErr = fmt.Errorf("replica beat: %w", err)
	} else {
		q.replicas.Store(int64(n))
	}
	if err := q.flushCounts(ctx); err != nil {
		return errors.Join(beatErr, err)
	}
	return beatErr
}

// flushCounts adds what this replica counted to the store's totals and
// reads the totals back.
func (q *quotas) flushCounts(ctx context.Context) error {
	// Never q.mu while holding a key's lock: admit takes them the other
	// way round.
	q.mu.Lock()
	counts := q.carried
	q.carried = nil
	keys := make(map[int64]*keyQuota, len(q.keys))
	for id, kq := range q.keys {
		keys[id] = kq
	}
	q.mu.Unlock()
	type taken struct {
		kq  *keyQuota
		day string
		n   int64
	}
	var took []taken
	for id, kq := range keys {
		kq.mu.Lock()
		if kq.pending > 0 {
			counts = append(counts, vigil.LookupCount{KeyID: id, Day: kq.day, Lookups: kq.pending})
			took = append(took, taken{kq, kq.day, kq.pending})
		}
		kq.mu.Unlock()
	}
	carried := len(counts) - len(took)
	var totals []vigil.LookupCount
	if len(counts) > 0 {
		var err error
		if totals, err = q.counter.AddLookups(ctx, counts); err != nil {
			// Kept for the next flush: carried ones as they were.
			q.mu.Lock()
			q.carried = append(q.carried, counts[:carried]...)
			q.mu.Unlock()
			return fmt.Errorf("flush lookup counts: %w", err)
		}
	}
	for i, t := range took {
		t.kq.mu.Lock()
		if t.kq.day == t.day {
			// Admitted while the flush ran stays pending.
			t.kq.pending -= t.n
			t.kq.base, t.kq.loaded = totals[carried+i].Lookups, true
		} else {
			// The day turned during the flush: the key moved its pending
			// (this flush's included) to carried; take this flush's out.
			q.uncarry(totals[carried+i].KeyID, t.day, t.n)
		}
		t.kq.mu.Unlock()
	}
	// What the other replicas added, for the keys this one has seen
	// today, whether or not it counted any since its last flush: without
	// it a key idle here for a while would be admitted against an old
	// total.
	day := vigil.LookupDay(q.now())
	today, err := q.counter.LookupCounts(ctx, day, day, 0)
	if err != nil {
		return fmt.Errorf("read lookup counts: %w", err)
	}
	for _, c := range today {
		kq := keys[c.KeyID]
		if kq == nil {
			continue
		}
		kq.mu.Lock()
		if kq.day == day && kq.loaded {
			// Never back: a total read before a concurrent flush of ours.
			kq.base = max(kq.base, c.Lookups)
		}
		kq.mu.Unlock()
	}
	return nil
}

// uncarry removes n from the carried count of key id and day: flushed
// already.
func (q *quotas) uncarry(id int64, day string, n int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i := range q.carried {
		if c := &q.carried[i]; c.KeyID == id && c.Day == day {
			c.Lookups -= n
			return
		}
	}
}

// start flushes once, so that this replica is counted and counts the
// others before it admits anything, then runs the flushes every interval
// until ctx ends; done is closed after the last.
func (q *quotas) start(ctx context.Context, interval time.Duration, done chan<- struct{}) {
	q.live = replicaLive * interval
	fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	if err := q.flush(fctx); err != nil {
		q.logger.Warn("first flush of lookup counts", "err", err)
	}
	cancel()
	go func() {
		defer close(done)
		q.run(ctx, interval)
	}()
}

// run flushes every interval until ctx ends, then once more.
func (q *quotas) run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
			defer cancel()
			if err := q.flush(fctx); err != nil {
				q.logger.Error("last flush of lookup counts", "err", err)
			}
			// The others take this replica's share back at their next
			// beat, not after the live window.
			if err := q.counter.ForgetReplica(fctx, q.replica); err != nil {
				q.logger.Warn("forget this replica's beat", "err", err)
			}
			return
		case <-t.C:
			if err := q.flush(ctx); err != nil && ctx.Err() == nil {
				q.logger.Warn("flush lookup counts", "err", err)
			}
		}
	}
}

// writeRefusal answers 429 with Retry-After in whole seconds, rounded up:
// a client that waits that long finds a token, or the new day.
func writeRefusal(w http.ResponseWriter, r *refusal) {
	secs := max(int64(math.Ceil(r.after.Seconds())), 1)
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
	code := "rate_limited"
	if r.limit == "daily" {
		code = "quota_exceeded"
	}
	writeErrorBody(w, http.StatusTooManyRequests, code, r.msg)
}

// shown returns results as a hosted lookup may see them: each match cut
// to its bank's reveal level (vigil.Reveal.Shown).
func shown(results []vigil.MatchResult) []vigil.MatchResult {
	cut := func(ms []vigil.Match) []vigil.Match {
		if ms == nil {
			return nil
		}
		out := make([]vigil.Match, len(ms))
		for i, m := range ms {
			out[i] = m.Reveal.Shown(m)
		}
		return out
	}
	out := make([]vigil.MatchResult, len(results))
	for i, res := range results {
		out[i] = vigil.MatchResult{Signal: res.Signal, Matches: cut(res.Matches), SuppressedBy: cut(res.SuppressedBy),
			Suppressed: cut(res.Suppressed), Skipped: res.Skipped}
	}
	return out
}

// maxLookupDays bounds the days of one GET /v1/lookups.
const maxLookupDays = 366

// handleLookupCounts answers GET /v1/lookups: the per-key daily lookup
// counts, for transparency figures. ?from= and ?to= (YYYY-MM-DD, UTC;
// default today) bound the days, ?key_id= picks one key. What this
// replica counted since its last flush is not yet in them.
func (s *Server) handleLookupCounts(w http.ResponseWriter, r *http.Request) {
	if s.Lookups == nil {
		writeError(w, r, vigil.Errorf(vigil.EUNSUPPORTED, "this server keeps no lookup counts"))
		return
	}
	q := r.URL.Query()
	today := vigil.LookupDay(time.Now())
	from, to := q.Get("from"), q.Get("to")
	if from == "" {
		from = today
	}
	if to == "" {
		to = today
	}
	f, err1 := time.Parse(vigil.LookupDayLayout, from)
	t, err2 := time.Parse(vigil.LookupDayLayout, to)
	if err1 != nil || err2 != nil || t.Before(f) || t.Sub(f) > maxLookupDays*24*time.Hour {
		writeError(w, r, badRequest("from and to must be days (YYYY-MM-DD), from first, at most %d days apart", maxLookupDays))
		return
	}
	var keyID int64
	if v := q.Get("key_id"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			writeError(w, r, badRequest("key_id must be a positive integer, got %q", v))
			return
		}
		keyID = n
	}
	counts, err := s.Lookups.LookupCounts(r.Context(), from, to, keyID)
	if err != nil {
		writeError(w, r, err)
		return
	}
	if counts == nil {
		counts = []vigil.LookupCount{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"counts": counts})
}
