package main

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/media"
)

// reviewFlags are serve's flags for review: the quarantine policy and the
// media keys.
type reviewFlags struct {
	policy       vigil.QuarantinePolicy
	mediaKeyFile string
	mediaMax     int64
	mediaRekey   bool
}

// addReviewFlags registers the review flags on fs.
func addReviewFlags(fs *flagSet) *reviewFlags {
	r := &reviewFlags{}
	fs.IntVar(&r.policy.MinFalsePositives, "quarantine-false-positives", 3,
		"quarantine a bank entry once reviewers have found this many false positives of it (0: never)")
	fs.Float64Var(&r.policy.MaxPrecision, "quarantine-max-precision", 0.5,
		"... provided its precision (confirmed / decided) is at most this")
	fs.Float64Var(&r.policy.SpikeFactor, "quarantine-spike-factor", 10,
		"quarantine a bank entry whose distinct content (by SHA-256) matched in the spike window exceeds this many times its usual rate (0: never)")
	fs.IntVar(&r.policy.SpikeMin, "quarantine-spike-min", 20, "... and number at least this many")
	fs.DurationVar(&r.policy.Window, "quarantine-spike-window", 24*time.Hour, "the spike window")
	fs.IntVar(&r.policy.SpareConfirmed, "quarantine-spare-confirmed", 3,
		"spikes do not quarantine an entry reviewers confirmed at least this often with precision above the maximum (known material spreading); 0 spares none")
	fs.StringVar(&r.mediaKeyFile, "media-key-file", "",
		"file of media encryption keys, \"id:base64key\" one a line, the first current (default: $"+media.EnvKeys+
			", else <data>/media.key, generated on first start)")
	fs.Int64Var(&r.mediaMax, "media-max-bytes", media.DefaultMaxSize, "largest media blob kept for review, in bytes")
	fs.BoolVar(&r.mediaRekey, "media-rekey", false,
		"before serving, seal again under the current (first) media key every blob sealed under an older one, so the older keys can be dropped")
	fs.limit("media-max-bytes", positive())
	return r
}

// mediaKeyFileName is the generated key file in the data directory.
const mediaKeyFileName = "media.key"

// openReview returns the case store and the encrypted media store. Media
// keys come from --media-key-file, else $VIGIL_MEDIA_KEYS, else the data
// directory's key file, generated (and logged) on first start.
func (c *ServeCommand) openReview(ctx context.Context, db *store, dataDir string, r *reviewFlags) (vigil.CaseService, *media.Store, error) {
	if err := r.policy.Validate(); err != nil {
		return nil, nil, fmt.Errorf("quarantine flags: %s", vigil.ErrorMessage(err))
	}
	cases := db.Cases
	db.setReview(r.policy, func(_ context.Context, q autoQuarantine) { c.logAutoQuarantine(q) })

	var keys *media.Keyring
	var err error
	switch env := os.Getenv(media.EnvKeys); {
	case r.mediaKeyFile != "":
		keys, err = media.LoadKeyFile(r.mediaKeyFile)
	case env != "":
		if keys, err = media.ParseKeyring(env); err != nil {
			err = fmt.Errorf("$%s: %w", media.EnvKeys, err)
		}
	default:
		path := filepath.Join(dataDir, mediaKeyFileName)
		var created bool
		keys, created, err = media.LoadOrCreateKeyFile(path, rand.Reader)
		if created {
			c.Logger.Warn("generated a media encryption key; back it up apart from the data, or kept media cannot be read",
				"file", path, "key", keys.Current())
		}
	}
	if err != nil {
		return nil, nil, err
	}
	store, err := media.Open(filepath.Join(dataDir, "media"), keys)
	if err != nil {
		return nil, nil, err
	}
	store.MaxSize = r.mediaMax
	if r.mediaRekey {
		// Before serving: nothing else writes to the store yet.
		start := time.Now()
		n, err := store.Rekey(ctx)
		if err != nil {
			return nil, nil, err
		}
		c.Logger.Info("media sealed again under the current key", "key", keys.Current(), "blobs", n,
			"took", time.Since(start).Round(time.Millisecond))
	}
	c.Logger.Info("review store ready", "media_key", keys.Current(), "quarantine", fmt.Sprintf("%+v", r.policy))
	return cases, store, nil
}

// logAutoQuarantine logs an automatic quarantine; the store has recorded
// it in the audit log in the quarantine's own transaction.
func (c *ServeCommand) logAutoQuarantine(q autoQuarantine) {
	c.Logger.Warn("bank entry quarantined automatically", "entry", q.EntryID, "case", q.CaseID, "reason", q.Reason)
}

// purgeCaseBatch is how many expired cases one pass reads at a time.
const purgeCaseBatch = 100

// purgeExpiredCases deletes the evidence and media of every case whose
// retention has ended, and returns how many it purged. The store decides,
// in each purge's own transaction, that the case may go (PurgeCase checks
// preservation again: a hold made since the case was read keeps it), and
// only then is its media deleted, unless another case not yet purged
// holds the same blob: media is never deleted for a case that is kept. A
// blob whose deletion fails has no case left, and sweepOrphanMedia
// deletes it later.
func purgeExpiredCases(ctx context.Context, cases vigil.CaseService, store vigil.MediaStore) (int, error) {
	n := 0
	var firstErr error
	for {
		expired, err := cases.ExpiredCases(ctx, purgeCaseBatch)
		if err != nil {
			return n, err
		}
		progress := 0
		for _, cs := range expired {
			rec := &vigil.AuditRecord{Actor: purgeActor, Action: vigil.AuditCasePurge, Target: fmt.Sprintf("case:%d", cs.ID)}
			if err := rec.SetDetail(map[string]any{"retain_until": cs.RetainUntil, "media": cs.Content.MediaID != ""}); err != nil {
				return n, err
			}
			if err := cases.PurgeCase(vigil.WithAudit(ctx, rec), cs.ID); vigil.ErrorCode(err) == vigil.ECONFLICT {
				// Preserved since it was read (a hold made just now): kept.
				continue
			} else if err != nil {
				return n, err
			}
			n++
			progress++
			if err := deleteUnheldMedia(ctx, cases, store, cs.Content.MediaID); err != nil && firstErr == nil {
				firstErr = fmt.Errorf("media of purged case %d (the orphan sweep retries it): %w", cs.ID, err)
			}
		}
		if len(expired) < purgeCaseBatch || progress == 0 {
			return n, firstErr
		}
	}
}

// deleteUnheldMedia deletes blob id unless a case not yet purged holds it.
func deleteUnheldMedia(ctx context.Context, cases vigil.CaseService, store vigil.MediaStore, id string) error {
	if id == "" {
		return nil
	}
	inUse, err := cases.MediaInUse(ctx, id)
	if err != nil || inUse {
		return err
	}
	if err := store.Delete(ctx, id); err != nil && vigil.ErrorCode(err) != vigil.ENOTFOUND {
		return err
	}
	return nil
}

// orphanAge is how old a blob that no case holds must be before the sweep
// deletes it: far longer than the request that stores media and then
// opens its case.
const orphanAge = 24 * time.Hour

// sweepOrphanMedia deletes the blobs older than cutoff that no case holds
// and returns how many it deleted.
func sweepOrphanMedia(ctx context.Context, cases vigil.CaseService, store *media.Store, cutoff time.Time) (int, error) {
	n := 0
	err := store.ForEachBlob(ctx, cutoff, func(id string) error {
		inUse, err := cases.MediaInUse(ctx, id)
		if err != nil || inUse {
			return err
		}
		if err := store.Delete(ctx, id); err != nil {
			return err
		}
		n++
		return nil
	})
	return n, err
}

// purgeCases runs purgeExpiredIncidents and then purgeExpiredCases
// hourly, and sweepOrphanMedia daily, until ctx ends. Incidents go first:
// the cases of an incident purged in a pass are purged in the same pass.
func (c *ServeCommand) purgeCases(ctx context.Context, cases vigil.CaseService, pres vigil.PreservationService,
	policy vigil.RetentionPolicy, store *media.Store) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for pass := 0; ; pass++ {
		if n, err := purgeExpiredIncidents(ctx, pres, policy); err != nil && ctx.Err() == nil {
			c.Logger.Error("purge expired incidents", "purged", n, "err", err)
		} else if n > 0 {
			c.Logger.Info("purged expired incidents", "count", n, "retention", policy.String())
		}
		if n, err := discardStaleDrafts(ctx, pres, policy); err != nil && ctx.Err() == nil {
			c.Logger.Error("discard stale draft incidents", "discarded", n, "err", err)
		} else if n > 0 {
			c.Logger.Info("discarded draft incidents never approved", "count", n, "lifetime", policy.DraftLifetime().String())
		}
		if n, err := purgeExpiredCases(ctx, cases, store); err != nil && ctx.Err() == nil {
			c.Logger.Error("purge expired cases", "purged", n, "err", err)
		} else if n > 0 {
			c.Logger.Info("purged expired cases", "count", n)
		}
		if pass%24 == 0 {
			if n, err := sweepOrphanMedia(ctx, cases, store, time.Now().Add(-orphanAge)); err != nil && ctx.Err() == nil {
				c.Logger.Error("sweep media no case holds", "deleted", n, "err", err)
			} else if n > 0 {
				c.Logger.Warn("deleted media no case holds", "count", n)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
