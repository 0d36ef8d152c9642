package feed

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/vigil-oss/vigil"
)

// Publisher cuts new batches of the feeds this instance publishes.
type Publisher struct {
	Feeds  vigil.FeedService
	Signer note.Signer

	// Cosigners also sign every head: the feed's earlier keys after a
	// hand-over (Rotate), so that subscribers who have not yet applied the
	// hand-over can still verify the head.
	Cosigners []note.Signer

	// BatchChanges caps the changes per batch (0: DefaultBatchChanges) and
	// CutBatches the batches per Cut (0: 20), which bounds a cut's memory;
	// call Cut again while it reports batches.
	BatchChanges int
	CutBatches   int

	rotateTo *rotation
}

// Cut appends the changes of feed's banks since its last batch as new
// signed batches, with a new signed head, in one store transaction. It
// returns the number of batches appended (0 when nothing changed).
func (p *Publisher) Cut(ctx context.Context, name string) (int, error) {
	f, err := p.Feeds.FindFeedByName(ctx, name)
	if err != nil {
		return 0, err
	}
	if v, err := note.NewVerifier(f.VerifierKey); err != nil || v.Name() != p.Signer.Name() || v.KeyHash() != p.Signer.KeyHash() {
		return 0, vigil.Errorf(vigil.EINVALID, "signing key is not the key of feed %q", name)
	}
	per := p.BatchChanges
	if per <= 0 {
		per = vigil.DefaultBatchChanges
	}
	per = min(per, vigil.MaxBatchChanges)
	maxBatches := p.CutBatches
	if maxBatches <= 0 {
		maxBatches = 20
	}

	// Bank metadata that changed goes first, so a subscriber has a bank's
	// thresholds before its entries.
	meta, err := p.Feeds.FeedBankMeta(ctx, f.ID)
	if err != nil {
		return 0, err
	}
	var pending []vigil.FeedChange
	for _, bank := range slices.Sorted(maps.Keys(meta)) {
		m := meta[bank]
		if old, ok := f.Meta[bank]; !ok || !reflect.DeepEqual(old, m) {
			pending = append(pending, vigil.FeedChange{Op: vigil.FeedBank, Bank: bank, Meta: &m})
		}
	}

	if p.rotateTo != nil {
		pending = []vigil.FeedChange{{Op: vigil.FeedKey, Value: p.rotateTo.vkey}}
		maxBatches = 1
	}
	prev := zeroHash
	if f.Size > 0 {
		msg, err := p.Feeds.FeedBatch(ctx, f.ID, f.Size)
		if err != nil {
			return 0, err
		}
		// Our own stored batch: its text is all the chain needs, and after a
		// hand-over it is signed by a key the feed no longer has.
		var unverified *note.UnverifiedNoteError
		if _, err := note.Open(msg, nil); !errors.As(err, &unverified) {
			return 0, fmt.Errorf("last batch of feed %q: malformed note", name)
		}
		prev = TextHash([]byte(unverified.Note.Text))
	}

	hashes := &hashCache{ctx: ctx, feeds: p.Feeds, feedID: f.ID, pending: make(map[int64]tlog.Hash)}
	a := vigil.FeedAppend{OldSize: f.Size, OldCursor: f.Cursor, Cursor: f.Cursor, Meta: meta}
	for len(a.Batches) < maxBatches {
		var changes []vigil.FeedChange
		last := a.Cursor
		if p.rotateTo == nil {
			if changes, last, err = p.Feeds.FeedChanges(ctx, f.ID, a.Cursor, per-len(pending)); err != nil {
				return 0, err
			}
		} else {
			a.Meta = f.Meta // a hand-over batch carries nothing else
		}
		changes = append(pending, changes...)
		pending = nil
		if len(changes) == 0 {
			break
		}
		a.Cursor = last
		n := f.Size + int64(len(a.Batches)) + 1
		text, signed, err := SignBatch(&Batch{Feed: f.Name, Number: n, Prev: prev, Changes: changes}, p.Signer)
		if err != nil {
			return 0, err
		}
		stored, err := tlog.StoredHashes(n-1, text, hashes)
		if err != nil {
			return 0, fmt.Errorf("tlog hashes of batch %d: %w", n, err)
		}
		for i, h := range stored {
			hashes.pending[tlog.StoredHashCount(n-1)+int64(i)] = h
		}
		a.Batches = append(a.Batches, vigil.FeedBatch{Number: n, Note: signed})
		prev = TextHash(text)
	}
	if len(a.Batches) == 0 {
		return 0, nil
	}
	size := f.Size + int64(len(a.Batches))
	root, err := tlog.TreeHash(size, hashes)
	if err != nil {
		return 0, fmt.Errorf("tlog tree hash: %w", err)
	}
	head, err := note.Sign(&note.Note{Text: string(HeadText(f.Name, tlog.Tree{N: size, Hash: root}))}, append([]note.Signer{p.Signer}, p.Cosigners...)...)
	if err != nil {
		return 0, fmt.Errorf("sign head: %w", err)
	}
	a.Head = string(head)
	if p.rotateTo != nil {
		a.VerifierKey = p.rotateTo.vkey
	}
	a.Hashes = make(map[int64][]byte, len(hashes.pending))
	for i, h := range hashes.pending {
		a.Hashes[i] = h[:]
	}
	if err := vigil.AuditResult(ctx, map[string]any{"batches": len(a.Batches), "size": size, "cursor": a.Cursor}); err != nil {
		return 0, err
	}
	if err := p.Feeds.AppendFeed(ctx, f.ID, a); err != nil {
		return 0, err
	}
	return len(a.Batches), nil
}

// Rotate hands feed name over from p.Signer to next: it appends a batch,
// signed by the current key, that names next's verifier key, under a head
// signed by both. Later cuts must sign with next, with the old key among
// the Cosigners while subscribers may lag behind.
func (p *Publisher) Rotate(ctx context.Context, name string, next note.Signer, nextVerifierKey string) error {
	if v, err := note.NewVerifier(nextVerifierKey); err != nil || v.Name() != next.Name() || v.KeyHash() != next.KeyHash() {
		return vigil.Errorf(vigil.EINVALID, "the new verifier key is not the new signer's")
	}
	q := *p
	q.rotateTo = &rotation{vkey: nextVerifierKey}
	q.Cosigners = append([]note.Signer{next}, p.Cosigners...)
	n, err := q.Cut(ctx, name)
	if err == nil && n != 1 {
		err = fmt.Errorf("key hand-over of feed %q appended %d batches", name, n)
	}
	return err
}

// rotation is a hand-over under way.
type rotation struct{ vkey string }

// hashCache reads a feed's tlog hashes from the store, and those of the
// cut under way from pending.
type hashCache struct {
	feeds   vigil.FeedService
	feedID  int64
	ctx     context.Context
	pending map[int64]tlog.Hash
}

// ReadHashes implements tlog.HashReader.
func (c *hashCache) ReadHashes(indexes []int64) ([]tlog.Hash, error) {
	return readHashes(c.ctx, c.feeds, c.feedID, indexes, c.pending)
}

func readHashes(ctx context.Context, feeds vigil.FeedService, feedID int64, indexes []int64, pending map[int64]tlog.Hash) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	var missing []int64
	for i, idx := range indexes {
		if h, ok := pending[idx]; ok {
			out[i] = h
		} else {
			missing = append(missing, idx)
		}
	}
	if len(missing) == 0 {
		return out, nil
	}
	stored, err := feeds.FeedHashes(ctx, feedID, missing)
	if err != nil {
		return nil, err
	}
	j := 0
	for i, idx := range indexes {
		if _, ok := pending[idx]; ok {
			continue
		}
		if len(stored[j]) != tlog.HashSize {
			return nil, fmt.Errorf("tlog hash %d is %d bytes", idx, len(stored[j]))
		}
		copy(out[i][:], stored[j])
		j++
	}
	return out, nil
}

// Log serves a publisher's feeds: heads, batches and proofs.
type Log struct {
	Feeds vigil.FeedService
}

// Head returns the signed head of feed name. ENOTFOUND before its first batch.
func (l *Log) Head(ctx context.Context, name string) ([]byte, error) {
	f, err := l.Feeds.FindFeedByName(ctx, name)
	if err != nil {
		return nil, err
	}
	if f.Head == "" {
		return nil, vigil.Errorf(vigil.ENOTFOUND, "feed %q has no batches yet", name)
	}
	return []byte(f.Head), nil
}

// Batch returns signed batch n of feed name and its inclusion proof in the
// tree of size tree.
func (l *Log) Batch(ctx context.Context, name string, n, tree int64) ([]byte, []tlog.Hash, error) {
	f, err := l.Feeds.FindFeedByName(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	if n < 1 || n > tree || tree > f.Size {
		return nil, nil, vigil.Errorf(vigil.ENOTFOUND, "feed %q has no batch %d in a tree of %d", name, n, tree)
	}
	msg, err := l.Feeds.FeedBatch(ctx, f.ID, n)
	if err != nil {
		return nil, nil, err
	}
	p, err := tlog.ProveRecord(tree, n-1, l.reader(ctx, f.ID))
	if err != nil {
		return nil, nil, fmt.Errorf("prove batch %d: %w", n, err)
	}
	return msg, p, nil
}

// Proof returns the proof that the tree of size old is a prefix of the tree
// of size new.
func (l *Log) Proof(ctx context.Context, name string, old, new int64) ([]tlog.Hash, error) {
	f, err := l.Feeds.FindFeedByName(ctx, name)
	if err != nil {
		return nil, err
	}
	if old < 1 || old > new || new > f.Size {
		return nil, vigil.Errorf(vigil.ENOTFOUND, "feed %q has no trees %d and %d", name, old, new)
	}
	p, err := tlog.ProveTree(new, old, l.reader(ctx, f.ID))
	if err != nil {
		return nil, fmt.Errorf("prove tree %d in %d: %w", old, new, err)
	}
	return p, nil
}

func (l *Log) reader(ctx context.Context, feedID int64) tlog.HashReader {
	return tlog.HashReaderFunc(func(indexes []int64) ([]tlog.Hash, error) {
		return readHashes(ctx, l.Feeds, feedID, indexes, nil)
	})
}
