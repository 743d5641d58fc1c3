// Package storetest runs store tests on every database Foyer supports:
// SQLite always, PostgreSQL when FOYER_TEST_POSTGRES_DSN is set (CI always
// sets it). Each test gets a fresh, migrated database: a temporary SQLite
// file, or a new PostgreSQL schema dropped when the test ends.
package storetest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/testsuites"
)

// PostgresEnv is the environment variable holding the PostgreSQL DSN for
// tests.
const PostgresEnv = "FOYER_TEST_POSTGRES_DSN"

// RequirePostgresEnv, set to "require" (or 1), makes a missing
// FOYER_TEST_POSTGRES_DSN a failure instead of a skip. CI sets it.
const RequirePostgresEnv = "FOYER_TEST_POSTGRES"

// Each runs fn as a subtest once per database: "sqlite", and "postgres"
// when FOYER_TEST_POSTGRES_DSN is set. Without it the PostgreSQL subtest is
// skipped with a message saying so (a failure with
// FOYER_TEST_POSTGRES=require).
func Each(t *testing.T, fn func(t *testing.T, db *store.DB)) {
	t.Helper()
	t.Run("sqlite", func(t *testing.T) { fn(t, NewSQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, NewPostgres(t)) })
}

// EachB is Each for benchmarks: fn runs as a sub-benchmark once per
// database, on a fresh one.
func EachB(b *testing.B, fn func(b *testing.B, db *store.DB)) {
	b.Helper()
	b.Run("sqlite", func(b *testing.B) { fn(b, NewSQLite(b)) })
	b.Run("postgres", func(b *testing.B) { fn(b, NewPostgres(b)) })
}

// NewSQLite opens a fresh, migrated SQLite database in a temporary folder.
func NewSQLite(t testing.TB) *store.DB {
	t.Helper()
	db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "foyer.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

// PostgresDSN returns a DSN for a fresh, empty PostgreSQL schema that is
// dropped when the test ends; it skips the test when
// FOYER_TEST_POSTGRES_DSN is not set.
func PostgresDSN(t testing.TB) string {
	t.Helper()
	base := os.Getenv(PostgresEnv)
	if base == "" {
		testsuites.Skip(t, "PostgreSQL tests", "set "+PostgresEnv+" (e.g. postgres://postgres@127.0.0.1:5432/test?sslmode=disable) to run them",
			RequirePostgresEnv+"=require")
	}
	admin, err := sql.Open("pgx", base)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var b [8]byte
	_, _ = rand.Read(b[:])
	schema := "t_" + hex.EncodeToString(b[:])
	if _, err := admin.Exec("CREATE SCHEMA " + schema); err != nil {
		t.Fatalf("create test schema: %v", err)
	}
	t.Cleanup(func() {
		admin, err := sql.Open("pgx", base)
		if err != nil {
			return
		}
		defer admin.Close()
		if _, err := admin.Exec("DROP SCHEMA " + schema + " CASCADE"); err != nil {
			t.Logf("drop test schema %s: %v", schema, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse %s: %v", PostgresEnv, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// NewPostgres opens a fresh, migrated PostgreSQL schema; it skips the test
// when FOYER_TEST_POSTGRES_DSN is not set.
func NewPostgres(t testing.TB) *store.DB {
	t.Helper()
	dsn := PostgresDSN(t)
	db, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(fmt.Errorf("open postgres: %w", err))
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db
}

// FillSQLite makes a SQLite database behave as on a full disk: it caps
// the database at the pages it has now (PRAGMA max_page_count, on the
// writer connection, which lasts as long as the database is open) and
// takes up every free page, so that any write needing a new page fails
// with SQLITE_FULL, as it would on a disk with no space left.
func FillSQLite(t testing.TB, db *store.DB) {
	t.Helper()
	if db.Dialect != store.SQLite {
		t.Fatal("FillSQLite needs a SQLite database")
	}
	ctx := context.Background()
	var pages, limit int64
	if err := db.WriteRow(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if err := db.WriteRow(ctx, fmt.Sprintf(`PRAGMA max_page_count = %d`, pages)).Scan(&limit); err != nil || limit != pages {
		t.Fatalf("max_page_count = %d, %v; want %d", limit, err, pages)
	}
	for i := 0; ; i++ {
		_, err := db.Exec(ctx, `INSERT INTO write_probe (id, filler) VALUES ($1, randomblob(3000))`, fmt.Sprint("fill-", i))
		if store.Unavailable(err) {
			return
		}
		if err != nil {
			t.Fatalf("fill: %v", err)
		}
	}
}

// NewPostgresBehindProxy opens a fresh, migrated PostgreSQL schema, as
// NewPostgres does, through a Proxy the test controls, so that it can
// stall or cut the connection. params are added to the DSN (such as
// statement_timeout=300).
func NewPostgresBehindProxy(t testing.TB, params url.Values) (*store.DB, *Proxy) {
	t.Helper()
	dsn := PostgresDSN(t)
	direct, err := store.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(fmt.Errorf("open postgres: %w", err))
	}
	_, err = direct.Migrate(context.Background())
	direct.Close()
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := StartProxy(t, u.Host)
	q := u.Query()
	for k, vs := range params {
		for _, v := range vs {
			q.Add(k, v)
		}
	}
	u.RawQuery = q.Encode()
	db, err := store.Open(context.Background(), proxy.DSN(u.String()))
	if err != nil {
		t.Fatal(fmt.Errorf("open postgres through the proxy: %w", err))
	}
	t.Cleanup(func() { db.Close() })
	return db, proxy
}
