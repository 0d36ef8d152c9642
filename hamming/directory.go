package hamming

import "unsafe"

// directory maps a substring value (a bucket) to its run of postings. The
// dense form, one uint32 start per bucket, costs 4 bytes a bucket: 134 MB,
// 13.4 bytes an entry, for the 12 substrings of 21 and 22 bits used at 10M,
// and 100 MB for the same layout at 1M, where most buckets are empty. The
// compact form groups 16 buckets into a block with one uint32 base and
// stores each bucket's start as a byte relative to the base, 1.25 bytes a
// bucket. A block whose postings do not fit a byte (a heavy bucket of
// near-duplicates) keeps dense starts in a side table, flagged by the top
// bit of its base.
//
// start(2^b) is the number of postings, so bucket v's run is
// [start(v), start(v+1)).
type directory struct {
	shift  uint     // log2 of buckets per block; dense when blocks is nil
	dense  []uint32 // bucket starts, when not compact
	blocks []uint32 // per block: base (or wideBit|index into wide), then 2^shift bytes
	wide   []uint32 // dense starts of the wide blocks, 2^shift per block
}

const wideBit = 1 << 31

// blockShift is log2 of the buckets per block. A block is its base and one
// byte per bucket, 20 bytes, so that a probe's base and byte share a cache
// line: a probe is a random read, and the directory must cost one line per
// bucket as the dense table does, not two.
const blockShift = 4

// newDirectory compresses dense bucket starts (len 2^b + 1, last = total).
// A byte holds 255, so the compact form is used only where a block of 16
// buckets averages well under that (substrings of 20 bits and more at 10M);
// past it the dense table is kept.
func newDirectory(dense []uint32) directory {
	buckets := len(dense) - 1
	total := int(dense[buckets])
	if float64(total)/float64(buckets)*(1<<blockShift) > 128 {
		return directory{dense: dense}
	}
	const size = 1 << blockShift
	const stride = 1 + size/4
	nblocks := (len(dense) + size - 1) / size
	d := directory{shift: blockShift, blocks: make([]uint32, nblocks*stride)}
	for blk := range nblocks {
		lo := blk * size
		hi := min(lo+size, len(dense))
		first := dense[lo]
		at := blk * stride
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

// start returns the index of bucket v's first posting.
func (d *directory) start(v uint32) uint32 {
	if d.blocks == nil {
		return d.dense[v]
	}
	const stride = 1 + (1<<blockShift)/4
	at := (v >> blockShift) * stride
	k := v & (1<<blockShift - 1)
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
	const stride = 1 + (1<<blockShift)/4
	return unsafe.Pointer(&d.blocks[(v>>blockShift)*stride])
}

// run returns bucket v's postings as [lo, hi).
func (d *directory) run(v uint32) (lo, hi uint32) {
	return d.start(v), d.start(v + 1)
}

func (d *directory) bytes() int64 {
	return int64(cap(d.dense))*4 + int64(cap(d.blocks))*4 + int64(cap(d.wide))*4
}
