// Package storetest holds the contract tests that every Vigil store (sqlite,
// postgres) must pass, so that the stores behave the same behind the root
// package's interfaces.
//
// A store's tests call them with a function that opens fresh, empty
// services:
//
//	func TestStore(t *testing.T) {
//		storetest.TestAll(t, func(tb testing.TB) storetest.Services { … })
//	}
package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
)

// Services are the stores under test.
type Services struct {
	Banks   vigil.BankService
	Entries vigil.EntryService
	Items   vigil.ContentItemService
	Keys    vigil.KeyService

	Conversations vigil.ConversationService
	Audit         vigil.AuditService
	Signals       vigil.SignalStore
	Rules         vigil.RuleService

	// Feeds stores published feeds and subscriptions.
	Feeds interface {
		vigil.FeedService
		vigil.SubscriptionService
	}

	// Cases is the review store; SetQuarantinePolicy sets the policy its
	// automatic quarantine follows, and Feeds' quarantine on subscribers'
	// feedback (off until set).
	Cases               vigil.CaseService
	SetQuarantinePolicy func(p vigil.QuarantinePolicy)

	// Incidents stores incidents built from Cases' confirmed cases.
	Incidents   vigil.IncidentService
	Submissions vigil.SubmissionService
	// Preservation keeps legal holds and purges expired incidents.
	Preservation vigil.PreservationService
	// Lookups counts hosted lookups per key and day.
	Lookups vigil.LookupCounter
	// Exchanges keeps the state of fetches from outside exchanges.
	Exchanges vigil.ExchangeService
	// Complaints, Notices and Transparency are users' rights and the
	// published figures, over the same cases.
	Complaints   vigil.ComplaintService
	Notices      vigil.NoticeService
	Transparency vigil.TransparencyService
	// Sessions keeps review UI sessions and failed logins.
	Sessions vigil.SessionService
	// Centre stores a centre's providers and received reports.
	Centre vigil.CentreService
	// PHM keeps the private hash matching service's account state.
	PHM vigil.PHMService

	// SetNow replaces the store's clock. The tests use whole seconds, so a
	// store may keep times at any precision down to a millisecond.
	SetNow func(now func() time.Time)
}

// Opener returns services on a fresh, empty store and closes it when tb
// ends (tb.Cleanup).
type Opener func(tb testing.TB) Services

// TestAll runs every contract test.
func TestAll(t *testing.T, open Opener) {
	t.Run("BankService", func(t *testing.T) { TestBankService(t, open) })
	t.Run("EntryService", func(t *testing.T) { TestEntryService(t, open) })
	t.Run("ContentItemService", func(t *testing.T) { TestContentItemService(t, open) })
	t.Run("BankMatchRatioAndRename", func(t *testing.T) { TestBankMatchRatioAndRename(t, open) })
	t.Run("TextEntries", func(t *testing.T) { TestTextEntries(t, open) })
	t.Run("KeyService", func(t *testing.T) { TestKeyService(t, open) })
	t.Run("ConversationService", func(t *testing.T) { TestConversationService(t, open) })
	t.Run("AuditService", func(t *testing.T) { TestAuditService(t, open) })
	t.Run("AuditWithChange", func(t *testing.T) { TestAuditWithChange(t, open) })
	t.Run("SignalStore", func(t *testing.T) { TestSignalStore(t, open) })
	t.Run("RuleService", func(t *testing.T) { TestRuleService(t, open) })
	t.Run("CaseService", func(t *testing.T) { TestCaseService(t, open) })
	t.Run("ClassifierScores", func(t *testing.T) { TestClassifierScores(t, open) })
	t.Run("ClassifierStates", func(t *testing.T) { TestClassifierStates(t, open) })
	t.Run("FeedService", func(t *testing.T) { TestFeedService(t, open) })
	t.Run("SubscriptionState", func(t *testing.T) { TestSubscriptionState(t, open) })
	t.Run("IncidentService", func(t *testing.T) { TestIncidentService(t, open) })
	t.Run("SubmissionService", func(t *testing.T) { TestSubmissionService(t, open) })
	t.Run("PreservationService", func(t *testing.T) { TestPreservationService(t, open) })
	t.Run("HostedLookups", func(t *testing.T) { TestHostedLookups(t, open) })
	t.Run("ReplicaBeats", func(t *testing.T) { TestReplicaBeats(t, open) })
	t.Run("ExchangeService", func(t *testing.T) { TestExchangeService(t, open) })
	t.Run("ComplaintService", func(t *testing.T) { TestComplaintService(t, open) })
	t.Run("NoticeService", func(t *testing.T) { TestNoticeService(t, open) })
	t.Run("TransparencyService", func(t *testing.T) { TestTransparencyService(t, open) })
	t.Run("SessionService", func(t *testing.T) { TestSessionService(t, open) })
	t.Run("CentreService", func(t *testing.T) { TestCentreService(t, open) })
	t.Run("PHMService", func(t *testing.T) { TestPHMService(t, open) })
	t.Run("PHMInbox", func(t *testing.T) { TestPHMInbox(t, open) })
	t.Run("PHMInboxBatch", func(t *testing.T) { TestPHMInboxBatch(t, open) })
	t.Run("PHMKeyedHashes", func(t *testing.T) { TestPHMKeyedHashes(t, open) })
}

// Clock is a fake clock for SetNow. It starts at a fixed time and moves
// only when told.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a Clock set to 2026-01-02 03:04:05 UTC.
func NewClock() *Clock {
	return &Clock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock on by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// openWithClock opens services whose clock is a fresh Clock.
func openWithClock(t *testing.T, open Opener) (Services, *Clock) {
	t.Helper()
	s := open(t)
	c := NewClock()
	s.SetNow(c.Now)
	return s, c
}

// wantCode fails t unless err has the given vigil error code.
func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	if got := vigil.ErrorCode(err); got != code {
		t.Fatalf("error %v: code %q, want %q", err, got, code)
	}
}

// must fails t on a non-nil error.
func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// ptr returns a pointer to v, for filters and updates.
func ptr[T any](v T) *T { return &v }
