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
	"github.com/vigil-oss/vigil/feed/stopncii"
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
	vigil feed stopncii [--data DIR] --bank NAME [--since UNIXTIME] [--base-url URL]

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

stopncii pulls StopNCII.org's hashes changed since --since into a bank (created
if missing; withdrawn hashes are retracted) and prints the checkpoint to pass as
--since next time. Keys come from VIGIL_STOPNCII_SUBSCRIPTION_KEY and
VIGIL_STOPNCII_FETCH_KEY. A batch or head that fails any check (signature, chain, a fork of the
history) is refused with nothing of it applied. The publisher's API key is read
from --api-key-file or VIGIL_FEED_API_KEY and never printed.`

// Run dispatches to the feed subcommands.
func (c *FeedCommand) Run(ctx context.Context, args []string) error {
	sub, args, err := c.group(args, feedUsage, "keygen", "create", "cut", "rotate", "subscribe", "sync", "list", "stopncii")
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
			banks := st.Banks
			b, err := banks.FindBankByName(ctx, *bank)
			if vigil.ErrorCode(err) == vigil.ENOTFOUND {
				b = &vigil.Bank{Name: *bank, Enabled: true, Description: "subscribed to " + fs.Arg(0)}
				err = banks.CreateBank(vigil.WithAudit(ctx, cliRecord(vigil.AuditBankCreate, "bank:"+*bank, b)), b)
			}
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
		since := fs.Int64("since", 0, "Unix time to pull changes from: the checkpoint the last pull printed")
		fs.limit("since", atLeast(0))
		base := fs.String("base-url", stopncii.DefaultBaseURL, "the StopNCII API")
		check = func() error {
			if *bank == "" {
				return fs.usageErrorf("feed stopncii needs --bank")
			}
			return fs.nargs(0, 0, "no arguments")
		}
		run = func(ctx context.Context, st *store) error {
			cl := &stopncii.Client{BaseURL: strings.TrimRight(*base, "/"),
				SubscriptionKey: os.Getenv("VIGIL_STOPNCII_SUBSCRIPTION_KEY"), FetchKey: os.Getenv("VIGIL_STOPNCII_FETCH_KEY")}
			banks := st.Banks
			b, err := banks.FindBankByName(ctx, *bank)
			if vigil.ErrorCode(err) == vigil.ENOTFOUND {
				b = &vigil.Bank{Name: *bank, Enabled: true, Description: "StopNCII.org hashes"}
				err = banks.CreateBank(vigil.WithAudit(ctx, cliRecord(vigil.AuditBankCreate, "bank:"+*bank, b)), b)
			}
			if err != nil {
				return err
			}
			if err := c.auditCLI(ctx, st, vigil.AuditEntriesImport, "bank:"+b.Name, map[string]any{"source": "stopncii", "since": *since}); err != nil {
				return err
			}
			res, err := stopncii.Pull(ctx, cl, st.Entries, b.ID, *since, "stopncii")
			if err != nil {
				return fmt.Errorf("pull from stopncii: %s (run again from --since %d; what landed is kept, a rerun skips it)", errorText(err), *since)
			}
			return json.NewEncoder(c.Stdout).Encode(res)
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
