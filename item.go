package vigil

import (
	"context"
	"encoding/json"
	"time"
)

// ContentItem is one piece of content added to a bank the way HMA adds
// content (POST /c/bank/NAME/content, …/signal): an item of its own, with
// one entry per signal, kept apart from every other item even when its
// hashes equal theirs. Entries added any other way (imports, feeds,
// /v1 adds) are de-duplicated per bank (see EntryService); an item's
// entries are not, so that two items with the same hash are two matches,
// each reported under its own id.
type ContentItem struct {
	// ID is the ID of the item's first entry, so that item IDs and the IDs
	// of entries outside items never collide: HMA clients see both as
	// content ids.
	ID     int64 `json:"id"`
	BankID int64 `json:"bank_id"`

	// Entries are the item's signals, one entry each, in ID order.
	Entries []*Entry `json:"entries"`

	// DisableUntil is HMA's disable_until_ts: ContentEnabled (1) matches,
	// ContentDisabled (0) never does, and any other value is a Unix time in
	// seconds before which the item does not match (see Enabled).
	DisableUntil int64 `json:"disable_until"`

	// Note is HMA's note, at most MaxContentNoteLen characters; "" for none.
	Note string `json:"note,omitempty"`

	// Metadata is HMA's user metadata, a JSON object of at most
	// MaxContentMetadataLen bytes, kept as given; nil for none.
	Metadata json.RawMessage `json:"metadata,omitempty"`

	AddedBy   string    `json:"added_by"`
	AddedAt   time.Time `json:"added_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// HMA's magic values of disable_until_ts.
const (
	ContentDisabled = 0
	ContentEnabled  = 1
)

// Bounds of a ContentItem's fields.
const (
	MaxContentNoteLen     = 255 // HMA's, in characters
	MaxContentMetadataLen = 64 << 10
	MaxContentSignals     = 16
)

// Enabled reports whether the item matches at now, as HMA's
// BankContentConfig.enabled decides: 0 never, 1 always, another value once
// now has reached it.
func (c *ContentItem) Enabled(now time.Time) bool {
	switch c.DisableUntil {
	case ContentDisabled:
		return false
	case ContentEnabled:
		return true
	}
	return c.DisableUntil <= now.Unix()
}

// Validate returns an EINVALID error if c's own fields cannot be stored
// (its entries are checked as EntryService checks entries).
func (c *ContentItem) Validate() error {
	if c.DisableUntil < 0 {
		return Errorf(EINVALID, "disable_until must be a non-negative integer")
	}
	if n := len([]rune(c.Note)); n > MaxContentNoteLen {
		return Errorf(EINVALID, "note must be at most %d characters", MaxContentNoteLen)
	}
	if !Printable(c.Note) {
		return Errorf(EINVALID, "note must be UTF-8 without control characters")
	}
	if c.Metadata != nil {
		if len(c.Metadata) > MaxContentMetadataLen {
			return Errorf(EINVALID, "metadata longer than %d bytes", MaxContentMetadataLen)
		}
		var obj map[string]json.RawMessage
		if json.Unmarshal(c.Metadata, &obj) != nil || obj == nil {
			return Errorf(EINVALID, "metadata must be a JSON object")
		}
	}
	return nil
}

// ContentItemUpdate holds the fields of an item to change; nil fields stay
// as they are. A Note of "" clears the note.
type ContentItemUpdate struct {
	DisableUntil *int64  `json:"disable_until,omitempty"`
	Note         *string `json:"note,omitempty"`
}

// ContentItemService stores content items.
type ContentItemService interface {
	// AddContentItem stores item's entries in bank bankID as new entries,
	// never merged with entries the bank holds, each with AddedBy set to
	// by, and the item itself, in one transaction, all or none. It sets
	// the item's ID, BankID, AddedBy, AddedAt and UpdatedAt and each
	// entry's ID, BankID, AddedAt and Seq. ENOTFOUND for an unknown bank,
	// EINVALID for an item without entries, with more than
	// MaxContentSignals, or with an invalid field or entry.
	AddContentItem(ctx context.Context, bankID int64, by string, item *ContentItem) error

	// FindContentItem returns the item with the given ID with all of its
	// entries, retracted ones included, or ENOTFOUND.
	FindContentItem(ctx context.Context, id int64) (*ContentItem, error)

	// FindContentItemsByEntry returns, for each of entryIDs that belongs
	// to an item, that item without its entries, keyed by the entry's ID.
	// Entries that belong to no item are absent from the map.
	FindContentItemsByEntry(ctx context.Context, entryIDs []int64) (map[int64]*ContentItem, error)

	// UpdateContentItem applies upd to an item and returns it with its
	// entries. ENOTFOUND for an unknown item, EINVALID for an invalid
	// value.
	UpdateContentItem(ctx context.Context, id int64, upd ContentItemUpdate) (*ContentItem, error)

	// RetractContentItem retracts every active entry of an item in one
	// transaction (HMA's content delete: the entries stop matching and are
	// kept, as every retraction is) and returns the item. ENOTFOUND for an
	// unknown item, ECONFLICT when none of its entries is active, EINVALID
	// without a reason.
	RetractContentItem(ctx context.Context, id int64, by, reason string) (*ContentItem, error)
}
