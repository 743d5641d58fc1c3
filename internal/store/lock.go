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
// there it is an in-process lock. Either way a caller waits no longer
// than ctx's deadline (or the store's, when ctx has none) and then gets an
// error that Unavailable recognises. Keep fn short.
func (db *DB) Lock(ctx context.Context, key string, fn func() error) error {
	ctx, cancel := db.bounded(ctx)
	defer cancel()
	// The span is the wait for the lock; fn's calls are the caller's.
	// The key may name a customer: it stays out of it.
	_, span := db.spanOf(ctx, "LOCK")
	if db.locker == nil {
		held := db.locks.stripe(key)
		select {
		case held <- struct{}{}:
		case <-ctx.Done():
			err := fmt.Errorf("store: lock %s: %w", key, Classify(ctx.Err()))
			endSpan(span, err)
			return err
		}
		endSpan(span, nil)
		defer func() { <-held }()
		return fn()
	}
	tx, err := db.locker.BeginTx(ctx, nil)
	if err != nil {
		err = fmt.Errorf("store: lock %s: %w", key, Classify(err))
		endSpan(span, err)
		return err
	}
	defer func() { _ = tx.Rollback() }() // a no-op after Commit
	if _, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, key); err != nil {
		err = fmt.Errorf("store: lock %s: %w", key, Classify(err))
		endSpan(span, err)
		return err
	}
	endSpan(span, nil)
	if err := fn(); err != nil {
		return err
	}
	return Classify(tx.Commit())
}

// lockTable holds the in-process locks keys share on SQLite: a key holds
// its stripe while the channel holds a token.
type lockTable struct {
	once    sync.Once
	stripes [64]chan struct{}
}

// stripe returns the lock of key's stripe.
func (l *lockTable) stripe(key string) chan struct{} {
	l.once.Do(func() {
		for i := range l.stripes {
			l.stripes[i] = make(chan struct{}, 1)
		}
	})
	h := fnv.New32a()
	_, _ = h.Write([]byte(key))
	return l.stripes[h.Sum32()%uint32(len(l.stripes))]
}
