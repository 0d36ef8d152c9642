package feed_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/feed"
	vhttp "github.com/vigil-oss/vigil/http"
	"github.com/vigil-oss/vigil/matcher"
	"github.com/vigil-oss/vigil/sqlite"
)

// instance is one Vigil in the test process: a store and an API.
type instance struct {
	db      *sqlite.DB
	banks   *sqlite.BankService
	entries *sqlite.EntryService
	feeds   *sqlite.FeedService
	cases   *sqlite.CaseService
	audit   *sqlite.AuditService
	srv     *vhttp.Server
	curator string // a curator key's secret
	admin   string
}

func newInstance(tb testing.TB) *instance {
	tb.Helper()
	ctx := context.Background()
	logger := slog.New(slog.DiscardHandler)
	db, err := sqlite.Open(ctx, tb.TempDir(), logger)
	if err != nil {
		tb.Fatal(err)
	}
	in := &instance{db: db, banks: sqlite.NewBankService(db), entries: sqlite.NewEntryService(db),
		feeds: sqlite.NewFeedService(db), cases: sqlite.NewCaseService(db), audit: sqlite.NewAuditService(db)}
	m := matcher.New(in.banks, in.entries, logger)
	if err := m.Load(ctx); err != nil {
		tb.Fatal(err)
	}
	s := vhttp.NewServer()
	s.Addr, s.Banks, s.Entries, s.Keys, s.Matcher, s.Logger = "127.0.0.1:0", in.banks, in.entries, sqlite.NewKeyService(db), m, logger
	s.Audit, s.Feeds, s.Subscriptions = in.audit, in.feeds, in.feeds
	if err := s.Open(); err != nil {
		tb.Fatal(err)
	}
	in.srv = s
	if in.curator, err = sqlite.NewKeyService(db).CreateKey(ctx, &vigil.Key{Name: "peer", Role: vigil.RoleCurator, CreatedBy: "test"}); err != nil {
		tb.Fatal(err)
	}
	if in.admin, err = sqlite.NewKeyService(db).CreateKey(ctx, &vigil.Key{Name: "ops", Role: vigil.RoleAdmin, CreatedBy: "test"}); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		s.Close(ctx)
		db.Close()
	})
	return in
}

func (in *instance) bank(tb testing.TB, name string) *vigil.Bank {
	tb.Helper()
	b := &vigil.Bank{Name: name, Enabled: true}
	if err := in.banks.CreateBank(context.Background(), b); err != nil {
		tb.Fatal(err)
	}
	return b
}

// publisher is an instance publishing bank "list" as feed "list".
type publisher struct {
	*instance
	bank   *vigil.Bank
	pub    *feed.Publisher
	signer note.Signer
	vkey   string
}

func newPublisher(tb testing.TB, skey, vkey string) *publisher {
	tb.Helper()
	in := newInstance(tb)
	p := &publisher{instance: in, bank: in.bank(tb, "list"), vkey: vkey}
	var err error
	if p.signer, err = note.NewSigner(skey); err != nil {
		tb.Fatal(err)
	}
	if err := in.feeds.CreateFeed(context.Background(), &vigil.Feed{Name: "list", Banks: []string{"list"}, VerifierKey: vkey}); err != nil {
		tb.Fatal(err)
	}
	p.pub = &feed.Publisher{Feeds: in.feeds, Signer: p.signer, BatchChanges: 3}
	return p
}

func newKey(tb testing.TB) (string, string) {
	skey, vkey, err := note.GenerateKey(rand.Reader, "vigil-feed-list")
	if err != nil {
		tb.Fatal(err)
	}
	return skey, vkey
}

// add adds n md5 entries numbered from i0.
func (p *publisher) add(tb testing.TB, i0, n int, source string) {
	tb.Helper()
	var es []*vigil.Entry
	for i := i0; i < i0+n; i++ {
		es = append(es, &vigil.Entry{SignalType: vigil.SignalMD5, Value: fmt.Sprintf("%032x", i), Source: source,
			SourceEntryID: map[bool]string{true: fmt.Sprintf("s%d", i)}[source != ""], Category: "test"})
	}
	if _, err := p.entries.AddEntries(context.Background(), p.bank.ID, "curator", es); err != nil {
		tb.Fatal(err)
	}
}

func (p *publisher) cut(tb testing.TB) int {
	tb.Helper()
	total := 0
	for {
		n, err := p.pub.Cut(context.Background(), "list")
		if err != nil {
			tb.Fatal(err)
		}
		if n == 0 {
			return total
		}
		total += n
	}
}

// subscriber is an instance subscribed to a feed into bank "mirror".
type subscriber struct {
	*instance
	bank   *vigil.Bank
	sub    *vigil.Subscription
	client *feed.Client
}

func newSubscriber(tb testing.TB, url, vkey, apiKey string) *subscriber {
	tb.Helper()
	in := newInstance(tb)
	s := &subscriber{instance: in, bank: in.bank(tb, "mirror")}
	s.sub = &vigil.Subscription{URL: url + "/v1/feeds/list", Feed: "list", Key: vkey, BankID: s.bank.ID}
	if err := in.feeds.CreateSubscription(context.Background(), s.sub); err != nil {
		tb.Fatal(err)
	}
	s.client = &feed.Client{Subs: in.feeds, APIKey: apiKey, Actor: "test", Audit: true}
	return s
}

func (s *subscriber) sync(tb testing.TB) (int, error) {
	tb.Helper()
	return s.client.Sync(context.Background(), s.sub.ID)
}

func (s *subscriber) mustSync(tb testing.TB) int {
	tb.Helper()
	n, err := s.sync(tb)
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// state returns the bank's entries as "value source source_id [retracted]"
// lines, in id order.
func (s *subscriber) state(tb testing.TB) string {
	tb.Helper()
	es, err := s.entries.FindEntries(context.Background(), vigil.EntryFilter{BankID: &s.bank.ID, IncludeRetracted: true, Limit: vigil.MaxEntryLimit})
	if err != nil {
		tb.Fatal(err)
	}
	var b strings.Builder
	for _, e := range es {
		fmt.Fprintf(&b, "%s %s %s", e.Value, e.Source, e.SourceEntryID)
		if e.Retracted() {
			b.WriteString(" retracted")
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func (s *subscriber) subscription(tb testing.TB) *vigil.Subscription {
	tb.Helper()
	sub, err := s.feeds.FindSubscriptionByID(context.Background(), s.sub.ID)
	if err != nil {
		tb.Fatal(err)
	}
	return sub
}

func TestPublishSubscribe(t *testing.T) {
	ctx := context.Background()
	skey, vkey := newKey(t)
	p := newPublisher(t, skey, vkey)
	p.add(t, 0, 5, "")         // made at the publisher
	p.add(t, 100, 2, "ncmec")  // got from elsewhere: keeps its provenance
	if n := p.cut(t); n != 3 { // 1 bank change + 7 entries, 3 per batch
		t.Fatalf("cut %d batches, want 3", n)
	}

	a := newSubscriber(t, p.srv.URL(), vkey, p.curator)
	b := newSubscriber(t, p.srv.URL(), vkey, p.curator)
	if n := a.mustSync(t); n != 3 {
		t.Fatalf("applied %d batches, want 3", n)
	}
	got := a.state(t)
	for _, want := range []string{
		fmt.Sprintf("%032x feed:list ", 0),
		fmt.Sprintf("%032x ncmec s100\n", 100),
	} {
		if !strings.Contains(got, want) {
			t.Errorf("subscriber state lacks %q:\n%s", want, got)
		}
	}
	if n := a.mustSync(t); n != 0 {
		t.Fatalf("second sync applied %d batches", n)
	}

	// A retraction and a bank change travel too.
	es, _ := p.entries.FindEntries(ctx, vigil.EntryFilter{BankID: &p.bank.ID, Limit: 1})
	if _, err := p.entries.RetractEntry(ctx, es[0].ID, "curator", "wrong"); err != nil {
		t.Fatal(err)
	}
	desc := "shared list"
	if _, err := p.banks.UpdateBank(ctx, p.bank.ID, vigil.BankUpdate{Description: &desc, Thresholds: map[vigil.SignalType]int{vigil.SignalPDQ: 20}}); err != nil {
		t.Fatal(err)
	}
	p.add(t, 200, 1, "")
	p.cut(t)
	a.mustSync(t)
	b.mustSync(t) // from scratch, over the whole history
	if sa, sb := a.state(t), b.state(t); sa != sb {
		t.Fatalf("subscribers differ:\n%s\n%s", sa, sb)
	}
	if got := a.state(t); !strings.Contains(got, fmt.Sprintf("%032x feed:list %d retracted", 0, es[0].ID)) {
		t.Errorf("retraction not applied:\n%s", got)
	}
	mb, err := a.banks.FindBankByID(ctx, a.bank.ID)
	if err != nil {
		t.Fatal(err)
	}
	if mb.Description != desc || mb.Threshold(vigil.SignalPDQ) != 20 || mb.ActiveEntries != 7 {
		t.Errorf("mirror bank = %+v", mb)
	}
	// Each batch applied is in the subscriber's audit log.
	recs, err := a.audit.ListAudit(ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	applied := 0
	for _, r := range recs {
		if r.Action == vigil.AuditSubscriptionApply {
			applied++
		}
	}
	if sub := a.subscription(t); applied != int(sub.Applied) || sub.Error != "" {
		t.Errorf("%d apply records for %d batches, error %q", applied, sub.Applied, sub.Error)
	}
}

// TestResubscribeChain: a subscriber re-publishes what it got; the entries
// keep their first provenance over the second hop.
func TestRepublishKeepsProvenance(t *testing.T) {
	ctx := context.Background()
	skey, vkey := newKey(t)
	p := newPublisher(t, skey, vkey)
	p.add(t, 0, 2, "")
	p.add(t, 10, 1, "ncmec")
	p.cut(t)
	mid := newSubscriber(t, p.srv.URL(), vkey, p.curator)
	mid.mustSync(t)

	skey2, vkey2, _ := note.GenerateKey(rand.Reader, "vigil-feed-mid")
	if err := mid.feeds.CreateFeed(ctx, &vigil.Feed{Name: "list", Banks: []string{"mirror"}, VerifierKey: vkey2}); err != nil {
		t.Fatal(err)
	}
	signer, _ := note.NewSigner(skey2)
	if _, err := (&feed.Publisher{Feeds: mid.feeds, Signer: signer}).Cut(ctx, "list"); err != nil {
		t.Fatal(err)
	}
	end := newSubscriber(t, mid.srv.URL(), vkey2, mid.curator)
	end.mustSync(t)
	if got, want := end.state(t), mid.state(t); got != want {
		t.Fatalf("second hop changed provenance:\n%s\nwant\n%s", got, want)
	}
}

// proxy stands between a subscriber and a publisher and may change what
// passes.
type proxy struct {
	*httptest.Server
	target atomic.Pointer[peer]
	// edit, if set, may change a response body to the request of path.
	edit atomic.Pointer[func(path string, body []byte, h http.Header) []byte]
}

// peer is where a proxy forwards to, and the key it uses there.
type peer struct{ url, key string }

func newProxy(tb testing.TB, target *publisher) *proxy {
	p := &proxy{}
	p.to(target)
	p.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		to := p.target.Load()
		req, _ := http.NewRequest(r.Method, to.url+r.URL.RequestURI(), nil)
		req.Header.Set("Authorization", "Bearer "+to.key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if f := p.edit.Load(); f != nil {
			body = (*f)(r.URL.Path, body, resp.Header)
			if body == nil {
				// Hang up mid-answer, as a dying connection does.
				panic(http.ErrAbortHandler)
			}
		}
		for k, v := range resp.Header {
			if k != "Content-Length" {
				w.Header()[k] = v
			}
		}
		w.WriteHeader(resp.StatusCode)
		w.Write(body)
	}))
	tb.Cleanup(p.Close)
	return p
}

func (p *proxy) to(pub *publisher) { p.target.Store(&peer{pub.srv.URL(), pub.curator}) }

func (p *proxy) setEdit(f func(path string, body []byte, h http.Header) []byte) {
	if f == nil {
		p.edit.Store(nil)
		return
	}
	p.edit.Store(&f)
}

// TestRefusals: a tampered batch, a replayed batch, a batch from another
// feed signed by an unknown key, a forked head and a rolled-back head are
// each refused with a clear error and nothing of them applied; the
// subscription records the error, and the next good sync clears it.
func TestRefusals(t *testing.T) {
	skey, vkey := newKey(t)
	p := newPublisher(t, skey, vkey)
	p.add(t, 0, 4, "")
	p.cut(t)
	px := newProxy(t, p)
	s := newSubscriber(t, px.URL, vkey, p.curator)
	s.mustSync(t)
	p.add(t, 10, 4, "")
	p.cut(t)

	// A fork: a second publisher with the same key and feed name signs a
	// different history.
	fork := newPublisher(t, skey, vkey)
	fork.add(t, 0, 4, "")
	fork.add(t, 50, 9, "")
	fork.cut(t) // 5 batches: checked with a consistency proof
	// An old head of the history, served again.
	old := newPublisher(t, skey, vkey)
	old.add(t, 0, 4, "")
	old.cut(t)
	// A rewrite of the same length.
	rewrite := newPublisher(t, skey, vkey)
	rewrite.add(t, 0, 4, "")
	rewrite.cut(t)
	rewrite.add(t, 90, 4, "")
	rewrite.cut(t)

	// A feed of the same name signed by a key the subscriber does not pin.
	oskey, ovkey := newKey(t)
	other := newPublisher(t, oskey, ovkey)
	other.add(t, 0, 1, "")
	other.cut(t)

	// Batch 2 of the publisher, to replay in place of batch 3.
	batch2 := fetch(t, p.srv.URL()+"/v1/feeds/list/batches/2?tree=2", p.curator)

	tests := []struct {
		name   string
		target *publisher
		edit   func(path string, body []byte, h http.Header) []byte
		want   string
	}{
		{"tampered batch", nil, func(path string, body []byte, h http.Header) []byte {
			if strings.Contains(path, "/batches/") {
				return bytes.Replace(body, []byte(`"op":"add"`), []byte(`"op":"retract"`), 1)
			}
			return body
		}, "signature"},
		{"replayed batch", nil, func(path string, body []byte, h http.Header) []byte {
			if strings.HasSuffix(path, "/batches/3") {
				return batch2
			}
			return body
		}, "is not the one its signed head holds"},
		{"unknown key", other, nil, "head signature"},
		{"forked head", fork, nil, "forked"},
		{"rewritten history", rewrite, nil, "forked"},
		{"rolled back", old, nil, "rolled back"},
		{"dropped connection", nil, func(path string, body []byte, h http.Header) []byte {
			if strings.Contains(path, "/batches/") {
				return nil
			}
			return body
		}, "batch"},
	}
	before := s.state(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := p
			if tt.target != nil {
				target = tt.target
			}
			px.to(target)
			px.setEdit(tt.edit)
			defer px.setEdit(nil)
			n, err := s.sync(t)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("sync = %d, %v; want an error with %q", n, err, tt.want)
			}
			t.Log(err)
			if n != 0 || s.state(t) != before {
				t.Fatalf("applied %d batches of a refused feed", n)
			}
			if sub := s.subscription(t); sub.Error == "" || sub.Applied != 2 {
				t.Fatalf("subscription after refusal: %+v", sub)
			}
			// The subscriber stays ready, and says which feed fails.
			if body := fetch(t, s.srv.URL()+"/readyz", ""); !strings.Contains(string(body), `"feeds_failing":[1]`) {
				t.Errorf("readyz: %s", body)
			}
			if body := fetch(t, s.srv.URL()+"/metrics", s.admin); !strings.Contains(string(body), `vigil_feed_sync_failing{feed="list",subscription="1"} 1`) {
				t.Errorf("metrics lack the failing feed")
			}
		})
	}
	px.to(p)
	if n := s.mustSync(t); n != 2 {
		t.Fatalf("good sync applied %d batches, want 2", n)
	}
	if sub := s.subscription(t); sub.Error != "" {
		t.Fatalf("error not cleared: %q", sub.Error)
	}
	if body := fetch(t, s.srv.URL()+"/readyz", ""); strings.Contains(string(body), "feeds_failing") {
		t.Errorf("readyz after a good sync: %s", body)
	}
}

// TestKilledMidSync: a subscriber whose sync dies after some batches
// resumes where it stopped, with nothing lost or doubled: it ends in the
// state of one that synced in one go.
func TestKilledMidSync(t *testing.T) {
	skey, vkey := newKey(t)
	p := newPublisher(t, skey, vkey)
	p.add(t, 0, 12, "")
	p.cut(t) // 5 batches
	px := newProxy(t, p)
	killed := newSubscriber(t, px.URL, vkey, p.curator)
	whole := newSubscriber(t, p.srv.URL(), vkey, p.curator)

	var served atomic.Int32
	px.setEdit(func(path string, body []byte, h http.Header) []byte {
		if strings.Contains(path, "/batches/") && served.Add(1) > 2 {
			return nil
		}
		return body
	})
	n, err := killed.sync(t)
	if err == nil || n != 2 {
		t.Fatalf("killed sync = %d, %v; want 2 batches and an error", n, err)
	}
	px.setEdit(nil)
	if n := killed.mustSync(t); n != 3 {
		t.Fatalf("resumed sync applied %d batches, want 3", n)
	}
	whole.mustSync(t)
	if a, b := killed.state(t), whole.state(t); a != b || strings.Count(a, "\n") != 12 {
		t.Fatalf("resumed state differs:\n%s\nwant\n%s", a, b)
	}

	// A batch applied twice is refused by the store itself.
	if _, err := killed.feeds.ApplyBatch(context.Background(), killed.sub.ID, 5, "x", nil); vigil.ErrorCode(err) != vigil.ECONFLICT {
		t.Fatalf("re-applying batch 5: %v", err)
	}
}

func mustVerifier(tb testing.TB, vkey string) note.Verifier {
	v, err := note.NewVerifier(vkey)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// feedState returns the publisher's feed as stored.
func (p *publisher) feedState(tb testing.TB) *vigil.Feed {
	f, err := p.feeds.FindFeedByName(context.Background(), "list")
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

func fetch(tb testing.TB, url, key string) []byte {
	tb.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		tb.Fatalf("GET %s: %s %s", url, resp.Status, b)
	}
	return b
}

// decide opens a match case on the subscriber's entry of value v and
// decides it.
func (s *subscriber) decide(tb testing.TB, v string, verdict vigil.Verdict) {
	tb.Helper()
	ctx := context.Background()
	if _, err := s.cases.FindQueue(ctx, "q"); err != nil {
		if err := s.cases.CreateQueue(ctx, &vigil.Queue{Name: "q", Roles: []vigil.Role{vigil.RoleReviewer}}); err != nil {
			tb.Fatal(err)
		}
	}
	typ := vigil.SignalMD5
	es, err := s.entries.FindEntries(ctx, vigil.EntryFilter{BankID: &s.bank.ID, SignalType: &typ, Value: &v})
	if err != nil || len(es) != 1 {
		tb.Fatalf("entry %s: %v %v", v, es, err)
	}
	e := es[0]
	c := &vigil.Case{Queue: "q", Kind: vigil.CaseKindMatch, RetainUntil: time.Now().Add(time.Hour),
		Content: vigil.ContentRef{SHA256: fmt.Sprintf("%064x", time.Now().UnixNano())},
		Matches: []vigil.Match{{BankID: e.BankID, Bank: s.bank.Name, EntryID: e.ID, SignalType: e.SignalType, Value: e.Value, Threshold: 0}}}
	if err := s.cases.OpenCase(ctx, c, "rules"); err != nil {
		tb.Fatal(err)
	}
	if _, err := s.cases.DecideCase(ctx, c.ID, vigil.Decision{Verdict: verdict, DecidedBy: "reviewer"}); err != nil {
		tb.Fatal(err)
	}
}

// TestFeedback: reviewers' decisions at two subscribers reach the
// publisher, per entry and subscriber, and a report sent twice counts once.
func TestFeedback(t *testing.T) {
	ctx := context.Background()
	skey, vkey := newKey(t)
	p := newPublisher(t, skey, vkey)
	p.add(t, 0, 3, "")
	p.cut(t)
	a := newSubscriber(t, p.srv.URL(), vkey, p.curator)
	a.mustSync(t)
	a.decide(t, fmt.Sprintf("%032x", 1), vigil.VerdictFalsePositive)
	a.decide(t, fmt.Sprintf("%032x", 1), vigil.VerdictFalsePositive)
	a.decide(t, fmt.Sprintf("%032x", 2), vigil.VerdictConfirmed)

	// A second subscriber, with its own key at the publisher.
	key2, err := sqlite.NewKeyService(p.db).CreateKey(ctx, &vigil.Key{Name: "peer2", Role: vigil.RoleCurator, CreatedBy: "test"})
	if err != nil {
		t.Fatal(err)
	}
	b := newSubscriber(t, p.srv.URL(), vkey, key2)
	b.mustSync(t)
	b.decide(t, fmt.Sprintf("%032x", 1), vigil.VerdictFalsePositive)

	// The publisher quarantines from feedback as its own review would.
	p.feeds.Policy = vigil.QuarantinePolicy{MinFalsePositives: 3, MaxPrecision: 0}
	es, _ := p.entries.FindEntries(ctx, vigil.EntryFilter{BankID: &p.bank.ID})
	quarantined := func() bool {
		e, err := p.entries.FindEntryByID(ctx, es[1].ID)
		if err != nil {
			t.Fatal(err)
		}
		return e.Quarantined()
	}
	for i := range 2 { // the second report changes nothing
		if n, err := a.client.SendFeedback(ctx, a.sub.ID); err != nil || n != 2 {
			t.Fatalf("a sent %d opinions, %v", n, err)
		}
		if i == 0 && quarantined() {
			t.Fatal("one subscriber's reports quarantined an entry")
		}
		if n, err := b.client.SendFeedback(ctx, b.sub.ID); err != nil || n != 1 {
			t.Fatalf("b sent %d opinions, %v", n, err)
		}
		if !quarantined() {
			t.Fatal("3 false positives from 2 subscribers did not quarantine the entry")
		}
	}
	// The quarantine reaches the subscribers as a retraction.
	p.cut(t)
	a.mustSync(t)
	if got := a.state(t); !strings.Contains(got, fmt.Sprintf("%032x feed:list %d retracted", 1, es[1].ID)) {
		t.Errorf("quarantine at the publisher not passed on:\n%s", got)
	}
	f, _ := p.feeds.FindFeedByName(ctx, "list")
	got, err := p.feeds.FeedFeedback(ctx, f.ID, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []vigil.FeedEntryFeedback{
		{EntryID: es[1].ID, Subscribers: 2, FalsePositives: 3},
		{EntryID: es[2].ID, Subscribers: 1, Confirmed: 1},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("feedback = %+v, want %+v", got, want)
	}
	// Over the API, for curators.
	body := fetch(t, p.srv.URL()+"/v1/feeds/list/feedback", p.curator)
	if !strings.Contains(string(body), `"false_positives":3`) {
		t.Errorf("GET feedback: %s", body)
	}
	// Opinions on entries outside the feed are not stored.
	if n, err := p.feeds.RecordFeedback(ctx, f.ID, "key:9:x", []vigil.FeedOpinion{{EntryID: 99999, FalsePositives: 5}}); err != nil || n != 0 {
		t.Errorf("opinion on an unknown entry stored: %d, %v", n, err)
	}
}

// TestKeyRotation: the publisher hands the feed over to a new key in a
// batch signed by the old one; a subscriber that pinned the old key
// follows, from before the hand-over or across it in one sync, and a batch
// signed by the old key after the hand-over is refused.
func TestKeyRotation(t *testing.T) {
	ctx := context.Background()
	skey, vkey := newKey(t)
	p := newPublisher(t, skey, vkey)
	p.add(t, 0, 2, "")
	p.cut(t)
	early := newSubscriber(t, p.srv.URL(), vkey, p.curator)
	early.mustSync(t)
	late := newSubscriber(t, p.srv.URL(), vkey, p.curator) // first syncs after the hand-over

	nskey, nvkey := newKey(t)
	next, _ := note.NewSigner(nskey)
	if err := p.pub.Rotate(ctx, "list", next, nvkey); err != nil {
		t.Fatal(err)
	}
	old := p.pub.Signer
	p.pub.Signer, p.pub.Cosigners = next, []note.Signer{old}
	p.add(t, 10, 2, "")
	p.cut(t)

	early.mustSync(t)
	late.mustSync(t)
	for _, s := range []*subscriber{early, late} {
		if got := s.subscription(t).Key; got != nvkey {
			t.Fatalf("subscription key after hand-over = %q, want the new key", got)
		}
		if got := s.state(t); strings.Count(got, "\n") != 4 {
			t.Fatalf("state after hand-over:\n%s", got)
		}
	}
	// A batch after the hand-over signed by the old key is refused.
	px := newProxy(t, p)
	forged := newSubscriber(t, px.URL, vkey, "")
	size := p.feedState(t).Size
	px.setEdit(func(path string, body []byte, h http.Header) []byte {
		if !strings.HasSuffix(path, fmt.Sprintf("/batches/%d", size)) {
			return body
		}
		n, err := note.Open(body, note.VerifierList(mustVerifier(t, nvkey)))
		if err != nil {
			t.Error(err)
			return body
		}
		b, _ := note.Sign(&note.Note{Text: n.Text}, old)
		return b
	})
	if n, err := forged.sync(t); err == nil || !strings.Contains(err.Error(), "signature") || n != int(size)-1 {
		t.Fatalf("old-key batch after the hand-over: %d, %v", n, err)
	}

	// The old key can no longer publish.
	p.pub.Signer, p.pub.Cosigners = old, nil
	if _, err := p.pub.Cut(ctx, "list"); vigil.ErrorCode(err) != vigil.EINVALID {
		t.Fatalf("cut with the old key after hand-over: %v", err)
	}
}
