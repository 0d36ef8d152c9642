package hamming

import (
	"math/bits"
)

// idColumn holds a segment's ids, ascending and unique, in far less than the
// 8 bytes an id of a plain []uint64: 7.9 of the 80 bytes an entry cost at 10M
// entries. It is read only for the rows a search reports and by writers
// looking an id up, never on a probe's path.
//
// Rows are cut into blocks of idBlock. A block keeps its first id and, for
// its k-th row, ids[k] - first - k in a fixed number of bits chosen per
// block: ids strictly increase, so that is never negative, and it is zero
// throughout for consecutive ids, which then take no bits at all. The ids a
// store hands out (bank in the high bits, entry serial in the low, see
// matcher) are consecutive or nearly so within a bank, so a block costs its
// 16-byte head and a few bits a row; arbitrary ids cost at most 64 bits a
// row plus the head, as before.
type idColumn struct {
	n     int
	heads []idHead
	// packed holds every block's offsets, bit after bit, plus one spare word
	// so that a read may always load two words.
	packed []uint64
}

// idHead is one block's first id, and where its offsets start in packed
// (bit position << 8) with their width in bits (low 8 bits, 0 to 64).
type idHead struct {
	first uint64
	pos   uint64
}

// idBlock is the rows per block: the head's 16 bytes cost an eighth of a
// byte a row, and finding an id searches at most 7 rows after the heads.
const idBlock = 128

func newIDColumn(ids []uint64) idColumn {
	c := idColumn{n: len(ids), heads: make([]idHead, (len(ids)+idBlock-1)/idBlock)}
	total := 0
	widths := make([]uint8, len(c.heads))
	for b := range c.heads {
		blk := ids[b*idBlock : min((b+1)*idBlock, len(ids))]
		var most uint64
		for k, id := range blk {
			most = max(most, id-blk[0]-uint64(k))
		}
		widths[b] = uint8(bits.Len64(most))
		total += len(blk) * int(widths[b])
	}
	c.packed = make([]uint64, (total+63)/64+1)
	pos := 0
	for b := range c.heads {
		blk := ids[b*idBlock : min((b+1)*idBlock, len(ids))]
		w := int(widths[b])
		c.heads[b] = idHead{first: blk[0], pos: uint64(pos)<<8 | uint64(w)}
		if w == 0 {
			continue
		}
		for k, id := range blk {
			c.put(pos, w, id-blk[0]-uint64(k))
			pos += w
		}
	}
	return c
}

func (c *idColumn) put(pos, w int, v uint64) {
	word, off := pos>>6, uint(pos&63)
	c.packed[word] |= v << off
	if int(off)+w > 64 {
		c.packed[word+1] |= v >> (64 - off)
	}
}

// len returns the number of rows.
func (c *idColumn) len() int { return c.n }

// at returns the id of row.
func (c *idColumn) at(row uint32) uint64 {
	h := c.heads[row/idBlock]
	k := uint64(row % idBlock)
	w := uint(h.pos & 0xff)
	if w == 0 {
		return h.first + k
	}
	pos := h.pos>>8 + k*uint64(w)
	word, off := pos>>6, uint(pos&63)
	v := c.packed[word] >> off
	if off+w > 64 {
		v |= c.packed[word+1] << (64 - off)
	}
	if w < 64 {
		v &= 1<<w - 1
	}
	return h.first + k + v
}

// find returns the row holding id.
func (c *idColumn) find(id uint64) (uint32, bool) {
	// The last block whose first id is at most id.
	lo, hi := 0, len(c.heads)
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		if c.heads[mid].first <= id {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	if lo == 0 {
		return 0, false
	}
	b := lo - 1
	rlo, rhi := b*idBlock, min((b+1)*idBlock, c.n)
	for rlo < rhi {
		mid := int(uint(rlo+rhi) >> 1)
		if c.at(uint32(mid)) < id {
			rlo = mid + 1
		} else {
			rhi = mid
		}
	}
	if rlo < min((b+1)*idBlock, c.n) && c.at(uint32(rlo)) == id {
		return uint32(rlo), true
	}
	return 0, false
}

func (c *idColumn) bytes() int64 {
	return int64(cap(c.heads))*16 + int64(cap(c.packed))*8
}
