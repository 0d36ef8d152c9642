// Package svgchart draws small bar charts as self-contained SVG: no
// script, no fonts or styles fetched, every text escaped. It is what the
// transparency report's charts need (labelled horizontal bars with a value
// axis, optionally an interval whisker per bar) and nothing more.
//
// Each bar's value label is a <text class="value" data-label="…"> element,
// so that a test (or a reader's tool) can find the figure a bar shows.
package svgchart

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Bar is one bar: its label, its value and the text shown beside it
// (Value formatted when empty). Low and High, when Interval is set, draw a
// whisker (a confidence interval, say) over the bar.
type Bar struct {
	Label    string
	Value    float64
	Text     string
	Interval bool
	Low      float64
	High     float64
}

// BarChart is a horizontal bar chart.
type BarChart struct {
	Title string
	// Unit labels the value axis ("cases", "rate").
	Unit string
	Bars []Bar
	// Max is the axis maximum; 0 means the largest value (or interval
	// end), rounded up to a whole tick.
	Max float64
	// Width is the image width in pixels; 0 means 640.
	Width int
	// Standalone adds the SVG namespace, for a chart saved as a file.
	Standalone bool
}

// MaxBars bounds a chart's bars: past it the chart is unreadable, and the
// figures are in the table beside it.
const MaxBars = 200

// Layout in pixels.
const (
	rowHeight   = 22
	barHeight   = 14
	titleHeight = 28
	axisHeight  = 42
	labelWidth  = 170
	valueWidth  = 90
	ticks       = 4
)

// SVG returns the chart as an SVG document fragment (an <svg> element),
// fit to inline in HTML or to save as a file.
func (c *BarChart) SVG() []byte {
	bars := c.Bars
	if len(bars) > MaxBars {
		bars = bars[:MaxBars]
	}
	width := c.Width
	if width <= 0 {
		width = 640
	}
	plot := float64(width - labelWidth - valueWidth)
	if plot < 50 {
		plot = 50
		width = labelWidth + valueWidth + 50
	}
	top := titleHeight
	height := top + max(len(bars), 1)*rowHeight + axisHeight
	max := c.axisMax(bars)

	var b bytes.Buffer
	// Inline in HTML an <svg> needs no namespace, and leaving it out
	// keeps the report free of anything that looks like an address;
	// Standalone adds it for a file of its own.
	ns := ""
	if c.Standalone {
		ns = ` xmlns="http://www.w3.org/2000/svg"`
	}
	fmt.Fprintf(&b, `<svg%s class="chart" role="img" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`,
		ns, width, height, width, height)
	fmt.Fprintf(&b, `<title>%s</title>`, esc(c.Title))
	fmt.Fprintf(&b, `<text class="title" x="0" y="18" font-size="14" font-weight="bold">%s</text>`, esc(c.Title))
	if len(bars) == 0 {
		fmt.Fprintf(&b, `<text class="empty" x="%d" y="%d" fill="#555">no data in this period</text>`, labelWidth, top+15)
	}
	for i, bar := range bars {
		y := top + i*rowHeight
		w := scale(bar.Value, max, plot)
		text := bar.Text
		if text == "" {
			text = FormatValue(bar.Value)
		}
		fmt.Fprintf(&b, `<g class="bar">`)
		fmt.Fprintf(&b, `<text class="label" x="%d" y="%d" text-anchor="end">%s</text>`, labelWidth-6, y+barHeight-2, esc(truncate(bar.Label, 26)))
		fmt.Fprintf(&b, `<rect x="%d" y="%d" width="%s" height="%d" fill="#4a6fa5"><title>%s: %s</title></rect>`,
			labelWidth, y+2, num(w), barHeight, esc(bar.Label), esc(text))
		if bar.Interval {
			lo, hi := labelWidth+scale(bar.Low, max, plot), labelWidth+scale(bar.High, max, plot)
			mid := float64(y + 2 + barHeight/2)
			fmt.Fprintf(&b, `<path class="interval" d="M%s %sH%s M%s %sV%s M%s %sV%s" stroke="#222" stroke-width="1.5" fill="none"/>`,
				num(lo), num(mid), num(hi), num(lo), num(mid-4), num(mid+4), num(hi), num(mid-4), num(mid+4))
		}
		fmt.Fprintf(&b, `<text class="value" data-label="%s" x="%d" y="%d">%s</text>`,
			esc(bar.Label), width-valueWidth+6, y+barHeight-2, esc(text))
		fmt.Fprintf(&b, `</g>`)
	}
	// The value axis.
	ay := top + max1(len(bars))*rowHeight + 4
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%s" y2="%d" stroke="#333"/>`, labelWidth, ay, num(float64(labelWidth)+plot), ay)
	for i := 0; i <= ticks; i++ {
		v := max * float64(i) / ticks
		x := float64(labelWidth) + plot*float64(i)/ticks
		fmt.Fprintf(&b, `<line x1="%s" y1="%d" x2="%s" y2="%d" stroke="#333"/>`, num(x), ay, num(x), ay+4)
		fmt.Fprintf(&b, `<text class="tick" x="%s" y="%d" text-anchor="middle" fill="#333">%s</text>`, num(x), ay+16, esc(FormatValue(v)))
	}
	if c.Unit != "" {
		fmt.Fprintf(&b, `<text class="unit" x="%s" y="%d" text-anchor="middle" fill="#333">%s</text>`, num(float64(labelWidth)+plot/2), ay+30, esc(c.Unit))
	}
	b.WriteString(`</svg>`)
	return b.Bytes()
}

func max1(n int) int { return max(n, 1) }

// axisMax is the axis end: Max, or the largest value rounded up to a
// tick that reads well.
func (c *BarChart) axisMax(bars []Bar) float64 {
	if c.Max > 0 {
		return c.Max
	}
	m := 0.0
	for _, b := range bars {
		m = math.Max(m, finite(b.Value))
		if b.Interval {
			m = math.Max(m, finite(b.High))
		}
	}
	if m <= 0 {
		return 1
	}
	return niceCeil(m)
}

// niceCeil rounds m up to 1, 2, 2.5 or 5 times a power of ten, times the
// number of ticks, so tick labels are round.
func niceCeil(m float64) float64 {
	step := m / ticks
	p := math.Pow(10, math.Floor(math.Log10(step)))
	for _, f := range []float64{1, 2, 2.5, 5, 10} {
		if f*p >= step {
			return f * p * ticks
		}
	}
	return 10 * p * ticks
}

func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

func scale(v, max, plot float64) float64 {
	v = finite(v)
	if v <= 0 || max <= 0 {
		return 0
	}
	return math.Min(v/max, 1) * plot
}

// FormatValue formats a figure the way charts show it: whole numbers
// without decimals, others with at most three decimals.
func FormatValue(v float64) string {
	v = finite(v)
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return strconv.FormatInt(int64(v), 10)
	}
	s := strconv.FormatFloat(v, 'f', 3, 64)
	return strings.TrimRight(strings.TrimRight(s, "0"), ".")
}

func num(v float64) string { return strconv.FormatFloat(finite(v), 'f', 1, 64) }

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return strings.ReplaceAll(b.String(), `"`, "&#34;")
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
