package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/classify"
	"github.com/vigil-oss/vigil/feed"
	"github.com/vigil-oss/vigil/grooming"
	"github.com/vigil-oss/vigil/hashing"
	vhttp "github.com/vigil-oss/vigil/http"
	"github.com/vigil-oss/vigil/jobs"
	"github.com/vigil-oss/vigil/matcher"
	"github.com/vigil-oss/vigil/pdq"
	"github.com/vigil-oss/vigil/report"
	"github.com/vigil-oss/vigil/respond"
	"github.com/vigil-oss/vigil/vpdq"
)

// ServeCommand runs the matching service: `vigil serve`.
type ServeCommand struct{ *Main }

// Run opens the store, creates a bootstrap admin key on first start, loads
// the indexes and serves the API until interrupted.
func (c *ServeCommand) Run(ctx context.Context, args []string) error {
	fs := c.newFlagSet("vigil serve", "Usage: vigil serve [flags]\n\nServes the matching and review API, the review UI (/ui/) and background jobs on the embedded store,\ncreating the data directory on first start.")
	data := dataFlag(fs)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on (host:port)")
	refresh := fs.Duration("refresh", 2*time.Second, "how often to pick up bank changes made by other processes")
	maxBytes := fs.Int64("max-bytes", hashing.DefaultLimits.MaxBytes, "largest uploaded content, in bytes")
	maxPixels := fs.Int64("max-pixels", hashing.DefaultLimits.MaxPixels, "largest uploaded image, in pixels")
	decodeMemory := fs.Int64("decode-memory", hashing.DefaultDecodeMemory, "memory, in bytes, that images being decoded may take at once, across uploads, jobs and previews; beyond it a decode waits --decode-wait, then is refused (503). An image needs up to 16 bytes a pixel while decoding: keep it at least 16 × --max-pixels")
	decodeWait := fs.Duration("decode-wait", hashing.DefaultDecodeWait, "how long a decode waits for --decode-memory to free up")
	bodyTimeout := fs.Duration("body-timeout", vhttp.DefaultBodyTimeout, "time a client has to send a JSON or form request body (408 after)")
	uploadTimeout := fs.Duration("upload-timeout", vhttp.DefaultUploadTimeout, "time a client has to send an upload or import body (408 after)")
	retention := fs.Duration("conversation-retention", 30*24*time.Hour, "how long a conversation's scoring state is kept after its last message")
	webhooks := webhookFlag(fs.FlagSet)
	rematchWebhook := fs.String("rematch-webhook", "", "notify this webhook (a --webhook NAME) of retroactive matches; needs --keep-signals")
	noticeWebhook := fs.String("notice-webhook", "", "tell this webhook (a --webhook NAME) when the platform may notify a user of an action on their content (user.notice, with the statement of reasons when --dsa-config is set) and when an upheld complaint reverses one (action.reversed)")
	noticeDelay := fs.Duration("notice-delay", vigil.DefaultNoticeDelay, "how long after a confirmed decision the user.notice waits; legal holds and reports not yet sent hold it back longer")
	jobWorkers := fs.Int("job-workers", jobs.DefaultWorkers, "background jobs (uploads to /v1/jobs, webhook deliveries) run at once")
	keepSignals := fs.Duration("keep-signals", 0, "keep the signals (never the content) of matched-against uploads this long, and match them against entries added later (0: off)")
	hmaCompat := fs.Bool("hma-compat", false, "also serve the HMA-compatible API (/status, /h/, /m/, /c/) for clients of Meta's Hasher-Matcher-Actioner; see README \"Moving from HMA\"")
	hmaAllowedHosts := fs.String("hma-allowed-hosts", "", "comma-separated hosts (and their subdomains) that HMA ?url= fetches may reach on private, loopback or link-local addresses; others must be public")
	lookupRate := fs.Float64("lookup-rate", 0, "requests per second a lookup key (role lookup) without limits of its own may make to POST /v1/lookup, divided among the replicas live in the store (0: no limit)")
	lookupBurst := fs.Int("lookup-burst", 0, "requests a lookup key may make at once, past --lookup-rate (0: one second's worth)")
	lookupDaily := fs.Int64("lookup-daily", 0, "signals a lookup key without limits of its own may look up per UTC day, across replicas (0: no limit)")
	var exchangeFlags stringsFlag
	fs.Var(&exchangeFlags, "exchange", "with --feed-sync: also sync an outside exchange into a bank (created if missing), repeatable: stopncii:BANK, ncmec:BANK or threatexchange:BANK:PRIVACY_GROUP; credentials from the environment as vigil feed KIND takes them, base URLs from $VIGIL_STOPNCII_BASE_URL, $VIGIL_NCMEC_HASH_URL, $VIGIL_THREATEXCHANGE_URL")
	feedSync := fs.Duration("feed-sync", 0, "sync every active feed subscription (and exchange) in the server, this often; state on /readyz and in metrics (0: off; vigil feed sync does it outside)")
	feedKeyFile := fs.String("feed-api-key-file", "", "with --feed-sync: file holding the API key sent to publishers (default: $VIGIL_FEED_API_KEY)")
	feedAllowedHosts := fs.String("feed-allowed-hosts", "", "with --feed-sync: comma-separated hosts that subscriptions made through the HMA routes may sync from on private, loopback or link-local addresses")
	for _, name := range []string{"refresh", "max-bytes", "max-pixels", "conversation-retention", "job-workers", "notice-delay"} {
		fs.limit(name, positive())
	}
	for _, name := range []string{"lookup-rate", "lookup-burst", "lookup-daily", "feed-sync"} {
		fs.limit(name, atLeast(0))
	}
	reportRetention := &retentionFlag{}
	fs.Var(reportRetention, "report-retention", "how long, in months after it was submitted, an incident, what was sent of it and its cases' evidence are kept before the hourly purge deletes them: MONTHS (every destination) and DESTINATION=MONTHS items, comma-separated, e.g. 12,eu=12; legal holds (POST /v1/holds) keep them longer. Unsent incidents are kept (default 12, as 18 U.S.C. 2258A and the EU proposal ask)")
	draftRetention := vigil.DefaultDraftRetention
	fs.Var(daysFlag{&draftRetention}, "draft-retention", "how long a draft incident nobody approved is kept after its last edit before the hourly purge discards it (audited; held drafts are kept, approved incidents never discarded): DAYSd or a duration")
	ncmecConfig := fs.String("ncmec-config", "", "JSON file of the deployment's NCMEC reporter settings: incidents are rendered for NCMEC (GET /v1/incidents/{id}/render) only with it")
	dsaConfig := fs.String("dsa-config", "", "JSON file of the deployment's DSA statement of reasons settings: incidents are rendered for the EU Transparency Database (GET /v1/incidents/{id}/render?format=dsa) only with it")
	ncmecURL := fs.String("ncmec-url", report.NCMECTestURL, "NCMEC ISPWS base URL (the default is NCMEC's test environment, whose reports are discarded; production is "+report.NCMECProductionURL+")")
	ncmecUser := fs.String("ncmec-user", "", "NCMEC ISPWS user name; with it (and the password in $VIGIL_NCMEC_PASSWORD) approved incidents can be sent")
	dest := addDestinationFlags(fs)
	centreOpts := addCentreFlags(fs)
	c2paTrust := fs.String("c2pa-trust", "", "PEM file of the certificates trusted as C2PA signers' and time-stamping authorities' roots; uploads' C2PA and XMP provenance is read either way and shown on cases (generative_ai)")
	review := addReviewFlags(fs)
	ruleFlags := addRulesFlags(fs)
	uiOpts := addUIFlags(fs)
	classifiers := addClassifierFlags(fs.FlagSet)
	phmFlags := addPHMServeFlags(fs, "phm-")
	if err := fs.parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fs.usageErrorf("serve takes no arguments, got %q", fs.Args())
	}
	reportRetention.p.Drafts = draftRetention
	if err := reportRetention.p.Validate(); err != nil {
		return fs.usageErrorf("--draft-retention: %s", vigil.ErrorMessage(err))
	}
	if *hmaAllowedHosts != "" && !*hmaCompat {
		return fs.usageErrorf("--hma-allowed-hosts needs --hma-compat")
	}
	lookupLimits := vigil.KeyLimits{Rate: *lookupRate, Burst: *lookupBurst, Daily: *lookupDaily}
	if err := lookupLimits.Validate(); err != nil {
		return fs.usageErrorf("--lookup-rate, --lookup-burst, --lookup-daily: %s", vigil.ErrorMessage(err))
	}
	var exchanges []exchangeSpec
	for _, v := range exchangeFlags {
		e, err := parseExchange(v)
		if err != nil {
			return fs.usageErrorf("%v", err)
		}
		exchanges = append(exchanges, e)
	}
	if (*feedKeyFile != "" || *feedAllowedHosts != "" || len(exchanges) > 0) && *feedSync <= 0 {
		return fs.usageErrorf("--feed-api-key-file, --feed-allowed-hosts and --exchange need --feed-sync")
	}
	feedKey, err := readAPIKey(*feedKeyFile)
	if err != nil {
		return err
	}
	if *rematchWebhook != "" {
		if _, ok := webhooks[*rematchWebhook]; !ok || *keepSignals <= 0 {
			return fs.usageErrorf("--rematch-webhook %q needs --webhook %s=URL and --keep-signals", *rematchWebhook, *rematchWebhook)
		}
	}

	if *noticeWebhook != "" {
		if _, ok := webhooks[*noticeWebhook]; !ok {
			return fs.usageErrorf("--notice-webhook %q needs --webhook %s=URL", *noticeWebhook, *noticeWebhook)
		}
	}
	if *noticeDelay > vigil.MaxNoticeDelay {
		return fs.usageErrorf("--notice-delay is at most %s", vigil.MaxNoticeDelay)
	}

	// Read before anything is opened: a wrong file is refused at once.
	prov, err := provenanceReader(*c2paTrust)
	if err != nil {
		return err
	}

	if *decodeMemory > 0 && *decodeMemory < 16**maxPixels {
		c.Logger.Warn("--decode-memory is under 16 bytes per pixel of --max-pixels: the largest images may be refused", "decode_memory", *decodeMemory, "max_pixels", *maxPixels)
	}

	db, err := c.createStore(ctx, data)
	if err != nil {
		return err
	}
	defer db.Close()
	banks, entries, keys := db.Banks, db.Entries, db.Keys
	conversations := db.Conversations
	cases, mediaStore, err := c.openReview(ctx, db, data.dir(), review)
	if err != nil {
		return err
	}
	ruleStore := db.Rules
	if ruleFlags.classifiers, err = classifiers.names(); err != nil {
		return err
	}
	if err := c.loadRules(ctx, cases, ruleStore, ruleFlags, webhooks); err != nil {
		return err
	}

	if err := c.bootstrapKey(ctx, db, keys); err != nil {
		return err
	}

	start := time.Now()
	m := matcher.New(banks, entries, c.Logger)
	signals := db.Signals
	if *keepSignals > 0 {
		m.SetSignalStore(signals)
	}
	// One decode budget for the API, the jobs and the UI previews: they
	// share the process's memory.
	budget := hashing.NewDecodeBudget(*decodeMemory, *decodeWait)
	hashOpts := hashing.Options{Limits: hashing.Limits{MaxBytes: *maxBytes, MaxPixels: *maxPixels, Memory: budget}, Pipeline: pdq.Full, Dihedral: true,
		Provenance: prov}
	js, err := c.openJobs(ctx, db, data.dir(), webhooks, *jobWorkers, hashOpts, m, signals, *keepSignals)
	if err != nil {
		return err
	}
	defer js.Close()
	// One response service for every entry point: the API, content jobs
	// and retroactive matches. Failed actions are retried as jobs.
	flow := &respond.Service{Rules: ruleStore, Cases: cases, Media: mediaStore, Notifier: js, Queue: js, Banks: banks, Entries: entries,
		CaseRetention: ruleFlags.caseRetention, Logger: c.Logger, Checked: &respond.CheckCounter{Store: db.Transparency, Logger: c.Logger},
		AutoActions: db.Notices}
	// Content jobs are classified like uploads to /v1/match, by the
	// classifiers built below, before the jobs start.
	var classifierSet *classify.Set
	js.OnContent(func(ctx context.Context, ref vigil.ContentRef, results []vigil.MatchResult, media func() ([]byte, error)) *vigil.Outcome {
		return flow.Content(ctx, ref, results, classifyJob(ctx, flow, classifierSet, ref, media), media)
	})
	js.KeepVideoFrames(func(ctx context.Context) (vpdq.KeepOptions, bool) {
		if classifierSet.Len() == 0 || !flow.Classifies(ctx) {
			return vpdq.KeepOptions{}, false
		}
		return classifierSet.KeepOptions("job")
	})
	js.OnAction(flow.Carry)
	onRematch := []func(context.Context, []*vigil.Rematch) error{flow.Rematches}
	if *rematchWebhook != "" {
		onRematch = append(onRematch, matcher.NotifyRematches(js, *rematchWebhook))
	}
	m.OnRematch(allRematch(onRematch))

	srv := vhttp.NewServer()
	srv.Addr, srv.Banks, srv.Entries, srv.Keys, srv.Matcher, srv.Logger = *addr, banks, entries, keys, m, c.Logger
	srv.Items = db.Items
	srv.Hashing = hashOpts
	srv.BodyTimeout, srv.UploadTimeout = *bodyTimeout, *uploadTimeout
	srv.Jobs, srv.Notifier, srv.Respond = js, js, flow
	srv.Conversations, srv.Grooming, srv.ConversationRetention = conversations, grooming.NewDetector(grooming.Options{}), *retention
	srv.Audit = db.Audit
	srv.Feeds, srv.Subscriptions = db.Feeds, db.Feeds
	srv.Signals, srv.KeepSignals = signals, *keepSignals
	srv.Cases, srv.Media, srv.UI, srv.Sessions = cases, mediaStore, *uiOpts, db.Sessions
	srv.Incidents = db.Incidents
	if *ncmecConfig != "" {
		if srv.NCMEC, err = readNCMECConfig(*ncmecConfig); err != nil {
			return err
		}
		srv.NCMECValidator = &report.Validator{}
		defer srv.NCMECValidator.Close()
	}
	if *dsaConfig != "" {
		if srv.DSA, err = readDSAConfig(*dsaConfig); err != nil {
			return err
		}
	}
	var ds []report.Destination
	if *ncmecUser != "" {
		if srv.NCMEC == nil {
			return fs.usageErrorf("--ncmec-user needs --ncmec-config")
		}
		ds = append(ds, &report.NCMEC{Media: mediaStore, Config: *srv.NCMEC, Validator: srv.NCMECValidator,
			Client: &report.ISPWS{BaseURL: *ncmecURL, Username: *ncmecUser, Password: os.Getenv("VIGIL_NCMEC_PASSWORD"),
				HTTP: &http.Client{Timeout: 2 * time.Minute}}})
	}
	more, eu, err := dest.destinations(fs, srv.DSA, db.Submissions, os.Getenv)
	if err != nil {
		return err
	}
	srv.EU, ds = eu, append(ds, more...)
	centreDest, err := centreOpts.destination(fs, eu, os.Getenv)
	if err != nil {
		return err
	} else if centreDest != nil {
		ds = append(ds, centreDest)
	}
	if srv.Centre, err = centreOpts.options(fs, db, m, webhooks, js, c.Logger); err != nil {
		return err
	} else if srv.Centre != nil {
		o := srv.Centre.Outcome
		js.OnCentreForward(o.Job)
		// Forwards decided by a process that died before queueing them.
		if n, err := o.QueuePending(ctx); err != nil {
			return fmt.Errorf("queue pending forwards: %w", err)
		} else if n > 0 {
			c.Logger.Info("queued pending centre forwards", "count", n)
		}
	}
	if len(ds) > 0 {
		sub := &report.Submitter{Incidents: srv.Incidents, Submissions: db.Submissions, Logger: c.Logger, Destinations: ds}
		srv.Submitter, srv.SubmissionQueue = sub, js
		js.OnSubmission(sub.Run)
	}
	srv.Rules, srv.CaseRetention = ruleStore, ruleFlags.caseRetention
	srv.Preservation, srv.Retention = db.Preservation, reportRetention.p
	srv.Complaints, srv.Transparency = db.Complaints, db.Transparency
	srv.Lookups, srv.LookupLimits = db.Lookups, lookupLimits
	var loop *feed.Loop
	if *feedSync > 0 {
		extra, err := exchangeSources(ctx, db, exchanges, c.Logger)
		if err != nil {
			return err
		}
		loop = feedLoop(db, *feedSync, feedKey, splitHosts(*feedAllowedHosts), extra, c.Logger)
		srv.FeedLoop = loop
	}
	if srv.Classifiers, err = classifiers.build(srv.ClassifierMetrics(), c.Logger); err != nil {
		return err
	}
	classifierSet = srv.Classifiers
	for _, g := range srv.Classifiers.Guards() {
		c.Logger.Info("classifier", "name", g.Name, "kind", g.Kind, "endpoint", g.Endpoint())
	}
	if *hmaCompat {
		srv.HMA = &vhttp.HMAOptions{AllowedHosts: splitHosts(*hmaAllowedHosts)}
	}
	if phmFlags.on() {
		// Private hash matching: vouchers on POST /v1/phm/vouchers, the
		// second check on this matcher, cases through this flow.
		if srv.PHM, err = phmFlags.service(phmTableDirs{}, db.PHM, m, flow, c.Logger); err != nil {
			return fmt.Errorf("--phm-table, --phm-keys, --phm-review-key: %w", err)
		}
	}
	// The API serves while the indexes load, so that /readyz can report
	// the load's progress (a large store takes minutes); lookups answer
	// 503 until the load completes, and jobs, which match, start after it.
	if err := srv.Open(); err != nil {
		return err
	}
	c.Logger.Info("serving", "url", srv.URL(), "data", db.Path())
	loaded := make(chan error, 1)
	go func() { loaded <- m.Load(ctx) }()
	select {
	case err := <-loaded:
		if err != nil {
			shutCtx, done := context.WithTimeout(context.Background(), 10*time.Second)
			defer done()
			return errors.Join(fmt.Errorf("load indexes: %w", err), srv.Close(shutCtx))
		}
	case <-ctx.Done():
		// Load ends with ctx; only the server needs stopping.
		c.Logger.Info("shutting down")
		<-loaded
		shutCtx, done := context.WithTimeout(context.Background(), 10*time.Second)
		defer done()
		return srv.Close(shutCtx)
	}
	st := m.Status()
	c.Logger.Info("indexes loaded", "pdq", st.Types[vigil.SignalPDQ].Entries, "md5", st.Types[vigil.SignalMD5].Entries,
		"sha1", st.Types[vigil.SignalSHA1].Entries, "sha256", st.Types[vigil.SignalSHA256].Entries,
		"banks", st.Banks, "took", time.Since(start).Round(time.Millisecond))
	// The PHM route opens once the second check has its indexes and what
	// an earlier run revealed is handed on.
	if err := srv.StartPHM(ctx); err != nil {
		shutCtx, done := context.WithTimeout(context.Background(), 10*time.Second)
		defer done()
		return errors.Join(err, srv.Close(shutCtx))
	}
	// Jobs outlive ctx's cancellation until Stop below, so that running
	// ones get a chance to finish.
	if err := js.Start(context.WithoutCancel(ctx)); err != nil {
		shutCtx, done := context.WithTimeout(context.Background(), 10*time.Second)
		defer done()
		return errors.Join(err, srv.Close(shutCtx))
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go m.Run(runCtx, *refresh)
	if db.follow != nil {
		// Replicas on one PostgreSQL: refresh as soon as another commits
		// bank changes, not only every --refresh.
		go db.follow(runCtx, *refresh, m.Refresh)
	}
	if loop != nil {
		go loop.Run(runCtx)
	}
	go c.purge(runCtx, conversations, signals)
	go centreOpts.runPoll(runCtx, centreDest, db, c.Logger)
	go c.purgeCases(runCtx, cases, db.Preservation, reportRetention.p, mediaStore)
	checkedDone := make(chan struct{})
	go func() { flow.Checked.Run(runCtx, 10*time.Second); close(checkedDone) }()
	if *noticeWebhook != "" {
		notices := &respond.Notices{Store: db.Notices, Notifier: js, Webhook: *noticeWebhook, Delay: *noticeDelay, DSA: srv.DSA, Logger: c.Logger}
		go notices.Run(runCtx, time.Minute)
	}

	<-ctx.Done()
	c.Logger.Info("shutting down")
	cancel()
	<-checkedDone // the last counts are written before the store closes
	shutCtx, done := context.WithTimeout(context.Background(), 10*time.Second)
	defer done()
	return errors.Join(srv.Close(shutCtx), js.Stop(shutCtx))
}

// feedLoop returns the loop of vigil serve --feed-sync: every active
// subscription, synced and its feedback sent as vigil feed sync does,
// then the exchanges of exchangeSources.
func feedLoop(db *store, interval time.Duration, apiKey string, allowed []string, extra []feed.Source, logger *slog.Logger) *feed.Loop {
	cl := &feed.Client{Subs: db.Feeds, APIKey: apiKey, Actor: "server", Audit: true, AllowedHosts: allowed}
	subs := feed.SubscriptionSources(db.Feeds, cl)
	return &feed.Loop{Interval: interval, Logger: logger, Sources: func(ctx context.Context) ([]feed.Source, error) {
		out, err := subs(ctx)
		return append(out, extra...), err
	}}
}

// openJobs opens the background job runner on the store's database (the
// SQLite file or the PostgreSQL database), with uploads spooled under the
// data directory.
func (c *ServeCommand) openJobs(ctx context.Context, db *store, data string, webhooks webhookFlags, workers int, hashOpts hashing.Options,
	m vigil.MatchService, signals vigil.SignalStore, keep time.Duration) (*jobs.Client, error) {
	hooks, err := webhooks.resolve(os.Getenv)
	if err != nil {
		return nil, err
	}
	return jobs.Open(ctx, jobs.Config{
		DBPath: db.sqlitePath, DatabaseURL: db.pgURL, SpoolDir: filepath.Join(data, "spool"),
		Matcher: m, Signals: signals, KeepSignals: keep, Hashing: hashOpts,
		Webhooks: hooks, Workers: workers, Logger: c.Logger,
	})
}

// bootstrapKey creates an admin key when the store has never had one and
// prints it once: without it nobody could call the API.
func (c *ServeCommand) bootstrapKey(ctx context.Context, db *store, keys vigil.KeyService) error {
	n, err := keys.CountKeys(ctx)
	if err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	k := &vigil.Key{Name: "bootstrap-admin", Role: vigil.RoleAdmin, CreatedBy: "vigil serve"}
	secret, err := keys.CreateKey(vigil.WithAudit(ctx, keyCLIRecord(vigil.AuditKeyCreate, k)), k)
	if err != nil {
		return fmt.Errorf("create bootstrap key: %w", err)
	}
	fmt.Fprintf(c.Stdout, "First start: created an admin API key. It is shown only this once; store it now:\n\n    %s\n\n", secret)
	return nil
}

// purge deletes expired conversation state and kept signals hourly, so
// that retention periods hold even for what nobody touches again.
func (c *ServeCommand) purge(ctx context.Context, conversations vigil.ConversationService, signals vigil.SignalStore) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		if n, err := conversations.DeleteExpiredConversations(ctx); err != nil && ctx.Err() == nil {
			c.Logger.Error("purge expired conversations", "err", err)
		} else if n > 0 {
			c.Logger.Info("purged expired conversations", "count", n)
		}
		if n, err := signals.DeleteExpiredSignals(ctx); err != nil && ctx.Err() == nil {
			c.Logger.Error("purge expired signals", "err", err)
		} else if n > 0 {
			c.Logger.Info("purged expired signals", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
