package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/report"
)

// ReportCommand renders incidents for centres: `vigil report render|submit`.
type ReportCommand struct{ *Main }

const reportUsage = `Usage:
	vigil report render --incident N [--format ncmec] [--ncmec-config FILE] [--schema FILE] [--data DIR]
	vigil report render --incident N --format dsa --dsa-config FILE [--applied YYYY-MM-DD] [--data DIR]
	vigil report render --incident N --format eu --eu-config FILE [--eu-template FILE] [--data DIR]
	vigil report submit --incident N --dry-run [--destination ncmec|dsa|webhook|all] [--ncmec-config FILE] [--dsa-config FILE] [--eu-config FILE] [--data DIR]

render prints what would be sent for incident N: the NCMEC <report> and one
<fileDetails> per file (report and file ids are placeholders until NCMEC
assigns them), each checked against NCMEC's schema with xmllint (Debian
package libxml2-utils); it exits 1 if a document does not validate.

submit --dry-run renders and validates the incident for each destination as
a submission would (ncmec with --ncmec-config, dsa with --dsa-config, webhook
with --eu-config: the webhook carries the EU Centre rendering), prints each
rendering, and says on stderr what would be sent; it sends nothing, and
exits 1 if a rendering is invalid or the incident is not approved.
--destination picks one (default: every destination whose config is given).

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
decision (default: the day the incident was approved).

--format eu prints the EU Centre report (JSON) rendered from a data-driven
template: the embedded one follows Article 13 of the Commission's proposal
(COM(2022) 209); --eu-template replaces it with another template file
(docs/reporting-eu.md). --eu-config is a JSON file of report.EUConfig
(provider, reference_prefix, content_action, third_country_reports). It
exits 1, naming every empty required field, if the report is incomplete.`

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
	format := fs.String("format", "ncmec", "the report format: ncmec, dsa or eu (render only)")
	configFile := fs.String("ncmec-config", "", "JSON file of the deployment's NCMEC reporter settings (required for ncmec)")
	dsaConfigFile := fs.String("dsa-config", "", "JSON file of the deployment's DSA statement settings (required for dsa)")
	euConfigFile := fs.String("eu-config", "", "JSON file of the deployment's EU Centre report settings (required for eu and the webhook)")
	euTemplateFile := fs.String("eu-template", "", "EU Centre report template file (default: the embedded Article 13 template)")
	appliedFlag := fs.String("applied", "", "dsa: the day (YYYY-MM-DD) the platform applied its decision (default: the approval day)")
	schema := fs.String("schema", "", "NCMEC schema file to validate against (default: the embedded copy)")
	var dryRun *bool
	var destination *string
	if sub == "submit" {
		dryRun = fs.Bool("dry-run", false, "render and validate, send nothing (required: the command line sends nothing; a server submits, POST /v1/incidents/{id}/submit)")
		destination = fs.String("destination", "", "ncmec, dsa, webhook or all (default: every destination whose config is given)")
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
	if sub == "submit" {
		formatSet := false
		fs.Visit(func(f *flag.Flag) { formatSet = formatSet || f.Name == "format" })
		if formatSet {
			return fs.usageErrorf("--format is for render; submit --dry-run takes --destination")
		}
		if !*dryRun {
			return fs.usageErrorf("submit needs --dry-run: the command line sends nothing; submit through a server (POST /v1/incidents/{id}/submit)")
		}
		return c.dryRun(ctx, fs, data, *id, *destination, *configFile, *schema, *dsaConfigFile, *euConfigFile, *euTemplateFile)
	}
	switch *format {
	case "dsa":
		return c.renderDSA(ctx, fs, data, *id, *dsaConfigFile, *appliedFlag)
	case "eu":
		return c.renderEU(ctx, fs, data, *id, *euConfigFile, *euTemplateFile)
	case "ncmec":
	default:
		return fs.usageErrorf("--format must be ncmec, dsa or eu, got %q", *format)
	}
	if *configFile == "" {
		return fs.usageErrorf("--ncmec-config is required")
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
	fmt.Fprintf(c.Stderr, "vigil: incident %d: valid against the NCMEC schema (%d documents)\n", inc.ID, 1+len(r.Files))
	return nil
}

// dryRun renders and validates incident id for each destination asked
// for, through the Submitter a server submits with, and sends nothing.
func (c *ReportCommand) dryRun(ctx context.Context, fs *flagSet, data *storeFlags, id int64, dest, ncmecFile, schema, dsaFile, euFile, euTemplate string) error {
	var ds []report.Destination
	var eu *report.EU
	want := func(name, file, flagName string) (bool, error) {
		switch {
		case dest == name && file == "":
			return false, fs.usageErrorf("--destination %s needs %s", name, flagName)
		case dest == "" || dest == "all" || dest == name:
			return file != "", nil
		}
		return false, nil
	}
	if dest != "" && dest != "all" && dest != report.DestinationNCMEC && dest != report.DestinationDSA && dest != report.DestinationWebhook {
		return fs.usageErrorf("--destination must be ncmec, dsa, webhook or all, got %q", dest)
	}
	if ok, err := want(report.DestinationNCMEC, ncmecFile, "--ncmec-config"); err != nil {
		return err
	} else if ok {
		cfg, err := readNCMECConfig(ncmecFile)
		if err != nil {
			return err
		}
		v := &report.Validator{SchemaPath: schema}
		defer v.Close()
		ds = append(ds, &report.NCMEC{Config: *cfg, Validator: v})
	}
	if ok, err := want(report.DestinationDSA, dsaFile, "--dsa-config"); err != nil {
		return err
	} else if ok {
		cfg, err := readDSAConfig(dsaFile)
		if err != nil {
			return err
		}
		ds = append(ds, &report.DSA{Config: *cfg})
	}
	if ok, err := want(report.DestinationWebhook, euFile, "--eu-config"); err != nil {
		return err
	} else if ok {
		var err error
		if eu, err = readEU(euFile, euTemplate); err != nil {
			return err
		}
		ds = append(ds, &report.Webhook{EU: eu})
	}
	if len(ds) == 0 {
		return fs.usageErrorf("give the config of a destination: --ncmec-config, --dsa-config or --eu-config")
	}
	st, err := c.openStore(ctx, data)
	if err != nil {
		return err
	}
	defer st.Close()
	if eu != nil {
		eu.Submissions = st.Submissions
	}
	sub := &report.Submitter{Incidents: st.Incidents, Submissions: st.Submissions, Destinations: ds}
	failed := false
	for _, d := range ds {
		r, err := sub.DryRun(ctx, id, d.Name())
		if r == nil {
			return err
		}
		if len(ds) > 1 {
			fmt.Fprintf(c.Stdout, "# destination: %s\n", d.Name())
		}
		fmt.Fprint(c.Stdout, r.Report)
		for _, f := range r.Files {
			fmt.Fprint(c.Stdout, f)
		}
		switch {
		case !r.Valid:
			fmt.Fprintf(c.Stderr, "vigil: dry run: %s: incident %d would not be sent: %s\n", d.Name(), id, r.Error)
			failed = true
		case err != nil:
			fmt.Fprintf(c.Stderr, "vigil: dry run: %s: %s: it would not be sent until a reviewer approves it\n", d.Name(), vigil.ErrorMessage(err))
			failed = true
		default:
			fmt.Fprintf(c.Stderr, "vigil: dry run: %s: incident %d is approved and valid; would send %s; sent nothing\n", d.Name(), id, dryRunWhat(d.Name(), r))
		}
	}
	if failed {
		return errSilent
	}
	return nil
}

// dryRunWhat says what a submission to dest would send.
func dryRunWhat(dest string, r *report.Rendering) string {
	switch dest {
	case report.DestinationNCMEC:
		return fmt.Sprintf("1 report and %d files", len(r.Files))
	case report.DestinationDSA:
		var sts []json.RawMessage
		if json.Unmarshal([]byte(r.Report), &sts) == nil {
			return fmt.Sprintf("%d statements of reasons", len(sts))
		}
		return "its statements of reasons"
	}
	return "1 EU Centre report, signed"
}

// renderEU prints incident id's EU Centre report.
func (c *ReportCommand) renderEU(ctx context.Context, fs *flagSet, data *storeFlags, id int64, configFile, templateFile string) error {
	if configFile == "" {
		return fs.usageErrorf("--eu-config is required with --format eu")
	}
	eu, err := readEU(configFile, templateFile)
	if err != nil {
		return err
	}
	st, err := c.openStore(ctx, data)
	if err != nil {
		return err
	}
	defer st.Close()
	eu.Submissions = st.Submissions
	inc, err := st.Incidents.FindIncident(ctx, id)
	if err != nil {
		return err
	}
	r, err := eu.Render(ctx, st.Incidents, inc)
	if err != nil {
		return err
	}
	if !r.Valid {
		fmt.Fprintf(c.Stderr, "vigil: incident %d: %s\n", id, r.Error)
		return errSilent
	}
	fmt.Fprint(c.Stdout, r.Report)
	fmt.Fprintf(c.Stderr, "vigil: incident %d: EU Centre report complete (every required field of the template filled)\n", id)
	return nil
}

// readEU reads the EU Centre report config and template (empty: the
// embedded one).
func readEU(configFile, templateFile string) (*report.EU, error) {
	raw, err := readConfigFile(configFile, "eu")
	if err != nil {
		return nil, err
	}
	cfg, err := report.ParseEUConfig(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %s", configFile, vigil.ErrorMessage(err))
	}
	eu := &report.EU{Config: *cfg}
	if templateFile != "" {
		raw, err := readConfigFile(templateFile, "eu template")
		if err != nil {
			return nil, err
		}
		if eu.Template, err = report.ParseEUTemplate(raw); err != nil {
			return nil, fmt.Errorf("%s: %s", templateFile, vigil.ErrorMessage(err))
		}
	}
	return eu, nil
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

// destinationFlags are serve's flags of the EU Centre rendering and of
// the destinations beyond NCMEC.
type destinationFlags struct {
	euConfig, euTemplate, dsaURL, webhookURL, webhookKey *string
}

// Environment variables of destination secrets.
const (
	envDSAToken      = "VIGIL_DSA_TOKEN"
	envWebhookSecret = "VIGIL_REPORT_WEBHOOK_SECRET"
)

func addDestinationFlags(fs *flagSet) *destinationFlags {
	return &destinationFlags{
		euConfig:   fs.String("eu-config", "", "JSON file of the deployment's EU Centre report settings: incidents are rendered for the EU Centre (GET /v1/incidents/{id}/render?format=eu) only with it"),
		euTemplate: fs.String("eu-template", "", "EU Centre report template file (default: the embedded Article 13 template)"),
		dsaURL: fs.String("dsa-url", "", "EU DSA Transparency Database base URL (its sandbox while testing); with it, --dsa-config and the API token in $"+envDSAToken+
			", approved incidents' statements of reasons can be submitted (POST /v1/incidents/{id}/submit?destination=dsa)"),
		webhookURL: fs.String("report-webhook", "", "URL approved incidents' EU Centre reports can be delivered to (?destination=webhook), signed with the secret in $"+envWebhookSecret+
			" (HMAC-SHA256) or --report-webhook-ed25519-key; needs --eu-config"),
		webhookKey: fs.String("report-webhook-ed25519-key", "", "file holding a hex Ed25519 seed (32 bytes) that signs report deliveries instead of the HMAC secret"),
	}
}

// destinations builds the EU renderer and the DSA and webhook
// destinations the flags ask for.
func (f *destinationFlags) destinations(fs *flagSet, dsa *report.DSAConfig, subs vigil.SubmissionService, getenv func(string) string) ([]report.Destination, *report.EU, error) {
	var ds []report.Destination
	var eu *report.EU
	if *f.euConfig != "" {
		var err error
		if eu, err = readEU(*f.euConfig, *f.euTemplate); err != nil {
			return nil, nil, err
		}
		eu.Submissions = subs
	} else if *f.euTemplate != "" {
		return nil, nil, fs.usageErrorf("--eu-template needs --eu-config")
	}
	if *f.dsaURL != "" {
		if dsa == nil {
			return nil, nil, fs.usageErrorf("--dsa-url needs --dsa-config")
		}
		token := getenv(envDSAToken)
		if token == "" {
			return nil, nil, fs.usageErrorf("--dsa-url needs the Transparency Database API token in $%s", envDSAToken)
		}
		ds = append(ds, &report.DSA{Config: *dsa,
			DB: &report.TransparencyDB{BaseURL: *f.dsaURL, Token: token, Client: &http.Client{Timeout: time.Minute}}})
	}
	if *f.webhookURL != "" {
		if eu == nil {
			return nil, nil, fs.usageErrorf("--report-webhook needs --eu-config")
		}
		w := &report.Webhook{URL: *f.webhookURL, Secret: []byte(getenv(envWebhookSecret)), EU: eu, Client: &http.Client{Timeout: time.Minute}}
		if *f.webhookKey != "" {
			raw, err := readConfigFile(*f.webhookKey, "ed25519 key")
			if err != nil {
				return nil, nil, err
			}
			seed, err := hex.DecodeString(strings.TrimSpace(string(raw)))
			if err != nil || len(seed) != ed25519.SeedSize {
				return nil, nil, fmt.Errorf("%s: want %d bytes of hex (an Ed25519 seed)", *f.webhookKey, ed25519.SeedSize)
			}
			w.Ed25519Key, w.Secret = ed25519.NewKeyFromSeed(seed), nil
		}
		if err := w.Validate(); err != nil {
			return nil, nil, fs.usageErrorf("%s (secret: $%s)", vigil.ErrorMessage(err), envWebhookSecret)
		}
		ds = append(ds, w)
	} else if *f.webhookKey != "" {
		return nil, nil, fs.usageErrorf("--report-webhook-ed25519-key needs --report-webhook")
	}
	return ds, eu, nil
}
