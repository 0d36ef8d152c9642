package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/feed"
	"github.com/vigil-oss/vigil/feed/ncmec"
	"github.com/vigil-oss/vigil/feed/stopncii"
	"github.com/vigil-oss/vigil/feed/threatexchange"
)

// exchangeSpec is one `vigil serve --exchange KIND:BANK[:GROUP]`: an
// outside exchange the server syncs in its feed loop, into BANK.
type exchangeSpec struct {
	kind, bank, group string
}

func (e exchangeSpec) name() string { return e.kind + ":" + e.bank }

// parseExchange reads one --exchange value: stopncii:BANK, ncmec:BANK or
// threatexchange:BANK:PRIVACY_GROUP.
func parseExchange(v string) (exchangeSpec, error) {
	parts := strings.Split(v, ":")
	e := exchangeSpec{kind: parts[0]}
	if len(parts) > 1 {
		e.bank = parts[1]
	}
	switch {
	case e.kind == "threatexchange" && len(parts) == 3:
		e.group = parts[2]
		if _, err := strconv.ParseUint(e.group, 10, 64); err != nil {
			return e, fmt.Errorf("--exchange %q: the privacy group is not a number", v)
		}
	case (e.kind == "stopncii" || e.kind == "ncmec") && len(parts) == 2:
	default:
		return e, fmt.Errorf("--exchange %q is not stopncii:BANK, ncmec:BANK or threatexchange:BANK:PRIVACY_GROUP", v)
	}
	if e.bank == "" {
		return e, fmt.Errorf("--exchange %q names no bank", v)
	}
	return e, nil
}

// envOr is the environment variable env, or def when it is unset.
func envOr(env, def string) string {
	if v := os.Getenv(env); v != "" {
		return strings.TrimRight(v, "/")
	}
	return def
}

// exchangeSources are the exchange syncs (StopNCII, NCMEC hash sharing,
// ThreatExchange) that join the feed loop, each with the credentials and
// default base URL `vigil feed KIND` uses and the feedback it sends
// (StopNCII when its feedback key is set, ThreatExchange opinions; NCMEC
// votes stay with `vigil feed ncmec --feedback`, since other members see
// them). Banks are created on first use, audited as the server's.
func exchangeSources(ctx context.Context, db *store, specs []exchangeSpec, logger *slog.Logger) ([]feed.Source, error) {
	var out []feed.Source
	for _, e := range specs {
		var desc string
		var run func(*vigil.Bank) (func(context.Context) (any, error), error)
		switch e.kind {
		case "stopncii":
			desc = "StopNCII.org hashes"
			run = func(b *vigil.Bank) (func(context.Context) (any, error), error) {
				cl, err := stopnciiClient(envOr("VIGIL_STOPNCII_BASE_URL", stopncii.DefaultBaseURL))
				if err != nil {
					return nil, err
				}
				return stopnciiRun(cl, db, b.ID), nil
			}
		case "ncmec":
			desc = "NCMEC hash sharing entries"
			run = func(b *vigil.Bank) (func(context.Context) (any, error), error) {
				cl, err := ncmecClient(envOr("VIGIL_NCMEC_HASH_URL", ncmec.Industry))
				if err != nil {
					return nil, err
				}
				return ncmecRun(cl, db, b.ID, ncmec.Options{By: "ncmec"}, false, nil), nil
			}
		case "threatexchange":
			desc = "ThreatExchange privacy group " + e.group
			run = func(b *vigil.Bank) (func(context.Context) (any, error), error) {
				cl, err := threatExchangeClient(envOr("VIGIL_THREATEXCHANGE_URL", threatexchange.DefaultBaseURL))
				if err != nil {
					return nil, err
				}
				return threatExchangeRun(cl, db, b.ID, e.group, threatexchange.Options{By: "threatexchange"}), nil
			}
		}
		b, err := findOrCreateBank(ctx, db, e.bank, desc, func(b *vigil.Bank) *vigil.AuditRecord {
			rec := cliRecord(vigil.AuditBankCreate, "bank:"+b.Name, b)
			rec.Actor = "server"
			return rec
		})
		if err != nil {
			return nil, fmt.Errorf("--exchange %s: %w", e.name(), err)
		}
		sync, err := run(b)
		if err != nil {
			return nil, fmt.Errorf("--exchange %s: %w", e.name(), err)
		}
		name := e.name()
		out = append(out, feed.Source{Name: name, Sync: func(ctx context.Context) error {
			res, err := sync(ctx)
			if err != nil {
				return err
			}
			logger.Info("exchange synced", "exchange", name, "result", res)
			return nil
		}})
	}
	return out, nil
}

// stopnciiClient, ncmecClient and threatExchangeClient make an exchange's
// client for base with the credentials from the environment (each
// variable, or the file its _FILE variable names), for `vigil feed KIND`
// and `vigil serve --exchange` alike.
func stopnciiClient(base string) (*stopncii.Client, error) {
	keys, err := readSecrets("VIGIL_STOPNCII_SUBSCRIPTION_KEY", "VIGIL_STOPNCII_FETCH_KEY", "VIGIL_STOPNCII_FEEDBACK_KEY")
	if err != nil {
		return nil, err
	}
	return &stopncii.Client{BaseURL: strings.TrimRight(base, "/"), SubscriptionKey: keys[0], FetchKey: keys[1], FeedbackKey: keys[2]}, nil
}

func ncmecClient(base string) (*ncmec.Client, error) {
	creds, err := readSecrets("VIGIL_NCMEC_HASH_USER", "VIGIL_NCMEC_HASH_PASSWORD")
	if err != nil {
		return nil, err
	}
	return &ncmec.Client{BaseURL: base, Username: creds[0], Password: creds[1]}, nil
}

func threatExchangeClient(base string) (*threatexchange.Client, error) {
	tok, err := readSecrets("VIGIL_THREATEXCHANGE_TOKEN")
	if err != nil {
		return nil, err
	}
	return &threatexchange.Client{BaseURL: base, Token: tok[0]}, nil
}
