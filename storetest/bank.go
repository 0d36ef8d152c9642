package storetest

import (
	"context"
	"maps"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
)

// TestBankService tests a vigil.BankService.
func TestBankService(t *testing.T, open Opener) {
	ctx := context.Background()

	t.Run("CreateAndFind", func(t *testing.T) {
		s, clock := openWithClock(t, open)
		b := &vigil.Bank{
			Name:        "ncmec-hashes",
			Description: "hashes shared by a hotline",
			Enabled:     true,
			Thresholds:  map[vigil.SignalType]int{vigil.SignalPDQ: 20},
		}
		must(t, s.Banks.CreateBank(ctx, b))
		if b.ID == 0 || b.Version == 0 || !b.CreatedAt.Equal(clock.Now()) || !b.UpdatedAt.Equal(clock.Now()) {
			t.Fatalf("created bank not filled in: %+v", b)
		}
		byID, err := s.Banks.FindBankByID(ctx, b.ID)
		must(t, err)
		byName, err := s.Banks.FindBankByName(ctx, b.Name)
		must(t, err)
		for _, got := range []*vigil.Bank{byID, byName} {
			assertBank(t, got, b)
		}
		if got := byID.Threshold(vigil.SignalPDQ); got != 20 {
			t.Errorf("pdq threshold %d, want 20", got)
		}
	})

	t.Run("CreateDefaults", func(t *testing.T) {
		s, _ := openWithClock(t, open)
		b := &vigil.Bank{Name: "local", Negative: true}
		must(t, s.Banks.CreateBank(ctx, b))
		got, err := s.Banks.FindBankByID(ctx, b.ID)
		must(t, err)
		if got.Enabled || !got.Negative || got.Thresholds != nil || got.ActiveEntries != 0 {
			t.Errorf("stored %+v", got)
		}
		if got.Threshold(vigil.SignalPDQ) != vigil.DefaultPDQThreshold {
			t.Errorf("default pdq threshold %d", got.Threshold(vigil.SignalPDQ))
		}
	})

	t.Run("CreateInvalid", func(t *testing.T) {
		s, _ := openWithClock(t, open)
		for _, b := range []*vigil.Bank{
			{Name: ""},
			{Name: "Upper"},
			{Name: "has space"},
			{Name: "ok", Thresholds: map[vigil.SignalType]int{vigil.SignalPDQ: 300}},
			{Name: "ok", Thresholds: map[vigil.SignalType]int{"nope": 1}},
		} {
			wantCode(t, s.Banks.CreateBank(ctx, b), vigil.EINVALID)
		}
		banks, err := s.Banks.ListBanks(ctx)
		must(t, err)
		if len(banks) != 0 {
			t.Errorf("invalid banks stored: %d", len(banks))
		}
	})

	t.Run("CreateConflict", func(t *testing.T) {
		s, _ := openWithClock(t, open)
		must(t, s.Banks.CreateBank(ctx, &vigil.Bank{Name: "a"}))
		wantCode(t, s.Banks.CreateBank(ctx, &vigil.Bank{Name: "a"}), vigil.ECONFLICT)
	})

	t.Run("NotFound", func(t *testing.T) {
		s, _ := openWithClock(t, open)
		_, err := s.Banks.FindBankByID(ctx, 12345)
		wantCode(t, err, vigil.ENOTFOUND)
		_, err = s.Banks.FindBankByName(ctx, "missing")
		wantCode(t, err, vigil.ENOTFOUND)
		_, err = s.Banks.UpdateBank(ctx, 12345, vigil.BankUpdate{Description: ptr("x")})
		wantCode(t, err, vigil.ENOTFOUND)
		_, err = s.Banks.DisableBank(ctx, 12345)
		wantCode(t, err, vigil.ENOTFOUND)
	})

	t.Run("List", func(t *testing.T) {
		s, _ := openWithClock(t, open)
		for _, name := range []string{"zeta", "alpha", "mid"} {
			must(t, s.Banks.CreateBank(ctx, &vigil.Bank{Name: name}))
		}
		banks, err := s.Banks.ListBanks(ctx)
		must(t, err)
		var names []string
		for _, b := range banks {
			names = append(names, b.Name)
		}
		if len(names) != 3 || names[0] != "alpha" || names[1] != "mid" || names[2] != "zeta" {
			t.Errorf("ListBanks names %v, want [alpha mid zeta]", names)
		}
	})

	t.Run("Update", func(t *testing.T) {
		s, clock := openWithClock(t, open)
		b := &vigil.Bank{Name: "b", Enabled: true, Thresholds: map[vigil.SignalType]int{vigil.SignalPDQ: 10}}
		must(t, s.Banks.CreateBank(ctx, b))
		versions := map[int64]bool{b.Version: true}

		clock.Advance(time.Hour)
		got, err := s.Banks.UpdateBank(ctx, b.ID, vigil.BankUpdate{Description: ptr("new")})
		must(t, err)
		if got.Description != "new" || !got.Enabled || got.Threshold(vigil.SignalPDQ) != 10 {
			t.Errorf("after description update: %+v", got)
		}
		if !got.UpdatedAt.Equal(clock.Now()) || !got.CreatedAt.Equal(b.CreatedAt) {
			t.Errorf("times after update: created %v updated %v", got.CreatedAt, got.UpdatedAt)
		}
		versions[got.Version] = true

		got, err = s.Banks.UpdateBank(ctx, b.ID, vigil.BankUpdate{
			Negative:   ptr(true),
			Thresholds: map[vigil.SignalType]int{vigil.SignalPDQ: 40, vigil.SignalMD5: 0},
		})
		must(t, err)
		if !got.Negative || got.Threshold(vigil.SignalPDQ) != 40 || got.Description != "new" {
			t.Errorf("after negative update: %+v", got)
		}
		versions[got.Version] = true

		// An empty map clears the thresholds back to the defaults.
		got, err = s.Banks.UpdateBank(ctx, b.ID, vigil.BankUpdate{Thresholds: map[vigil.SignalType]int{}})
		must(t, err)
		if got.Threshold(vigil.SignalPDQ) != vigil.DefaultPDQThreshold {
			t.Errorf("thresholds not cleared: %v", got.Thresholds)
		}
		versions[got.Version] = true

		got, err = s.Banks.DisableBank(ctx, b.ID)
		must(t, err)
		if got.Enabled {
			t.Error("DisableBank left the bank enabled")
		}
		versions[got.Version] = true
		if len(versions) != 5 {
			t.Errorf("versions over 5 edits not all distinct: %v", versions)
		}

		// The stored bank is what UpdateBank returned.
		stored, err := s.Banks.FindBankByID(ctx, b.ID)
		must(t, err)
		assertBank(t, stored, got)

		// An update with nothing in it changes nothing.
		same, err := s.Banks.UpdateBank(ctx, b.ID, vigil.BankUpdate{})
		must(t, err)
		if same.Version != got.Version {
			t.Errorf("empty update moved version %d to %d", got.Version, same.Version)
		}
	})

	t.Run("UpdateInvalid", func(t *testing.T) {
		s, _ := openWithClock(t, open)
		b := &vigil.Bank{Name: "b"}
		must(t, s.Banks.CreateBank(ctx, b))
		_, err := s.Banks.UpdateBank(ctx, b.ID, vigil.BankUpdate{
			Description: ptr("changed"),
			Thresholds:  map[vigil.SignalType]int{vigil.SignalPDQ: -1},
		})
		wantCode(t, err, vigil.EINVALID)
		got, err := s.Banks.FindBankByID(ctx, b.ID)
		must(t, err)
		if got.Description != "" || got.Version != b.Version {
			t.Errorf("failed update changed the bank: %+v", got)
		}
	})
}

// assertBank fails t unless got and want have the same stored fields.
func assertBank(t testing.TB, got, want *vigil.Bank) {
	t.Helper()
	if got.ID != want.ID || got.Name != want.Name || got.Description != want.Description ||
		got.Enabled != want.Enabled || got.Negative != want.Negative || got.Version != want.Version ||
		got.ActiveEntries != want.ActiveEntries || !maps.Equal(got.Thresholds, want.Thresholds) ||
		!got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) {
		t.Errorf("bank\n got %+v\nwant %+v", got, want)
	}
}
