package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/report"
)

// ReportCommand renders incidents for centres: `vigil report render|submit`.
type ReportCommand struct{ *Main }

const reportUsage = `Usage:
	vigil report render --incident N [--format ncmec] [--ncmec-config FILE] [--schema FILE] [--data DIR]
	vigil report render --incident N --format dsa --dsa-config FILE [--applied YYYY-MM-DD] [--data DIR]
	vigil report submit --incident N --dry-run [--ncmec-config FILE] [--schema FILE] [--data DIR]

render prints what would be sent for incident N: the NCMEC <report> and one
<fileDetails> per file (report and file ids are placeholders until NCMEC
assigns them), each checked against NCMEC's schema with xmllint (Debian
package libxml2-utils); it exits 1 if a document does not validate.
submit --dry-run does the same and also refuses an incident that is not
approved: it says what a submission would send, and sends nothing.

--ncmec-config is a JSON file of report.NCMECConfig (reporter_email,
platform, legal_url, industry_mou, …); --schema is a newer NCMEC schema
than the embedded November 2025 copy.

--format dsa prints the EU DSA statements of reasons of the incident (a JSON
array, one statement per file or conversation acted on), each checked
against every rule of the EU Transparency Database's request validator; it
exits 1 if one breaks a rule. --dsa-config is a JSON file of
report.DSAConfig (puid_prefix, decision_ground and its legal ground,
decision_visibility, territorial_scope, …): the platform's facts the
incident does not hold. --applied is the day the platform applied its
decision (default: the day the incident was approved).`

// maxConfigFile bounds the NCMEC configuration file.
const maxConfigFile = 1 << 20

// Run dispatches the report subcommands.
func (c *ReportCommand) Run(ctx context.Context, args []string) error {
	sub, args, err := c.group(args, reportUsage, "render", "submit")
	if err != nil {
		return err
	}
	fs := c.newFlagSet("vigil report "+sub, synopsis(reportUsage, "vigil report "+sub))
	data := dataFlag(fs)
	id := fs.Int64("incident", 0, "the incident's id")
	fs.limit("incident", positive())
	format := fs.String("format", "ncmec", "the report format: ncmec or dsa (render only)")
	configFile := fs.String("ncmec-config", "", "JSON file of the deployment's NCMEC reporter settings (required for ncmec)")
	dsaConfigFile := fs.String("dsa-config", "", "JSON file of the deployment's DSA statement settings (required for dsa)")
	appliedFlag := fs.String("applied", "", "dsa: the day (YYYY-MM-DD) the platform applied its decision (default: the approval day)")
	schema := fs.String("schema", "", "NCMEC schema file to validate against (default: the embedded copy)")
	var dryRun *bool
	if sub == "submit" {
		dryRun = fs.Bool("dry-run", false, "render and validate, send nothing (required: the command line sends nothing; a server with --ncmec-user submits, POST /v1/incidents/{id}/submit)")
	}
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := fs.nargs(0, 0, "no arguments"); err != nil {
		return err
	}
	if *id == 0 {
		return fs.usageErrorf("--incident is required")
	}
	if *format == "dsa" {
		if sub != "render" {
			return fs.usageErrorf("--format dsa is for render only: submission to the Transparency Database is not built yet")
		}
		return c.renderDSA(ctx, fs, data, *id, *dsaConfigFile, *appliedFlag)
	}
	if *format != "ncmec" {
		return fs.usageErrorf("--format must be ncmec or dsa, got %q", *format)
	}
	if *configFile == "" {
		return fs.usageErrorf("--ncmec-config is required")
	}
	if dryRun != nil && !*dryRun {
		return fs.usageErrorf("submit needs --dry-run: the command line sends nothing; submit through a server started with --ncmec-user (POST /v1/incidents/{id}/submit)")
	}
	cfg, err := readNCMECConfig(*configFile)
	if err != nil {
		return err
	}
	st, err := c.openStore(ctx, data)
	if err != nil {
		return err
	}
	defer st.Close()
	incidents := st.Incidents
	inc, err := incidents.FindIncident(ctx, *id)
	if err != nil {
		return err
	}
	v := &report.Validator{SchemaPath: *schema}
	defer v.Close()
	r, err := report.Render(ctx, incidents, v, inc, *cfg)
	if err != nil {
		return err
	}
	fmt.Fprint(c.Stdout, r.Report)
	for _, f := range r.Files {
		fmt.Fprint(c.Stdout, f)
	}
	if !r.Valid {
		fmt.Fprintf(c.Stderr, "vigil: incident %d: %s\n", inc.ID, r.Error)
		return errSilent
	}
	if sub == "submit" {
		if inc.State != vigil.IncidentApproved {
			fmt.Fprintf(c.Stderr, "vigil: incident %d is %s: it would not be sent until a reviewer approves it\n", inc.ID, inc.State)
			return errSilent
		}
		fmt.Fprintf(c.Stderr, "vigil: dry run: incident %d is approved and valid; would send 1 report and %d files; sent nothing\n", inc.ID, len(inc.Files))
		return nil
	}
	fmt.Fprintf(c.Stderr, "vigil: incident %d: valid against the NCMEC schema (%d documents)\n", inc.ID, 1+len(r.Files))
	return nil
}

// readNCMECConfig reads and checks a report.NCMECConfig JSON file.
func readNCMECConfig(path string) (*report.NCMECConfig, error) {
	data, err := readConfigFile(path, "ncmec")
	if err != nil {
		return nil, err
	}
	var cfg report.NCMECConfig
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&cfg); err != nil {
		return nil, fmt.Errorf("read ncmec config %s: %w", path, err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("ncmec config %s: %s", path, vigil.ErrorMessage(err))
	}
	return &cfg, nil
}

// renderDSA prints incident id's statements of reasons as a JSON array.
func (c *ReportCommand) renderDSA(ctx context.Context, fs *flagSet, data *storeFlags, id int64, configFile, appliedFlag string) error {
	if configFile == "" {
		return fs.usageErrorf("--dsa-config is required with --format dsa")
	}
	var applied time.Time
	if appliedFlag != "" {
		d, err := time.Parse(time.DateOnly, appliedFlag)
		if err != nil {
			return fs.usageErrorf("--applied must be a day YYYY-MM-DD, got %q", appliedFlag)
		}
		applied = d
	}
	cfg, err := readDSAConfig(configFile)
	if err != nil {
		return err
	}
	st, err := c.openStore(ctx, data)
	if err != nil {
		return err
	}
	defer st.Close()
	inc, err := st.Incidents.FindIncident(ctx, id)
	if err != nil {
		return err
	}
	if applied.IsZero() {
		if inc.ApprovedAt == nil {
			return fs.usageErrorf("incident %d is a draft: say with --applied when the platform applied its decision", id)
		}
		applied = *inc.ApprovedAt
	}
	r, err := report.RenderDSAIncident(ctx, st.Incidents, inc, *cfg, applied)
	if err != nil {
		return err
	}
	if !r.Valid {
		fmt.Fprintf(c.Stderr, "vigil: incident %d: %s\n", id, r.Error)
		return errSilent
	}
	fmt.Fprint(c.Stdout, r.Report)
	fmt.Fprintf(c.Stderr, "vigil: incident %d: %d statements of reasons, valid against the Transparency Database's rules\n", id, len(inc.Files)+len(inc.Conversations))
	return nil
}

// readDSAConfig reads and checks a report.DSAConfig JSON file.
func readDSAConfig(path string) (*report.DSAConfig, error) {
	raw, err := readConfigFile(path, "dsa")
	if err != nil {
		return nil, err
	}
	cfg, err := report.ParseDSAConfig(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %s", path, vigil.ErrorMessage(err))
	}
	return cfg, nil
}

// readConfigFile reads a deployment's JSON configuration file, bounded.
func readConfigFile(path, what string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxConfigFile+1))
	if err != nil {
		return nil, fmt.Errorf("read %s config %s: %w", what, path, err)
	}
	if len(data) > maxConfigFile {
		return nil, fmt.Errorf("%s config %s is larger than %d bytes", what, path, maxConfigFile)
	}
	return data, nil
}
