// Package feed publishes banks as signed, incremental feeds and pulls other
// instances' feeds into local banks.
//
// A feed is a sequence of batches, numbered from 1. A batch is a signed
// note (golang.org/x/mod/sumdb/note, Ed25519) whose text names the feed,
// its number and the SHA-256 of the previous batch's text, then holds its
// changes as one line of JSON. The batches are also the records of a
// transparency log (golang.org/x/mod/sumdb/tlog): the feed's head is a
// signed tree checkpoint, a subscriber checks every new head against the
// last one it verified with a consistency proof and every batch against the
// head with an inclusion proof, so a publisher that rewrote its history, or
// showed two subscribers different ones, is caught with its own signatures
// as the evidence.
package feed

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/vigil-oss/vigil"
)

// batchHeader is the first line of every batch text; a tree head starts
// with "go.sum database tree", so neither can pass for the other.
const batchHeader = "vigil feed batch v1\n"

// headLine is the line a head adds after tlog's tree, naming the feed, so
// that one feed's head cannot be served as another's by the same key.
const headLine = "vigil feed "

// MaxHeadBytes bounds a signed head.
const MaxHeadBytes = 8 << 10

// MaxProofHashes bounds a tlog proof: 2 log2(size) hashes at most, and
// sizes stay far below 2^63.
const MaxProofHashes = 128

// zeroHash is the previous-batch hash of batch 1.
var zeroHash = strings.Repeat("0", 64)

// Batch is a batch's content.
type Batch struct {
	Feed    string             `json:"feed"`
	Number  int64              `json:"number"`
	Prev    string             `json:"prev"` // hex SHA-256 of the previous batch's text
	Changes []vigil.FeedChange `json:"changes"`
}

// BatchText returns the text that is signed for b.
func BatchText(b *Batch) ([]byte, error) {
	j, err := json.Marshal(b)
	if err != nil {
		return nil, fmt.Errorf("encode batch %d: %w", b.Number, err)
	}
	// Go's encoder escapes control characters and never writes a raw
	// newline, so the JSON stays one line and the note well-formed.
	text := make([]byte, 0, len(batchHeader)+len(j)+1)
	text = append(append(append(text, batchHeader...), j...), '\n')
	if len(text) > vigil.MaxBatchBytes {
		return nil, vigil.Errorf(vigil.ETOOLARGE, "batch %d is %d bytes, over %d", b.Number, len(text), vigil.MaxBatchBytes)
	}
	return text, nil
}

// TextHash returns the chain hash of a batch text.
func TextHash(text []byte) string {
	h := sha256.Sum256(text)
	return hex.EncodeToString(h[:])
}

// SignBatch encodes and signs b.
func SignBatch(b *Batch, s note.Signer) (text, signed []byte, err error) {
	if text, err = BatchText(b); err != nil {
		return nil, nil, err
	}
	signed, err = note.Sign(&note.Note{Text: string(text)}, s)
	if err != nil {
		return nil, nil, fmt.Errorf("sign batch %d: %w", b.Number, err)
	}
	return text, signed, nil
}

// OpenBatch verifies a signed batch with v and parses it. It checks only
// the signature and the form; the caller checks feed, number and chain.
func OpenBatch(msg []byte, v note.Verifier) (*Batch, []byte, error) {
	if len(msg) > vigil.MaxBatchBytes+1024 {
		return nil, nil, vigil.Errorf(vigil.ETOOLARGE, "batch over %d bytes", vigil.MaxBatchBytes)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return nil, nil, vigil.Errorf(vigil.EINVALID, "batch signature: %v", err)
	}
	text := []byte(n.Text)
	b, err := ParseBatch(text)
	return b, text, err
}

// ParseBatch parses a batch text (already verified).
func ParseBatch(text []byte) (*Batch, error) {
	body, ok := bytes.CutPrefix(text, []byte(batchHeader))
	if !ok || len(body) == 0 || body[len(body)-1] != '\n' || bytes.IndexByte(body, '\n') != len(body)-1 {
		return nil, vigil.Errorf(vigil.EINVALID, "malformed batch")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	var b Batch
	if err := dec.Decode(&b); err != nil {
		return nil, vigil.Errorf(vigil.EINVALID, "malformed batch: %v", err)
	}
	if dec.More() {
		return nil, vigil.Errorf(vigil.EINVALID, "malformed batch: data after the changes")
	}
	if b.Number < 1 || len(b.Prev) != 64 || vigil.ValidateBankName(b.Feed) != nil {
		return nil, vigil.Errorf(vigil.EINVALID, "malformed batch: bad feed, number or prev")
	}
	if len(b.Changes) > vigil.MaxBatchChanges+vigil.MaxFeedBanks {
		return nil, vigil.Errorf(vigil.ETOOLARGE, "batch %d has more than %d changes", b.Number, vigil.MaxBatchChanges)
	}
	return &b, nil
}

// HeadText returns the text signed for a feed's head.
func HeadText(feed string, t tlog.Tree) []byte {
	return append(tlog.FormatTree(t), headLine+feed+"\n"...)
}

// OpenHead verifies a signed head with v and returns its tree, checking
// that it is feed's.
func OpenHead(msg []byte, v note.Verifier, feed string) (tlog.Tree, error) {
	if len(msg) > MaxHeadBytes {
		return tlog.Tree{}, vigil.Errorf(vigil.ETOOLARGE, "head over %d bytes", MaxHeadBytes)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return tlog.Tree{}, vigil.Errorf(vigil.EINVALID, "head signature: %v", err)
	}
	t, err := tlog.ParseTree([]byte(n.Text))
	if err != nil {
		return tlog.Tree{}, vigil.Errorf(vigil.EINVALID, "head: %v", err)
	}
	lines := strings.Split(n.Text, "\n")
	if len(lines) != 5 || lines[3] != headLine+feed || lines[4] != "" {
		return tlog.Tree{}, vigil.Errorf(vigil.EINVALID, "head is not of feed %q", feed)
	}
	return t, nil
}

// FormatProof encodes a tlog proof as one base64 hash per line.
func FormatProof(p []tlog.Hash) []byte {
	var b bytes.Buffer
	for _, h := range p {
		b.WriteString(h.String())
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// ParseProof decodes FormatProof's encoding.
func ParseProof(b []byte) ([]tlog.Hash, error) {
	if len(b) > MaxProofHashes*64 {
		return nil, vigil.Errorf(vigil.ETOOLARGE, "proof over %d hashes", MaxProofHashes)
	}
	var p []tlog.Hash
	for line := range strings.SplitSeq(strings.TrimSuffix(string(b), "\n"), "\n") {
		if line == "" && len(p) == 0 && len(b) <= 1 {
			break // an empty proof
		}
		h, err := tlog.ParseHash(line)
		if err != nil {
			return nil, vigil.Errorf(vigil.EINVALID, "malformed proof")
		}
		if p = append(p, h); len(p) > MaxProofHashes {
			return nil, vigil.Errorf(vigil.ETOOLARGE, "proof over %d hashes", MaxProofHashes)
		}
	}
	return p, nil
}

// parseCount parses a decimal query value in [min, max].
func parseCount(s string, lo, hi int64) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < lo || n > hi {
		return 0, vigil.Errorf(vigil.EINVALID, "%q is not a number from %d to %d", s, lo, hi)
	}
	return n, nil
}
