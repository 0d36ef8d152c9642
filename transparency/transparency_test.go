package transparency_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/transparency"
)

// Figures returns a period's figures with something in every section.
func figures() *vigil.Transparency {
	from := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	return &vigil.Transparency{
		From: from, To: from.AddDate(0, 3, 0),
		ItemsChecked:    []vigil.Count{{Name: "image", N: 120000}, {Name: "text", N: 5000}},
		MatchesByBank:   []vigil.Count{{Name: "ncmec-hashes", N: 40}, {Name: `<b>&"own"`, N: 3}},
		MatchesBySource: []vigil.Count{{Name: "ncmec", N: 40}, {Name: "", N: 3}},
		CasesOpened:     []vigil.Count{{Name: "match", N: 43}},
		CasesDecided:    []vigil.Count{{Name: "confirmed", N: 38}, {Name: "false_positive", N: 4}},
		RatesByBank:     []vigil.Rate{vigil.NewRate("ncmec-hashes", 37, 2), vigil.NewRate(`<b>&"own"`, 1, 2)},
		RatesBySource:   []vigil.Rate{vigil.NewRate("ncmec", 37, 2)},
		Submissions:     []vigil.SubmissionCount{{Destination: "ncmec", State: "finished", N: 12}},
		Complaints:      []vigil.Count{{Name: "upheld", N: 1}, {Name: "rejected", N: 2}},
		ToDecision:      vigil.Durations{N: 42, MedianSeconds: 3600, P90Seconds: 7 * 3600},
		Grooming:        vigil.NewRate("grooming", 0, 0),
	}
}

// external finds anything a browser would fetch or follow.
var external = regexp.MustCompile(`(?i)(https?:|//[a-z0-9]|\bsrc\s*=|\bhref\s*=|url\s*\(|@import|<script|<link|<iframe|<object|<img)`)

func TestHTMLIsSelfContained(t *testing.T) {
	var b bytes.Buffer
	if err := transparency.Write(&b, figures(), "html"); err != nil {
		t.Fatal(err)
	}
	html := b.String()
	if m := external.FindString(html); m != "" {
		t.Fatalf("report references something outside itself: %q", m)
	}
	if strings.Contains(html, `<b>&"own"`) {
		t.Error("a bank name went into the report unescaped")
	}
	for _, want := range []string{"<style>", "<svg", `id="rates-by-bank"`, "94.9% (83.1–98.6%)", "1h 0m, 7h 0m", `data-label="ncmec-hashes"`} {
		if !strings.Contains(html, want) {
			t.Errorf("report lacks %q", want)
		}
	}
}

func TestChartLabelsAreTheFigures(t *testing.T) {
	f := figures()
	for _, c := range transparency.Charts(f) {
		if c.ID != "matches-by-bank" {
			continue
		}
		if !strings.Contains(string(c.SVG), `data-label="ncmec-hashes" x="556" y="40">40</text>`) {
			t.Errorf("bar label of ncmec-hashes is not its count 40:\n%s", c.SVG)
		}
		return
	}
	t.Fatal("no matches-by-bank chart")
}

func TestCSVAndJSON(t *testing.T) {
	var b bytes.Buffer
	if err := transparency.Write(&b, figures(), "csv"); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{
		"items_checked,image,n,120000":                         false,
		"rates_by_bank,ncmec-hashes,confirmed_rate,0.9487":     false,
		"rates_by_bank,ncmec-hashes,confirmed_rate_low,0.8311": false,
		"grooming,grooming,confirmed_rate,":                    false, // nothing decided: unknown, not 0
		"submissions,ncmec,finished,12":                        false,
		"detection_to_decision,,p90_seconds,25200.000":         false,
	}
	for _, r := range rows {
		if len(r) != 4 {
			t.Fatalf("row %v: %d fields", r, len(r))
		}
		if _, ok := want[strings.Join(r, ",")]; ok {
			want[strings.Join(r, ",")] = true
		}
	}
	for row, seen := range want {
		if !seen {
			t.Errorf("CSV lacks %s", row)
		}
	}
	b.Reset()
	if err := transparency.Write(&b, figures(), "json"); err != nil {
		t.Fatal(err)
	}
	var back vigil.Transparency
	if err := json.Unmarshal(b.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if back.RatesByBank[0].Low != figures().RatesByBank[0].Low || back.ToDecision.N != 42 {
		t.Errorf("JSON round trip: %+v", back)
	}
	if err := transparency.Write(&b, figures(), "pdf"); vigil.ErrorCode(err) != vigil.EINVALID {
		t.Errorf("unknown format: %v", err)
	}
}
