// Package list selects, from Vigil's banks, the entries that go into the
// private hash matching table (../shared/docs/e2ee.md §5.2): only hashes
// vouched for independently by two organisations, only balanced PDQ of
// known-good quality, nothing a negative bank suppresses, and one key per
// piece of content (the one-open rule), so that at most one element of a
// real voucher can open.
package list

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/hex"
	"fmt"
	"math/bits"
	"slices"
	"strings"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/hamming"
	"github.com/vigil-oss/vigil/phm"
)

// ClusterRadius is the PDQ distance within which two listed hashes count
// as the same picture and only one is kept: a client's reliability probes
// reach up to 8 bits from its hash, so two entries closer than that could
// both open from one image.
const ClusterRadius = 8

// Org is the organisation behind an entry source, and where it is.
type Org struct {
	Name         string
	Jurisdiction string // "" when the provenance does not say
}

// Options tune Select.
type Options struct {
	// Orgs maps an entry's Source (vigil.Entry.Source) to its
	// organisation. A source not in the map is its own organisation, of
	// unknown jurisdiction. An entry without a source names no
	// organisation and vouches for nothing.
	Orgs map[string]Org
	// RequireJurisdiction counts only sources whose jurisdiction is known:
	// two vouchers must then be from different jurisdictions. Without it,
	// jurisdictions must differ only where both are known.
	RequireJurisdiction bool
	// MinQuality is the lowest PDQ quality listed (0: DefaultMinQuality).
	MinQuality int
	// RequireQuality drops PDQ entries whose quality is unknown. Banks
	// store a quality only where the list imported gave one, so by default
	// an unknown quality passes (and is counted in Stats).
	RequireQuality bool
	// Keyed, if set, reports whether an entry has a keyed second hash
	// (phm/second) under the review service's key: a candidate none of
	// whose positive entries has one is dropped ("no_keyed_hash"), before
	// near-duplicates are clustered, so a table never carries a key whose
	// matches the service's strict second check would refuse. Keyed
	// hashes are written for PDQ entries only (vigil phm key-entries), so
	// with Keyed exact digests are listed only where their entry has one.
	Keyed func(*vigil.Entry) bool
}

// Input is what Select reads.
type Input struct {
	// Banks are the positive banks to draw from and the negative banks
	// that suppress; disabled banks are ignored.
	Banks []*vigil.Bank
	// Entries are active entries of those banks (others are ignored).
	Entries []*vigil.Entry
	// Quality returns an entry's PDQ quality when the caller knows it
	// and the bank does not (Entry.Quality nil); nil: only the banks'.
	Quality func(*vigil.Entry) (int, bool)
}

// quality is an entry's PDQ quality: the one its bank stores, else the
// caller's.
func (in *Input) quality(e *vigil.Entry) (int, bool) {
	if e.Quality != nil {
		return *e.Quality, true
	}
	if in.Quality != nil {
		return in.Quality(e)
	}
	return 0, false
}

// Selected is one listed key and the organisations that vouched for it.
type Selected struct {
	Key        phm.Key
	SignalType vigil.SignalType
	Value      string
	Orgs       []string // sorted
}

// Result is the selection: the keys, per-organisation counts for the
// manifest, and why everything else was left out.
type Result struct {
	Selected []Selected // sorted by key
	Sources  []phm.SourceCount
	// Stats counts candidates per family ("candidates_pdq"), drops per
	// reason ("dropped_single_source", …) and listed keys ("listed_pdq").
	Stats map[string]int
}

// Keys returns the listed keys in order.
func (r *Result) Keys() []phm.Key {
	out := make([]phm.Key, len(r.Selected))
	for i, s := range r.Selected {
		out[i] = s.Key
	}
	return out
}

// vouch is one entry's word for a value.
type vouch struct {
	bank, org, jur string
}

// candidate is one distinct (type, value) from positive banks.
type candidate struct {
	t       vigil.SignalType
	value   string
	digest  []byte
	vouches []vouch
	items   []string // content items (source, source entry id) holding it
	quality int      // lowest known, -1 unknown
	keyed   bool     // some entry has a keyed hash (Options.Keyed)
	norgs   int      // distinct organisations among vouches
	dropped string
}

// families are the signal types PHM lists, with their key family.
var families = map[vigil.SignalType]phm.Family{
	vigil.SignalPDQ: phm.FamilyPDQ, vigil.SignalSHA256: phm.FamilySHA256, vigil.SignalMD5: phm.FamilyMD5,
}

// Select applies the list rules to in. It is deterministic: the same
// banks and entries, in any order, give the same result.
func Select(in Input, opts Options) (*Result, error) {
	minQ := cmp.Or(opts.MinQuality, vigil.DefaultMinQuality)
	banks := map[int64]*vigil.Bank{}
	for _, b := range in.Banks {
		if b.Enabled {
			banks[b.ID] = b
		}
	}
	stats := map[string]int{}
	cands := map[string]*candidate{} // type ‖ 0 ‖ value
	neg := negatives{exact: map[string]bool{}}
	for _, e := range in.Entries {
		b, ok := banks[e.BankID]
		if _, listed := families[e.SignalType]; !ok || !listed || !e.Active() {
			continue
		}
		v, err := vigil.CanonicalValue(e.SignalType, e.Value)
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", e.ID, err)
		}
		if b.Negative {
			neg.add(b, e.SignalType, v)
			continue
		}
		id := string(e.SignalType) + "\x00" + v
		c := cands[id]
		if c == nil {
			d, _ := hex.DecodeString(v) // canonical hex
			c = &candidate{t: e.SignalType, value: v, digest: d, quality: -1}
			cands[id] = c
		}
		if e.Source != "" {
			org, ok := opts.Orgs[e.Source]
			if !ok {
				org = Org{Name: e.Source}
			}
			if !phm.ValidSourceName(org.Name) {
				return nil, vigil.Errorf(vigil.EINVALID, "source %q cannot name an organisation in a manifest (map it to one)", e.Source)
			}
			c.vouches = append(c.vouches, vouch{bank: b.Name, org: org.Name, jur: org.Jurisdiction})
			if e.SourceEntryID != "" {
				c.items = append(c.items, e.Source+"\x00"+e.SourceEntryID)
			}
		}
		if opts.Keyed != nil && !c.keyed && opts.Keyed(e) {
			c.keyed = true
		}
		if e.SignalType == vigil.SignalPDQ {
			if q, ok := in.quality(e); ok && (c.quality < 0 || q < c.quality) {
				c.quality = q
			}
		}
	}
	negIdx, err := neg.index()
	if err != nil {
		return nil, err
	}

	// The rules that look at one value alone.
	all := slices.SortedFunc(func(yield func(*candidate) bool) {
		for _, c := range cands {
			if !yield(c) {
				return
			}
		}
	}, func(a, b *candidate) int { return cmp.Or(cmp.Compare(a.t, b.t), cmp.Compare(a.value, b.value)) })
	for _, c := range all {
		c.norgs = len(orgsOf(c.vouches))
		stats["candidates_"+string(c.t)]++
		switch {
		case c.t == vigil.SignalPDQ && popcount(c.digest) != 128:
			c.dropped = "pdq_unbalanced"
		case c.t == vigil.SignalPDQ && c.quality >= 0 && c.quality < minQ:
			c.dropped = "pdq_low_quality"
		case c.t == vigil.SignalPDQ && c.quality < 0 && opts.RequireQuality:
			c.dropped = "pdq_quality_unknown"
		case neg.suppresses(negIdx, c):
			c.dropped = "negative"
		case !independent(c.vouches, opts.RequireJurisdiction):
			c.dropped = "single_source"
		case opts.Keyed != nil && !c.keyed:
			c.dropped = "no_keyed_hash"
		}
		if c.t == vigil.SignalPDQ && c.quality < 0 && c.dropped == "" {
			stats["pdq_quality_unknown"]++
		}
	}

	// Content a negative bank vouches for is benign as a whole: the other
	// hashes of the same content item go too.
	benign := map[string]bool{}
	for _, c := range all {
		if c.dropped == "negative" {
			for _, it := range c.items {
				benign[it] = true
			}
		}
	}
	for _, c := range all {
		for _, it := range c.items {
			if c.dropped == "" && benign[it] {
				c.dropped = "negative_content"
			}
		}
	}

	// One-open rule, PDQ: near-duplicates clustered to one representative.
	if err := cluster(all); err != nil {
		return nil, err
	}
	// One-open rule, exact digests: content that has a listed PDQ is listed
	// by it alone, and content with SHA-256 by that, not MD5 as well.
	hasPDQ, hasSHA := map[string]bool{}, map[string]bool{}
	for _, c := range all {
		if c.t == vigil.SignalPDQ && (c.dropped == "" || c.dropped == "pdq_near_duplicate") {
			for _, it := range c.items {
				hasPDQ[it] = true
			}
		}
	}
	for _, t := range []vigil.SignalType{vigil.SignalSHA256, vigil.SignalMD5} {
		for _, c := range all {
			if c.t != t || c.dropped != "" {
				continue
			}
			for _, it := range c.items {
				if hasPDQ[it] {
					c.dropped = "has_pdq"
				} else if t == vigil.SignalMD5 && hasSHA[it] {
					c.dropped = "has_sha256"
				}
			}
			if c.dropped == "" && t == vigil.SignalSHA256 {
				for _, it := range c.items {
					hasSHA[it] = true
				}
			}
		}
	}

	res := &Result{Stats: stats}
	counts := map[string]uint64{}
	for _, c := range all {
		if c.dropped != "" {
			stats["dropped_"+c.dropped]++
			continue
		}
		key, err := phm.NewKey(families[c.t], c.digest)
		if err != nil {
			return nil, err
		}
		orgs := orgsOf(c.vouches)
		for _, o := range orgs {
			counts[o]++
		}
		res.Selected = append(res.Selected, Selected{Key: key, SignalType: c.t, Value: c.value, Orgs: orgs})
		stats["listed_"+string(c.t)]++
	}
	slices.SortFunc(res.Selected, func(a, b Selected) int { return bytes.Compare(a.Key, b.Key) })
	for _, o := range slices.Sorted(func(yield func(string) bool) {
		for o := range counts {
			if !yield(o) {
				return
			}
		}
	}) {
		res.Sources = append(res.Sources, phm.SourceCount{Source: o, Entries: counts[o]})
	}
	if len(res.Sources) > phm.MaxManifestSources {
		return nil, vigil.Errorf(vigil.ETOOLARGE, "%d organisations, a manifest holds %d", len(res.Sources), phm.MaxManifestSources)
	}
	return res, nil
}

// independent reports whether two of the vouches are from different
// banks and different organisations, in different jurisdictions where
// both say (or always, with requireJur).
func independent(vs []vouch, requireJur bool) bool {
	for i, a := range vs {
		for _, b := range vs[i+1:] {
			if a.bank == b.bank || a.org == b.org {
				continue
			}
			if requireJur && (a.jur == "" || b.jur == "") {
				continue
			}
			if a.jur != "" && b.jur != "" && strings.EqualFold(a.jur, b.jur) {
				continue
			}
			return true
		}
	}
	return false
}

func orgsOf(vs []vouch) []string {
	var out []string
	for _, v := range vs {
		out = append(out, v.org)
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// cluster keeps one PDQ per group of listed hashes within ClusterRadius:
// candidates in order of most organisations, then value, each becoming a
// representative unless an earlier representative is within the radius.
// Representatives are therefore pairwise more than ClusterRadius apart,
// and the choice depends only on the set.
func cluster(all []*candidate) error {
	var live []*candidate
	for _, c := range all {
		if c.t == vigil.SignalPDQ && c.dropped == "" {
			live = append(live, c)
		}
	}
	if len(live) < 2 {
		return nil
	}
	slices.SortStableFunc(live, func(a, b *candidate) int {
		return cmp.Or(cmp.Compare(b.norgs, a.norgs), cmp.Compare(a.value, b.value))
	})
	hashes := make([][32]byte, len(live))
	for i, c := range live {
		hashes[i] = [32]byte(c.digest)
	}
	keep, err := Representatives(hashes)
	if err != nil {
		return err
	}
	for i, k := range keep {
		if !k {
			live[i].dropped = "pdq_near_duplicate"
		}
	}
	return nil
}

// Representatives applies the one-open rule's clustering to PDQ hashes in
// priority order: each hash is kept unless an earlier kept one is within
// ClusterRadius, so the kept ones are pairwise more than ClusterRadius
// apart. The eval harness lists with it too.
func Representatives(hashes [][32]byte) ([]bool, error) {
	keep := make([]bool, len(hashes))
	if len(hashes) < 2 {
		for i := range keep {
			keep[i] = true
		}
		return keep, nil
	}
	ids := make([]uint64, len(hashes))
	for i := range ids {
		ids[i] = uint64(i)
	}
	idx, err := hamming.Build(ids, hashes, hamming.Options{})
	if err != nil {
		return nil, err
	}
	assigned := make([]bool, len(hashes))
	var buf []hamming.Result
	for i := range hashes {
		if assigned[i] {
			continue
		}
		assigned[i], keep[i] = true, true
		buf = idx.Search(hashes[i], ClusterRadius, buf[:0])
		for _, r := range buf {
			assigned[r.ID] = true
		}
	}
	return keep, nil
}

func popcount(b []byte) int {
	n := 0
	for _, x := range b {
		n += bits.OnesCount8(x)
	}
	return n
}

// negatives holds what the negative banks suppress: exact digests, and
// PDQ hashes each with its bank's PDQ threshold.
type negatives struct {
	exact  map[string]bool // type ‖ 0 ‖ value
	pdq    [][32]byte
	radius []int
	max    int
}

func (n *negatives) add(b *vigil.Bank, t vigil.SignalType, v string) {
	if t != vigil.SignalPDQ {
		n.exact[string(t)+"\x00"+v] = true
		return
	}
	d, _ := hex.DecodeString(v)
	r := b.Threshold(vigil.SignalPDQ)
	n.pdq = append(n.pdq, [32]byte(d))
	n.radius = append(n.radius, r)
	n.max = max(n.max, r)
}

func (n *negatives) index() (*hamming.Index, error) {
	ids := make([]uint64, len(n.pdq))
	for i := range ids {
		ids[i] = uint64(i)
	}
	return hamming.Build(ids, n.pdq, hamming.Options{})
}

// suppresses reports whether a negative bank matches c: exactly for
// digests, within that negative bank's own PDQ threshold for PDQ.
func (n *negatives) suppresses(idx *hamming.Index, c *candidate) bool {
	if c.t != vigil.SignalPDQ {
		return n.exact[string(c.t)+"\x00"+c.value]
	}
	if len(n.pdq) == 0 {
		return false
	}
	for _, r := range idx.Search([32]byte(c.digest), n.max, nil) {
		if r.Distance <= n.radius[r.ID] {
			return true
		}
	}
	return false
}

// MaxOrgsFileBytes bounds a sources file.
const MaxOrgsFileBytes = 1 << 20

// ParseOrgs reads a sources file: one "SOURCE ORGANISATION [JURISDICTION]"
// per line, fields separated by spaces, "#" starting a comment. SOURCE is
// an entry's Source as stored; ORGANISATION the name the manifest counts
// it under (several sources may name one organisation, and then never
// vouch for each other); JURISDICTION a country or region code.
func ParseOrgs(b []byte) (map[string]Org, error) {
	if len(b) > MaxOrgsFileBytes {
		return nil, vigil.Errorf(vigil.ETOOLARGE, "sources file over %d bytes", MaxOrgsFileBytes)
	}
	out := map[string]Org{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 0, 4096), MaxOrgsFileBytes)
	for n := 1; sc.Scan(); n++ {
		line, _, _ := strings.Cut(sc.Text(), "#")
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) > 3 || len(f) < 2 || len(f[0]) > vigil.MaxEntryFieldLen || !vigil.Printable(f[0]) || !phm.ValidSourceName(f[1]) {
			return nil, vigil.Errorf(vigil.EINVALID, "sources file line %d: want SOURCE ORGANISATION [JURISDICTION]", n)
		}
		o := Org{Name: f[1]}
		if len(f) == 3 {
			if len(f[2]) > 16 || !phm.ValidSourceName(f[2]) {
				return nil, vigil.Errorf(vigil.EINVALID, "sources file line %d: bad jurisdiction", n)
			}
			o.Jurisdiction = strings.ToUpper(f[2])
		}
		if _, dup := out[f[0]]; dup {
			return nil, vigil.Errorf(vigil.EINVALID, "sources file line %d: source %q twice", n, f[0])
		}
		out[f[0]] = o
	}
	if err := sc.Err(); err != nil {
		return nil, vigil.Errorf(vigil.EINVALID, "sources file: %v", err)
	}
	return out, nil
}
