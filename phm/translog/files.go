package translog

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/feed"
)

// MaxStateBytes bounds an encoded State.
const MaxStateBytes = 4096

// stateJSON is State's encoding: what `vigil phm verify-table --state`
// keeps in a file and a device keeps in its storage.
type stateJSON struct {
	Origin  string `json:"origin"`
	Size    int64  `json:"size"`
	Hash    string `json:"hash"`
	Version uint64 `json:"version"`
	Root    string `json:"root,omitempty"`
}

// EncodeState encodes st as one line of JSON.
func EncodeState(st State) []byte {
	s := stateJSON{Origin: st.Checkpoint.Origin, Size: st.Checkpoint.N, Hash: st.Checkpoint.Hash.String(), Version: st.Version}
	if st.Root != ([32]byte{}) {
		s.Root = hex.EncodeToString(st.Root[:])
	}
	b, _ := json.Marshal(s) // strings and numbers only
	return append(b, '\n')
}

// ParseState decodes EncodeState's output for the log origin; empty
// input is the empty state of a device that has accepted nothing yet.
func ParseState(b []byte, origin string) (State, error) {
	if len(bytes.TrimSpace(b)) == 0 {
		return State{}, nil
	}
	if len(b) > MaxStateBytes {
		return State{}, vigil.Errorf(vigil.ETOOLARGE, "state over %d bytes", MaxStateBytes)
	}
	var s stateJSON
	if err := json.Unmarshal(b, &s); err != nil {
		return State{}, vigil.Errorf(vigil.EINVALID, "state: %v", err)
	}
	h, err := tlog.ParseHash(s.Hash)
	if err != nil || s.Origin != origin || s.Size < 0 {
		return State{}, vigil.Errorf(vigil.EINVALID, "state: not a checkpoint of log %q", origin)
	}
	st := State{Checkpoint: Checkpoint{Origin: s.Origin, Tree: tlog.Tree{N: s.Size, Hash: h}}, Version: s.Version}
	if s.Root != "" {
		r, err := hex.DecodeString(s.Root)
		if err != nil || len(r) != 32 {
			return State{}, vigil.Errorf(vigil.EINVALID, "state: bad root")
		}
		st.Root = [32]byte(r)
	}
	return st, nil
}

// MaxProofFileBytes bounds a proof file.
const MaxProofFileBytes = 64 + MaxProofHashes*64

// ParseProofFile reads a table directory's inclusion or consistency file:
// a first line "WORD N" (word "index" with the manifest's index, or "old"
// with the log size the consistency proof starts from), then one hash a
// line.
func ParseProofFile(raw []byte, word string) (int64, []tlog.Hash, error) {
	if len(raw) > MaxProofFileBytes {
		return 0, nil, vigil.Errorf(vigil.ETOOLARGE, "proof file over %d bytes", MaxProofFileBytes)
	}
	first, rest, _ := bytes.Cut(raw, []byte("\n"))
	v, ok := strings.CutPrefix(string(first), word+" ")
	n, err := strconv.ParseInt(v, 10, 64)
	if !ok || err != nil || n < 0 {
		return 0, nil, vigil.Errorf(vigil.EINVALID, "proof file: first line is not %q and a count", word)
	}
	p, err := feed.ParseProof(rest)
	if err != nil {
		return 0, nil, err
	}
	return n, p, nil
}

// FormatProofFile encodes what ParseProofFile reads.
func FormatProofFile(word string, n int64, p []tlog.Hash) []byte {
	return append([]byte(word+" "+strconv.FormatInt(n, 10)+"\n"), feed.FormatProof(p)...)
}
