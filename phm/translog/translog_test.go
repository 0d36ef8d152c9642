package translog

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/vigil-oss/vigil/phm"
	"github.com/vigil-oss/vigil/phm/table"
)

const origin = "vigil.example/phm"

// seeded is a deterministic reader for key generation in tests.
type seeded struct{ b byte }

func (s *seeded) Read(p []byte) (int, error) {
	for i := range p {
		s.b++
		p[i] = s.b
	}
	return len(p), nil
}

func fixedClock() time.Time { return time.Unix(1_790_000_000, 0) }

type keys struct {
	log, operator, org note.Signer
	witness            *Cosigner
	verifier           *Verifier
}

func newKeys(tb testing.TB) keys {
	tb.Helper()
	gen := func(name string, seed byte) (note.Signer, note.Verifier) {
		skey, vkey, err := note.GenerateKey(&seeded{seed}, name)
		if err != nil {
			tb.Fatal(err)
		}
		s, err := note.NewSigner(skey)
		if err != nil {
			tb.Fatal(err)
		}
		v, err := note.NewVerifier(vkey)
		if err != nil {
			tb.Fatal(err)
		}
		return s, v
	}
	var k keys
	var logV, opV, orgV note.Verifier
	k.log, logV = gen(origin, 1)
	k.operator, opV = gen("operator.vigil.example", 2)
	k.org, orgV = gen("hotline.example", 3)
	wskey, wvkey, err := GenerateCosignerKey(&seeded{4}, "witness.example/w1")
	if err != nil {
		tb.Fatal(err)
	}
	if k.witness, err = ParseCosignerKey(wskey, fixedClock); err != nil {
		tb.Fatal(err)
	}
	wv, err := NewCosignVerifier(wvkey)
	if err != nil {
		tb.Fatal(err)
	}
	k.verifier = &Verifier{Origin: origin, Log: logV, Witnesses: []note.Verifier{wv}, Operator: opV, Orgs: []note.Verifier{orgV}}
	return k
}

// TestCosignatureIsC2SP checks the cosignature bytes against the c2sp
// tlog-cosignature text: key ID SHA-256(name ‖ "\n" ‖ 0x04 ‖ key)[:4],
// then the timestamp, then Ed25519 over "cosignature/v1\ntime T\n" ‖ body.
func TestCosignatureIsC2SP(t *testing.T) {
	k := newKeys(t)
	body := Checkpoint{Origin: origin, Tree: tlog.Tree{N: 5, Hash: tlog.Hash{1}}}.Text()
	msg, err := note.Sign(&note.Note{Text: string(body)}, k.log, k.witness)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(msg), "\n"), "\n")
	last := lines[len(lines)-1]
	name, b64, _ := strings.Cut(strings.TrimPrefix(last, "— "), " ")
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || name != "witness.example/w1" || len(raw) != 4+8+64 {
		t.Fatalf("cosignature line %q", last)
	}
	pub := k.witness.key.Public().(ed25519.PublicKey)
	id := sha256.Sum256(append(append([]byte(name+"\n"), 0x04), pub...))
	if !bytes.Equal(raw[:4], id[:4]) {
		t.Fatal("key ID is not the c2sp one")
	}
	ts := binary.BigEndian.Uint64(raw[4:12])
	if ts != uint64(fixedClock().Unix()) {
		t.Fatalf("timestamp %d", ts)
	}
	signed := "cosignature/v1\ntime " + strconv.FormatUint(ts, 10) + "\n" + string(body)
	if !ed25519.Verify(pub, []byte(signed), raw[12:]) {
		t.Fatal("signature is not over the c2sp message")
	}
	if _, err := k.verifier.Checkpoint(msg); err != nil {
		t.Fatal(err)
	}
}

// world is a log with two published table versions.
type world struct {
	k      keys
	log    *Log
	tables []*table.Table
	bundle []Bundle
}

func buildWorld(t *testing.T) *world {
	t.Helper()
	w := &world{k: newKeys(t)}
	var err error
	if w.log, err = CreateLog(t.TempDir(), origin); err != nil {
		t.Fatal(err)
	}
	alpha := phm.Group.HashToScalar([]byte("alpha"), []byte("test"))
	m := phm.SlotsFor(40)
	var all []phm.Key
	for i := range 40 {
		d := sha256.Sum256([]byte{byte(i)})
		key, _ := phm.NewKey(phm.FamilySHA256, d[:])
		all = append(all, key)
	}
	for v := uint64(1); v <= 2; v++ {
		tbl, err := table.Build(alpha, all[:20+10*v], [32]byte{9}, table.Options{Version: v, Slots: m})
		if err != nil {
			t.Fatal(err)
		}
		w.tables = append(w.tables, tbl)
		w.publish(t, tbl, v-1)
	}
	return w
}

func manifestFor(tbl *table.Table, parent uint64) *phm.Manifest {
	return &phm.Manifest{Version: tbl.Version(), Parent: parent, N: tbl.Len(), Slots: tbl.Slots(),
		Seeds: tbl.Seeds(), Public: tbl.PublicBytes(), Root: tbl.Root(),
		Sources: []phm.SourceCount{{Source: "hotline-a", Entries: tbl.Len()}, {Source: "hotline-b", Entries: tbl.Len()}}}
}

// publish signs tbl's manifest, appends it and cosigns a new checkpoint.
func (w *world) publish(t *testing.T, tbl *table.Table, parent uint64) {
	t.Helper()
	w.publishAs(t, tbl, parent, tbl.Version())
}

// publishAs is publish with the manifest's version set to version.
func (w *world) publishAs(t *testing.T, tbl *table.Table, parent, version uint64) {
	t.Helper()
	m := manifestFor(tbl, parent)
	m.Version = version
	text, err := m.MarshalText()
	if err != nil {
		t.Fatal(err)
	}
	signed, err := note.Sign(&note.Note{Text: string(text)}, w.k.operator, w.k.org)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := w.log.Append(signed)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := w.log.Sign(w.k.log, w.k.witness)
	if err != nil {
		t.Fatal(err)
	}
	n := w.log.Size()
	inc, err := w.log.ProveRecord(n, idx)
	if err != nil {
		t.Fatal(err)
	}
	var cons []tlog.Hash
	if n > 1 {
		if cons, err = w.log.ProveTree(n, n-1); err != nil {
			t.Fatal(err)
		}
	}
	w.bundle = append(w.bundle, Bundle{Manifest: signed, Checkpoint: cp, Index: idx, Inclusion: inc, Consistency: cons})
}

func TestTableVerifiesAcrossVersions(t *testing.T) {
	w := buildWorld(t)
	v := w.k.verifier
	v.OrgQuorum = 1
	m, st, err := v.Table(w.tables[0], w.bundle[0], State{})
	if err != nil {
		t.Fatal(err)
	}
	if m.Version != 1 || st.Checkpoint.N != 2 && st.Checkpoint.N != 1 {
		t.Fatalf("manifest %d, checkpoint %d", m.Version, st.Checkpoint.N)
	}
	// The device updates to version 2 from its version-1 state.
	m2, st2, err := v.Table(w.tables[1], w.bundle[1], st)
	if err != nil {
		t.Fatal(err)
	}
	if m2.Version != 2 || st2.Checkpoint.N != 2 {
		t.Fatalf("manifest %d, checkpoint %d", m2.Version, st2.Checkpoint.N)
	}
	// And refuses to go back to version 1 (its checkpoint is older, too).
	if _, _, err := v.Table(w.tables[0], w.bundle[0], st2); err == nil {
		t.Fatal("rollback to version 1 accepted")
	}

	// The log survives a reopen.
	re, err := OpenLog(w.log.dir)
	if err != nil || re.Size() != 2 {
		t.Fatalf("reopen: %v, size %d", err, re.Size())
	}
	if rec, err := re.Record(1); err != nil || !bytes.Equal(rec, w.bundle[1].Manifest) {
		t.Fatalf("record 1: %v", err)
	}
}

func TestTableRefused(t *testing.T) {
	w := buildWorld(t)
	v := w.k.verifier
	_, st1, err := v.Table(w.tables[0], w.bundle[0], State{})
	if err != nil {
		t.Fatal(err)
	}
	b := w.bundle[1]

	// A checkpoint without the witness cosignature.
	logOnly, err := w.log.Sign(w.k.log)
	if err != nil {
		t.Fatal(err)
	}
	// A forked log: same keys, another version 2 (another key set), so a
	// checkpoint of size 2 with another root.
	other, err := table.Build(phm.Group.HashToScalar([]byte("alpha"), []byte("test")), []phm.Key{mustKey(t, 99)}, [32]byte{9}, table.Options{Version: 2, Slots: w.tables[0].Slots()})
	if err != nil {
		t.Fatal(err)
	}
	// Version 2 with the same shape and count but one other key: only the
	// root tells it apart.
	var swapped []phm.Key
	for i := range 39 {
		d := sha256.Sum256([]byte{byte(i)})
		key, _ := phm.NewKey(phm.FamilySHA256, d[:])
		swapped = append(swapped, key)
	}
	sameShape, err := table.Build(phm.Group.HashToScalar([]byte("alpha"), []byte("test")), append(swapped, mustKey(t, 98)), [32]byte{9}, table.Options{Version: 2, Slots: w.tables[0].Slots()})
	if err != nil {
		t.Fatal(err)
	}
	forkLog, _ := CreateLog(t.TempDir(), origin)
	forkLog.Append([]byte("another first record\n"))
	fw := &world{k: w.k, log: forkLog}
	fw.publish(t, other, 1)

	for name, c := range map[string]struct {
		tbl phm.Table
		b   Bundle
		st  State
	}{
		"wrong table":      {w.tables[0], b, st1},
		"wrong root":       {sameShape, b, st1},
		"no cosignature":   {w.tables[1], with(b, func(b *Bundle) { b.Checkpoint = logOnly }), st1},
		"forked":           {other, fw.bundle[0], State{Checkpoint: mustCheckpoint(t, v, b.Checkpoint), Version: 2}},
		"fork consistency": {other, fw.bundle[0], st1},
		"bad inclusion":    {w.tables[1], with(b, func(b *Bundle) { b.Index = 0 }), st1},
		"unlogged":         {other, with(b, func(b *Bundle) { b.Manifest = fw.bundle[0].Manifest }), st1},
		"no operator": {w.tables[1], with(b, func(b *Bundle) {
			b.Manifest = resign(t, b.Manifest, w.k.org)
		}), st1},
		"bad consistency": {w.tables[1], with(b, func(b *Bundle) { b.Consistency = []tlog.Hash{{1}} }), st1},
	} {
		if _, _, err := v.Table(c.tbl, c.b, c.st); err == nil {
			t.Errorf("%s: accepted", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
	// Another manifest of version 2, logged after the first, is refused
	// by a device that accepted the first.
	_, st2, err := v.Table(w.tables[1], b, st1)
	if err != nil {
		t.Fatal(err)
	}
	w.publishAs(t, sameShape, 1, 2)
	if _, _, err := v.Table(sameShape, w.bundle[len(w.bundle)-1], st2); err == nil {
		t.Error("a second manifest of version 2 was accepted")
	} else if !strings.Contains(err.Error(), "second") {
		t.Errorf("second manifest refused for another reason: %v", err)
	}

	// Quorums above what was signed are refused.
	v2 := *v
	v2.Quorum = 2
	if _, _, err := v2.Table(w.tables[1], b, st1); err == nil {
		t.Error("one cosignature met a quorum of two")
	}
	v2 = *v
	v2.OrgQuorum = 2
	if _, _, err := v2.Table(w.tables[1], b, st1); err == nil {
		t.Error("one org signature met a quorum of two")
	}
	if _, _, err := v.Table(w.tables[1], b, st1); err != nil {
		t.Fatalf("the genuine update was refused: %v", err)
	}
}

func mustKey(tb testing.TB, i byte) phm.Key {
	d := sha256.Sum256([]byte{i, i})
	k, err := phm.NewKey(phm.FamilySHA256, d[:])
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func mustCheckpoint(tb testing.TB, v *Verifier, msg []byte) Checkpoint {
	c, err := v.Checkpoint(msg)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func with(b Bundle, f func(*Bundle)) Bundle {
	f(&b)
	return b
}

// resign returns the manifest's text signed by s alone.
func resign(tb testing.TB, msg []byte, s note.Signer) []byte {
	var u *note.UnverifiedNoteError
	_, err := note.Open(msg, nil)
	if !errors.As(err, &u) {
		tb.Fatal(err)
	}
	out, err := note.Sign(&note.Note{Text: u.Note.Text}, s)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func TestWitnessRefusesFork(t *testing.T) {
	w := buildWorld(t)
	k := w.k
	wit := &Witness{Signer: k.witness, Origin: origin, Log: k.verifier.Log}
	cp1, _ := w.log.Sign(k.log)
	if _, err := wit.Cosign(cp1, nil); err != nil {
		t.Fatal(err)
	}
	// Another log of the same origin and key, with one other record.
	forkLog, _ := CreateLog(t.TempDir(), origin)
	forkLog.Append([]byte("another history\n"))
	forkLog.Append([]byte("and more\n"))
	fcp, _ := forkLog.Sign(k.log)
	if _, err := wit.Cosign(fcp, nil); err == nil {
		t.Fatal("witness cosigned a fork of the same size")
	}
	// A genuine extension with its proof is cosigned.
	w.log.Append([]byte("third\n"))
	cp3, _ := w.log.Sign(k.log)
	p, _ := w.log.ProveTree(3, 2)
	out, err := wit.Cosign(cp3, p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.verifier.Checkpoint(out); err != nil {
		t.Fatal(err)
	}
	if err := w.log.SetCheckpoint(out); err != nil {
		t.Fatal(err)
	}
	if err := w.log.SetCheckpoint(cp1); err == nil {
		t.Fatal("stored a checkpoint of an older tree")
	}
}

func TestParseCheckpointRefuses(t *testing.T) {
	good := string(Checkpoint{Origin: origin, Tree: tlog.Tree{N: 12, Hash: tlog.Hash{3}}}.Text())
	if c, err := ParseCheckpoint([]byte(good)); err != nil || c.N != 12 {
		t.Fatalf("good checkpoint: %v", err)
	}
	for name, s := range map[string]string{
		"no newline":   strings.TrimSuffix(good, "\n"),
		"extension":    good + "extra\n",
		"leading zero": strings.Replace(good, "\n12\n", "\n012\n", 1),
		"negative":     strings.Replace(good, "\n12\n", "\n-1\n", 1),
		"short hash":   strings.Replace(good, "AwAA", "AwA", 1),
		"empty origin": strings.Replace(good, origin, "", 1),
		"space origin": strings.Replace(good, origin, " x", 1),
	} {
		if _, err := ParseCheckpoint([]byte(s)); err == nil {
			t.Errorf("%s: parsed", name)
		}
	}
}

// FuzzParseCheckpoint: never panics; what parses prints back the same.
func FuzzParseCheckpoint(f *testing.F) {
	f.Add(Checkpoint{Origin: origin, Tree: tlog.Tree{N: 12, Hash: tlog.Hash{3}}}.Text())
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseCheckpoint(data)
		if err != nil {
			return
		}
		if !bytes.Equal(c.Text(), data) {
			t.Fatalf("checkpoint does not round-trip: %q", data)
		}
	})
}

// FuzzVerifyCheckpoint: a signed checkpoint with arbitrary edits never
// panics the verifier, and nothing but the genuine one verifies.
func FuzzVerifyCheckpoint(f *testing.F) {
	k := newKeys(f)
	body := Checkpoint{Origin: origin, Tree: tlog.Tree{N: 7, Hash: tlog.Hash{4}}}.Text()
	msg, err := note.Sign(&note.Note{Text: string(body)}, k.log, k.witness)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(msg)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := k.verifier.Checkpoint(data)
		if err != nil {
			return
		}
		if !bytes.Equal(c.Text(), body) {
			t.Fatalf("a forged checkpoint verified: %q", data)
		}
	})
}

// FuzzVerifyManifest: a signed manifest with arbitrary edits never panics
// the verifier, and only the genuine text verifies.
func FuzzVerifyManifest(f *testing.F) {
	k := newKeys(f)
	m := &phm.Manifest{Version: 2, Parent: 1, N: 3, Slots: 4, Sources: []phm.SourceCount{{Source: "a", Entries: 3}}}
	text, err := m.MarshalText()
	if err != nil {
		f.Fatal(err)
	}
	msg, err := note.Sign(&note.Note{Text: string(text)}, k.operator, k.org)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(msg)
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := k.verifier.Manifest(data)
		if err != nil {
			return
		}
		out, _ := got.MarshalText()
		if !bytes.Equal(out, text) {
			t.Fatalf("a forged manifest verified: %q", data)
		}
	})
}
