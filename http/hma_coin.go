package http

import (
	"crypto/rand"
	"crypto/sha512"
	"encoding/binary"
	"math/big"
	"slices"
)

// HMA's /m/lookup samples banks by a coin flip: the first number of
// Python's random.Random(seed), seed being the request's ?seed= string (or
// system entropy without one); a bank takes part when its
// matching_enabled_ratio is at least the flip. So that an HMA client that
// sends a seed gets the same banks here as from HMA, hmaCoinFlip computes
// that same number: CPython's string seeding (version 2: the UTF-8 bytes
// followed by their SHA-512, read as one big-endian integer), its
// init_by_array key (that integer's 32-bit words, least significant
// first), the MT19937 generator, and random()'s 53-bit double.

// hmaCoinFlip returns HMA's coin flip for a request: in [0, 1).
func hmaCoinFlip(seed string, seeded bool) float64 {
	if !seeded {
		var b [8]byte
		rand.Read(b[:])
		return float64(binary.LittleEndian.Uint64(b[:])>>11) / (1 << 53)
	}
	var mt mt19937
	mt.seedBytes([]byte(seed))
	return mt.random()
}

// mt19937 is the Mersenne Twister as CPython's _randommodule.c has it.
type mt19937 struct {
	state [624]uint32
	index int
}

func (m *mt19937) initGenrand(s uint32) {
	m.state[0] = s
	for i := 1; i < 624; i++ {
		m.state[i] = 1812433253*(m.state[i-1]^(m.state[i-1]>>30)) + uint32(i)
	}
	m.index = 624
}

func (m *mt19937) initByArray(key []uint32) {
	m.initGenrand(19650218)
	i, j := 1, 0
	k := max(624, len(key))
	for ; k > 0; k-- {
		m.state[i] = (m.state[i] ^ ((m.state[i-1] ^ (m.state[i-1] >> 30)) * 1664525)) + key[j] + uint32(j)
		i++
		j++
		if i >= 624 {
			m.state[0] = m.state[623]
			i = 1
		}
		if j >= len(key) {
			j = 0
		}
	}
	for k = 623; k > 0; k-- {
		m.state[i] = (m.state[i] ^ ((m.state[i-1] ^ (m.state[i-1] >> 30)) * 1566083941)) - uint32(i)
		i++
		if i >= 624 {
			m.state[0] = m.state[623]
			i = 1
		}
	}
	m.state[0] = 0x80000000
}

// seedBytes seeds as random.seed(s) does for a str or bytes s.
func (m *mt19937) seedBytes(s []byte) {
	sum := sha512.Sum512(s)
	n := new(big.Int).SetBytes(append(slices.Clip(s), sum[:]...))
	le := n.Bytes() // big-endian, without leading zero bytes
	slices.Reverse(le)
	words := max(1, (n.BitLen()+31)/32)
	key := make([]uint32, words)
	for i, b := range le {
		key[i/4] |= uint32(b) << (8 * (i % 4))
	}
	m.initByArray(key)
}

func (m *mt19937) uint32() uint32 {
	const upper, lower = 0x80000000, 0x7fffffff
	if m.index >= 624 {
		for k := 0; k < 624; k++ {
			y := m.state[k]&upper | m.state[(k+1)%624]&lower
			v := m.state[(k+397)%624] ^ y>>1
			if y&1 != 0 {
				v ^= 0x9908b0df
			}
			m.state[k] = v
		}
		m.index = 0
	}
	y := m.state[m.index]
	m.index++
	y ^= y >> 11
	y ^= y << 7 & 0x9d2c5680
	y ^= y << 15 & 0xefc60000
	y ^= y >> 18
	return y
}

// random is random.random(): 53 random bits as a float64 in [0, 1).
func (m *mt19937) random() float64 {
	a, b := m.uint32()>>5, m.uint32()>>6
	return (float64(a)*67108864 + float64(b)) / 9007199254740992
}
