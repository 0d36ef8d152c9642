package vigil_test

import (
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
)

// TestRevealShown: each level shows what it names and no level shows the
// listed value or the bank's id.
func TestRevealShown(t *testing.T) {
	m := vigil.Match{BankID: 3, Bank: "b", EntryID: 9, SignalType: vigil.SignalPDQ, Value: strings.Repeat("ab", 32),
		Distance: 4, Threshold: 31, Variant: "rot90", Source: "ncmec", SourceEntryID: "N-9", Category: "A1", Negative: true,
		Video: &vigil.VideoMatch{QueryPercent: 90, TargetPercent: 80}, Reveal: vigil.RevealFull}
	for _, tc := range []struct {
		level                 vigil.Reveal
		entry, source, srcCat bool
	}{
		{vigil.RevealFull, true, true, true},
		{vigil.RevealSource, false, true, false},
		{vigil.RevealBank, false, false, false},
		{"", false, false, false},        // unknown: the least
		{"garbage", false, false, false}, // likewise
	} {
		got := tc.level.Shown(m)
		if got.Value != "" || got.BankID != 0 || got.Negative || got.Reveal != "" {
			t.Errorf("%q shows %+v", tc.level, got)
		}
		if got.Bank != "b" || got.Distance != 4 || got.Threshold != 31 || got.Variant != "rot90" || got.Video == nil || got.Video == m.Video {
			t.Errorf("%q lost what every level shows: %+v", tc.level, got)
		}
		if (got.EntryID != 0) != tc.entry || (got.Source != "") != tc.source ||
			(got.SourceEntryID != "") != tc.srcCat || (got.Category != "") != tc.srcCat {
			t.Errorf("%q: %+v", tc.level, got)
		}
		b, _ := json.Marshal(got)
		if strings.Contains(string(b), m.Value) || strings.Contains(string(b), "bank_id") {
			t.Errorf("%q serialises %s", tc.level, b)
		}
	}
}

func TestLookupDay(t *testing.T) {
	at := time.Date(2026, 12, 3, 23, 30, 0, 0, time.FixedZone("UTC+2", 2*3600)) // 21:30 UTC
	if d := vigil.LookupDay(at); d != "2026-12-03" {
		t.Errorf("day %q", d)
	}
	for _, bad := range []string{"", "2026-12-3", "2026-02-30", "2026-12-03T00:00:00Z", " 2026-12-03"} {
		if vigil.ErrorCode(vigil.ValidateLookupDay(bad)) != vigil.EINVALID {
			t.Errorf("%q accepted", bad)
		}
	}
}

// FuzzKeyLimits decodes limits as the key API does and checks that what
// Validate accepts is in range and, with a rate, has a burst.
func FuzzKeyLimits(f *testing.F) {
	for _, s := range []string{`{}`, `{"rate":50,"burst":100,"daily":100000}`, `{"rate":2.5}`, `{"rate":-1}`,
		`{"rate":1e400}`, `{"burst":-5}`, `{"daily":9223372036854775807}`, `{"rate":0.000001}`, `{"rate":999999.9999}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 4096 {
			return
		}
		var l vigil.KeyLimits
		if json.Unmarshal(data, &l) != nil {
			return
		}
		if err := l.Validate(); err != nil {
			if vigil.ErrorCode(err) != vigil.EINVALID {
				t.Fatalf("%s: %v", data, err)
			}
			return
		}
		if math.IsNaN(l.Rate) || l.Rate < 0 || l.Rate > vigil.MaxKeyRate || l.Burst < 0 || l.Burst > vigil.MaxKeyBurst || l.Daily < 0 {
			t.Fatalf("accepted %+v", l)
		}
		if l.Rate > 0 && l.Burst < 1 {
			t.Fatalf("rate without burst %+v", l)
		}
		again := l
		if err := again.Validate(); err != nil || again != l {
			t.Fatalf("validate is not idempotent: %+v -> %+v %v", l, again, err)
		}
	})
}
