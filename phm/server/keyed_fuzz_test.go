package server

import (
	"context"
	"testing"

	vigil "github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/phm"
	"github.com/vigil-oss/vigil/phm/client"
	"github.com/vigil-oss/vigil/phm/second"
	"github.com/vigil-oss/vigil/sqlite"
)

// keyedStore is a PHM store that holds one keyed hash, of entry 1, for the
// keyed check alone.
type keyedStore struct {
	vigil.PHMService
	keyID string
	hash  second.Hash
}

func (k *keyedStore) PHMKeyedHashes(_ context.Context, keyID string, ids []int64) (map[int64]vigil.PHMKeyedHash, error) {
	out := map[int64]vigil.PHMKeyedHash{}
	for _, id := range ids {
		if id == 1 && keyID == k.keyID {
			out[1] = vigil.PHMKeyedHash{EntryID: 1, Hash: k.hash}
		}
	}
	return out, nil
}

// echoBanks matches every derivative to entry 1 holding its own PDQ, so
// that whatever decodes reaches the keyed hash.
type echoBanks struct{}

func (echoBanks) Lookup(_ context.Context, signals []vigil.Signal, _ vigil.MatchOptions) ([]vigil.MatchResult, error) {
	out := make([]vigil.MatchResult, len(signals))
	for i, s := range signals {
		out[i].Signal = s
		out[i].Matches = []vigil.Match{{Bank: "known", EntryID: 1, SignalType: vigil.SignalPDQ, Value: s.Value}}
	}
	return out, nil
}

func (echoBanks) Status() vigil.IndexStatus { return vigil.IndexStatus{} }

// FuzzCheckKeyed: a derivative comes from a device; whatever its bytes,
// the second check with the keyed hash returns a verdict for each item
// that reaches it and never panics, and an item it confirms passed the
// keyed hash or matched no keyed entry.
func FuzzCheckKeyed(f *testing.F) {
	for _, seed := range []int{1, 2} {
		d, err := client.Derivative(picture(seed, 128))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(d)
	}
	f.Add([]byte{0xff, 0xd8, 0xff})
	key := testSecondKey(f)
	listed, _ := second.NewHasher().Hash(key, picture(1, 128))
	s := &Service{Banks: echoBanks{}, Store: &keyedStore{keyID: key.ID(), hash: listed}, Second: key}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > phm.MaxDerivative {
			return // a payload holds no more
		}
		pl := &phm.Payload{Derivative: b}
		got, v, err := s.check(context.Background(), []*phm.Payload{pl})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) == 1 && (v[pl] == nil || v[pl].verdict != KeyedPassed) {
			t.Fatalf("confirmed with keyed verdict %+v", v[pl])
		}
		if len(got) == 0 && v[pl] != nil && v[pl].verdict == KeyedPassed {
			t.Fatal("refused with keyed verdict passed")
		}
	})
}

// openStoreOn is the PHM store on db.
func openStoreOn(db *sqlite.DB) *sqlite.PHMService { return sqlite.NewPHMService(db) }
