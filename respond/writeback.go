package respond

import (
	"context"
	"strconv"

	"github.com/vigil-oss/vigil"
)

// WriteBackSource is the source of entries written back from a confirmed
// case; their source entry id is the case's id, so that every match of
// them leads back to the review that made them.
const WriteBackSource = "case"

// WriteBack adds the signals of confirmed case c to bank, as entries whose
// provenance names the case, with the reviewer's category. signals are the
// hashes of the case's content (the caller hashes the kept media; never
// the media itself is stored); without them the case's SHA-256 is used.
// PDQ hashes below vigil.DefaultMinQuality are left out: they would match
// unrelated pictures. The caller attaches the audit record to ctx.
func (s *Service) WriteBack(ctx context.Context, c *vigil.Case, bank string, signals []vigil.Signal, by string) (*vigil.Bank, []*vigil.Entry, vigil.ImportResult, error) {
	var res vigil.ImportResult
	if s.Banks == nil || s.Entries == nil {
		return nil, nil, res, vigil.Errorf(vigil.EUNSUPPORTED, "this server cannot write to banks")
	}
	if c.Decision == nil || c.Decision.Verdict != vigil.VerdictConfirmed {
		return nil, nil, res, vigil.Errorf(vigil.ECONFLICT, "case %d is not confirmed: only confirmed content is written to a bank", c.ID)
	}
	b, err := s.Banks.FindBankByName(ctx, bank)
	if err != nil {
		return nil, nil, res, err
	}
	if b.Negative {
		return nil, nil, res, vigil.Errorf(vigil.EINVALID, "bank %q is negative (its entries suppress matches): confirmed content does not belong in it", b.Name)
	}
	entries := writeBackEntries(c, signals)
	if len(entries) == 0 {
		return nil, nil, res, vigil.Errorf(vigil.EINVALID, "case %d has no hash to write back", c.ID)
	}
	res, err = s.Entries.AddEntries(ctx, b.ID, by, entries)
	return b, entries, res, err
}

// writeBackEntries are the entries of c's content: each hash signal once.
func writeBackEntries(c *vigil.Case, signals []vigil.Signal) []*vigil.Entry {
	if len(signals) == 0 && c.Content.SHA256 != "" {
		signals = []vigil.Signal{{Type: vigil.SignalSHA256, Value: c.Content.SHA256}}
	}
	category := ""
	if c.Decision != nil {
		category = c.Decision.Category
	}
	seen := map[string]bool{}
	var out []*vigil.Entry
	for _, sig := range signals {
		switch sig.Type {
		case vigil.SignalPDQ:
			if sig.Quality != nil && *sig.Quality < vigil.DefaultMinQuality {
				continue
			}
		case vigil.SignalMD5, vigil.SignalSHA1, vigil.SignalSHA256, vigil.SignalVPDQ:
		default:
			continue // text, URLs: not content hashes
		}
		key := string(sig.Type) + "\x00" + sig.Value
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, &vigil.Entry{SignalType: sig.Type, Value: sig.Value, Source: WriteBackSource,
			SourceEntryID: strconv.FormatInt(c.ID, 10), Category: category})
	}
	return out
}
