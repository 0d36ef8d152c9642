package table

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/cloudflare/circl/group"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/vigil-oss/vigil/phm"
)

// testAlpha is a fixed blinding key, so tests are reproducible.
func testAlpha(tb testing.TB) group.Scalar {
	tb.Helper()
	return phm.Group.HashToScalar([]byte("test alpha"), []byte("vigil-phm-test"))
}

// testKeys returns n distinct keys of mixed families, derived from tag.
func testKeys(tb testing.TB, n int, tag string) []phm.Key {
	tb.Helper()
	keys := make([]phm.Key, n)
	for i := range keys {
		d := sha256.Sum256(binary.BigEndian.AppendUint64([]byte(tag), uint64(i)))
		var err error
		switch i % 3 {
		case 0:
			keys[i], err = phm.NewKey(phm.FamilyPDQ, d[:])
		case 1:
			keys[i], err = phm.NewKey(phm.FamilySHA256, d[:])
		default:
			keys[i], err = phm.NewKey(phm.FamilyMD5, d[:16])
		}
		if err != nil {
			tb.Fatal(err)
		}
	}
	return keys
}

func serialise(tb testing.TB, t *Table) []byte {
	tb.Helper()
	var b bytes.Buffer
	if _, err := t.WriteTo(&b); err != nil {
		tb.Fatal(err)
	}
	if b.Len() != t.Size() {
		tb.Fatalf("wrote %d bytes, Size says %d", b.Len(), t.Size())
	}
	return b.Bytes()
}

func mustBuild(tb testing.TB, keys []phm.Key, seed [32]byte, opts Options) *Table {
	tb.Helper()
	t, err := Build(testAlpha(tb), keys, seed, opts)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

func TestBuildIsDeterministic(t *testing.T) {
	keys := testKeys(t, 300, "det")
	seed := [32]byte{1}
	a := serialise(t, mustBuild(t, keys, seed, Options{Version: 1, Workers: 1}))

	// The same set in another order, with another worker count, is the
	// same table byte for byte: an auditor's rebuild gives the logged root.
	shuffled := append([]phm.Key(nil), keys...)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	b := serialise(t, mustBuild(t, shuffled, seed, Options{Version: 1, Workers: 3}))
	if !bytes.Equal(a, b) {
		t.Fatal("rebuild from the same (alpha, list, seed) differs")
	}
	c := serialise(t, mustBuild(t, keys, [32]byte{2}, Options{Version: 1}))
	if bytes.Equal(a, c) {
		t.Fatal("another build seed gave the same table")
	}
}

func TestBuildPlacesEveryKeyBlinded(t *testing.T) {
	keys := testKeys(t, 500, "place")
	alpha := testAlpha(t)
	tbl := mustBuild(t, keys, [32]byte{3}, Options{Version: 1})
	if tbl.Slots() != phm.SlotsFor(len(keys)) || tbl.Len() != 500 {
		t.Fatalf("m = %d, N = %d", tbl.Slots(), tbl.Len())
	}
	if !tbl.Public().IsEqual(phm.Group.NewElement().MulGen(alpha)) {
		t.Fatal("public point is not alpha·G")
	}
	occupied := map[uint64]bool{}
	for _, k := range keys {
		want := phm.Group.NewElement().Mul(phm.HashToGroup(k), alpha)
		pos, err := phm.Slots(tbl.Seeds(), tbl.Slots(), k)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, s := range pos {
			if tbl.Element(s).IsEqual(want) {
				found, occupied[s] = true, true
			}
		}
		if !found {
			t.Fatalf("key %x is in none of its slots", []byte(k))
		}
	}
	if len(occupied) != len(keys) {
		t.Fatalf("%d keys occupy %d slots", len(keys), len(occupied))
	}
	// A key that is not listed is in none of its slots.
	for _, k := range testKeys(t, 200, "absent") {
		want := phm.Group.NewElement().Mul(phm.HashToGroup(k), alpha)
		pos, _ := phm.Slots(tbl.Seeds(), tbl.Slots(), k)
		for _, s := range pos {
			if tbl.Element(s).IsEqual(want) {
				t.Fatalf("unlisted key %x found in slot %d", []byte(k), s)
			}
		}
	}
}

func TestBuildRefuses(t *testing.T) {
	keys := testKeys(t, 10, "refuse")
	if _, err := Build(testAlpha(t), append(keys, keys[3]), [32]byte{}, Options{}); err == nil {
		t.Error("duplicate key accepted")
	}
	if _, err := Build(testAlpha(t), append(keys, phm.Key("junk")), [32]byte{}, Options{}); err == nil {
		t.Error("malformed key accepted")
	}
	if _, err := Build(testAlpha(t), keys, [32]byte{}, Options{Slots: 11}); err == nil {
		t.Error("load over 0.8 accepted")
	}
	if _, err := Build(phm.Group.NewScalar(), keys, [32]byte{}, Options{}); err == nil {
		t.Error("zero alpha accepted")
	}
	// An empty list is a valid (all-filler) table.
	if tbl, err := Build(testAlpha(t), nil, [32]byte{}, Options{Version: 1}); err != nil || tbl.Slots() != 1 {
		t.Errorf("empty list: %v", err)
	}
}

// TestRootIsRFC6962 checks the level-by-level root against tlog's own
// tree hash over the same records, for sizes that exercise every shape of
// an unbalanced tree.
func TestRootIsRFC6962(t *testing.T) {
	for n := 1; n <= 70; n++ {
		slots := make([]byte, n*phm.ElementSize)
		for i := range slots {
			slots[i] = byte(i * 7)
		}
		var stored []tlog.Hash
		for i := range n {
			hs, err := tlog.StoredHashes(int64(i), slots[i*32:(i+1)*32], tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
				out := make([]tlog.Hash, len(idx))
				for j, x := range idx {
					out[j] = stored[x]
				}
				return out, nil
			}))
			if err != nil {
				t.Fatal(err)
			}
			stored = append(stored, hs...)
		}
		want, err := tlog.TreeHash(int64(n), tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
			out := make([]tlog.Hash, len(idx))
			for j, x := range idx {
				out[j] = stored[x]
			}
			return out, nil
		}))
		if err != nil {
			t.Fatal(err)
		}
		if got := merkleRoot(slots); got != want {
			t.Fatalf("n=%d: root %x, tlog says %x", n, got, want)
		}
	}
}

func TestLoadRoundTripAndVerify(t *testing.T) {
	tbl := mustBuild(t, testKeys(t, 100, "load"), [32]byte{4}, Options{Version: 7})
	raw := serialise(t, tbl)
	got, err := Load(bytes.NewReader(raw), 0)
	if err != nil {
		t.Fatal(err)
	}
	if got.Root() != tbl.Root() || !bytes.Equal(serialise(t, got), raw) || got.Version() != 7 || got.Len() != 100 {
		t.Fatal("loaded table differs")
	}
	m := manifestOf(tbl)
	if err := got.Verify(m); err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(*phm.Manifest){
		"root":    func(m *phm.Manifest) { m.Root[0] ^= 1 },
		"version": func(m *phm.Manifest) { m.Version++ },
		"n":       func(m *phm.Manifest) { m.N-- },
		"seeds":   func(m *phm.Manifest) { m.Seeds[2][0] ^= 1 },
		"public":  func(m *phm.Manifest) { m.Public = [32]byte(tbl.SlotBytes(0)) },
		"slots":   func(m *phm.Manifest) { m.Slots++ },
	} {
		bad := *m
		edit(&bad)
		if err := got.Verify(&bad); err == nil {
			t.Errorf("manifest with another %s verified", name)
		}
	}
}

func manifestOf(t *Table) *phm.Manifest {
	return &phm.Manifest{Version: t.Version(), N: t.Len(), Slots: t.Slots(), Seeds: t.Seeds(), Public: t.PublicBytes(), Root: t.Root()}
}

func TestLoadRefuses(t *testing.T) {
	tbl := mustBuild(t, testKeys(t, 20, "refuse-load"), [32]byte{5}, Options{Version: 1})
	raw := serialise(t, tbl)
	notElement := bytes.Repeat([]byte{0xff}, 32)
	for name, b := range map[string][]byte{
		"empty":         nil,
		"short header":  raw[:100],
		"magic":         append([]byte("XPHMTBL1"), raw[8:]...),
		"truncated":     raw[:len(raw)-1],
		"trailing":      append(bytes.Clone(raw), 0),
		"bad public":    append(append(bytes.Clone(raw[:128]), notElement...), raw[160:]...),
		"too many keys": setUint64(raw, 16, tbl.Slots()+1),
		"zero slots":    setUint64(raw, 24, 0),
		"over limit":    setUint64(raw, 24, MaxSlots+1),
	} {
		if _, err := Load(bytes.NewReader(b), 0); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
	if _, err := Load(bytes.NewReader(raw), tbl.Slots()-1); err == nil {
		t.Error("table over the caller's slot limit loaded")
	}

	// A slot that is not an element loads (the root binds it), fails
	// Check, and reads as the identity, which opens nothing.
	badSlot, err := Load(bytes.NewReader(append(bytes.Clone(raw[:len(raw)-32]), notElement...)), 0)
	if err != nil {
		t.Fatal(err)
	}
	if badSlot.Check() == nil || !badSlot.Element(badSlot.Slots()-1).IsIdentity() || tbl.Check() != nil {
		t.Error("an undecodable slot was not caught by Check or not read as the identity")
	}
	if !tbl.Element(tbl.Slots()).IsIdentity() {
		t.Error("a slot out of range is not the identity")
	}
}

func setUint64(b []byte, off int, v uint64) []byte {
	b = bytes.Clone(b)
	binary.BigEndian.PutUint64(b[off:], v)
	return b
}

func TestDiffAppliesAndReverifies(t *testing.T) {
	keys := testKeys(t, 1000, "diff")
	seed := [32]byte{6}
	// Reserve room (load 0.72) so the next version keeps m and the seeds.
	m := phm.SlotsFor(1100)
	v1 := mustBuild(t, keys, seed, Options{Version: 1, Slots: m})
	// Version 2: 1 % of the keys replaced.
	next := append(append([]phm.Key(nil), keys[10:]...), testKeys(t, 10, "diff-new")...)
	v2 := mustBuild(t, next, seed, Options{Version: 2, Slots: m})
	d, err := MakeDiff(v1, v2)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := d.MarshalBinary()
	if err != nil {
		t.Fatal(err)
	}
	if len(raw) != diffHeaderSize+36*len(d.Indexes) {
		t.Fatalf("diff is %d bytes for %d slots", len(raw), len(d.Indexes))
	}
	t.Logf("1%% change: %d of %d slots changed, %d bytes", len(d.Indexes), m, len(raw))
	parsed, err := ParseDiff(raw, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Apply(v1, parsed)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(serialise(t, got), serialise(t, v2)) {
		t.Fatal("applied diff is not version 2")
	}
	if err := got.Verify(manifestOf(v2)); err != nil {
		t.Fatal(err)
	}
	if err := got.Verify(manifestOf(v1)); err == nil {
		t.Fatal("applied diff verified against the old manifest")
	}

	// A diff applied to the wrong base, or tampered with, is refused.
	if _, err := Apply(v2, parsed); err == nil {
		t.Error("diff applied to its own result")
	}
	if len(parsed.Indexes) > 0 {
		bad := *parsed
		bad.Elements = append([][32]byte(nil), parsed.Elements...)
		bad.Elements[0] = [32]byte(v1.SlotBytes(uint64(bad.Indexes[0])))
		if _, err := Apply(v1, &bad); err == nil {
			t.Error("tampered diff applied")
		}
	}
	// Another shape cannot be diffed.
	v3 := mustBuild(t, next, seed, Options{Version: 3})
	if _, err := MakeDiff(v1, v3); err == nil {
		t.Error("diff between tables of different m")
	}
}

func TestParseDiffRefuses(t *testing.T) {
	keys := testKeys(t, 50, "pd")
	m := phm.SlotsFor(60)
	v1 := mustBuild(t, keys, [32]byte{7}, Options{Version: 1, Slots: m})
	v2 := mustBuild(t, keys[5:], [32]byte{7}, Options{Version: 2, Slots: m})
	d, err := MakeDiff(v1, v2)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Indexes) < 2 {
		t.Fatalf("only %d changed slots", len(d.Indexes))
	}
	raw, _ := d.MarshalBinary()
	swapped := bytes.Clone(raw)
	copy(swapped[diffHeaderSize:], raw[diffHeaderSize+36:diffHeaderSize+72])
	copy(swapped[diffHeaderSize+36:], raw[diffHeaderSize:diffHeaderSize+36])
	for name, b := range map[string][]byte{
		"short":      raw[:50],
		"truncated":  raw[:len(raw)-1],
		"trailing":   append(bytes.Clone(raw), 0),
		"order":      swapped,
		"backwards":  setUint64(raw, 16, 1),
		"count":      setUint64(raw, 104, uint64(len(d.Indexes)+1)),
		"range":      append(append(bytes.Clone(raw[:len(raw)-36]), 0xff, 0xff, 0xff, 0xff), raw[len(raw)-32:]...),
		"bad member": append(bytes.Clone(raw[:len(raw)-32]), bytes.Repeat([]byte{0xff}, 32)...),
	} {
		if _, err := ParseDiff(b, 0); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
	if _, err := ParseDiff(raw, m-1); err == nil {
		t.Error("diff over the caller's slot limit parsed")
	}
}
