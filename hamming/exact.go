package hamming

import (
	"fmt"
	"slices"
	"sync"
)

// ExactIndex maps cryptographic digests (MD5, SHA-1, SHA-256: one index per
// signal type) to the ids stored under them. Several ids may share a digest,
// as when two banks list the same file.
//
// It uses a read-write mutex rather than the snapshot scheme of Index: every
// operation is a single map access, so readers wait at most that long.
type ExactIndex struct {
	size int

	mu sync.RWMutex
	// one holds the common case, a digest with a single id, without a
	// per-entry slice allocation; many holds the rare shared digests.
	one  map[[32]byte]uint64
	many map[[32]byte][]uint64
}

// NewExactIndex returns an empty index for digests of size bytes (16 for
// MD5, 20 for SHA-1, 32 for SHA-256).
func NewExactIndex(size int) (*ExactIndex, error) {
	if size <= 0 || size > 32 {
		return nil, fmt.Errorf("hamming: exact index: digest size %d not in 1..32", size)
	}
	return &ExactIndex{
		size: size,
		one:  make(map[[32]byte]uint64),
		many: make(map[[32]byte][]uint64),
	}, nil
}

func (e *ExactIndex) key(digest []byte) ([32]byte, error) {
	var k [32]byte
	if len(digest) != e.size {
		return k, fmt.Errorf("hamming: exact index: digest of %d bytes, want %d", len(digest), e.size)
	}
	copy(k[:], digest)
	return k, nil
}

// Add records id under digest. Adding the same pair twice has no effect.
func (e *ExactIndex) Add(id uint64, digest []byte) error {
	k, err := e.key(digest)
	if err != nil {
		return err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if ids, ok := e.many[k]; ok {
		if !slices.Contains(ids, id) {
			e.many[k] = append(ids, id)
		}
		return nil
	}
	if old, ok := e.one[k]; ok {
		if old != id {
			delete(e.one, k)
			e.many[k] = []uint64{old, id}
		}
		return nil
	}
	e.one[k] = id
	return nil
}

// Remove deletes the pair (id, digest) and reports whether it was present.
// The caller passes the digest it added, which spares the index a reverse
// map from id to digest (doubling its memory).
func (e *ExactIndex) Remove(id uint64, digest []byte) (bool, error) {
	k, err := e.key(digest)
	if err != nil {
		return false, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if old, ok := e.one[k]; ok {
		if old != id {
			return false, nil
		}
		delete(e.one, k)
		return true, nil
	}
	ids, ok := e.many[k]
	if !ok {
		return false, nil
	}
	i := slices.Index(ids, id)
	if i < 0 {
		return false, nil
	}
	ids = slices.Delete(ids, i, i+1)
	if len(ids) == 1 {
		delete(e.many, k)
		e.one[k] = ids[0]
	} else {
		e.many[k] = ids
	}
	return true, nil
}

// Lookup appends the ids stored under digest to dst. A digest of the wrong
// size is an error rather than a miss, since it means the caller mixed
// signal types.
func (e *ExactIndex) Lookup(digest []byte, dst []uint64) ([]uint64, error) {
	k, err := e.key(digest)
	if err != nil {
		return dst, err
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	if id, ok := e.one[k]; ok {
		return append(dst, id), nil
	}
	return append(dst, e.many[k]...), nil
}

// Len returns the number of (id, digest) pairs.
func (e *ExactIndex) Len() int {
	e.mu.RLock()
	defer e.mu.RUnlock()
	n := len(e.one)
	for _, ids := range e.many {
		n += len(ids)
	}
	return n
}
