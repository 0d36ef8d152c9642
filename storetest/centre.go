package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
)

// TestCentreService tests a vigil.CentreService: providers and their
// keys, reports stored once per provider report id with their raw body
// and digest, the duplicate candidates, the reviewers' order and
// decisions with their audit records in the same transaction.
func TestCentreService(t *testing.T, open Opener) {
	if open(t).Centre == nil {
		t.Fatal("store has no centre: every store keeps centre reports, none may skip the contract")
	}
	ctx := context.Background()
	provider := func(t *testing.T, s Services, name string) (*vigil.CentreProvider, string) {
		t.Helper()
		p := &vigil.CentreProvider{Name: name, CreatedBy: "cli"}
		secret, err := s.Centre.CreateProvider(ctx, p)
		must(t, err)
		return p, secret
	}
	report := func(p *vigil.CentreProvider, id, user string, prio int, hashes ...string) *vigil.CentreReport {
		r := &vigil.CentreReport{ProviderID: p.ID, ProviderReportID: id, Format: vigil.CentreFormatEU,
			Raw: []byte(`{"report":"` + id + `"}`), ReportedUser: user, Priority: prio, Flags: []string{}}
		for _, h := range hashes {
			r.Files = append(r.Files, vigil.CentreFile{SHA256: h, ClaimedMatches: 1})
		}
		return r
	}
	h1, h2 := strings.Repeat("a1", 32), strings.Repeat("b2", 32)

	t.Run("Providers", func(t *testing.T) {
		s := open(t)
		p, secret := provider(t, s, "example-chat")
		if p.ID == 0 || !strings.HasPrefix(secret, vigil.KeySecretPrefix) || p.Hint != vigil.KeySecretHint(secret) {
			t.Fatalf("provider %+v, secret %q", p, secret)
		}
		got, err := s.Centre.FindProviderBySecret(ctx, secret)
		must(t, err)
		if got.ID != p.ID || got.Name != "example-chat" {
			t.Fatalf("found %+v, want %+v", got, p)
		}
		_, err = s.Centre.FindProviderBySecret(ctx, secret+"x")
		wantCode(t, err, vigil.EUNAUTHORIZED)
		_, err = s.Centre.CreateProvider(ctx, &vigil.CentreProvider{Name: "example-chat", CreatedBy: "cli"})
		wantCode(t, err, vigil.ECONFLICT)
		_, err = s.Centre.CreateProvider(ctx, &vigil.CentreProvider{Name: "bad\u202e", CreatedBy: "cli"})
		wantCode(t, err, vigil.EINVALID)
		list, err := s.Centre.ListProviders(ctx)
		must(t, err)
		if len(list) != 1 {
			t.Fatalf("%d providers, want 1", len(list))
		}
	})

	t.Run("Revoke", func(t *testing.T) {
		s, clock := openWithClock(t, open)
		a, secretA := provider(t, s, "example-chat")
		b, secretB := provider(t, s, "example-photos")
		r1, _, err := s.Centre.ReceiveReport(ctx, report(a, "vigil-1", "u1", 60, h1))
		must(t, err)
		r2, _, err := s.Centre.ReceiveReport(ctx, report(b, "vigil-1", "u2", 40, h2))
		must(t, err)

		clock.Advance(time.Hour)
		rec := &vigil.AuditRecord{Actor: "key:1:admin", Action: vigil.AuditCentreProviderRevoke, Target: a.Actor()}
		got, err := s.Centre.RevokeProvider(vigil.WithAudit(ctx, rec), "example-chat", "key:1:admin")
		must(t, err)
		if got.ID != a.ID || got.RevokedAt == nil || !got.RevokedAt.Equal(clock.Now()) {
			t.Fatalf("revoked %+v", got)
		}
		// At once: the key is refused, saying why, and only that key.
		_, err = s.Centre.FindProviderBySecret(ctx, secretA)
		wantCode(t, err, vigil.EFORBIDDEN)
		if msg := vigil.ErrorMessage(err); !strings.Contains(msg, "revoked") || !strings.Contains(msg, "example-chat") {
			t.Errorf("revoked key's error %q", msg)
		}
		if other, err := s.Centre.FindProviderBySecret(ctx, secretB); err != nil || other.ID != b.ID {
			t.Fatalf("the other provider after a revocation: %+v %v", other, err)
		}
		// No new report, nor a resend, is stored from it.
		_, _, err = s.Centre.ReceiveReport(ctx, report(a, "vigil-2", "u1", 60))
		wantCode(t, err, vigil.EFORBIDDEN)
		_, _, err = s.Centre.ReceiveReport(ctx, report(a, "vigil-1", "u1", 60, h1))
		wantCode(t, err, vigil.EFORBIDDEN)
		// Its reports stay, marked, in the queue and the lists.
		found, err := s.Centre.FindCentreReport(ctx, r1.ID)
		must(t, err)
		if found.Provider != "example-chat" || found.ProviderRevokedAt == nil || !found.ProviderRevokedAt.Equal(clock.Now()) || string(found.Raw) != string(r1.Raw) {
			t.Fatalf("report of the revoked provider %+v", found)
		}
		if other, err := s.Centre.FindCentreReport(ctx, r2.ID); err != nil || other.ProviderRevokedAt != nil {
			t.Fatalf("report of the other provider %+v %v", other, err)
		}
		list, err := s.Centre.ListCentreReports(ctx, vigil.CentreFilter{ProviderID: a.ID})
		must(t, err)
		if len(list) != 1 || list[0].ID != r1.ID || list[0].ProviderRevokedAt == nil {
			t.Fatalf("revoked provider's reports %+v", list)
		}
		next, err := s.Centre.NextCentreReport(ctx)
		must(t, err)
		if next.ID != r1.ID || next.ProviderRevokedAt == nil {
			t.Fatalf("next report %+v, want %d marked", next, r1.ID)
		}
		// Decided, it stays marked.
		decided, err := s.Centre.DecideCentreReport(ctx, r1.ID, vigil.CentreDecision{Status: vigil.CentreUnfounded, Reason: "sent with a leaked key"}, "key:3:reviewer")
		must(t, err)
		if decided.ProviderRevokedAt == nil {
			t.Fatalf("decided %+v", decided)
		}
		providers, err := s.Centre.ListProviders(ctx)
		must(t, err)
		if len(providers) != 2 || providers[0].RevokedAt == nil || providers[1].RevokedAt != nil {
			t.Fatalf("providers %+v", providers)
		}

		// Refused changes write no audit record.
		_, err = s.Centre.RevokeProvider(vigil.WithAudit(ctx, &vigil.AuditRecord{Actor: "cli", Action: vigil.AuditCentreProviderRevoke, Target: a.Actor()}), "example-chat", "cli")
		wantCode(t, err, vigil.ECONFLICT)
		_, err = s.Centre.RevokeProvider(ctx, "nobody", "cli")
		wantCode(t, err, vigil.ENOTFOUND)
		_, err = s.Centre.RevokeProvider(ctx, "example-photos", "")
		wantCode(t, err, vigil.EINVALID)
		_, _, err = s.Centre.ReinstateProvider(ctx, "example-photos", "cli")
		wantCode(t, err, vigil.ECONFLICT)

		// Reinstated with a new key; the revoked one stays refused.
		clock.Advance(time.Hour)
		rec = &vigil.AuditRecord{Actor: "cli", Action: vigil.AuditCentreProviderReinstate, Target: a.Actor()}
		back, secret, err := s.Centre.ReinstateProvider(vigil.WithAudit(ctx, rec), "example-chat", "cli")
		must(t, err)
		if back.ID != a.ID || back.RevokedAt != nil || secret == secretA || back.Hint != vigil.KeySecretHint(secret) || !strings.HasPrefix(secret, vigil.KeySecretPrefix) {
			t.Fatalf("reinstated %+v, secret %q", back, secret)
		}
		_, err = s.Centre.FindProviderBySecret(ctx, secretA)
		wantCode(t, err, vigil.EUNAUTHORIZED)
		if p, err := s.Centre.FindProviderBySecret(ctx, secret); err != nil || p.ID != a.ID {
			t.Fatalf("new key: %+v %v", p, err)
		}
		if found, err := s.Centre.FindCentreReport(ctx, r1.ID); err != nil || found.ProviderRevokedAt != nil {
			t.Fatalf("report after reinstatement %+v %v", found, err)
		}
		_, _, err = s.Centre.ReceiveReport(ctx, report(a, "vigil-2", "u1", 60))
		must(t, err)

		log, err := s.Audit.ListAudit(ctx, 0, 100)
		must(t, err)
		var acts []string
		for _, r := range log {
			acts = append(acts, r.Action+" "+r.Target)
		}
		want := vigil.AuditCentreProviderRevoke + " " + a.Actor() + "," + vigil.AuditCentreProviderReinstate + " " + a.Actor()
		if strings.Join(acts, ",") != want {
			t.Fatalf("audit log %v, want %s", acts, want)
		}
	})

	t.Run("ReceiveOnce", func(t *testing.T) {
		s := open(t)
		p, _ := provider(t, s, "a")
		r := report(p, "vigil-1", "u1", 50, h1)
		rec := &vigil.AuditRecord{Actor: p.Actor(), Action: vigil.AuditCentreReceive, Target: "centre_report:new"}
		rec.Complete = func(rec *vigil.AuditRecord) error {
			rec.Target = vigil.CentreAuditTarget(r.ID)
			return nil
		}
		got, created, err := s.Centre.ReceiveReport(vigil.WithAudit(ctx, rec), r)
		must(t, err)
		sum := sha256.Sum256(r.Raw)
		if !created || got.ID == 0 || got.Status != vigil.CentreReceived || got.Digest != hex.EncodeToString(sum[:]) || got.Provider != "a" {
			t.Fatalf("received %+v, created %v", got, created)
		}
		again, created, err := s.Centre.ReceiveReport(ctx, report(p, "vigil-1", "u1", 90, h2))
		must(t, err)
		if created || again.ID != got.ID || again.Priority != 50 {
			t.Fatalf("resend: %+v created %v, want report %d unchanged", again, created, got.ID)
		}
		found, err := s.Centre.FindCentreReport(ctx, got.ID)
		must(t, err)
		if string(found.Raw) != string(r.Raw) || len(found.Files) != 1 || found.Files[0].SHA256 != h1 {
			t.Fatalf("stored %+v raw %q", found, found.Raw)
		}
		log, err := s.Audit.ListAudit(ctx, 0, 100)
		must(t, err)
		if len(log) != 1 || log[0].Target != vigil.CentreAuditTarget(got.ID) {
			t.Fatalf("audit log %+v, want one receipt of report %d", log, got.ID)
		}
		_, err = s.Centre.FindCentreReport(ctx, got.ID+1)
		wantCode(t, err, vigil.ENOTFOUND)
		_, _, err = s.Centre.ReceiveReport(ctx, report(p, "", "u1", 1))
		wantCode(t, err, vigil.EINVALID)
		_, _, err = s.Centre.ReceiveReport(ctx, report(&vigil.CentreProvider{ID: p.ID + 5}, "x", "u1", 1))
		wantCode(t, err, vigil.ENOTFOUND)
	})

	t.Run("EarlierAndQueue", func(t *testing.T) {
		s := open(t)
		a, _ := provider(t, s, "a")
		b, _ := provider(t, s, "b")
		r1, _, err := s.Centre.ReceiveReport(ctx, report(a, "1", "u1", 40, h1))
		must(t, err)
		r2, _, err := s.Centre.ReceiveReport(ctx, report(b, "1", "u9", 80, h2))
		must(t, err)
		r3, _, err := s.Centre.ReceiveReport(ctx, report(a, "2", "u2", 80))
		must(t, err)
		// The same provider and user, or a shared file: linked. Another
		// provider's user of the same id is someone else.
		got, err := s.Centre.EarlierReports(ctx, []string{h2}, a.ID, "u1")
		must(t, err)
		if len(got) != 2 || got[0] != (vigil.EarlierReport{ID: r1.ID, SameUser: true}) || got[1] != (vigil.EarlierReport{ID: r2.ID}) {
			t.Fatalf("earlier %v, want [{%d true} {%d false}]", got, r1.ID, r2.ID)
		}
		// A report sharing a file and the user is one, about the user.
		got, err = s.Centre.EarlierReports(ctx, []string{h1}, a.ID, "u1")
		must(t, err)
		if len(got) != 1 || got[0] != (vigil.EarlierReport{ID: r1.ID, SameUser: true}) {
			t.Fatalf("earlier by file and user %v", got)
		}
		got, err = s.Centre.EarlierReports(ctx, nil, b.ID, "u1")
		must(t, err)
		if len(got) != 0 {
			t.Fatalf("earlier %v, want none", got)
		}
		next, err := s.Centre.NextCentreReport(ctx)
		must(t, err)
		if next.ID != r2.ID {
			t.Fatalf("next %d, want %d (priority 80, older than %d)", next.ID, r2.ID, r3.ID)
		}
		list, err := s.Centre.ListCentreReports(ctx, vigil.CentreFilter{ProviderID: a.ID})
		must(t, err)
		if len(list) != 2 || list[0].ID != r1.ID || list[1].ID != r3.ID {
			t.Fatalf("provider a's reports: %d", len(list))
		}
		page, err := s.Centre.ListCentreReports(ctx, vigil.CentreFilter{AfterID: r1.ID, Limit: 1})
		must(t, err)
		if len(page) != 1 || page[0].ID != r2.ID {
			t.Fatalf("page after %d: %+v", r1.ID, page)
		}
	})

	t.Run("Decide", func(t *testing.T) {
		s := open(t)
		p, _ := provider(t, s, "a")
		r, _, err := s.Centre.ReceiveReport(ctx, report(p, "1", "u1", 40, h1))
		must(t, err)
		_, err = s.Centre.DecideCentreReport(ctx, r.ID, vigil.CentreDecision{Status: vigil.CentreUnfounded}, "key:2:rev")
		wantCode(t, err, vigil.EINVALID)
		asked, err := s.Centre.DecideCentreReport(ctx, r.ID, vigil.CentreDecision{Status: vigil.CentreMoreInfo, Message: "send the upload time"}, "key:2:rev")
		must(t, err)
		if asked.Status != vigil.CentreMoreInfo || asked.Feedback().Message != "send the upload time" {
			t.Fatalf("asked %+v", asked)
		}
		_, err = s.Centre.NextCentreReport(ctx)
		wantCode(t, err, vigil.ENOTFOUND)
		_, err = s.Centre.UpdateCentreForward(ctx, r.ID, func(r *vigil.CentreReport) error { r.Forward = vigil.ForwardDelivered; return nil })
		wantCode(t, err, vigil.ECONFLICT)
		rec := &vigil.AuditRecord{Actor: "key:2:rev", Action: vigil.AuditCentreDecide, Target: vigil.CentreAuditTarget(r.ID)}
		fwd, err := s.Centre.DecideCentreReport(vigil.WithAudit(ctx, rec), r.ID,
			vigil.CentreDecision{Status: vigil.CentreForwarded, ForwardTo: "police"}, "key:2:rev")
		must(t, err)
		if fwd.Status != vigil.CentreForwarded || fwd.DecidedBy != "key:2:rev" || fwd.DecidedAt == nil || fwd.ForwardedTo != "police" {
			t.Fatalf("forwarded %+v", fwd)
		}
		_, err = s.Centre.DecideCentreReport(ctx, r.ID, vigil.CentreDecision{Status: vigil.CentreUnfounded, Reason: "late"}, "key:2:rev")
		wantCode(t, err, vigil.ECONFLICT)
		// The forward is recorded with the decision: pending, with a key
		// of its own that every attempt carries.
		if fwd.Forward != vigil.ForwardPending || !strings.HasPrefix(fwd.ForwardKey, "vigil-forward-") || len(fwd.ForwardAttempts) != 0 {
			t.Fatalf("forward as decided: %q key %q attempts %d", fwd.Forward, fwd.ForwardKey, len(fwd.ForwardAttempts))
		}
		started := time.Now().UTC().Truncate(time.Second)
		tried, err := s.Centre.UpdateCentreForward(ctx, r.ID, func(r *vigil.CentreReport) error {
			r.ForwardAttempts = append(r.ForwardAttempts, vigil.SubmissionAttempt{Step: "deliver", Started: started})
			// What a delivery may not change is not stored.
			r.Status, r.ForwardedTo, r.ForwardKey, r.Reason = vigil.CentreUnfounded, "elsewhere", "other", "changed"
			return nil
		})
		must(t, err)
		if tried.Status != vigil.CentreForwarded || tried.ForwardedTo != "police" || tried.ForwardKey != fwd.ForwardKey || tried.Reason != "" ||
			len(tried.ForwardAttempts) != 1 || tried.ForwardAttempts[0].Replied {
			t.Fatalf("after an attempt's start %+v", tried)
		}
		_, err = s.Centre.UpdateCentreForward(ctx, r.ID, func(r *vigil.CentreReport) error { r.Forward = "lost"; return nil })
		wantCode(t, err, vigil.EINVALID)
		_, err = s.Centre.UpdateCentreForward(ctx, r.ID, func(r *vigil.CentreReport) error { r.ForwardRetries = -1; return nil })
		wantCode(t, err, vigil.EINVALID)
		_, err = s.Centre.UpdateCentreForward(ctx, r.ID, func(r *vigil.CentreReport) error {
			return vigil.Errorf(vigil.EUNAVAILABLE, "stop")
		})
		wantCode(t, err, vigil.EUNAVAILABLE)
		deliveredRec := &vigil.AuditRecord{Actor: "jobs", Action: vigil.AuditCentreForward, Target: vigil.CentreAuditTarget(r.ID)}
		done, err := s.Centre.UpdateCentreForward(vigil.WithAudit(ctx, deliveredRec), r.ID, func(r *vigil.CentreReport) error {
			a := &r.ForwardAttempts[len(r.ForwardAttempts)-1]
			a.Replied, a.HTTPStatus, a.Reply = true, 202, "filed"
			r.Forward, r.Indicators = vigil.ForwardDelivered, []int64{7}
			return nil
		})
		must(t, err)
		if done.Forward != vigil.ForwardDelivered || len(done.Indicators) != 1 || done.Status != vigil.CentreForwarded ||
			!done.ForwardAttempts[0].Replied || done.ForwardAttempts[0].HTTPStatus != 202 || !done.ForwardAttempts[0].Started.Equal(started) {
			t.Fatalf("after forward %+v", done)
		}
		again, err := s.Centre.FindCentreReport(ctx, r.ID)
		must(t, err)
		if again.Forward != vigil.ForwardDelivered || len(again.ForwardAttempts) != 1 || again.ForwardKey != fwd.ForwardKey {
			t.Fatalf("stored forward %+v", again)
		}
		if fb, _ := json.Marshal(again.Feedback()); strings.Contains(string(fb), "police") || strings.Contains(string(fb), fwd.ForwardKey) ||
			strings.Contains(string(fb), "filed") || again.Feedback().Status != vigil.CentreForwarded {
			t.Errorf("the provider's view shows the forward's details: %s", fb)
		}
		log, err := s.Audit.ListAudit(ctx, 0, 100)
		must(t, err)
		if len(log) != 2 || log[0].Action != vigil.AuditCentreDecide || log[1].Action != vigil.AuditCentreForward {
			t.Fatalf("audit log %+v, want the forward's decision and its delivery", log)
		}
		// A decision whose audit record cannot be written is not made.
		r2, _, err := s.Centre.ReceiveReport(ctx, report(p, "2", "u1", 40))
		must(t, err)
		bad := &vigil.AuditRecord{Actor: "key:2:rev", Action: vigil.AuditCentreDecide, Target: vigil.CentreAuditTarget(r2.ID),
			Complete: func(*vigil.AuditRecord) error { return vigil.Errorf(vigil.EINTERNAL, "audit refused") }}
		_, err = s.Centre.DecideCentreReport(vigil.WithAudit(ctx, bad), r2.ID,
			vigil.CentreDecision{Status: vigil.CentreUnfounded, Reason: "no content"}, "key:2:rev")
		if err == nil {
			t.Fatal("decision made without its audit record")
		}
		still, err := s.Centre.FindCentreReport(ctx, r2.ID)
		must(t, err)
		if still.Status != vigil.CentreReceived {
			t.Fatalf("report %d is %s after a failed audit, want received", r2.ID, still.Status)
		}
	})
}
