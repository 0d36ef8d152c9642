// Package stopncii fetches hashes from the StopNCII.org hash exchange and
// sends reviewers' feedback back to it.
//
// The wire format is StopNCII's REST API as python-threatexchange's client
// uses it: GET {base}/FetchHashes?startTimestamp=&pageSize=&nextPageToken=
// answers pages of hash records (each the current state of one signal
// type and hash: a later record replaces an earlier one), and POST
// {base}/SubmitFeedback takes feedback values per hash. Every request
// carries the subscription key (Ocp-Apim-Subscription-Key) and the
// endpoint's function key (x-functions-key); neither is ever logged or
// put in an error.
package stopncii

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/feed/exchange"
)

// DefaultBaseURL is StopNCII's API.
const DefaultBaseURL = "https://api.stopncii.org/v1"

// Bounds on what is read from the exchange.
const (
	MaxPageBytes   = 8 << 20
	MaxPageRecords = 5000
	DefaultPage    = 800
)

// Record statuses; Withdrawn and Deleted hashes must be dropped.
const (
	StatusWithdrawn = "Withdrawn"
	StatusDeleted   = "Deleted"
)

// Feedback values a platform sends on a hash.
const (
	FeedbackBlocked    = "Blocked"    // reviewed: it is what the hash says
	FeedbackNotBlocked = "NotBlocked" // reviewed: it is not
	FeedbackPending    = "PendingReview"
)

// Record is one hash record.
type Record struct {
	LastModified int64             `json:"lastModtimestamp"`
	SignalType   string            `json:"signalType"`
	HashValue    string            `json:"hashValue"`
	HashStatus   string            `json:"hashStatus"`
	CaseNumbers  map[string]string `json:"caseNumbers"`
}

// Page is one FetchHashes answer.
type Page struct {
	Count            int      `json:"count"`
	NextPageToken    string   `json:"nextPageToken"`
	NextSetTimestamp int64    `json:"nextSetTimestamp"`
	HasMoreRecords   bool     `json:"hasMoreRecords"`
	HashRecords      []Record `json:"hashRecords"`
}

// ParsePage parses and checks a FetchHashes answer.
func ParsePage(b []byte) (*Page, error) {
	if len(b) > MaxPageBytes {
		return nil, vigil.Errorf(vigil.ETOOLARGE, "stopncii page over %d bytes", MaxPageBytes)
	}
	var p Page
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, vigil.Errorf(vigil.EINVALID, "stopncii page: %v", err)
	}
	if len(p.HashRecords) > MaxPageRecords {
		return nil, vigil.Errorf(vigil.ETOOLARGE, "stopncii page of more than %d records", MaxPageRecords)
	}
	if p.NextSetTimestamp < 0 || len(p.NextPageToken) > 4096 || (p.HasMoreRecords && p.NextPageToken == "") {
		return nil, vigil.Errorf(vigil.EINVALID, "stopncii page: bad cursor")
	}
	return &p, nil
}

// Entry returns the bank entry a record holds, and whether the record
// withdraws it. ok is false for a signal type banks do not hold (TMK).
func (r *Record) Entry() (e *vigil.Entry, withdrawn, ok bool, err error) {
	var t vigil.SignalType
	switch r.SignalType {
	case "ImagePDQ":
		t = vigil.SignalPDQ
	case "VideoMD5":
		t = vigil.SignalMD5
	default:
		return nil, false, false, nil
	}
	e = &vigil.Entry{SignalType: t, Value: r.HashValue, Source: vigil.SourceStopNCII, SourceEntryID: r.SignalType + ":" + r.HashValue, Category: "ncii"}
	if err := e.Validate(); err != nil {
		return nil, false, false, err
	}
	return e, r.HashStatus == StatusWithdrawn || r.HashStatus == StatusDeleted, true, nil
}

// Client talks to StopNCII.
type Client struct {
	BaseURL         string // DefaultBaseURL if empty
	SubscriptionKey string
	FetchKey        string // function key of FetchHashes
	FeedbackKey     string // function key of SubmitFeedback
	HTTP            *http.Client
	// Sleep waits between retries; nil uses a timer that obeys ctx.
	Sleep func(ctx context.Context, d time.Duration) error
}

// Fetch returns one page of the records changed since start (a Unix time;
// a page's NextSetTimestamp is the checkpoint to keep), continuing from
// token when set.
func (c *Client) Fetch(ctx context.Context, start int64, token string) (*Page, error) {
	q := url.Values{"startTimestamp": {strconv.FormatInt(start, 10)}, "pageSize": {strconv.Itoa(DefaultPage)}}
	if token != "" {
		q.Set("nextPageToken", token)
	}
	b, err := c.do(ctx, http.MethodGet, "FetchHashes", c.FetchKey, q, nil)
	if err != nil {
		return nil, err
	}
	return ParsePage(b)
}

// Feedback is a platform's verdict on one hash.
type Feedback struct {
	HashValue     string   `json:"hashValue"`
	FeedbackValue string   `json:"feedbackValue"`
	Tags          []string `json:"tags"`
}

// SendFeedback posts feedback on hashes (at most 1000 at a time).
func (c *Client) SendFeedback(ctx context.Context, fb []Feedback) error {
	if len(fb) > vigil.MaxFeedbackOpinions {
		return vigil.Errorf(vigil.ETOOLARGE, "more than %d feedbacks at a time", vigil.MaxFeedbackOpinions)
	}
	for i := range fb {
		if fb[i].Tags == nil {
			fb[i].Tags = []string{}
		}
	}
	body, err := json.Marshal(map[string]any{"count": len(fb), "hashFeedbacks": fb})
	if err != nil {
		return err
	}
	_, err = c.do(ctx, http.MethodPost, "SubmitFeedback", c.FeedbackKey, nil, body)
	return err
}

// do sends one request through exchange.HTTP: a GET is retried on 429
// and 5xx answers and on network errors; a POST is not, since it might
// have been applied.
func (c *Client) do(ctx context.Context, method, endpoint, fnKey string, q url.Values, body []byte) ([]byte, error) {
	if fnKey == "" || c.SubscriptionKey == "" {
		return nil, vigil.Errorf(vigil.EINVALID, "stopncii %s needs its function key and the subscription key", endpoint)
	}
	base := c.BaseURL
	if base == "" {
		base = DefaultBaseURL
	}
	u := base + "/" + endpoint
	if q != nil {
		u += "?" + q.Encode()
	}
	h := exchange.HTTP{Name: "stopncii", Client: c.HTTP, Sleep: c.Sleep, Secrets: []string{c.SubscriptionKey, fnKey}}
	return h.Do(ctx, endpoint, MaxPageBytes, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, method, u, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("x-functions-key", fnKey)
		req.Header.Set("Ocp-Apim-Subscription-Key", c.SubscriptionKey)
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		return req, nil
	})
}

// PullResult tells what Pull changed.
type PullResult struct {
	Checkpoint int64 `json:"checkpoint"` // start of the next Pull
	Added      int   `json:"added"`
	Retracted  int   `json:"retracted"`
	Skipped    int   `json:"skipped"` // records of signal types banks do not hold
}

// Pull fetches every record changed since start into bank bankID: active
// hashes are added (with source "stopncii" and "TYPE:HASH" as source
// entry id), withdrawn and deleted ones retracted. Each page's additions
// are one transaction (exchange.Apply). Pull is idempotent, so after a
// failure it is run again from the same start; only a complete run
// returns the checkpoint to keep.
func Pull(ctx context.Context, c *Client, entries vigil.EntryService, bankID, start int64, by string) (PullResult, error) {
	res := PullResult{Checkpoint: start}
	token := ""
	for pages := 0; ; pages++ {
		if pages > 100000 {
			return res, vigil.Errorf(vigil.EINVALID, "stopncii sent more than 100000 pages")
		}
		p, err := c.Fetch(ctx, start, token)
		if err != nil {
			return res, err
		}
		var page []exchange.Record
		for i := range p.HashRecords {
			e, withdrawn, ok, err := p.HashRecords[i].Entry()
			if err != nil {
				return res, fmt.Errorf("stopncii record %d: %w", i+1, err)
			}
			if !ok {
				res.Skipped++
				continue
			}
			r := exchange.Record{SourceEntryID: e.SourceEntryID}
			if !withdrawn {
				r.Entries = []*vigil.Entry{e}
			}
			page = append(page, r)
		}
		a, err := exchange.Apply(ctx, entries, bankID, vigil.SourceStopNCII, by, "withdrawn at StopNCII", page)
		if err != nil {
			return res, err
		}
		res.Added += a.Added
		res.Retracted += a.Retracted
		if !p.HasMoreRecords {
			if p.NextSetTimestamp > res.Checkpoint {
				res.Checkpoint = p.NextSetTimestamp
			}
			return res, nil
		}
		token = p.NextPageToken
	}
}

// Sync is Pull from the checkpoint saved for bank bankID, saving the new
// one after a complete run: a sync stopped part-way is run again from the
// same checkpoint, which re-applies what landed harmlessly.
func Sync(ctx context.Context, c *Client, entries vigil.EntryService, state vigil.ExchangeService, bankID int64, by string) (PullResult, error) {
	saved, err := state.ExchangeCursor(ctx, vigil.SourceStopNCII, bankID)
	if err != nil {
		return PullResult{}, err
	}
	var start int64
	if saved != "" {
		if start, err = strconv.ParseInt(saved, 10, 64); err != nil || start < 0 {
			return PullResult{}, vigil.Errorf(vigil.EINVALID, "stopncii cursor is malformed")
		}
	}
	res, err := Pull(ctx, c, entries, bankID, start, by)
	if err != nil {
		return res, err
	}
	return res, state.SetExchangeCursor(ctx, vigil.SourceStopNCII, bankID, strconv.FormatInt(res.Checkpoint, 10))
}

// SendOpinions sends the opinions of bank bankID's StopNCII entries that
// changed since they were last sent, as SubmitFeedback values: Blocked for
// a hash whose matches reviewers mostly confirmed, NotBlocked for one they
// mostly found false positives; at most vigil.MaxFeedbackOpinions a
// request. A batch is marked sent once StopNCII took it, so one that fails
// is sent again by the next call. It returns the number of opinions sent.
func SendOpinions(ctx context.Context, c *Client, state vigil.ExchangeService, bankID int64) (int, error) {
	return exchange.SendOpinions(ctx, state, vigil.SourceStopNCII, bankID, vigil.MaxFeedbackOpinions, func(ctx context.Context, ops []vigil.ExchangeOpinion) error {
		fb := make([]Feedback, 0, len(ops))
		for _, o := range ops {
			_, hash, ok := strings.Cut(o.SourceEntryID, ":")
			if !ok || hash == "" {
				return vigil.Errorf(vigil.EINVALID, "stopncii entry %d has no TYPE:HASH source entry id", o.EntryID)
			}
			v := FeedbackNotBlocked
			if o.Verdict() {
				v = FeedbackBlocked
			}
			fb = append(fb, Feedback{HashValue: hash, FeedbackValue: v})
		}
		return c.SendFeedback(ctx, fb)
	})
}
