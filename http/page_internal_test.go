package http

import (
	"net/url"
	"slices"
	"testing"
)

// FuzzReadPage checks that any query either is refused or gives a page
// within the list's limits, and that cutting a whole list at that page
// gives items in id order after after_id, with a cursor only when more
// follow.
func FuzzReadPage(f *testing.F) {
	for _, q := range []string{"", "after_id=3&limit=2", "limit=0", "after_id=-1", "after_id=9223372036854775807", "limit=1001", "limit=1&limit=2", "after_id=%zz"} {
		f.Add(q)
	}
	all := []int64{9, 2, 7, 4, 1, 8, 3}
	sorted := slices.Sorted(slices.Values(all))
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		p, err := readPage(q, smallPages)
		if err != nil {
			return
		}
		if p.limit < 1 || p.limit > smallPages.max || p.afterID < 0 {
			t.Fatalf("%q: page %+v out of range", raw, p)
		}
		items, next := cutPage(p, all, func(id int64) int64 { return id })
		if len(items) > p.limit || !slices.IsSorted(items) || (len(items) > 0 && items[0] <= p.afterID) {
			t.Fatalf("%q: page %+v cut %v", raw, p, items)
		}
		rest := 0
		for _, id := range sorted {
			if id > p.afterID {
				rest++
			}
		}
		if (next != 0) != (rest > len(items)) || (next != 0 && next != items[len(items)-1]) {
			t.Fatalf("%q: page %+v cut %v, next %d, %d remain", raw, p, items, next, rest)
		}
		if got := nextAfter(p, items, func(id int64) int64 { return id }); (got != 0) != (len(items) == p.limit) {
			t.Fatalf("%q: nextAfter %d for %d items of %d", raw, got, len(items), p.limit)
		}
	})
}
