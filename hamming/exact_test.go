package hamming

import (
	"crypto/md5"
	"crypto/sha256"
	"slices"
	"testing"
)

func TestExactIndex(t *testing.T) {
	if _, err := NewExactIndex(0); err == nil {
		t.Fatal("NewExactIndex(0) succeeded")
	}
	if _, err := NewExactIndex(33); err == nil {
		t.Fatal("NewExactIndex(33) succeeded")
	}
	e, err := NewExactIndex(md5.Size)
	if err != nil {
		t.Fatal(err)
	}
	a, b := md5.Sum([]byte("a")), md5.Sum([]byte("b"))
	lookup := func(d []byte) []uint64 {
		t.Helper()
		ids, err := e.Lookup(d, nil)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(ids)
		return ids
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(e.Add(1, a[:]))
	must(e.Add(1, a[:])) // idempotent
	must(e.Add(2, a[:]))
	must(e.Add(3, a[:]))
	must(e.Add(4, b[:]))
	if got := lookup(a[:]); !slices.Equal(got, []uint64{1, 2, 3}) {
		t.Fatalf("Lookup(a) = %v, want [1 2 3]", got)
	}
	if e.Len() != 4 {
		t.Fatalf("Len = %d, want 4", e.Len())
	}
	if ok, err := e.Remove(2, a[:]); err != nil || !ok {
		t.Fatalf("Remove(2, a) = %v, %v", ok, err)
	}
	if ok, _ := e.Remove(2, a[:]); ok {
		t.Fatal("second Remove(2, a) reported success")
	}
	if ok, _ := e.Remove(4, a[:]); ok {
		t.Fatal("Remove(4, a) removed an id stored under another digest")
	}
	must2 := func(ok bool, err error) {
		t.Helper()
		if err != nil || !ok {
			t.Fatalf("Remove: %v, %v", ok, err)
		}
	}
	must2(e.Remove(1, a[:]))
	if got := lookup(a[:]); !slices.Equal(got, []uint64{3}) {
		t.Fatalf("Lookup(a) = %v, want [3]", got)
	}
	must2(e.Remove(3, a[:]))
	if got := lookup(a[:]); len(got) != 0 {
		t.Fatalf("Lookup(a) = %v after removing all, want none", got)
	}
	if got := lookup(b[:]); !slices.Equal(got, []uint64{4}) {
		t.Fatalf("Lookup(b) = %v, want [4]", got)
	}
	s := sha256.Sum256([]byte("a"))
	if err := e.Add(5, s[:]); err == nil {
		t.Fatal("md5 index accepted a sha256 digest")
	}
	if _, err := e.Lookup(s[:], nil); err == nil {
		t.Fatal("md5 index looked up a sha256 digest")
	}
	if _, err := e.Remove(5, s[:]); err == nil {
		t.Fatal("md5 index removed a sha256 digest")
	}
}
