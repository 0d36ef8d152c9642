package list

import (
	"encoding/hex"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/phm"
)

// balanced returns a PDQ-like hash with exactly 128 ones, from seed.
func balanced(seed uint64) [32]byte {
	r := rand.New(rand.NewPCG(seed, 7))
	var h [32]byte
	for _, i := range r.Perm(256)[:128] {
		h[i/8] |= 1 << (i % 8)
	}
	return h
}

// flip moves h by d bits (d even), keeping it balanced: d/2 ones become
// zeros and d/2 zeros become ones, picked from seed.
func flip(h [32]byte, d int, seed uint64) [32]byte {
	r := rand.New(rand.NewPCG(seed, 9))
	var ones, zeros []int
	for _, i := range r.Perm(256) {
		if h[i/8]&(1<<(i%8)) != 0 {
			ones = append(ones, i)
		} else {
			zeros = append(zeros, i)
		}
	}
	for k := range d / 2 {
		h[ones[k]/8] &^= 1 << (ones[k] % 8)
		h[zeros[k]/8] |= 1 << (zeros[k] % 8)
	}
	return h
}

func hx(b []byte) string { return hex.EncodeToString(b) }

func md5v(i byte) string    { return strings.Repeat(hx([]byte{i}), 16) }
func sha256v(i byte) string { return strings.Repeat(hx([]byte{i}), 32) }

type fixture struct {
	banks   []*vigil.Bank
	entries []*vigil.Entry
	ids     map[string]int64
}

func newFixture(names ...string) *fixture {
	f := &fixture{ids: map[string]int64{}}
	for i, n := range names {
		b := &vigil.Bank{ID: int64(i + 1), Name: n, Enabled: true, Negative: strings.HasPrefix(n, "neg")}
		f.banks = append(f.banks, b)
		f.ids[n] = b.ID
	}
	return f
}

// add puts an entry in bank: type, value, source, source entry id.
func (f *fixture) add(bank string, t vigil.SignalType, v, source, sid string) {
	f.entries = append(f.entries, &vigil.Entry{ID: int64(len(f.entries) + 1), BankID: f.ids[bank], SignalType: t, Value: v, Source: source, SourceEntryID: sid})
}

// both adds the value to bank a under source sa and bank b under sb.
func (f *fixture) both(t vigil.SignalType, v string) {
	f.add("a", t, v, "hotline-us", "")
	f.add("b", t, v, "hotline-uk", "")
}

var orgs = map[string]Org{
	"hotline-us":  {Name: "hotline-us", Jurisdiction: "US"},
	"hotline-us2": {Name: "other-us", Jurisdiction: "US"},
	"hotline-uk":  {Name: "hotline-uk", Jurisdiction: "GB"},
	"mirror-uk":   {Name: "hotline-uk", Jurisdiction: "GB"},
}

func mustSelect(t *testing.T, f *fixture, opts Options, q func(*vigil.Entry) (int, bool)) *Result {
	t.Helper()
	if opts.Orgs == nil {
		opts.Orgs = orgs
	}
	r, err := Select(Input{Banks: f.banks, Entries: f.entries, Quality: q}, opts)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func listed(r *Result) []string {
	var out []string
	for _, s := range r.Selected {
		out = append(out, string(s.SignalType)+":"+s.Value)
	}
	slices.Sort(out)
	return out
}

func has(r *Result, t vigil.SignalType, v string) bool {
	return slices.Contains(listed(r), string(t)+":"+v)
}

func TestSelectNeedsTwoIndependentSources(t *testing.T) {
	f := newFixture("a", "b")
	f.both(vigil.SignalMD5, md5v(1)) // US + GB, two banks: listed
	f.add("a", vigil.SignalMD5, md5v(2), "hotline-us", "")
	f.add("b", vigil.SignalMD5, md5v(2), "hotline-us2", "") // two US orgs
	f.add("a", vigil.SignalMD5, md5v(3), "hotline-us", "")
	f.add("a", vigil.SignalMD5, md5v(3), "hotline-uk", "") // one bank
	f.add("a", vigil.SignalMD5, md5v(4), "hotline-uk", "")
	f.add("b", vigil.SignalMD5, md5v(4), "mirror-uk", "") // one organisation under two sources
	f.add("a", vigil.SignalMD5, md5v(5), "hotline-us", "")
	f.add("b", vigil.SignalMD5, md5v(5), "", "") // no provenance
	f.add("a", vigil.SignalMD5, md5v(6), "hotline-us", "")
	f.add("b", vigil.SignalMD5, md5v(6), "unmapped", "") // unknown jurisdiction
	r := mustSelect(t, f, Options{}, nil)
	if got, want := listed(r), []string{"md5:" + md5v(1), "md5:" + md5v(6)}; !slices.Equal(got, want) {
		t.Fatalf("listed %v, want %v", got, want)
	}
	if r.Stats["dropped_single_source"] != 4 {
		t.Fatalf("stats %v", r.Stats)
	}
	// Requiring jurisdictions drops the unmapped pair too.
	r = mustSelect(t, f, Options{RequireJurisdiction: true}, nil)
	if got := listed(r); !slices.Equal(got, []string{"md5:" + md5v(1)}) {
		t.Fatalf("with jurisdictions required: %v", got)
	}
	if want := []phm.SourceCount{{Source: "hotline-uk", Entries: 1}, {Source: "hotline-us", Entries: 1}}; !slices.Equal(r.Sources, want) {
		t.Fatalf("sources %v", r.Sources)
	}
	// A disabled bank vouches for nothing.
	f.banks[1].Enabled = false
	if r := mustSelect(t, f, Options{}, nil); len(r.Selected) != 0 {
		t.Fatalf("disabled bank vouched: %v", listed(r))
	}
}

func TestSelectPDQQualityAndBalance(t *testing.T) {
	f := newFixture("a", "b")
	good, low, unknown := balanced(1), balanced(2), balanced(3)
	unbalanced := balanced(4)
	unbalanced[0] ^= 1 // 127 or 129 ones
	for _, h := range [][32]byte{good, low, unknown, unbalanced} {
		f.both(vigil.SignalPDQ, hx(h[:]))
	}
	q := func(e *vigil.Entry) (int, bool) {
		switch e.Value {
		case hx(good[:]):
			return 90, true
		case hx(low[:]):
			return 40, true
		}
		return 0, false
	}
	r := mustSelect(t, f, Options{}, q)
	want := []string{"pdq:" + hx(good[:]), "pdq:" + hx(unknown[:])}
	slices.Sort(want)
	if got := listed(r); !slices.Equal(got, want) {
		t.Fatalf("listed %v, want %v", got, want)
	}
	if r.Stats["dropped_pdq_low_quality"] != 1 || r.Stats["dropped_pdq_unbalanced"] != 1 || r.Stats["pdq_quality_unknown"] != 1 {
		t.Fatalf("stats %v", r.Stats)
	}
	r = mustSelect(t, f, Options{RequireQuality: true}, q)
	if got := listed(r); !slices.Equal(got, []string{"pdq:" + hx(good[:])}) {
		t.Fatalf("with quality required: %v", got)
	}
}

// TestSelectStoredQuality: a quality the bank stores with the entry
// (Entry.Quality) is used without a Quality function, the lowest of the
// entries that list a value wins, and a value whose entries all lack one
// is kept and counted as unknown.
func TestSelectStoredQuality(t *testing.T) {
	f := newFixture("a", "b")
	good, low, mixed, unknown := balanced(11), balanced(12), balanced(13), balanced(14)
	for _, h := range [][32]byte{good, low, mixed, unknown} {
		f.both(vigil.SignalPDQ, hx(h[:]))
	}
	set := func(v [32]byte, bank int64, q int) {
		for _, e := range f.entries {
			if e.Value == hx(v[:]) && e.BankID == bank {
				e.Quality = &q
			}
		}
	}
	set(good, f.ids["a"], 90)
	set(good, f.ids["b"], 70)
	set(low, f.ids["a"], 30)
	set(low, f.ids["b"], 30)
	set(mixed, f.ids["a"], 95)
	set(mixed, f.ids["b"], 49) // one source says low: the lowest wins
	r := mustSelect(t, f, Options{}, nil)
	want := []string{"pdq:" + hx(good[:]), "pdq:" + hx(unknown[:])}
	slices.Sort(want)
	if got := listed(r); !slices.Equal(got, want) {
		t.Fatalf("listed %v, want %v", got, want)
	}
	if r.Stats["dropped_pdq_low_quality"] != 2 || r.Stats["pdq_quality_unknown"] != 1 {
		t.Fatalf("stats %v", r.Stats)
	}
	r = mustSelect(t, f, Options{RequireQuality: true}, nil)
	if got := listed(r); !slices.Equal(got, []string{"pdq:" + hx(good[:])}) {
		t.Fatalf("with quality required: %v", got)
	}
}

func TestSelectNegativeBanks(t *testing.T) {
	f := newFixture("a", "b", "neg")
	f.banks[2].Thresholds = map[vigil.SignalType]int{vigil.SignalPDQ: 10}
	base := balanced(10)
	near, far := flip(base, 6, 1), flip(base, 20, 2)
	f.add("neg", vigil.SignalPDQ, hx(base[:]), "local", "")
	f.add("neg", vigil.SignalSHA256, sha256v(7), "local", "")
	f.both(vigil.SignalPDQ, hx(near[:]))   // within the negative bank's 10
	f.both(vigil.SignalPDQ, hx(far[:]))    // outside it (inside the default 31)
	f.both(vigil.SignalSHA256, sha256v(7)) // exactly negative
	f.both(vigil.SignalSHA256, sha256v(8))
	// Content whose PDQ a negative bank suppresses loses its MD5 too.
	f.add("a", vigil.SignalPDQ, hx(near[:]), "hotline-us", "c9")
	f.add("a", vigil.SignalMD5, md5v(9), "hotline-us", "c9")
	f.add("b", vigil.SignalMD5, md5v(9), "hotline-uk", "")
	r := mustSelect(t, f, Options{}, nil)
	if got, want := listed(r), []string{"pdq:" + hx(far[:]), "sha256:" + sha256v(8)}; !slices.Equal(got, want) {
		t.Fatalf("listed %v, want %v", got, want)
	}
	if r.Stats["dropped_negative"] != 2 || r.Stats["dropped_negative_content"] != 1 {
		t.Fatalf("stats %v", r.Stats)
	}
	// A disabled negative bank suppresses nothing (and the MD5 of content
	// with a listed PDQ goes by the one-open rule instead).
	f.banks[2].Enabled = false
	if r := mustSelect(t, f, Options{}, nil); len(r.Selected) != 4 {
		t.Fatalf("disabled negative bank suppressed: %v", listed(r))
	}
}

func TestSelectOneOpenRule(t *testing.T) {
	f := newFixture("a", "b")
	p := balanced(20)
	// Content 1 has PDQ, SHA-256 and MD5 in both hotlines: PDQ only.
	for _, src := range []struct{ bank, source string }{{"a", "hotline-us"}, {"b", "hotline-uk"}} {
		f.add(src.bank, vigil.SignalPDQ, hx(p[:]), src.source, "c1")
		f.add(src.bank, vigil.SignalSHA256, sha256v(1), src.source, "c1")
		f.add(src.bank, vigil.SignalMD5, md5v(1), src.source, "c1")
		// Content 2 has SHA-256 and MD5: SHA-256 only.
		f.add(src.bank, vigil.SignalSHA256, sha256v(2), src.source, "c2")
		f.add(src.bank, vigil.SignalMD5, md5v(2), src.source, "c2")
		// Content 3 has MD5 only.
		f.add(src.bank, vigil.SignalMD5, md5v(3), src.source, "c3")
	}
	// Content 4: the US hotline's MD5 is linked to its PDQ, the UK one
	// has only the MD5: the MD5 still belongs to content with a PDQ.
	q := balanced(21)
	f.add("a", vigil.SignalPDQ, hx(q[:]), "hotline-us", "c4")
	f.add("b", vigil.SignalPDQ, hx(q[:]), "hotline-uk", "c4-pdq")
	f.add("a", vigil.SignalMD5, md5v(4), "hotline-us", "c4")
	f.add("b", vigil.SignalMD5, md5v(4), "hotline-uk", "x")
	r := mustSelect(t, f, Options{}, nil)
	want := []string{"md5:" + md5v(3), "pdq:" + hx(p[:]), "pdq:" + hx(q[:]), "sha256:" + sha256v(2)}
	slices.Sort(want)
	if got := listed(r); !slices.Equal(got, want) {
		t.Fatalf("listed %v, want %v", got, want)
	}
	if r.Stats["dropped_has_pdq"] != 3 || r.Stats["dropped_has_sha256"] != 1 {
		t.Fatalf("stats %v", r.Stats)
	}
}

func TestSelectClustersNearDuplicates(t *testing.T) {
	f := newFixture("a", "b", "c")
	base := balanced(30)
	a := flip(base, 4, 1) // 4 from base
	b := flip(base, 8, 2) // 8 from base, ≤ 12 from a
	far := flip(base, 40, 3)
	for _, h := range [][32]byte{base, a, b, far} {
		f.both(vigil.SignalPDQ, hx(h[:]))
	}
	// a has a third organisation: it becomes the representative.
	f.add("c", vigil.SignalPDQ, hx(a[:]), "third", "")
	r := mustSelect(t, f, Options{}, nil)
	var reps [][32]byte
	for _, s := range r.Selected {
		reps = append(reps, [32]byte(s.Key[len("pdq\x00"):]))
	}
	if !has(r, vigil.SignalPDQ, hx(a[:])) || !has(r, vigil.SignalPDQ, hx(far[:])) {
		t.Fatalf("listed %v", listed(r))
	}
	for i := range reps {
		for j := range i {
			if d := distance(reps[i], reps[j]); d <= ClusterRadius {
				t.Fatalf("two listed PDQ %d apart", d)
			}
		}
	}
	if r.Stats["dropped_pdq_near_duplicate"]+len(reps) != 4 {
		t.Fatalf("stats %v, %d listed", r.Stats, len(reps))
	}
}

func distance(a, b [32]byte) int {
	n := 0
	for i := range a {
		x := a[i] ^ b[i]
		for ; x != 0; x &= x - 1 {
			n++
		}
	}
	return n
}

// TestSelectRequireKeyed: with Options.Keyed a value none of whose
// entries has a keyed hash is left out and counted, one with a keyed
// entry in either bank stays, and clustering picks its representative
// among the keyed values only.
func TestSelectRequireKeyed(t *testing.T) {
	f := newFixture("a", "b")
	keyedH, bothH, plainH := balanced(50), balanced(51), balanced(52)
	near := flip(plainH, 4, 5) // within ClusterRadius of plainH
	f.both(vigil.SignalPDQ, hx(keyedH[:]))
	f.both(vigil.SignalPDQ, hx(bothH[:]))
	f.both(vigil.SignalPDQ, hx(plainH[:]))
	f.both(vigil.SignalPDQ, hx(near[:]))
	f.add("c", vigil.SignalPDQ, hx(plainH[:]), "third", "") // no bank c: ignored
	f.both(vigil.SignalSHA256, sha256v(1))
	keyed := map[int64]bool{1: true, 4: true, 8: true} // keyedH in a, bothH in b, near in b
	all := mustSelect(t, f, Options{}, nil)
	r := mustSelect(t, f, Options{Keyed: func(e *vigil.Entry) bool { return keyed[e.ID] }}, nil)
	want := []string{"pdq:" + hx(keyedH[:]), "pdq:" + hx(bothH[:]), "pdq:" + hx(near[:])}
	slices.Sort(want)
	if got := listed(r); !slices.Equal(got, want) {
		t.Fatalf("listed %v, want %v (without Keyed: %v)", got, want, listed(all))
	}
	if r.Stats["dropped_no_keyed_hash"] != 2 || all.Stats["dropped_no_keyed_hash"] != 0 {
		t.Fatalf("stats %v; without Keyed %v", r.Stats, all.Stats)
	}
	// Without Keyed, plainH and near are one cluster: one of them is listed.
	if has(all, vigil.SignalPDQ, hx(plainH[:])) == has(all, vigil.SignalPDQ, hx(near[:])) {
		t.Fatalf("without Keyed listed %v", listed(all))
	}
}

func TestSelectIsDeterministic(t *testing.T) {
	f := newFixture("a", "b", "neg")
	for i := range 300 {
		h := balanced(uint64(i % 200))
		if i%7 == 0 {
			h = flip(h, 4, uint64(i))
		}
		f.both(vigil.SignalPDQ, hx(h[:]))
		f.add("a", vigil.SignalMD5, md5v(byte(i)), "hotline-us", "c"+string(rune('a'+i%26)))
		f.add("b", vigil.SignalMD5, md5v(byte(i)), "hotline-uk", "")
	}
	first := mustSelect(t, f, Options{}, nil)
	rand.New(rand.NewPCG(3, 4)).Shuffle(len(f.entries), func(i, j int) { f.entries[i], f.entries[j] = f.entries[j], f.entries[i] })
	second := mustSelect(t, f, Options{}, nil)
	if !slices.Equal(listed(first), listed(second)) || !slices.Equal(first.Sources, second.Sources) {
		t.Fatal("the same entries in another order select differently")
	}
}

func TestSelectRefusesUnnameableSource(t *testing.T) {
	f := newFixture("a", "b")
	f.add("a", vigil.SignalMD5, md5v(1), "two words", "")
	if _, err := Select(Input{Banks: f.banks, Entries: f.entries}, Options{}); err == nil {
		t.Fatal("a source with a space became a manifest name")
	}
}

func TestParseOrgs(t *testing.T) {
	m, err := ParseOrgs([]byte("# sources\nncmec NCMEC us\niwf IWF GB # comment\nlocal self\n\n"))
	if err != nil {
		t.Fatal(err)
	}
	if m["ncmec"] != (Org{"NCMEC", "US"}) || m["local"] != (Org{Name: "self"}) || len(m) != 3 {
		t.Fatalf("%v", m)
	}
	for _, bad := range []string{"only\n", "a b c d\n", "a b\na c\n", "a b " + strings.Repeat("x", 17) + "\n"} {
		if _, err := ParseOrgs([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

// FuzzParseOrgs: never panics; every parsed organisation can name a
// manifest source.
func FuzzParseOrgs(f *testing.F) {
	f.Add([]byte("ncmec NCMEC US\niwf IWF GB\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseOrgs(data)
		if err != nil {
			return
		}
		for _, o := range m {
			if !phm.ValidSourceName(o.Name) {
				t.Fatalf("org %q", o.Name)
			}
		}
	})
}
