package centre

import (
	"context"
	"fmt"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/centre/intake"
)

// Priority weights: the score a centre reviewer's queue is ordered by,
// highest first. A report starts at PriorityBase; each applies once.
const (
	PriorityBase = 40
	// New material: a file with a checkable hash that no centre bank
	// holds. A child may be being abused now, and no one has seen it.
	PriorityNewMaterial = 25
	// Ongoing abuse: the provider reported this user before, or the
	// report holds a conversation (contact with a child, under way).
	PriorityOngoingUser  = 20
	PriorityConversation = 15
	// The provider marked the report urgent.
	PriorityUrgent = 15
	// Possibly unfounded: triage set a flag. Still queued, below the
	// same report without it.
	PriorityFlagged = -30
)

// Priority scores a triaged report (0–100) and says what made it up.
// Known material with no other sign is PriorityBase; new material from a
// user reported before, in a conversation, marked urgent, reaches 100.
func Priority(r *vigil.CentreReport, ongoingUser bool) (int, []string) {
	score, why := PriorityBase, []string{fmt.Sprintf("base %d", PriorityBase)}
	add := func(n int, reason string) {
		score += n
		why = append(why, fmt.Sprintf("%+d %s", n, reason))
	}
	for i, f := range r.Files {
		if len(f.Signals()) > 0 && len(f.CentreMatches) == 0 {
			add(PriorityNewMaterial, fmt.Sprintf("new material: file %d is in no centre bank", i))
			break
		}
	}
	if ongoingUser {
		add(PriorityOngoingUser, "ongoing: the provider reported this user before")
	}
	if r.Conversations > 0 {
		add(PriorityConversation, "ongoing: a conversation with a child")
	}
	if r.Urgent {
		add(PriorityUrgent, "the provider marked it urgent")
	}
	if len(r.Flags) > 0 {
		add(PriorityFlagged, fmt.Sprintf("possibly unfounded: %v", r.Flags))
	}
	return max(0, min(100, score)), why
}

// Triage checks a parsed report against the centre's own banks and its
// earlier reports: flags, duplicates and priority. It drops nothing.
type Triage struct {
	// Banks matches against the centre's banks (the matcher of its
	// store).
	Banks   vigil.MatchService
	Reports vigil.CentreService
}

// Triage returns the report to store for provider's parsed report.
func (t *Triage) Triage(ctx context.Context, provider *vigil.CentreProvider, reportID string, p *intake.Parsed, raw []byte) (*vigil.CentreReport, error) {
	r := &vigil.CentreReport{
		ProviderID: provider.ID, Provider: provider.Name, ProviderReportID: reportID, Format: p.Format, Raw: raw,
		ProviderReference: p.ProviderReference, ReportedUser: p.ReportedUser,
		Files: append([]vigil.CentreFile{}, p.Files...), Conversations: p.Conversations, Urgent: p.Urgent,
		Flags: []string{}, Duplicates: []int64{},
	}
	if err := t.confirm(ctx, r.Files); err != nil {
		return nil, err
	}
	flag := func(f string) {
		if !r.HasFlag(f) {
			r.Flags = append(r.Flags, f)
		}
	}
	if len(r.Files) == 0 && r.Conversations == 0 {
		flag(vigil.FlagNoContent)
	}
	var hashes []string
	for _, f := range r.Files {
		if len(f.Signals()) == 0 {
			flag(vigil.FlagMissingHash)
		} else if f.ClaimedMatches > 0 && !confirmed(f) {
			flag(vigil.FlagUnconfirmedMatch)
		}
		if f.SHA256 != "" {
			hashes = append(hashes, f.SHA256)
		}
	}
	earlier, err := t.Reports.EarlierReports(ctx, hashes, provider.ID, r.ReportedUser)
	if err != nil {
		return nil, err
	}
	ongoing := false
	for _, e := range earlier {
		r.Duplicates = append(r.Duplicates, e.ID)
		ongoing = ongoing || e.SameUser
	}
	r.Priority, r.PriorityWhy = Priority(r, ongoing)
	return r, nil
}

// confirmed reports whether a centre bank of known material (not a
// negative bank of known benign pictures) holds one of f's hashes.
func confirmed(f vigil.CentreFile) bool {
	for _, m := range f.CentreMatches {
		if !m.Negative {
			return true
		}
	}
	return false
}

// confirm looks every file's hashes up in the centre's banks, in as few
// lookups as the matcher allows, and keeps each file's matches (negative
// banks' too: a file a negative bank holds is not new material).
func (t *Triage) confirm(ctx context.Context, files []vigil.CentreFile) error {
	var (
		signals []vigil.Signal
		owner   []int
	)
	flush := func() error {
		if len(signals) == 0 {
			return nil
		}
		res, err := t.Banks.Lookup(ctx, signals, vigil.MatchOptions{})
		if err != nil {
			return fmt.Errorf("triage lookup: %w", err)
		}
		for i, mr := range res {
			files[owner[i]].CentreMatches = append(files[owner[i]].CentreMatches, mr.Matches...)
		}
		signals, owner = signals[:0], owner[:0]
		return nil
	}
	for i := range files {
		files[i].CentreMatches = nil
		s := files[i].Signals()
		if len(signals)+len(s) > vigil.MaxLookupSignals {
			if err := flush(); err != nil {
				return err
			}
		}
		for range s {
			owner = append(owner, i)
		}
		signals = append(signals, s...)
	}
	return flush()
}
