package main

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/sqlite"
)

// BenchmarkPurgePass measures one serve purge pass (expired incidents,
// then expired cases, each purge its own transaction with its audit
// record) over a store of n items whose own retention has ended.
//
//   - cases/held=0: n plain cases, all purged: the in-run baseline, the
//     case purge as it was, with preservation's checks finding nothing;
//   - cases/held=50, held=90: that share of the cases is under a legal
//     hold and must be skipped, the rest purged;
//   - incidents: n confirmed cases in n incidents, half sent 13 months
//     ago (incident and case purged), half approved and unsent (both
//     kept);
//   - incidents+facts: the same, with account facts for each incident's
//     reported user and its own intended recipient, and one recipient
//     every incident names: a purge deletes the facts only it names;
//   - drafts: n drafts nobody approved, unchanged for 13 months: each
//     discarded, then its case purged.
//
// purged/s counts what was purged, items/s every item the pass had to
// judge (the store's size).
func BenchmarkPurgePass(b *testing.B) {
	const n = 1000
	for _, held := range []int{0, 50, 90} {
		b.Run(fmt.Sprintf("cases/n=%d/held=%d", n, held), func(b *testing.B) {
			benchPurge(b, n, func(ctx context.Context, s *benchStore, i int) {
				c := s.open(b, i, false)
				if i*100 < held*n {
					s.hold(b, c)
				}
			}, n*(100-held)/100)
		})
	}
	b.Run(fmt.Sprintf("incidents/n=%d/sent=50", n), func(b *testing.B) {
		benchPurge(b, n, func(ctx context.Context, s *benchStore, i int) {
			c := s.open(b, i, true)
			inc := s.incident(b, c)
			if i%2 == 0 {
				s.finish(b, inc)
			} else {
				s.approve(b, inc)
			}
		}, n) // half the incidents and their cases
	})
	b.Run(fmt.Sprintf("incidents+facts/n=%d/sent=50", n), func(b *testing.B) {
		benchPurge(b, n, func(ctx context.Context, s *benchStore, i int) {
			c := s.open(b, i, true, fmt.Sprintf("kid-%d", i), "kid-shared")
			for _, u := range append([]string{c.Conversation.Suspect}, fmt.Sprintf("kid-%d", i), "kid-shared") {
				if _, err := s.incs.AddAccountFacts(ctx, &vigil.AccountFacts{UserID: u, ScreenName: "n-" + u,
					IPs: []vigil.IPEvent{{IP: "192.0.2.7", Event: "Login", Time: s.now}}}); err != nil {
					b.Fatal(err)
				}
			}
			inc := s.incident(b, c)
			if i%2 == 0 {
				s.finish(b, inc)
			} else {
				s.approve(b, inc)
			}
		}, n)
	})
	b.Run(fmt.Sprintf("drafts/n=%d", n), func(b *testing.B) {
		benchPurge(b, n, func(ctx context.Context, s *benchStore, i int) {
			s.incident(b, s.open(b, i, true))
		}, 2*n) // every draft discarded, then its case purged
	})
}

type benchStore struct {
	db    *sqlite.DB
	now   time.Time
	cases *sqlite.CaseService
	incs  *sqlite.IncidentService
	subs  *sqlite.SubmissionService
	pres  *sqlite.PreservationService
}

// open opens a conversation case of user-i writing to recipients ("other"
// if none are given), confirmed if asked.
func (s *benchStore) open(b *testing.B, i int, confirm bool, recipients ...string) *vigil.Case {
	ctx := context.Background()
	user := fmt.Sprintf("user-%d", i)
	if len(recipients) == 0 {
		recipients = []string{"other"}
	}
	msgs := []vigil.CaseMessage{{Speaker: user, Text: "let us keep this between us", Indicators: []string{"secrecy"}}}
	for _, r := range recipients {
		msgs = append(msgs, vigil.CaseMessage{Index: len(msgs), Speaker: r, Text: "ok"})
	}
	c := &vigil.Case{Queue: "q", Kind: vigil.CaseKindConversation, RetainUntil: s.now.Add(24 * time.Hour),
		Conversation: &vigil.CaseConversation{ConversationID: "chat-" + user, Suspect: user, Messages: msgs}}
	if err := s.cases.OpenCase(ctx, c, "rules"); err != nil {
		b.Fatal(err)
	}
	if confirm {
		var err error
		if c, err = s.cases.DecideCase(ctx, c.ID, vigil.Decision{Verdict: vigil.VerdictConfirmed, DecidedBy: "r", DecidedAt: s.now}); err != nil {
			b.Fatal(err)
		}
	}
	return c
}

func (s *benchStore) hold(b *testing.B, c *vigil.Case) {
	h := &vigil.Hold{CaseID: c.ID, Reason: "bench", Until: s.now.AddDate(2, 0, 0)}
	if err := s.pres.CreateHold(context.Background(), h, "bench"); err != nil {
		b.Fatal(err)
	}
}

func (s *benchStore) incident(b *testing.B, c *vigil.Case) *vigil.Incident {
	inc, err := vigil.NewIncident([]*vigil.Case{c})
	if err != nil {
		b.Fatal(err)
	}
	if err := s.incs.CreateIncident(context.Background(), inc, "bench"); err != nil {
		b.Fatal(err)
	}
	return inc
}

func (s *benchStore) approve(b *testing.B, inc *vigil.Incident) {
	if _, err := s.incs.ApproveIncident(context.Background(), inc.ID, "bench"); err != nil {
		b.Fatal(err)
	}
}

func (s *benchStore) finish(b *testing.B, inc *vigil.Incident) {
	ctx := context.Background()
	s.approve(b, inc)
	sub := &vigil.Submission{IncidentID: inc.ID, Destination: "ncmec", CreatedBy: "bench"}
	if err := s.subs.CreateSubmission(ctx, sub); err != nil {
		b.Fatal(err)
	}
	if _, err := s.subs.UpdateSubmission(ctx, sub.ID, func(sub *vigil.Submission) error {
		sub.State = vigil.SubmissionFinished
		return nil
	}); err != nil {
		b.Fatal(err)
	}
}

// benchPurge fills a fresh store with n items for each iteration, outside
// the timer, and times one purge pass 13 months later, which must purge
// want items (incidents and cases).
func benchPurge(b *testing.B, n int, fill func(ctx context.Context, s *benchStore, i int), want int) {
	ctx := context.Background()
	var elapsed time.Duration
	for range b.N {
		b.StopTimer()
		db, dir := mustOpenDB(b)
		s := &benchStore{db: db, now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), cases: sqlite.NewCaseService(db),
			incs: sqlite.NewIncidentService(db), subs: sqlite.NewSubmissionService(db), pres: sqlite.NewPreservationService(db)}
		db.Now = func() time.Time { return s.now }
		if err := s.cases.CreateQueue(ctx, &vigil.Queue{Name: "q"}); err != nil {
			b.Fatal(err)
		}
		for i := range n {
			fill(ctx, s, i)
		}
		store := mustOpenMedia(b, dir)
		s.now = s.now.AddDate(0, 13, 0)
		b.StartTimer()
		start := time.Now()
		ni, err := purgeExpiredIncidents(ctx, s.pres, vigil.RetentionPolicy{})
		if err != nil {
			b.Fatal(err)
		}
		nd, err := discardStaleDrafts(ctx, s.pres, vigil.RetentionPolicy{})
		if err != nil {
			b.Fatal(err)
		}
		ni += nd
		nc, err := purgeExpiredCases(ctx, s.cases, store)
		if err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(start)
		b.StopTimer()
		if ni+nc != want {
			b.Fatalf("purged %d incidents and %d cases, want %d in all", ni, nc, want)
		}
		db.Close()
	}
	secs := elapsed.Seconds()
	b.ReportMetric(float64(want*b.N)/secs, "purged/s")
	b.ReportMetric(float64(n*b.N)/secs, "items/s")
}

// BenchmarkExpiredIncidentsScan measures the hourly search for expired
// incidents in a store of n sent incidents still within their retention:
// the pass that finds nothing, which is most passes. Each candidate's
// retention is computed from its submissions, so the cost grows with n.
func BenchmarkExpiredIncidentsScan(b *testing.B) {
	for _, n := range []int{100, 1000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			ctx := context.Background()
			db, _ := mustOpenDB(b)
			s := &benchStore{db: db, now: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), cases: sqlite.NewCaseService(db),
				incs: sqlite.NewIncidentService(db), subs: sqlite.NewSubmissionService(db), pres: sqlite.NewPreservationService(db)}
			db.Now = func() time.Time { return s.now }
			if err := s.cases.CreateQueue(ctx, &vigil.Queue{Name: "q"}); err != nil {
				b.Fatal(err)
			}
			for i := range n {
				s.finish(b, s.incident(b, s.open(b, i, true)))
			}
			s.now = s.now.AddDate(0, 6, 0)
			b.ResetTimer()
			for range b.N {
				got, err := s.pres.ExpiredIncidents(ctx, vigil.RetentionPolicy{}, purgeIncidentBatch)
				if err != nil || len(got) != 0 {
					b.Fatalf("%d expired, %v", len(got), err)
				}
			}
			b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "incidents/s")
		})
	}
}
