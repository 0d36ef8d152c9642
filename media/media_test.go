package media_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/media"
)

// testKey returns a 32-byte key made of b, in base64.
func testKey(b byte) string {
	return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, media.KeySize))
}

// mustKeyring parses a keyring or fails tb.
func mustKeyring(tb testing.TB, s string) *media.Keyring {
	tb.Helper()
	kr, err := media.ParseKeyring(s)
	if err != nil {
		tb.Fatal(err)
	}
	return kr
}

// mustOpen opens a store in dir or fails tb.
func mustOpen(tb testing.TB, dir string, kr *media.Keyring) *media.Store {
	tb.Helper()
	s, err := media.Open(dir, kr)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := mustOpen(t, dir, mustKeyring(t, "k1:"+testKey(1)))
	for _, data := range [][]byte{{}, []byte("a small png stand-in"), bytes.Repeat([]byte{0xab}, 1<<20)} {
		id, err := s.Put(ctx, data)
		if err != nil {
			t.Fatal(err)
		}
		if err := media.ValidateID(id); err != nil {
			t.Fatalf("Put gave id %q: %v", id, err)
		}
		got, err := s.Get(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, data) {
			t.Fatalf("round trip of %d bytes gave %d bytes", len(data), len(got))
		}
		path := filepath.Join(dir, id[:2], id)
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("blob file mode %v, want 0600", fi.Mode().Perm())
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(data) > 8 && bytes.Contains(raw, data[:len(data)/2]) {
			t.Error("blob file holds the plain data")
		}
		if err := s.Delete(ctx, id); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(ctx, id); vigil.ErrorCode(err) != vigil.ENOTFOUND {
			t.Errorf("get after delete: %v", err)
		}
		if err := s.Delete(ctx, id); err != nil {
			t.Errorf("deleting again: %v", err)
		}
	}
	// Same data, different ids and different ciphertexts (random nonces).
	a, _ := s.Put(ctx, []byte("same"))
	b, _ := s.Put(ctx, []byte("same"))
	ra, _ := os.ReadFile(filepath.Join(dir, a[:2], a))
	rb, _ := os.ReadFile(filepath.Join(dir, b[:2], b))
	if a == b || bytes.Equal(ra, rb) {
		t.Error("two puts of the same data gave the same id or file")
	}
	// No temporary files are left behind.
	matches, _ := filepath.Glob(filepath.Join(dir, "*", ".tmp-*"))
	if len(matches) > 0 {
		t.Errorf("temporary files left: %v", matches)
	}
}

func TestSizeLimit(t *testing.T) {
	ctx := context.Background()
	s := mustOpen(t, t.TempDir(), mustKeyring(t, "k1:"+testKey(1)))
	s.MaxSize = 100
	if _, err := s.Put(ctx, make([]byte, 101)); vigil.ErrorCode(err) != vigil.ETOOLARGE {
		t.Errorf("oversized put: %v", err)
	}
	if _, err := s.Put(ctx, make([]byte, 100)); err != nil {
		t.Errorf("put at the limit: %v", err)
	}
}

func TestBadBlobs(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := mustOpen(t, dir, mustKeyring(t, "k1:"+testKey(1)))
	data := []byte("evidence stand-in: a gradient image")
	id, err := s.Put(ctx, data)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, id[:2], id)
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.Put(ctx, data)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		store *media.Store
		blob  []byte // written over the file; nil keeps it
		id    string
		want  error
	}{
		{"wrong key", mustOpen(t, dir, mustKeyring(t, "k1:"+testKey(2))), nil, id, media.ErrCorrupt},
		{"unknown key id", mustOpen(t, dir, mustKeyring(t, "k2:"+testKey(1))), nil, id, media.ErrUnknownKey},
		{"flipped ciphertext bit", s, flipAt(orig, len(orig)-20), id, media.ErrCorrupt},
		{"flipped tag bit", s, flipAt(orig, len(orig)-1), id, media.ErrCorrupt},
		{"flipped length", s, flipAt(orig, 4+1+2+7), id, media.ErrTruncated},
		{"truncated data", s, orig[:len(orig)-5], id, media.ErrTruncated},
		{"truncated header", s, orig[:10], id, media.ErrTruncated},
		{"truncated magic", s, orig[:2], id, media.ErrTruncated},
		{"empty file", s, []byte{}, id, media.ErrTruncated},
		{"trailing bytes", s, append(append([]byte{}, orig...), 0), id, media.ErrFormat},
		{"not a blob", s, []byte("\x89PNG\r\n\x1a\n plain image"), id, media.ErrFormat},
		{"renamed to another id", s, orig, other, media.ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := filepath.Join(dir, tt.id[:2], tt.id)
			if tt.blob != nil {
				if err := os.WriteFile(target, tt.blob, 0o600); err != nil {
					t.Fatal(err)
				}
				defer os.WriteFile(path, orig, 0o600)
			}
			_, err := tt.store.Get(ctx, tt.id)
			if !errors.Is(err, tt.want) {
				t.Errorf("got %v, want %v", err, tt.want)
			}
			if err != nil && !strings.Contains(err.Error(), tt.id) {
				t.Errorf("error %q does not name the blob", err)
			}
		})
	}
}

// flipAt returns a copy of b with one bit of byte i inverted.
func flipAt(b []byte, i int) []byte {
	c := append([]byte{}, b...)
	c[i] ^= 0x10
	return c
}

func TestRotation(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	old := mustOpen(t, dir, mustKeyring(t, "2026-05:"+testKey(1)))
	oldID, err := old.Put(ctx, []byte("sealed with the old key"))
	if err != nil {
		t.Fatal(err)
	}
	// The new key goes first and seals new blobs; the old one still opens
	// its blobs.
	kr := mustKeyring(t, "2026-11:"+testKey(2)+",2026-05:"+testKey(1))
	if kr.Current() != "2026-11" {
		t.Fatalf("current key %q", kr.Current())
	}
	s := mustOpen(t, dir, kr)
	newID, err := s.Put(ctx, []byte("sealed with the new key"))
	if err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]string{oldID: "sealed with the old key", newID: "sealed with the new key"} {
		got, err := s.Get(ctx, id)
		if err != nil || string(got) != want {
			t.Errorf("get %s: %q, %v", id, got, err)
		}
	}
	if _, err := old.Get(ctx, newID); !errors.Is(err, media.ErrUnknownKey) {
		t.Errorf("old keyring opened a blob of the new key: %v", err)
	}
	raw, _ := os.ReadFile(filepath.Join(dir, newID[:2], newID))
	if !bytes.Contains(raw[:20], []byte("2026-11")) {
		t.Error("blob header does not carry the key id")
	}
}

func TestIDsValidated(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	s := mustOpen(t, filepath.Join(dir, "media"), mustKeyring(t, "k1:"+testKey(1)))
	// A file outside the store that traversal would reach.
	if err := os.WriteFile(filepath.Join(dir, "secret"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{
		"", "../secret", "../../etc/passwd", "/etc/passwd", "..", strings.Repeat("a", 31), strings.Repeat("a", 33),
		strings.Repeat("A", 32), "0123456789abcdef0123456789abcde/", "0123456789abcdef0123456789abcd\x00f",
		"..3456789abcdef0123456789abcdef0",
	} {
		if _, err := s.Get(ctx, id); vigil.ErrorCode(err) != vigil.EINVALID {
			t.Errorf("Get(%q): %v, want invalid", id, err)
		}
		if err := s.Delete(ctx, id); vigil.ErrorCode(err) != vigil.EINVALID {
			t.Errorf("Delete(%q): %v, want invalid", id, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "secret")); err != nil {
		t.Errorf("file outside the store: %v", err)
	}
}

func TestParseKeyring(t *testing.T) {
	k := testKey(7)
	raw := strings.TrimRight(k, "=")
	url := base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32))
	valid := []struct {
		in      string
		current string
	}{
		{"a:" + k, "a"},
		{" a:" + k + " , b:" + testKey(8) + " ", "a"},
		{"# comment\n\nnew:" + raw + "\nold:" + url + "\n", "new"},
	}
	for _, tt := range valid {
		kr, err := media.ParseKeyring(tt.in)
		if err != nil {
			t.Errorf("ParseKeyring(%q): %v", tt.in, err)
			continue
		}
		if kr.Current() != tt.current {
			t.Errorf("ParseKeyring(%q) current %q, want %q", tt.in, kr.Current(), tt.current)
		}
	}
	short := base64.StdEncoding.EncodeToString(make([]byte, 16))
	invalid := []string{
		"", " , ", "# only a comment", "a", "a:", "a:" + short, "a:not base64!", ":" + k,
		"a b:" + k, strings.Repeat("x", 33) + ":" + k, "a:" + k + ",a:" + testKey(8),
	}
	for _, in := range invalid {
		if _, err := media.ParseKeyring(in); err == nil {
			t.Errorf("ParseKeyring(%q) accepted", in)
		} else if strings.Contains(err.Error(), k) {
			t.Errorf("error %q shows the key", err)
		}
	}
}

func TestLoadOrCreateKeyFile(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "media.key")
	kr, created, err := media.LoadOrCreateKeyFile(path, bytes.NewReader(bytes.Repeat([]byte{3}, 64)))
	if err != nil || !created {
		t.Fatalf("first start: created %v, %v", created, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	s := mustOpen(t, filepath.Join(dir, "media"), kr)
	id, err := s.Put(ctx, []byte("kept across restarts"))
	if err != nil {
		t.Fatal(err)
	}

	// The next start reads the same key back and creates nothing.
	kr2, created, err := media.LoadOrCreateKeyFile(path, errReader{})
	if err != nil || created {
		t.Fatalf("second start: created %v, %v", created, err)
	}
	got, err := mustOpen(t, filepath.Join(dir, "media"), kr2).Get(ctx, id)
	if err != nil || string(got) != "kept across restarts" {
		t.Errorf("after restart: %q, %v", got, err)
	}

	if _, _, err := media.LoadOrCreateKeyFile(filepath.Join(dir, "other.key"), errReader{}); err == nil {
		t.Error("no error from a failing random source")
	}
	if err := os.WriteFile(filepath.Join(dir, "bad.key"), []byte("k:short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := media.LoadOrCreateKeyFile(filepath.Join(dir, "bad.key"), errReader{}); err == nil || errors.Is(err, fs.ErrNotExist) {
		t.Errorf("bad key file: %v", err)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("no randomness") }

func TestOpenWithoutKeys(t *testing.T) {
	if _, err := media.Open(t.TempDir(), &media.Keyring{}); err == nil {
		t.Error("opened a store without keys")
	}
}

func TestStaleTempsRemoved(t *testing.T) {
	dir := t.TempDir()
	kr := mustKeyring(t, "k1:"+testKey(1))
	mustOpen(t, dir, kr)
	sub := filepath.Join(dir, "ab")
	if err := os.MkdirAll(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	stale, fresh := filepath.Join(sub, ".tmp-1"), filepath.Join(sub, ".tmp-2")
	blob := filepath.Join(sub, "ab"+strings.Repeat("0", 30))
	for _, p := range []string{stale, fresh, blob} {
		if err := os.WriteFile(p, []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-2 * time.Hour)
	for _, p := range []string{stale, blob} {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	// A crash left stale; fresh may be a write under way in another
	// process; blob is a blob, however old.
	mustOpen(t, dir, kr)
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stale temporary file kept: %v", err)
	}
	for _, p := range []string{fresh, blob} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s removed: %v", filepath.Base(p), err)
		}
	}
}

func TestRekey(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	old := mustOpen(t, dir, mustKeyring(t, "old:"+testKey(1)))
	var ids []string
	for i := range 3 {
		id, err := old.Put(ctx, []byte(fmt.Sprint("blob ", i)))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	both := mustOpen(t, dir, mustKeyring(t, "new:"+testKey(2)+",old:"+testKey(1)))
	fresh, err := both.Put(ctx, []byte("already new"))
	if err != nil {
		t.Fatal(err)
	}
	if n, err := both.Rekey(ctx); n != 3 || err != nil {
		t.Fatalf("rekey: %d, %v; want the 3 old blobs", n, err)
	}
	if n, err := both.Rekey(ctx); n != 0 || err != nil {
		t.Errorf("second rekey: %d, %v", n, err)
	}
	// The old key can go: the new one alone opens every blob.
	onlyNew := mustOpen(t, dir, mustKeyring(t, "new:"+testKey(2)))
	for i, id := range ids {
		got, err := onlyNew.Get(ctx, id)
		if err != nil || string(got) != fmt.Sprint("blob ", i) {
			t.Errorf("blob %d after rekey: %q, %v", i, got, err)
		}
	}
	if got, err := onlyNew.Get(ctx, fresh); err != nil || string(got) != "already new" {
		t.Errorf("new blob: %q, %v", got, err)
	}
	// A blob no key in the ring opens stops the rekey with its id.
	if _, err := mustOpen(t, dir, mustKeyring(t, "newer:"+testKey(3))).Rekey(ctx); !errors.Is(err, media.ErrUnknownKey) {
		t.Errorf("rekey without the blobs' key: %v", err)
	}
}
