package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"testing"

	"github.com/vigil-oss/vigil"
)

// TestSessionTableBounds fills the store to its bounds (MaxSessions live
// sessions, MaxLoginAddrs addresses with failures), which the contract
// tests cannot reach in reasonable time through the interface: a full
// session table refuses new sessions without dropping live ones, and the
// failure table stays at its bound, losing the oldest window first.
func TestSessionTableBounds(t *testing.T) {
	ctx := context.Background()
	db, err := Open(ctx, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	keys, sessions := NewKeyService(db), NewSessionService(db)
	var ids []int64
	for i := range 2 {
		k := &vigil.Key{Name: fmt.Sprint("k", i), Role: vigil.RoleReviewer, CreatedBy: "test"}
		if _, err := keys.CreateKey(ctx, k); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, k.ID)
	}
	live := &vigil.Session{ID: vigil.SessionID("live"), KeyID: ids[0]}
	if err := sessions.CreateSession(ctx, live); err != nil {
		t.Fatal(err)
	}
	now := formatTime(db.now())
	err = db.write(ctx, func(tx *sql.Tx) error {
		for i := range vigil.MaxSessions - 1 {
			if _, err := tx.ExecContext(ctx, `INSERT INTO ui_sessions (id, key_id, created_at, last_seen_at, expires_at, break_from)
				VALUES (?, ?, ?, ?, ?, ?)`, vigil.SessionID(fmt.Sprint("filler", i)), ids[1], now, now, formatTime(db.now().Add(vigil.SessionMaxAge)), now); err != nil {
				return err
			}
		}
		for i := range vigil.MaxLoginAddrs {
			if _, err := tx.ExecContext(ctx, `INSERT INTO login_failures (addr, since, failures) VALUES (?, ?, 1)`,
				fmt.Sprintf("10.%d.%d.%d", i>>16, i>>8&255, i&255), formatTime(db.now().Add(-vigil.LoginWindow/2))); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The fillers are another key's, which this key's cap leaves alone.
	more := &vigil.Session{ID: vigil.SessionID("more"), KeyID: ids[0]}
	if err := sessions.CreateSession(ctx, more); vigil.ErrorCode(err) != vigil.ECONFLICT {
		t.Fatalf("session in a full table: %v, want ECONFLICT", err)
	}
	if _, err := sessions.FindSession(ctx, live.ID); err != nil {
		t.Fatalf("a full table dropped a live session: %v", err)
	}

	if err := sessions.LoginFailed(ctx, "192.0.2.1"); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.rdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM login_failures`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != vigil.MaxLoginAddrs {
		t.Fatalf("%d addresses counted, want the bound %d", n, vigil.MaxLoginAddrs)
	}
	var newest int
	if err := db.rdb.QueryRowContext(ctx, `SELECT COUNT(*) FROM login_failures WHERE addr = '192.0.2.1'`).Scan(&newest); err != nil || newest != 1 {
		t.Fatalf("the newest failure was dropped for the bound: %d %v", newest, err)
	}
}
