package svgchart_test

import (
	"encoding/xml"
	"math"
	"strings"
	"testing"

	"github.com/vigil-oss/vigil/svgchart"
)

// parse checks the chart is well-formed XML and returns its value labels
// by bar label.
func parse(t *testing.T, svg []byte) map[string]string {
	t.Helper()
	dec := xml.NewDecoder(strings.NewReader(string(svg)))
	values := map[string]string{}
	var inValue, label string
	for {
		tok, err := dec.Token()
		if err != nil {
			if err.Error() == "EOF" {
				return values
			}
			t.Fatalf("not well-formed: %v\n%s", err, svg)
		}
		switch el := tok.(type) {
		case xml.StartElement:
			inValue = ""
			for _, a := range el.Attr {
				if el.Name.Local == "text" && a.Name.Local == "class" && a.Value == "value" {
					inValue = "yes"
				}
				if a.Name.Local == "data-label" {
					label = a.Value
				}
			}
		case xml.CharData:
			if inValue != "" {
				values[label] = string(el)
			}
		case xml.EndElement:
			inValue = ""
		}
	}
}

func TestBarChart(t *testing.T) {
	c := &svgchart.BarChart{Title: `Matches <by> "bank" & source`, Unit: "matches", Bars: []svgchart.Bar{
		{Label: "ncmec", Value: 1200},
		{Label: `<script>alert(1)</script>`, Value: 3},
		{Label: "rate", Value: 0.75, Text: "75.0%", Interval: true, Low: 0.6, High: 0.86},
		{Label: "nan", Value: math.NaN()},
	}}
	svg := c.SVG()
	if strings.Contains(string(svg), "<script") || strings.Contains(string(svg), "http") {
		t.Fatalf("unescaped or external content:\n%s", svg)
	}
	got := parse(t, svg)
	for label, want := range map[string]string{"ncmec": "1200", `<script>alert(1)</script>`: "3", "rate": "75.0%", "nan": "0"} {
		if got[label] != want {
			t.Errorf("value of %q = %q, want %q", label, got[label], want)
		}
	}
	if !strings.Contains(string(svg), "<title>Matches &lt;by&gt; &#34;bank&#34; &amp; source</title>") {
		t.Errorf("title not escaped:\n%s", svg)
	}
	// The axis ends at a round number above the largest bar: 1200 → 2000
	// (4 ticks of 500).
	if !strings.Contains(string(svg), `>2000</text>`) || !strings.Contains(string(svg), `>500</text>`) {
		t.Errorf("axis ticks missing:\n%s", svg)
	}
	standalone := (&svgchart.BarChart{Title: "x", Standalone: true}).SVG()
	if !strings.Contains(string(standalone), `xmlns="http://www.w3.org/2000/svg"`) || !strings.Contains(string(standalone), "no data") {
		t.Errorf("standalone empty chart:\n%s", standalone)
	}
}

func TestBarWidthsAreProportional(t *testing.T) {
	c := &svgchart.BarChart{Title: "t", Max: 100, Width: 460, Bars: []svgchart.Bar{{Label: "a", Value: 50}, {Label: "b", Value: 200}, {Label: "c", Value: -5}}}
	svg := string(c.SVG())
	// The plot is 460 - 170 - 90 = 200 px wide: 50 of 100 is 100 px; more
	// than the maximum is clipped, less than nothing is no bar.
	for _, want := range []string{`width="100.0"`, `width="200.0"`, `width="0.0"`} {
		if !strings.Contains(svg, want) {
			t.Errorf("missing bar %s:\n%s", want, svg)
		}
	}
}

func TestFormatValue(t *testing.T) {
	for v, want := range map[float64]string{0: "0", 12: "12", 0.5: "0.5", 0.12345: "0.123", 2.0004: "2", math.Inf(1): "0"} {
		if got := svgchart.FormatValue(v); got != want {
			t.Errorf("FormatValue(%v) = %q, want %q", v, got, want)
		}
	}
}

// FuzzBarChart: whatever the labels and values (names of banks and
// sources come from lists and imports), the chart is well-formed XML
// whose only elements are the generator's own.
func FuzzBarChart(f *testing.F) {
	f.Add("ncmec", `<script>x</script>`, 3.0, 0.5)
	f.Add("", "\x00\xff", math.Inf(1), math.NaN())
	f.Add(`"quoted" & <b>`, "ünïcødé…", -1.0, 1e300)
	f.Fuzz(func(t *testing.T, a, b string, x, y float64) {
		c := &svgchart.BarChart{Title: a + b, Unit: b, Bars: []svgchart.Bar{
			{Label: a, Value: x}, {Label: b, Value: y, Interval: true, Low: x, High: y, Text: a}}}
		svg := c.SVG()
		dec := xml.NewDecoder(strings.NewReader(string(svg)))
		dec.Strict = true
		allowed := map[string]bool{"svg": true, "title": true, "text": true, "g": true, "rect": true, "path": true, "line": true}
		for {
			tok, err := dec.Token()
			if err != nil {
				if err.Error() == "EOF" {
					return
				}
				t.Fatalf("not well-formed for %q, %q: %v\n%s", a, b, err, svg)
			}
			if el, ok := tok.(xml.StartElement); ok && !allowed[el.Name.Local] {
				t.Fatalf("element %s from labels %q, %q", el.Name.Local, a, b)
			}
		}
	})
}
