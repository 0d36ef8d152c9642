// Package pgtest gives tests a fresh PostgreSQL database: a schema of its
// own on the server named by VIGIL_TEST_POSTGRES (scripts/with-postgres
// starts a throwaway one and sets it; .ci/run always does). Without the
// variable, tests that need PostgreSQL skip.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"

	"github.com/jackc/pgx/v5"
)

// EnvVar names the test server's URL.
const EnvVar = "VIGIL_TEST_POSTGRES"

// RequireVar, set to 1 (as .ci/run does), makes a missing EnvVar fail the
// tests instead of skipping them, so that CI cannot pass without running
// them.
const RequireVar = "VIGIL_REQUIRE_POSTGRES"

// ServerURL returns the test server's URL, or skips tb without one.
func ServerURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(EnvVar)
	if u == "" {
		if os.Getenv(RequireVar) == "1" {
			tb.Fatal(EnvVar + " is not set but " + RequireVar + "=1: the PostgreSQL tests must run")
		}
		tb.Skip(EnvVar + " is not set (run the tests under scripts/with-postgres)")
	}
	return u
}

// SchemaURL creates an empty schema on the test server, dropped when tb
// ends, and returns a URL whose connections use it (search_path): every
// test gets a fresh database without the cost of CREATE DATABASE.
func SchemaURL(tb testing.TB) string {
	tb.Helper()
	base := ServerURL(tb)
	var b [8]byte
	rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	exec(tb, base, "CREATE SCHEMA "+schema)
	tb.Cleanup(func() { exec(tb, base, "DROP SCHEMA "+schema+" CASCADE") })
	u, err := url.Parse(base)
	if err != nil {
		tb.Fatal(err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// exec runs one statement on its own connection to url.
func exec(tb testing.TB, url, sql string) {
	tb.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql); err != nil {
		tb.Fatal(err)
	}
}
