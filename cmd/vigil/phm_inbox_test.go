package main

import (
	"bytes"
	"crypto/rand"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-oss/vigil/hashing"
	"github.com/vigil-oss/vigil/phm"
	"github.com/vigil-oss/vigil/phm/client"
	"github.com/vigil-oss/vigil/phm/phmtest"
)

// TestServePHMInbox: vigil serve stores the vouchers it receives in its
// inbox and its worker processes them after the answer, which /metrics
// shows; past --phm-inbox-max the route answers 503; a bound below one is
// refused at start.
func TestServePHMInbox(t *testing.T) {
	table, tk, keys := buildPHMTable(t)
	review := filepath.Join(keys, "review.key")
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
	voucher := func(seed int) []byte {
		var pngBuf bytes.Buffer
		if err := png.Encode(&pngBuf, phmtest.Picture(seed, 96)); err != nil {
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
		return v
	}
	batch := bytes.Join([][]byte{voucher(1), voucher(2), voucher(3)}, nil)

	srv := startServe(t, "--phm-grid", "1s", "--phm-spread", "0", "--phm-table", table, "--phm-keys", tk, "--phm-review-key", review)
	if code, body := srv.call("POST", "/v1/phm/vouchers?user_id=acct-1", "application/octet-stream", bytes.NewReader(batch)); code != 202 {
		t.Fatalf("vouchers: %d %s", code, body)
	}
	var metrics string
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(10 * time.Millisecond) {
		_, m := srv.call("GET", "/metrics", "", nil)
		metrics = string(m)
		if strings.Contains(metrics, "vigil_phm_inbox_processed_total 3") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the worker did not process the vouchers:\n%s", grepLines(metrics, "vigil_phm"))
		}
	}
	for _, want := range []string{"vigil_phm_inbox_vouchers 0", "vigil_phm_inbox_dropped_total 0", "vigil_phm_inbox_full_total 0"} {
		if !strings.Contains(metrics, want) {
			t.Fatalf("metrics lack %q:\n%s", want, grepLines(metrics, "vigil_phm"))
		}
	}

	// A bound of 2: a batch of 3 is refused whole, however its vouchers
	// would open.
	small := startServe(t, "--phm-grid", "1s", "--phm-spread", "0", "--phm-table", table, "--phm-keys", tk, "--phm-review-key", review, "--phm-inbox-max", "2")
	if code, body := small.call("POST", "/v1/phm/vouchers?user_id=acct-1", "application/octet-stream", bytes.NewReader(batch)); code != 503 {
		t.Fatalf("a batch over the bound: %d %s", code, body)
	}
	_, errOut, err := runMain(t, "", "serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0", "--phm-table", table, "--phm-keys", tk,
		"--phm-review-key", review, "--phm-inbox-max", "0")
	if err == nil || !strings.Contains(err.Error()+errOut, "inbox-max") {
		t.Fatalf("--phm-inbox-max 0: %v %s", err, errOut)
	}
}
