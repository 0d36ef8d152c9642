package translog

import (
	"errors"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/phm"
)

// Verifier is what a device pins: the log's origin and key, the witnesses
// it trusts and how many of them must cosign, and the keys that sign
// manifests.
type Verifier struct {
	Origin string
	Log    note.Verifier
	// Witnesses are cosignature/v1 verifiers; Quorum of them must cosign a
	// checkpoint (0 means 1: an uncosigned checkpoint is never enough,
	// since the log alone could show each device its own view).
	Witnesses []note.Verifier
	Quorum    int
	// Operator signs every manifest. Orgs are the contributing
	// organisations' keys; OrgQuorum of them must have signed it too
	// (0: none required).
	Operator  note.Verifier
	Orgs      []note.Verifier
	OrgQuorum int
}

// State is what a device keeps between updates: the last checkpoint it
// verified and the table version it accepted.
type State struct {
	Checkpoint Checkpoint
	Version    uint64
	// Root is the accepted version's table root: a second, different
	// manifest of the same version is refused.
	Root [32]byte
}

// Bundle is what a device downloads next to a table: the signed manifest
// (the log record), the signed checkpoint, the manifest's index and
// inclusion proof, and the consistency proof from the device's last
// checkpoint (empty on first use or when the size did not change).
type Bundle struct {
	Manifest    []byte
	Checkpoint  []byte
	Index       int64
	Inclusion   []tlog.Hash
	Consistency []tlog.Hash
}

// Checkpoint verifies a signed checkpoint: the log's signature, at least
// the quorum of distinct witness cosignatures, and the origin.
func (v *Verifier) Checkpoint(msg []byte) (Checkpoint, error) {
	if len(msg) > MaxCheckpointBytes {
		return Checkpoint{}, vigil.Errorf(vigil.ETOOLARGE, "checkpoint over %d bytes", MaxCheckpointBytes)
	}
	if v.Log == nil {
		return Checkpoint{}, errors.New("translog: no log key")
	}
	n, err := note.Open(msg, note.VerifierList(append([]note.Verifier{v.Log}, v.Witnesses...)...))
	if err != nil {
		return Checkpoint{}, vigil.Errorf(vigil.EINVALID, "checkpoint signature: %v", err)
	}
	logSigned, cosigned := false, 0
	for _, s := range n.Sigs {
		if s.Name == v.Log.Name() && s.Hash == v.Log.KeyHash() {
			logSigned = true
			continue
		}
		cosigned++ // note.Open drops repeats, so each is a distinct witness
	}
	if !logSigned {
		return Checkpoint{}, vigil.Errorf(vigil.EINVALID, "checkpoint is not signed by the log")
	}
	if q := max(v.Quorum, 1); cosigned < q {
		return Checkpoint{}, vigil.Errorf(vigil.EINVALID, "checkpoint has %d of the %d witness cosignatures required", cosigned, q)
	}
	c, err := ParseCheckpoint([]byte(n.Text))
	if err != nil {
		return Checkpoint{}, err
	}
	if c.Origin != v.Origin {
		return Checkpoint{}, vigil.Errorf(vigil.EINVALID, "checkpoint is of log %q, not %q", c.Origin, v.Origin)
	}
	return c, nil
}

// Consistent checks that newer extends old: a smaller tree is a rollback,
// a same-size tree with another hash or a failed consistency proof is a
// fork. Either way the log showed two histories and is refused.
func Consistent(old, newer Checkpoint, proof []tlog.Hash) error {
	if old.Origin != newer.Origin {
		return vigil.Errorf(vigil.EINVALID, "checkpoints of different logs")
	}
	if len(proof) > MaxProofHashes {
		return vigil.Errorf(vigil.ETOOLARGE, "proof over %d hashes", MaxProofHashes)
	}
	switch {
	case newer.N < old.N:
		return vigil.Errorf(vigil.EINVALID, "log rolled back from %d to %d records", old.N, newer.N)
	case old.N == 0:
		return nil
	case newer.N == old.N:
		if newer.Hash != old.Hash {
			return vigil.Errorf(vigil.EINVALID, "log forked: two trees of size %d", old.N)
		}
		return nil
	}
	if err := tlog.CheckTree(proof, newer.N, newer.Hash, old.N, old.Hash); err != nil {
		return vigil.Errorf(vigil.EINVALID, "log forked: tree %d is not a prefix of tree %d: %v", old.N, newer.N, err)
	}
	return nil
}

// versioned is what phm/table's Table adds to phm.Table; Table checks it
// when present.
type versioned interface {
	Version() uint64
	Len() uint64
}

// Table decides whether a device may use t. It verifies the checkpoint
// (log signature and witness quorum), its consistency with the state's
// checkpoint, the manifest's signatures, the manifest's inclusion in the
// checkpoint's tree, that the manifest does not go back to an older
// version, and that t is the table the manifest describes. It returns the
// manifest and the state to keep; on any error the device keeps its old
// table and state.
func (v *Verifier) Table(t phm.Table, b Bundle, st State) (*phm.Manifest, State, error) {
	cp, err := v.Checkpoint(b.Checkpoint)
	if err != nil {
		return nil, st, err
	}
	if st.Checkpoint.Origin == "" {
		st.Checkpoint.Origin = v.Origin
	}
	if err := Consistent(st.Checkpoint, cp, b.Consistency); err != nil {
		return nil, st, err
	}
	m, err := v.Manifest(b.Manifest)
	if err != nil {
		return nil, st, err
	}
	if len(b.Inclusion) > MaxProofHashes || b.Index < 0 || b.Index >= cp.N {
		return nil, st, vigil.Errorf(vigil.EINVALID, "manifest index %d is not in a log of %d", b.Index, cp.N)
	}
	if err := tlog.CheckRecord(b.Inclusion, cp.N, cp.Hash, b.Index, tlog.RecordHash(b.Manifest)); err != nil {
		return nil, st, vigil.Errorf(vigil.EINVALID, "manifest is not in the checkpoint's log: %v", err)
	}
	if m.Version < st.Version {
		return nil, st, vigil.Errorf(vigil.EINVALID, "manifest version %d is older than the accepted %d", m.Version, st.Version)
	}
	if m.Version == st.Version && st.Root != ([32]byte{}) && m.Root != st.Root {
		return nil, st, vigil.Errorf(vigil.EINVALID, "a second, different manifest of version %d", m.Version)
	}
	if vt, ok := t.(versioned); ok && (vt.Version() != m.Version || vt.Len() != m.N) {
		return nil, st, vigil.Errorf(vigil.EINVALID, "table version %d with %d keys, manifest says %d with %d", vt.Version(), vt.Len(), m.Version, m.N)
	}
	if err := m.Check(t); err != nil {
		return nil, st, err
	}
	return m, State{Checkpoint: cp, Version: m.Version, Root: m.Root}, nil
}

// Manifest verifies a signed manifest (operator and org quorum) and
// parses it.
func (v *Verifier) Manifest(msg []byte) (*phm.Manifest, error) {
	if len(msg) > phm.MaxManifestBytes+MaxCheckpointBytes {
		return nil, vigil.Errorf(vigil.ETOOLARGE, "signed manifest too large")
	}
	if v.Operator == nil {
		return nil, errors.New("translog: no operator key")
	}
	n, err := note.Open(msg, note.VerifierList(append([]note.Verifier{v.Operator}, v.Orgs...)...))
	if err != nil {
		return nil, vigil.Errorf(vigil.EINVALID, "manifest signature: %v", err)
	}
	op, orgs := false, 0
	for _, s := range n.Sigs {
		if s.Name == v.Operator.Name() && s.Hash == v.Operator.KeyHash() {
			op = true
		} else {
			orgs++
		}
	}
	if !op {
		return nil, vigil.Errorf(vigil.EINVALID, "manifest is not signed by the operator")
	}
	if orgs < v.OrgQuorum {
		return nil, vigil.Errorf(vigil.EINVALID, "manifest has %d of the %d organisation signatures required", orgs, v.OrgQuorum)
	}
	return phm.ParseManifest([]byte(n.Text))
}

// Witness is a minimal cosigning witness: it cosigns a log's checkpoint
// only if it is consistent with the last one it cosigned.
type Witness struct {
	Signer *Cosigner
	Origin string
	Log    note.Verifier
	// Last is the last checkpoint cosigned; keep it durably between runs.
	Last Checkpoint
}

// Cosign checks msg (signed by the log, of the witness's origin,
// consistent with Last by proof) and returns it with the witness's
// cosignature added.
func (w *Witness) Cosign(msg []byte, proof []tlog.Hash) ([]byte, error) {
	n, err := note.Open(msg, note.VerifierList(w.Log))
	if err != nil {
		return nil, vigil.Errorf(vigil.EINVALID, "checkpoint signature: %v", err)
	}
	c, err := ParseCheckpoint([]byte(n.Text))
	if err != nil {
		return nil, err
	}
	last := w.Last
	if last.Origin == "" {
		last.Origin = w.Origin
	}
	if c.Origin != w.Origin {
		return nil, vigil.Errorf(vigil.EINVALID, "checkpoint is of log %q, not %q", c.Origin, w.Origin)
	}
	if err := Consistent(last, c, proof); err != nil {
		return nil, err
	}
	out, err := note.Sign(n, w.Signer)
	if err != nil {
		return nil, err
	}
	w.Last = c
	return out, nil
}
