package ncmec_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/feed/ncmec"
	"github.com/vigil-oss/vigil/sqlite"
)

const (
	user     = "esp-user"
	password = "correct-horse-battery"
	pdqA     = "da4b8b371a4aeb359ae1ef409a41049a5fb7f0aca503f49ea1bc70abb1bc700b"
	ns       = `xmlns="https://hashsharing.ncmec.org/hashsharing/v2"`
)

func md5(i int) string  { return fmt.Sprintf("%032x", i) }
func sha1(i int) string { return fmt.Sprintf("%040x", i) }

// image renders an <image> entry as NCMEC writes one, feedback block and
// a fingerprint banks do not hold included.
func image(member int, id, class string, md5, sha1, pdq string) string {
	s := fmt.Sprintf(`<image><member id="%d">Member %d</member><timestamp>2017-10-24T15:00:00Z</timestamp><id>%s</id>`, member, member, id)
	if class != "" {
		s += "<classification>" + class + "</classification>"
	}
	s += "<fingerprints>"
	if md5 != "" {
		s += "<md5>" + md5 + "</md5>"
	}
	if sha1 != "" {
		s += "<sha1>" + sha1 + "</sha1>"
	}
	if pdq != "" {
		s += "<pdq>" + pdq + "</pdq>"
	}
	s += `<pdna>a1a1a1a1...</pdna></fingerprints><feedback lastUpdateTimestamp="2023-06-01T12:48:14Z"><affirmativeFeedback type="Md5"><members><member id="42">Example</member></members></affirmativeFeedback></feedback></image>`
	return s
}

func deletedImage(member int, id string) string {
	return fmt.Sprintf(`<deletedImage><member id="%d">M</member><id>%s</id><timestamp>2017-10-24T15:10:00Z</timestamp></deletedImage>`, member, id)
}

func video(member int, id, md5 string) string {
	return fmt.Sprintf(`<video><member id="%d">M</member><id>%s</id><fingerprints><md5>%s</md5></fingerprints></video>`, member, id, md5)
}

func result(images, videos []string, next string) string {
	s := `<?xml version="1.0" encoding="UTF-8" standalone="yes"?><queryResult ` + ns + `>`
	s += fmt.Sprintf(`<images count="%d" maxTimestamp="2017-10-24T15:10:00Z">%s</images>`, len(images), strings.Join(images, ""))
	s += fmt.Sprintf(`<videos count="%d" maxTimestamp="2017-10-24T15:20:00Z">%s</videos>`, len(videos), strings.Join(videos, ""))
	if next != "" {
		s += "<paging><next>" + strings.ReplaceAll(next, "&", "&amp;") + "</next></paging>"
	}
	return s + "</queryResult>"
}

// fake answers as NCMEC's hash sharing API does: Basic auth, pages by
// time range, a next path per page; failures on demand.
type fake struct {
	*httptest.Server
	mu       sync.Mutex
	first    map[string]string // "from to" -> first page
	pages    map[string]string // start param -> page
	fail     map[string]int    // page key -> 503s to answer first
	status   int               // if set, answer this with an error body
	requests []string          // page keys asked for
	hits     atomic.Int32
}

func newFake(t *testing.T) *fake {
	f := &fake{first: map[string]string{}, pages: map[string]string{}, fail: map[string]int{}}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.hits.Add(1)
		u, p, ok := r.BasicAuth()
		if !ok || u != user || p != password {
			w.Header().Set("WWW-Authenticate", `Basic realm="hashsharing"`)
			http.Error(w, `<error><message>Authentication failed</message></error>`, http.StatusUnauthorized)
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.status != 0 {
			w.WriteHeader(f.status)
			fmt.Fprint(w, `<error><message>Access denied for this environment</message></error>`)
			return
		}
		if r.URL.Path != "/hashsharing/v2/entries" || r.Method != http.MethodGet {
			http.NotFound(w, r)
			return
		}
		q := r.URL.Query()
		key := q.Get("start")
		var page string
		if key == "" {
			key = q.Get("from") + " " + q.Get("to")
			page = f.first[key]
			if page == "" {
				page = result(nil, nil, "")
			}
		} else if page = f.pages[key]; page == "" {
			http.Error(w, "<error>unknown page</error>", http.StatusBadRequest)
			return
		}
		f.requests = append(f.requests, key)
		if f.fail[key] > 0 {
			f.fail[key]--
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "application/xml")
		fmt.Fprint(w, page)
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fake) client() *ncmec.Client {
	return &ncmec.Client{BaseURL: f.URL + "/hashsharing", Username: user, Password: password,
		Sleep: func(ctx context.Context, d time.Duration) error { return nil }}
}

func next(start int) string {
	return fmt.Sprintf("/v2/entries?from=2017-10-20T00%%3A00%%3A00.000Z&to=2017-10-30T00%%3A00%%3A00.000Z&start=%d&size=1000&max=5000", start)
}

func rangeKey(from, to int64) string {
	return time.Unix(from, 0).UTC().Format("2006-01-02T15:04:05Z") + " " + time.Unix(to, 0).UTC().Format("2006-01-02T15:04:05Z")
}

type stores struct {
	db        *sqlite.DB
	banks     vigil.BankService
	entries   vigil.EntryService
	exchanges vigil.ExchangeService
	bank      *vigil.Bank
}

func openStores(t *testing.T) *stores {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, t.TempDir(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	s := &stores{db: db, banks: sqlite.NewBankService(db), entries: sqlite.NewEntryService(db), exchanges: sqlite.NewExchangeService(db)}
	s.bank = &vigil.Bank{Name: "ncmec", Enabled: true}
	if err := s.banks.CreateBank(ctx, s.bank); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *stores) active(t *testing.T) map[string]*vigil.Entry {
	t.Helper()
	es, err := s.entries.FindEntries(context.Background(), vigil.EntryFilter{BankID: &s.bank.ID, Limit: vigil.MaxEntryLimit})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*vigil.Entry{}
	for _, e := range es {
		out[string(e.SignalType)+":"+e.Value] = e
	}
	return out
}

var t0 = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)

func TestSync(t *testing.T) {
	ctx := context.Background()
	s := openStores(t)
	f := newFake(t)
	clock := t0
	opt := ncmec.Options{Now: func() time.Time { return clock }}
	end := t0.Unix() - 5

	// Three pages: entries, a deletion of one on the last, a video.
	f.first[rangeKey(0, end)] = result([]string{
		image(42, "image1", "A1", md5(1), sha1(1), pdqA),
		image(43, "image2", "B1", md5(2), "", ""),
	}, []string{video(42, "video1", md5(3))}, next(2001))
	f.pages["2001"] = result([]string{image(42, "image3", "A2", md5(4), "", "")}, nil, next(3001))
	f.pages["3001"] = result([]string{deletedImage(43, "image2")}, nil, "")
	f.fail["2001"] = 2 // an outage the retries ride out

	res, err := ncmec.Sync(ctx, f.client(), s.entries, s.exchanges, s.bank.ID, opt)
	if err != nil {
		t.Fatal(err)
	}
	if res.Pages != 3 || res.Added != 6 || res.Retracted != 1 || res.Skipped != 3 || res.Cursor != (ncmec.Cursor{From: end}) {
		t.Fatalf("sync = %+v", res)
	}
	got := s.active(t)
	if len(got) != 5 {
		t.Fatalf("%d active entries, want 5: %v", len(got), got)
	}
	if e := got["pdq:"+pdqA]; e == nil || e.Source != "ncmec" || e.SourceEntryID != "42-image1" || e.Category != "A1" {
		t.Errorf("pdq entry: %+v", e)
	}
	if e := got["md5:"+md5(3)]; e == nil || e.SourceEntryID != "42-video1" {
		t.Errorf("video entry: %+v", e)
	}
	if got["md5:"+md5(2)] != nil {
		t.Errorf("deleted entry still active")
	}
	// Every page's additions, and the retraction, are on the audit log.
	recs, err := sqlite.NewAuditService(s.db).ListAudit(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	actions := map[string]int{}
	for _, r := range recs {
		if r.Actor == "ncmec-sync" {
			actions[r.Action]++
		}
	}
	if actions[vigil.AuditEntriesImport] != 2 || actions[vigil.AuditEntryRetract] != 1 {
		t.Errorf("audit records of the sync: %v", actions)
	}

	// Later: image1 updated (its SHA-1 dropped), image3 deleted. Entries
	// of another source under the same id are left alone.
	other := &vigil.Entry{SignalType: vigil.SignalMD5, Value: md5(99), Source: "local", SourceEntryID: "42-image3"}
	if _, err := s.entries.AddEntries(ctx, s.bank.ID, "curator", []*vigil.Entry{other}); err != nil {
		t.Fatal(err)
	}
	clock = t0.Add(time.Hour)
	end2 := clock.Unix() - 5
	f.first[rangeKey(end, end2)] = result([]string{image(42, "image1", "A1", md5(1), "", pdqA), deletedImage(42, "image3")}, nil, "")
	res, err = ncmec.Sync(ctx, f.client(), s.entries, s.exchanges, s.bank.ID, opt)
	if err != nil {
		t.Fatal(err)
	}
	if res.Pages != 1 || res.Added != 0 || res.Duplicates != 2 || res.Retracted != 2 {
		t.Fatalf("second sync = %+v", res)
	}
	got = s.active(t)
	if got["sha1:"+sha1(1)] != nil || got["md5:"+md5(4)] != nil || got["md5:"+md5(99)] == nil || got["pdq:"+pdqA] == nil {
		t.Errorf("after update and deletion: %v", got)
	}
}

func TestResume(t *testing.T) {
	ctx := context.Background()
	s := openStores(t)
	f := newFake(t)
	clock := t0
	opt := ncmec.Options{Now: func() time.Time { return clock }}
	end := t0.Unix() - 5
	f.first[rangeKey(0, end)] = result([]string{image(1, "a", "", md5(1), "", "")}, nil, next(2001))
	f.pages["2001"] = result([]string{image(1, "b", "", md5(2), "", "")}, nil, next(3001))
	f.pages["3001"] = result([]string{image(1, "c", "", md5(3), "", "")}, nil, "")
	f.fail["3001"] = 100 // the sync dies on the third page, as a crash would

	if _, err := ncmec.Sync(ctx, f.client(), s.entries, s.exchanges, s.bank.ID, opt); vigil.ErrorCode(err) != vigil.EUNAVAILABLE {
		t.Fatalf("sync through an outage: %v", err)
	}
	if n := len(s.active(t)); n != 2 {
		t.Fatalf("%d entries after two pages, want 2", n)
	}
	saved, _ := s.exchanges.ExchangeCursor(ctx, "ncmec", s.bank.ID)
	if cur, _ := ncmec.ParseCursor(saved); cur.Next != next(3001) || cur.From != 0 || cur.To != end {
		t.Fatalf("saved cursor %s", saved)
	}

	// The outage ends; a new sync (after a restart) asks for the third
	// page only, with the range it belongs to, though time has moved on.
	f.fail["3001"] = 0
	f.requests = nil
	clock = t0.Add(time.Hour)
	res, err := ncmec.Sync(ctx, f.client(), s.entries, s.exchanges, s.bank.ID, opt)
	if err != nil {
		t.Fatal(err)
	}
	end2 := clock.Unix() - 5
	if strings.Join(f.requests, ",") != "3001,"+rangeKey(end, end2) || res.Added != 1 || res.Duplicates != 0 {
		t.Fatalf("resumed with requests %q: %+v", f.requests, res)
	}
	if n := len(s.active(t)); n != 3 {
		t.Fatalf("%d entries after the resume, want 3", n)
	}

	// A paging URL kept past MaxNextAge is dropped: the range is fetched
	// again from its start, and the pages applied again change nothing.
	cur := ncmec.Cursor{From: 0, To: end, Next: next(3001), NextAt: clock.Unix()}
	if err := s.exchanges.SetExchangeCursor(ctx, "ncmec", s.bank.ID, cur.String()); err != nil {
		t.Fatal(err)
	}
	clock = clock.Add(ncmec.MaxNextAge + time.Minute)
	f.requests = nil
	f.first[rangeKey(0, clock.Unix()-5)] = f.first[rangeKey(0, end)]
	res, err = ncmec.Sync(ctx, f.client(), s.entries, s.exchanges, s.bank.ID, opt)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.requests) != 3 || f.requests[0] != rangeKey(0, clock.Unix()-5) || res.Added != 0 || res.Duplicates != 3 {
		t.Fatalf("after a stale cursor: requests %q, %+v", f.requests, res)
	}
}

func TestWindowAndMembers(t *testing.T) {
	ctx := context.Background()
	s := openStores(t)
	f := newFake(t)
	clock := time.Unix(3*3600+5, 0)
	opt := ncmec.Options{Now: func() time.Time { return clock }, Window: time.Hour, Members: []int64{7}}
	f.first[rangeKey(3600, 7200)] = result([]string{image(7, "x", "", md5(1), "", ""), image(8, "y", "", md5(2), "", "")}, nil, "")
	res, err := ncmec.Sync(ctx, f.client(), s.entries, s.exchanges, s.bank.ID, opt)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{rangeKey(0, 3600), rangeKey(3600, 7200), rangeKey(7200, 10800)}
	if strings.Join(f.requests, ",") != strings.Join(want, ",") || res.Added != 1 || res.Skipped != 2 { // member 8, and member 7's PDNA
		t.Fatalf("requests %q, %+v", f.requests, res)
	}
	if got := s.active(t); got["md5:"+md5(1)] == nil || got["md5:"+md5(2)] != nil {
		t.Errorf("members filter: %v", got)
	}
}

func TestFailures(t *testing.T) {
	ctx := context.Background()
	s := openStores(t)
	f := newFake(t)
	opt := ncmec.Options{Now: func() time.Time { return t0 }}
	end := t0.Unix() - 5

	// Wrong password: one request, EUNAUTHORIZED with NCMEC's message, and
	// neither password in the error.
	c := f.client()
	c.Password = "wrong-password-123"
	_, err := ncmec.Sync(ctx, c, s.entries, s.exchanges, s.bank.ID, opt)
	if vigil.ErrorCode(err) != vigil.EUNAUTHORIZED || f.hits.Load() != 1 || !strings.Contains(err.Error(), "Authentication failed") {
		t.Fatalf("wrong password: %v after %d requests", err, f.hits.Load())
	}
	if strings.Contains(err.Error(), "wrong-password") || strings.Contains(err.Error(), password) {
		t.Fatalf("error shows a password: %v", err)
	}
	f.status = http.StatusForbidden
	if _, err := ncmec.Sync(ctx, f.client(), s.entries, s.exchanges, s.bank.ID, opt); vigil.ErrorCode(err) != vigil.EFORBIDDEN || !strings.Contains(err.Error(), "Access denied") {
		t.Fatalf("403: %v", err)
	}
	f.status = http.StatusTooManyRequests
	f.hits.Store(0)
	if _, err := ncmec.Sync(ctx, f.client(), s.entries, s.exchanges, s.bank.ID, opt); vigil.ErrorCode(err) != vigil.EUNAVAILABLE || f.hits.Load() != 4 {
		t.Fatalf("429s: %v after %d", err, f.hits.Load())
	}
	f.status = 0

	// A malformed page: a clear error, nothing of it applied, the cursor
	// where it was.
	for name, page := range map[string]string{
		"bad hash":     result([]string{image(1, "a", "", md5(1), "", ""), image(1, "b", "", "nothex", "", "")}, nil, ""),
		"no id":        result([]string{`<image><member id="1">M</member></image>`}, nil, ""),
		"not xml":      `<queryResult ` + ns + `><images>`,
		"foreign next": result([]string{image(1, "a", "", md5(1), "", "")}, nil, "https://elsewhere.example/v2/entries?start=1"),
		"unknown kind": result([]string{`<audio><member id="1">M</member><id>z</id></audio>`}, nil, ""),
	} {
		f.first[rangeKey(0, end)] = page
		_, err := ncmec.Sync(ctx, f.client(), s.entries, s.exchanges, s.bank.ID, opt)
		if vigil.ErrorCode(err) != vigil.EINVALID {
			t.Errorf("%s: %v", name, err)
		}
		if n := len(s.active(t)); n != 0 {
			t.Errorf("%s: %d entries applied", name, n)
		}
		if saved, _ := s.exchanges.ExchangeCursor(ctx, "ncmec", s.bank.ID); saved != "" {
			t.Errorf("%s: cursor moved to %s", name, saved)
		}
	}
}

func TestParsePageFixture(t *testing.T) {
	// pytx's test data (documentation example), trimmed.
	p, err := ncmec.ParsePage([]byte(result([]string{image(42, "image1", "A1", md5(1), sha1(1), ""), deletedImage(43, "image4")}, []string{video(42, "video1", md5(3))}, next(2001))))
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Entries) != 3 || p.Next != next(2001) || p.MaxTimestamp != time.Date(2017, 10, 24, 15, 20, 0, 0, time.UTC).Unix() {
		t.Fatalf("page %+v", p)
	}
	e := p.Entries[0]
	if e.Key() != "42-image1" || e.Classification != "A1" || e.Fingerprints["md5"] != md5(1) || e.Fingerprints["pdna"] == "" || e.Deleted || e.Video {
		t.Errorf("image: %+v", e)
	}
	if d := p.Entries[1]; !d.Deleted || d.Key() != "43-image4" {
		t.Errorf("deleted: %+v", d)
	}
	if v := p.Entries[2]; !v.Video || v.Key() != "42-video1" {
		t.Errorf("video: %+v", v)
	}
	if _, err := url.Parse(p.Next); err != nil {
		t.Error(err)
	}
}

func FuzzParsePage(f *testing.F) {
	f.Add([]byte(result([]string{image(42, "image1", "A1", md5(1), sha1(1), pdqA), deletedImage(43, "image4")}, []string{video(42, "v", md5(3))}, next(2001))))
	f.Add([]byte(result(nil, nil, "")))
	f.Add([]byte(`<queryResult><images maxTimestamp="x"/></queryResult>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ncmec.ParsePage(b)
		if err != nil {
			return
		}
		if len(p.Entries) > ncmec.MaxPageEntries || len(p.Next) > ncmec.MaxNextLen || (p.Next != "" && p.Next[0] != '/') {
			t.Fatalf("page over its bounds: %d entries, next %q", len(p.Entries), p.Next)
		}
		for i := range p.Entries {
			sig, _, err := p.Entries[i].Signals()
			if err != nil {
				continue
			}
			for _, e := range sig {
				if e.Validate() != nil || e.SourceEntryID != p.Entries[i].Key() {
					t.Fatalf("signal that does not validate: %+v", e)
				}
			}
		}
	})
}
