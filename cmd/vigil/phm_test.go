package main

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/cloudflare/circl/group"

	"github.com/vigil-oss/vigil/phm"
	"github.com/vigil-oss/vigil/phm/client"
	"github.com/vigil-oss/vigil/phm/phmtest"
)

// testTables stands in for phm/table's files: every directory is one
// in-memory table.
type testTables struct{ t *phmtest.Table }

func (tt testTables) Table(string) (phm.Table, error)    { return tt.t, nil }
func (tt testTables) Alpha(string) (group.Scalar, error) { return tt.t.Alpha, nil }

func runPHM(t *testing.T, tables phmTables, args ...string) (string, string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	m := &Main{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}
	err := (&PHMCommand{Main: m, tables: tables}).Run(context.Background(), args)
	return out.String(), errOut.String(), err
}

// TestPHMVoucherOpen runs the CLI round trip with t = 2: three listed
// images and one unlisted one are vouchered; open reports four vouchers,
// three positives, the account recovered and the three revealed images.
func TestPHMVoucherOpen(t *testing.T) {
	dir := t.TempDir()
	var listed []phm.Key
	var images []string
	for i := range 4 {
		img := image.NewRGBA(image.Rect(0, 0, 70, 70))
		for y := range 70 {
			for x := range 70 {
				img.Set(x, y, color.RGBA{uint8(x * (i + 2)), uint8(y * 3), uint8(i * 60), 255})
			}
		}
		var buf bytes.Buffer
		_ = png.Encode(&buf, img)
		path := filepath.Join(dir, "img"+string(rune('a'+i))+".png")
		if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		images = append(images, path)
		if i < 3 {
			keys, err := client.Keys(buf.Bytes())
			if err != nil {
				t.Fatal(err)
			}
			listed = append(listed, keys[0])
		}
	}
	tables := testTables{phmtest.NewTable(t, listed...)}
	keys, acct, vouchers := filepath.Join(dir, "keys"), filepath.Join(dir, "acct"), filepath.Join(dir, "v")
	if _, e, err := runPHM(t, tables, "keygen", "--out", keys); err != nil {
		t.Fatalf("keygen: %v %s", err, e)
	}
	if _, e, err := runPHM(t, tables, "account", "--out", acct, "--threshold", "2", "--capacity", "4"); err != nil {
		t.Fatalf("account: %v %s", err, e)
	}
	before, _ := os.ReadFile(acct)
	out, e, err := runPHM(t, tables, append([]string{"voucher", "--table", "t", "--account", acct, "--review-pub", filepath.Join(keys, "review.pub"), "--out", vouchers}, images...)...)
	if err != nil {
		t.Fatalf("voucher: %v %s", err, e)
	}
	if strings.Count(out, ".voucher\n") != 4 {
		t.Fatalf("voucher printed %q", out)
	}
	if after, _ := os.ReadFile(acct); bytes.Equal(before, after) {
		t.Fatal("the account state was not saved")
	}
	files, _ := filepath.Glob(filepath.Join(vouchers, "*.voucher"))
	size := phm.Params{T: 2, S: 4}.VoucherSize()
	for _, f := range files {
		if st, _ := os.Stat(f); st.Size() != int64(size) {
			t.Fatalf("%s is %d bytes, want %d", f, st.Size(), size)
		}
	}
	open := func(store []string, files ...string) string {
		t.Helper()
		args := append([]string{"open", "--table", "t", "--keys", "k", "--review-key", filepath.Join(keys, "review.key"), "--account-id", "u1", "--threshold", "2", "--capacity", "4"}, store...)
		out, e, err := runPHM(t, tables, append(args, files...)...)
		if err != nil {
			t.Fatalf("open: %v %s", err, e)
		}
		return out
	}
	out = open([]string{"--memory"}, files...)
	if !strings.HasPrefix(out, "account u1 epoch 0: 4 vouchers, 3 positives, threshold 2, recovered true, revealed 3, confirmed 0 (--memory: no banks, no cases)\n") || strings.Count(out, "revealed ") != 4 || strings.Contains(out, "imgd.png") {
		t.Fatalf("open printed %q", out)
	}
	// On the store a run counts on from the last, as the service does: two
	// vouchers, then the other two and a replay of the first.
	data := newDataDir(t)
	if out := open([]string{"--data", data}, files[:2]...); !strings.HasPrefix(out, "account u1 epoch 0: 2 vouchers, ") || !strings.Contains(out, "recovered false, revealed 0") {
		t.Fatalf("first run printed %q", out)
	}
	out = open([]string{"--data", data}, append(files[2:], files[0])...)
	if !strings.HasPrefix(out, "account u1 epoch 0: 3 vouchers, 3 positives, threshold 2, recovered true, revealed 3, confirmed 0, cases []\n") || strings.Count(out, "revealed ") != 4 {
		t.Fatalf("second run printed %q", out)
	}
	// A third run reveals nothing again.
	if out := open([]string{"--data", data}, files...); !strings.Contains(out, "3 positives, threshold 2, recovered true, revealed 0") {
		t.Fatalf("third run printed %q", out)
	}
	// Without phm/table the commands say so.
	if _, _, err := runPHM(t, nil, "open", "--table", "t", "--keys", "k", "--review-key", "k", files[0]); err == nil || !strings.Contains(err.Error(), "phm/table") {
		t.Fatalf("open without tables: %v", err)
	}
}

// TestPHMVoucherFailedWriteLeavesAccount: a voucher that could not be
// written was never sent, so the account must not remember its image as
// sent. Before, the repeat set (and the synthetic count) kept the lost
// voucher's image whenever a later image of the same run succeeded, and
// the image's next voucher was a repeat one that never opens: a listed
// image silently stopped counting.
func TestPHMVoucherFailedWriteLeavesAccount(t *testing.T) {
	dir := t.TempDir()
	var listed []phm.Key
	write := func(name string, i int) string {
		img := image.NewRGBA(image.Rect(0, 0, 70, 70))
		for y := range 70 {
			for x := range 70 {
				img.Set(x, y, color.RGBA{uint8(x * (i + 2)), uint8(y * 3), uint8(i * 60), 255})
			}
		}
		var buf bytes.Buffer
		_ = png.Encode(&buf, img)
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
			t.Fatal(err)
		}
		keys, err := client.Keys(buf.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		listed = append(listed, keys[0])
		return path
	}
	// Two images of one base name: the second's voucher file exists
	// already, so its write fails; a third image succeeds after it.
	first, lost, third := write("a/x.png", 0), write("b/x.png", 1), write("c.png", 2)
	tables := testTables{phmtest.NewTable(t, listed...)}
	keys, acct := filepath.Join(dir, "keys"), filepath.Join(dir, "acct")
	if _, e, err := runPHM(t, tables, "keygen", "--out", keys); err != nil {
		t.Fatalf("keygen: %v %s", err, e)
	}
	if _, e, err := runPHM(t, tables, "account", "--out", acct, "--threshold", "2", "--capacity", "4", "--synthetic-rate", "0"); err != nil {
		t.Fatalf("account: %v %s", err, e)
	}
	voucher := func(out string, images ...string) (string, error) {
		args := []string{"voucher", "--table", "t", "--account", acct, "--review-pub", filepath.Join(keys, "review.pub"), "--out", filepath.Join(dir, out)}
		_, e, err := runPHM(t, tables, append(args, images...)...)
		return e, err
	}
	if e, err := voucher("v1", first, lost, third); err == nil || !strings.Contains(e, "b/x.png") {
		t.Fatalf("voucher with a clashing name: %v %q", err, e)
	}
	// The lost image, vouchered again, is not a repeat: its voucher opens.
	if e, err := voucher("v2", lost); err != nil {
		t.Fatalf("voucher again: %v %s", err, e)
	}
	out, e, err := runPHM(t, tables, "open", "--table", "t", "--keys", "k", "--review-key", filepath.Join(keys, "review.key"),
		"--account-id", "u1", "--threshold", "2", "--capacity", "4", "--memory", filepath.Join(dir, "v2", "x.png.voucher"))
	if err != nil {
		t.Fatalf("open: %v %s", err, e)
	}
	if !strings.HasPrefix(out, "account u1 epoch 0: 1 vouchers, 1 positives,") {
		t.Fatalf("the re-made voucher of the lost image does not open: %q", out)
	}
}

// TestPHMUsageNamesEverySubcommand: `vigil phm` and `vigil help phm` list
// every phm subcommand, the table's and the log's too (they listed only
// the device's and the service's, so a new user never learnt of
// build-table or verify-table from the help).
func TestPHMUsageNamesEverySubcommand(t *testing.T) {
	var out, errOut bytes.Buffer
	m := &Main{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut, Logger: slog.New(slog.DiscardHandler)}
	_ = m.Run(context.Background(), []string{"help", "phm"})
	text := out.String() + errOut.String()
	for _, sub := range append([]string{"keygen", "account", "voucher", "open", "key-entries", "eval"}, phmTableSubcommands...) {
		if !strings.Contains(text, "vigil phm "+sub+" ") {
			t.Errorf("the phm usage does not name %q:\n%s", sub, text)
		}
	}
}

// TestReadLimitedNotARegularFile: readLimited trusted the file's stat
// size, so a device or a pipe (/dev/zero, a shell's <(…), /dev/stdin)
// read as 0 bytes, "not a voucher: 0 bytes". It reads up to the limit
// whatever the file is, and refuses past it.
func TestReadLimitedNotARegularFile(t *testing.T) {
	if _, err := os.Stat("/dev/zero"); err != nil {
		t.Skip("no /dev/zero")
	}
	if b, err := readLimited("/dev/zero", 100); err == nil || !strings.Contains(err.Error(), "over the 100-byte limit") {
		t.Fatalf("/dev/zero read as %d bytes, %v", len(b), err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		w.Write([]byte("seventeen bytes!!"))
		w.Close()
	}()
	defer r.Close()
	b, err := readLimited(fmt.Sprintf("/dev/fd/%d", r.Fd()), 100)
	if err != nil || string(b) != "seventeen bytes!!" {
		t.Fatalf("a pipe read as %q, %v", b, err)
	}
	f := filepath.Join(t.TempDir(), "f")
	os.WriteFile(f, make([]byte, 101), 0o600)
	if _, err := readLimited(f, 100); err == nil {
		t.Fatal("a 101-byte file under a 100-byte limit")
	}
	if b, err := readLimited(f, 101); err != nil || len(b) != 101 {
		t.Fatalf("a 101-byte file: %d bytes, %v", len(b), err)
	}
}

// TestPHMAccountCapacityAtLeastThreshold: --capacity's help says at least
// t (the design asks s ≥ 2t: below t synthetic vouchers the count of
// positives alone tells the service some are real before the threshold);
// the command took any s.
func TestPHMAccountCapacityAtLeastThreshold(t *testing.T) {
	dir := t.TempDir()
	if _, e, err := runPHM(t, nil, "account", "--out", filepath.Join(dir, "a"), "--threshold", "30", "--capacity", "10"); err == nil {
		t.Fatalf("an account with s = 10 < t = 30 was made: %s", e)
	}
	if _, err := os.Stat(filepath.Join(dir, "a")); err == nil {
		t.Fatal("the refused account was written")
	}
	if _, e, err := runPHM(t, nil, "account", "--out", filepath.Join(dir, "b"), "--threshold", "30", "--capacity", "30"); err != nil {
		t.Fatalf("s = t refused: %v %s", err, e)
	}
}
