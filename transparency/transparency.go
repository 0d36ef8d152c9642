// Package transparency renders the transparency figures of a period
// (vigil.Transparency, computed by the store) as JSON, CSV or one
// self-contained HTML file with SVG charts: what a provider publishes of
// its detection, review and error rates.
package transparency

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strconv"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/svgchart"
)

// Formats the report is written in.
const (
	FormatJSON = "json"
	FormatCSV  = "csv"
	FormatHTML = "html"
)

// Write writes t in format (json, csv or html); EINVALID for another.
func Write(w io.Writer, t *vigil.Transparency, format string) error {
	switch format {
	case FormatJSON, "":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(t)
	case FormatCSV:
		return WriteCSV(w, t)
	case FormatHTML:
		return WriteHTML(w, t)
	}
	return vigil.Errorf(vigil.EINVALID, "format must be json, csv or html, not %q", format)
}

// WriteCSV writes t as rows of section, name, measure, value: one figure a
// row, so a spreadsheet can pivot it.
func WriteCSV(w io.Writer, t *vigil.Transparency) error {
	cw := csv.NewWriter(w)
	row := func(section, name, measure, value string) { _ = cw.Write([]string{section, name, measure, value}) }
	i := func(n int64) string { return strconv.FormatInt(n, 10) }
	f := func(v float64) string {
		if v < 0 {
			return "" // unknown: nothing decided
		}
		return strconv.FormatFloat(v, 'f', 4, 64)
	}
	row("section", "name", "measure", "value")
	row("period", "from", "", t.From.Format(time.RFC3339))
	row("period", "to", "", t.To.Format(time.RFC3339))
	for _, s := range []struct {
		name string
		cs   []vigil.Count
	}{
		{"items_checked", t.ItemsChecked}, {"hosted_lookups", t.HostedLookups}, {"matches_by_bank", t.MatchesByBank}, {"matches_by_source", t.MatchesBySource},
		{"cases_opened", t.CasesOpened}, {"cases_decided", t.CasesDecided}, {"complaints", t.Complaints},
	} {
		for _, c := range s.cs {
			row(s.name, c.Name, "n", i(c.N))
		}
	}
	rates := func(section string, rs ...vigil.Rate) {
		for _, r := range rs {
			row(section, r.Name, "decided", i(r.Decided))
			row(section, r.Name, "confirmed", i(r.Confirmed))
			row(section, r.Name, "false_positives", i(r.FalsePositives))
			row(section, r.Name, "confirmed_rate", f(r.Rate))
			row(section, r.Name, "confirmed_rate_low", f(r.Low))
			row(section, r.Name, "confirmed_rate_high", f(r.High))
			row(section, r.Name, "false_positive_rate", f(r.FalsePositiveRate))
		}
	}
	rates("rates_by_bank", t.RatesByBank...)
	rates("rates_by_source", t.RatesBySource...)
	row("quarantined_entries", "", "n", i(t.QuarantinedEntries))
	row("incidents", "", "n", i(t.Incidents))
	for _, s := range t.Submissions {
		row("submissions", s.Destination, s.State, i(s.N))
	}
	for _, d := range []struct {
		name string
		d    vigil.Durations
	}{{"detection_to_decision", t.ToDecision}, {"detection_to_report", t.ToReport}} {
		row(d.name, "", "n", i(d.d.N))
		row(d.name, "", "median_seconds", strconv.FormatFloat(d.d.MedianSeconds, 'f', 3, 64))
		row(d.name, "", "p90_seconds", strconv.FormatFloat(d.d.P90Seconds, 'f', 3, 64))
	}
	row("grooming_detections", "", "n", i(t.GroomingDetections))
	rates("grooming", t.Grooming)
	cw.Flush()
	return cw.Error()
}

// Chart is one chart of the report: an id (for anchors and tests), a
// title and its SVG, ready to inline.
type Chart struct {
	ID    string
	Title string
	SVG   template.HTML
}

// RateText formats a rate for a chart or table: "75.0% (60.1–86.3%)", or
// "n/a" when nothing was decided.
func RateText(r vigil.Rate) string {
	if r.Rate < 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.1f%% (%.1f–%.1f%%)", 100*r.Rate, 100*r.Low, 100*r.High)
}

// Charts returns the report's charts. Count charts label each bar with its
// count; rate charts with the confirmed rate and its 95% interval, drawn
// as a whisker.
func Charts(t *vigil.Transparency) []Chart {
	counts := func(id, title, unit string, cs []vigil.Count) Chart {
		c := &svgchart.BarChart{Title: title, Unit: unit}
		for _, x := range cs {
			c.Bars = append(c.Bars, svgchart.Bar{Label: orNone(x.Name), Value: float64(x.N)})
		}
		return Chart{ID: id, Title: title, SVG: template.HTML(c.SVG())} // #nosec: svgchart escapes every text
	}
	rates := func(id, title string, rs []vigil.Rate) Chart {
		c := &svgchart.BarChart{Title: title, Unit: "confirmed rate (whisker: 95% Wilson interval)", Max: 1}
		for _, r := range rs {
			b := svgchart.Bar{Label: orNone(r.Name), Text: RateText(r)}
			if r.Rate >= 0 {
				b.Value, b.Interval, b.Low, b.High = r.Rate, true, r.Low, r.High
			}
			c.Bars = append(c.Bars, b)
		}
		return Chart{ID: id, Title: title, SVG: template.HTML(c.SVG())}
	}
	subs := make([]vigil.Count, 0, len(t.Submissions))
	for _, s := range t.Submissions {
		subs = append(subs, vigil.Count{Name: s.Destination + " " + s.State, N: s.N})
	}
	return []Chart{
		counts("items-checked", "Items checked", "items", t.ItemsChecked),
		counts("matches-by-bank", "Matches by bank", "matches", t.MatchesByBank),
		counts("matches-by-source", "Matches by entry source", "matches", t.MatchesBySource),
		counts("cases-opened", "Cases opened", "cases", t.CasesOpened),
		counts("cases-decided", "Cases decided", "cases", t.CasesDecided),
		rates("rates-by-bank", "Confirmed rate by bank", t.RatesByBank),
		rates("rates-by-source", "Confirmed rate by entry source", t.RatesBySource),
		counts("reports", "Reports by destination and outcome", "reports", subs),
		counts("complaints", "Complaints by outcome", "complaints", t.Complaints),
		counts("hosted-lookups", "Hosted lookups by key", "signals", t.HostedLookups),
	}
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// Duration formats seconds as a reader reads a wait: "3h 20m", "45s".
func Duration(seconds float64) string {
	d := time.Duration(seconds * float64(time.Second)).Round(time.Second)
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%dd %dh", d/(24*time.Hour), d%(24*time.Hour)/time.Hour)
	case d >= time.Hour:
		return fmt.Sprintf("%dh %dm", d/time.Hour, d%time.Hour/time.Minute)
	case d >= time.Minute:
		return fmt.Sprintf("%dm %ds", d/time.Minute, d%time.Minute/time.Second)
	}
	return fmt.Sprintf("%ds", d/time.Second)
}
