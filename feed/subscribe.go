package feed

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"

	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/internal/netguard"
)

// ProofHeader carries a batch's inclusion proof (base64 hashes separated
// by commas), so that the body is the signed batch as it was signed.
const ProofHeader = "Vigil-Tlog-Proof"

// Client pulls feeds into local banks.
type Client struct {
	Subs vigil.SubscriptionService
	HTTP *http.Client // nil: http.DefaultClient

	// APIKey, if set, is sent as a bearer token to the publisher.
	APIKey string

	// Actor names who syncs in the audit log ("cli", "server").
	Actor string
	Audit bool // attach an audit record to each batch applied

	// AllowedHosts are the hosts (and their subdomains) a PublicOnly
	// subscription may reach at private, loopback or link-local
	// addresses; every other host must resolve to public ones, checked on
	// each connection (HTTP is not used for such a subscription).
	AllowedHosts []string
}

// guardTimeout bounds the wait for a PublicOnly subscription's response
// headers.
const guardTimeout = 30 * time.Second

// forSub returns the client to sync sub with: c, or for a PublicOnly
// subscription a copy whose requests reach only public addresses or
// AllowedHosts, and a function that releases its connections.
func (c *Client) forSub(sub *vigil.Subscription) (*Client, func()) {
	if !sub.PublicOnly {
		return c, func() {}
	}
	cc := *c
	cc.HTTP = netguard.Client(c.AllowedHosts, guardTimeout)
	return &cc, cc.HTTP.CloseIdleConnections
}

// active returns subscription id unless it is paused or removed, which
// are not synced (ECONFLICT, not recorded on the subscription).
func (c *Client) active(ctx context.Context, id int64) (*vigil.Subscription, error) {
	sub, err := c.Subs.FindSubscriptionByID(ctx, id)
	if err != nil {
		return nil, err
	}
	if sub.State != "" && sub.State != vigil.SubscriptionActive {
		return nil, vigil.Errorf(vigil.ECONFLICT, "subscription %d is %s", id, sub.State)
	}
	return sub, nil
}

// Sync pulls the batches of subscription id published since the last one
// applied, verifies them and applies each in its own transaction. A batch
// that fails any check (signature, feed name, number, chain, inclusion in
// the signed head) and a head that is not consistent with the last one
// verified (a fork or a rewritten history) stop the sync with nothing of
// them applied; the error is recorded on the subscription and the bank
// keeps its last good state. It returns the number of batches applied.
func (c *Client) Sync(ctx context.Context, id int64) (int, error) {
	sub, err := c.active(ctx, id)
	if err != nil {
		return 0, err
	}
	cc, release := c.forSub(sub)
	defer release()
	n, err := cc.sync(ctx, id)
	msg := ""
	if err != nil {
		msg = vigil.ErrorMessage(err)
		if vigil.ErrorCode(err) == vigil.EINTERNAL {
			msg = err.Error() // the operator's own store or network: worth the detail
		}
	}
	if serr := c.Subs.SetSubscriptionError(context.WithoutCancel(ctx), id, msg); serr != nil && err == nil {
		err = serr
	}
	return n, err
}

func (c *Client) sync(ctx context.Context, id int64) (int, error) {
	sub, err := c.Subs.FindSubscriptionByID(ctx, id)
	if err != nil {
		return 0, err
	}
	v, err := note.NewVerifier(sub.Key)
	if err != nil {
		return 0, vigil.Errorf(vigil.EINVALID, "subscription %d key: %v", id, err)
	}
	msg, _, err := c.get(ctx, sub.URL+"/head", MaxHeadBytes)
	if err != nil {
		return 0, err
	}
	tree, err := OpenHead(msg, v, sub.Feed)
	if err != nil {
		return 0, err
	}
	if err := c.checkHead(ctx, sub, tree); err != nil {
		return 0, err
	}
	if tree.N != sub.TreeSize {
		if err := c.Subs.SetSubscriptionHead(ctx, id, tree.N, tree.Hash.String()); err != nil {
			return 0, err
		}
	}
	if sub.Applied > tree.N {
		return 0, vigil.Errorf(vigil.ECONFLICT, "feed %q head has %d batches, fewer than the %d applied", sub.Feed, tree.N, sub.Applied)
	}
	applied := 0
	prev := sub.LastHash
	if prev == "" {
		prev = zeroHash
	}
	for n := sub.Applied + 1; n <= tree.N; n++ {
		text, changes, err := c.fetchBatch(ctx, sub, v, tree, n, prev)
		if err != nil {
			return applied, err
		}
		hash := TextHash(text)
		actx := ctx
		if c.Audit {
			actx = vigil.WithAudit(ctx, &vigil.AuditRecord{Actor: c.actor(), Action: vigil.AuditSubscriptionApply,
				Target: "subscription:" + strconv.FormatInt(id, 10)})
		}
		next, err := handOver(sub.Feed, n, changes)
		if err != nil {
			return applied, err
		}
		if _, err := c.Subs.ApplyBatch(actx, id, n, hash, changes); err != nil {
			return applied, err
		}
		if next != nil {
			v = next // the batches after a hand-over are signed by the new key
		}
		applied++
		prev = hash
	}
	return applied, nil
}

func (c *Client) actor() string {
	if c.Actor == "" {
		return "feed-sync"
	}
	return c.Actor
}

// handOver returns the verifier a batch hands the feed over to, if it
// does: a batch of exactly one FeedKey change whose key parses.
func handOver(feed string, n int64, changes []vigil.FeedChange) (note.Verifier, error) {
	var next note.Verifier
	for _, ch := range changes {
		if ch.Op != vigil.FeedKey {
			continue
		}
		v, err := note.NewVerifier(ch.Value)
		if err != nil || len(changes) != 1 {
			return nil, vigil.Errorf(vigil.EINVALID, "feed %q batch %d: malformed key hand-over", feed, n)
		}
		next = v
	}
	return next, nil
}

// checkHead refuses a head that does not extend the last one verified.
func (c *Client) checkHead(ctx context.Context, sub *vigil.Subscription, tree tlog.Tree) error {
	if sub.TreeSize == 0 {
		return nil
	}
	old, err := tlog.ParseHash(sub.TreeHash)
	if err != nil {
		return fmt.Errorf("stored head of subscription %d: %w", sub.ID, err)
	}
	switch {
	case tree.N < sub.TreeSize:
		return vigil.Errorf(vigil.ECONFLICT, "feed %q forked or rolled back: its head has %d batches, it had %d", sub.Feed, tree.N, sub.TreeSize)
	case tree.N == sub.TreeSize:
		if tree.Hash != old {
			return vigil.Errorf(vigil.ECONFLICT, "feed %q forked: a different history of the same %d batches", sub.Feed, tree.N)
		}
		return nil
	}
	q := url.Values{"old": {strconv.FormatInt(sub.TreeSize, 10)}, "new": {strconv.FormatInt(tree.N, 10)}}
	body, _, err := c.get(ctx, sub.URL+"/proof?"+q.Encode(), MaxProofHashes*64)
	if err != nil {
		return err
	}
	p, err := ParseProof(body)
	if err != nil {
		return err
	}
	if err := tlog.CheckTree(p, tree.N, tree.Hash, sub.TreeSize, old); err != nil {
		return vigil.Errorf(vigil.ECONFLICT, "feed %q forked: its head of %d batches does not extend the head of %d verified before", sub.Feed, tree.N, sub.TreeSize)
	}
	return nil
}

// fetchBatch fetches batch n and checks it against the head, the key and
// the chain.
func (c *Client) fetchBatch(ctx context.Context, sub *vigil.Subscription, v note.Verifier, tree tlog.Tree, n int64, prev string) ([]byte, []vigil.FeedChange, error) {
	u := fmt.Sprintf("%s/batches/%d?tree=%d", sub.URL, n, tree.N)
	msg, h, err := c.get(ctx, u, vigil.MaxBatchBytes+1024)
	if err != nil {
		return nil, nil, err
	}
	b, text, err := OpenBatch(msg, v)
	if err != nil {
		return nil, nil, fmt.Errorf("batch %d: %w", n, err)
	}
	p, err := ParseProof([]byte(strings.ReplaceAll(h.Get(ProofHeader), ",", "\n")))
	if err != nil {
		return nil, nil, fmt.Errorf("batch %d: %w", n, err)
	}
	if err := tlog.CheckRecord(p, tree.N, tree.Hash, n-1, tlog.RecordHash(text)); err != nil {
		return nil, nil, vigil.Errorf(vigil.ECONFLICT, "feed %q batch %d is not the one its signed head holds", sub.Feed, n)
	}
	// With the inclusion proof these cannot fail for an honest key, but a
	// key that signs two histories is caught here too.
	switch {
	case b.Feed != sub.Feed:
		return nil, nil, vigil.Errorf(vigil.EINVALID, "batch %d is of feed %q, not %q", n, b.Feed, sub.Feed)
	case b.Number != n:
		return nil, nil, vigil.Errorf(vigil.EINVALID, "feed %q sent batch %d for batch %d", sub.Feed, b.Number, n)
	case b.Prev != prev:
		return nil, nil, vigil.Errorf(vigil.ECONFLICT, "feed %q batch %d does not follow the batch applied before it", sub.Feed, n)
	}
	return text, b.Changes, nil
}

// get fetches u and reads at most limit bytes of its body.
func (c *Client) get(ctx context.Context, u string, limit int64) ([]byte, http.Header, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, nil, vigil.Errorf(vigil.EINVALID, "feed URL: %v", err)
	}
	return c.do(req, limit)
}

// do sends req with the API key and reads at most limit bytes of a 200
// answer's body.
func (c *Client) do(req *http.Request, limit int64) ([]byte, http.Header, error) {
	u := req.URL.String()
	if c.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+c.APIKey)
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		// Not the *url.Error itself: it repeats the URL unredacted.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, nil, fmt.Errorf("fetch %s: %w", redact(u), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 4096))
		return nil, nil, vigil.Errorf(vigil.EUNAVAILABLE, "feed answered %s for %s", resp.Status, redact(u))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, nil, fmt.Errorf("fetch %s: %w", redact(u), err)
	}
	if int64(len(body)) > limit {
		return nil, nil, vigil.Errorf(vigil.ETOOLARGE, "feed answer over %d bytes for %s", limit, redact(u))
	}
	return body, resp.Header, nil
}

// redact drops a URL's query and user info, which may hold credentials.
func redact(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return "feed URL"
	}
	p.User, p.RawQuery = nil, ""
	return p.String()
}

// SendFeedback reports to the publisher what this instance's reviewers
// decided about the entries subscription id added: per entry, the counts
// of confirmed and false-positive decisions. Counts are absolute, so a
// report interrupted or sent twice is simply sent again. It returns the
// number of opinions sent.
func (c *Client) SendFeedback(ctx context.Context, id int64) (int, error) {
	sub, err := c.active(ctx, id)
	if err != nil {
		return 0, err
	}
	c, release := c.forSub(sub)
	defer release()
	sent := 0
	var after int64
	for {
		ops, err := c.Subs.SubscriptionOpinions(ctx, id, after, vigil.MaxFeedbackOpinions)
		if err != nil {
			return sent, err
		}
		if len(ops) == 0 {
			return sent, nil
		}
		body, err := json.Marshal(map[string]any{"opinions": ops})
		if err != nil {
			return sent, err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, sub.URL+"/feedback", bytes.NewReader(body))
		if err != nil {
			return sent, vigil.Errorf(vigil.EINVALID, "feed URL: %v", err)
		}
		req.Header.Set("Content-Type", "application/json")
		if _, _, err := c.do(req, 4096); err != nil {
			return sent, err
		}
		sent += len(ops)
		after = ops[len(ops)-1].EntryID
	}
}
