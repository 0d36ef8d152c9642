package matcher

import (
	"context"
	"fmt"
	"sync"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/hamming"
	"github.com/vigil-oss/vigil/pdq"
	"github.com/vigil-oss/vigil/vpdq"
)

// Video entries put every frame hash into one Hamming index, with the
// entry in the id's high bits and the frame's position in the low ones, so
// that a query's frames find candidate videos in one search each; each
// candidate is then compared frame set to frame set as the reference does.
const frameBits = 20 // up to vigil.MaxVPDQFrames (20,000) frames per video

func packFrame(entryID int64, i int) uint64 { return uint64(entryID)<<frameBits | uint64(i) }
func frameEntry(id uint64) int64            { return int64(id >> frameBits) }

// videos holds the frames of every active video entry. A video's frames
// are never changed once stored, so readers hold the lock only to find one.
type videos struct {
	idx *hamming.Index
	mu  sync.RWMutex // guards m
	m   map[int64]*video
}

type video struct {
	bankID int64
	frames []vpdq.Frame
}

// parseVideo reads a canonical vpdq entry value.
func parseVideo(v string) ([]vpdq.Frame, error) {
	return vpdq.ParseValue(v)
}

// parseVideoEntry reads a video entry's frames, checking that the entry
// fits the index.
func parseVideoEntry(e *vigil.Entry) ([]vpdq.Frame, error) {
	if err := checkIDs(e); err != nil {
		return nil, err
	}
	return parseVideo(e.Value)
}

func (m *Matcher) loadVideos(ctx context.Context) (int64, error) {
	vs := &videos{idx: hamming.New(hamming.Options{}), m: map[int64]*video{}}
	var ids []uint64
	var hashes [][32]byte
	seq, err := m.forEachActive(ctx, vigil.SignalVPDQ, func(e *vigil.Entry) error {
		frames, err := parseVideoEntry(e)
		if err != nil {
			m.reject(e, err)
			return nil
		}
		vs.m[e.ID] = &video{bankID: e.BankID, frames: frames}
		for i, f := range frames {
			ids, hashes = append(ids, packFrame(e.ID, i)), append(hashes, f.Hash)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("load vpdq entries: %w", err)
	}
	if vs.idx, err = hamming.Build(ids, hashes, hamming.Options{}); err != nil {
		return 0, fmt.Errorf("build vpdq frame index: %w", err)
	}
	m.videos = vs
	return seq, nil
}

// applyVideo brings one changed video entry into the index.
func (m *Matcher) applyVideo(e *vigil.Entry) error {
	vs := m.videos
	if old := vs.get(e.ID); old != nil {
		vs.set(e.ID, nil)
		for i := range old.frames {
			vs.idx.Remove(packFrame(e.ID, i))
		}
	}
	if !e.Active() {
		return nil
	}
	frames, err := parseVideoEntry(e)
	if err != nil {
		return err
	}
	ids := make([]uint64, len(frames))
	hashes := make([][32]byte, len(frames))
	for i, f := range frames {
		ids[i], hashes[i] = packFrame(e.ID, i), f.Hash
	}
	if err := vs.idx.AddBatch(ids, hashes); err != nil {
		return fmt.Errorf("index video entry %d: %w", e.ID, err)
	}
	vs.set(e.ID, &video{bankID: e.BankID, frames: frames})
	return nil
}

// videoHits finds the stored videos that the query video matches under
// python-threatexchange's rule (deduped frames of quality ≥ 50, frame
// distance within the bank's threshold, at least 80% of the query's frames
// matched), and returns them with both percentages and the matched ranges.
func (m *Matcher) videoHits(s *state, sig vigil.Signal, hits []hit, includeDisabled bool) ([]hit, error) {
	query, err := parseVideo(sig.Value)
	if err != nil {
		return nil, err
	}
	vs := m.videos
	seen := map[pdq.Hash]bool{}
	candidates := map[int64]bool{}
	var buf []hamming.Result
	for _, f := range query {
		if f.Quality < pdq.MinQuality || seen[f.Hash] {
			continue
		}
		seen[f.Hash] = true
		buf = vs.idx.Search(f.Hash, s.vpdqRadius, buf[:0])
		for _, r := range buf {
			candidates[frameEntry(r.ID)] = true
		}
	}
	for entryID := range candidates {
		v := vs.get(entryID)
		if v == nil {
			continue
		}
		bank := s.banks[v.bankID]
		if bank == nil || !bank.Enabled && !includeDisabled {
			continue
		}
		c := vpdq.Compare(query, v.frames, vpdq.CompareOptions{Distance: bank.Threshold(vigil.SignalVPDQ)})
		if !c.Match {
			continue
		}
		vm := &vigil.VideoMatch{QueryPercent: c.QueryPercent, TargetPercent: c.TargetPercent}
		for _, r := range c.Ranges {
			vm.Ranges = append(vm.Ranges, vigil.FrameRange{FirstFrame: r.FirstFrame, LastFrame: r.LastFrame, Start: r.Start, End: r.End, Frames: r.Frames})
		}
		hits = append(hits, hit{id: packID(v.bankID, entryID), video: vm})
	}
	return hits, nil
}

func (vs *videos) get(id int64) *video {
	vs.mu.RLock()
	defer vs.mu.RUnlock()
	return vs.m[id]
}

// set stores v as entry id's video, or forgets the entry when v is nil.
func (vs *videos) set(id int64, v *video) {
	vs.mu.Lock()
	defer vs.mu.Unlock()
	if v == nil {
		delete(vs.m, id)
	} else {
		vs.m[id] = v
	}
}

func (vs *videos) len() int {
	vs.mu.RLock()
	defer vs.mu.RUnlock()
	return len(vs.m)
}
