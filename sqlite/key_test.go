package sqlite_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/vigil-oss/vigil"
	"github.com/vigil-oss/vigil/sqlite"
)

// TestKeyNamesMigration opens a database made before key names were
// unique, holding two unrevoked keys of one name: both keep working, and
// the younger is renamed so that the names tell them apart.
func TestKeyNamesMigration(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db, err := sqlite.Open(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	keys := sqlite.NewKeyService(db)
	var secrets []string
	for _, name := range []string{"ops", "other", "old"} {
		secret, err := keys.CreateKey(ctx, &vigil.Key{Name: name, Role: vigil.RoleAdmin})
		if err != nil {
			t.Fatal(err)
		}
		secrets = append(secrets, secret)
	}
	if _, err := keys.RevokeKey(ctx, 3, "test"); err != nil {
		t.Fatal(err)
	}
	db.Close()

	// Back to before migration 00011, with duplicate names; the store
	// applies a missing migration out of order, so it reruns just 00011.
	raw, err := sql.Open("sqlite", filepath.Join(dir, sqlite.FileName))
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`DROP INDEX api_keys_unrevoked_name`,
		`DELETE FROM goose_db_version WHERE version_id = 11`,
		`UPDATE api_keys SET name = 'ops'`,
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(q, err)
		}
	}
	raw.Close()

	db, err = sqlite.Open(ctx, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	keys = sqlite.NewKeyService(db)
	list, err := keys.ListKeys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 || list[0].Name != "ops" || list[1].Name != "ops#2" || list[2].Name != "ops" {
		t.Fatalf("keys after migration: %+v %+v %+v", list[0], list[1], list[2])
	}
	for _, s := range secrets[:2] {
		if _, err := keys.FindKeyBySecret(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	_, err = keys.CreateKey(ctx, &vigil.Key{Name: "ops", Role: vigil.RoleMatcher})
	if vigil.ErrorCode(err) != vigil.ECONFLICT {
		t.Fatalf("duplicate after migration: %v", err)
	}
}
