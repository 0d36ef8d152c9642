package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"testing"

	"github.com/pressly/goose/v3"
	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/sqlstore"
)

// TestMigrateContentKey checks that migration 00009 gives the cases opened
// before it the content keys OpenCase gives new ones.
func TestMigrateContentKey(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fsys, err := fs.Sub(migrationFS, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 8); err != nil {
		t.Fatal(err)
	}
	const ts = "2026-01-02T03:04:05.000000000Z"
	if _, err := db.ExecContext(ctx, `INSERT INTO queues (id, name, created_at) VALUES (1, 'q', ?)`, ts); err != nil {
		t.Fatal(err)
	}
	contents := []string{
		`{"sha256":"ABCDEF","user_id":"u1"}`,
		`{"user_id":"u2"}`,
		`{"content_id":"post-3"}`,
	}
	for i, content := range contents {
		if _, err := db.ExecContext(ctx, `
			INSERT INTO cases (id, queue_id, kind, state, content, created_at, updated_at, retain_until)
			VALUES (?, 1, 'match', 'open', ?, ?, ?, ?)`, i+1, content, ts, ts, ts); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ExecContext(ctx, `
			INSERT INTO case_entries (case_id, entry_id, bank_id, created_at) VALUES (?, 7, 1, ?)`, i+1, ts); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
	want := []sql.NullString{
		{String: "sha256:abcdef", Valid: true},
		{String: "user:u2", Valid: true},
		{},
	}
	for i, w := range want {
		var got sql.NullString
		if err := db.QueryRowContext(ctx, `SELECT content_key FROM case_entries WHERE case_id = ?`, i+1).Scan(&got); err != nil {
			t.Fatal(err)
		}
		var ref vigil.ContentRef
		if err := json.Unmarshal([]byte(contents[i]), &ref); err != nil {
			t.Fatal(err)
		}
		if got != w || sqlstore.SpikeKey(ref) != w {
			t.Errorf("case %d (%s): content key %v, OpenCase's %v, want %v", i+1, contents[i], got, sqlstore.SpikeKey(ref), w)
		}
	}
}

// TestMigrateIncidentUsers checks that migration 00018 gives the
// incidents stored before it the users a write of them records now: the
// reported user, victims and intended recipients, and none for a purged
// incident.
func TestMigrateIncidentUsers(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), FileName))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	fsys, err := fs.Sub(migrationFS, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	p, err := goose.NewProvider(goose.DialectSQLite3, db, fsys, goose.WithDisableGlobalRegistry(true))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(ctx, 17); err != nil {
		t.Fatal(err)
	}
	const ts = "2026-01-02T03:04:05.000000000Z"
	kept, err := json.Marshal(&vigil.Incident{ReportedUser: "sus", Victims: []string{"kid-v", "kid-a"},
		Conversations: []*vigil.IncidentConversation{{CaseID: 1, IntendedRecipients: []string{"kid-a", "kid-b"}}, {CaseID: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, row := range []struct {
		id         int
		user, body string
		purged     any
	}{{1, "sus", string(kept), nil}, {2, "", `{"case_ids":[3]}`, ts}, {3, "plain", `{"reported_user":"plain"}`, nil}} {
		if _, err := db.ExecContext(ctx, `INSERT INTO incidents (id, state, reported_user, body, created_by, created_at, updated_at, purged_at)
			VALUES (?, 'draft', ?, ?, 'r', ?, ?, ?)`, row.id, row.user, row.body, ts, ts, row.purged); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.Up(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := queryAll(ctx, db, func(row scanner) (string, error) {
		var u string
		var id int64
		err := row.Scan(&id, &u)
		return fmt.Sprintf("%d:%s", id, u), err
	}, `SELECT incident_id, user_id FROM incident_users ORDER BY incident_id, user_id`)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"1:kid-a", "1:kid-b", "1:kid-v", "1:sus", "3:plain"}; !slices.Equal(got, want) {
		t.Errorf("incident users after migrating: %v, want %v", got, want)
	}
}
