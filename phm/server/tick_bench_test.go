package server

import (
	"context"
	"crypto/rand"
	"fmt"
	"testing"
	"time"

	vigil "github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/internal/cputime"
	"github.com/vigil-oss/vigil/phm"
	"github.com/vigil-oss/vigil/phm/client"
	"github.com/vigil-oss/vigil/respond"
	"github.com/vigil-oss/vigil/sqlite"
)

// BenchmarkTick measures one tick of the hand-off grid (tick.go) at the
// default parameters (t = 30: a quantum of 31 payloads) on SQLite, with
// the matcher over a bank of the listed pictures and the detection flow
// opening cases (respond.Service on the same store):
//
//   - idle: nothing due, the whole quantum on dummies: the worker's cost
//     per tick when nothing happens (per second at the default 1 s grid);
//   - crossing: the tick after an account's batch crossed its threshold
//     (recovery, t + 1 payloads, the case opened), the account made off
//     the clock;
//
// in turns (idle, crossing, idle, …) so that both see the same load. It
// reports process CPU and wall time per tick; crossing − idle is what
// the case work (respond: the case, its media) adds, which the quantum
// cannot fake.
// The keyed second hash is off (with it, the dummies compute and read
// one a payload, as a match does).
func BenchmarkTick(b *testing.B) {
	ctx := context.Background()
	p := phm.DefaultParams
	rw := newReviewWorld(b, p.T+1)
	db, cases, rules, data, keys, m := rw.db, rw.cases, rw.rules, rw.data, rw.keys, rw.matcher
	f, s := newFixture(b, p, 0, keys...)
	s.Store = sqlite.NewPHMService(db)
	s.Banks = m
	s.Respond = &respond.Service{Rules: rules, Cases: cases, Media: &benchMedia{}}
	s.Inbox = NewInbox(s.Store.(vigil.PHMInbox), 0)
	contents := make([]*client.Content, len(data))
	for i, d := range data {
		contents[i] = prepare(b, d)
	}
	if _, err := s.tick(ctx); err != nil { // the dummies made, off the clock
		b.Fatal(err)
	}
	n := 0
	// cross makes an account whose next tick recovers it, off the clock.
	cross := func(b *testing.B) {
		acct, err := client.NewAccount(rand.Reader, p, 0)
		if err != nil {
			b.Fatal(err)
		}
		vs := make([][]byte, len(contents))
		for i, c := range contents {
			if vs[i], err = acct.NewVoucher(f.tbl, s.Review.PublicKey(), c, "att", rand.Reader); err != nil {
				b.Fatal(err)
			}
		}
		n++
		if err := s.Receive(ctx, fmt.Sprintf("bench-%d", n), vs); err != nil {
			b.Fatal(err)
		}
		if _, err := s.drain(ctx); err != nil {
			b.Fatal(err)
		}
	}
	for round := range 3 {
		for _, kind := range []string{"idle", "crossing"} {
			b.Run(fmt.Sprintf("%s/round%d", kind, round+1), func(b *testing.B) {
				var cpu, wall time.Duration
				for range b.N {
					if kind == "crossing" {
						cross(b)
					}
					before := s.Inbox.HandedOn()
					start, c0 := time.Now(), cputime.Process()
					got, err := s.tick(ctx)
					cpu += cputime.Process() - c0
					wall += time.Since(start)
					if err != nil {
						b.Fatal(err)
					}
					if want := map[string]int{"idle": 0, "crossing": p.T + 1}[kind]; got != want {
						b.Fatalf("%s tick handed on %d, want %d (%d before)", kind, got, want, before)
					}
				}
				b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/tick")
				b.ReportMetric(float64(wall.Microseconds())/float64(b.N), "wall-µs/tick")
			})
		}
	}
}

// benchMedia is a media store that keeps nothing: ids for as many cases
// as a benchmark opens.
type benchMedia struct{ n int }

func (m *benchMedia) Put(_ context.Context, data []byte) (string, error) {
	m.n++
	return fmt.Sprintf("m%d", m.n), nil
}

func (m *benchMedia) Get(context.Context, string) ([]byte, error) { return nil, nil }

func (m *benchMedia) Delete(context.Context, string) error { return nil }
