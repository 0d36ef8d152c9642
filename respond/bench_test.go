package respond_test

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/vigil-oss/vigil"
)

// BenchmarkMatchOpensCase measures acting on a match that opens a case.
// "unkeyed" (content known by signals only, so no case key) is the
// baseline: the path every case took before cases were keyed; "keyed" adds
// the look-up of the key in the same write transaction; "repeat" acts on
// one item again and again, which finds its case and stores nothing.
func BenchmarkMatchOpensCase(b *testing.B) {
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		ref  func(i int) vigil.ContentRef
	}{
		{"unkeyed", func(i int) vigil.ContentRef { return vigil.ContentRef{ContentID: "post-" + strconv.Itoa(i)} }},
		{"keyed", func(i int) vigil.ContentRef {
			return vigil.ContentRef{SHA256: strings.Repeat("ab", 32), ContentID: "post-" + strconv.Itoa(i)}
		}},
		{"repeat", func(int) vigil.ContentRef {
			return vigil.ContentRef{SHA256: strings.Repeat("ab", 32), ContentID: "post"}
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			f := newFixture(b, caseRule())
			f.svc.Media = nil
			results := f.results()
			i := 0
			for b.Loop() {
				if out := f.svc.Match(ctx, bc.ref(i), results, nil); len(out.Cases) != 1 {
					b.Fatalf("outcome %+v", out)
				}
				i++
			}
		})
	}
}
