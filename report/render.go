package report

import (
	"context"
	"strings"
	"time"

	"github.com/vigil-oss/vigil"
)

// Rendering is what would be sent for an incident, and whether the
// centre's schema accepts it.
type Rendering struct {
	Format string `json:"format"`
	Report string `json:"report"`
	// Files are the file details, with placeholder report and file ids
	// until the centre assigns them.
	Files []string `json:"files,omitempty"`
	Valid bool     `json:"valid"`
	// Error says what the schema refused, or why nothing could be
	// checked (no xmllint).
	Error string `json:"error,omitempty"`
}

// placeholderFileID stands for the 32-hex file id NCMEC assigns on upload.
var placeholderFileID = strings.Repeat("0", 32)

// Render renders inc for NCMEC with the account facts incidents holds for
// its users (reported user, intended recipients, victims) and validates
// every document with v: the one rendering the API, the UI and the CLI
// show. A document the schema refuses, or that cannot be checked, makes
// Valid false with the reason; only other failures are errors.
func Render(ctx context.Context, incidents vigil.IncidentService, v *Validator, inc *vigil.Incident, cfg NCMECConfig) (*Rendering, error) {
	facts, err := Facts(ctx, incidents, inc)
	if err != nil {
		return nil, err
	}
	doc, err := RenderNCMEC(inc, facts, cfg)
	if err != nil {
		return nil, err
	}
	out := &Rendering{Format: "ncmec", Report: string(doc)}
	docs := [][]byte{doc}
	for _, f := range inc.Files {
		d, err := RenderNCMECFile(0, placeholderFileID, f, cfg)
		if err != nil {
			return nil, err
		}
		out.Files = append(out.Files, string(d))
		docs = append(docs, d)
	}
	if v == nil {
		v = &Validator{}
		defer v.Close()
	}
	out.Valid = true
	for _, d := range docs {
		if err := v.Validate(ctx, d); err != nil {
			if c := vigil.ErrorCode(err); c != vigil.EINVALID && c != vigil.EUNSUPPORTED {
				return nil, err
			}
			out.Valid, out.Error = false, vigil.ErrorMessage(err)
			break
		}
	}
	return out, nil
}

// Facts returns the account facts stored for inc's users, by user id;
// users the platform told nothing about are left out. Every rendering of
// every format starts here, for the API, the UI, the CLI and a
// submission alike, so this is where a purged incident is refused
// (ECONFLICT): its evidence and its users' facts are gone, and an empty
// report is not what was sent.
func Facts(ctx context.Context, incidents vigil.IncidentService, inc *vigil.Incident) (map[string]*vigil.AccountFacts, error) {
	if inc.PurgedAt != nil {
		return nil, vigil.Errorf(vigil.ECONFLICT, "incident %d was purged at %s, when its retention ended: there is nothing left to render",
			inc.ID, inc.PurgedAt.UTC().Format(time.RFC3339))
	}
	facts := map[string]*vigil.AccountFacts{}
	for _, u := range inc.Users() {
		f, err := incidents.FindAccountFacts(ctx, u)
		if vigil.ErrorCode(err) == vigil.ENOTFOUND {
			continue
		} else if err != nil {
			return nil, err
		}
		facts[u] = f
	}
	return facts, nil
}
