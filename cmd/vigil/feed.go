package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/feed"
	"github.com/vigil-oss/vigil/feed/ncmec"
	"github.com/vigil-oss/vigil/feed/stopncii"
	"github.com/vigil-oss/vigil/feed/threatexchange"
	"github.com/vigil-oss/vigil/internal/secret"
)

// FeedCommand publishes banks as signed feeds and subscribes to other
// instances' feeds: `vigil feed keygen|create|cut|subscribe|sync|list`.
type FeedCommand struct{ *Main }

const feedUsage = `Usage:
	vigil feed keygen --out FILE NAME
	vigil feed create [--data DIR] --key-file FILE --bank BANK[,BANK…] NAME
	vigil feed cut [--data DIR] --key-file FILE [--cosign-key-file OLD] [--interval D] NAME
	vigil feed rotate [--data DIR] --key-file FILE --new-key-file NEW NAME
	vigil feed subscribe [--data DIR] --key PUBKEY --bank NAME [--api-key-file FILE] URL
	vigil feed sync [--data DIR] [--api-key-file FILE] [--interval D] ID
	vigil feed list [--data DIR]
	vigil feed stopncii [--data DIR] --bank NAME [--since UNIXTIME] [--base-url URL] [--interval D]
	vigil feed ncmec [--data DIR] --bank NAME [--environment URL] [--member ID,…] [--window D] [--feedback [--reason TYPE=GUID,…]] [--interval D]
	vigil feed threatexchange [--data DIR] --bank NAME --privacy-group ID [--base-url URL] [--restart] [--interval D]

A feed publishes banks as signed, numbered batches of changes (additions,
retractions, bank metadata), each chained to the one before, under a signed
transparency-log head. keygen writes a signer key to FILE (keep it secret) and
prints the verifier key that subscribers pin with --key. cut appends the changes
made since the last cut; with --interval it keeps cutting. rotate hands the feed
over to a new key in a batch signed by the current one; cut with the new key
after it, with the old one as --cosign-key-file while subscribers catch up (they
switch keys when they apply the hand-over). A publisher's
"vigil serve" serves its feeds at /v1/feeds/NAME to curator keys.

subscribe pulls a feed (URL: https://host/v1/feeds/NAME) into a local bank,
created if missing, and syncs it once; sync pulls again (with --interval, for
good). Each sync then sends the publisher the review counts (confirmed, false
positive) of the feed's entries, which its curators read at
GET /v1/feeds/NAME/feedback.

stopncii, ncmec and threatexchange fetch an outside exchange into a bank (created
if missing) with the exchange as source and its id as source entry id; what the
exchange deletes or withdraws is retracted. Each keeps its cursor in the store,
so a run resumes where the last one stopped, after a crash too (stopncii with
--since pulls from that Unix time instead, and prints the checkpoint). After
fetching, stopncii, threatexchange and (with --feedback) ncmec send the exchange
the verdicts reviewers gave on its entries' matches (StopNCII feedback
Blocked/NotBlocked, ThreatExchange reactions SAW_THIS_TOO/DISAGREE_WITH_TAGS,
NCMEC upvotes and downvotes; a downvote needs --reason md5=GUID… unless NCMEC
offers one reason only), each once, again when the counts change; a send that fails is retried by the next run. Credentials
come from the environment, or from the file named by the same variable with
_FILE appended: VIGIL_STOPNCII_SUBSCRIPTION_KEY, VIGIL_STOPNCII_FETCH_KEY,
VIGIL_STOPNCII_FEEDBACK_KEY (no feedback without it); VIGIL_NCMEC_HASH_USER,
VIGIL_NCMEC_HASH_PASSWORD; VIGIL_THREATEXCHANGE_TOKEN (APPID|SECRET).

A batch or head that fails any check (signature, chain, a fork of the
history) is refused with nothing of it applied. The publisher's API key is read
from --api-key-file or VIGIL_FEED_API_KEY and never printed.`

// Run dispatches to the feed subcommands.
func (c *FeedCommand) Run(ctx context.Context, args []string) error {
	sub, args, err := c.group(args, feedUsage, "keygen", "create", "cut", "rotate", "subscribe", "sync", "list", "stopncii", "ncmec", "threatexchange")
	if err != nil {
		return err
	}
	fs := c.newFlagSet("vigil feed "+sub, synopsis(feedUsage, "vigil feed "+sub))
	var data *storeFlags
	if sub != "keygen" {
		data = dataFlag(fs)
	}
	var check func() error
	var run func(ctx context.Context, st *store) error
	switch sub {
	case "keygen":
		out := fs.String("out", "", "file to write the signer key to (created, mode 0600)")
		if err := fs.parse(args); err != nil {
			return err
		}
		if err := fs.nargs(1, 1, "a key NAME"); err != nil {
			return err
		}
		if *out == "" {
			return fs.usageErrorf("feed keygen needs --out")
		}
		skey, vkey, err := note.GenerateKey(rand.Reader, fs.Arg(0))
		if err != nil {
			return fmt.Errorf("generate key: %w", err)
		}
		f, err := os.OpenFile(*out, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return err
		}
		if _, err := fmt.Fprintln(f, skey); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
		fmt.Fprintln(c.Stdout, vkey)
		return nil
	case "create":
		keyFile := fs.String("key-file", "", "the feed's signer key file (from feed keygen)")
		banks := fs.String("bank", "", "banks to publish, separated by commas")
		check = func() error {
			if *keyFile == "" || *banks == "" {
				return fs.usageErrorf("feed create needs --key-file and --bank")
			}
			return fs.nargs(1, 1, "a feed NAME")
		}
		run = func(ctx context.Context, st *store) error {
			signer, err := readSigner(*keyFile)
			if err != nil {
				return err
			}
			vkey, err := feed.VerifierKey(signer.skey)
			if err != nil {
				return err
			}
			f := &vigil.Feed{Name: fs.Arg(0), Banks: strings.Split(*banks, ","), VerifierKey: vkey}
			if err := st.Feeds.CreateFeed(vigil.WithAudit(ctx, cliRecord(vigil.AuditFeedCreate, "feed:"+f.Name, f)), f); err != nil {
				return err
			}
			return json.NewEncoder(c.Stdout).Encode(f)
		}
	case "rotate":
		keyFile := fs.String("key-file", "", "the feed's current signer key file")
		newKeyFile := fs.String("new-key-file", "", "the new signer key file (from feed keygen)")
		check = func() error {
			if *keyFile == "" || *newKeyFile == "" {
				return fs.usageErrorf("feed rotate needs --key-file and --new-key-file")
			}
			return fs.nargs(1, 1, "a feed NAME")
		}
		run = func(ctx context.Context, st *store) error {
			cur, err := readSigner(*keyFile)
			if err != nil {
				return err
			}
			next, err := readSigner(*newKeyFile)
			if err != nil {
				return err
			}
			vkey, err := feed.VerifierKey(next.skey)
			if err != nil {
				return err
			}
			p := &feed.Publisher{Feeds: st.Feeds, Signer: cur}
			if err := p.Rotate(vigil.WithAudit(ctx, cliRecord(vigil.AuditFeedPublish, "feed:"+fs.Arg(0), map[string]string{"new_key": vkey})), fs.Arg(0), next, vkey); err != nil {
				return err
			}
			return json.NewEncoder(c.Stdout).Encode(map[string]string{"verifier_key": vkey})
		}
	case "cut":
		keyFile := fs.String("key-file", "", "the feed's signer key file")
		cosign := fs.String("cosign-key-file", "", "an earlier key of the feed to sign heads with too, after a rotate")
		interval := fs.Duration("interval", 0, "keep cutting, this often (0: once)")
		fs.limit("interval", atLeast(0))
		check = func() error {
			if *keyFile == "" {
				return fs.usageErrorf("feed cut needs --key-file")
			}
			return fs.nargs(1, 1, "a feed NAME")
		}
		run = func(ctx context.Context, st *store) error {
			signer, err := readSigner(*keyFile)
			if err != nil {
				return err
			}
			p := &feed.Publisher{Feeds: st.Feeds, Signer: signer}
			if *cosign != "" {
				old, err := readSigner(*cosign)
				if err != nil {
					return err
				}
				p.Cosigners = append(p.Cosigners, old)
			}
			return every(ctx, *interval, func(ctx context.Context) error {
				total := 0
				for {
					n, err := p.Cut(vigil.WithAudit(ctx, cliRecord(vigil.AuditFeedPublish, "feed:"+fs.Arg(0), nil)), fs.Arg(0))
					if err != nil {
						return err
					}
					if total += n; n == 0 {
						break
					}
				}
				return json.NewEncoder(c.Stdout).Encode(map[string]int{"batches": total})
			})
		}
	case "subscribe":
		key := fs.String("key", "", "the feed's verifier key (name+hash+key), from its publisher")
		bank := fs.String("bank", "", "local bank to pull the feed into (created if missing)")
		apiKeyFile := fs.String("api-key-file", "", "file holding the publisher's API key (default: $VIGIL_FEED_API_KEY)")
		var feedName string
		check = func() error {
			if *key == "" || *bank == "" {
				return fs.usageErrorf("feed subscribe needs --key and --bank")
			}
			if err := fs.nargs(1, 1, "a feed URL"); err != nil {
				return err
			}
			u, err := url.Parse(fs.Arg(0))
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.RawQuery != "" {
				return fs.usageErrorf("feed URL must be http(s)://host/…/v1/feeds/NAME without credentials or query")
			}
			feedName = u.Path[strings.LastIndexByte(u.Path, '/')+1:]
			if _, err := note.NewVerifier(*key); err != nil {
				return fs.usageErrorf("--key is not a note verifier key: %v", err)
			}
			return nil
		}
		run = func(ctx context.Context, st *store) error {
			apiKey, err := readAPIKey(*apiKeyFile)
			if err != nil {
				return err
			}
			b, err := findOrCreateBank(ctx, st, *bank, "subscribed to "+fs.Arg(0), func(b *vigil.Bank) *vigil.AuditRecord {
				return cliRecord(vigil.AuditBankCreate, "bank:"+b.Name, b)
			})
			if err != nil {
				return err
			}
			feeds := st.Feeds
			sub := &vigil.Subscription{URL: strings.TrimRight(fs.Arg(0), "/"), Feed: feedName, Key: *key, BankID: b.ID}
			if err := feeds.CreateSubscription(vigil.WithAudit(ctx, cliRecord(vigil.AuditSubscriptionCreate, "bank:"+b.Name, sub)), sub); err != nil {
				return err
			}
			return c.syncOnce(ctx, feeds, sub.ID, apiKey, nil)
		}
	case "sync":
		apiKeyFile := fs.String("api-key-file", "", "file holding the publisher's API key (default: $VIGIL_FEED_API_KEY)")
		interval := fs.Duration("interval", 0, "keep syncing, this often (0: once)")
		fs.limit("interval", atLeast(0))
		allowedHosts := fs.String("allowed-hosts", "", "comma-separated hosts (and their subdomains) that subscriptions made through the HMA routes may sync from on private, loopback or link-local addresses; others must be public")
		var id int64
		check = func() error {
			if err := fs.nargs(1, 1, "a subscription ID"); err != nil {
				return err
			}
			var err error
			if id, err = strconv.ParseInt(fs.Arg(0), 10, 64); err != nil || id <= 0 {
				return fs.usageErrorf("subscription id %q is not a positive number", fs.Arg(0))
			}
			return nil
		}
		run = func(ctx context.Context, st *store) error {
			apiKey, err := readAPIKey(*apiKeyFile)
			if err != nil {
				return err
			}
			feeds := st.Feeds
			return every(ctx, *interval, func(ctx context.Context) error {
				err := c.syncOnce(ctx, feeds, id, apiKey, splitHosts(*allowedHosts))
				if err != nil && *interval > 0 {
					// Keep polling: the error is on the subscription, and
					// the bank keeps its last good state.
					fmt.Fprintf(c.Stderr, "vigil: sync %d: %s\n", id, errorText(err))
					return nil
				}
				return err
			})
		}
	case "stopncii":
		bank := fs.String("bank", "", "local bank to pull into (created if missing)")
		since := fs.Int64("since", -1, "Unix time to pull changes from, instead of the checkpoint kept in the store (-1)")
		fs.limit("since", atLeast(-1))
		base := fs.String("base-url", stopncii.DefaultBaseURL, "the StopNCII API")
		interval := fs.Duration("interval", 0, "keep syncing, this often (0: once)")
		fs.limit("interval", atLeast(0))
		check = func() error {
			if *bank == "" {
				return fs.usageErrorf("feed stopncii needs --bank")
			}
			return fs.nargs(0, 0, "no arguments")
		}
		run = func(ctx context.Context, st *store) error {
			cl, err := stopnciiClient(*base)
			if err != nil {
				return err
			}
			b, err := c.exchangeBank(ctx, st, *bank, "StopNCII.org hashes", vigil.SourceStopNCII)
			if err != nil {
				return err
			}
			if *since >= 0 {
				res, err := stopncii.Pull(ctx, cl, st.Entries, b.ID, *since, "stopncii")
				if err != nil {
					return fmt.Errorf("pull from stopncii: %s (run again from --since %d; what landed is kept, a rerun skips it)", errorText(err), *since)
				}
				return json.NewEncoder(c.Stdout).Encode(res)
			}
			return c.everyExchange(ctx, *interval, "stopncii", stopnciiRun(cl, st, b.ID))
		}
	case "ncmec":
		bank := fs.String("bank", "", "local bank to fetch into (created if missing)")
		env := fs.String("environment", ncmec.Industry, "the NCMEC hash sharing environment's base URL")
		members := fs.String("member", "", "comma-separated member (ESP) ids to keep entries of (default: all)")
		window := fs.Duration("window", 0, "longest time range one paging session covers (0: all the time since the cursor)")
		fs.limit("window", atLeast(0))
		interval := fs.Duration("interval", 0, "keep syncing, this often (0: once)")
		fs.limit("interval", atLeast(0))
		feedback := fs.Bool("feedback", false, "send reviewers' verdicts to NCMEC as upvotes and downvotes (other members see them)")
		reasonFlag := fs.String("reason", "", "downvote reason GUIDs by signal type: md5=GUID,sha1=GUID,pdq=GUID")
		var ids []int64
		reasons := map[vigil.SignalType]string{}
		check = func() error {
			if *bank == "" {
				return fs.usageErrorf("feed ncmec needs --bank")
			}
			for _, kv := range splitHosts(*reasonFlag) {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || v == "" || (k != "md5" && k != "sha1" && k != "pdq") {
					return fs.usageErrorf("--reason %q is not md5|sha1|pdq=GUID", kv)
				}
				reasons[vigil.SignalType(k)] = v
			}
			for _, m := range splitHosts(*members) {
				id, err := strconv.ParseInt(m, 10, 64)
				if err != nil || id < 0 {
					return fs.usageErrorf("--member %q is not a member id", m)
				}
				ids = append(ids, id)
			}
			return fs.nargs(0, 0, "no arguments")
		}
		run = func(ctx context.Context, st *store) error {
			cl, err := ncmecClient(*env)
			if err != nil {
				return err
			}
			b, err := c.exchangeBank(ctx, st, *bank, "NCMEC hash sharing entries", vigil.SourceNCMEC)
			if err != nil {
				return err
			}
			opt := ncmec.Options{Members: ids, Window: *window, By: "ncmec"}
			return c.everyExchange(ctx, *interval, "ncmec", ncmecRun(cl, st, b.ID, opt, *feedback, reasons))
		}
	case "threatexchange":
		bank := fs.String("bank", "", "local bank to fetch into (created if missing)")
		group := fs.String("privacy-group", "", "the ThreatExchange privacy group id")
		base := fs.String("base-url", threatexchange.DefaultBaseURL, "the Graph API")
		restart := fs.Bool("restart", false, "fetch the group from the start, ignoring the kept cursor (needed after 85 days without a sync)")
		interval := fs.Duration("interval", 0, "keep syncing, this often (0: once)")
		fs.limit("interval", atLeast(0))
		check = func() error {
			if *bank == "" || *group == "" {
				return fs.usageErrorf("feed threatexchange needs --bank and --privacy-group")
			}
			if _, err := strconv.ParseUint(*group, 10, 64); err != nil {
				return fs.usageErrorf("--privacy-group %q is not a number", *group)
			}
			return fs.nargs(0, 0, "no arguments")
		}
		run = func(ctx context.Context, st *store) error {
			cl, err := threatExchangeClient(*base)
			if err != nil {
				return err
			}
			b, err := c.exchangeBank(ctx, st, *bank, "ThreatExchange privacy group "+*group, vigil.SourceThreatExchange)
			if err != nil {
				return err
			}
			opt := threatexchange.Options{Restart: *restart, By: "threatexchange"}
			return c.everyExchange(ctx, *interval, "threatexchange", threatExchangeRun(cl, st, b.ID, *group, opt))
		}
	case "list":
		check = func() error { return fs.nargs(0, 0, "no arguments") }
		run = func(ctx context.Context, st *store) error {
			feeds := st.Feeds
			fl, err := feeds.ListFeeds(ctx)
			if err != nil {
				return err
			}
			subs, err := feeds.ListSubscriptions(ctx)
			if err != nil {
				return err
			}
			enc := json.NewEncoder(c.Stdout)
			for _, f := range fl {
				f.Head = "" // long; served at /v1/feeds/NAME/head
				enc.Encode(map[string]any{"feed": f})
			}
			for _, s := range subs {
				enc.Encode(map[string]any{"subscription": s})
			}
			return nil
		}
	}
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := check(); err != nil {
		return err
	}
	st, err := c.openStore(ctx, data)
	if err != nil {
		return err
	}
	defer st.Close()
	return run(ctx, st)
}

func (c *FeedCommand) syncOnce(ctx context.Context, feeds feedStore, id int64, apiKey string, allowed []string) error {
	cl := &feed.Client{Subs: feeds, APIKey: apiKey, Actor: "cli", Audit: true, AllowedHosts: allowed}
	n, err := cl.Sync(ctx, id)
	if err != nil {
		return fmt.Errorf("sync subscription %d: %s (applied %d batches before)", id, errorText(err), n)
	}
	// Reviewers' counts on the feed's entries go back to the publisher.
	opinions, err := cl.SendFeedback(ctx, id)
	if err != nil {
		return fmt.Errorf("send feedback of subscription %d: %s", id, errorText(err))
	}
	sub, err := feeds.FindSubscriptionByID(ctx, id)
	if err != nil {
		return err
	}
	return json.NewEncoder(c.Stdout).Encode(map[string]any{"subscription": id, "batches": n, "applied": sub.Applied, "tree_size": sub.TreeSize, "opinions_sent": opinions})
}

// exchangeBank returns the bank an exchange is fetched into, created if
// missing, with the fetch on the audit record.
func (c *FeedCommand) exchangeBank(ctx context.Context, st *store, name, desc, source string) (*vigil.Bank, error) {
	b, err := findOrCreateBank(ctx, st, name, desc, func(b *vigil.Bank) *vigil.AuditRecord {
		return cliRecord(vigil.AuditBankCreate, "bank:"+name, b)
	})
	if err != nil {
		return nil, err
	}
	if err := c.auditCLI(ctx, st, vigil.AuditEntriesImport, "bank:"+b.Name, map[string]any{"source": source}); err != nil {
		return nil, err
	}
	return b, nil
}

// findOrCreateBank returns the bank name, creating it (with rec's audit
// record) if it does not exist.
func findOrCreateBank(ctx context.Context, st *store, name, desc string, rec func(*vigil.Bank) *vigil.AuditRecord) (*vigil.Bank, error) {
	b, err := st.Banks.FindBankByName(ctx, name)
	if vigil.ErrorCode(err) == vigil.ENOTFOUND {
		b = &vigil.Bank{Name: name, Enabled: true, Description: desc}
		err = st.Banks.CreateBank(vigil.WithAudit(ctx, rec(b)), b)
	}
	if err != nil {
		return nil, err
	}
	return b, nil
}

// stopnciiRun is one StopNCII sync into bankID, and the feedback when the
// client has its key: what `vigil feed stopncii` runs and `vigil serve
// --exchange stopncii:BANK` repeats.
func stopnciiRun(cl *stopncii.Client, st *store, bankID int64) func(context.Context) (any, error) {
	return func(ctx context.Context) (any, error) {
		res, err := stopncii.Sync(ctx, cl, st.Entries, st.Exchanges, bankID, "stopncii")
		if err != nil {
			return nil, err
		}
		out := map[string]any{"pull": res}
		if cl.FeedbackKey != "" {
			n, err := stopncii.SendOpinions(ctx, cl, st.Exchanges, bankID)
			if err != nil {
				return nil, fmt.Errorf("send feedback (sent %d): %w", n, err)
			}
			out["opinions_sent"] = n
		}
		return out, nil
	}
}

// ncmecRun is one NCMEC hash sharing sync into bankID, with the votes
// when feedback is on.
func ncmecRun(cl *ncmec.Client, st *store, bankID int64, opt ncmec.Options, feedback bool, reasons map[vigil.SignalType]string) func(context.Context) (any, error) {
	return func(ctx context.Context) (any, error) {
		res, err := ncmec.Sync(ctx, cl, st.Entries, st.Exchanges, bankID, opt)
		if err != nil {
			return nil, fmt.Errorf("%w (applied %d pages; the next run resumes after them)", err, res.Pages)
		}
		if !feedback {
			return res, nil
		}
		n, err := ncmec.SendOpinions(ctx, cl, st.Exchanges, bankID, reasons)
		if err != nil {
			return nil, fmt.Errorf("send feedback (sent %d): %w", n, err)
		}
		return map[string]any{"fetch": res, "opinions_sent": n}, nil
	}
}

// threatExchangeRun is one ThreatExchange sync of a privacy group into
// bankID, then the opinions; opt.Restart applies to the first run only.
func threatExchangeRun(cl *threatexchange.Client, st *store, bankID int64, group string, opt threatexchange.Options) func(context.Context) (any, error) {
	return func(ctx context.Context) (any, error) {
		res, err := threatexchange.Sync(ctx, cl, st.Entries, st.Exchanges, bankID, group, opt)
		if err != nil {
			return nil, err
		}
		opt.Restart = false // once
		n, err := threatexchange.SendOpinions(ctx, cl, st.Exchanges, bankID)
		if err != nil {
			return nil, fmt.Errorf("send opinions (sent %d): %w", n, err)
		}
		return map[string]any{"fetch": res, "opinions_sent": n}, nil
	}
}

// everyExchange runs one sync of an exchange, or keeps running them with
// a positive interval, printing each result. While polling, a failed sync
// is reported and the next one resumes from the saved cursor.
func (c *FeedCommand) everyExchange(ctx context.Context, interval time.Duration, name string, sync func(context.Context) (any, error)) error {
	return every(ctx, interval, func(ctx context.Context) error {
		res, err := sync(ctx)
		if err != nil {
			err = fmt.Errorf("sync from %s: %s", name, errorText(err))
			if interval > 0 {
				fmt.Fprintf(c.Stderr, "vigil: %s\n", err)
				return nil
			}
			return err
		}
		return json.NewEncoder(c.Stdout).Encode(res)
	})
}

// readSecrets reads credentials from the environment (each variable, or
// the file its _FILE variable names).
func readSecrets(envs ...string) ([]string, error) {
	out := make([]string, len(envs))
	for i, env := range envs {
		b, err := secret.FromEnv(os.Getenv, env, 4096)
		if err != nil {
			return nil, err
		}
		out[i] = string(b)
	}
	return out, nil
}

// every runs fn once, or, with a positive interval, until ctx ends.
func every(ctx context.Context, interval time.Duration, fn func(context.Context) error) error {
	for {
		if err := fn(ctx); err != nil {
			return err
		}
		if interval <= 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(interval):
		}
	}
}

// keySigner is a note signer with the key it came from.
type keySigner struct {
	note.Signer
	skey string
}

func readSigner(path string) (*keySigner, error) {
	b, err := readSmall(path, feed.MaxKeyFileBytes)
	if err != nil {
		return nil, err
	}
	skey := strings.TrimSpace(string(b))
	s, err := note.NewSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("key file %s: not a signer key", path) // never the key itself
	}
	return &keySigner{s, skey}, nil
}

// readAPIKey reads the publisher's API key from path, or the environment.
func readAPIKey(path string) (string, error) {
	if path == "" {
		return os.Getenv("VIGIL_FEED_API_KEY"), nil
	}
	b, err := readSmall(path, 1024)
	return strings.TrimSpace(string(b)), err
}

func readSmall(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, errors.New(path + ": file too large for a key")
	}
	return b, nil
}

// splitHosts splits a comma-separated host list, dropping empty items.
func splitHosts(s string) []string {
	var out []string
	for _, h := range strings.Split(s, ",") {
		if h = strings.TrimSpace(h); h != "" {
			out = append(out, h)
		}
	}
	return out
}
