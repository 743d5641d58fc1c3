package store

import (
	"context"
	"runtime"

	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// Group commit: many small, independent writes (events, issued tokens)
// arrive at once under load. Committing each on its own makes every one
// wait for its own journal write behind SQLite's single writer; one
// goroutine instead takes whatever is queued and commits it in one
// transaction. Under light load a batch is one statement, so nothing
// waits longer than before.

const maxBatch = 256

type batchItem struct {
	ctx   context.Context
	query string
	args  []any
	fn    func(tx *Tx) error // InTxBatched; query is empty then
	done  chan error
}

// ExecBatched runs one write statement, possibly in a transaction shared
// with other callers' statements. It returns once the statement is
// committed (or failed). Use it for independent inserts that need no
// result: each statement's failure is reported to its caller alone.
//
// The caller waits no longer than ctx's deadline (or the store's): past
// it, it gets an error Unavailable recognises, and the statement is
// dropped unless its commit has begun.
func (db *DB) ExecBatched(ctx context.Context, query string, args ...any) (err error) {
	if spanCtx, span := db.spanOf(ctx, "group commit", semconv.DBQueryText(query)); span != nil {
		ctx = spanCtx
		defer func() { endSpan(span, err) }()
	}
	ctx, cancel := db.bounded(ctx)
	defer cancel()
	return db.enqueue(ctx, &batchItem{ctx: ctx, query: query, args: args, done: make(chan error, 1)})
}

// InTxBatched runs fn in a transaction that may be shared with other
// callers' work, inside its own savepoint: if fn fails, only its own
// changes are undone and only its caller sees the error. fn must be short
// and touch only the database; it runs on the batch goroutine.
// The caller waits as for ExecBatched.
func (db *DB) InTxBatched(ctx context.Context, fn func(tx *Tx) error) (err error) {
	if spanCtx, span := db.spanOf(ctx, "group commit"); span != nil {
		ctx = spanCtx
		defer func() { endSpan(span, err) }()
	}
	ctx, cancel := db.bounded(ctx)
	defer cancel()
	return db.enqueue(ctx, &batchItem{ctx: ctx, fn: fn, done: make(chan error, 1)})
}

// enqueue hands it to the batch goroutine and waits for its result, or
// for ctx to end. An item whose context has ended by the time its batch
// runs is skipped; one whose commit began goes on without its caller.
func (db *DB) enqueue(ctx context.Context, it *batchItem) error {
	select {
	case db.batch <- it:
	case <-ctx.Done():
		return Classify(ctx.Err())
	}
	select {
	case err := <-it.done:
		return err
	case <-ctx.Done():
		return Classify(ctx.Err())
	}
}

// runBatches is the one goroutine that commits batched writes.
func (db *DB) runBatches() {
	defer close(db.batchDone)
	for it := range db.batch {
		items := db.drain([]*batchItem{it})
		// Give the request goroutines that are about to write a moment to
		// join this commit: under load that turns runs of one-statement
		// commits into fewer, larger ones; alone, it costs microseconds.
		for range 3 {
			runtime.Gosched()
			items = db.drain(items)
		}
		db.commitBatch(items)
	}
}

// drain adds what is queued now to items, up to maxBatch.
func (db *DB) drain(items []*batchItem) []*batchItem {
	for len(items) < maxBatch {
		select {
		case more, ok := <-db.batch:
			if !ok {
				return items
			}
			items = append(items, more)
		default:
			return items
		}
	}
	return items
}

func (db *DB) commitBatch(items []*batchItem) {
	if len(items) == 1 {
		items[0].done <- db.runAlone(items[0])
		return
	}
	errs := make([]error, len(items))
	err := db.InTx(context.Background(), func(tx *Tx) error {
		for i, it := range items {
			if it.ctx.Err() != nil {
				errs[i] = it.ctx.Err()
				continue
			}
			if it.fn != nil {
				errs[i] = runInSavepoint(it.ctx, tx, it.fn)
				continue
			}
			if _, err := tx.Exec(it.ctx, it.query, it.args...); err != nil {
				if db.Dialect == Postgres {
					// A failed statement aborts a PostgreSQL transaction.
					return err
				}
				errs[i] = err
			}
		}
		return nil
	})
	if err != nil {
		// Commit failed, or PostgreSQL aborted: run each on its own so
		// every caller gets its own answer.
		for _, it := range items {
			it.done <- db.runAlone(it)
		}
		return
	}
	for i, it := range items {
		it.done <- errs[i]
	}
}

// runAlone runs one item in its own transaction (or statement).
func (db *DB) runAlone(it *batchItem) error {
	if it.fn != nil {
		return db.InTx(it.ctx, it.fn)
	}
	_, err := db.Exec(it.ctx, it.query, it.args...)
	return err
}

// runInSavepoint runs fn so that its failure undoes only its own work.
func runInSavepoint(ctx context.Context, tx *Tx, fn func(tx *Tx) error) error {
	if tx.pg != nil {
		tx.pg.block = true // savepoints need BEGIN: no implicit transaction
	}
	if _, err := tx.Exec(ctx, "SAVEPOINT batch_item"); err != nil {
		return err
	}
	hooks := len(tx.hooks)
	if err := fn(tx); err != nil {
		tx.end(hooks, false)
		if _, rerr := tx.Exec(ctx, "ROLLBACK TO SAVEPOINT batch_item"); rerr != nil {
			return rerr
		}
		_, _ = tx.Exec(ctx, "RELEASE SAVEPOINT batch_item")
		return Classify(err)
	}
	_, err := tx.Exec(ctx, "RELEASE SAVEPOINT batch_item")
	return err
}
