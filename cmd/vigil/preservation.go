package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-oss/vigil"
)

// purgeActor is who the audit log says purged what retention expired.
const purgeActor = "vigil"

// purgeIncidentBatch is how many expired incidents one pass reads at a
// time.
const purgeIncidentBatch = 100

// purgeExpiredIncidents purges every incident whose retention under
// policy has ended and that no hold keeps, each in its own transaction
// with its audit record, and returns how many it purged. An incident held
// or sent again between the read and its purge is refused by the store
// (ECONFLICT) and kept.
func purgeExpiredIncidents(ctx context.Context, pres vigil.PreservationService, policy vigil.RetentionPolicy) (int, error) {
	return endIncidents(ctx, vigil.AuditIncidentPurge,
		func(limit int) ([]*vigil.Incident, error) { return pres.ExpiredIncidents(ctx, policy, limit) },
		func(ctx context.Context, id int64) error { return pres.PurgeIncident(ctx, id, policy) })
}

// discardStaleDrafts discards every draft incident unchanged for longer
// than policy's draft lifetime and under no hold, each in its own
// transaction with its audit record (vigil.AuditIncidentDiscard), and
// returns how many it discarded. A draft edited, approved or held between
// the read and its discard is refused by the store (ECONFLICT) and kept.
func discardStaleDrafts(ctx context.Context, pres vigil.PreservationService, policy vigil.RetentionPolicy) (int, error) {
	return endIncidents(ctx, vigil.AuditIncidentDiscard,
		func(limit int) ([]*vigil.Incident, error) { return pres.StaleDrafts(ctx, policy, limit) },
		func(ctx context.Context, id int64) error { return pres.DiscardDraft(ctx, id, policy) })
}

// endIncidents reads batches of incidents with list and ends each with
// end, audited as action by purgeActor, until a batch is short or ends
// none: an incident end refuses (ECONFLICT) is kept and skipped.
func endIncidents(ctx context.Context, action string, list func(limit int) ([]*vigil.Incident, error),
	end func(ctx context.Context, id int64) error) (int, error) {
	n := 0
	for {
		batch, err := list(purgeIncidentBatch)
		if err != nil {
			return n, err
		}
		progress := 0
		for _, inc := range batch {
			rec := &vigil.AuditRecord{Actor: purgeActor, Action: action, Target: vigil.IncidentAuditTarget(inc.ID)}
			if err := end(vigil.WithAudit(ctx, rec), inc.ID); vigil.ErrorCode(err) == vigil.ECONFLICT {
				continue
			} else if err != nil {
				return n, err
			}
			n++
			progress++
		}
		if len(batch) < purgeIncidentBatch || progress == 0 {
			return n, nil
		}
	}
}

// daysFlag is a duration flag that also takes whole days ("90d"), as
// retention periods are spoken of.
type daysFlag struct{ d *time.Duration }

func (f daysFlag) String() string {
	if f.d == nil {
		return ""
	}
	if *f.d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", *f.d/(24*time.Hour))
	}
	return f.d.String()
}

func (f daysFlag) Set(s string) error {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 || n > int(vigil.MaxDraftRetention/(24*time.Hour)) {
			return fmt.Errorf("want DAYSd (e.g. 90d) or a duration (e.g. 2160h)")
		}
		*f.d = time.Duration(n) * 24 * time.Hour
		return nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return fmt.Errorf("want DAYSd (e.g. 90d) or a duration (e.g. 2160h)")
	}
	*f.d = d
	return nil
}

// retentionFlag is --report-retention: a vigil.RetentionPolicy.
type retentionFlag struct{ p vigil.RetentionPolicy }

func (f *retentionFlag) String() string { return f.p.String() }

func (f *retentionFlag) Set(s string) error {
	p, err := vigil.ParseRetentionPolicy(s)
	if err != nil {
		return err
	}
	f.p = p
	return nil
}
