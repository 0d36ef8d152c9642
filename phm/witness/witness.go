// Package witness serves a transparency-log witness over HTTP: the c2sp
// tlog-witness add-checkpoint call, for the PHM manifest log (phm/translog).
// A log operator posts its new checkpoint with a consistency proof from the
// last size the witness cosigned; the witness cosigns it only if it is
// signed by the log and extends that checkpoint (a fork or a rollback is
// refused, as `vigil phm cosign` refuses it), saves it, and answers with
// its cosignature.
package witness

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	vigil "github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/phm/translog"
)

// Limits on an add-checkpoint request.
const (
	// MaxRequestBytes bounds the body: a checkpoint note of a few
	// signatures and a proof of at most MaxProofHashes hashes fit well.
	MaxRequestBytes = 16 << 10
	// MaxProofHashes is the longest consistency proof read (a tree of
	// 2^63 leaves needs at most 126; the c2sp spec allows 63 lines).
	MaxProofHashes = 63
)

// AddCheckpoint is a parsed add-checkpoint request body.
type AddCheckpoint struct {
	// Old is the tree size the proof starts from: the size the operator
	// believes the witness last cosigned.
	Old        int64
	Proof      []tlog.Hash
	Checkpoint []byte // the signed checkpoint note
}

var errRequest = errors.New("witness: malformed add-checkpoint request")

// ParseAddCheckpoint parses a body of the c2sp tlog-witness form:
//
//	old <size>
//	<base64 hash>        (0 to MaxProofHashes lines)
//	<empty line>
//	<checkpoint note>
func ParseAddCheckpoint(b []byte) (*AddCheckpoint, error) {
	if len(b) > MaxRequestBytes {
		return nil, fmt.Errorf("%w: %d bytes, over %d", errRequest, len(b), MaxRequestBytes)
	}
	head, note, ok := bytes.Cut(b, []byte("\n\n"))
	if !ok || len(note) == 0 {
		return nil, fmt.Errorf("%w: no empty line before the checkpoint", errRequest)
	}
	lines := strings.Split(string(head), "\n")
	size, ok := strings.CutPrefix(lines[0], "old ")
	if !ok {
		return nil, fmt.Errorf("%w: first line is not \"old <size>\"", errRequest)
	}
	old, err := strconv.ParseInt(size, 10, 64)
	if err != nil || old < 0 || strconv.FormatInt(old, 10) != size {
		return nil, fmt.Errorf("%w: old size %q", errRequest, size)
	}
	if len(lines)-1 > MaxProofHashes {
		return nil, fmt.Errorf("%w: proof of more than %d hashes", errRequest, MaxProofHashes)
	}
	req := &AddCheckpoint{Old: old, Checkpoint: note}
	for _, l := range lines[1:] {
		h, err := base64.StdEncoding.Strict().DecodeString(l)
		if err != nil || len(h) != tlog.HashSize {
			return nil, fmt.Errorf("%w: proof line %q", errRequest, l)
		}
		req.Proof = append(req.Proof, tlog.Hash(h))
	}
	return req, nil
}

// Server is the witness's HTTP handler. Its Witness holds the key, the
// log's verifier and the last checkpoint cosigned (loaded from Save's file
// at start); one request at a time changes it.
type Server struct {
	Witness *translog.Witness
	// Save keeps the checkpoint just cosigned durably, before the
	// cosignature is given out; an error refuses the request.
	Save func(translog.Checkpoint) error
	// Token is the bearer token a log operator must send (required: the
	// witness cosigns for its operators only, and a stranger's requests
	// must not even reach the checks).
	Token  string
	Logger *slog.Logger

	mu sync.Mutex
}

// ServeHTTP routes POST /add-checkpoint and GET /healthz.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == "/healthz" && r.Method == http.MethodGet:
		io.WriteString(w, "ok\n")
	case r.URL.Path == "/add-checkpoint" && r.Method == http.MethodPost:
		s.addCheckpoint(w, r)
	case r.URL.Path == "/add-checkpoint":
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	default:
		http.NotFound(w, r)
	}
}

func (s *Server) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

func (s *Server) authorised(r *http.Request) bool {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && s.Token != "" && subtle.ConstantTimeCompare([]byte(tok), []byte(s.Token)) == 1
}

func (s *Server) addCheckpoint(w http.ResponseWriter, r *http.Request) {
	if !s.authorised(r) {
		w.Header().Set("WWW-Authenticate", "Bearer")
		http.Error(w, "a log operator's bearer token is required", http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxRequestBytes))
	if err != nil {
		http.Error(w, "request over "+strconv.Itoa(MaxRequestBytes)+" bytes", http.StatusRequestEntityTooLarge)
		return
	}
	req, err := ParseAddCheckpoint(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	last := s.Witness.Last
	if req.Old != last.N {
		// The operator's idea of what this witness cosigned is wrong: tell
		// it the size, as the spec says, so it can send the right proof.
		w.Header().Set("Content-Type", "text/x.tlog.size")
		w.WriteHeader(http.StatusConflict)
		fmt.Fprintf(w, "%d\n", last.N)
		return
	}
	// Not this log's checkpoint: refused before any state is looked at.
	n, err := note.Open(req.Checkpoint, note.VerifierList(s.Witness.Log))
	if err != nil {
		http.Error(w, "checkpoint not signed by the log", http.StatusForbidden)
		return
	}
	if c, err := translog.ParseCheckpoint([]byte(n.Text)); err != nil {
		http.Error(w, vigil.ErrorMessage(err), http.StatusBadRequest)
		return
	} else if c.Origin != s.Witness.Origin {
		http.Error(w, "checkpoint of another log", http.StatusNotFound)
		return
	} else if c.N < req.Old {
		http.Error(w, "checkpoint smaller than the old size", http.StatusBadRequest)
		return
	}
	out, err := s.Witness.Cosign(req.Checkpoint, req.Proof)
	if err != nil {
		// A proof that does not hold: a fork, or a bad proof.
		s.Witness.Last = last
		s.logger().Warn("witness refused a checkpoint", "old", req.Old, "err", err)
		http.Error(w, vigil.ErrorMessage(err), http.StatusUnprocessableEntity)
		return
	}
	if err := s.Save(s.Witness.Last); err != nil {
		s.Witness.Last = last
		s.logger().Error("witness cannot save its state", "err", err)
		http.Error(w, "cannot save the witness's state", http.StatusInternalServerError)
		return
	}
	s.logger().Info("witness cosigned", "origin", s.Witness.Last.Origin, "size", s.Witness.Last.N)
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write(signatureLines(out, s.Witness.Signer.Name()))
}

// signatureLines returns the lines of a signed note that are the named
// signer's signatures: what add-checkpoint answers.
func signatureLines(note []byte, name string) []byte {
	var out []byte
	_, sigs, _ := bytes.Cut(note, []byte("\n\n"))
	for _, l := range bytes.SplitAfter(sigs, []byte("\n")) {
		if bytes.HasPrefix(l, []byte("— "+name+" ")) {
			out = append(out, l...)
		}
	}
	return out
}
