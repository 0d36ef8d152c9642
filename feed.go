package vigil

import (
	"context"
	"time"
)

// Audit actions of feeds.
const (
	AuditFeedCreate         = "feed.create"
	AuditFeedPublish        = "feed.publish" // batches appended to a feed
	AuditSubscriptionCreate = "subscription.create"
	AuditSubscriptionApply  = "subscription.apply" // a verified batch applied to the local bank
	AuditSubscriptionState  = "subscription.state" // paused, resumed or removed
	AuditFeedFeedback       = "feed.feedback"      // a subscriber reported review counts
)

// MaxFeedbackOpinions bounds one feedback report.
const MaxFeedbackOpinions = 1000

// FeedOpinion is what a subscriber's reviewers said of one feed entry:
// the decisions counted against the entry's matches, absolute (not since
// the last report), so that resending a report changes nothing.
type FeedOpinion struct {
	EntryID        int64 `json:"entry_id"` // the publisher's id
	Confirmed      int   `json:"confirmed"`
	FalsePositives int   `json:"false_positives"`
}

// FeedEntryFeedback is the feedback on one entry of a feed, summed over
// its subscribers.
type FeedEntryFeedback struct {
	EntryID        int64 `json:"entry_id"`
	Subscribers    int   `json:"subscribers"` // that reported on it
	Confirmed      int   `json:"confirmed"`
	FalsePositives int   `json:"false_positives"`
}

// Limits on feeds. A batch is one signed unit of a feed: a subscriber reads
// it whole into memory, verifies it and applies it in one transaction, so
// its size bounds both.
const (
	MaxFeedBanks        = 64
	MaxBatchChanges     = 10000
	DefaultBatchChanges = 5000
	MaxBatchBytes       = 16 << 20
	MaxFeedURLLen       = 2048
	MaxFeedKeyLen       = 512
)

// Feed change operations.
const (
	FeedAdd     = "add"     // an entry joins the feed's banks
	FeedRetract = "retract" // an entry leaves: retracted or quarantined at the publisher
	FeedBank    = "bank"    // a published bank's description or thresholds changed
	// FeedKey hands the feed over to a new key (Value: its note verifier
	// key), in a batch signed by the old one: the batches after it are
	// signed by the new key.
	FeedKey = "key"
)

// Feed is a publisher's signed, incremental stream of the changes to some
// of its banks. Its history is a sequence of batches, numbered from 1,
// each chained to the hash of the one before; the batches are the records
// of a transparency log (golang.org/x/mod/sumdb/tlog), whose signed head
// lets a subscriber prove that it is shown the same history as everyone.
type Feed struct {
	ID int64 `json:"id"`

	// Name matches ValidateBankName's alphabet; it is part of every batch
	// and head, so that one feed's batches cannot be passed off as another's.
	Name  string   `json:"name"`
	Banks []string `json:"banks"`

	// VerifierKey is the note verifier key (name+hash+key) subscribers pin.
	VerifierKey string `json:"verifier_key"`

	// Cursor is the bank change sequence the published batches cover.
	Cursor int64 `json:"cursor"`
	// Size is the number of batches.
	Size int64 `json:"size"`
	// Head is the signed tlog checkpoint of the Size batches (a note).
	Head string `json:"head,omitempty"`

	// Meta is what the last batches said of each bank (FeedBank changes),
	// by bank name, so that a cut sends only what changed.
	Meta map[string]FeedBankMeta `json:"-"`

	CreatedAt time.Time `json:"created_at"`
}

// FeedBankMeta is the part of a bank a feed passes on.
type FeedBankMeta struct {
	Description string             `json:"description"`
	Thresholds  map[SignalType]int `json:"thresholds,omitempty"`
}

// FeedChange is one change in a batch.
type FeedChange struct {
	Op   string `json:"op"`
	Bank string `json:"bank"`

	// ID is the publisher's id of the entry: a subscriber keeps it to apply
	// a later retraction of the same entry.
	ID int64 `json:"id,omitempty"`

	SignalType SignalType `json:"type,omitempty"`
	Value      string     `json:"value,omitempty"`

	// Source and SourceEntryID are the entry's original provenance: an
	// entry the publisher made itself gets the feed as source and its own
	// id, one it got from elsewhere keeps what it came with, so they
	// survive any number of hops.
	Source        string `json:"source,omitempty"`
	SourceEntryID string `json:"source_entry_id,omitempty"`
	Category      string `json:"category,omitempty"`

	Reason string        `json:"reason,omitempty"` // of a retraction
	Meta   *FeedBankMeta `json:"meta,omitempty"`   // of a FeedBank change
}

// FeedBatch is a batch to append, encoded and signed.
type FeedBatch struct {
	Number int64
	Note   []byte // the signed note (see package feed)
}

// FeedAppend is a cut: batches appended to a feed in one transaction, with
// the tlog hashes they add and the new head. The store refuses it with
// ECONFLICT unless the feed still has OldSize batches and cursor OldCursor,
// so two cuts cannot interleave.
type FeedAppend struct {
	OldSize, OldCursor int64
	Cursor             int64
	Batches            []FeedBatch
	Hashes             map[int64][]byte // tlog stored hash index -> hash
	Head               string
	Meta               map[string]FeedBankMeta
	// VerifierKey, if set, is the feed's new key (a FeedKey hand-over).
	VerifierKey string
}

// FeedService stores the feeds this instance publishes.
type FeedService interface {
	// CreateFeed stores a new, empty feed. ECONFLICT if the name is taken,
	// ENOTFOUND for an unknown bank, EINVALID.
	CreateFeed(ctx context.Context, f *Feed) error
	// FindFeedByName returns a feed, or ENOTFOUND.
	FindFeedByName(ctx context.Context, name string) (*Feed, error)
	// ListFeeds returns every feed by name.
	ListFeeds(ctx context.Context) ([]*Feed, error)

	// FeedChanges returns up to limit changes of the feed's banks after the
	// bank change sequence after, in sequence order, and the sequence of the
	// last one returned (after itself when there are none). An entry shows
	// in its latest state: active as FeedAdd, otherwise FeedRetract.
	FeedChanges(ctx context.Context, feedID, after int64, limit int) ([]FeedChange, int64, error)
	// FeedBankMeta returns the current FeedBankMeta of the feed's banks.
	FeedBankMeta(ctx context.Context, feedID int64) (map[string]FeedBankMeta, error)

	// AppendFeed stores a cut (see FeedAppend).
	AppendFeed(ctx context.Context, feedID int64, a FeedAppend) error
	// FeedBatch returns the signed note of batch n (1-based), or ENOTFOUND.
	FeedBatch(ctx context.Context, feedID, n int64) ([]byte, error)
	// FeedHashes returns the feed's tlog stored hashes at the indexes
	// given, in order; ENOTFOUND if one is missing.
	FeedHashes(ctx context.Context, feedID int64, indexes []int64) ([][]byte, error)

	// RecordFeedback replaces subscriber's opinions of the given entries.
	// Opinions of entries outside the feed's banks are skipped; it returns
	// how many were stored. EINVALID for negative counts or too many.
	RecordFeedback(ctx context.Context, feedID int64, subscriber string, ops []FeedOpinion) (int, error)
	// FeedFeedback returns up to limit entries with feedback, summed over
	// subscribers, in entry id order after afterID.
	FeedFeedback(ctx context.Context, feedID, afterID int64, limit int) ([]FeedEntryFeedback, error)
}

// Subscription is a feed this instance pulls into a local bank.
type Subscription struct {
	ID     int64  `json:"id"`
	URL    string `json:"url"`  // the feed's base URL: …/v1/feeds/NAME
	Feed   string `json:"feed"` // the feed's name, checked in every batch
	Key    string `json:"key"`  // the pinned note verifier key
	BankID int64  `json:"bank_id"`

	// Applied is the number of the last batch applied, LastHash its hash
	// (hex): the next batch must be Applied+1 and name LastHash as prev.
	Applied  int64  `json:"applied"`
	LastHash string `json:"last_hash,omitempty"`

	// TreeSize and TreeHash are the last head verified (hash in base64):
	// every later head must prove consistent with it.
	TreeSize int64  `json:"tree_size"`
	TreeHash string `json:"tree_hash,omitempty"`

	// Error is why the last sync failed ("" after a good one); the bank
	// keeps its last good state meanwhile.
	Error    string     `json:"error,omitempty"`
	SyncedAt *time.Time `json:"synced_at,omitempty"`

	// State is SubscriptionActive, SubscriptionPaused (not synced until
	// made active again) or SubscriptionRemoved (never synced again; its
	// bank is disabled).
	State string `json:"state"`
	// PublicOnly subscriptions sync from public addresses only, unless
	// the syncing client allows the host (feed.Client.AllowedHosts): they
	// were configured through the HMA-compatible routes, by a curator key,
	// not by the operator.
	PublicOnly bool `json:"public_only,omitempty"`

	CreatedAt time.Time `json:"created_at"`
}

// Subscription states.
const (
	SubscriptionActive  = "active"
	SubscriptionPaused  = "paused"
	SubscriptionRemoved = "removed"
)

// FeedSource is the provenance a subscription gives entries that came without
// one.
func FeedSource(feed string) string { return "feed:" + feed }

// SubscriptionService stores subscriptions and applies verified batches.
type SubscriptionService interface {
	// CreateSubscription stores s. ENOTFOUND for an unknown bank, EINVALID.
	CreateSubscription(ctx context.Context, s *Subscription) error
	// CreateBankSubscription creates bank b and subscription s into it in
	// one transaction, so that no bank is left behind when the
	// subscription cannot be stored. It sets s.BankID. ECONFLICT if the
	// bank's name is taken, EINVALID.
	CreateBankSubscription(ctx context.Context, b *Bank, s *Subscription) error
	// SetSubscriptionState sets a subscription's state and returns it;
	// removing one also disables its bank, in the same transaction.
	// ENOTFOUND, EINVALID for an unknown state, ECONFLICT for a removed
	// subscription.
	SetSubscriptionState(ctx context.Context, id int64, state string) (*Subscription, error)
	// FindSubscriptionByID returns a subscription, or ENOTFOUND.
	FindSubscriptionByID(ctx context.Context, id int64) (*Subscription, error)
	// ListSubscriptions returns every subscription by id.
	ListSubscriptions(ctx context.Context) ([]*Subscription, error)

	// SetSubscriptionHead records a verified head (size, base64 hash).
	SetSubscriptionHead(ctx context.Context, id, size int64, hash string) error
	// SetSubscriptionError records why a sync failed ("" clears it).
	SetSubscriptionError(ctx context.Context, id int64, msg string) error

	// ApplyBatch applies verified batch number n (hash hex) to the
	// subscription's bank in one transaction: all its changes and the new
	// cursor, or nothing; a FeedKey change replaces the subscription's
	// key. ECONFLICT unless n is Applied+1, so that a batch is never
	// applied twice.
	ApplyBatch(ctx context.Context, id, n int64, hash string, changes []FeedChange) (ImportResult, error)

	// SubscriptionOpinions returns up to limit opinions, by the
	// publisher's entry id after afterID, from the review statistics of the
	// entries the subscription added (see CaseService.EntryStats).
	SubscriptionOpinions(ctx context.Context, id, afterID int64, limit int) ([]FeedOpinion, error)
}
