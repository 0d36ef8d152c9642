// Package translog publishes PHM table manifests in a transparency log
// (../shared/docs/e2ee.md §5.7): an append-only Merkle log of signed
// manifests on golang.org/x/mod/sumdb/tlog, checkpoints in the c2sp
// tlog-checkpoint form signed with sumdb/note Ed25519 keys, witness
// cosignatures in the c2sp tlog-cosignature/v1 form, and the client-side
// check that refuses a table whose manifest is not in a verified,
// cosigned checkpoint consistent with the last one the client saw.
package translog

import (
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/vigil-oss/vigil"
)

// Size limits of what a client reads from the network.
const (
	// MaxCheckpointBytes bounds a signed checkpoint: three short lines and
	// up to 100 signature lines (note.Open's own cap) of about 150 bytes.
	MaxCheckpointBytes = 16 << 10
	// MaxOriginLen bounds the origin line.
	MaxOriginLen = 256
	// MaxProofHashes bounds an inclusion or consistency proof: 2·63 hashes
	// covers any tree a 64-bit size can describe.
	MaxProofHashes = 128
)

// Checkpoint is a log's signed statement of its size and root hash.
type Checkpoint struct {
	Origin string
	tlog.Tree
}

// Text returns the checkpoint body (c2sp tlog-checkpoint): the origin,
// the size in decimal and the base64 root hash, one per line.
func (c Checkpoint) Text() []byte {
	return []byte(c.Origin + "\n" + strconv.FormatInt(c.N, 10) + "\n" + c.Hash.String() + "\n")
}

// ValidOrigin reports whether s can be a checkpoint origin: 1 to
// MaxOriginLen printable ASCII bytes, no spaces at either end.
func ValidOrigin(s string) bool {
	if s == "" || len(s) > MaxOriginLen || strings.TrimSpace(s) != s {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

// ParseCheckpoint parses a checkpoint body. It is strict: exactly the
// three lines, a size in canonical decimal, a 32-byte hash. Extension
// lines are refused (as Sigsum does): Vigil's log writes none, and a
// line no one checks is a place to smuggle meaning.
func ParseCheckpoint(text []byte) (Checkpoint, error) {
	if len(text) > MaxCheckpointBytes {
		return Checkpoint{}, vigil.Errorf(vigil.ETOOLARGE, "checkpoint over %d bytes", MaxCheckpointBytes)
	}
	s, ok := strings.CutSuffix(string(text), "\n")
	lines := strings.Split(s, "\n")
	if !ok || len(lines) != 3 || !ValidOrigin(lines[0]) {
		return Checkpoint{}, vigil.Errorf(vigil.EINVALID, "malformed checkpoint")
	}
	n, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != lines[1] {
		return Checkpoint{}, vigil.Errorf(vigil.EINVALID, "malformed checkpoint size")
	}
	h, err := tlog.ParseHash(lines[2])
	if err != nil || h.String() != lines[2] {
		return Checkpoint{}, vigil.Errorf(vigil.EINVALID, "malformed checkpoint hash")
	}
	return Checkpoint{Origin: lines[0], Tree: tlog.Tree{N: n, Hash: h}}, nil
}
