package http

import (
	"context"
	"testing"

	"github.com/vigil-oss/vigil"
)

// slowKeys answers FindKeyBySecret with the key as it was (not revoked)
// when the test lets the first read go, and as revoked after.
type slowKeys struct {
	vigil.KeyService
	reading chan struct{} // closed when the first read has begun
	release chan struct{} // the first read returns when this is closed
	reads   int
}

func (k *slowKeys) FindKeyBySecret(ctx context.Context, secret string) (*vigil.Key, error) {
	k.reads++
	if k.reads == 1 {
		close(k.reading)
		<-k.release
		return &vigil.Key{ID: 7, Name: "m", Role: vigil.RoleMatcher}, nil
	}
	return nil, vigil.Errorf(vigil.EUNAUTHORIZED, "invalid API key")
}

// TestKeyCacheRevocationRace: a request that read its key from the store
// just before the key was revoked, and finished after the revocation had
// cleared the cache, must not put the key back: the next request with it
// is refused. (Before, it was cached and accepted for keyCacheTTL.)
func TestKeyCacheRevocationRace(t *testing.T) {
	keys := &slowKeys{reading: make(chan struct{}), release: make(chan struct{})}
	s := NewServer()
	s.Keys = keys
	done := make(chan error, 1)
	go func() {
		_, err := s.keyBySecret(context.Background(), "vk_secret")
		done <- err
	}()
	<-keys.reading
	s.keys.clear() // what the revocation does once it has committed
	close(keys.release)
	if err := <-done; err != nil {
		t.Fatalf("the request in flight: %v", err)
	}
	if k, err := s.keyBySecret(context.Background(), "vk_secret"); vigil.ErrorCode(err) != vigil.EUNAUTHORIZED {
		t.Fatalf("next request after the revocation: key %+v, err %v", k, err)
	}
	// Without a clear in between, a read is cached.
	s2 := NewServer()
	s2.Keys = &countingKeys{}
	for range 3 {
		if _, err := s2.keyBySecret(context.Background(), "vk_other"); err != nil {
			t.Fatal(err)
		}
	}
	if n := s2.Keys.(*countingKeys).n; n != 1 {
		t.Fatalf("%d store reads for three requests with one key", n)
	}
}

type countingKeys struct {
	vigil.KeyService
	n int
}

func (k *countingKeys) FindKeyBySecret(ctx context.Context, secret string) (*vigil.Key, error) {
	k.n++
	return &vigil.Key{ID: 8, Name: "c", Role: vigil.RoleMatcher}, nil
}
