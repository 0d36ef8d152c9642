package phmsdk

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"image"
	"image/color"
	"image/png"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/vigil-oss/vigil/phm"
	"github.com/vigil-oss/vigil/phm/phmtest"
	"github.com/vigil-oss/vigil/phm/table"
	"github.com/vigil-oss/vigil/phm/translog"
)

// published is a build-table directory's files, made in memory.
type published struct {
	table, manifest, checkpoint, inclusion, consistency []byte
}

type logWorld struct {
	log                     *translog.Log
	logS, opS               note.Signer
	witness                 *translog.Cosigner
	logV, opV, witV, origin string
}

func newLogWorld(t testing.TB) *logWorld {
	w := &logWorld{origin: "phm.example"}
	gen := func(name string) (note.Signer, string) {
		skey, vkey, err := note.GenerateKey(rand.Reader, name)
		if err != nil {
			t.Fatal(err)
		}
		s, err := note.NewSigner(skey)
		if err != nil {
			t.Fatal(err)
		}
		return s, vkey
	}
	w.logS, w.logV = gen(w.origin)
	w.opS, w.opV = gen("operator.phm.example")
	wskey, wvkey, err := translog.GenerateCosignerKey(rand.Reader, "witness.example")
	if err != nil {
		t.Fatal(err)
	}
	if w.witness, err = translog.ParseCosignerKey(wskey, time.Now); err != nil {
		t.Fatal(err)
	}
	w.witV = wvkey
	if w.log, err = translog.CreateLog(t.TempDir(), w.origin); err != nil {
		t.Fatal(err)
	}
	return w
}

// publish builds a table of n keys as version v, logs its manifest and
// cosigns the checkpoint.
func (w *logWorld) publish(t testing.TB, v uint64, n int) published {
	alpha := phm.Group.HashToScalar([]byte("alpha"), []byte("sdk test"))
	var keys []phm.Key
	for i := range n {
		d := sha256.Sum256([]byte{byte(i), byte(i >> 8)})
		k, _ := phm.NewKey(phm.FamilySHA256, d[:])
		keys = append(keys, k)
	}
	tbl, err := table.Build(alpha, keys, [32]byte{3}, table.Options{Version: v, Slots: phm.SlotsFor(64)})
	if err != nil {
		t.Fatal(err)
	}
	m := &phm.Manifest{Version: v, Parent: v - 1, N: tbl.Len(), Slots: tbl.Slots(), Seeds: tbl.Seeds(),
		Public: tbl.PublicBytes(), Root: tbl.Root(), Sources: []phm.SourceCount{{Source: "a", Entries: tbl.Len()}}}
	text, err := m.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	signed, err := note.Sign(&note.Note{Text: string(text)}, w.opS)
	if err != nil {
		t.Fatal(err)
	}
	last := w.log.Size()
	idx, err := w.log.Append(signed)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := w.log.Sign(w.logS, w.witness)
	if err != nil {
		t.Fatal(err)
	}
	size := w.log.Size()
	inc, err := w.log.ProveRecord(size, idx)
	if err != nil {
		t.Fatal(err)
	}
	var cons []tlog.Hash
	if last > 0 {
		if cons, err = w.log.ProveTree(size, last); err != nil {
			t.Fatal(err)
		}
	}
	var tb bytes.Buffer
	if _, err := tbl.WriteTo(&tb); err != nil {
		t.Fatal(err)
	}
	return published{table: tb.Bytes(), manifest: signed, checkpoint: cp,
		inclusion: translog.FormatProofFile("index", idx, inc), consistency: translog.FormatProofFile("old", last, cons)}
}

func TestLoadTable(t *testing.T) {
	w := newLogWorld(t)
	v, err := NewVerifier("", w.logV, w.opV, w.witV, 1, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	acct, _ := NewAccount(3, 4, 0)
	c, err := NewClient(acct, phmtest.ReviewKey(t).PublicKey().Bytes())
	if err != nil {
		t.Fatal(err)
	}
	load := func(p published, state []byte) ([]byte, error) {
		return c.LoadTable(v, p.table, p.manifest, p.checkpoint, p.inclusion, p.consistency, state)
	}
	v1 := w.publish(t, 1, 40)

	// Refused, and no table set: a tampered table, a checkpoint without
	// the witness, a manifest the operator did not sign.
	bad := v1
	bad.table = bytes.Clone(v1.table)
	bad.table[len(bad.table)-5] ^= 1
	if _, err := load(bad, nil); err == nil {
		t.Fatal("a tampered table was loaded")
	}
	bad = v1
	bad.checkpoint, _, _ = bytes.Cut(v1.checkpoint, []byte("\n— witness.example"))
	bad.checkpoint = append(bad.checkpoint, '\n')
	if _, err := load(bad, nil); err == nil {
		t.Fatal("a checkpoint without its cosignature was loaded")
	}
	if _, err := c.Voucher(testPicture(t), "a"); !errors.Is(err, ErrNoTable) {
		t.Fatalf("a refused table was set: %v", err)
	}

	st1, err := load(v1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Voucher(testPicture(t), "a"); err != nil {
		t.Fatal(err)
	}
	v2 := w.publish(t, 2, 50)
	st2, err := load(v2, st1)
	if err != nil {
		t.Fatalf("version 2 after 1: %v", err)
	}
	// Rolling back to version 1 with version 2's state is refused.
	if _, err := load(v1, st2); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("rollback to version 1: %v", err)
	}
	// A device two versions behind needs a consistency proof from its own size.
	w.publish(t, 3, 55)
	v4 := w.publish(t, 4, 60)
	if _, err := load(v4, st2); err == nil || !strings.Contains(err.Error(), "fetch a proof") {
		t.Fatalf("v4 from v2 with v3's proof: %v", err)
	}
	if _, err := c.LoadTable(v, v4.table, v4.manifest, v4.checkpoint, v4.inclusion, []byte("old 2\n"), st2); err == nil {
		t.Fatal("an empty consistency proof from size 2 to 4 was accepted")
	}
	if _, err := NewVerifier("", w.logV, w.opV, "", 1, "", 0); err == nil {
		t.Fatal("a verifier without witnesses")
	}
	if _, err := c.LoadTable(v, v1.table, v1.manifest, v1.checkpoint, v1.inclusion, v1.consistency, []byte("{")); err == nil {
		t.Fatal("a corrupt state was accepted")
	}
}

func testPicture(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := pngGradient(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func pngGradient(w *bytes.Buffer) error {
	img := image.NewRGBA(image.Rect(0, 0, 80, 60))
	for y := range 60 {
		for x := range 80 {
			img.Set(x, y, color.RGBA{uint8(x * 3), uint8(y * 4), uint8(x ^ y), 255})
		}
	}
	return png.Encode(w, img)
}

// TestLoadTableDiff: a device updates by a diff, as the design's
// ApplyTableDiff: the diff is applied to the table it holds and the
// result is verified as a whole table is (LoadTable). A tampered diff, a
// diff for another base and a diff whose result is not the manifest's are
// refused and leave the old table; an accepted one gives the new table,
// byte for byte, to save with TableFile.
func TestLoadTableDiff(t *testing.T) {
	w := newLogWorld(t)
	v, err := NewVerifier("", w.logV, w.opV, w.witV, 1, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	acct, _ := NewAccount(3, 4, 0)
	c, err := NewClient(acct, phmtest.ReviewKey(t).PublicKey().Bytes())
	if err != nil {
		t.Fatal(err)
	}
	v1, v2, v3 := w.publish(t, 1, 40), w.publish(t, 2, 45), w.publish(t, 3, 50)
	parse := func(b []byte) *table.Table {
		tb, err := table.Load(bytes.NewReader(b), 0)
		if err != nil {
			t.Fatal(err)
		}
		return tb
	}
	diff := func(from, to []byte) []byte {
		d, err := table.MakeDiff(parse(from), parse(to))
		if err != nil {
			t.Fatal(err)
		}
		b, err := d.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	d12, d23, d13 := diff(v1.table, v2.table), diff(v2.table, v3.table), diff(v1.table, v3.table)
	loadDiff := func(d []byte, p published, state []byte) ([]byte, error) {
		return c.LoadTableDiff(v, d, p.manifest, p.checkpoint, p.inclusion, p.consistency, state)
	}
	if _, err := loadDiff(d12, v2, nil); err == nil {
		t.Fatal("a diff was applied with no table loaded")
	}
	st1, err := c.LoadTable(v, v1.table, v1.manifest, v1.checkpoint, v1.inclusion, v1.consistency, nil)
	if err != nil {
		t.Fatal(err)
	}
	keeps := func(what string, want []byte) {
		t.Helper()
		got, err := c.TableFile()
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s: the client's table changed (%v)", what, err)
		}
	}
	bad := bytes.Clone(d12)
	bad[len(bad)-3] ^= 1
	if _, err := loadDiff(bad, v2, st1); err == nil {
		t.Fatal("a tampered diff was applied")
	}
	keeps("tampered diff", v1.table)
	if _, err := loadDiff(d23, v3, st1); err == nil {
		t.Fatal("a diff from version 2 was applied to version 1")
	}
	keeps("diff of another base", v1.table)
	// d13 applies to v1 but makes version 3's table, not v2's manifest.
	if _, err := loadDiff(d13, v2, st1); err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("a diff to version 3 under version 2's manifest: %v", err)
	}
	keeps("diff not the manifest's", v1.table)

	st2, err := loadDiff(d12, v2, st1)
	if err != nil {
		t.Fatalf("diff 1 → 2: %v", err)
	}
	keeps("diff 1 → 2", v2.table)
	if _, err := c.Voucher(testPicture(t), "a"); err != nil {
		t.Fatal(err)
	}
	// The saved table and state load again on the next start, and the
	// next diff applies on top of the diffed table.
	saved, _ := c.TableFile()
	c2, _ := NewClient(acct, phmtest.ReviewKey(t).PublicKey().Bytes())
	if _, err := c2.LoadTable(v, saved, v2.manifest, v2.checkpoint, v2.inclusion, v2.consistency, st2); err != nil {
		t.Fatalf("the saved table does not load: %v", err)
	}
	if _, err := loadDiff(d23, v3, st2); err != nil {
		t.Fatalf("diff 2 → 3: %v", err)
	}
	keeps("diff 2 → 3", v3.table)
}

// FuzzLoadTable feeds LoadTable (and LoadTableDiff) a published version's
// files with any of them changed: nothing may panic, and whatever is
// accepted must be the published table, byte for byte (the manifest's
// signature pins its root, size, seeds and P; every other byte of the
// file must be checked too, or two devices could hold different tables
// under one logged version).
func FuzzLoadTable(f *testing.F) {
	w := newLogWorld(f)
	v, err := NewVerifier("", w.logV, w.opV, w.witV, 1, "", 0)
	if err != nil {
		f.Fatal(err)
	}
	p1, p2 := w.publish(f, 1, 40), w.publish(f, 2, 45)
	t1, _ := table.Load(bytes.NewReader(p1.table), 0)
	t2, _ := table.Load(bytes.NewReader(p2.table), 0)
	d, err := table.MakeDiff(t1, t2)
	if err != nil {
		f.Fatal(err)
	}
	diff, _ := d.MarshalBinary()
	acct, _ := NewAccount(3, 4, 0)
	review := phmtest.ReviewKey(f).PublicKey().Bytes()
	f.Add(p1.table, p1.manifest, p1.checkpoint, p1.inclusion, p1.consistency, []byte(nil), diff, p2.manifest, p2.checkpoint, p2.inclusion, p2.consistency)
	f.Add([]byte{}, []byte{}, []byte{}, []byte{}, []byte{}, []byte("{}"), []byte{}, []byte{}, []byte{}, []byte{}, []byte{})
	f.Fuzz(func(t *testing.T, tbl, man, cp, inc, cons, state, df, man2, cp2, inc2, cons2 []byte) {
		c, err := NewClient(acct, review)
		if err != nil {
			t.Fatal(err)
		}
		st, err := c.LoadTable(v, tbl, man, cp, inc, cons, state)
		if err != nil {
			if _, err := c.TableFile(); err == nil {
				t.Fatal("a refused table was set")
			}
			return
		}
		if got, _ := c.TableFile(); !bytes.Equal(got, p1.table) {
			t.Fatalf("a table other than the published one was accepted (%d bytes)", len(got))
		}
		if _, err := c.LoadTableDiff(v, df, man2, cp2, inc2, cons2, st); err != nil {
			if got, _ := c.TableFile(); !bytes.Equal(got, p1.table) {
				t.Fatal("a refused diff changed the table")
			}
			return
		}
		if got, _ := c.TableFile(); !bytes.Equal(got, p2.table) {
			t.Fatal("a diff other than the published one was accepted")
		}
	})
}

// TestNewVerifierErrorsReadable: a malformed witness key is said in words
// (the messenger shows or logs the string), not as "vigil error: code=…".
func TestNewVerifierErrorsReadable(t *testing.T) {
	w := newLogWorld(t)
	_, err := NewVerifier("", w.logV, w.opV, w.logV, 1, "", 0)
	if err == nil || strings.Contains(err.Error(), "code=") || !strings.Contains(err.Error(), "witness key") {
		t.Fatalf("a log key as witness key: %v", err)
	}
}
