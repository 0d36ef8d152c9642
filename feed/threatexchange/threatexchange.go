// Package threatexchange fetches hashes shared in Meta's ThreatExchange
// privacy groups into a bank, and writes reviewers' opinions back as
// reactions.
//
// The wire format is the Graph API as python-threatexchange's client
// (exchanges/clients/fb_threatexchange/api.py) speaks it: GET
// {base}/{privacy_group}/threat_updates/?access_token=&start_time=&limit=
// &fields=… answers {"data": [updates], "paging": {"next": URL}}, each
// update an indicator (id, indicator, type, last_updated, should_delete)
// with the descriptors its members wrote of it (owner, tags, status,
// reactions). An update that should_delete, or that comes without
// descriptors (pytx works round that Graph API bug, issue 834), removes
// the indicator. Opinions are POSTs of reactions=SAW_THIS_TOO (reviewers
// confirmed a match) or reactions=DISAGREE_WITH_TAGS (a false positive)
// on the indicator's descriptors.
//
// The access token travels in the query, as pytx sends it; it is removed
// from every error, and from the next-page URL before a cursor is saved.
package threatexchange

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/feed/exchange"
)

// DefaultBaseURL is the Graph API version pytx uses.
const DefaultBaseURL = "https://graph.facebook.com/v21.0"

// Bounds.
const (
	MaxPageBytes    = 16 << 20
	MaxPageUpdates  = 5000
	MaxDescriptors  = 1000 // of one indicator
	PageSize        = 500  // pytx's ThreatUpdatesDelta page size
	MaxPages        = 1000000
	MaxNextLen      = 8192
	MaxReacted      = 25                  // descriptors of one indicator an opinion goes to
	StaleAfter      = 85 * 24 * time.Hour // pytx: deletions are kept 90 days
	maxTagsCategory = vigil.MaxEntryFieldLen
)

// Reactions, as the Graph API names them.
const (
	ReactionSawThisToo      = "SAW_THIS_TOO"
	ReactionDisagreeWithTag = "DISAGREE_WITH_TAGS"
)

// Fields is the fields parameter of threat_updates, pytx's
// ThreatUpdateJSON.te_threat_updates_fields.
const Fields = "id,indicator,type,last_updated,should_delete,descriptors{reactions,my_reactions,owner{id},tags,status,added_on}"

// signalTypes maps ThreatExchange's indicator types to signal types.
var signalTypes = map[string]vigil.SignalType{
	"HASH_PDQ":       vigil.SignalPDQ,
	"HASH_MD5":       vigil.SignalMD5,
	"HASH_VIDEO_MD5": vigil.SignalMD5,
	"HASH_SHA1":      vigil.SignalSHA1,
	"HASH_SHA256":    vigil.SignalSHA256,
}

// Update is one threat update.
type Update struct {
	ID           string       `json:"id"`
	Indicator    string       `json:"indicator"`
	Type         string       `json:"type"`
	LastUpdated  flexInt      `json:"last_updated"`
	ShouldDelete bool         `json:"should_delete"`
	Descriptors  *descriptors `json:"descriptors"`
}

type descriptors struct {
	Data []Descriptor `json:"data"`
}

// Descriptor is what one member wrote of an indicator.
type Descriptor struct {
	ID    string `json:"id"`
	Owner *struct {
		ID string `json:"id"`
	} `json:"owner"`
	Tags   tags   `json:"tags"`
	Status string `json:"status"`
}

// flexInt reads a number sent as a JSON number or a string of digits.
type flexInt int64

func (f *flexInt) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	if s == "" || s == "null" {
		*f = 0
		return nil
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return fmt.Errorf("bad number %q", s)
	}
	*f = flexInt(n)
	return nil
}

// tags reads descriptor tags as a list of strings or, as some Graph API
// answers have it, {"data": [{"text": …}]}.
type tags []string

func (t *tags) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*t = nil
		return nil
	}
	var list []string
	if err := json.Unmarshal(b, &list); err == nil {
		*t = list
		return nil
	}
	var obj struct {
		Data []struct {
			Text string `json:"text"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &obj); err != nil {
		return fmt.Errorf("tags: %w", err)
	}
	out := make([]string, 0, len(obj.Data))
	for _, d := range obj.Data {
		out = append(out, d.Text)
	}
	*t = out
	return nil
}

// Page is one threat_updates answer.
type Page struct {
	Data   []Update `json:"data"`
	Paging struct {
		Next string `json:"next"`
	} `json:"paging"`
}

// ParsePage parses and checks one answer; a page is refused whole.
func ParsePage(b []byte) (*Page, error) {
	if len(b) > MaxPageBytes {
		return nil, vigil.Errorf(vigil.ETOOLARGE, "threatexchange page over %d bytes", MaxPageBytes)
	}
	var p Page
	if err := json.Unmarshal(b, &p); err != nil {
		return nil, vigil.Errorf(vigil.EINVALID, "threatexchange page: %v", err)
	}
	if len(p.Data) > MaxPageUpdates {
		return nil, vigil.Errorf(vigil.ETOOLARGE, "threatexchange page of more than %d updates", MaxPageUpdates)
	}
	if len(p.Paging.Next) > MaxNextLen {
		return nil, vigil.Errorf(vigil.EINVALID, "threatexchange page: next URL too long")
	}
	for i := range p.Data {
		u := &p.Data[i]
		if _, err := strconv.ParseUint(u.ID, 10, 64); err != nil {
			return nil, vigil.Errorf(vigil.EINVALID, "threatexchange update %d: bad id", i+1)
		}
		if u.Descriptors != nil && len(u.Descriptors.Data) > MaxDescriptors {
			return nil, vigil.Errorf(vigil.ETOOLARGE, "threatexchange update %d: more than %d descriptors", i+1, MaxDescriptors)
		}
	}
	return &p, nil
}

// Deleted reports whether u removes its indicator: should_delete, no
// descriptor with an owner (pytx drops those: a Graph API visibility bug),
// or every descriptor saying NON_MALICIOUS.
func (u *Update) Deleted() bool {
	if u.ShouldDelete || u.Descriptors == nil {
		return true
	}
	live := false
	for _, d := range u.Descriptors.Data {
		if d.Owner != nil && d.Status != "NON_MALICIOUS" {
			live = true
		}
	}
	return !live
}

// Entry returns the bank entry of u, or ok false for an indicator type
// banks do not hold. Its category is the descriptors' tags, sorted,
// separated by spaces (as pytx's rollup rows keep labels), cut to fit.
func (u *Update) Entry() (e *vigil.Entry, ok bool, err error) {
	t, ok := signalTypes[u.Type]
	if !ok {
		return nil, false, nil
	}
	var all []string
	if u.Descriptors != nil {
		for _, d := range u.Descriptors.Data {
			if d.Owner != nil {
				all = append(all, d.Tags...)
			}
		}
	}
	slices.Sort(all)
	all = slices.Compact(all)
	category := ""
	for _, tag := range all {
		tag = strings.TrimSpace(tag)
		if tag == "" || !vigil.Printable(tag) {
			continue
		}
		next := tag
		if category != "" {
			next = category + " " + tag
		}
		if len(next) > maxTagsCategory {
			break
		}
		category = next
	}
	e = &vigil.Entry{SignalType: t, Value: u.Indicator, Source: vigil.SourceThreatExchange, SourceEntryID: u.ID, Category: category}
	if err := e.Validate(); err != nil {
		return nil, false, vigil.Errorf(vigil.EINVALID, "threatexchange indicator %s: %s", u.ID, vigil.ErrorMessage(err))
	}
	return e, true, nil
}

// Client talks to the Graph API.
type Client struct {
	BaseURL string // DefaultBaseURL if empty
	Token   string // the app's access token, "APPID|SECRET"
	HTTP    *http.Client
	// Sleep waits between retries; nil uses a timer that obeys ctx.
	Sleep func(ctx context.Context, d time.Duration) error
}

func (c *Client) base() string {
	if c.BaseURL == "" {
		return DefaultBaseURL
	}
	return strings.TrimRight(c.BaseURL, "/")
}

func (c *Client) http() *exchange.HTTP {
	return &exchange.HTTP{Name: "threatexchange", Client: c.HTTP, Sleep: c.Sleep, Secrets: []string{c.Token}}
}

// withToken returns u with the access token set in its query.
func (c *Client) withToken(u *url.URL) string {
	q := u.Query()
	q.Set("access_token", c.Token)
	v := *u
	v.RawQuery = q.Encode()
	return v.String()
}

// GetUpdates returns the first page of privacy group pg's updates since
// start (Unix seconds), or, with next set, the page it names (a next URL
// of an earlier page, with or without its token).
func (c *Client) GetUpdates(ctx context.Context, pg string, start int64, next string) (*Page, error) {
	if c.Token == "" {
		return nil, vigil.Errorf(vigil.EINVALID, "threatexchange needs an access token")
	}
	var u *url.URL
	var err error
	if next != "" {
		if u, err = c.checkNext(next); err != nil {
			return nil, err
		}
	} else {
		if _, err := strconv.ParseUint(pg, 10, 64); err != nil {
			return nil, vigil.Errorf(vigil.EINVALID, "threatexchange privacy group %q is not a number", pg)
		}
		q := url.Values{"fields": {Fields}, "limit": {strconv.Itoa(PageSize)}}
		if start > 0 {
			q.Set("start_time", strconv.FormatInt(start, 10))
		}
		if u, err = url.Parse(c.base() + "/" + pg + "/threat_updates/?" + q.Encode()); err != nil {
			return nil, vigil.Errorf(vigil.EINVALID, "threatexchange URL: %s", c.http().Scrub(err.Error()))
		}
	}
	full := c.withToken(u)
	b, err := c.http().Do(ctx, "get threat_updates", MaxPageBytes, func(ctx context.Context) (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodGet, full, nil)
	})
	if err != nil {
		return nil, err
	}
	return ParsePage(b)
}

// checkNext refuses a next URL that leaves the API's host and scheme: the
// token goes with it.
func (c *Client) checkNext(next string) (*url.URL, error) {
	u, err := url.Parse(next)
	b, err2 := url.Parse(c.base())
	if err != nil || err2 != nil || u.Scheme != b.Scheme || u.Host != b.Host || u.User != nil || len(next) > MaxNextLen {
		return nil, vigil.Errorf(vigil.EINVALID, "threatexchange next URL is not on %s", b.Host)
	}
	return u, nil
}

// stripToken removes the access token from a next URL, for keeping.
func stripToken(next string) string {
	u, err := url.Parse(next)
	if err != nil {
		return ""
	}
	q := u.Query()
	q.Del("access_token")
	u.RawQuery = q.Encode()
	return u.String()
}

// Cursor is where a sync of one privacy group got to: the latest
// last_updated applied (the next start_time), and when a sync last ran.
type Cursor struct {
	UpdateTime int64 `json:"update_time"`
	FetchedAt  int64 `json:"fetched_at"`
}

// ParseCursor reads a saved cursor; "" is the start.
func ParseCursor(s string) (Cursor, error) {
	var c Cursor
	if s == "" {
		return c, nil
	}
	if err := json.Unmarshal([]byte(s), &c); err != nil || c.UpdateTime < 0 {
		return Cursor{}, vigil.Errorf(vigil.EINVALID, "threatexchange cursor is malformed")
	}
	return c, nil
}

func (c Cursor) String() string {
	b, _ := json.Marshal(c)
	return string(b)
}

// Options tune a Sync.
type Options struct {
	// Restart ignores the saved cursor and fetches the group from the
	// start; needed after StaleAfter without a sync, since the deletions
	// of that time are gone from the API.
	Restart bool
	Now     func() time.Time
	By      string
}

// Result tells what a Sync changed.
type Result struct {
	Pages  int    `json:"pages"`
	Cursor Cursor `json:"cursor"`
	exchange.Applied
	Skipped int `json:"skipped"` // indicators of types banks do not hold
}

// Sync fetches privacy group pg's updates since the cursor saved for bank
// bankID into the bank, saving the cursor after every page (updates come
// in last_updated order, so the latest time applied is a safe restart
// point: the updates of that second are fetched again, harmlessly).
// Indicators get source "threatexchange", their id as source entry id and
// their tags as category; removed ones are retracted. A cursor older than
// StaleAfter is refused (EINVALID) unless opt.Restart.
func Sync(ctx context.Context, c *Client, entries vigil.EntryService, state vigil.ExchangeService, bankID int64, pg string, opt Options) (Result, error) {
	var res Result
	name := cursorName(pg)
	saved, err := state.ExchangeCursor(ctx, name, bankID)
	if err != nil {
		return res, err
	}
	cur, err := ParseCursor(saved)
	if err != nil {
		return res, err
	}
	now := time.Now
	if opt.Now != nil {
		now = opt.Now
	}
	if opt.Restart {
		cur = Cursor{}
	} else if cur.FetchedAt > 0 && now().Sub(time.Unix(cur.FetchedAt, 0)) > StaleAfter {
		return res, vigil.Errorf(vigil.EINVALID, "threatexchange cursor of privacy group %s is older than %d days: deletions since are gone from the API; sync again with restart", pg, int(StaleAfter.Hours()/24))
	}
	by := opt.By
	if by == "" {
		by = "threatexchange-sync"
	}
	next := ""
	for {
		if res.Pages >= MaxPages {
			return res, vigil.Errorf(vigil.EINVALID, "threatexchange sent more than %d pages", MaxPages)
		}
		p, err := c.GetUpdates(ctx, pg, cur.UpdateTime, next)
		if err != nil {
			return res, err
		}
		res.Pages++
		var page []exchange.Record
		latest := cur.UpdateTime
		for i := range p.Data {
			u := &p.Data[i]
			latest = max(latest, int64(u.LastUpdated))
			e, ok, err := u.Entry()
			if err != nil && !u.Deleted() {
				return res, err // nothing of the page applied
			}
			if !ok && err == nil {
				res.Skipped++
				continue
			}
			r := exchange.Record{SourceEntryID: u.ID}
			if !u.Deleted() {
				r.Entries = []*vigil.Entry{e}
			}
			page = append(page, r)
		}
		a, err := exchange.Apply(ctx, entries, bankID, vigil.SourceThreatExchange, by, "removed at ThreatExchange", page)
		if err != nil {
			return res, err
		}
		res.Added += a.Added
		res.Duplicates += a.Duplicates
		res.Retracted += a.Retracted
		cur = Cursor{UpdateTime: latest, FetchedAt: now().Unix()}
		if err := state.SetExchangeCursor(ctx, name, bankID, cur.String()); err != nil {
			return res, err
		}
		res.Cursor = cur
		if p.Paging.Next == "" || len(p.Data) == 0 {
			return res, nil
		}
		next = stripToken(p.Paging.Next)
	}
}

// cursorName is the exchange name a privacy group's cursor is kept under:
// a bank may hold several groups.
func cursorName(pg string) string {
	n := vigil.SourceThreatExchange + "-" + pg
	if len(n) > vigil.MaxExchangeNameLen {
		n = n[:vigil.MaxExchangeNameLen]
	}
	return n
}

// React posts reaction on descriptor id.
func (c *Client) React(ctx context.Context, descriptorID, reaction string) error {
	if _, err := strconv.ParseUint(descriptorID, 10, 64); err != nil {
		return vigil.Errorf(vigil.EINVALID, "threatexchange descriptor id %q is not a number", descriptorID)
	}
	u, err := url.Parse(c.base() + "/" + descriptorID + "/")
	if err != nil {
		return vigil.Errorf(vigil.EINVALID, "threatexchange URL: %s", c.http().Scrub(err.Error()))
	}
	full := c.withToken(u)
	body := url.Values{"reactions": {reaction}}.Encode()
	_, err = c.http().Do(ctx, "react", 1<<16, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, full, strings.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		return req, nil
	})
	return err
}

// DescriptorIDs returns the ids of indicator id's descriptors (pytx's
// get_threat_descriptors_from_indicator), at most MaxReacted.
func (c *Client) DescriptorIDs(ctx context.Context, indicatorID string) ([]string, error) {
	if _, err := strconv.ParseUint(indicatorID, 10, 64); err != nil {
		return nil, vigil.Errorf(vigil.EINVALID, "threatexchange indicator id %q is not a number", indicatorID)
	}
	u, err := url.Parse(c.base() + "/" + indicatorID + "?fields=descriptors")
	if err != nil {
		return nil, vigil.Errorf(vigil.EINVALID, "threatexchange URL: %s", c.http().Scrub(err.Error()))
	}
	full := c.withToken(u)
	b, err := c.http().Do(ctx, "get descriptors", MaxPageBytes, func(ctx context.Context) (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodGet, full, nil)
	})
	if err != nil {
		return nil, err
	}
	var r struct {
		Descriptors descriptors `json:"descriptors"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, vigil.Errorf(vigil.EINVALID, "threatexchange descriptors: %v", err)
	}
	var ids []string
	for _, d := range r.Descriptors.Data {
		if _, err := strconv.ParseUint(d.ID, 10, 64); err == nil && len(ids) < MaxReacted {
			ids = append(ids, d.ID)
		}
	}
	return ids, nil
}

// SendOpinions sends the opinions of bank bankID's ThreatExchange entries
// that changed since they were last sent: SAW_THIS_TOO on every descriptor
// of an indicator whose matches reviewers mostly confirmed,
// DISAGREE_WITH_TAGS on one they mostly found false positives. Each
// opinion is marked sent once its reactions are posted, so one that fails
// is sent again by the next call (a POST is not retried within a call: it
// may have been applied). It returns the number of opinions sent.
func SendOpinions(ctx context.Context, c *Client, state vigil.ExchangeService, bankID int64) (int, error) {
	// One opinion at a time: each is several POSTs, and one marked sent
	// is never posted again.
	return exchange.SendOpinions(ctx, state, vigil.SourceThreatExchange, bankID, 1, func(ctx context.Context, ops []vigil.ExchangeOpinion) error {
		for _, o := range ops {
			ids, err := c.DescriptorIDs(ctx, o.SourceEntryID)
			if err != nil {
				return err
			}
			reaction := ReactionDisagreeWithTag
			if o.Verdict() {
				reaction = ReactionSawThisToo
			}
			for _, id := range ids {
				if err := c.React(ctx, id, reaction); err != nil {
					return err
				}
			}
		}
		return nil
	})
}
