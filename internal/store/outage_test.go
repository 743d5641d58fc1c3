package store_test

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// hangLimit turns a call that hangs into a failure. It is a safety net,
// not a timing assertion: what the tests check is the answer, and the
// bounds they wait for are a fraction of it.
const hangLimit = 60 * time.Second

// within runs fn and fails the test if it has not returned after
// hangLimit: the bug these tests guard against is a call that never
// returns.
func within(t *testing.T, what string, fn func() error) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- fn() }()
	select {
	case err := <-done:
		return err
	case <-time.After(hangLimit):
		t.Fatalf("%s still waiting after %s", what, hangLimit)
		return nil
	}
}

func TestUnavailable(t *testing.T) {
	opErr := &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}
	for _, tt := range []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"not found", store.ErrNotFound, false},
		{"conflict", store.ErrConflict, false},
		{"plain error", errors.New("boom"), false},
		{"sentinel", fmt.Errorf("x: %w", store.ErrUnavailable), true},
		{"deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), true},
		{"cancelled: the caller went away", fmt.Errorf("query: %w", context.Canceled), false},
		{"cancelled, then the connection closed", fmt.Errorf("%w: %w", context.Canceled, pgconn.ErrConnClosed), false},
		{"connection refused", opErr, true},
		{"connection reset", fmt.Errorf("read: %w", syscall.ECONNRESET), true},
		{"unexpected EOF", fmt.Errorf("receive message: %w", io.ErrUnexpectedEOF), true},
		{"bad connection", driver.ErrBadConn, true},
		{"pgx conn closed", pgconn.ErrConnClosed, true},
		{"postgres admin shutdown", &pgconn.PgError{Code: "57P01"}, true},
		{"postgres cannot connect now", &pgconn.PgError{Code: "57P03"}, true},
		{"postgres statement timeout", &pgconn.PgError{Code: "57014"}, true},
		{"postgres disk full", &pgconn.PgError{Code: "53100"}, true},
		{"postgres too many connections", &pgconn.PgError{Code: "53300"}, true},
		{"postgres connection failure", &pgconn.PgError{Code: "08006"}, true},
		{"postgres read-only standby", &pgconn.PgError{Code: "25006"}, true},
		{"postgres unique violation", &pgconn.PgError{Code: "23505"}, false},
		{"postgres syntax error", &pgconn.PgError{Code: "42601"}, false},
		{"postgres serialization failure", &pgconn.PgError{Code: "40001"}, false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := store.Unavailable(tt.err); got != tt.want {
				t.Errorf("Unavailable(%v) = %v, want %v", tt.err, got, tt.want)
			}
			if got := errors.Is(store.Classify(tt.err), store.ErrUnavailable); got != tt.want {
				t.Errorf("Classify(%v) is ErrUnavailable: %v, want %v", tt.err, got, tt.want)
			}
		})
	}
}

// SQLite's own errors: a full disk, I/O errors and a lock held too long
// are outages; a constraint is not.
func TestUnavailableSQLite(t *testing.T) {
	db := storetest.NewSQLite(t)
	ctx := context.Background()
	q := `INSERT INTO throttle (key, failures, last_failure, expires_at) VALUES ($1, 1, 1, 1)`
	if _, err := db.Exec(ctx, q, "k"); err != nil {
		t.Fatal(err)
	}
	_, err := db.Exec(ctx, q, "k")
	var sqlErr *sqlite.Error
	if !errors.As(err, &sqlErr) || store.Unavailable(err) {
		t.Fatalf("duplicate insert: %v; want a SQLite error that is no outage", err)
	}
	storetest.FillSQLite(t, db)
	_, err = db.Exec(ctx, `INSERT INTO write_probe (id, filler) VALUES ('big', randomblob(20000))`)
	if !errors.Is(err, store.ErrUnavailable) || !errors.As(err, &sqlErr) || sqlErr.Code() != sqlite3.SQLITE_FULL {
		t.Fatalf("insert into a full database: %v; want SQLITE_FULL as ErrUnavailable", err)
	}
}

// Every call on a database that stopped answering returns within the
// store's deadline — the statement_timeout of the DSN, here, or the
// default — with an error Unavailable recognises, even when the caller's
// context has no deadline; once the database answers again, so does the
// store, on fresh connections.
func TestStalledPostgres(t *testing.T) {
	db, proxy := storetest.NewPostgresBehindProxy(t, url.Values{"statement_timeout": {"300"}})
	ctx := context.Background()
	// A statement held back by the stall may still reach the database
	// when it resumes: every insert has a key of its own.
	var seq atomic.Int64
	key := func(name string) string { return fmt.Sprint(name, seq.Add(1)) }
	insert := `INSERT INTO throttle (key, failures, last_failure, expires_at) VALUES ($1, 1, 1, 1)`
	calls := map[string]func() error{
		"QueryRow": func() error {
			var n int
			return db.QueryRow(ctx, `SELECT 1`).Scan(&n)
		},
		"Query": func() error {
			rows, err := db.Query(ctx, `SELECT key FROM throttle`)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
			}
			return rows.Err()
		},
		"Exec": func() error {
			_, err := db.Exec(ctx, insert, key("exec"))
			return err
		},
		"InTx": func() error {
			return db.InTx(ctx, func(tx *store.Tx) error {
				var n int
				if err := tx.QueryRow(ctx, `SELECT COUNT(*) FROM throttle`).Scan(&n); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, insert, key("tx"))
				return err
			})
		},
		"Reads": func() error {
			r := db.Reads()
			scan := func(rows store.Rows) error {
				for rows.Next() {
				}
				return rows.Err()
			}
			r.Query(scan, `SELECT 1`)
			r.Query(scan, `SELECT 2`)
			return r.Run(ctx)
		},
		"Lock": func() error {
			return db.Lock(ctx, "stalled", func() error { return nil })
		},
		"ExecBatched": func() error {
			return db.ExecBatched(ctx, insert, key("batched"))
		},
		"Ping": func() error { return db.Ping(ctx) },
	}
	proxy.Stall()
	for name, call := range calls {
		err := within(t, name, call)
		if !store.Unavailable(err) {
			t.Errorf("%s on a stalled database: %v; want an error Unavailable recognises", name, err)
		}
	}
	proxy.Resume()
	for name, call := range calls {
		if err := within(t, name, call); err != nil {
			t.Errorf("%s after the stall: %v", name, err)
		}
	}
}

// Opening a database that accepts the connection and then says nothing
// fails within the default connect timeout, with an error that says so.
func TestOpenStalledPostgres(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	u, _ := url.Parse(dsn)
	proxy := storetest.StartProxy(t, u.Host)
	proxy.Stall()
	err := within(t, "Open", func() error {
		db, err := store.Open(context.Background(), proxy.DSN(dsn))
		if err == nil {
			db.Close()
		}
		return err
	})
	if !store.Unavailable(err) {
		t.Fatalf("Open through a stalled proxy: %v; want an error Unavailable recognises", err)
	}
	for _, want := range []string{"cannot reach PostgreSQL at " + proxy.Addr(), store.DefaultConnectTimeout.String(), "connect_timeout"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}

// A DSN that turns the bounds off (0) waits for the server as long as it
// takes: it is not refused at once.
func TestPostgresBoundsTurnedOff(t *testing.T) {
	u, err := url.Parse(storetest.PostgresDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("connect_timeout", "0")
	q.Set("statement_timeout", "0")
	u.RawQuery = q.Encode()
	db, err := store.Open(t.Context(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
}

// The bounds Foyer sets where the DSN says nothing, and the DSN's own.
func TestPostgresConfig(t *testing.T) {
	cfg, timeouts, err := store.PostgresConfig("postgres://u@db.example:5432/foyer")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ConnectTimeout != store.DefaultConnectTimeout || timeouts.Statement != store.DefaultStatementTimeout {
		t.Errorf("defaults: connect %s, statement %s", cfg.ConnectTimeout, timeouts.Statement)
	}
	if cfg.RuntimeParams["statement_timeout"] != "10000" || cfg.RuntimeParams["idle_in_transaction_session_timeout"] != "60000" {
		t.Errorf("runtime parameters: %v", cfg.RuntimeParams)
	}
	if cfg.DialFunc == nil {
		t.Error("no dialer with TCP keepalive")
	}
	cfg, timeouts, err = store.PostgresConfig("postgres://u@db.example:5432/foyer?connect_timeout=2&statement_timeout=1min&idle_in_transaction_session_timeout=0")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.ConnectTimeout != 2*time.Second || timeouts.Statement != time.Minute ||
		cfg.RuntimeParams["statement_timeout"] != "1min" || cfg.RuntimeParams["idle_in_transaction_session_timeout"] != "0" {
		t.Errorf("the DSN's own: connect %s, statement %s, %v", cfg.ConnectTimeout, timeouts.Statement, cfg.RuntimeParams)
	}
	for in, want := range map[string]time.Duration{"250": 250 * time.Millisecond, "5s": 5 * time.Second, "2 min": 2 * time.Minute,
		"1.5h": 90 * time.Minute, "0": 0, "10us": 10 * time.Microsecond} {
		if got, ok := store.PostgresDuration(in); !ok || got != want {
			t.Errorf("PostgresDuration(%q) = %s, %v; want %s", in, got, ok, want)
		}
	}
	if _, ok := store.PostgresDuration("soon"); ok {
		t.Error("PostgresDuration(soon) parsed")
	}
}

// A writer that does not finish — a transaction that hangs, a row held by
// another node — holds up the writers behind it only until their
// deadline: they get an error Unavailable recognises. On SQLite, with its
// one writer connection, that is every writer.
func TestStuckWriter(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		insert := `INSERT INTO throttle (key, failures, last_failure, expires_at) VALUES ($1, 1, 1, 1)`
		if _, err := db.Exec(ctx, insert, "k"); err != nil {
			t.Fatal(err)
		}
		update := `UPDATE throttle SET failures = failures + 1 WHERE key = 'k'`
		holding, release := make(chan struct{}), make(chan struct{})
		held := make(chan error, 1)
		go func() {
			held <- db.InTx(ctx, func(tx *store.Tx) error {
				if _, err := tx.Exec(ctx, update); err != nil {
					return err
				}
				var n int
				if err := tx.QueryRow(ctx, `SELECT failures FROM throttle WHERE key = 'k'`).Scan(&n); err != nil {
					return err
				}
				close(holding)
				<-release
				return nil
			})
		}()
		<-holding
		short := func() (context.Context, context.CancelFunc) { return context.WithTimeout(ctx, 200*time.Millisecond) }
		for name, call := range map[string]func(ctx context.Context) error{
			"Exec": func(ctx context.Context) error { _, err := db.Exec(ctx, update); return err },
			"InTx": func(ctx context.Context) error {
				return db.InTx(ctx, func(tx *store.Tx) error { _, err := tx.Exec(ctx, update); return err })
			},
			"WriteRow": func(ctx context.Context) error {
				var n int
				return db.WriteRow(ctx, update+` RETURNING failures`).Scan(&n)
			},
			"ExecBatched": func(ctx context.Context) error { return db.ExecBatched(ctx, update) },
		} {
			err := within(t, name, func() error {
				ctx, cancel := short()
				defer cancel()
				return call(ctx)
			})
			if !store.Unavailable(err) {
				t.Errorf("%s behind a stuck writer: %v; want an error Unavailable recognises", name, err)
			}
		}
		close(release)
		if err := <-held; err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(ctx, update); err != nil {
			t.Fatalf("a write after the stuck one: %v", err)
		}
	})
}

// A caller waits for a Lock another caller holds no longer than its
// deadline.
func TestLockWaitEnds(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		holding, release := make(chan struct{}), make(chan struct{})
		done := make(chan error, 1)
		go func() {
			done <- db.Lock(ctx, "k", func() error { close(holding); <-release; return nil })
		}()
		<-holding
		err := within(t, "Lock", func() error {
			ctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
			defer cancel()
			return db.Lock(ctx, "k", func() error { t.Error("fn ran while another caller held the lock"); return nil })
		})
		if !store.Unavailable(err) {
			t.Errorf("Lock held by another caller: %v; want an error Unavailable recognises", err)
		}
		close(release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}

// Opening a new SQLite file while another process holds its write lock
// waits for the lock instead of failing at once with SQLITE_BUSY (which
// SQLite answers the switch to WAL mode with, whatever the busy
// timeout): several Foyer processes may open one new database at once.
func TestOpenSQLiteWhileLocked(t *testing.T) {
	path := filepath.Join(t.TempDir(), "foyer.db")
	other, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(context.Background(), `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	// While the other process holds the lock, Open waits, for as long as
	// its context lets it.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	_, err = store.Open(ctx, path)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Open while another process holds the write lock: %v; want it to wait until its deadline", err)
	}
	// Once the lock is free, Open succeeds, in WAL mode.
	if _, err := conn.ExecContext(context.Background(), `COMMIT`); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var mode string
	if err := db.QueryRow(context.Background(), `PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal mode %q, %v", mode, err)
	}
}

// CheckWrite commits a write, or says why it cannot: a full SQLite
// database, a PostgreSQL that takes no writes (as a standby after a
// failover).
func TestCheckWrite(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		for range 3 {
			if err := db.CheckWrite(ctx); err != nil {
				t.Fatal(err)
			}
		}
		var n int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM write_probe`).Scan(&n); err != nil || n != 0 {
			t.Fatalf("write_probe holds %d rows, %v; want none", n, err)
		}
		if db.Dialect == store.SQLite {
			storetest.FillSQLite(t, db)
			if err := db.CheckWrite(ctx); !store.Unavailable(err) {
				t.Fatalf("CheckWrite on a full database: %v; want an error Unavailable recognises", err)
			}
			return
		}
		dsn := storetest.PostgresDSN(t)
		rw, err := store.Open(ctx, dsn)
		if err != nil {
			t.Fatal(err)
		}
		_, err = rw.Migrate(ctx)
		rw.Close()
		if err != nil {
			t.Fatal(err)
		}
		readOnly, err := store.Open(ctx, dsn+"&default_transaction_read_only=on")
		if err != nil {
			t.Fatal(err)
		}
		defer readOnly.Close()
		if err := readOnly.CheckWrite(ctx); !store.Unavailable(err) {
			t.Fatalf("CheckWrite on a read-only database: %v; want an error Unavailable recognises", err)
		}
	})
}
