package store_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

func TestMigrateIsIdempotent(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		applied, err := db.Migrate(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(applied) != 0 {
			t.Fatalf("second Migrate applied %v", applied)
		}
		all, _ := store.Migrations(db.Dialect)
		v, err := db.SchemaVersion(ctx)
		if err != nil || v != len(all) {
			t.Fatalf("SchemaVersion = %d, %v; want %d", v, err, len(all))
		}
	})
}

// Several processes may migrate one fresh database at once (say, every
// node of a deployment at start): each ends up with the whole schema and
// none fails.
func TestMigrateConcurrentlyOnAFreshDatabase(t *testing.T) {
	dsns := map[string]func(t *testing.T) string{
		"sqlite":   func(t *testing.T) string { return filepath.Join(t.TempDir(), "foyer.db") },
		"postgres": func(t *testing.T) string { return storetest.PostgresDSN(t) },
	}
	for name, dsn := range dsns {
		t.Run(name, func(t *testing.T) {
			dsn := dsn(t)
			ctx := context.Background()
			// Never migrated: version 0, which is no error (foyer serve
			// asks for foyer migrate).
			fresh, err := store.Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			if v, err := fresh.SchemaVersion(ctx); err != nil || v != 0 {
				t.Fatalf("a fresh database's schema version: %d, %v; want 0", v, err)
			}
			fresh.Close()
			var wg sync.WaitGroup
			errs := make(chan error, 4)
			for range 4 {
				wg.Go(func() {
					db, err := store.Open(ctx, dsn)
					if err != nil {
						errs <- err
						return
					}
					defer db.Close()
					_, err = db.Migrate(ctx)
					errs <- err
				})
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			db, err := store.Open(ctx, dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			all, _ := store.Migrations(db.Dialect)
			if v, err := db.SchemaVersion(ctx); err != nil || v != len(all) {
				t.Fatalf("schema version %d, %v; want %d", v, err, len(all))
			}
		})
	}
}

func TestClassify(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		q := `INSERT INTO throttle (key, failures, last_failure, expires_at) VALUES ($1, 1, 1, 1)`
		if _, err := db.Exec(ctx, q, "k"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(ctx, q, "k"); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("duplicate insert: %v, want ErrConflict", err)
		}
		var n int
		err := db.QueryRow(ctx, `SELECT failures FROM throttle WHERE key = $1`, "missing").Scan(&n)
		if !errors.Is(store.Classify(err), store.ErrNotFound) {
			t.Fatalf("missing row: %v, want ErrNotFound", err)
		}
	})
}

// Concurrent writers never see SQLITE_BUSY: they queue on the one writer.
func TestConcurrentWriters(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var wg sync.WaitGroup
		errs := make(chan error, 200)
		for i := range 200 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				errs <- db.InTx(ctx, func(tx *store.Tx) error {
					_, err := tx.Exec(ctx, `INSERT INTO throttle (key, failures, last_failure, expires_at) VALUES ($1, 1, 1, 1)`, fmt.Sprint("k", i))
					return err
				})
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		var n int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM throttle`).Scan(&n); err != nil || n != 200 {
			t.Fatalf("rows = %d, %v", n, err)
		}
	})
}

// Batched writes commit together, and a failing statement fails only its
// own caller.
func TestExecBatched(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if err := db.ExecBatched(ctx, `INSERT INTO throttle (key, failures, last_failure, expires_at) VALUES ($1, 1, 1, 1)`, "dup"); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 300)
		for i := range 300 {
			wg.Go(func() {
				key := fmt.Sprint("b", i)
				if i == 150 {
					key = "dup"
				}
				errs[i] = db.ExecBatched(ctx, `INSERT INTO throttle (key, failures, last_failure, expires_at) VALUES ($1, 1, 1, 1)`, key)
			})
		}
		wg.Wait()
		for i, err := range errs {
			if i == 150 {
				if !errors.Is(err, store.ErrConflict) {
					t.Errorf("duplicate: %v", err)
				}
			} else if err != nil {
				t.Errorf("insert %d: %v", i, err)
			}
		}
		var n int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM throttle`).Scan(&n); err != nil || n != 300 {
			t.Fatalf("rows = %d, %v", n, err)
		}
	})
}

// Each migration runs on a database that already holds data of the
// schema before it, and keeps that data.
func TestMigrationsKeepData(t *testing.T) {
	run := func(t *testing.T, open func(t *testing.T) *store.DB) {
		ctx := context.Background()
		db := open(t)
		if _, err := db.MigrateTo(ctx, 1); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(ctx, `INSERT INTO identities (id, domain, state, schema_id, traits, created_at, updated_at) VALUES ('id-1', 'customers', 'active', 'default', '{"email":"a@example.com"}', 1, 1)`); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(ctx, `INSERT INTO events (id, domain, type, outcome, reason, flow_id, identity_id, session_id, ip, user_agent, occurred_at) VALUES ('e1', 'customers', 'login.succeeded', 'success', '', '', 'id-1', '', '', '', 5)`); err != nil {
			t.Fatal(err)
		}
		applied, err := db.Migrate(ctx)
		if err != nil || len(applied) == 0 {
			t.Fatalf("migrate on: %v %v", applied, err)
		}
		var traits, client string
		if err := db.QueryRow(ctx, `SELECT traits FROM identities WHERE id = 'id-1'`).Scan(&traits); err != nil || traits != `{"email":"a@example.com"}` {
			t.Fatalf("identity after migrations: %q %v", traits, err)
		}
		if err := db.QueryRow(ctx, `SELECT client_id FROM events WHERE id = 'e1'`).Scan(&client); err != nil || client != "" {
			t.Fatalf("event after migrations: %q %v", client, err)
		}
	}
	t.Run("sqlite", func(t *testing.T) {
		run(t, func(t *testing.T) *store.DB {
			db, err := store.Open(context.Background(), filepath.Join(t.TempDir(), "old.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		})
	})
	t.Run("postgres", func(t *testing.T) {
		run(t, func(t *testing.T) *store.DB {
			db, err := store.Open(context.Background(), storetest.PostgresDSN(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		})
	})
}

// Batched transactions: a failing one undoes only its own work.
func TestInTxBatched(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var wg sync.WaitGroup
		errs := make([]error, 100)
		for i := range 100 {
			wg.Go(func() {
				errs[i] = db.InTxBatched(ctx, func(tx *store.Tx) error {
					if _, err := tx.Exec(ctx, `INSERT INTO throttle (key, failures, last_failure, expires_at) VALUES ($1, 1, 1, 1)`, fmt.Sprint("t", i)); err != nil {
						return err
					}
					if i%10 == 0 {
						// A second write, then a failure: both must vanish.
						if _, err := tx.Exec(ctx, `INSERT INTO throttle (key, failures, last_failure, expires_at) VALUES ($1, 1, 1, 1)`, fmt.Sprint("x", i)); err != nil {
							return err
						}
						return errors.New("boom")
					}
					return nil
				})
			})
		}
		wg.Wait()
		for i, err := range errs {
			if (i%10 == 0) != (err != nil) {
				t.Errorf("item %d: %v", i, err)
			}
		}
		var n int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM throttle`).Scan(&n); err != nil || n != 90 {
			t.Fatalf("rows = %d, %v (want the 90 that succeeded)", n, err)
		}
	})
}

// Statements in transactions run prepared from the second time on, and a
// transaction's first use of a statement neither blocks (the one SQLite
// writer connection is the transaction's) nor changes results.
func TestTxStatements(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		for i := range 3 {
			err := db.InTx(ctx, func(tx *store.Tx) error {
				if _, err := tx.Exec(ctx, `INSERT INTO throttle (key, failures, last_failure, expires_at) VALUES ($1, 1, 1, 1)`, fmt.Sprint("tx", i)); err != nil {
					return err
				}
				var n int
				if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM throttle WHERE key LIKE 'tx%'`).Scan(&n); err != nil || n != i+1 {
					return fmt.Errorf("count in tx = %d, %v", n, err)
				}
				rows, err := tx.Query(ctx, `SELECT key FROM throttle WHERE key LIKE 'tx%' ORDER BY key`)
				if err != nil {
					return err
				}
				defer rows.Close()
				seen := 0
				for rows.Next() {
					seen++
				}
				if seen != i+1 {
					return fmt.Errorf("rows in tx = %d", seen)
				}
				return rows.Err()
			})
			if err != nil {
				t.Fatalf("transaction %d: %v", i, err)
			}
		}
	})
}

// Lock keeps callers with one key out of each other's way, on every
// connection, and lets other keys run.
func TestLock(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		// A burst of callers released at once: never two inside fn.
		var inside, most atomic.Int32
		var wg sync.WaitGroup
		start := make(chan struct{})
		for range 8 {
			wg.Go(func() {
				<-start
				err := db.Lock(ctx, "k", func() error {
					n := inside.Add(1)
					defer inside.Add(-1)
					for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
					}
					// Statements inside fn run as usual.
					_, err := db.Exec(ctx, `INSERT INTO throttle (key, failures, last_failure, expires_at) VALUES ($1, 1, 1, 1)
						ON CONFLICT (key) DO UPDATE SET failures = throttle.failures + 1`, "lock")
					return err
				})
				if err != nil {
					t.Error(err)
				}
			})
		}
		close(start)
		wg.Wait()
		if most.Load() != 1 {
			t.Fatalf("%d callers held the lock at once", most.Load())
		}
		var n int
		if err := db.QueryRow(ctx, `SELECT failures FROM throttle WHERE key = 'lock'`).Scan(&n); err != nil || n != 8 {
			t.Fatalf("failures = %d, %v", n, err)
		}
		// An error from fn comes back; another key is not held up while
		// "k" is held.
		boom := errors.New("boom")
		if err := db.Lock(ctx, "k", func() error { return boom }); !errors.Is(err, boom) {
			t.Fatalf("Lock = %v, want fn's error", err)
		}
		holding, release := make(chan struct{}), make(chan struct{})
		done := make(chan error, 1)
		go func() {
			done <- db.Lock(ctx, "k", func() error { close(holding); <-release; return nil })
		}()
		<-holding
		if err := db.Lock(ctx, "other", func() error { return nil }); err != nil {
			t.Fatal(err)
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// A transaction's AfterCommit hooks run once it commits and its
// AfterRollback hooks once it does not, whether fn fails, a queued
// statement fails at the commit (PostgreSQL), or only one InTxBatched item
// fails.
func TestTxHooks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		insert := `INSERT INTO throttle (key, failures, last_failure, expires_at) VALUES ($1, 1, 1, 1)`
		var mu sync.Mutex
		var ran []string
		hooks := func(tx *store.Tx, name string) {
			tx.AfterCommit(func() { mu.Lock(); ran = append(ran, name+" committed"); mu.Unlock() })
			tx.AfterRollback(func() { mu.Lock(); ran = append(ran, name+" rolled back"); mu.Unlock() })
		}
		check := func(want ...string) {
			t.Helper()
			mu.Lock()
			defer mu.Unlock()
			slices.Sort(ran)
			slices.Sort(want)
			if !slices.Equal(ran, want) {
				t.Fatalf("hooks ran: %q, want %q", ran, want)
			}
			ran = nil
		}

		err := db.InTx(ctx, func(tx *store.Tx) error {
			hooks(tx, "ok")
			_, err := tx.Exec(ctx, insert, "a")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		check("ok committed")

		boom := errors.New("boom")
		err = db.InTx(ctx, func(tx *store.Tx) error {
			hooks(tx, "failed")
			return boom
		})
		if !errors.Is(err, boom) {
			t.Fatalf("InTx = %v, want boom", err)
		}
		check("failed rolled back")

		// The duplicate fails when it reaches the server: at once on
		// SQLite, at the commit on PostgreSQL.
		err = db.InTx(ctx, func(tx *store.Tx) error {
			hooks(tx, "duplicate")
			_, err := tx.Exec(ctx, insert, "a")
			return err
		})
		if !errors.Is(err, store.ErrConflict) {
			t.Fatalf("InTx = %v, want ErrConflict", err)
		}
		check("duplicate rolled back")

		var wg sync.WaitGroup
		for _, key := range []string{"b", "a", "c"} { // "a" is taken
			wg.Go(func() {
				_ = db.InTxBatched(ctx, func(tx *store.Tx) error {
					hooks(tx, key)
					_, err := tx.Exec(ctx, insert, key)
					return err
				})
			})
		}
		wg.Wait()
		// A batch that fails as a whole (a failed statement aborts a
		// PostgreSQL transaction) runs each item again on its own; each
		// run that did not commit has had its rollback hooks.
		mu.Lock()
		defer mu.Unlock()
		n := map[string]int{}
		for _, r := range ran {
			n[r]++
		}
		if n["a committed"] != 0 || n["a rolled back"] == 0 || n["b committed"] != 1 || n["c committed"] != 1 {
			t.Fatalf("hooks ran: %q; want a rolled back, and b and c committed once each", ran)
		}
	})
}

func TestReads(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		for _, k := range []string{"a", "b", "c"} {
			if _, err := db.Exec(ctx, `INSERT INTO throttle (key, failures, last_failure, expires_at) VALUES ($1, $2, 0, 0)`, k, len(k)+int(k[0]-'a')); err != nil {
				t.Fatal(err)
			}
		}
		// failures reads the failures of the keys given, in key order.
		failures := func(r *store.Reads, out *[]int, keys ...string) {
			marks, args := make([]string, len(keys)), make([]any, len(keys))
			for i, k := range keys {
				marks[i], args[i] = fmt.Sprintf("$%d", i+1), k
			}
			r.Query(func(rows store.Rows) error {
				for rows.Next() {
					var n int
					if err := rows.Scan(&n); err != nil {
						return err
					}
					*out = append(*out, n)
				}
				return nil
			}, `SELECT failures FROM throttle WHERE key IN (`+strings.Join(marks, ", ")+`) ORDER BY key`, args...)
		}

		r := db.Reads()
		var ab, c, none []int
		failures(r, &ab, "a", "b")
		failures(r, &none, "x")
		failures(r, &c, "c")
		if err := r.Run(ctx); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(ab, []int{1, 2}) || !slices.Equal(c, []int{3}) || len(none) != 0 {
			t.Fatalf("reads = %v, %v, %v; want [1 2], [3], []", ab, c, none)
		}
		// Run again: the batch is empty, and runs nothing.
		if err := r.Run(ctx); err != nil {
			t.Fatalf("empty Run: %v", err)
		}
		// One query alone takes the plain path.
		var a []int
		failures(r, &a, "a")
		if err := r.Run(ctx); err != nil || !slices.Equal(a, []int{1}) {
			t.Fatalf("one read = %v, %v; want [1]", a, err)
		}

		// A scan function's error ends Run, and later scans do not run.
		stop := errors.New("stop")
		called := false
		r.Query(func(store.Rows) error { return stop }, `SELECT 1`)
		r.Query(func(store.Rows) error { called = true; return nil }, `SELECT 2`)
		if err := r.Run(ctx); !errors.Is(err, stop) || called {
			t.Fatalf("Run = %v (later scan called: %v), want the scan's error and no later scan", err, called)
		}
		// So does a query's, classified like any other.
		r.Query(func(store.Rows) error { return nil }, `SELECT 1`)
		r.Query(func(store.Rows) error { return nil }, `SELECT nope FROM throttle`)
		if err := r.Run(ctx); err == nil {
			t.Fatal("Run of a broken query: no error")
		}
		// The pool is fine afterwards.
		var b []int
		failures(r, &b, "b")
		failures(r, &b, "b")
		if err := r.Run(ctx); err != nil || !slices.Equal(b, []int{2, 2}) {
			t.Fatalf("reads after a failure = %v, %v; want [2 2]", b, err)
		}
	})
}

// BenchmarkReads is the three point lookups of a step's reads (a flow, a
// throttle counter, an account), one at a time and together in one Reads.
func BenchmarkReads(b *testing.B) {
	storetest.EachB(b, func(b *testing.B, db *store.DB) {
		ctx := context.Background()
		for _, k := range []string{"a", "b", "c"} {
			if _, err := db.Exec(ctx, `INSERT INTO throttle (key, failures, last_failure, expires_at) VALUES ($1, 1, 0, 0)`, k); err != nil {
				b.Fatal(err)
			}
		}
		const q = `SELECT key, failures, last_failure, expires_at FROM throttle WHERE key = $1`
		scan := func(rows store.Rows) error {
			for rows.Next() {
				var key string
				var failures, last, expires int64
				if err := rows.Scan(&key, &failures, &last, &expires); err != nil {
					return err
				}
			}
			return nil
		}
		b.Run("one-at-a-time", func(b *testing.B) {
			for b.Loop() {
				for _, k := range []string{"a", "b", "c"} {
					r := db.Reads()
					r.Query(scan, q, k)
					if err := r.Run(ctx); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
		b.Run("together", func(b *testing.B) {
			for b.Loop() {
				r := db.Reads()
				for _, k := range []string{"a", "b", "c"} {
					r.Query(scan, q, k)
				}
				if err := r.Run(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	})
}

// A DSN meant for another database is refused, not taken for the name of
// a SQLite file to create.
func TestOpenRefusesOtherDatabases(t *testing.T) {
	for _, dsn := range []string{
		"mysql://root@localhost/foyer",
		"pgx://localhost/foyer",
		"host=localhost dbname=foyer user=postgres",
		"dbname=foyer",
	} {
		db, err := store.Open(context.Background(), dsn)
		if err == nil {
			db.Close()
			t.Errorf("Open(%q) opened a SQLite file", dsn)
		}
	}
	for _, dsn := range []string{
		filepath.Join(t.TempDir(), "foyer.db"),
		"sqlite://" + filepath.Join(t.TempDir(), "foyer.db"),
		filepath.Join(t.TempDir(), "a=b.db"),
	} {
		db, err := store.Open(context.Background(), dsn)
		if err != nil {
			t.Errorf("Open(%q): %v", dsn, err)
			continue
		}
		db.Close()
	}
}
