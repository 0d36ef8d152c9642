// Package ncmec fetches entries from NCMEC's hash sharing API into a bank.
//
// The wire format is the one python-threatexchange's NCMEC client
// (exchanges/clients/ncmec/hash_api.py) speaks: GET {base}/v2/entries?from=
// &to= (UTC times, "2006-01-02T15:04:05Z") answers a queryResult XML
// document of <images> and <videos>, each holding <image>/<video> entries
// (member, id, classification, fingerprints) and <deletedImage>/
// <deletedVideo> tombstones, with <paging><next> naming the next page as a
// path under the base ("/v2/entries?…&start=&size=&max="). Entry ids are
// unique per member (ESP), so an entry is named "MEMBER-ID", as pytx keys
// them. Requests carry HTTP Basic credentials; neither the password nor
// the header is ever logged or put in an error.
//
// Entries are not answered in time order, so a time range is complete only
// when it has been paged to the end: the cursor saved after each page holds
// the range and the next-page URL, and a sync resumes from it. NCMEC asks
// that paging URLs not be kept long; one older than MaxNextAge is dropped
// and its range fetched again from the start (re-applying pages is
// harmless).
package ncmec

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
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

// Environments (base URLs) of the API, as pytx lists them.
const (
	Industry     = "https://report.cybertip.org/hashsharing"
	NGO          = "https://hashsharing.ncmec.org/npo"
	TestIndustry = "https://exttest.cybertip.org/hashsharing"
)

// Bounds.
const (
	MaxPageBytes   = 32 << 20 // 1000 entries with their feedback blocks fit many times over
	MaxPageEntries = 10000
	MaxNextLen     = 4096
	MaxNextAge     = 12 * time.Hour
	MaxPages       = 1000000
	timeFormat     = "2006-01-02T15:04:05Z"
)

// Entry is one entry of a page.
type Entry struct {
	ID             string            `json:"id"`
	MemberID       int64             `json:"member_id"`
	MemberName     string            `json:"member_name,omitempty"`
	Video          bool              `json:"video"`
	Deleted        bool              `json:"deleted"`
	Classification string            `json:"classification,omitempty"`
	Timestamp      string            `json:"timestamp,omitempty"`
	Fingerprints   map[string]string `json:"fingerprints,omitempty"` // by lowercase tag: md5, sha1, pdq, pdna …
}

// Key is the entry's id across members, the source entry id of its
// signals: "MEMBER-ID".
func (e *Entry) Key() string { return strconv.FormatInt(e.MemberID, 10) + "-" + e.ID }

// Page is one answer of GET /v2/entries.
type Page struct {
	Entries []Entry
	// MaxTimestamp is the latest maxTimestamp of its images and videos
	// (Unix seconds), 0 if it named none.
	MaxTimestamp int64
	// Next is the path of the next page, "" on the last.
	Next string
}

// xmlResult is a queryResult; names match whatever the namespace.
type xmlResult struct {
	XMLName xml.Name   `xml:"queryResult"`
	Images  *xmlGroup  `xml:"images"`
	Videos  *xmlGroup  `xml:"videos"`
	Paging  *xmlPaging `xml:"paging"`
}

type xmlPaging struct {
	Next string `xml:"next"`
}

type xmlGroup struct {
	MaxTimestamp string     `xml:"maxTimestamp,attr"`
	Entries      []xmlEntry `xml:",any"`
}

type xmlEntry struct {
	XMLName xml.Name
	Member  *struct {
		ID   string `xml:"id,attr"`
		Name string `xml:",chardata"`
	} `xml:"member"`
	ID             *string `xml:"id"`
	Timestamp      string  `xml:"timestamp"`
	Classification string  `xml:"classification"`
	Fingerprints   *struct {
		Items []struct {
			XMLName xml.Name
			Value   string `xml:",chardata"`
		} `xml:",any"`
	} `xml:"fingerprints"`
}

// ParsePage parses and checks one answer. A page is refused whole (an
// error, nothing of it returned) for malformed XML, an entry without its
// member or id, an unknown entry kind, a bad timestamp or next path, or a
// size over the bounds.
func ParsePage(b []byte) (*Page, error) {
	if len(b) > MaxPageBytes {
		return nil, vigil.Errorf(vigil.ETOOLARGE, "ncmec page over %d bytes", MaxPageBytes)
	}
	var r xmlResult
	d := xml.NewDecoder(bytes.NewReader(b))
	d.Strict = true
	if err := d.Decode(&r); err != nil {
		return nil, vigil.Errorf(vigil.EINVALID, "ncmec page: %v", err)
	}
	p := &Page{}
	for _, g := range []struct {
		group *xmlGroup
		video bool
	}{{r.Images, false}, {r.Videos, true}} {
		if g.group == nil {
			continue
		}
		if len(p.Entries)+len(g.group.Entries) > MaxPageEntries {
			return nil, vigil.Errorf(vigil.ETOOLARGE, "ncmec page of more than %d entries", MaxPageEntries)
		}
		if g.group.MaxTimestamp != "" {
			ts, err := time.Parse(timeFormat, g.group.MaxTimestamp)
			if err != nil {
				return nil, vigil.Errorf(vigil.EINVALID, "ncmec page: maxTimestamp %q", g.group.MaxTimestamp)
			}
			p.MaxTimestamp = max(p.MaxTimestamp, ts.Unix())
		}
		kind, deletedKind := "image", "deletedImage"
		if g.video {
			kind, deletedKind = "video", "deletedVideo"
		}
		for i, x := range g.group.Entries {
			e, err := x.entry(kind, deletedKind)
			if err != nil {
				return nil, vigil.Errorf(vigil.EINVALID, "ncmec page: %s %d: %s", kind, i+1, err)
			}
			e.Video = g.video
			p.Entries = append(p.Entries, *e)
		}
	}
	if r.Paging != nil {
		next := strings.TrimSpace(r.Paging.Next)
		if err := checkNext(next); err != nil {
			return nil, err
		}
		p.Next = next
	}
	return p, nil
}

func (x *xmlEntry) entry(kind, deletedKind string) (*Entry, error) {
	e := &Entry{Timestamp: strings.TrimSpace(x.Timestamp), Classification: strings.TrimSpace(x.Classification)}
	switch x.XMLName.Local {
	case kind:
	case deletedKind:
		e.Deleted = true
	default:
		return nil, fmt.Errorf("unknown element <%s>", x.XMLName.Local)
	}
	if x.Member == nil || x.ID == nil {
		return nil, fmt.Errorf("no member or id")
	}
	e.ID = strings.TrimSpace(*x.ID)
	id, err := strconv.ParseInt(strings.TrimSpace(x.Member.ID), 10, 64)
	if err != nil || id < 0 || e.ID == "" || len(e.Key()) > vigil.MaxEntryFieldLen || !vigil.Printable(e.ID) {
		return nil, fmt.Errorf("bad member or id")
	}
	e.MemberID, e.MemberName = id, strings.TrimSpace(x.Member.Name)
	if len(e.Classification) > vigil.MaxEntryFieldLen || !vigil.Printable(e.Classification) {
		return nil, fmt.Errorf("bad classification")
	}
	if x.Fingerprints != nil && !e.Deleted {
		e.Fingerprints = map[string]string{}
		for _, f := range x.Fingerprints.Items {
			if v := strings.TrimSpace(f.Value); v != "" {
				e.Fingerprints[strings.ToLower(f.XMLName.Local)] = v
			}
		}
	}
	return e, nil
}

// checkNext refuses a next path that is not a path under the base: the
// client joins it to the base, and must not be sent elsewhere.
func checkNext(next string) error {
	if next == "" {
		return nil
	}
	u, err := url.Parse(next)
	if len(next) > MaxNextLen || err != nil || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") ||
		u.Scheme != "" || u.Host != "" || u.User != nil || strings.ContainsAny(next, " \t\r\n\\") {
		return vigil.Errorf(vigil.EINVALID, "ncmec page: bad next path")
	}
	return nil
}

// signalTypes maps NCMEC's fingerprint tags to the signal types banks hold.
// PDQ is an image hash; MD5 and SHA-1 are file digests of either kind.
// NCMEC's other fingerprints (PDNA, NETCLEAN, VIDENTIFIER, TMK_PDQF, SSVH_*)
// are not held and are counted as skipped.
var signalTypes = map[string]vigil.SignalType{
	"md5":  vigil.SignalMD5,
	"sha1": vigil.SignalSHA1,
	"pdq":  vigil.SignalPDQ,
}

// fingerprintTypes are NCMEC's names of the signal types in its feedback
// API paths.
var fingerprintTypes = map[vigil.SignalType]string{
	vigil.SignalMD5:  "MD5",
	vigil.SignalSHA1: "SHA1",
	vigil.SignalPDQ:  "PDQ",
}

// Signals returns the bank entries of e's fingerprints (none for a
// deleted entry), and how many fingerprints banks do not hold. A
// fingerprint that is not a valid value of its type is an error.
func (e *Entry) Signals() (out []*vigil.Entry, skipped int, err error) {
	for tag, v := range e.Fingerprints {
		t, ok := signalTypes[tag]
		if !ok || (t == vigil.SignalPDQ && e.Video) {
			skipped++
			continue
		}
		se := &vigil.Entry{SignalType: t, Value: v, Source: vigil.SourceNCMEC, SourceEntryID: e.Key(), Category: e.Classification}
		if err := se.Validate(); err != nil {
			return nil, 0, vigil.Errorf(vigil.EINVALID, "ncmec entry %s %s: %s", e.Key(), tag, vigil.ErrorMessage(err))
		}
		out = append(out, se)
	}
	// Map order is random; a stable order keeps page replays identical.
	slices.SortFunc(out, func(a, b *vigil.Entry) int { return strings.Compare(string(a.SignalType), string(b.SignalType)) })
	return out, skipped, nil
}

// Client talks to one NCMEC environment.
type Client struct {
	BaseURL  string // an environment; Industry if empty
	Username string
	Password string
	HTTP     *http.Client
	// Sleep waits between retries; nil uses a timer that obeys ctx.
	Sleep func(ctx context.Context, d time.Duration) error
}

func (c *Client) base() string {
	if c.BaseURL == "" {
		return Industry
	}
	return strings.TrimRight(c.BaseURL, "/")
}

func (c *Client) http() *exchange.HTTP {
	return &exchange.HTTP{Name: "ncmec", Client: c.HTTP, Sleep: c.Sleep, Secrets: []string{c.Password}}
}

// GetEntries returns the page of entries changed between from and to (Unix
// seconds), or, with next set, the page it names.
func (c *Client) GetEntries(ctx context.Context, from, to int64, next string) (*Page, error) {
	if c.Username == "" || c.Password == "" {
		return nil, vigil.Errorf(vigil.EINVALID, "ncmec needs a username and a password")
	}
	var u string
	if next != "" {
		if err := checkNext(next); err != nil {
			return nil, err
		}
		u = c.base() + next
	} else {
		q := url.Values{"from": {time.Unix(from, 0).UTC().Format(timeFormat)}, "to": {time.Unix(to, 0).UTC().Format(timeFormat)}}
		u = c.base() + "/v2/entries?" + q.Encode()
	}
	b, err := c.http().Do(ctx, "get entries", MaxPageBytes, func(ctx context.Context) (*http.Request, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return nil, err
		}
		req.SetBasicAuth(c.Username, c.Password)
		return req, nil
	})
	if err != nil {
		return nil, err
	}
	return ParsePage(b)
}

// Cursor is where a sync got to, saved after every page.
type Cursor struct {
	// From is the start of the range being fetched: every entry changed
	// before it has been applied.
	From int64 `json:"from"`
	// To and Next, when Next is set, are the end of the range being paged
	// and the path of its next page, saved at NextAt (Unix seconds).
	To     int64  `json:"to,omitempty"`
	Next   string `json:"next,omitempty"`
	NextAt int64  `json:"next_at,omitempty"`
	// Initial marks the first fetch into the bank, of all time in one
	// range: each entry comes once in it, so its additions need not look
	// for earlier signals of the same entry to replace.
	Initial bool `json:"initial,omitempty"`
}

// ParseCursor reads a saved cursor; "" is the start of time.
func ParseCursor(s string) (Cursor, error) {
	var c Cursor
	if s == "" {
		return c, nil
	}
	if err := json.Unmarshal([]byte(s), &c); err != nil || c.From < 0 || c.To < 0 || checkNext(c.Next) != nil {
		return Cursor{}, vigil.Errorf(vigil.EINVALID, "ncmec cursor is malformed")
	}
	return c, nil
}

func (c Cursor) String() string {
	b, _ := json.Marshal(c)
	return string(b)
}

// Options tune a Sync.
type Options struct {
	// Members, if set, keeps only the entries of these member (ESP) ids,
	// as pytx's only_esp_ids; deletions of others are skipped too.
	Members []int64
	// Window bounds the time range of one paging session (0: all of the
	// remaining time at once). Smaller windows mean shorter paging
	// sessions to resume, and more requests.
	Window time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// By is the AddedBy of entries and RetractedBy of retractions.
	By string
}

// Result tells what a Sync changed.
type Result struct {
	Pages  int    `json:"pages"`
	Cursor Cursor `json:"cursor"`
	exchange.Applied
	Skipped int `json:"skipped"` // fingerprints banks do not hold, and other members' entries
}

// Sync fetches every entry changed since the cursor saved for bank bankID
// into the bank, saving the cursor after each page, so that a sync stopped
// at any point (an error, a crash) resumes where it stopped with nothing
// lost or applied twice. Entries get source "ncmec", their "MEMBER-ID" as
// source entry id and their classification as category; deleted entries,
// and fingerprints an update no longer holds, are retracted. The fetch
// ends 5 seconds before now, as pytx's does, since entries changed in the
// current second may not all be visible yet.
func Sync(ctx context.Context, c *Client, entries vigil.EntryService, state vigil.ExchangeService, bankID int64, opt Options) (Result, error) {
	var res Result
	saved, err := state.ExchangeCursor(ctx, vigil.SourceNCMEC, bankID)
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
	by := opt.By
	if by == "" {
		by = "ncmec-sync"
	}
	members := map[int64]bool{}
	for _, m := range opt.Members {
		members[m] = true
	}
	end := now().Unix() - 5
	if cur.Next != "" && now().Unix()-cur.NextAt > int64(MaxNextAge/time.Second) {
		cur.To, cur.Next, cur.NextAt = 0, "", 0 // stale: this range again, from its start
	}
	for cur.From < end || cur.Next != "" {
		if cur.Next == "" {
			cur.Initial = cur.From == 0 && opt.Window == 0 && saved == ""
			cur.To = end
			if opt.Window > 0 {
				cur.To = min(end, cur.From+int64(opt.Window/time.Second))
			}
		}
		if res.Pages >= MaxPages {
			return res, vigil.Errorf(vigil.EINVALID, "ncmec sent more than %d pages", MaxPages)
		}
		p, err := c.GetEntries(ctx, cur.From, cur.To, cur.Next)
		if err != nil {
			return res, err
		}
		res.Pages++
		var page []exchange.Record
		for i := range p.Entries {
			e := &p.Entries[i]
			if len(members) > 0 && !members[e.MemberID] {
				res.Skipped++
				continue
			}
			r := exchange.Record{SourceEntryID: e.Key(), Replace: !cur.Initial}
			if !e.Deleted {
				sig, skipped, err := e.Signals()
				if err != nil {
					return res, err // nothing of the page applied
				}
				res.Skipped += skipped
				r.Entries = sig
			}
			page = append(page, r)
		}
		a, err := exchange.Apply(ctx, entries, bankID, vigil.SourceNCMEC, by, "deleted or changed at NCMEC", page)
		if err != nil {
			return res, err
		}
		res.Added += a.Added
		res.Duplicates += a.Duplicates
		res.Retracted += a.Retracted
		if p.Next != "" {
			cur.Next, cur.NextAt = p.Next, now().Unix()
		} else {
			cur = Cursor{From: cur.To} // the range is complete
		}
		if err := state.SetExchangeCursor(ctx, vigil.SourceNCMEC, bankID, cur.String()); err != nil {
			return res, err
		}
		res.Cursor = cur
	}
	res.Cursor = cur
	return res, nil
}
