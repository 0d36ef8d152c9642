package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/centre"
	vhttp "github.com/vigil-oss/vigil/http"
	"github.com/vigil-oss/vigil/report"
)

// CentreCommand runs centre mode's offline commands: `vigil centre
// provider add|list|revoke|reinstate` on the centre, `vigil centre
// status` on a provider.
type CentreCommand struct{ *Main }

const centreUsage = `Usage:
	vigil centre provider add [--data DIR] NAME
	vigil centre provider list [--data DIR]
	vigil centre provider revoke [--data DIR] NAME
	vigil centre provider reinstate [--data DIR] NAME
	vigil centre status --centre-url URL [--incident N] [--data DIR]

provider add registers a provider with this centre (vigil serve --centre)
and prints its key, once: the provider sends reports with it
(vigil serve --centre-url, key in $VIGIL_CENTRE_KEY) and sees only its own
reports' status. Audited, by "cli".

provider revoke refuses the provider's key from its next request on (a
running server reads provider keys at each request): its reports and
status requests answer 403, saying the key was revoked. The reports it
sent stay, marked, for the centre's reviewers. provider reinstate gives a
revoked provider a new key, printed once; the revoked key stays refused.
Both audited, by "cli".

status, on a provider, asks the centre for the outcome of every report
sent to it (or incident N's), with the key in $VIGIL_CENTRE_KEY, and
stores each new outcome on the incident's submission (GET
/v1/incidents/{id}/submissions, the incident page). One JSON line per
report. vigil serve --centre-url does the same every --centre-poll.`

// envCentreKey holds a provider's key for the centre.
const envCentreKey = "VIGIL_CENTRE_KEY"

// Run dispatches to the centre subcommands.
func (c *CentreCommand) Run(ctx context.Context, args []string) error {
	sub, args, err := c.group(args, centreUsage, "provider", "status")
	if err != nil {
		return err
	}
	if sub == "provider" {
		if len(args) == 0 || !slices.Contains([]string{"add", "list", "revoke", "reinstate"}, args[0]) {
			return &usageError{msg: "vigil centre provider: want add, list, revoke or reinstate", usage: func(w io.Writer) { fmt.Fprintln(w, centreUsage) }}
		}
		sub, args = "provider "+args[0], args[1:]
	}
	fs := c.newFlagSet("vigil centre "+sub, synopsis(centreUsage, "vigil centre "+sub))
	data := dataFlag(fs)
	var (
		centreURL *string
		incident  *int64
	)
	if sub == "status" {
		centreURL = fs.String("centre-url", "", "the centre's base URL (required)")
		incident = fs.Int64("incident", 0, "only this incident's reports")
	}
	if err := fs.parse(args); err != nil {
		return err
	}
	switch sub {
	case "provider add", "provider revoke", "provider reinstate":
		if err := fs.nargs(1, 1, "one provider name"); err != nil {
			return err
		}
	default:
		if err := fs.nargs(0, 0, "no arguments"); err != nil {
			return err
		}
	}
	var dest *report.Centre
	if sub == "status" {
		if *centreURL == "" {
			return fs.usageErrorf("--centre-url is required")
		}
		dest = &report.Centre{URL: *centreURL, Key: os.Getenv(envCentreKey), EU: &report.EU{}, Client: &http.Client{Timeout: time.Minute}}
		if err := dest.Validate(); err != nil {
			return fs.usageErrorf("%s (key: $%s)", vigil.ErrorMessage(err), envCentreKey)
		}
	}
	db, err := c.openStore(ctx, data)
	if err != nil {
		return err
	}
	defer db.Close()
	enc := json.NewEncoder(c.Stdout)
	switch sub {
	case "provider add":
		p := &vigil.CentreProvider{Name: fs.Arg(0), CreatedBy: "cli"}
		rec := cliRecord(vigil.AuditCentreProviderAdd, "provider:new", nil)
		rec.Complete = func(rec *vigil.AuditRecord) error {
			rec.Target = p.Actor()
			return nil
		}
		secret, err := db.Centre.CreateProvider(vigil.WithAudit(ctx, rec), p)
		if err != nil {
			return err
		}
		fmt.Fprintf(c.Stdout, "Registered provider %d %q. Its key is shown only this once; give it to the provider:\n\n    %s\n\n", p.ID, p.Name, secret)
		return nil
	case "provider revoke", "provider reinstate":
		return c.changeProvider(ctx, db, sub, fs.Arg(0))
	case "provider list":
		list, err := db.Centre.ListProviders(ctx)
		if err != nil {
			return err
		}
		for _, p := range list {
			if err := enc.Encode(p); err != nil {
				return err
			}
		}
		return nil
	}
	return pollCentre(ctx, dest, db.Incidents, db.Submissions, *incident, func(line centreStatusLine) error { return enc.Encode(line) })
}

// changeProvider revokes or reinstates the named provider, audited with
// the change.
func (c *CentreCommand) changeProvider(ctx context.Context, db *store, sub, name string) error {
	list, err := db.Centre.ListProviders(ctx)
	if err != nil {
		return err
	}
	// A provider's id and name never change: read them for the record.
	i := slices.IndexFunc(list, func(p *vigil.CentreProvider) bool { return p.Name == name })
	if i < 0 {
		return fmt.Errorf("no provider named %q (vigil centre provider list)", name)
	}
	if sub == "provider revoke" {
		rec := cliRecord(vigil.AuditCentreProviderRevoke, list[i].Actor(), nil)
		p, err := db.Centre.RevokeProvider(vigil.WithAudit(ctx, rec), name, "cli")
		if err != nil {
			return plainError(err)
		}
		fmt.Fprintf(c.Stdout, "Revoked provider %d %q: its key is refused from its next request on. Its reports stay.\n", p.ID, p.Name)
		return nil
	}
	rec := cliRecord(vigil.AuditCentreProviderReinstate, list[i].Actor(), nil)
	p, secret, err := db.Centre.ReinstateProvider(vigil.WithAudit(ctx, rec), name, "cli")
	if err != nil {
		return plainError(err)
	}
	fmt.Fprintf(c.Stdout, "Reinstated provider %d %q with a new key; the revoked key stays refused. The new key is shown only this once:\n\n    %s\n\n", p.ID, p.Name, secret)
	return nil
}

// centreStatusLine is one report's outcome as vigil centre status prints it.
type centreStatusLine struct {
	Incident     int64 `json:"incident"`
	Submission   int64 `json:"submission"`
	CentreReport int64 `json:"centre_report"`
	vigil.CentreFeedback
	New   bool   `json:"new"`
	Error string `json:"error,omitempty"`
}

// pollCentre asks the centre about every centre submission of the
// incidents (one when incident is not 0) and stores what is new.
func pollCentre(ctx context.Context, dest *report.Centre, incidents vigil.IncidentService, subs vigil.SubmissionService,
	incident int64, out func(centreStatusLine) error) error {
	var ids []int64
	if incident != 0 {
		ids = []int64{incident}
	} else {
		f := vigil.IncidentFilter{States: []vigil.IncidentState{vigil.IncidentApproved}, Limit: vigil.MaxCaseLimit}
		for {
			page, err := incidents.ListIncidents(ctx, f)
			if err != nil {
				return err
			}
			for _, inc := range page {
				ids = append(ids, inc.ID)
			}
			if len(page) < f.Limit {
				break
			}
			f.AfterID = page[len(page)-1].ID
		}
	}
	var failed int
	for _, id := range ids {
		list, err := subs.IncidentSubmissions(ctx, id)
		if err != nil {
			return err
		}
		for _, sub := range list {
			if sub.Destination != report.DestinationCentre || sub.ReportID == 0 {
				continue
			}
			line := centreStatusLine{Incident: id, Submission: sub.ID, CentreReport: sub.ReportID}
			fb, changed, err := dest.Poll(ctx, subs, sub)
			if err != nil {
				line.Error, failed = vigil.ErrorMessage(err), failed+1
			} else {
				line.CentreFeedback, line.New = *fb, changed
			}
			if err := out(line); err != nil {
				return err
			}
		}
	}
	if failed > 0 {
		return fmt.Errorf("%d of the centre's reports could not be polled", failed)
	}
	return nil
}

// centreFlags are serve's flags of centre mode (--centre …) and of the
// provider side (--centre-url).
type centreFlags struct {
	on                     *bool
	forward, indicatorBank *string
	name                   *string
	url                    *string
	poll                   *time.Duration
}

func addCentreFlags(fs *flagSet) *centreFlags {
	return &centreFlags{
		on:            fs.Bool("centre", false, "also run as a centre: registered providers' reports are received on /v1/centre/reports, triaged against this server's banks and queued for its reviewers (see README \"Running a centre\")"),
		forward:       fs.String("centre-forward", "", "comma-separated --webhook NAMEs that centre reviewers may forward reports to (law enforcement); each delivery is a durable job, signed with the webhook's secret, retried with backoff under one Idempotency-Key"),
		indicatorBank: fs.String("centre-indicator-bank", "", "bank that receives the SHA-256 (and PDQ) of the new files of every forwarded, unflagged report (hashes only; publish it as a feed to share it)"),
		name:          fs.String("centre-name", "", "this centre's name in its indicators' provenance (source \"centre:NAME\"), as providers see it in their matches; default source \"centre\""),
		url:           fs.String("centre-url", "", "a centre's base URL: approved incidents can be sent to it (?destination=centre) with the provider key in $"+envCentreKey+"; needs --eu-config"),
		poll:          fs.Duration("centre-poll", 10*time.Minute, "with --centre-url, how often to ask the centre for the outcome of the reports sent to it (0: never; vigil centre status does it once)"),
	}
}

// destination returns the centre destination of --centre-url, if set.
func (f *centreFlags) destination(fs *flagSet, eu *report.EU, getenv func(string) string) (*report.Centre, error) {
	if *f.url == "" {
		return nil, nil
	}
	if eu == nil {
		return nil, fs.usageErrorf("--centre-url needs --eu-config")
	}
	d := &report.Centre{URL: *f.url, Key: getenv(envCentreKey), EU: eu, Client: &http.Client{Timeout: time.Minute}}
	if err := d.Validate(); err != nil {
		return nil, fs.usageErrorf("%s (key: $%s)", vigil.ErrorMessage(err), envCentreKey)
	}
	return d, nil
}

// options builds the server's centre mode, if --centre is set.
func (f *centreFlags) options(fs *flagSet, db *store, m vigil.MatchService, webhooks webhookFlags, queue vigil.CentreForwardQueue, logger *slog.Logger) (*vhttp.CentreOptions, error) {
	if !*f.on {
		if *f.forward != "" || *f.indicatorBank != "" || *f.name != "" {
			return nil, fs.usageErrorf("--centre-forward, --centre-indicator-bank and --centre-name need --centre")
		}
		return nil, nil
	}
	hooks, err := webhooks.resolve(os.Getenv)
	if err != nil {
		return nil, err
	}
	dests := map[string]centre.Forwarder{}
	for _, name := range strings.Split(*f.forward, ",") {
		if name = strings.TrimSpace(name); name == "" {
			continue
		}
		h, ok := hooks[name]
		if !ok {
			return nil, fs.usageErrorf("--centre-forward %q needs --webhook %s=URL", name, name)
		}
		dests[name] = &report.Webhook{URL: h.URL, Secret: h.Secret, Client: &http.Client{Timeout: time.Minute,
			// The signature was made for the configured URL.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	}
	source := "centre"
	if *f.name != "" {
		// A bank name's alphabet: plain in every provider's provenance.
		if err := vigil.ValidateBankName(*f.name); err != nil {
			return nil, fs.usageErrorf("--centre-name may hold only a-z, 0-9, _ and - (1 to %d)", vigil.MaxBankNameLen)
		}
		source = "centre:" + *f.name
	}
	return &vhttp.CentreOptions{Reports: db.Centre, Triage: &centre.Triage{Banks: m, Reports: db.Centre},
		Outcome: &centre.Outcome{Reports: db.Centre, Destinations: dests, Queue: queue, IndicatorBank: *f.indicatorBank, Source: source,
			Banks: db.Banks, Entries: db.Entries, Logger: logger}}, nil
}

// runPoll polls the centre every --centre-poll until ctx ends.
func (f *centreFlags) runPoll(ctx context.Context, dest *report.Centre, db *store, logger *slog.Logger) {
	if dest == nil || *f.poll <= 0 {
		return
	}
	t := time.NewTicker(*f.poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := pollCentre(ctx, dest, db.Incidents, db.Submissions, 0, func(l centreStatusLine) error {
			if l.New {
				logger.Info("centre outcome", "incident", l.Incident, "centre_report", l.CentreReport, "status", l.Status)
			}
			return nil
		})
		if err != nil && ctx.Err() == nil {
			logger.Error("poll centre", "err", err)
		}
	}
}
