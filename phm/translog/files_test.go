package translog

import (
	"bytes"
	"testing"

	"golang.org/x/mod/sumdb/tlog"
)

func TestStateRoundTrip(t *testing.T) {
	st := State{Checkpoint: Checkpoint{Origin: origin, Tree: tlog.Tree{N: 7, Hash: tlog.RecordHash([]byte("x"))}}, Version: 3, Root: [32]byte{1, 2}}
	got, err := ParseState(EncodeState(st), origin)
	if err != nil || got != st {
		t.Fatalf("round trip: %+v, %v", got, err)
	}
	if _, err := ParseState(EncodeState(st), "other.example"); err == nil {
		t.Fatal("a state of another log was accepted")
	}
	if got, err := ParseState(nil, origin); err != nil || got != (State{}) {
		t.Fatalf("empty state: %+v, %v", got, err)
	}
	if _, err := ParseState(bytes.Repeat([]byte(" "), MaxStateBytes+1), origin); err != nil {
		t.Fatal("blank input is the empty state")
	}
	if _, err := ParseState(append([]byte("{"), bytes.Repeat([]byte("a"), MaxStateBytes)...), origin); err == nil {
		t.Fatal("an oversized state was accepted")
	}
}

func TestProofFileRoundTrip(t *testing.T) {
	p := []tlog.Hash{tlog.RecordHash([]byte("a")), tlog.RecordHash([]byte("b"))}
	n, got, err := ParseProofFile(FormatProofFile("index", 5, p), "index")
	if err != nil || n != 5 || len(got) != 2 || got[0] != p[0] || got[1] != p[1] {
		t.Fatalf("round trip: %d %v %v", n, got, err)
	}
	if _, _, err := ParseProofFile(FormatProofFile("index", 5, p), "old"); err == nil {
		t.Fatal("the wrong first word was accepted")
	}
	if n, got, err := ParseProofFile(FormatProofFile("old", 0, nil), "old"); err != nil || n != 0 || len(got) != 0 {
		t.Fatalf("empty proof: %d %v %v", n, got, err)
	}
}

func FuzzParseState(f *testing.F) {
	f.Add(EncodeState(State{Checkpoint: Checkpoint{Origin: origin, Tree: tlog.Tree{N: 2}}, Version: 1}))
	f.Add([]byte(`{"origin":"x","size":-1}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		st, err := ParseState(b, origin)
		if err != nil {
			return
		}
		if st != (State{}) {
			if again, err := ParseState(EncodeState(st), origin); err != nil || again != st {
				t.Fatalf("re-encoding changed the state: %+v → %+v, %v", st, again, err)
			}
		}
	})
}

func FuzzParseProofFile(f *testing.F) {
	f.Add(FormatProofFile("index", 3, []tlog.Hash{tlog.RecordHash([]byte("a"))}))
	f.Add([]byte("index 1\n\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		n, p, err := ParseProofFile(b, "index")
		if err != nil {
			return
		}
		if n < 0 || len(p) > MaxProofHashes {
			t.Fatalf("accepted n=%d with %d hashes", n, len(p))
		}
	})
}
