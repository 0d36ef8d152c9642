package hamming

import "unsafe"

// directory maps a substring value (a bucket) to its run of postings. The
// dense form, one uint32 start per bucket, costs 4 bytes a bucket: 134 MB,
// 13.4 bytes an entry, for the 12 substrings of 21 and 22 bits used at 10M,
// and 100 MB for the same layout at 1M, where most buckets are empty. The
// compact form groups buckets into blocks, each one uint32 base and a byte
// per bucket holding its start relative to the base. A block whose postings
// do not fit a byte (a heavy bucket of near-duplicates) keeps dense starts
// in a side table, flagged by the top bit of its base.
//
// Blocks tile cache lines exactly (64, 32 or 16 bytes: 60, 28 or 12
// buckets) and the table starts on a line, so a probe's base and byte are
// always one line: a probe is a random read, and the directory must cost
// one line per bucket as the dense table does, not two. (Blocks of 16
// buckets in 20 bytes, the layout before, straddled a line boundary on 16%
// of the buckets probed.) The sparsest loads take 60 buckets a line, 1.07
// bytes a bucket.
//
// start(2^b) is the number of postings, so bucket v's run is
// [start(v), start(v+1)).
type directory struct {
	per    uint32   // buckets per block; dense when blocks is nil
	stride uint32   // uint32 words per block: 1 + per/4
	magic  uint64   // v/per == v*magic>>magicShift for every v < 2^24
	dense  []uint32 // bucket starts, when not compact
	blocks []uint32 // per block: base (or wideBit|index into wide), then per bytes
	wide   []uint32 // dense starts of the wide blocks, per entries per block
}

const wideBit = 1 << 31

// magicShift makes the division by a block's bucket count a multiply: with
// magic = ceil(2^30/per) and per <= 64, v*magic/2^30 exceeds v/per by less
// than 2^-6 <= 1/per for every v < 2^24, so its floor is exact (Granlund
// and Montgomery). Substrings are at most 22 bits, so v < 2^23.
const magicShift = 30

// blockSizes are the buckets a block may hold: 64-, 32- and 16-byte blocks.
var blockSizes = [...]uint32{60, 28, 12}

// blockSize returns the buckets per block that stores dense in the fewest
// bytes, 0 for the dense form. A block's last start is the sum of its first
// per-1 buckets, which must fit a byte, else the block is wide and costs 4
// bytes a bucket more: uniform loads at 1M and 10M (1 to 2.4 postings a
// bucket) fit blocks of 60, 1.07 bytes a bucket, with no wide block, but a
// cluster of near-duplicates makes every block it touches wide, and there
// smaller blocks waste less. So each size is costed on the real load.
func blockSize(dense []uint32) uint32 {
	best, bestBytes := uint32(0), 4*len(dense)
	for _, per := range blockSizes {
		n := int(per)
		nblocks := (len(dense) + n - 1) / n
		bytes := nblocks * int(1+per/4) * 4
		for lo := 0; lo < len(dense) && bytes < bestBytes; lo += n {
			hi := min(lo+n, len(dense))
			if dense[hi-1]-dense[lo] > 255 {
				bytes += 4 * (hi - lo)
			}
		}
		if bytes < bestBytes {
			best, bestBytes = per, bytes
		}
	}
	return best
}

// newDirectory compresses dense bucket starts (len 2^b + 1, last = total).
func newDirectory(dense []uint32) directory {
	per := blockSize(dense)
	if per == 0 || len(dense) > 1<<24 {
		return directory{dense: dense}
	}
	stride := 1 + per/4
	d := directory{per: per, stride: stride, magic: (1<<magicShift + uint64(per) - 1) / uint64(per)}
	nblocks := (len(dense) + int(per) - 1) / int(per)
	// Sixteen words of slack let the table start on a 64-byte line.
	raw := make([]uint32, nblocks*int(stride)+16)
	skip := int((64 - uintptr(unsafe.Pointer(unsafe.SliceData(raw)))%64) % 64 / 4)
	d.blocks = raw[skip : skip+nblocks*int(stride)]
	for blk := range nblocks {
		lo := blk * int(per)
		hi := min(lo+int(per), len(dense))
		first := dense[lo]
		at := blk * int(stride)
		if int(dense[hi-1]-first) <= 255 {
			d.blocks[at] = first
			for v := lo; v < hi; v++ {
				k := v - lo
				d.blocks[at+1+k/4] |= (dense[v] - first) << (8 * (k % 4))
			}
			continue
		}
		d.blocks[at] = wideBit | uint32(len(d.wide))
		d.wide = append(d.wide, dense[lo:hi]...)
	}
	return d
}

// block returns the word index of bucket v's block and v's place in it.
func (d *directory) block(v uint32) (at, k uint32) {
	blk := uint32(uint64(v) * d.magic >> magicShift)
	return blk * d.stride, v - blk*d.per
}

// start returns the index of bucket v's first posting.
func (d *directory) start(v uint32) uint32 {
	if d.blocks == nil {
		return d.dense[v]
	}
	at, k := d.block(v)
	b := d.blocks[at]
	if b&wideBit == 0 {
		return b + (d.blocks[at+1+k/4]>>(8*(k%4)))&0xff
	}
	return d.wide[b&^wideBit+k]
}

// addr returns where start(v) reads first, for prefetching.
func (d *directory) addr(v uint32) unsafe.Pointer {
	if d.blocks == nil {
		return unsafe.Pointer(&d.dense[v])
	}
	at, _ := d.block(v)
	return unsafe.Pointer(&d.blocks[at])
}

// run returns bucket v's postings as [lo, hi). Both ends are read from one
// block, found once, unless v is its block's last bucket or the block is
// wide.
func (d *directory) run(v uint32) (lo, hi uint32) {
	if d.blocks == nil {
		return d.dense[v], d.dense[v+1]
	}
	at, k := d.block(v)
	b := d.blocks[at]
	if b&wideBit == 0 && k+1 < d.per {
		lo = b + (d.blocks[at+1+k/4]>>(8*(k%4)))&0xff
		hi = b + (d.blocks[at+1+(k+1)/4]>>(8*((k+1)%4)))&0xff
		return lo, hi
	}
	return d.start(v), d.start(v + 1)
}

func (d *directory) bytes() int64 {
	return int64(cap(d.dense))*4 + int64(cap(d.blocks))*4 + int64(cap(d.wide))*4
}
