package storetest

import (
	"context"
	"testing"

	"github.com/vigil-oss/vigil"
)

// TestSubscriptionState checks a subscription made with its bank in one
// transaction, and pausing, resuming and removing it.
func TestSubscriptionState(t *testing.T, open Opener) {
	ctx := context.Background()
	s := open(t)
	const key = "k+00000000+AAAA"

	// An invalid subscription leaves no bank behind.
	b := &vigil.Bank{Name: "peer", Enabled: true}
	err := s.Feeds.CreateBankSubscription(ctx, b, &vigil.Subscription{URL: "https://peer/v1/feeds/list", Feed: "Not A Name", Key: key})
	wantCode(t, err, vigil.EINVALID)
	if _, err := s.Banks.FindBankByName(ctx, "peer"); vigil.ErrorCode(err) != vigil.ENOTFOUND {
		t.Fatalf("bank left behind by a refused subscription: %v", err)
	}
	sub := &vigil.Subscription{URL: "https://peer/v1/feeds/list", Feed: "list", Key: key, PublicOnly: true}
	must(t, s.Feeds.CreateBankSubscription(ctx, b, sub))
	if b.ID == 0 || sub.BankID != b.ID || sub.ID == 0 || sub.State != vigil.SubscriptionActive {
		t.Fatalf("created bank %+v, subscription %+v", b, sub)
	}
	got, err := s.Feeds.FindSubscriptionByID(ctx, sub.ID)
	must(t, err)
	if !got.PublicOnly || got.State != vigil.SubscriptionActive || got.BankID != b.ID {
		t.Errorf("stored subscription %+v", got)
	}
	// A taken bank name: neither is made.
	err = s.Feeds.CreateBankSubscription(ctx, &vigil.Bank{Name: "peer", Enabled: true}, &vigil.Subscription{URL: "https://other/v1/feeds/list", Feed: "list", Key: key})
	wantCode(t, err, vigil.ECONFLICT)
	subs, err := s.Feeds.ListSubscriptions(ctx)
	must(t, err)
	if len(subs) != 1 {
		t.Errorf("%d subscriptions after a refused create, want 1", len(subs))
	}
	// Subscriptions made the old way are active and not public-only.
	other := createBank(t, s, "other")
	plain := &vigil.Subscription{URL: "https://other/v1/feeds/list", Feed: "list", Key: key, BankID: other.ID}
	must(t, s.Feeds.CreateSubscription(ctx, plain))
	if got, _ := s.Feeds.FindSubscriptionByID(ctx, plain.ID); got.State != vigil.SubscriptionActive || got.PublicOnly {
		t.Errorf("plain subscription %+v", got)
	}

	paused, err := s.Feeds.SetSubscriptionState(ctx, sub.ID, vigil.SubscriptionPaused)
	must(t, err)
	if got, _ := s.Feeds.FindSubscriptionByID(ctx, sub.ID); paused.State != vigil.SubscriptionPaused || got.State != vigil.SubscriptionPaused {
		t.Errorf("paused: %+v, stored %+v", paused, got)
	}
	if bank, _ := s.Banks.FindBankByID(ctx, b.ID); !bank.Enabled {
		t.Errorf("pausing disabled the bank")
	}
	_, err = s.Feeds.SetSubscriptionState(ctx, sub.ID, "sleeping")
	wantCode(t, err, vigil.EINVALID)
	_, err = s.Feeds.SetSubscriptionState(ctx, 1<<40, vigil.SubscriptionPaused)
	wantCode(t, err, vigil.ENOTFOUND)
	_, err = s.Feeds.SetSubscriptionState(ctx, sub.ID, vigil.SubscriptionActive)
	must(t, err)

	removed, err := s.Feeds.SetSubscriptionState(ctx, sub.ID, vigil.SubscriptionRemoved)
	must(t, err)
	bank, err := s.Banks.FindBankByID(ctx, b.ID)
	must(t, err)
	if removed.State != vigil.SubscriptionRemoved || bank.Enabled || bank.Version != b.Version+1 {
		t.Errorf("removed: %+v, bank enabled %v version %d", removed, bank.Enabled, bank.Version)
	}
	_, err = s.Feeds.SetSubscriptionState(ctx, sub.ID, vigil.SubscriptionActive)
	wantCode(t, err, vigil.ECONFLICT)
}
