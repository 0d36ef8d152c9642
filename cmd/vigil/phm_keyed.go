package main

import (
	"context"
	"fmt"
	"image"
	"maps"
	"slices"
	"strings"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/hamming"
	"github.com/vigil-oss/vigil/hashing"
	"github.com/vigil-oss/vigil/pdq"
	"github.com/vigil-oss/vigil/phm/second"
)

// defaultKeyDistance is how far, in PDQ bits, a picture may be from the
// entry it keys. The picture should be the one the entry was hashed from
// (distance 0) or a re-encode of it (a few bits). Attributing a keyed hash
// to the wrong entry is the costly error here: the service would then
// refuse true matches of that entry. PDQ's match threshold (31) also
// admits crops and edits whose keyed hash is not the listed picture's.
const defaultKeyDistance = 8

// keyedPicture is what key-entries found for one picture.
type keyedPicture struct {
	path string
	// verdict is "keyed", "unchanged", "replaced", "no entry",
	// "ambiguous", "low quality" or "error".
	verdict string
	entry   int64
	// distance is the PDQ distance to the nearest entry, -1 if none
	// is within pdq.MatchThreshold.
	distance int
	// others are the other entries within the distance, rivals the
	// other pictures of the run for the same entry (ambiguous).
	others []int64
	rivals []string
	hash   second.Hash
	err    error
}

// keyEntries stores, for each picture a hotline holds, its keyed second
// hash under the key in keyFile for the entry of bank it belongs to: the
// one PDQ entry within maxDist bits in some orientation. A picture within
// maxDist of no entry, of several, or claimed by another picture of the
// same run is not keyed.
func (c *PHMCommand) keyEntries(ctx context.Context, sf *storeFlags, keyFile, bankName string, maxDist int, pictures []string) error {
	key, err := readSecondKey(keyFile)
	if err != nil {
		return err
	}
	st, err := c.openStore(ctx, sf)
	if err != nil {
		return err
	}
	defer st.Close()
	bank, err := st.Banks.FindBankByName(ctx, bankName)
	if err != nil {
		return err
	}
	entries, err := bankPDQIndex(ctx, st.Entries, bank.ID)
	if err != nil {
		return err
	}
	h := pdq.NewHasher(pdq.Full)
	kh := second.NewHasher()
	out := make([]*keyedPicture, len(pictures))
	claimed := map[int64][]int{}
	for i, path := range pictures {
		out[i] = keyPicture(ctx, h, kh, key, entries, maxDist, path)
		if out[i].verdict == "keyed" {
			claimed[out[i].entry] = append(claimed[out[i].entry], i)
		}
	}
	// Two pictures of one run for one entry: which is the listed one is
	// not for this command to guess.
	for _, idx := range claimed {
		if len(idx) < 2 {
			continue
		}
		for _, i := range idx {
			out[i].verdict = "ambiguous"
			for _, j := range idx {
				if j != i {
					out[i].rivals = append(out[i].rivals, pictures[j])
				}
			}
		}
	}
	var hashes []vigil.PHMKeyedHash
	var ids []int64
	for _, p := range out {
		if p.verdict == "keyed" {
			hashes = append(hashes, vigil.PHMKeyedHash{EntryID: p.entry, Hash: p.hash})
			ids = append(ids, p.entry)
		}
	}
	stored := map[int64]vigil.PHMKeyedHash{}
	for n := 0; n < len(ids); n += vigil.MaxPHMKeyedHashes {
		end := min(n+vigil.MaxPHMKeyedHashes, len(ids))
		got, err := st.PHM.PHMKeyedHashes(ctx, key.ID(), ids[n:end])
		if err != nil {
			return err
		}
		for id, h := range got {
			stored[id] = h
		}
	}
	for n := 0; n < len(hashes); n += vigil.MaxPHMKeyedHashes {
		end := min(n+vigil.MaxPHMKeyedHashes, len(hashes))
		if _, err := st.PHM.PutPHMKeyedHashes(ctx, "cli:phm-key-entries", key.ID(), hashes[n:end]); err != nil {
			return err
		}
	}
	failed := false
	for _, p := range out {
		if p.verdict == "keyed" {
			if old, ok := stored[p.entry]; ok {
				p.verdict = "replaced"
				if old.Hash == p.hash {
					p.verdict = "unchanged"
				}
			}
		}
		switch p.verdict {
		case "keyed", "replaced", "unchanged":
			fmt.Fprintf(c.Stdout, "%s: %s: entry %d of bank %s, PDQ distance %d\n", p.path, p.verdict, p.entry, bank.Name, p.distance)
		case "no entry":
			failed = true
			nearest := fmt.Sprint(p.distance)
			if p.distance < 0 {
				nearest = fmt.Sprintf("over %d", pdq.MatchThreshold)
			}
			fmt.Fprintf(c.Stdout, "%s: no entry: none of bank %s within %d bits (nearest %s)\n", p.path, bank.Name, maxDist, nearest)
		case "ambiguous":
			failed = true
			fmt.Fprintf(c.Stdout, "%s: ambiguous: %s, not keyed\n", p.path, ambiguity(p))
		case "low quality":
			failed = true
			fmt.Fprintf(c.Stdout, "%s: low quality: PDQ quality under %d, not keyed\n", p.path, pdq.MinQuality)
		default:
			failed = true
			fmt.Fprintf(c.Stderr, "vigil: %s: %s\n", p.path, errorText(p.err))
		}
	}
	fmt.Fprintf(c.Stdout, "keyed hash key %s: %d of %d pictures keyed\n", key.ID(), len(hashes), len(pictures))
	if failed {
		return errSilent
	}
	return nil
}

// ambiguity says why a picture was not keyed: the other entries within
// the distance, or the other pictures claiming its entry.
func ambiguity(p *keyedPicture) string {
	if len(p.rivals) > 0 {
		return fmt.Sprintf("entry %d is also the entry of %s", p.entry, strings.Join(p.rivals, ", "))
	}
	es := make([]string, len(p.others))
	for i, o := range p.others {
		es[i] = fmt.Sprint(o)
	}
	return fmt.Sprintf("entries %d and %s are all within the distance", p.entry, strings.Join(es, ", "))
}

// bankPDQIndex reads a bank's active PDQ entries, page by page, into a
// radius index (ids are entry ids), so that each picture is a search, not
// a pass over the bank.
func bankPDQIndex(ctx context.Context, es vigil.EntryService, bankID int64) (*hamming.Index, error) {
	var ids []uint64
	var hashes [][32]byte
	t := vigil.SignalPDQ
	after := int64(0)
	for {
		page, err := es.FindEntries(ctx, vigil.EntryFilter{BankID: &bankID, SignalType: &t, AfterID: after, Limit: vigil.MaxEntryLimit})
		if err != nil {
			return nil, err
		}
		for _, e := range page {
			h, err := pdq.ParseHash(e.Value)
			if err != nil {
				return nil, fmt.Errorf("entry %d: %w", e.ID, err)
			}
			ids, hashes = append(ids, uint64(e.ID)), append(hashes, h)
		}
		if len(page) < vigil.MaxEntryLimit {
			return hamming.Build(ids, hashes, hamming.Options{})
		}
		after = page[len(page)-1].ID
	}
}

// keyPicture reads and hashes one picture (within hashing's default
// limits) and finds its entry.
func keyPicture(ctx context.Context, h *pdq.Hasher, kh *second.Hasher, key *second.Key, entries *hamming.Index, maxDist int, path string) *keyedPicture {
	p := &keyedPicture{path: path}
	img, release, err := readPicture(ctx, path)
	if err != nil {
		p.verdict, p.err = "error", err
		return p
	}
	defer release()
	dih, q := h.HashDihedral(img)
	if q < pdq.MinQuality {
		p.verdict = "low quality"
		return p
	}
	// Each entry's distance in the nearest orientation, for entries
	// within PDQ's threshold (maxDist is at most that).
	nearest := map[uint64]int{}
	var res []hamming.Result
	for _, v := range dih {
		res = entries.Search(v, pdq.MatchThreshold, res[:0])
		for _, r := range res {
			if d, ok := nearest[r.ID]; !ok || r.Distance < d {
				nearest[r.ID] = r.Distance
			}
		}
	}
	var within []int64
	var dists []int
	p.distance = -1
	for _, id := range slices.Sorted(maps.Keys(nearest)) {
		d := nearest[id]
		if p.distance < 0 || d < p.distance {
			p.distance = d
		}
		if d <= maxDist {
			within = append(within, int64(id))
			dists = append(dists, d)
		}
	}
	switch len(within) {
	case 0:
		p.verdict = "no entry"
		return p
	case 1:
	default:
		p.verdict = "ambiguous"
		i := slices.Index(dists, slices.Min(dists))
		p.entry = within[i]
		for j, e := range within {
			if j != i {
				p.others = append(p.others, e)
			}
		}
		return p
	}
	kh0, ok := kh.Hash(key, img)
	if !ok {
		p.verdict, p.err = "error", fmt.Errorf("picture too small for the keyed hash")
		return p
	}
	p.verdict, p.entry, p.distance, p.hash = "keyed", within[0], dists[0], kh0
	return p
}

// readPicture reads and decodes a picture file within hashing's default
// limits (bytes, pixels, formats), as an upload is.
func readPicture(ctx context.Context, path string) (image.Image, func(), error) {
	data, err := readLimited(path, hashing.DefaultLimits.MaxBytes)
	if err != nil {
		return nil, nil, err
	}
	img, _, release, err := hashing.DecodeImage(ctx, data, hashing.DefaultLimits)
	if err != nil {
		return nil, nil, err
	}
	return img, release, nil
}
