package transparency

import (
	"html/template"
	"io"

	"github.com/vigil-oss/vigil"
)

// Page is what the report's HTML (and the UI page) shows: the figures and
// their charts.
type Page struct {
	T      *vigil.Transparency
	Charts []Chart
}

// NewPage returns the page of t.
func NewPage(t *vigil.Transparency) *Page { return &Page{T: t, Charts: Charts(t)} }

// Funcs are the template functions the report's body uses.
var Funcs = template.FuncMap{"rate": RateText, "duration": Duration}

// Body is the report's content without a document around it: the UI page
// includes it in its layout, the HTML report in its own document.
const Body = `{{define "transparency"}}
<section class="transparency">
<p>Period: {{.T.From.Format "2006-01-02 15:04"}} to {{.T.To.Format "2006-01-02 15:04"}} UTC (the end excluded).
Rates are the share of decided cases that review confirmed, with the 95% Wilson score interval; a case
counts once for each bank and entry source it matched, and an upheld complaint turns its confirmation into a false positive.</p>
<table class="figures">
<tr><th>Quarantined entries (in the period, still quarantined)</th><td id="quarantined">{{.T.QuarantinedEntries}}</td></tr>
<tr><th>Incidents made</th><td id="incidents">{{.T.Incidents}}</td></tr>
<tr><th>Detection to decision: median, 90th percentile ({{.T.ToDecision.N}} cases)</th><td>{{if .T.ToDecision.N}}{{duration .T.ToDecision.MedianSeconds}}, {{duration .T.ToDecision.P90Seconds}}{{else}}n/a{{end}}</td></tr>
<tr><th>Detection to report: median, 90th percentile ({{.T.ToReport.N}} reports)</th><td>{{if .T.ToReport.N}}{{duration .T.ToReport.MedianSeconds}}, {{duration .T.ToReport.P90Seconds}}{{else}}n/a{{end}}</td></tr>
<tr><th>Grooming detections; confirmed rate</th><td>{{.T.GroomingDetections}}; {{rate .T.Grooming}}</td></tr>
</table>
{{range .Charts}}<figure id="{{.ID}}">{{.SVG}}</figure>
{{end}}
<h2>Rates by bank</h2>
<table class="rates"><tr><th>bank</th><th>decided</th><th>confirmed</th><th>false positives</th><th>confirmed rate (95% interval)</th></tr>
{{range .T.RatesByBank}}<tr><td>{{.Name}}</td><td>{{.Decided}}</td><td>{{.Confirmed}}</td><td>{{.FalsePositives}}</td><td>{{rate .}}</td></tr>
{{else}}<tr><td colspan="5">no decisions in this period</td></tr>{{end}}</table>
<h2>Rates by entry source</h2>
<table class="rates"><tr><th>source</th><th>decided</th><th>confirmed</th><th>false positives</th><th>confirmed rate (95% interval)</th></tr>
{{range .T.RatesBySource}}<tr><td>{{if .Name}}{{.Name}}{{else}}(none){{end}}</td><td>{{.Decided}}</td><td>{{.Confirmed}}</td><td>{{.FalsePositives}}</td><td>{{rate .}}</td></tr>
{{else}}<tr><td colspan="5">no decisions in this period</td></tr>{{end}}</table>
</section>
{{end}}`

// document is the self-contained HTML report: inline style, inline SVG,
// nothing fetched from anywhere, so a provider can publish the one file.
const document = `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Transparency report {{.T.From.Format "2006-01-02"}} to {{.T.To.Format "2006-01-02"}}</title>
<style>
body { font-family: sans-serif; max-width: 60rem; margin: 2rem auto; padding: 0 1rem; color: #111; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { border: 1px solid #bbb; padding: 0.3rem 0.6rem; text-align: left; }
figure { margin: 1.5rem 0; }
</style></head>
<body><h1>Transparency report</h1>
{{template "transparency" .}}
</body></html>
`

var reportTemplate = template.Must(template.Must(template.New("report").Funcs(Funcs).Parse(Body)).Parse(document))

// WriteHTML writes t as one self-contained HTML document.
func WriteHTML(w io.Writer, t *vigil.Transparency) error {
	return reportTemplate.Execute(w, NewPage(t))
}
