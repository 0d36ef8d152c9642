package server

import (
	"bytes"
	"context"
	"testing"

	"github.com/vigil-oss/vigil/internal/cputime"
	"github.com/vigil-oss/vigil/phm"
	"github.com/vigil-oss/vigil/phm/eval"
	"github.com/vigil-oss/vigil/phm/second"
)

// BenchmarkCheckKeyed measures Check on one revealed item that matches a
// listed picture (its re-encode), against a SQLite store with a PDQ bank:
// pdq is today's check (PDQ ≤ 31 and the re-encode, no key), keyed adds
// the keyed hash (one store read of the entry's keyed hash, the
// derivative's keyed hash in eight orientations), unkeyed is the keyed
// check of an entry that has no keyed hash (the store read alone). All run
// in the same process, on the same item and store.
func BenchmarkCheckKeyed(b *testing.B) {
	ctx := context.Background()
	dir := "../../pdq/testdata/reg-test-input/labelme-subset/"
	listed := attackPicture(b, dir+"q2821.jpg")
	key := testSecondKey(b)
	db, m, _ := keyedBank(b, key, []*eval.Luma{listed}, 0)
	pl := derivativePayload(b, reencoded(b, listed))
	run := func(s *Service) func(b *testing.B) {
		return func(b *testing.B) {
			cputime.PerOp(b, func() {
				got, err := s.Check(ctx, []*phm.Payload{pl})
				if err != nil || len(got) != 1 {
					b.Fatalf("confirmed %d: %v", len(got), err)
				}
			})
		}
	}
	store := openStoreOn(db)
	b.Run("pdq", run(&Service{Banks: m, Store: store}))
	b.Run("keyed", run(&Service{Banks: m, Store: store, Second: key}))
	// The entry has no keyed hash under this key: the store read alone.
	other, err := second.NewKey(bytes.Repeat([]byte{0x11}, second.KeySize))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("unkeyed", run(&Service{Banks: m, Store: store, Second: other}))
}
