package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cloudflare/circl/group"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/feed"
	"github.com/vigil-oss/vigil/phm"
	"github.com/vigil-oss/vigil/phm/list"
	"github.com/vigil-oss/vigil/phm/table"
	"github.com/vigil-oss/vigil/phm/translog"
)

// PHMTableCommand builds and verifies the blinded tables of private hash
// matching: `vigil phm table-keys|build-table|verify-table`. The rest of
// `vigil phm` (voucher, open) lives in phm.go; PHMTableCommand.Run takes
// the subcommand name first, so phm.go's dispatch can hand these three on.
type PHMTableCommand struct{ *Main }

// phmTableSubcommands are the subcommands PHMTableCommand runs.
var phmTableSubcommands = []string{"table-keys", "build-table", "verify-table", "cosign", "witness", "org-sign"}

const phmTableUsage = `Usage:
	vigil phm table-keys --out DIR [--origin NAME] [--witness NAME]
	vigil phm build-table [--data DIR] --keys DIR --log DIR --out DIR [--bank BANK[,BANK…]] [--sources FILE] [--require-jurisdiction] [--require-quality] [--require-keyed KEYID] [--parent DIR] [--headroom PCT] [--org-key-file FILE]
	vigil phm build-table [--data DIR] --keys DIR --check DIR [--bank …] [--sources FILE] [list flags as built]
	vigil phm org-sign --key-file FILE DRAFT
	vigil phm cosign --key-file FILE --log-key VKEY --state FILE [--origin NAME] [--log DIR] DIR
	vigil phm witness serve --key-file FILE --log-key VKEY --state FILE --token-file FILE [--origin NAME] [--listen ADDR]
	vigil phm verify-table --log-key VKEY --operator-key VKEY --witness-key VKEY [--quorum N] [--origin NAME] [--org-key VKEY] [--org-quorum N] [--state FILE] [--log DIR] [--base DIR] DIR

The private-matching table is the blinded list a messenger's devices
download (docs: private hash matching in the README).

table-keys writes the secrets of a table into DIR (created, files 0600):
alpha (the blinding scalar), seed (the build seed), log.key (signs
checkpoints), operator.key (signs manifests) and witness.key (a local
cosigning witness, for tests and small deployments), and prints the
verifier keys devices pin.

build-table selects the list from the store's banks (--bank: the positive
banks to draw from, default every enabled one; every enabled negative bank
suppresses): only hashes that two banks hold from different organisations
(in different jurisdictions where --sources says), PDQ with 128 ones and,
where known, quality ≥ 50, one key per content, near-duplicate PDQ (within
8 bits) kept once. It builds the 3-way cuckoo table under alpha, signs
the manifest, appends it to the transparency log in --log (created if
missing), cosigns the checkpoint with the witness key after checking it
extends the last one, and writes table.bin, manifest, checkpoint,
inclusion and consistency into --out. With --parent (an earlier --out)
the table keeps the parent's size and seeds when the list still fits, and
a diff against it is written too; --headroom reserves that room (percent
over load 0.8's size). --require-keyed KEYID (the id vigil phm key-entries
prints for the review service's second key) leaves out every hash none of
whose entries has a keyed second hash under that key, counted in the
stats as dropped_no_keyed_hash: vigil serve --phm-second-key refuses
their matches, so the table would only carry keys no match of which is
confirmed. Keyed hashes are written for PDQ entries, so this lists PDQ only.
With --check DIR (an auditor holding the table's secrets and the same
banks) it writes nothing: it rebuilds DIR's version in its shape and
prints whether that gives DIR's manifest (entries, seeds, P, root),
exiting 1 if not. Verify DIR with verify-table first.
With --draft FILE it writes only the manifest the build would log next,
for organisations to sign on their own machines (org-sign); a later
build-table with --org-signed FILE (repeatable) adds each signature if
that build gives the same manifest byte for byte, and refuses otherwise.

org-sign is run by a contributing organisation on a draft: it prints the
manifest's version, entries and sources on stderr and the draft signed
with --key-file (a note signer key, vigil feed keygen) on stdout, for
build-table --org-signed. The key never leaves the organisation.

cosign is a witness: it adds its cosignature to DIR's checkpoint only if the
log signed it and it extends the last checkpoint this witness cosigned
(kept in --state; --log recomputes the consistency proof from it). Run by
an independent party on the log-signed checkpoint of a build-table run
whose --keys hold no witness.key.

witness serve is the same witness as a server: the c2sp tlog-witness call
POST /add-checkpoint (body: "old SIZE", the consistency proof's base64
hashes a line each, an empty line, the log-signed checkpoint; at most 16
KiB), for the log operator only (Authorization: Bearer and the token in
--token-file). It answers the witness's cosignature line, 409 with its
size when SIZE is not the size it last cosigned, 403 for a checkpoint the
log did not sign, 422 for a fork or a proof that does not hold. --state is
saved before each cosignature is given out. GET /healthz needs no token.

verify-table checks DIR as a device would and refuses it unless the
checkpoint is signed by the log and cosigned by --quorum witnesses, extends
the checkpoint in --state (kept and updated on success; --log recomputes
the consistency proof from it), includes the manifest, the manifest is the
operator's (and --org-quorum organisations') and the table is the one it
describes. With --base (an earlier verified DIR) the table is rebuilt from
the base table and DIR's diff instead of DIR's table.bin.`

// Run runs the subcommand in args[0].
func (c *PHMTableCommand) Run(ctx context.Context, args []string) error {
	sub, args, err := c.group(args, phmTableUsage, phmTableSubcommands...)
	if err != nil {
		return err
	}
	fs := c.newFlagSet("vigil phm "+sub, synopsis(phmTableUsage, "vigil phm "+sub))
	switch sub {
	case "table-keys":
		return c.tableKeys(fs, args)
	case "build-table":
		return c.buildTable(ctx, fs, args)
	case "cosign":
		return c.cosign(fs, args)
	case "witness":
		return c.witnessServe(ctx, fs, args)
	case "org-sign":
		return c.orgSign(fs, args)
	default:
		return c.verifyTable(fs, args)
	}
}

// Files of a table directory (--out) and of a keys directory.
const (
	fileTable       = "table.bin"
	fileManifest    = "manifest"
	fileCheckpoint  = "checkpoint"
	fileInclusion   = "inclusion"
	fileConsistency = "consistency"
	fileDiff        = "diff"
)

const defaultPHMOrigin = "vigil-phm"

func (c *PHMTableCommand) tableKeys(fs *flagSet, args []string) error {
	out := fs.String("out", "", "directory to write the keys to (created; must not hold them)")
	origin := fs.String("origin", defaultPHMOrigin, "the log's origin, also the log key's name")
	witness := fs.String("witness", "witness.local", "the local witness's name")
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := fs.nargs(0, 0, "no arguments"); err != nil {
		return err
	}
	if *out == "" {
		return fs.usageErrorf("phm table-keys needs --out")
	}
	if !translog.ValidOrigin(*origin) || strings.ContainsAny(*origin, " +") {
		return fs.usageErrorf("--origin must be printable, without spaces or +")
	}
	alpha := phm.Group.RandomNonZeroScalar(rand.Reader)
	ab, err := alpha.MarshalBinary()
	if err != nil {
		return err
	}
	var seed [32]byte
	rand.Read(seed[:])
	logS, logV, err := note.GenerateKey(rand.Reader, *origin)
	if err != nil {
		return err
	}
	opS, opV, err := note.GenerateKey(rand.Reader, *origin+"/operator")
	if err != nil {
		return err
	}
	wS, wV, err := translog.GenerateCosignerKey(rand.Reader, *witness)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o700); err != nil {
		return err
	}
	for name, v := range map[string]string{"alpha": hex.EncodeToString(ab), "seed": hex.EncodeToString(seed[:]), "log.key": logS, "operator.key": opS, "witness.key": wS} {
		if err := writeSecret(filepath.Join(*out, name), v+"\n"); err != nil {
			return err
		}
	}
	return json.NewEncoder(c.Stdout).Encode(map[string]string{"origin": *origin, "log_key": logV, "operator_key": opV, "witness_key": wV})
}

func writeSecret(path, s string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(s); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// tableKeys are the secrets build-table reads from --keys.
type tableSecrets struct {
	alpha    group.Scalar
	seed     [32]byte
	log      note.Signer
	operator note.Signer
	witness  *translog.Cosigner // nil when the directory has none
}

func readTableSecrets(dir string, now func() time.Time) (*tableSecrets, error) {
	var s tableSecrets
	ab, err := readHexFile(filepath.Join(dir, "alpha"), 32)
	if err != nil {
		return nil, err
	}
	s.alpha = phm.Group.NewScalar()
	if err := s.alpha.UnmarshalBinary(ab); err != nil || s.alpha.IsZero() {
		return nil, fmt.Errorf("%s: not a blinding scalar", filepath.Join(dir, "alpha"))
	}
	sb, err := readHexFile(filepath.Join(dir, "seed"), 32)
	if err != nil {
		return nil, err
	}
	s.seed = [32]byte(sb)
	if s.log, err = readSigner(filepath.Join(dir, "log.key")); err != nil {
		return nil, err
	}
	if s.operator, err = readSigner(filepath.Join(dir, "operator.key")); err != nil {
		return nil, err
	}
	wb, err := readSmall(filepath.Join(dir, "witness.key"), feed.MaxKeyFileBytes)
	if err == nil {
		if s.witness, err = translog.ParseCosignerKey(string(wb), now); err != nil {
			return nil, fmt.Errorf("%s: not a witness key", filepath.Join(dir, "witness.key"))
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	return &s, nil
}

func readHexFile(path string, n int) ([]byte, error) {
	b, err := readSmall(path, 256)
	if err != nil {
		return nil, err
	}
	out, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(out) != n {
		return nil, fmt.Errorf("%s: want %d bytes of hex", path, n)
	}
	return out, nil
}

// listedTypes are the signal types a PHM table lists.
var listedTypes = []vigil.SignalType{vigil.SignalPDQ, vigil.SignalSHA256, vigil.SignalMD5}

func (c *PHMTableCommand) buildTable(ctx context.Context, fs *flagSet, args []string) error {
	data := dataFlag(fs)
	keysDir := fs.String("keys", "", "directory of the table's secrets (from phm table-keys)")
	logDir := fs.String("log", "", "transparency log directory (created if missing)")
	out := fs.String("out", "", "directory to write the table and its proofs to (created)")
	banks := fs.String("bank", "", "positive banks to draw from, separated by commas (default: every enabled positive bank)")
	sources := fs.String("sources", "", "file mapping entry sources to organisations and jurisdictions: SOURCE ORG [JURISDICTION] per line")
	requireJur := fs.Bool("require-jurisdiction", false, "count only sources whose jurisdiction the sources file gives")
	requireQ := fs.Bool("require-quality", false, "drop PDQ entries of unknown quality (banks store none today, so this drops every PDQ)")
	requireKeyed := fs.String("require-keyed", "", "leave out hashes none of whose entries has a keyed second hash under this key id (vigil phm key-entries prints it)")
	parent := fs.String("parent", "", "the previous version's --out directory: keep its size and seeds when the list fits, and write a diff")
	headroom := fs.Int("headroom", 0, "percent of extra slots over load 0.8's size, so later versions keep the shape and ship as diffs")
	fs.limit("headroom", between(0, 100))
	check := fs.String("check", "", "a published version's directory: rebuild its table from the banks and --keys in its shape, and say whether it gives that manifest (writes no log, no table; for auditors)")
	var orgKeys, orgSigned stringsFlag
	fs.Var(&orgKeys, "org-key-file", "an organisation's note signer key file to cosign the manifest with (repeatable)")
	draft := fs.String("draft", "", "write only the manifest the next version would log to this file, for vigil phm org-sign (logs nothing)")
	fs.Var(&orgSigned, "org-signed", "a draft an organisation signed with vigil phm org-sign: its signature is added if this build gives the same manifest (repeatable)")
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := fs.nargs(0, 0, "no arguments"); err != nil {
		return err
	}
	switch {
	case *check != "":
		if *logDir != "" || *out != "" || *parent != "" || *draft != "" || len(orgKeys)+len(orgSigned) > 0 {
			return fs.usageErrorf("phm build-table --check writes nothing: no --log, --out, --parent, --draft or organisation signatures")
		}
	case *draft != "":
		if *logDir == "" || *out != "" || len(orgKeys)+len(orgSigned) > 0 {
			return fs.usageErrorf("phm build-table --draft needs --log (for the next version) and takes no --out or organisation signatures")
		}
	case *keysDir == "" || *logDir == "" || *out == "":
		return fs.usageErrorf("phm build-table needs --keys, --log and --out")
	}
	if *keysDir == "" {
		return fs.usageErrorf("phm build-table needs --keys")
	}
	var checked *phm.Manifest
	if *check != "" {
		var err error
		if checked, err = readManifestFile(filepath.Join(*check, fileManifest)); err != nil {
			return err
		}
	}
	now := time.Now
	sec, err := readTableSecrets(*keysDir, now)
	if err != nil {
		return err
	}
	var orgLines [][]byte
	for _, f := range orgSigned {
		b, err := readSmall(f, phm.MaxManifestBytes+translog.MaxCheckpointBytes)
		if err != nil {
			return err
		}
		orgLines = append(orgLines, b)
	}
	var orgSigners []note.Signer
	for _, f := range orgKeys {
		s, err := readSigner(f)
		if err != nil {
			return err
		}
		orgSigners = append(orgSigners, s)
	}
	opts := list.Options{RequireJurisdiction: *requireJur, RequireQuality: *requireQ}
	if *sources != "" {
		b, err := readSmall(*sources, list.MaxOrgsFileBytes)
		if err != nil {
			return err
		}
		if opts.Orgs, err = list.ParseOrgs(b); err != nil {
			return err
		}
	}
	var par *parentTable
	if *parent != "" {
		if par, err = readParent(*parent); err != nil {
			return err
		}
	}

	st, err := c.openStore(ctx, data)
	if err != nil {
		return err
	}
	defer st.Close()
	in, err := phmInput(ctx, st, *banks)
	if err != nil {
		return err
	}
	if *requireKeyed != "" {
		keyed, err := keyedEntries(ctx, st.PHM, *requireKeyed, in.Entries)
		if err != nil {
			return err
		}
		opts.Keyed = func(e *vigil.Entry) bool { return keyed[e.ID] }
	}
	sel, err := list.Select(in, opts)
	if err != nil {
		return err
	}
	if checked != nil {
		return c.checkRebuild(sec, sel, checked)
	}

	lg, err := translog.OpenLog(*logDir)
	if vigil.ErrorCode(err) == vigil.ENOTFOUND {
		lg, err = translog.CreateLog(*logDir, sec.log.Name())
	}
	if err != nil {
		return err
	}
	if lg.Origin() != sec.log.Name() {
		return fmt.Errorf("log %s has origin %q, the log key is %q", *logDir, lg.Origin(), sec.log.Name())
	}
	version := uint64(lg.Size()) + 1
	n := len(sel.Selected)
	slots := phm.SlotsFor(n)
	slots += slots * uint64(*headroom) / 100
	var parentVersion uint64
	if par != nil {
		parentVersion = par.manifest.Version
		if phm.SlotsFor(n) <= par.manifest.Slots {
			slots = par.manifest.Slots
		}
	}
	tbl, err := table.Build(sec.alpha, sel.Keys(), sec.seed, table.Options{Version: version, Slots: slots})
	if err != nil {
		return err
	}
	man := &phm.Manifest{Version: version, Parent: parentVersion, N: tbl.Len(), Slots: tbl.Slots(), Seeds: tbl.Seeds(),
		Public: tbl.PublicBytes(), Root: tbl.Root(), Sources: sel.Sources}
	text, err := man.MarshalText()
	if err != nil {
		return err
	}
	if *draft != "" {
		if err := writeNew(*draft, text); err != nil {
			return err
		}
		return json.NewEncoder(c.Stdout).Encode(map[string]any{"draft": *draft, "version": version, "parent": parentVersion, "n": tbl.Len(),
			"slots": tbl.Slots(), "root": hex.EncodeToString(man.Root[:]), "stats": sel.Stats, "sources": sel.Sources})
	}
	signed, err := note.Sign(&note.Note{Text: string(text)}, append([]note.Signer{sec.operator}, orgSigners...)...)
	if err != nil {
		return fmt.Errorf("sign manifest: %w", err)
	}
	for i, b := range orgLines {
		lines, err := orgSignatureLines(b, text)
		if err != nil {
			return fmt.Errorf("--org-signed %s: %w", orgSigned[i], err)
		}
		signed = append(signed, lines...)
	}

	// The last checkpoint, for the witness's consistency check and the
	// consistency proof devices need.
	var last translog.Checkpoint
	if lg.Size() > 0 {
		if last, err = lastCheckpoint(lg); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	idx, err := lg.Append(signed)
	if err != nil {
		return err
	}
	cp, err := lg.Sign(sec.log)
	if err != nil {
		return err
	}
	var cons []tlog.Hash
	if last.N > 0 {
		if cons, err = lg.ProveTree(lg.Size(), last.N); err != nil {
			return err
		}
	}
	if sec.witness != nil {
		w := &translog.Witness{Signer: sec.witness, Origin: lg.Origin(), Log: verifierOf(sec.log), Last: last}
		if cp, err = w.Cosign(cp, cons); err != nil {
			return fmt.Errorf("witness: %w", err)
		}
		if err := lg.SetCheckpoint(cp); err != nil {
			return err
		}
	}
	inc, err := lg.ProveRecord(lg.Size(), idx)
	if err != nil {
		return err
	}

	var tb bytes.Buffer
	if _, err := tbl.WriteTo(&tb); err != nil {
		return err
	}
	files := map[string][]byte{
		fileTable: tb.Bytes(), fileManifest: signed, fileCheckpoint: cp,
		fileInclusion:   translog.FormatProofFile("index", idx, inc),
		fileConsistency: translog.FormatProofFile("old", last.N, cons),
	}
	res := map[string]any{"version": version, "parent": parentVersion, "n": tbl.Len(), "slots": tbl.Slots(),
		"root": hex.EncodeToString(man.Root[:]), "table_bytes": tb.Len(), "log_size": lg.Size(), "stats": sel.Stats, "sources": sel.Sources}
	if *requireKeyed != "" {
		// How many hashes the table leaves out for want of a keyed hash
		// (also in the stats, as dropped_no_keyed_hash).
		res["require_keyed"], res["left_out_no_keyed_hash"] = *requireKeyed, sel.Stats["dropped_no_keyed_hash"]
	}
	if par != nil && par.table != nil {
		if d, err := table.MakeDiff(par.table, tbl); err == nil {
			db, _ := d.MarshalBinary()
			files[fileDiff] = db
			res["diff_slots"], res["diff_bytes"] = len(d.Indexes), len(db)
		} else {
			res["diff"] = "none: " + vigil.ErrorMessage(err)
		}
	}
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(*out, name), b, 0o644); err != nil {
			return err
		}
	}
	return json.NewEncoder(c.Stdout).Encode(res)
}

// phmInput reads the banks and the active entries build-table selects
// from: the named positive banks (all enabled ones when names is empty)
// and every enabled negative bank.
func phmInput(ctx context.Context, st *store, names string) (list.Input, error) {
	all, err := st.Banks.ListBanks(ctx)
	if err != nil {
		return list.Input{}, err
	}
	want := map[string]bool{}
	for _, n := range strings.Split(names, ",") {
		if n = strings.TrimSpace(n); n != "" {
			want[n] = true
		}
	}
	var in list.Input
	use := map[int64]bool{}
	for _, b := range all {
		if b.Negative || len(want) == 0 || want[b.Name] {
			in.Banks = append(in.Banks, b)
			use[b.ID] = true
			delete(want, b.Name)
		}
	}
	for n := range want {
		return list.Input{}, vigil.Errorf(vigil.ENOTFOUND, "no bank %q", n)
	}
	for _, t := range listedTypes {
		if _, err := st.Entries.ForEachActiveEntry(ctx, t, func(e *vigil.Entry) error {
			if use[e.BankID] {
				cp := *e
				in.Entries = append(in.Entries, &cp)
			}
			return nil
		}); err != nil {
			return list.Input{}, err
		}
	}
	return in, nil
}

// keyedEntries are those of entries' PDQ entries that have a keyed second
// hash under keyID, read in calls of at most vigil.MaxPHMKeyedHashes.
func keyedEntries(ctx context.Context, st vigil.PHMService, keyID string, entries []*vigil.Entry) (map[int64]bool, error) {
	if err := vigil.ValidatePHMKeyID(keyID); err != nil {
		return nil, fmt.Errorf("--require-keyed: %w", err)
	}
	if st == nil {
		return nil, fmt.Errorf("--require-keyed: this store keeps no keyed hashes")
	}
	var ids []int64
	for _, e := range entries {
		if e.SignalType == vigil.SignalPDQ {
			ids = append(ids, e.ID)
		}
	}
	out := map[int64]bool{}
	for n := 0; n < len(ids); n += vigil.MaxPHMKeyedHashes {
		got, err := st.PHMKeyedHashes(ctx, keyID, ids[n:min(n+vigil.MaxPHMKeyedHashes, len(ids))])
		if err != nil {
			return nil, fmt.Errorf("keyed hashes: %w", err)
		}
		for id := range got {
			out[id] = true
		}
	}
	return out, nil
}

// lastCheckpoint is the log's stored checkpoint, read without checking
// signatures (it is our own).
func lastCheckpoint(lg *translog.Log) (translog.Checkpoint, error) {
	msg, err := lg.Checkpoint()
	if err != nil {
		return translog.Checkpoint{}, fmt.Errorf("last checkpoint: %w", err)
	}
	var u *note.UnverifiedNoteError
	if _, err := note.Open(msg, nil); !errors.As(err, &u) {
		return translog.Checkpoint{}, errors.New("last checkpoint: malformed note")
	}
	return translog.ParseCheckpoint([]byte(u.Note.Text))
}

// verifierOf is the note verifier of one of our signer keys.
func verifierOf(s note.Signer) note.Verifier {
	ks, ok := s.(*keySigner)
	if !ok {
		return nil
	}
	vkey, err := feed.VerifierKey(ks.skey)
	if err != nil {
		return nil
	}
	v, _ := note.NewVerifier(vkey)
	return v
}

// orgSignatureLines returns the signature lines of a draft an
// organisation signed (org-sign's output), if its text is the manifest
// text of this build: a signature over any other text would not verify,
// and would mean the list changed since the draft.
func orgSignatureLines(signed, text []byte) ([]byte, error) {
	i := bytes.LastIndex(signed, []byte("\n\n"))
	if i < 0 {
		return nil, errors.New("not a signed manifest")
	}
	if !bytes.Equal(signed[:i+1], text) {
		return nil, errors.New("signed another manifest than this build makes (the list or the log changed since the draft): make a new draft")
	}
	sigs := signed[i+2:]
	if len(sigs) == 0 {
		return nil, errors.New("no signature")
	}
	for l := range bytes.Lines(sigs) {
		if !bytes.HasPrefix(l, []byte("— ")) || !bytes.HasSuffix(l, []byte("\n")) {
			return nil, fmt.Errorf("not a signature line: %q", l)
		}
	}
	return sigs, nil
}

// orgSign signs a draft manifest with an organisation's key, on the
// organisation's machine.
func (c *PHMTableCommand) orgSign(fs *flagSet, args []string) error {
	keyFile := fs.String("key-file", "", "the organisation's note signer key file (vigil feed keygen)")
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := fs.nargs(1, 1, "one draft file"); err != nil {
		return err
	}
	if *keyFile == "" {
		return fs.usageErrorf("phm org-sign needs --key-file")
	}
	s, err := readSigner(*keyFile)
	if err != nil {
		return err
	}
	text, err := readSmall(fs.Arg(0), phm.MaxManifestBytes)
	if err != nil {
		return err
	}
	m, err := phm.ParseManifest(text)
	if err != nil {
		return fmt.Errorf("%s: %w", fs.Arg(0), err)
	}
	signed, err := note.Sign(&note.Note{Text: string(text)}, s)
	if err != nil {
		return fmt.Errorf("sign %s: %w", fs.Arg(0), err)
	}
	fmt.Fprintf(c.Stderr, "vigil: signing version %d (parent %d): %d entries, %d slots, root %x\n", m.Version, m.Parent, m.N, m.Slots, m.Root)
	for _, src := range m.Sources {
		fmt.Fprintf(c.Stderr, "vigil:   %s %d\n", src.Source, src.Entries)
	}
	_, err = c.Stdout.Write(signed)
	return err
}

// checkRebuild rebuilds the table of a published manifest from the
// selected list and the table's secrets, in the manifest's version and
// shape, and prints whether it is that manifest's table: the same entry
// count, size, seeds, P and root. A table that is not is an error (exit 1)
// after the report.
func (c *PHMTableCommand) checkRebuild(sec *tableSecrets, sel *list.Result, m *phm.Manifest) error {
	res := map[string]any{"version": m.Version, "n": len(sel.Selected), "manifest_n": m.N, "stats": sel.Stats,
		"manifest_root": hex.EncodeToString(m.Root[:]), "rebuilt": false}
	var why string
	if phm.SlotsFor(len(sel.Selected)) > m.Slots {
		why = fmt.Sprintf("%d selected entries do not fit the manifest's %d slots", len(sel.Selected), m.Slots)
	} else {
		tbl, err := table.Build(sec.alpha, sel.Keys(), sec.seed, table.Options{Version: m.Version, Slots: m.Slots})
		if err != nil {
			return err
		}
		root := tbl.Root()
		res["root"] = hex.EncodeToString(root[:])
		switch {
		case tbl.PublicBytes() != m.Public:
			why = "the keys' α is not the manifest's (P differs)"
		case tbl.Seeds() != m.Seeds:
			why = "the keys' build seed is not the manifest's (seeds differ)"
		case tbl.Len() != m.N:
			why = fmt.Sprintf("%d entries selected, the manifest lists %d", tbl.Len(), m.N)
		case root != m.Root:
			why = "the rebuilt root is not the manifest's"
		default:
			res["rebuilt"] = true
		}
	}
	if why != "" {
		res["mismatch"] = why
	}
	if err := json.NewEncoder(c.Stdout).Encode(res); err != nil {
		return err
	}
	if why != "" {
		return errSilent
	}
	return nil
}

// parentTable is an earlier build-table output.
type parentTable struct {
	manifest *phm.Manifest
	table    *table.Table // nil when the directory has no table.bin
}

func readParent(dir string) (*parentTable, error) {
	m, err := readManifestFile(filepath.Join(dir, fileManifest))
	if err != nil {
		return nil, err
	}
	p := &parentTable{manifest: m}
	f, err := os.Open(filepath.Join(dir, fileTable))
	if errors.Is(err, os.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if p.table, err = table.Load(f, 0); err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name(), err)
	}
	if err := p.table.Verify(m); err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name(), err)
	}
	return p, nil
}

// readManifestFile reads a signed manifest without checking signatures
// (the caller's own output).
func readManifestFile(path string) (*phm.Manifest, error) {
	b, err := readSmall(path, phm.MaxManifestBytes+translog.MaxCheckpointBytes)
	if err != nil {
		return nil, err
	}
	var u *note.UnverifiedNoteError
	if _, err := note.Open(b, nil); !errors.As(err, &u) {
		return nil, fmt.Errorf("%s: malformed manifest note", path)
	}
	return phm.ParseManifest([]byte(u.Note.Text))
}

func (c *PHMTableCommand) cosign(fs *flagSet, args []string) error {
	keyFile := fs.String("key-file", "", "the witness's signer key file (from phm table-keys)")
	logKey := fs.String("log-key", "", "the log's note verifier key")
	origin := fs.String("origin", "", "the log's origin (default: the log key's name)")
	stateFile := fs.String("state", "", "file keeping the last checkpoint this witness cosigned (created; updated on success)")
	logDir := fs.String("log", "", "log directory to compute the consistency proof from --state's checkpoint")
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := fs.nargs(1, 1, "a table DIR"); err != nil {
		return err
	}
	if *keyFile == "" || *logKey == "" || *stateFile == "" {
		return fs.usageErrorf("phm cosign needs --key-file, --log-key and --state")
	}
	lv, err := note.NewVerifier(*logKey)
	if err != nil {
		return fs.usageErrorf("--log-key: %v", err)
	}
	kb, err := readSmall(*keyFile, feed.MaxKeyFileBytes)
	if err != nil {
		return err
	}
	signer, err := translog.ParseCosignerKey(string(kb), time.Now)
	if err != nil {
		return fmt.Errorf("key file %s: not a witness key", *keyFile) // never the key itself
	}
	w := &translog.Witness{Signer: signer, Origin: cmpOr(*origin, lv.Name()), Log: lv}
	st, err := readPHMState(*stateFile, w.Origin)
	if err != nil {
		return err
	}
	w.Last = st.Checkpoint
	dir := fs.Arg(0)
	b, err := readBundle(dir)
	if err != nil {
		return err
	}
	n, err := note.Open(b.Checkpoint, note.VerifierList(lv))
	if err != nil {
		return fmt.Errorf("checkpoint refused: %v", err)
	}
	cp, err := translog.ParseCheckpoint([]byte(n.Text))
	if err != nil {
		return err
	}
	proof := b.Consistency
	if w.Last.N > 0 && w.Last.N < cp.N && b.consistencyFrom != w.Last.N {
		if *logDir == "" {
			return fmt.Errorf("%s proves consistency from a log of %d, this witness last cosigned %d: pass --log", dir, b.consistencyFrom, w.Last.N)
		}
		lg, err := translog.OpenLog(*logDir)
		if err != nil {
			return err
		}
		if proof, err = lg.ProveTree(cp.N, w.Last.N); err != nil {
			return err
		}
	}
	out, err := w.Cosign(b.Checkpoint, proof)
	if err != nil {
		return fmt.Errorf("checkpoint refused: %s", vigil.ErrorMessage(err))
	}
	if err := os.WriteFile(filepath.Join(dir, fileCheckpoint), out, 0o644); err != nil {
		return err
	}
	if err := writePHMState(*stateFile, translog.State{Checkpoint: w.Last, Version: st.Version, Root: st.Root}); err != nil {
		return err
	}
	return json.NewEncoder(c.Stdout).Encode(map[string]any{"cosigned": true, "log_size": w.Last.N, "witness": signer.Name()})
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (c *PHMTableCommand) verifyTable(fs *flagSet, args []string) error {
	logKey := fs.String("log-key", "", "the log's note verifier key")
	opKey := fs.String("operator-key", "", "the operator's note verifier key (signs manifests)")
	origin := fs.String("origin", "", "the log's origin (default: the log key's name)")
	var witnessKeys, orgKeys stringsFlag
	fs.Var(&witnessKeys, "witness-key", "a trusted witness's cosignature verifier key (repeatable)")
	fs.Var(&orgKeys, "org-key", "a contributing organisation's note verifier key (repeatable)")
	quorum := fs.Int("quorum", 1, "witness cosignatures required")
	fs.limit("quorum", atLeast(1))
	orgQuorum := fs.Int("org-quorum", 0, "organisation signatures required on the manifest")
	stateFile := fs.String("state", "", "file keeping the last verified checkpoint and version (created; updated on success)")
	logDir := fs.String("log", "", "log directory to compute the consistency proof from --state's checkpoint")
	base := fs.String("base", "", "an earlier verified table directory: rebuild the table from it and DIR's diff")
	if err := fs.parse(args); err != nil {
		return err
	}
	if err := fs.nargs(1, 1, "a table DIR"); err != nil {
		return err
	}
	if *logKey == "" || *opKey == "" || len(witnessKeys) == 0 {
		return fs.usageErrorf("phm verify-table needs --log-key, --operator-key and --witness-key")
	}
	v := &translog.Verifier{Quorum: *quorum, OrgQuorum: *orgQuorum}
	var err error
	if v.Log, err = note.NewVerifier(*logKey); err != nil {
		return fs.usageErrorf("--log-key: %v", err)
	}
	if v.Operator, err = note.NewVerifier(*opKey); err != nil {
		return fs.usageErrorf("--operator-key: %v", err)
	}
	for _, k := range witnessKeys {
		w, err := translog.NewCosignVerifier(k)
		if err != nil {
			return fs.usageErrorf("--witness-key: %s", vigil.ErrorMessage(err))
		}
		v.Witnesses = append(v.Witnesses, w)
	}
	for _, k := range orgKeys {
		o, err := note.NewVerifier(k)
		if err != nil {
			return fs.usageErrorf("--org-key: %v", err)
		}
		v.Orgs = append(v.Orgs, o)
	}
	v.Origin = *origin
	if v.Origin == "" {
		v.Origin = v.Log.Name()
	}
	dir := fs.Arg(0)

	var st translog.State
	if *stateFile != "" {
		if st, err = readPHMState(*stateFile, v.Origin); err != nil {
			return err
		}
	}
	b, err := readBundle(dir)
	if err != nil {
		return err
	}
	cp, err := v.Checkpoint(b.Checkpoint)
	if err != nil {
		return fmt.Errorf("table refused: %s", vigil.ErrorMessage(err))
	}
	// The directory proves consistency from the log's previous size; a
	// device further behind needs a proof from its own size.
	if st.Checkpoint.N > 0 && st.Checkpoint.N < cp.N && b.consistencyFrom != st.Checkpoint.N {
		if *logDir == "" {
			return fmt.Errorf("%s proves consistency from a log of %d, the state has %d: pass --log", dir, b.consistencyFrom, st.Checkpoint.N)
		}
		lg, err := translog.OpenLog(*logDir)
		if err != nil {
			return err
		}
		if b.Consistency, err = lg.ProveTree(cp.N, st.Checkpoint.N); err != nil {
			return err
		}
	}

	var tbl *table.Table
	if *base != "" {
		if tbl, err = tableFromDiff(*base, dir); err != nil {
			return err
		}
	} else {
		f, err := os.Open(filepath.Join(dir, fileTable))
		if err != nil {
			return err
		}
		tbl, err = table.Load(f, 0)
		f.Close()
		if err != nil {
			return err
		}
	}
	m, next, err := v.Table(tbl, b.Bundle, st)
	if err != nil {
		return fmt.Errorf("table refused: %s", vigil.ErrorMessage(err))
	}
	if *stateFile != "" {
		if err := writePHMState(*stateFile, next); err != nil {
			return err
		}
	}
	return json.NewEncoder(c.Stdout).Encode(map[string]any{"verified": true, "version": m.Version, "n": m.N, "slots": m.Slots,
		"root": hex.EncodeToString(m.Root[:]), "log_size": next.Checkpoint.N, "sources": m.Sources})
}

// readPHMState reads a --state file; a missing one is the empty state.
func readPHMState(path, origin string) (translog.State, error) {
	b, err := readSmall(path, translog.MaxStateBytes)
	if errors.Is(err, os.ErrNotExist) {
		return translog.State{}, nil
	}
	if err != nil {
		return translog.State{}, err
	}
	st, err := translog.ParseState(b, origin)
	if err != nil {
		return translog.State{}, fmt.Errorf("%s: %s", path, vigil.ErrorMessage(err))
	}
	return st, nil
}

// writePHMState replaces a --state file.
func writePHMState(path string, st translog.State) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, translog.EncodeState(st), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// bundle is a table directory's proofs, with the size its consistency
// proof starts from.
type bundle struct {
	translog.Bundle
	consistencyFrom int64
}

func readBundle(dir string) (*bundle, error) {
	var b bundle
	var err error
	if b.Manifest, err = readSmall(filepath.Join(dir, fileManifest), phm.MaxManifestBytes+translog.MaxCheckpointBytes); err != nil {
		return nil, err
	}
	if b.Checkpoint, err = readSmall(filepath.Join(dir, fileCheckpoint), translog.MaxCheckpointBytes); err != nil {
		return nil, err
	}
	if b.Index, b.Inclusion, err = readProofFile(filepath.Join(dir, fileInclusion), "index"); err != nil {
		return nil, err
	}
	if b.consistencyFrom, b.Consistency, err = readProofFile(filepath.Join(dir, fileConsistency), "old"); err != nil {
		return nil, err
	}
	return &b, nil
}

// readProofFile reads an inclusion or consistency file.
func readProofFile(path, word string) (int64, []tlog.Hash, error) {
	raw, err := readSmall(path, translog.MaxProofFileBytes)
	if err != nil {
		return 0, nil, err
	}
	n, p, err := translog.ParseProofFile(raw, word)
	if err != nil {
		return 0, nil, fmt.Errorf("%s: %s", path, vigil.ErrorMessage(err))
	}
	return n, p, nil
}

// tableFromDiff loads base's table (checked against base's manifest) and
// applies dir's diff.
func tableFromDiff(base, dir string) (*table.Table, error) {
	p, err := readParent(base)
	if err != nil {
		return nil, err
	}
	if p.table == nil {
		return nil, fmt.Errorf("%s has no %s", base, fileTable)
	}
	raw, err := readSmall(filepath.Join(dir, fileDiff), 112+table.MaxSlots*36)
	if err != nil {
		return nil, err
	}
	d, err := table.ParseDiff(raw, 0)
	if err != nil {
		return nil, err
	}
	return table.Apply(p.table, d)
}

// stringsFlag collects a repeatable string flag.
type stringsFlag []string

func (s *stringsFlag) String() string { return strings.Join(*s, ",") }

// Set implements flag.Value.
func (s *stringsFlag) Set(v string) error {
	*s = append(*s, v)
	return nil
}

// phmTableDirs reads build-table's output for `vigil phm voucher|open`:
// the table of DIR/table.bin, checked against DIR's manifest, and the
// blinding scalar of DIR/alpha (the directory table-keys wrote).
type phmTableDirs struct{}

func (phmTableDirs) Table(dir string) (phm.Table, error) {
	p, err := readParent(dir)
	if err != nil {
		return nil, err
	}
	if p.table == nil {
		return nil, fmt.Errorf("%s: no %s", dir, fileTable)
	}
	return p.table, nil
}

func (phmTableDirs) Alpha(dir string) (group.Scalar, error) {
	ab, err := readHexFile(filepath.Join(dir, "alpha"), 32)
	if err != nil {
		return nil, err
	}
	a := phm.Group.NewScalar()
	if err := a.UnmarshalBinary(ab); err != nil || a.IsZero() {
		return nil, fmt.Errorf("%s: not a blinding scalar", filepath.Join(dir, "alpha"))
	}
	return a, nil
}
