package store

import (
	"context"
	"fmt"
	"hash/fnv"
	"sync"
)

// Lock runs fn while holding a lock named key, shared by every process on
// the database: two callers with the same key never run fn at once. It
// keeps an invariant that spans several statements fn runs as usual (read
// what stands, decide, write).
//
// On PostgreSQL the lock is a transaction-scoped advisory lock, held by a
// transaction on a small pool of its own, so that callers waiting for a
// lock never take the connections fn needs. SQLite serves one process:
// there it is an in-process lock. Keep fn short.
func (db *DB) Lock(ctx context.Context, key string, fn func() error) error {
	if db.locker == nil {
		mu := &db.locks[stripe(key)]
		mu.Lock()
		defer mu.Unlock()
		return fn()
	}
	tx, err := db.locker.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: lock %s: %w", key, err)
	}
	defer func() { _ = tx.Rollback() }() // a no-op after Commit
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, key); err != nil {
		return fmt.Errorf("store: lock %s: %w", key, err)
	}
	if err := fn(); err != nil {
		return err
	}
	return tx.Commit()
}

// lockTable holds the in-process locks keys share on SQLite.
type lockTable [64]sync.Mutex

func stripe(key string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return int(h.Sum32() % uint32(len(lockTable{})))
}
