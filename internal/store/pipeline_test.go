package store_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

const insertThrottle = `INSERT INTO throttle (key, failures, last_failure, expires_at) VALUES ($1, 1, 1, 1)`

func countThrottle(t *testing.T, db *store.DB) int {
	t.Helper()
	var n int
	if err := db.QueryRow(context.Background(), `SELECT COUNT(*) FROM throttle`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A statement that fails undoes the whole transaction, the writes queued
// before it included, and InTx says why; the connection serves the next
// transaction as if nothing happened.
func TestTxFailureUndoesEverything(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if _, err := db.Exec(ctx, insertThrottle, "taken"); err != nil {
			t.Fatal(err)
		}
		for range 3 { // more than once: a connection left mid-transaction would show
			err := db.InTx(ctx, func(tx *store.Tx) error {
				for _, key := range []string{"a", "taken", "b"} {
					if _, err := tx.Exec(ctx, insertThrottle, key); err != nil {
						return err
					}
				}
				return nil
			})
			if !errors.Is(err, store.ErrConflict) {
				t.Fatalf("InTx = %v, want ErrConflict", err)
			}
			if n := countThrottle(t, db); n != 1 {
				t.Fatalf("rows = %d after a failed transaction, want 1", n)
			}
		}
		if err := db.InTx(ctx, func(tx *store.Tx) error {
			_, err := tx.Exec(ctx, insertThrottle, "c")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		if n := countThrottle(t, db); n != 2 {
			t.Fatalf("rows = %d, want 2", n)
		}
	})
}

// RowsAffected answers in the middle of a transaction, and a caller that
// gives up on what it says undoes what it queued before.
func TestTxRowsAffected(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if _, err := db.Exec(ctx, insertThrottle, "x"); err != nil {
			t.Fatal(err)
		}
		errChanged := errors.New("changed")
		update := func(key string) error {
			return db.InTx(ctx, func(tx *store.Tx) error {
				if _, err := tx.Exec(ctx, insertThrottle, "new-"+key); err != nil {
					return err
				}
				res, err := tx.Exec(ctx, `UPDATE throttle SET failures = failures + 1 WHERE key = $1`, key)
				if err != nil {
					return err
				}
				if n, err := res.RowsAffected(); err != nil || n != 1 {
					return fmt.Errorf("%w: %d rows, %v", errChanged, n, err)
				}
				_, err = tx.Exec(ctx, insertThrottle, "after-"+key)
				return err
			})
		}
		if err := update("missing"); !errors.Is(err, errChanged) {
			t.Fatalf("update of a missing row: %v, want errChanged", err)
		}
		if n := countThrottle(t, db); n != 1 {
			t.Fatalf("rows = %d after the refused update, want 1", n)
		}
		if err := update("x"); err != nil {
			t.Fatal(err)
		}
		var failures int
		if err := db.QueryRow(ctx, `SELECT failures FROM throttle WHERE key = 'x'`).Scan(&failures); err != nil || failures != 2 {
			t.Fatalf("failures = %d, %v", failures, err)
		}
		if n := countThrottle(t, db); n != 3 {
			t.Fatalf("rows = %d, want 3", n)
		}
		// An error of fn's own undoes the queued writes too.
		boom := errors.New("boom")
		err := db.InTx(ctx, func(tx *store.Tx) error {
			if _, err := tx.Exec(ctx, insertThrottle, "never"); err != nil {
				return err
			}
			return boom
		})
		if !errors.Is(err, boom) || countThrottle(t, db) != 3 {
			t.Fatalf("InTx = %v with %d rows, want boom and 3", err, countThrottle(t, db))
		}
	})
}

// ExecOne fails the transaction, and undoes it, unless its statement
// changed exactly one row.
func TestTxExecOne(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		if _, err := db.Exec(ctx, insertThrottle, "x"); err != nil {
			t.Fatal(err)
		}
		errStale := errors.New("stale")
		tries := 0
		bump := func(key string, from int) error {
			tries++
			return db.InTx(ctx, func(tx *store.Tx) error {
				if _, err := tx.Exec(ctx, insertThrottle, fmt.Sprint("try-", tries)); err != nil {
					return err
				}
				return tx.ExecOne(ctx, errStale, `UPDATE throttle SET failures = failures + 1 WHERE key = $1 AND failures = $2`, key, from)
			})
		}
		if err := bump("x", 1); err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			key  string
			from int
		}{{"x", 1}, {"missing", 1}} {
			if err := bump(tc.key, tc.from); !errors.Is(err, errStale) {
				t.Fatalf("bump(%s, %d) = %v, want errStale", tc.key, tc.from, err)
			}
		}
		if err := bump("x", 2); err != nil {
			t.Fatal(err)
		}
		if n := countThrottle(t, db); n != 3 {
			t.Fatalf("rows = %d, want 3 (x and the two that went with a successful bump)", n)
		}
	})
}

// On PostgreSQL a transaction of writes is one round trip, and so is one
// that checks a row count with ExecOne; a RowsAffected in its middle adds
// one.
func TestTxRoundTrips(t *testing.T) {
	dsn := storetest.PostgresDSN(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy := newTripCounter(t, u.Host)
	u.Host = proxy.addr
	db, err := store.Open(context.Background(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	i := 0
	writes := func(check string) error {
		return db.InTx(ctx, func(tx *store.Tx) error {
			for range 4 {
				i++
				key := fmt.Sprint("k", i)
				if check == "ExecOne" && i%4 == 2 {
					if err := tx.ExecOne(ctx, errors.New("not one"), insertThrottle, key); err != nil {
						return err
					}
					continue
				}
				res, err := tx.Exec(ctx, insertThrottle, key)
				if err != nil {
					return err
				}
				if check == "RowsAffected" && i%4 == 2 {
					if n, err := res.RowsAffected(); n != 1 || err != nil {
						return fmt.Errorf("RowsAffected = %d, %v", n, err)
					}
				}
			}
			return nil
		})
	}
	for check, want := range map[string]int64{"": 1, "ExecOne": 1, "RowsAffected": 2} {
		if err := writes(check); err != nil { // warms the connection and its statements
			t.Fatal(err)
		}
		before := proxy.trips.Load()
		if err := writes(check); err != nil {
			t.Fatal(err)
		}
		if got := proxy.trips.Load() - before; got != want {
			t.Errorf("four inserts (checked with %q) took %d round trips, want %d", check, got, want)
		}
	}
	if n := countThrottle(t, db); n != 24 {
		t.Fatalf("rows = %d, want 24", n)
	}
}

// tripCounter is a TCP proxy that counts round trips: the times the server
// starts answering after the client has sent something.
type tripCounter struct {
	addr  string
	trips atomic.Int64
}

func newTripCounter(t *testing.T, target string) *tripCounter {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tripCounter{addr: ln.Addr().String()}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			client, err := ln.Accept()
			if err != nil {
				return
			}
			server, err := net.Dial("tcp", target)
			if err != nil {
				client.Close()
				continue
			}
			var clientSpoke atomic.Bool
			pipe := func(dst, src net.Conn, fromServer bool) {
				defer dst.Close()
				buf := make([]byte, 32<<10)
				for {
					n, err := src.Read(buf)
					if n > 0 {
						if fromServer {
							if clientSpoke.Swap(false) {
								p.trips.Add(1)
							}
						} else {
							clientSpoke.Store(true)
						}
						if _, werr := dst.Write(buf[:n]); werr != nil {
							return
						}
					}
					if err != nil {
						return
					}
				}
			}
			wg.Go(func() { pipe(server, client, false) })
			wg.Go(func() { pipe(client, server, true) })
		}
	})
	return p
}

// BenchmarkInTx is a write transaction of four inserts, the shape of a
// journey step (a session, two events, the flow).
func BenchmarkInTx(b *testing.B) {
	storetest.EachB(b, func(b *testing.B, d *store.DB) {
		ctx := context.Background()
		i := 0
		for b.Loop() {
			err := d.InTx(ctx, func(tx *store.Tx) error {
				for range 4 {
					i++
					if _, err := tx.Exec(ctx, insertThrottle, fmt.Sprint("b", i)); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
		}
	})
}

// Async writes commit asynchronously on PostgreSQL and are there all the
// same; db's own connections are not affected.
func TestAsync(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		async := db.Async()
		err := async.InTx(ctx, func(tx *store.Tx) error {
			if _, err := tx.Exec(ctx, insertThrottle, "a"); err != nil {
				return err
			}
			if db.Dialect == store.Postgres {
				var v string
				if err := tx.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&v); err != nil || v != "off" {
					t.Errorf("synchronous_commit in an Async transaction = %q, %v; want off", v, err)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		res, err := async.Exec(ctx, `UPDATE throttle SET failures = 5 WHERE key = $1`, "a")
		if err != nil {
			t.Fatal(err)
		}
		if n, err := res.RowsAffected(); n != 1 || err != nil {
			t.Fatalf("RowsAffected = %d, %v", n, err)
		}
		if _, err := async.Exec(ctx, insertThrottle, "a"); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("duplicate insert: %v, want ErrConflict", err)
		}
		if db.Dialect == store.Postgres { // on SQLite Async is db itself
			if err := async.Close(); err != nil {
				t.Fatal(err)
			}
		}
		var n int
		if err := db.QueryRow(ctx, `SELECT failures FROM throttle WHERE key = 'a'`).Scan(&n); err != nil || n != 5 {
			t.Fatalf("failures = %d, %v (closing the view must leave db open)", n, err)
		}
		if db.Dialect == store.Postgres {
			var v string
			if err := db.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&v); err != nil || v != "on" {
				t.Errorf("synchronous_commit on db's own connections = %q, %v; want on", v, err)
			}
			if db.Async().Async() != db.Async() {
				t.Error("Async of an Async view is not the view")
			}
		}
	})
}
