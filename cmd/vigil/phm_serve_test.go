package main

import (
	"bytes"
	"crypto/rand"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-oss/vigil/hashing"
	"github.com/vigil-oss/vigil/phm"
	"github.com/vigil-oss/vigil/phm/client"
	"github.com/vigil-oss/vigil/phm/phmtest"
)

// buildPHMTable builds a PHM table directory with `vigil phm build-table`
// from two hotlines' banks of balanced PDQ hashes, and a review key pair.
func buildPHMTable(t *testing.T) (table, tableKeys, keys string) {
	t.Helper()
	data := newDataDir(t)
	mustRun(t, "bank", "create", "--data", data, "a")
	mustRun(t, "bank", "create", "--data", data, "b")
	var pdqs []string
	for i := range 12 {
		pdqs = append(pdqs, balancedPDQ(uint64(i)))
	}
	importHashes(t, data, "a", "pdq", "hotline-us", pdqs)
	importHashes(t, data, "b", "pdq", "hotline-uk", pdqs)
	dir := t.TempDir()
	sources := filepath.Join(dir, "sources")
	if err := os.WriteFile(sources, []byte("hotline-us hotline-us US\nhotline-uk hotline-uk GB\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tk := filepath.Join(dir, "table-keys")
	mustRun(t, "phm", "table-keys", "--out", tk, "--origin", "phm.test")
	table = filepath.Join(dir, "v1")
	mustRun(t, "phm", "build-table", "--data", data, "--keys", tk, "--log", filepath.Join(dir, "log"), "--out", table, "--sources", sources, "--headroom", "100")
	keys = filepath.Join(dir, "review")
	mustRun(t, "phm", "keygen", "--out", keys)
	return table, tk, keys
}

// TestServePHMRoute: vigil serve with --phm-table and --phm-review-key
// receives vouchers on POST /v1/phm/vouchers and counts them in its
// metrics; without the flags the route says it is not served, and half of
// the flags is refused at start.
func TestServePHMRoute(t *testing.T) {
	table, tk, keys := buildPHMTable(t)
	srv := startServe(t, "--phm-grid", "1s", "--phm-spread", "0", "--phm-table", table, "--phm-keys", tk, "--phm-review-key", filepath.Join(keys, "review.key"))
	tbl, err := phmTableDirs{}.Table(table)
	if err != nil {
		t.Fatal(err)
	}
	pb, err := os.ReadFile(filepath.Join(keys, "review.pub"))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := phm.InnerKEM.NewPublicKey(pb)
	if err != nil {
		t.Fatal(err)
	}
	acct, err := client.NewAccount(rand.Reader, phm.DefaultParams, 0)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	for i := range 3 {
		var pngBuf bytes.Buffer
		if err := png.Encode(&pngBuf, phmtest.Picture(i, 96)); err != nil {
			t.Fatal(err)
		}
		c, err := client.Prepare(pngBuf.Bytes(), hashing.Limits{})
		if err != nil {
			t.Fatal(err)
		}
		v, err := acct.NewVoucher(tbl, pub, c, "att", rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		buf.Write(v)
	}
	code, body := srv.call("POST", "/v1/phm/vouchers?user_id=acct-1", "application/octet-stream", &buf)
	if code != 202 || string(body) != `{"received":3}`+"\n" {
		t.Fatalf("vouchers: %d %s", code, body)
	}
	_, metrics := srv.call("GET", "/metrics", "", nil)
	if !strings.Contains(string(metrics), "vigil_phm_vouchers_received_total 3") || !strings.Contains(string(metrics), "vigil_phm_items_rejected_total 0") {
		t.Fatalf("metrics lack the PHM counts:\n%s", grepLines(string(metrics), "vigil_phm"))
	}

	plain := startServe(t)
	if code, body := plain.call("POST", "/v1/phm/vouchers?user_id=acct-1", "application/octet-stream", strings.NewReader("x")); code != 415 {
		t.Fatalf("without --phm-table: %d %s", code, body)
	}
	_, errOut, err := runMain(t, "", "serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0", "--phm-table", table, "--phm-keys", tk)
	if err == nil || !strings.Contains(err.Error()+errOut, "review key") {
		t.Fatalf("no review key: %v %s", err, errOut)
	}
	// An earlier table's keys that cannot be read are refused at start.
	_, errOut, err = runMain(t, "", "serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0", "--phm-table", table, "--phm-keys", tk,
		"--phm-review-key", filepath.Join(keys, "review.key"), "--phm-previous-keys", filepath.Join(t.TempDir(), "missing"))
	if err == nil || !strings.Contains(err.Error()+errOut, "alpha") {
		t.Fatalf("missing previous keys: %v %s", err, errOut)
	}
	// Another table's α is refused at start.
	other := filepath.Join(t.TempDir(), "other-keys")
	mustRun(t, "phm", "table-keys", "--out", other, "--origin", "phm.test")
	_, errOut, err = runMain(t, "", "serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0", "--phm-table", table, "--phm-keys", other, "--phm-review-key", filepath.Join(keys, "review.key"))
	if err == nil || !strings.Contains(err.Error()+errOut, "not blinded") {
		t.Fatalf("another table's α: %v %s", err, errOut)
	}
}

// TestServePHMStrictKeyed: with --phm-second-key vigil serve counts the
// matches it refuses for want of a keyed hash in its metrics;
// --phm-allow-unkeyed without a second key is refused at start.
func TestServePHMStrictKeyed(t *testing.T) {
	table, tk, keys := buildPHMTable(t)
	srv := startServe(t, "--phm-grid", "1s", "--phm-spread", "0", "--phm-table", table, "--phm-keys", tk, "--phm-review-key", filepath.Join(keys, "review.key"),
		"--phm-second-key", filepath.Join(keys, "second.key"))
	_, metrics := srv.call("GET", "/metrics", "", nil)
	if !strings.Contains(string(metrics), "vigil_phm_items_unkeyed_refused_total 0") {
		t.Fatalf("metrics lack the unkeyed refusals:\n%s", grepLines(string(metrics), "vigil_phm"))
	}
	_, errOut, err := runMain(t, "", "serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0", "--phm-table", table, "--phm-keys", tk,
		"--phm-review-key", filepath.Join(keys, "review.key"), "--phm-allow-unkeyed")
	if err == nil || !strings.Contains(err.Error()+errOut, "--phm-allow-unkeyed is for --phm-second-key") {
		t.Fatalf("--phm-allow-unkeyed without a second key: %v %s", err, errOut)
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
