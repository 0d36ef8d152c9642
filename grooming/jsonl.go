package grooming

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// MaxLineBytes bounds one JSON-lines record (one conversation). Longer
// lines are rejected rather than buffered without limit.
const MaxLineBytes = 1 << 20

// Record is one JSON-lines conversation, optionally labelled for
// evaluation: {"id","messages":[{"from","text","time"}],"participants",
// "label":"grooming"|"benign","suspect","lang","evidence_turn"}.
type Record struct {
	Conversation
	// Label is "grooming" or "benign" in labelled sets, empty otherwise.
	Label string `json:"label,omitempty"`
	// Suspect is the From value of the suspect speaker, when labelled.
	Suspect string `json:"suspect,omitempty"`
	// Lang is an optional language tag for per-language slices.
	Lang string `json:"lang,omitempty"`
	// EvidenceTurn is the first message index at which a careful reviewer
	// has enough to escalate, when labelled.
	EvidenceTurn *int `json:"evidence_turn,omitempty"`
	// Family optionally names the positive's kind ("grooming",
	// "sextortion") for per-family slices. It is kept raw so that a
	// record whose "family" is not a string still reads.
	Family json.RawMessage `json:"family,omitempty"`
	// Group optionally names the scenario a record belongs to (one
	// scenario written in several languages). Cross-validation holds out
	// whole source files, which contain their groups.
	Group string `json:"group,omitempty"`
}

// FamilyName is the record's family when it is a JSON string, else "".
func (r Record) FamilyName() string {
	var s string
	if len(r.Family) == 0 || json.Unmarshal(r.Family, &s) != nil {
		return ""
	}
	return s
}

// ReadRecords calls fn for each non-blank line of r. A malformed line stops
// the read with an error naming its line number.
func ReadRecords(r io.Reader, fn func(line int, rec Record) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), MaxLineBytes)
	line := 0
	for sc.Scan() {
		line++
		b := bytes.TrimSpace(sc.Bytes())
		if len(b) == 0 {
			continue
		}
		rec, err := ParseRecord(b)
		if err != nil {
			return fmt.Errorf("line %d: %w", line, err)
		}
		if err := fn(line, rec); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return fmt.Errorf("line %d: longer than %d bytes", line+1, MaxLineBytes)
		}
		return fmt.Errorf("read: %w", err)
	}
	return nil
}

// ParseRecord decodes and checks one JSON-lines record.
func ParseRecord(b []byte) (Record, error) {
	var rec Record
	if len(b) > MaxLineBytes {
		return rec, fmt.Errorf("record longer than %d bytes", MaxLineBytes)
	}
	if err := json.Unmarshal(b, &rec); err != nil {
		return rec, fmt.Errorf("decode: %w", err)
	}
	switch rec.Label {
	case "", "grooming", "benign":
	default:
		return rec, fmt.Errorf("label %q: want grooming or benign", rec.Label)
	}
	return rec, nil
}
