package http

import (
	"cmp"
	"net/http"
	"net/url"
	"slices"
	"sort"

	"github.com/vigil-oss/vigil"
)

// Every list the API serves follows one paging contract: items in id
// order; after_id (exclusive, default 0) and limit (1 to the list's
// maximum, its default when absent; anything else is a 400, not quietly
// lowered); and next_after_id, the after_id of the next page, present
// exactly when more may follow and absent on the last page. A client that
// follows next_after_id until it is absent sees every item once.
//
// A list read from the store a page at a time cannot know whether the
// item after a full page exists, so a full page carries the cursor and the
// next page may be empty; a list the store returns whole (banks, keys,
// rules, queues: tens of items) is cut here and knows exactly.

// pageSize is a list's default and largest page.
type pageSize struct{ def, max int }

// Page sizes. Cases carry their evidence and quarantined entries cost a
// lookup each, so their pages are smaller.
var (
	casePages       = pageSize{def: 50, max: 500}
	entryPages      = pageSize{def: vigil.DefaultEntryLimit, max: vigil.MaxEntryLimit}
	quarantinePages = pageSize{def: 100, max: 500}
	// smallPages are for lists the store returns whole.
	smallPages = pageSize{def: 100, max: 1000}
)

// page is a request for one page of a list.
type page struct {
	afterID int64
	limit   int // always set: 1 to the list's maximum
}

// readPage reads a list request's after_id and limit.
func readPage(q url.Values, size pageSize) (page, error) {
	after, err := queryAfterID(q)
	if err != nil {
		return page{}, err
	}
	limit, err := queryLimit(q, size.def, size.max)
	if err != nil {
		return page{}, err
	}
	return page{afterID: after, limit: limit}, nil
}

// nextAfter returns the next_after_id of items, a page the store answered
// for p: the last item's id when the page is full, else 0 (the last page).
func nextAfter[T any](p page, items []T, id func(T) int64) int64 {
	if len(items) == 0 || len(items) < p.limit {
		return 0
	}
	return id(items[len(items)-1])
}

// cutPage returns the page p of a whole list, in id order, with its
// next_after_id (0 on the last page).
func cutPage[T any](p page, all []T, id func(T) int64) ([]T, int64) {
	sorted := slices.Clone(all)
	slices.SortFunc(sorted, func(a, b T) int { return cmp.Compare(id(a), id(b)) })
	i := sort.Search(len(sorted), func(i int) bool { return id(sorted[i]) > p.afterID })
	rest := sorted[i:]
	if len(rest) <= p.limit {
		return rest, 0
	}
	items := rest[:p.limit]
	return items, id(items[len(items)-1])
}

// writePage answers with a page of a list: items (never null) under
// field, and next_after_id unless it is 0.
func writePage[T any](w http.ResponseWriter, field string, items []T, nextAfterID int64) {
	if items == nil {
		items = []T{}
	}
	body := map[string]any{field: items}
	if nextAfterID != 0 {
		body["next_after_id"] = nextAfterID
	}
	writeJSON(w, http.StatusOK, body)
}
