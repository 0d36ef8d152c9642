package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
)

// TestSessionService checks review UI sessions and failed-login counts:
// expiry (idle and absolute), use recorded at most once a minute, the
// per-key cap, revocation, the counters, the login's audit record in the
// session's transaction, and the failed-login window.
func TestSessionService(t *testing.T, open Opener) {
	ctx := context.Background()
	newKey := func(t *testing.T, s Services, name string) *vigil.Key {
		t.Helper()
		k := &vigil.Key{Name: name, Role: vigil.RoleReviewer, CreatedBy: "test"}
		_, err := s.Keys.CreateKey(ctx, k)
		must(t, err)
		return k
	}
	n := 0
	newSession := func(t *testing.T, s Services, k *vigil.Key) *vigil.Session {
		t.Helper()
		n++
		sess := &vigil.Session{ID: vigil.SessionID(fmt.Sprintf("token-%d", n)), KeyID: k.ID}
		must(t, s.Sessions.CreateSession(ctx, sess))
		return sess
	}

	t.Run("Expiry", func(t *testing.T) {
		every := func(d time.Duration, n int) []time.Duration {
			out := make([]time.Duration, n)
			for i := range out {
				out[i] = d
			}
			return out
		}
		tests := []struct {
			name  string
			steps []time.Duration // gaps between uses after login
			live  bool
		}{
			{"used now", []time.Duration{0}, true},
			{"idle just under the limit", []time.Duration{vigil.SessionIdle - time.Second}, true},
			{"idle past the limit", []time.Duration{vigil.SessionIdle + time.Second}, false},
			{"kept alive by use", every(20*time.Minute, 3), true},
			// Used every 20 minutes it never idles out, but ends at the
			// absolute limit.
			{"absolute limit", every(20*time.Minute, int(vigil.SessionMaxAge/(20*time.Minute))+1), false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				s, clock := openWithClock(t, open)
				k := newKey(t, s, "r")
				sess := newSession(t, s, k)
				if !sess.CreatedAt.Equal(clock.Now()) || !sess.ExpiresAt.Equal(clock.Now().Add(vigil.SessionMaxAge)) {
					t.Fatalf("created %+v", sess)
				}
				var err error
				for _, d := range tt.steps {
					clock.Advance(d)
					if _, err = s.Sessions.FindSession(ctx, sess.ID); err != nil {
						break
					}
				}
				if live := err == nil; live != tt.live {
					t.Fatalf("live = %v (%v), want %v", live, err, tt.live)
				}
				if err != nil {
					wantCode(t, err, vigil.ENOTFOUND)
				}
			})
		}
	})

	t.Run("FindAndTouch", func(t *testing.T) {
		s, clock := openWithClock(t, open)
		k := newKey(t, s, "r")
		sess := newSession(t, s, k)
		login := clock.Now()
		clock.Advance(30 * time.Second)
		got, err := s.Sessions.FindSession(ctx, sess.ID)
		must(t, err)
		if got.KeyID != k.ID || got.Key == nil || got.Key.ID != k.ID || got.Key.Role != vigil.RoleReviewer || got.Key.Name != "r" {
			t.Fatalf("found %+v with key %+v", got, got.Key)
		}
		// Not recorded on every use: half a minute on, the use at login stands.
		if !got.LastSeenAt.Equal(login) {
			t.Fatalf("last seen %v after 30 s, want the login's %v (use recorded at most once a minute)", got.LastSeenAt, login)
		}
		clock.Advance(31 * time.Second)
		got, err = s.Sessions.FindSession(ctx, sess.ID)
		must(t, err)
		if !got.LastSeenAt.Equal(clock.Now()) {
			t.Fatalf("last seen %v after 61 s, want %v", got.LastSeenAt, clock.Now())
		}
		// And it was stored: idle is measured from there.
		clock.Advance(vigil.SessionIdle - time.Second)
		_, err = s.Sessions.FindSession(ctx, sess.ID)
		must(t, err)

		for _, id := range []string{"", "nope", strings.Repeat("A", 64), vigil.SessionID("never made")} {
			_, err := s.Sessions.FindSession(ctx, id)
			wantCode(t, err, vigil.ENOTFOUND)
		}
		wantCode(t, s.Sessions.CreateSession(ctx, &vigil.Session{ID: "short", KeyID: k.ID}), vigil.EINVALID)
	})

	t.Run("Counters", func(t *testing.T) {
		s, clock := openWithClock(t, open)
		sess := newSession(t, s, newKey(t, s, "r"))
		for range 3 {
			must(t, s.Sessions.CountDecision(ctx, sess.ID))
		}
		clock.Advance(5 * time.Minute)
		must(t, s.Sessions.TakeBreak(ctx, sess.ID))
		must(t, s.Sessions.CountDecision(ctx, sess.ID))
		got, err := s.Sessions.FindSession(ctx, sess.ID)
		must(t, err)
		if got.Decided != 4 || got.SinceBreak != 1 || !got.BreakFrom.Equal(clock.Now()) {
			t.Fatalf("after 3 decisions, a break and 1 more: %+v", got)
		}
	})

	t.Run("PerKeyCap", func(t *testing.T) {
		s, clock := openWithClock(t, open)
		k, other := newKey(t, s, "r"), newKey(t, s, "o")
		theirs := newSession(t, s, other)
		var mine []*vigil.Session
		for range vigil.MaxSessionsPerKey + 2 {
			clock.Advance(time.Second)
			mine = append(mine, newSession(t, s, k))
		}
		for i, sess := range mine {
			_, err := s.Sessions.FindSession(ctx, sess.ID)
			if oldest := i < 2; oldest != (err != nil) {
				t.Fatalf("session %d of %d: %v; want the 2 oldest ended by the cap of %d", i, len(mine), err, vigil.MaxSessionsPerKey)
			}
		}
		_, err := s.Sessions.FindSession(ctx, theirs.ID)
		must(t, err) // another key's session is untouched
	})

	t.Run("Revocation", func(t *testing.T) {
		s, _ := openWithClock(t, open)
		k, admin := newKey(t, s, "r"), newKey(t, s, "admin")
		a, b := newSession(t, s, k), newSession(t, s, k)
		_, err := s.Keys.RevokeKey(ctx, k.ID, "admin")
		must(t, err)
		// Ended at once by the revocation, whatever the sessions table says.
		for _, sess := range []*vigil.Session{a, b} {
			_, err := s.Sessions.FindSession(ctx, sess.ID)
			wantCode(t, err, vigil.ENOTFOUND)
		}
		n, err := s.Sessions.DeleteKeySessions(ctx, k.ID)
		must(t, err)
		if n != 2 {
			t.Fatalf("deleted %d sessions of the revoked key, want 2", n)
		}
		// No new session for a revoked key.
		wantCode(t, s.Sessions.CreateSession(ctx, &vigil.Session{ID: vigil.SessionID("late"), KeyID: k.ID}), vigil.EUNAUTHORIZED)

		c := newSession(t, s, admin)
		must(t, s.Sessions.DeleteSession(ctx, c.ID))
		_, err = s.Sessions.FindSession(ctx, c.ID)
		wantCode(t, err, vigil.ENOTFOUND)
		must(t, s.Sessions.DeleteSession(ctx, c.ID)) // twice is no error
	})

	t.Run("AuditedLogin", func(t *testing.T) {
		s, _ := openWithClock(t, open)
		k := newKey(t, s, "r")
		rec := &vigil.AuditRecord{Actor: k.Actor(), Action: vigil.AuditLogin, Target: k.Actor(), Detail: `{"via":"ui"}`}
		sess := &vigil.Session{ID: vigil.SessionID("audited"), KeyID: k.ID}
		actx := vigil.WithAudit(ctx, rec)
		must(t, s.Sessions.CreateSession(actx, sess))
		if vigil.PendingAudit(actx) != nil {
			t.Fatal("the login's record is still pending: not stored with the session")
		}
		// A refused session leaves no record.
		_, err := s.Keys.RevokeKey(ctx, k.ID, "admin")
		must(t, err)
		refused := &vigil.AuditRecord{Actor: k.Actor(), Action: vigil.AuditLogin, Target: k.Actor(), Detail: `{"via":"ui"}`}
		rctx := vigil.WithAudit(ctx, refused)
		wantCode(t, s.Sessions.CreateSession(rctx, &vigil.Session{ID: vigil.SessionID("refused"), KeyID: k.ID}), vigil.EUNAUTHORIZED)
		if vigil.PendingAudit(rctx) == nil {
			t.Fatal("a refused session's record was stored")
		}
		n, brk, err := s.Audit.VerifyAudit(ctx)
		must(t, err)
		if n != 1 || brk != nil {
			t.Fatalf("audit log: %d records, break %+v; want the one login", n, brk)
		}
	})

	t.Run("LoginFailures", func(t *testing.T) {
		s, clock := openWithClock(t, open)
		allowed := func(addr string) (bool, time.Duration) {
			t.Helper()
			ok, wait, err := s.Sessions.LoginAllowed(ctx, addr)
			must(t, err)
			return ok, wait
		}
		for i := range vigil.LoginBurst {
			if ok, _ := allowed("10.0.0.1"); !ok {
				t.Fatalf("refused after %d failures", i)
			}
			must(t, s.Sessions.LoginFailed(ctx, "10.0.0.1"))
			clock.Advance(time.Second)
		}
		ok, wait := allowed("10.0.0.1")
		if ok || wait <= 0 || wait > vigil.LoginWindow-4*time.Second {
			t.Fatalf("after the burst: allowed %v, wait %v; want refused until the window (from the first failure) ends", ok, wait)
		}
		if ok, _ := allowed("10.0.0.2"); !ok {
			t.Fatal("another address was limited")
		}
		clock.Advance(wait)
		if ok, _ := allowed("10.0.0.1"); !ok {
			t.Fatal("still refused after the window")
		}
		// A new window counts from one again.
		must(t, s.Sessions.LoginFailed(ctx, "10.0.0.1"))
		if ok, _ := allowed("10.0.0.1"); !ok {
			t.Fatal("one failure in a new window refused")
		}
		// Long addresses are counted by their first MaxLoginAddrLen bytes.
		long := strings.Repeat("f", vigil.MaxLoginAddrLen)
		for i := range vigil.LoginBurst {
			must(t, s.Sessions.LoginFailed(ctx, long+fmt.Sprint(i)))
		}
		if ok, _ := allowed(long + "x"); ok {
			t.Fatal("an over-long address escaped the limit by varying its tail")
		}
	})
}
