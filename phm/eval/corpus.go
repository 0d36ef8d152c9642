package eval

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/hamming"
	"github.com/vigil-oss/vigil/hashing"
	"github.com/vigil-oss/vigil/pdq"
	"github.com/vigil-oss/vigil/phm"
	"github.com/vigil-oss/vigil/phm/client"
	"github.com/vigil-oss/vigil/phm/list"
	"github.com/vigil-oss/vigil/phm/table"
)

// Picture is one benign image file of an eval corpus.
type Picture struct {
	Name string
	Data []byte
}

// Bounds on a corpus read from a directory.
const (
	MaxCorpusFiles     = 100_000
	MaxCorpusFileBytes = 32 << 20
)

// ReadPictures reads the picture files under dir (recursively: JPEG, PNG,
// WebP, GIF, BMP and TIFF, what Vigil's hashing decodes), at most
// MaxCorpusFiles, skipping files over MaxCorpusFileBytes.
func ReadPictures(dir string) ([]Picture, error) {
	var out []Picture
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		switch strings.ToLower(filepath.Ext(path)) {
		case ".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff":
		default:
			return nil
		}
		if len(out) >= MaxCorpusFiles {
			return fs.SkipAll
		}
		if info, err := d.Info(); err != nil || info.Size() > MaxCorpusFileBytes {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		out = append(out, Picture{Name: path, Data: b})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read pictures: %w", err)
	}
	return out, nil
}

// GeneratePictures makes n benign pictures in code: gradients, rectangles
// and smooth waves on 96×96 or 160×120 canvases, flat and structured like
// clip art (the hard case for false matches), deterministic in seed.
func GeneratePictures(n int, seed uint64) []Picture {
	rng := Seed(seed)
	out := make([]Picture, 0, n)
	for i := range n {
		w, h := 96, 96
		if i%3 == 2 {
			w, h = 160, 120
		}
		m := image.NewRGBA(image.Rect(0, 0, w, h))
		c0 := color.RGBA{uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256)), 255}
		fx, fy := 1+rng.Float64()*6, 1+rng.Float64()*6
		wave := i%2 == 1
		for y := range h {
			for x := range w {
				v := uint8(x * i % 97)
				if wave {
					v = uint8(64 * (1 + math.Sin(fx*float64(x)/float64(w)*math.Pi)*math.Cos(fy*float64(y)/float64(h)*math.Pi)))
				}
				m.Set(x, y, color.RGBA{c0.R + v, c0.G + uint8(y), c0.B, 255})
			}
		}
		for range 1 + rng.IntN(6) {
			x0, y0 := rng.IntN(w-16), rng.IntN(h-16)
			rw, rh := 4+rng.IntN(w/2), 4+rng.IntN(h/2)
			c := color.RGBA{uint8(rng.IntN(256)), uint8(rng.IntN(256)), uint8(rng.IntN(256)), 255}
			for y := y0; y < min(h, y0+rh); y++ {
				for x := x0; x < min(w, x0+rw); x++ {
					m.Set(x, y, c)
				}
			}
		}
		var b bytes.Buffer
		if err := png.Encode(&b, m); err != nil {
			panic(err) // encoding an RGBA into memory does not fail
		}
		out = append(out, Picture{Name: "generated-" + strconv.Itoa(i), Data: b.Bytes()})
	}
	return out
}

// CorpusImage is one benign picture's keys: the one key a list would hold
// for it (PDQ when its quality allows, else SHA-256: the one-open rule)
// and every key a client sends for it (phm/client.Keys: digests, PDQ in
// eight orientations and the reliability probes).
type CorpusImage struct {
	Name   string
	Listed phm.Key
	Query  []phm.Key
	PDQ    []pdq.Hash // the eight orientations, when quality ≥ 50
}

// KeysOf computes a picture's keys; false if it does not decode.
func KeysOf(h *hashing.Hasher, p Picture) (CorpusImage, bool) {
	res, err := h.HashImageBytes(p.Data)
	if err != nil {
		return CorpusImage{}, false
	}
	query, err := client.Keys(p.Data)
	if err != nil {
		return CorpusImage{}, false
	}
	s := sha256.Sum256(p.Data)
	ks, _ := phm.NewKey(phm.FamilySHA256, s[:])
	img := CorpusImage{Name: p.Name, Listed: ks, Query: query}
	if res.Quality >= vigil.DefaultMinQuality {
		img.Listed, _ = phm.NewKey(phm.FamilyPDQ, res.PDQ[:])
		img.PDQ = slices.Clone(res.Dihedral[:])
	}
	return img, true
}

// KeysOfAll computes the keys of every picture that decodes, in the
// pictures' order, on every core.
func KeysOfAll(pics []Picture) []CorpusImage {
	imgs := make([]CorpusImage, len(pics))
	ok := make([]bool, len(pics))
	next := make(chan int)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			h := hashing.NewHasher(hashing.Options{Dihedral: true})
			for i := range next {
				imgs[i], ok[i] = KeysOf(h, pics[i])
			}
		})
	}
	for i := range pics {
		next <- i
	}
	close(next)
	wg.Wait()
	var out []CorpusImage
	for i, img := range imgs {
		if ok[i] {
			out = append(out, img)
		}
	}
	return out
}

// ContentGroups unites images whose PDQ hashes, in any orientation, are
// within vigil.DefaultPDQThreshold, or whose SHA-256 is the same: the
// test images include rotations, re-encodings and edits of one picture,
// and a query of the same content as a listed one is a true match.
//
// An image i is united with an earlier image j when one of i's eight
// orientations is within the threshold of j's original hash. The pairs
// come from an exact radius search (package hamming) over the original
// hashes, so the cost grows with the near pairs, not with every pair.
func ContentGroups(imgs []CorpusImage) ([][]CorpusImage, error) {
	roots, err := contentRoots(imgs)
	if err != nil {
		return nil, err
	}
	return groupsOf(imgs, roots), nil
}

// contentRoots returns each image's union-find root under ContentGroups'
// rule.
func contentRoots(imgs []CorpusImage) ([]int, error) {
	u := newUnionFind(len(imgs))
	bySHA := make(map[string]int, len(imgs))
	var ids []uint64
	var hs [][32]byte
	for i, img := range imgs {
		if len(img.Query) > 0 {
			if j, ok := bySHA[string(img.Query[0])]; ok {
				u.union(i, j)
			} else {
				bySHA[string(img.Query[0])] = i
			}
		}
		if len(img.PDQ) > 0 {
			ids = append(ids, uint64(i))
			hs = append(hs, img.PDQ[0])
		}
	}
	if len(ids) == 0 {
		return u.roots(), nil
	}
	x, err := hamming.Build(ids, hs, hamming.Options{})
	if err != nil {
		return nil, fmt.Errorf("content groups: %w", err)
	}
	// Searches run on every core; the unions after, in image order, so
	// the groups do not depend on scheduling.
	near := make([][]int, len(imgs))
	next := make(chan int, 256)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			var res []hamming.Result
			for i := range next {
				for _, a := range imgs[i].PDQ {
					res = x.Search(a, vigil.DefaultPDQThreshold, res[:0])
					for _, r := range res {
						if j := int(r.ID); j < i {
							near[i] = append(near[i], j)
						}
					}
				}
			}
		})
	}
	for _, id := range ids {
		next <- int(id)
	}
	close(next)
	wg.Wait()
	for i, js := range near {
		for _, j := range js {
			u.union(i, j)
		}
	}
	return u.roots(), nil
}

// groupsOf collects imgs by root, groups in the order of their first
// image.
func groupsOf(imgs []CorpusImage, roots []int) [][]CorpusImage {
	byRoot := map[int]int{}
	var out [][]CorpusImage
	for i, img := range imgs {
		g, ok := byRoot[roots[i]]
		if !ok {
			g = len(out)
			byRoot[roots[i]] = g
			out = append(out, nil)
		}
		out[g] = append(out[g], img)
	}
	return out
}

type unionFind []int

func newUnionFind(n int) unionFind {
	u := make(unionFind, n)
	for i := range u {
		u[i] = i
	}
	return u
}

func (u unionFind) find(i int) int {
	for u[i] != i {
		u[i] = u[u[i]]
		i = u[i]
	}
	return i
}

func (u unionFind) union(i, j int) { u[u.find(i)] = u.find(j) }

func (u unionFind) roots() []int {
	out := make([]int, len(u))
	for i := range u {
		out[i] = u.find(i)
	}
	return out
}

// FalseMatchReport is the outcome of FalseMatchExperiment.
type FalseMatchReport struct {
	Images   int `json:"images"`
	Contents int `json:"contents"`
	// TableEntries is the table's list size after padding, Slots its size.
	TableEntries int `json:"table_entries"`
	Slots        int `json:"table_slots"`
	// Clustered counts listed-half PDQ keys the one-open rule left out
	// (within list.ClusterRadius of another listed one).
	Clustered int `json:"clustered"`
	// Listed is the listed half whose key is in the list: every one must
	// open (a check of the harness), each at most one element.
	Listed FalseMatchResult `json:"listed"`
	// Queries is the other half: every open is a false match.
	Queries FalseMatchResult `json:"queries"`
	// Path says how the opens were decided: "table" (every key through
	// the real blinded table, Listed) or "plaintext" (membership of the
	// key in the list, checked against the real table on TableCheck's
	// sample).
	Path       string     `json:"path"`
	TableCheck TableCheck `json:"table_check"`
	// Query keys, listed keys and pads, for the account simulation.
	QueryKeys [][]phm.Key     `json:"-"`
	ListedSet map[string]bool `json:"-"`
}

// TableCheck compares the plaintext path with the real table on a sample
// of images from both halves: every key of each sampled image is opened
// both ways. Disagree must be 0; anything else is a hash-to-group
// collision or a harness bug, and is reported, not hidden.
type TableCheck struct {
	Images   int `json:"images"`
	Keys     int `json:"keys"`
	Opened   int `json:"opened"`
	Disagree int `json:"disagree"`
}

// FalseMatchOptions configures FalseMatchExperimentWith.
type FalseMatchOptions struct {
	// N is the table's size after padding.
	N    int
	Seed uint64
	// TableSample: below 0, every key of every image is opened through
	// the real table (Path "table"). Otherwise membership in the list
	// decides (Path "plaintext"), and TableSample images of each half
	// are also opened through the real table and compared.
	TableSample int
	// Listed is the number of contents listed, drawn at random; 0 lists
	// half of them. A small listed part leaves more queries: the table is
	// padded to N either way.
	Listed int
}

// FalseMatchExperiment lists a random half of imgs by content, pads the
// list with random balanced PDQ keys to n, builds a real blinded table,
// and opens every image's client keys against it.
func FalseMatchExperiment(imgs []CorpusImage, n int, seed uint64) (*FalseMatchReport, error) {
	return FalseMatchExperimentWith(imgs, FalseMatchOptions{N: n, Seed: seed, TableSample: -1})
}

// FalseMatchExperimentWith is FalseMatchExperiment with the open path
// chosen by opts.
func FalseMatchExperimentWith(imgs []CorpusImage, opts FalseMatchOptions) (*FalseMatchReport, error) {
	n, seed := opts.N, opts.Seed
	groups, err := ContentGroups(imgs)
	if err != nil {
		return nil, err
	}
	rep := &FalseMatchReport{Images: len(imgs), Contents: len(groups)}
	rng := Seed(seed)
	rng.Shuffle(len(groups), func(i, j int) { groups[i], groups[j] = groups[j], groups[i] })
	var listedImgs, queryImgs []CorpusImage
	var listedContent, queryContent []int
	for i, g := range groups {
		if (opts.Listed <= 0 && i%2 == 0) || (opts.Listed > 0 && i < opts.Listed) {
			listedImgs = append(listedImgs, g...)
			for range g {
				listedContent = append(listedContent, i)
			}
		} else {
			queryImgs = append(queryImgs, g...)
			for range g {
				queryContent = append(queryContent, i)
			}
		}
	}
	// The list's own one-open rule: listed PDQ within list.ClusterRadius
	// of an earlier one are left out (phm/list does this when it builds
	// the real list from banks).
	var pdqKeys []phm.Key
	keys := map[string]phm.Key{}
	for _, img := range listedImgs {
		if img.Listed.Family() == phm.FamilyPDQ {
			if _, dup := keys[string(img.Listed)]; !dup {
				pdqKeys = append(pdqKeys, img.Listed)
			}
		}
		keys[string(img.Listed)] = img.Listed
	}
	slices.SortFunc(pdqKeys, func(a, b phm.Key) int { return bytes.Compare(a, b) })
	hs := make([][32]byte, len(pdqKeys))
	for i, k := range pdqKeys {
		hs[i] = [32]byte(k[len(k)-32:])
	}
	keep, err := list.Representatives(hs)
	if err != nil {
		return nil, err
	}
	for i, k := range keep {
		if !k {
			delete(keys, string(pdqKeys[i]))
			rep.Clustered++
		}
	}
	var inList []CorpusImage
	var inListContent []int
	for i, img := range listedImgs {
		if _, ok := keys[string(img.Listed)]; ok {
			inList = append(inList, img)
			inListContent = append(inListContent, listedContent[i])
		}
	}
	listedImgs, listedContent = inList, inListContent
	for _, k := range PadKeys(max(0, n-len(keys)), rng) {
		keys[string(k)] = k
	}
	list := make([]phm.Key, 0, len(keys))
	set := make(map[string]bool, len(keys))
	for s, k := range keys {
		list = append(list, k)
		set[s] = true
	}
	// Map order is random; the table must not depend on it.
	slices.SortFunc(list, func(a, b phm.Key) int { return bytes.Compare(a, b) })
	alpha := phm.Group.HashToScalar([]byte("eval alpha"), []byte("vigil-phm-eval"))
	tbl, err := table.Build(alpha, list, [32]byte{7}, table.Options{Version: 1})
	if err != nil {
		return nil, fmt.Errorf("build the eval table: %w", err)
	}
	rep.TableEntries, rep.Slots, rep.ListedSet = int(tbl.Len()), int(tbl.Slots()), set
	viaTable := func(k phm.Key) bool { return Listed(tbl, alpha, k) }
	open := viaTable
	rep.Path = "table"
	if opts.TableSample >= 0 {
		rep.Path = "plaintext"
		open = func(k phm.Key) bool { return set[string(k)] }
		for _, half := range [][]CorpusImage{listedImgs, queryImgs} {
			idx := rng.Perm(len(half))
			rep.TableCheck.add(half, idx[:min(len(idx), opts.TableSample)], set, viaTable)
		}
	}
	rep.Listed = countOpens(listedImgs, listedContent, open)
	rep.Queries = countOpens(queryImgs, queryContent, open)
	qq := make([][]phm.Key, len(queryImgs))
	for i, img := range queryImgs {
		qq[i] = img.Query
	}
	rep.QueryKeys = qq
	return rep, nil
}

// add opens every key of half[i], i in idx, both ways, on every core.
func (c *TableCheck) add(half []CorpusImage, idx []int, set map[string]bool, viaTable func(phm.Key) bool) {
	var mu sync.Mutex
	next := make(chan int, 64)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Go(func() {
			var local TableCheck
			for i := range next {
				local.Images++
				for _, k := range half[i].Query {
					got := viaTable(k)
					local.Keys++
					if got {
						local.Opened++
					}
					if got != set[string(k)] {
						local.Disagree++
					}
				}
			}
			mu.Lock()
			c.Images += local.Images
			c.Keys += local.Keys
			c.Opened += local.Opened
			c.Disagree += local.Disagree
			mu.Unlock()
		})
	}
	for _, i := range idx {
		next <- i
	}
	close(next)
	wg.Wait()
}

// DistinctLumas are up to n of pics of PDQ quality ≥ 50, one per
// content (no two within PDQ's 31 in any orientation), scaled with Fit:
// the pictures the attacks and the keyed-hash measurements run on.
func DistinctLumas(pics []Picture, n int) []*Luma {
	var lumas []*Luma
	var chosen []pdq.Hash
	h := pdq.NewHasher(pdq.Full)
	for _, p := range pics {
		if len(lumas) == n {
			break
		}
		img, _, err := image.Decode(bytes.NewReader(p.Data))
		if err != nil {
			continue
		}
		l := LumaOf(Fit(img))
		d, ok := h.HashDetail(l.Gray())
		if !ok || d.Quality < pdq.MinQuality {
			continue
		}
		// One picture per content, in any orientation: the corpus holds
		// edits of one picture (pdq/testdata: one photograph in all eight
		// orientations), and attacking five copies says nothing new; a
		// collision from one onto its mirror is a copy of the target.
		if slices.ContainsFunc(chosen, func(c pdq.Hash) bool { return phm.NearestDistance(d.Dihedral, c) <= pdq.MatchThreshold }) {
			continue
		}
		chosen = append(chosen, d.Dihedral[pdq.Original])
		lumas = append(lumas, l)
	}
	return lumas
}
