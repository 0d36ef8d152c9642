package grooming

// wordTable is a read-only open-addressing hash table from folded words to
// values, built once with the lexicon. It replaces map[string] lookups in
// the tagger's per-token loop: its hash (FNV-1a) is computed byte by byte,
// so one pass over a word yields the hash of every prefix of it, and the
// lexicon's prefix entries of all lengths are probed without hashing the
// word again for each length.
type wordTable[V any] struct {
	mask   uint32
	hashes []uint32 // 0: empty slot; else the key's hash with the low bit set
	keys   []string
	vals   []V
}

const (
	fnvOffset = 2166136261
	fnvPrime  = 16777619
)

// fnvStep adds byte c to a running FNV-1a hash.
func fnvStep(h uint32, c byte) uint32 { return (h ^ uint32(c)) * fnvPrime }

func wordHash(w []byte) uint32 {
	h := uint32(fnvOffset)
	for _, c := range w {
		h = fnvStep(h, c)
	}
	return h
}

func newWordTable[V any](m map[string]V) wordTable[V] {
	size := uint32(8)
	for size < 2*uint32(len(m)) {
		size *= 2
	}
	t := wordTable[V]{mask: size - 1, hashes: make([]uint32, size), keys: make([]string, size), vals: make([]V, size)}
	for k, v := range m {
		h := wordHash([]byte(k)) | 1
		i := slot(h, t.mask)
		for t.hashes[i] != 0 {
			i = (i + 1) & t.mask
		}
		t.hashes[i], t.keys[i], t.vals[i] = h, k, v
	}
	return t
}

// slot mixes the high bits into the index: FNV's low bits alone cluster.
func slot(h, mask uint32) uint32 { return (h ^ h>>15) & mask }

// get looks w up given h = wordHash(w).
func (t *wordTable[V]) get(h uint32, w []byte) (V, bool) {
	if len(t.hashes) == 0 {
		var zero V
		return zero, false
	}
	h |= 1
	for i := slot(h, t.mask); ; i = (i + 1) & t.mask {
		switch t.hashes[i] {
		case 0:
			var zero V
			return zero, false
		case h:
			if t.keys[i] == string(w) {
				return t.vals[i], true
			}
		}
	}
}
