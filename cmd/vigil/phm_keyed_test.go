package main

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/pdq"
	"github.com/vigil-oss/vigil/phm/phmtest"
	"github.com/vigil-oss/vigil/phm/second"
	"github.com/vigil-oss/vigil/sqlite"
)

func writePNG(t *testing.T, path string, img image.Image) {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestPHMKeyEntries: vigil phm key-entries keys the entries of a bank
// from the generated pictures they were hashed from (the keyed hash
// stored is the picture's under the key), refuses a picture that is no
// entry of the bank and two pictures for one entry, and leaves an entry
// keyed again from the same picture unchanged.
func TestPHMKeyEntries(t *testing.T) {
	ctx := context.Background()
	data := newDataDir(t)
	mustRun(t, "bank", "create", "--data", data, "refs")
	mustRun(t, "bank", "create", "--data", data, "other")
	dir := t.TempDir()
	var pics []string
	var imgs []image.Image
	var listed []string
	for i := range 4 {
		img := phmtest.Picture(40+i, 128)
		p := filepath.Join(dir, "pic"+string(rune('a'+i))+".png")
		writePNG(t, p, img)
		pics, imgs = append(pics, p), append(imgs, img)
		h, _ := pdq.NewHasher(pdq.Full).Hash(img)
		listed = append(listed, h.String())
	}
	// The first three are listed in refs; the fourth only in another bank.
	importHashes(t, data, "refs", "pdq", "hotline", listed[:3])
	importHashes(t, data, "other", "pdq", "hotline", listed[3:])
	keys := filepath.Join(t.TempDir(), "keys")
	mustRun(t, "phm", "keygen", "--out", keys)
	keyFile := filepath.Join(keys, "second.key")

	out, errOut, err := runMain(t, "", append([]string{"phm", "key-entries", "--data", data, "--second-key", keyFile, "--bank", "refs"}, pics...)...)
	if err == nil {
		t.Fatalf("a picture of no entry of the bank was not refused:\n%s", out)
	}
	for i, p := range pics {
		want := p + ": keyed: entry "
		if i == 3 {
			want = p + ": no entry: none of bank refs within 8 bits"
		}
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s%s", want, out, errOut)
		}
	}
	if !strings.Contains(out, "3 of 4 pictures keyed") {
		t.Errorf("output:\n%s", out)
	}

	// The store holds each listed picture's keyed hash under the key, for
	// its own entry.
	kb, err := os.ReadFile(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	key, err := second.ParseKey(kb)
	if err != nil {
		t.Fatal(err)
	}
	stored := func() map[string]second.Hash {
		t.Helper()
		db, err := sqlite.Open(ctx, data, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		es, err := sqlite.NewEntryService(db).FindEntries(ctx, vigil.EntryFilter{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
		ids := map[int64]string{}
		var all []int64
		for _, e := range es {
			ids[e.ID] = e.Value
			all = append(all, e.ID)
		}
		hs, err := sqlite.NewPHMService(db).PHMKeyedHashes(ctx, key.ID(), all)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]second.Hash{}
		for id, h := range hs {
			out[ids[id]] = second.Hash(h.Hash)
		}
		return out
	}
	got := stored()
	if len(got) != 3 {
		t.Fatalf("%d entries keyed, want 3", len(got))
	}
	kh := second.NewHasher()
	for i := range 3 {
		want, _ := kh.Hash(key, imgs[i])
		if got[listed[i]] != want {
			t.Errorf("entry of picture %d holds keyed hash %s, want %s", i, got[listed[i]], want)
		}
	}

	// The same picture again changes nothing; two pictures of one entry
	// in one run are both refused.
	out = mustRun(t, "phm", "key-entries", "--data", data, "--second-key", keyFile, "--bank", "refs", pics[0])
	if !strings.Contains(out, pics[0]+": unchanged: entry ") {
		t.Errorf("keyed again:\n%s", out)
	}
	twin := filepath.Join(dir, "twin.png")
	writePNG(t, twin, imgs[1])
	out, _, err = runMain(t, "", "phm", "key-entries", "--data", data, "--second-key", keyFile, "--bank", "refs", pics[1], twin)
	if err == nil || !strings.Contains(out, pics[1]+": ambiguous: ") || !strings.Contains(out, twin+": ambiguous: ") {
		t.Errorf("two pictures for one entry: %v\n%s", err, out)
	}

	// Not a picture, a missing key, a bank that does not exist.
	notPic := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notPic, []byte("not a picture"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, errOut, err := runMain(t, "", "phm", "key-entries", "--data", data, "--second-key", keyFile, "--bank", "refs", notPic); err == nil || !strings.Contains(errOut, "notes.txt") {
		t.Errorf("not a picture: %v %s", err, errOut)
	}
	if _, _, err := runMain(t, "", "phm", "key-entries", "--data", data, "--second-key", filepath.Join(keys, "review.key"), "--bank", "refs", pics[0]); err == nil {
		t.Error("the review key was taken for a keyed hash key")
	}
	if _, _, err := runMain(t, "", "phm", "key-entries", "--data", data, "--second-key", keyFile, "--bank", "nope", pics[0]); err == nil {
		t.Error("a bank that does not exist")
	}
}

// TestServePHMSecondKey: vigil serve --phm-second-key loads the key and
// counts the keyed hash's refusals on /metrics; a file that is not a key
// is refused at start.
func TestServePHMSecondKey(t *testing.T) {
	table, tk, keys := buildPHMTable(t)
	srv := startServe(t, "--phm-grid", "1s", "--phm-spread", "0", "--phm-table", table, "--phm-keys", tk, "--phm-review-key", filepath.Join(keys, "review.key"),
		"--phm-second-key", filepath.Join(keys, "second.key"))
	_, metrics := srv.call("GET", "/metrics", "", nil)
	if !strings.Contains(string(metrics), "vigil_phm_items_keyed_refused_total 0") {
		t.Fatalf("metrics lack the keyed refusals:\n%s", grepLines(string(metrics), "vigil_phm"))
	}
	bad := filepath.Join(t.TempDir(), "second.key")
	if err := os.WriteFile(bad, []byte("vigil-phm-second-key-v1 0123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, errOut, err := runMain(t, "", "serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0", "--phm-table", table, "--phm-keys", tk,
		"--phm-review-key", filepath.Join(keys, "review.key"), "--phm-second-key", bad)
	if err == nil || !strings.Contains(err.Error()+errOut, "keyed hash key file") {
		t.Fatalf("a review key as the keyed hash key: %v %s", err, errOut)
	}
}
