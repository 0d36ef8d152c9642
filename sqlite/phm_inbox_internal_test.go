package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"sync/atomic"
	"testing"
	"time"
)

// TestPHMInboxSecureDelete: a processed voucher's bytes are not left in
// the database file's free pages once it is deleted and the log
// checkpointed, and secure_delete is put back as it was for every other
// deletion. Without WriteSecureDelete the marker stays in the file.
func TestPHMInboxSecureDelete(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	in := NewPHMService(db)
	marker := []byte("INBOX-MARKER-")
	voucher := bytes.Repeat(marker, 17069/len(marker)) // overflows a 16 KiB page
	if err := in.AppendPHMInbox(ctx, "u", [][]byte{voucher, []byte("kept")}, 0); err != nil {
		t.Fatal(err)
	}
	items, err := in.PHMInboxNext(ctx, time.Now(), 10)
	if err != nil || len(items) != 2 {
		t.Fatalf("%d items, %v", len(items), err)
	}
	if err := in.DeletePHMInbox(ctx, []int64{items[0].ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.wdb.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`); err != nil {
		t.Fatal(err)
	}
	file, err := os.ReadFile(db.Path())
	if err != nil {
		t.Fatal(err)
	}
	if n := bytes.Count(file, marker); n > 0 {
		t.Fatalf("the deleted voucher's bytes are in the database file %d times", n)
	}
	var sd int
	if err := db.wdb.QueryRowContext(ctx, `PRAGMA secure_delete`).Scan(&sd); err != nil || sd != 0 {
		t.Fatalf("secure_delete left at %d (%v)", sd, err)
	}
}

// TestPHMInboxAppendsGrouped: appends made at once share commits.
func TestPHMInboxAppendsGrouped(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var groups atomic.Int64
	db.onGroup = func(int) { groups.Add(1) }
	in := NewPHMService(db)
	// Hold the writer so that the appends queue up behind it.
	release := make(chan struct{})
	held := make(chan struct{})
	go db.writeGrouped(ctx, func(*sql.Tx) error { close(held); <-release; return nil })
	<-held
	const n = 8
	errs := make(chan error, n)
	for range n {
		go func() { errs <- in.AppendPHMInbox(ctx, "u", [][]byte{[]byte("v")}, 0) }()
	}
	time.Sleep(100 * time.Millisecond) // let them queue (not a timing assertion)
	close(release)
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if d, _, err := in.PHMInboxDepth(ctx); err != nil || d != n {
		t.Fatalf("depth %d, %v", d, err)
	}
	if groups.Load() == 0 {
		t.Fatal("no append shared a commit")
	}
}
