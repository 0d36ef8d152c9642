package vpdq

import (
	"encoding/binary"
	"math/bits"
	"strconv"

	"github.com/vigil-oss/vigil/pdq"
)

// Semantics selects which upstream implementation's comparison Compare
// reproduces. The two differ by up to about two percentage points.
type Semantics int

const (
	// PyTX is python-threatexchange's match_VPDQ_hash_brute, which HMA
	// uses: frames with exactly the same hash are kept once (the first),
	// then frames under the quality threshold are dropped, and two
	// frames match at distance ≤ Distance.
	PyTX Semantics = iota
	// CPP is the C++ reference's match-hashes-brute: no dedupe, the same
	// quality filter, and two frames match at distance < Distance.
	CPP
)

// String returns "pytx" or "cpp".
func (s Semantics) String() string {
	switch s {
	case PyTX:
		return "pytx"
	case CPP:
		return "cpp"
	}
	return "Semantics(" + strconv.Itoa(int(s)) + ")"
}

// CompareOptions configures Compare. The zero value is
// python-threatexchange's configuration.
type CompareOptions struct {
	// Semantics is PyTX (default) or CPP.
	Semantics Semantics
	// Distance is the frame-match threshold (default pdq.MatchThreshold,
	// 31), inclusive for PyTX and exclusive for CPP, as upstream.
	Distance int
	// MinQuality drops frames of lower quality on both sides (default
	// pdq.MinQuality, 50); a negative value keeps every frame.
	MinQuality int
	// QueryPercent is the share of query frames that must match for
	// Match (default 80, python-threatexchange's); a negative value
	// means 0.
	QueryPercent float64
	// TargetPercent is the share of target frames that must match for
	// Match (default 0).
	TargetPercent float64
}

// Defaults for CompareOptions, python-threatexchange's.
const (
	DefaultQueryPercent  = 80.0
	DefaultTargetPercent = 0.0
)

func (o CompareOptions) withDefaults() CompareOptions {
	if o.Distance <= 0 {
		o.Distance = pdq.MatchThreshold
	}
	if o.MinQuality == 0 {
		o.MinQuality = pdq.MinQuality
	}
	if o.QueryPercent == 0 {
		o.QueryPercent = DefaultQueryPercent
	} else if o.QueryPercent < 0 {
		o.QueryPercent = 0
	}
	return o
}

// Comparison is the result of comparing a query video with a target.
type Comparison struct {
	// QueryPercent is the percentage of the query's frames (after the
	// quality filter, and dedupe for PyTX) that match some target frame;
	// TargetPercent is the same the other way round. Both are 0 when
	// either side has no frame left after filtering.
	QueryPercent, TargetPercent float64
	// Match reports QueryPercent ≥ CompareOptions.QueryPercent and
	// TargetPercent ≥ CompareOptions.TargetPercent, with at least one
	// frame on each side.
	Match bool
	// Ranges are the runs of matched query frames, in frame order, for a
	// reviewer to look at.
	Ranges []Range
}

// Range is a run of consecutive matched query frames. Frames under the
// quality threshold are ignored when forming runs (they neither break nor
// extend one): they cannot be compared, and fades and cuts would
// otherwise split every scene.
type Range struct {
	// FirstFrame and LastFrame are the frame numbers of the run's first
	// and last frames; Start and End are their timestamps in seconds.
	FirstFrame, LastFrame int
	Start, End            float64
	// Frames is the number of query frames in the run.
	Frames int
}

// Compare compares the query video's frames with the target's as upstream
// does: a bag of frame hashes, frame order ignored. It costs
// O(len(query)·len(target)) distance computations; for searching many
// videos use an index of frame hashes instead.
func Compare(query, target []Frame, opts CompareOptions) Comparison {
	o := opts.withDefaults()
	// Both upstream tests are "distance ≤ limit" for an integer limit.
	limit := o.Distance
	if o.Semantics == CPP {
		limit--
	}
	q, t := query, target
	if o.Semantics == PyTX {
		q, t = dedupe(q), dedupe(t)
	}
	q, t = o.filter(q), o.filter(t)
	var c Comparison
	if len(q) == 0 || len(t) == 0 {
		return c
	}

	qw, tw := hashWords(q), hashWords(t)
	// matched caches, per distinct query hash, whether it matches a
	// target frame: both the percentage and the ranges need it.
	matched := make(map[pdq.Hash]bool, len(q))
	queryMatches := func(h pdq.Hash) bool {
		m, ok := matched[h]
		if !ok {
			m = anyWithin(words(h), tw, limit)
			matched[h] = m
		}
		return m
	}
	nq := 0
	for _, f := range q {
		if queryMatches(f.Hash) {
			nq++
		}
	}
	nt := 0
	for _, w := range tw {
		if anyWithin(w, qw, limit) {
			nt++
		}
	}
	// The same expression as both upstreams, so that the rounding of
	// the printed value agrees.
	c.QueryPercent = float64(nq) * 100 / float64(len(q))
	c.TargetPercent = float64(nt) * 100 / float64(len(t))
	c.Match = c.QueryPercent >= o.QueryPercent && c.TargetPercent >= o.TargetPercent

	// Ranges cover every query frame that passes the quality filter,
	// duplicates included, since a reviewer wants the whole stretch.
	var cur *Range
	for _, f := range query {
		if o.MinQuality >= 0 && f.Quality < o.MinQuality {
			continue
		}
		if !queryMatches(f.Hash) {
			cur = nil
			continue
		}
		if cur == nil {
			c.Ranges = append(c.Ranges, Range{FirstFrame: f.Number, Start: f.Timestamp})
			cur = &c.Ranges[len(c.Ranges)-1]
		}
		cur.LastFrame, cur.End = f.Number, f.Timestamp
		cur.Frames++
	}
	return c
}

// words is a hash as four 64-bit words, for a cheaper distance in the
// quadratic loop than pdq.Distance's byte form.
func words(h pdq.Hash) [4]uint64 {
	return [4]uint64{
		binary.LittleEndian.Uint64(h[0:]), binary.LittleEndian.Uint64(h[8:]),
		binary.LittleEndian.Uint64(h[16:]), binary.LittleEndian.Uint64(h[24:]),
	}
}

func hashWords(frames []Frame) [][4]uint64 {
	w := make([][4]uint64, len(frames))
	for i, f := range frames {
		w[i] = words(f.Hash)
	}
	return w
}

// anyWithin reports whether some hash in set is within limit bits of h.
func anyWithin(h [4]uint64, set [][4]uint64, limit int) bool {
	for _, s := range set {
		d := bits.OnesCount64(h[0]^s[0]) + bits.OnesCount64(h[1]^s[1]) +
			bits.OnesCount64(h[2]^s[2]) + bits.OnesCount64(h[3]^s[3])
		if d <= limit {
			return true
		}
	}
	return false
}

// dedupe keeps the first frame of each distinct hash, whatever its
// quality, as python-threatexchange does before filtering.
func dedupe(frames []Frame) []Frame {
	seen := make(map[pdq.Hash]struct{}, len(frames))
	out := make([]Frame, 0, len(frames))
	for _, f := range frames {
		if _, ok := seen[f.Hash]; !ok {
			seen[f.Hash] = struct{}{}
			out = append(out, f)
		}
	}
	return out
}

func (o CompareOptions) filter(frames []Frame) []Frame {
	if o.MinQuality < 0 {
		return frames
	}
	out := make([]Frame, 0, len(frames))
	for _, f := range frames {
		if f.Quality >= o.MinQuality {
			out = append(out, f)
		}
	}
	return out
}
