package main

import (
	"context"

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
	n := 0
	for {
		expired, err := pres.ExpiredIncidents(ctx, policy, purgeIncidentBatch)
		if err != nil {
			return n, err
		}
		progress := 0
		for _, inc := range expired {
			rec := &vigil.AuditRecord{Actor: purgeActor, Action: vigil.AuditIncidentPurge, Target: vigil.IncidentAuditTarget(inc.ID)}
			if err := pres.PurgeIncident(vigil.WithAudit(ctx, rec), inc.ID, policy); vigil.ErrorCode(err) == vigil.ECONFLICT {
				continue
			} else if err != nil {
				return n, err
			}
			n++
			progress++
		}
		if len(expired) < purgeIncidentBatch || progress == 0 {
			return n, nil
		}
	}
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
