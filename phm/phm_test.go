package phm

import (
	"bytes"
	"testing"
)

func TestNewKeyRefusesWrongLength(t *testing.T) {
	if _, err := NewKey(FamilyPDQ, make([]byte, 31)); err == nil {
		t.Fatal("a 31-byte PDQ key was accepted")
	}
	if _, err := NewKey("crc32", make([]byte, 4)); err == nil {
		t.Fatal("an unknown family was accepted")
	}
	k, err := NewKey(FamilyMD5, bytes.Repeat([]byte{7}, 16))
	if err != nil {
		t.Fatal(err)
	}
	if k.Family() != FamilyMD5 {
		t.Fatalf("family %q", k.Family())
	}
}

func TestFamiliesDoNotCollide(t *testing.T) {
	d := bytes.Repeat([]byte{1}, 32)
	a, _ := NewKey(FamilySHA256, d)
	b, _ := NewKey(FamilyPDQ, d)
	if bytes.Equal(a, b) || HashToGroup(a).IsEqual(HashToGroup(b)) {
		t.Fatal("same digest in two families maps to one element")
	}
}

func TestSlotsDeterministicAndInRange(t *testing.T) {
	var seeds [Ways]Seed
	for w := range seeds {
		seeds[w][0] = byte(w + 1)
	}
	k, _ := NewKey(FamilySHA256, make([]byte, 32))
	a, err := Slots(seeds, 1000, k)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Slots(seeds, 1000, k)
	if a != b {
		t.Fatal("slots differ between calls")
	}
	for _, s := range a {
		if s >= 1000 {
			t.Fatalf("slot %d out of range", s)
		}
	}
	if _, err := Slots(seeds, 0, k); err == nil {
		t.Fatal("zero slots accepted")
	}
}

func TestSlotsFor(t *testing.T) {
	for _, c := range []struct {
		n    int
		want uint64
	}{{0, 1}, {1, 2}, {4, 5}, {8, 10}, {1000000, 1250000}} {
		if got := SlotsFor(c.n); got != c.want {
			t.Errorf("SlotsFor(%d) = %d, want %d", c.n, got, c.want)
		}
	}
}
