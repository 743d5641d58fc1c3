package store

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed migrations
var migrations embed.FS

// Migration is one numbered, forward-only schema change.
type Migration struct {
	Version int
	Name    string
	SQL     string
}

// Migrations lists the embedded migrations for a dialect in order.
func Migrations(d Dialect) ([]Migration, error) {
	dir := path.Join("migrations", d.String())
	entries, err := fs.ReadDir(migrations, dir)
	if err != nil {
		return nil, fmt.Errorf("store: read migrations: %w", err)
	}
	var out []Migration
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".sql") {
			continue
		}
		num, _, ok := strings.Cut(name, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("store: migration %s: name must start with a positive number and '_'", name)
		}
		body, err := fs.ReadFile(migrations, path.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("store: read migration %s: %w", name, err)
		}
		out = append(out, Migration{Version: v, Name: strings.TrimSuffix(name, ".sql"), SQL: string(body)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	for i := range out {
		if out[i].Version != i+1 {
			return nil, fmt.Errorf("store: migrations must be numbered 1..n without gaps; found %s at position %d", out[i].Name, i+1)
		}
	}
	return out, nil
}

// Migrate applies every embedded migration that has not run yet, each in
// its own transaction. It is safe to run from several processes at once:
// PostgreSQL serialises them with an advisory lock, SQLite with its single
// writer. It returns the names of the migrations it applied.
func (db *DB) Migrate(ctx context.Context) ([]string, error) {
	return db.MigrateTo(ctx, 0)
}

// MigrateTo applies migrations up to and including version (0: all).
// Tests use it to build an old schema, fill it, and migrate on.
func (db *DB) MigrateTo(ctx context.Context, version int) ([]string, error) {
	all, err := Migrations(db.Dialect)
	if err != nil {
		return nil, err
	}
	if version > 0 && version < len(all) {
		all = all[:version]
	}
	// A migration takes as long as it takes (an index on a big table), and
	// waits for another process's: no deadline from the store, none on
	// the server (see migrationLock). Opening the database was bounded,
	// and the caller's ctx still is.
	ctx = context.WithValue(ctx, unbounded{}, true)
	// Under the lock too: PostgreSQL's CREATE TABLE IF NOT EXISTS is not
	// safe against a concurrent one (both may try to create the table's
	// type, and one fails).
	err = db.InTx(ctx, func(tx *Tx) error {
		if err := migrationLock(ctx, tx); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version INTEGER PRIMARY KEY,
			name TEXT NOT NULL,
			applied_at BIGINT NOT NULL)`)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("store: create schema_migrations: %w", err)
	}
	var applied []string
	for _, m := range all {
		done := false
		err := db.InTx(ctx, func(tx *Tx) error {
			if err := migrationLock(ctx, tx); err != nil {
				return err
			}
			var n int
			if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE version = $1`, m.Version).Scan(&n); err != nil {
				return err
			}
			if n > 0 {
				done = true
				return nil
			}
			if err := tx.ExecScript(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
				m.Version, m.Name, time.Now().UnixMicro())
			return err
		})
		if err != nil {
			return applied, fmt.Errorf("store: migration %s: %w", m.Name, err)
		}
		if !done {
			applied = append(applied, m.Name)
		}
	}
	return applied, nil
}

// migrationLock serialises migrations across processes for the rest of
// tx: a PostgreSQL advisory lock, after lifting the statement timeout for
// the transaction; SQLite's single writer needs none.
func migrationLock(ctx context.Context, tx *Tx) error {
	if tx.Dialect != Postgres {
		return nil
	}
	if _, err := tx.Exec(ctx, `SET LOCAL statement_timeout = 0`); err != nil {
		return err
	}
	_, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(4455001)`)
	return err
}

// SchemaVersion returns the highest applied migration version (0 when
// none, or on a database never migrated). An error is the database's: it
// could not be read.
func (db *DB) SchemaVersion(ctx context.Context) (int, error) {
	exists := `SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`
	if db.Dialect == Postgres {
		exists = `SELECT COUNT(*) FROM pg_catalog.pg_tables WHERE tablename = 'schema_migrations' AND schemaname = ANY (current_schemas(false))`
	}
	var v int
	err := db.QueryRow(ctx, exists).Scan(&v)
	if err == nil && v > 0 {
		err = db.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&v)
	}
	if err != nil {
		return 0, fmt.Errorf("store: schema version: %w", Classify(err))
	}
	return v, nil
}
