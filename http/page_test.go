package http_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/storetest"
)

// pagedList is one list endpoint of the API, for the paging contract.
type pagedList struct {
	name  string
	role  vigil.Role
	path  string // without query
	field string // the JSON field holding the items
	// fill stores n more items in the list; id reads an item's id.
	fill func(t *testing.T, ts *testServer, n int)
	id   func(item json.RawMessage) int64
}

// idAt returns an id reader for items whose id is at the given JSON path.
func idAt(path ...string) func(json.RawMessage) int64 {
	return func(item json.RawMessage) int64 {
		var v any
		if err := json.Unmarshal(item, &v); err != nil {
			return -1
		}
		for _, p := range path {
			m, ok := v.(map[string]any)
			if !ok {
				return -1
			}
			v = m[p]
		}
		f, ok := v.(float64)
		if !ok {
			return -1
		}
		return int64(f)
	}
}

// pagedLists are every paged list of the API.
func pagedLists() []pagedList {
	ctx := context.Background()
	must := func(t *testing.T, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	seq := 0
	next := func() int { seq++; return seq }
	// bankWithEntries makes a bank "b" (once) and adds n PDQ entries.
	bankWithEntries := func(t *testing.T, ts *testServer, n int) []*vigil.Entry {
		t.Helper()
		b, err := ts.Banks.FindBankByName(ctx, "b")
		if vigil.ErrorCode(err) == vigil.ENOTFOUND {
			b = &vigil.Bank{Name: "b", Enabled: true}
			must(t, ts.Banks.CreateBank(ctx, b))
		} else {
			must(t, err)
		}
		var es []*vigil.Entry
		for range n {
			es = append(es, &vigil.Entry{SignalType: vigil.SignalPDQ, Value: storetest.PDQ(1000 + next()), Source: "test"})
		}
		_, err = ts.Entries.AddEntries(ctx, b.ID, "curator", es)
		must(t, err)
		return es
	}
	queue := func(t *testing.T, ts *testServer) {
		t.Helper()
		if _, err := ts.Cases.FindQueue(ctx, "q"); vigil.ErrorCode(err) == vigil.ENOTFOUND {
			must(t, ts.Cases.CreateQueue(ctx, &vigil.Queue{Name: "q", Roles: []vigil.Role{vigil.RoleReviewer}}))
		}
	}
	openCases := func(t *testing.T, ts *testServer, es []*vigil.Entry) {
		t.Helper()
		queue(t, ts)
		for _, e := range es {
			c := &vigil.Case{Queue: "q", Kind: vigil.CaseKindMatch, RetainUntil: time.Now().Add(time.Hour),
				Matches: []vigil.Match{{BankID: e.BankID, EntryID: e.ID, SignalType: e.SignalType, Value: e.Value}}}
			must(t, ts.Cases.OpenCase(ctx, c, "test"))
		}
	}
	return []pagedList{
		{name: "cases", role: vigil.RoleReviewer, path: "/v1/cases", field: "cases", id: idAt("id"),
			fill: func(t *testing.T, ts *testServer, n int) { openCases(t, ts, bankWithEntries(t, ts, n)) }},
		{name: "entries", role: vigil.RoleCurator, path: "/v1/banks/b/entries", field: "entries", id: idAt("id"),
			fill: func(t *testing.T, ts *testServer, n int) { bankWithEntries(t, ts, n) }},
		{name: "banks", role: vigil.RoleCurator, path: "/v1/banks", field: "banks", id: idAt("id"),
			fill: func(t *testing.T, ts *testServer, n int) {
				for range n {
					// Names in the reverse of creation order: pages
					// follow ids, not names.
					must(t, ts.Banks.CreateBank(ctx, &vigil.Bank{Name: fmt.Sprintf("bank-%03d", 999-next()), Enabled: true}))
				}
			}},
		{name: "keys", role: vigil.RoleAdmin, path: "/v1/keys", field: "keys", id: idAt("id"),
			fill: func(t *testing.T, ts *testServer, n int) {
				for range n {
					_, err := ts.Keys.CreateKey(ctx, &vigil.Key{Name: fmt.Sprintf("key-%d", next()), Role: vigil.RoleMatcher, CreatedBy: "test"})
					must(t, err)
				}
			}},
		{name: "rules", role: vigil.RoleCurator, path: "/v1/rules", field: "rules", id: idAt("id"),
			fill: func(t *testing.T, ts *testServer, n int) {
				for range n {
					r := &vigil.Rule{Name: fmt.Sprintf("rule-%03d", 999-next()), Enabled: true,
						When: vigil.RuleConditions{Kind: vigil.CaseKindMatch}, Action: vigil.RuleAction{Type: vigil.ActionNone}}
					must(t, ts.Rules.CreateRule(ctx, r))
				}
			}},
		{name: "queues", role: vigil.RoleCurator, path: "/v1/queues", field: "queues", id: idAt("id"),
			fill: func(t *testing.T, ts *testServer, n int) {
				for range n {
					must(t, ts.Cases.CreateQueue(ctx, &vigil.Queue{Name: fmt.Sprintf("queue-%03d", 999-next())}))
				}
			}},
		{name: "quarantine", role: vigil.RoleCurator, path: "/v1/quarantine", field: "entries", id: idAt("entry", "id"),
			fill: func(t *testing.T, ts *testServer, n int) {
				for _, e := range bankWithEntries(t, ts, n) {
					must(t, ts.Cases.QuarantineEntry(ctx, e.ID, "test"))
				}
			}},
		{name: "rematches", role: vigil.RoleCurator, path: "/v1/rematches", field: "rematches", id: idAt("id"),
			fill: func(t *testing.T, ts *testServer, n int) {
				var rs []*vigil.Rematch
				for range n {
					rs = append(rs, &vigil.Rematch{ContentSHA256: fmt.Sprintf("%064x", next()), Match: vigil.Match{Bank: "b", EntryID: 1}, SeenAt: time.Now()})
				}
				must(t, ts.Signals.AddRematches(ctx, rs))
			}},
		{name: "bank precision", role: vigil.RoleCurator, path: "/v1/precision/banks", field: "banks", id: idAt("bank_id"),
			fill: func(t *testing.T, ts *testServer, n int) {
				queue(t, ts)
				for range n {
					b := &vigil.Bank{Name: fmt.Sprintf("p-%03d", 999-next()), Enabled: true}
					must(t, ts.Banks.CreateBank(ctx, b))
					e := &vigil.Entry{SignalType: vigil.SignalMD5, Value: fmt.Sprintf("%032x", next())}
					_, err := ts.Entries.AddEntries(ctx, b.ID, "curator", []*vigil.Entry{e})
					must(t, err)
					openCases(t, ts, []*vigil.Entry{e})
				}
			}},
	}
}

// listNamed returns the paged list of that name.
func listNamed(t *testing.T, name string) pagedList {
	t.Helper()
	for _, l := range pagedLists() {
		if l.name == name {
			return l
		}
	}
	t.Fatalf("no list %q", name)
	return pagedList{}
}

// listPage is one page of a list as the API answers it.
type listPage struct {
	ids  []int64
	next *int64 // nil when next_after_id is absent
}

func getPage(t *testing.T, ts *testServer, l pagedList, query string) (int, listPage) {
	t.Helper()
	var body map[string]json.RawMessage
	path := l.path
	if query != "" {
		path += "?" + query
	}
	code := ts.do(t, l.role, "GET", path, "", nil, &body)
	if code != 200 {
		return code, listPage{}
	}
	var items []json.RawMessage
	if err := json.Unmarshal(body[l.field], &items); err != nil || items == nil {
		t.Fatalf("GET %s: %q is not a list: %s (%v)", path, l.field, body[l.field], err)
	}
	var p listPage
	for _, it := range items {
		p.ids = append(p.ids, l.id(it))
	}
	if raw, ok := body["next_after_id"]; ok {
		var n int64
		if err := json.Unmarshal(raw, &n); err != nil || n <= 0 {
			t.Fatalf("GET %s: next_after_id %s", path, raw)
		}
		p.next = &n
	}
	return code, p
}

// TestPaging checks the one paging contract of every list: after_id and
// limit (with a default and a maximum), items in id order, and
// next_after_id present exactly when more may follow, on empty, partial
// and full pages; following the cursor visits every item once.
func TestPaging(t *testing.T) {
	for _, l := range pagedLists() {
		t.Run(l.name, func(t *testing.T) {
			ts := mustOpenServer(t)
			l.fill(t, ts, 5)
			_, all := getPage(t, ts, l, "limit=100")
			if len(all.ids) < 5 || all.next != nil || !slices.IsSorted(all.ids) || slices.Contains(all.ids, -1) {
				t.Fatalf("whole list: ids %v, next %v", all.ids, all.next)
			}
			last := all.ids[len(all.ids)-1]

			// Empty pages, with and without a limit.
			for _, q := range []string{fmt.Sprintf("after_id=%d", last), fmt.Sprintf("after_id=%d&limit=3", last), "after_id=9000000000"} {
				code, p := getPage(t, ts, l, q)
				if code != 200 || len(p.ids) != 0 || p.next != nil {
					t.Errorf("%s: %d, ids %v, next %v; want an empty last page", q, code, p.ids, p.next)
				}
			}
			// A partial page is the last.
			code, p := getPage(t, ts, l, fmt.Sprintf("after_id=%d&limit=5", all.ids[len(all.ids)-3]))
			if code != 200 || !slices.Equal(p.ids, all.ids[len(all.ids)-2:]) || p.next != nil {
				t.Errorf("partial page: %d, ids %v, next %v", code, p.ids, p.next)
			}
			// Full pages carry the cursor; following it visits every
			// item once, in order.
			var seen []int64
			query := "limit=2"
			for range len(all.ids) + 1 {
				code, p := getPage(t, ts, l, query)
				if code != 200 || len(p.ids) > 2 {
					t.Fatalf("%s: %d, ids %v", query, code, p.ids)
				}
				seen = append(seen, p.ids...)
				if p.next == nil {
					break
				}
				if len(p.ids) != 2 || *p.next != p.ids[1] {
					t.Fatalf("%s: ids %v, next %d", query, p.ids, *p.next)
				}
				query = fmt.Sprintf("limit=2&after_id=%d", *p.next)
			}
			if !slices.Equal(seen, all.ids) {
				t.Errorf("following the cursor saw %v, want %v", seen, all.ids)
			}
			// Limits out of range are refused, not lowered.
			for _, q := range []string{"limit=0", "limit=-1", "limit=1000000", "limit=x", "after_id=-1"} {
				if code, _ := getPage(t, ts, l, q); code != 400 {
					t.Errorf("%s: %d, want 400", q, code)
				}
			}
		})
	}
}

// TestPagingDefaultLimit checks that a list asked for without a limit
// answers a page of the default size with the cursor to the rest, rather
// than a silently cut list.
func TestPagingDefaultLimit(t *testing.T) {
	ts := mustOpenServer(t)
	cases := listNamed(t, "cases")
	cases.fill(t, ts, 51)
	code, p := getPage(t, ts, cases, "")
	if code != 200 || len(p.ids) != 50 || p.next == nil || *p.next != p.ids[49] {
		t.Fatalf("no limit: %d, %d cases, next %v", code, len(p.ids), p.next)
	}
	code, p = getPage(t, ts, cases, fmt.Sprintf("after_id=%d", *p.next))
	if code != 200 || len(p.ids) != 1 || p.next != nil {
		t.Fatalf("second page: %d, %v, next %v", code, p.ids, p.next)
	}
}

// TestUIQuarantinePages checks that the review UI's quarantine page lists
// a page of entries and links to the next rather than loading them all.
func TestUIQuarantinePages(t *testing.T) {
	ts := mustOpenServer(t)
	listNamed(t, "quarantine").fill(t, ts, 101)
	c := newUIClient(t, ts)
	c.login(t, ts.keys[vigil.RoleCurator])
	rows := regexp.MustCompile(`<tr>\s*<th scope="row"><a href="/ui/entries/(\d+)">`)
	code, _, page := c.get(t, "/ui/quarantine")
	m := regexp.MustCompile(`href="/ui/quarantine\?after_id=(\d+)" rel="next"`).FindStringSubmatch(page)
	if code != 200 || len(rows.FindAllString(page, -1)) != 100 || m == nil {
		t.Fatalf("first page: %d, %d rows, next %v", code, len(rows.FindAllString(page, -1)), m)
	}
	code, _, page = c.get(t, "/ui/quarantine?after_id="+m[1])
	if code != 200 || len(rows.FindAllString(page, -1)) != 1 || strings.Contains(page, `rel="next"`) {
		t.Fatalf("second page: %d, %d rows", code, len(rows.FindAllString(page, -1)))
	}
}
