package store

import (
	"context"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
)

// Rows is what a read's scan function sees: the rows of one query, from
// database/sql or, in a batch on PostgreSQL, from pgx. Both scan into the
// same destinations (*string, *int64, sql.NullString, …).
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
}

// Reads gathers independent read-only queries that a step needs together,
// to run them at once: on PostgreSQL in one round trip (one pipeline on
// one connection, where one at a time would cost a round trip each), on
// SQLite one after another, in this process, where there is no round trip
// to save. Each query's rows go to its own scan function, in the order the
// queries were added. They are not one snapshot: a write committed while
// they run may show in the later ones only.
//
// The stores offer their reads as methods that add to a Reads (…In), and
// a plain method that runs one alone where a caller needs it.
//
// A step may add one kind of write too (Write): a counter it must take
// before the reads' results matter (a throttle reservation), so that the
// reservation costs no round trip of its own.
type Reads struct {
	db     *DB
	items  []readItem
	writes bool
}

type readItem struct {
	query string
	args  []any
	scan  func(Rows) error
	write bool
	do    func(ctx context.Context) error
}

// Reads returns an empty batch of reads on db.
func (db *DB) Reads() *Reads { return &Reads{db: db} }

// Query adds a query; scan reads its rows once Run has them. scan's error,
// like the query's, ends Run with it.
func (r *Reads) Query(scan func(Rows) error, query string, args ...any) {
	r.items = append(r.items, readItem{query: query, args: args, scan: scan})
}

// Write adds a write statement with a RETURNING clause, whose rows go to
// scan like a query's. It commits as a write of the Async view does
// (without waiting for the disk): use it only for writes a crash may lose,
// such as throttle counts. On PostgreSQL a Reads with a write runs on the
// Async view's connections, as one implicit transaction, so the write's
// row locks last until the batch's last read has run; on SQLite the write
// goes to the writer connection in its turn.
func (r *Reads) Write(scan func(Rows) error, query string, args ...any) {
	r.items = append(r.items, readItem{query: query, args: args, scan: scan, write: true})
	r.writes = true
}

// Do adds a step of Go code that runs in its turn, for what SQLite cannot
// say in one statement (it has no writes inside WITH): between its
// statements, which cost no round trip there, the code decides. A Reads
// with a Do runs its items one by one on PostgreSQL too, so a store that
// wants one round trip there adds one statement instead.
func (r *Reads) Do(fn func(ctx context.Context) error) {
	r.items = append(r.items, readItem{do: fn})
}

// Run runs the queries added since the last Run and hands each one's rows
// to its scan function. It returns the first error, after which the scan
// functions of later queries are not called.
func (r *Reads) Run(ctx context.Context) (err error) {
	items, writes := r.items, r.writes
	r.items, r.writes = nil, false
	if r.db.Dialect != Postgres || (len(items) <= 1 && !writes) || slices.ContainsFunc(items, func(it readItem) bool { return it.do != nil }) {
		for _, it := range items {
			if err := r.runOne(ctx, it); err != nil {
				return err
			}
		}
		return nil
	}
	if _, span := r.db.spanOf(ctx, "BATCH", semconv.DBOperationName("BATCH"), semconv.DBOperationBatchSize(len(items))); span != nil {
		defer func() { endSpan(span, err) }()
	}
	ctx, cancel := r.db.bounded(ctx)
	defer cancel()
	pool := r.db.read
	if writes {
		pool = r.db.async.write
	}
	conn, err := pool.Conn(ctx)
	if err != nil {
		return Classify(err)
	}
	defer conn.Close()
	return conn.Raw(func(driverConn any) error {
		b := &pgx.Batch{}
		for _, it := range items {
			b.Queue(it.query, it.args...)
		}
		br := driverConn.(*stdlib.Conn).Conn().SendBatch(ctx, b)
		var first error
		for _, it := range items {
			if first != nil {
				break
			}
			rows, err := br.Query()
			if err == nil {
				err = it.scan(rows)
				rows.Close()
				if rerr := rows.Err(); err == nil {
					err = rerr
				}
			}
			first = Classify(err)
		}
		if err := br.Close(); first == nil && err != nil {
			first = Classify(err)
		}
		return first
	})
}

// runOne runs one query as a cached prepared statement of the read pool.
func (r *Reads) runOne(ctx context.Context, it readItem) error {
	if it.do != nil {
		return it.do(ctx)
	}
	query := r.db.Query
	if it.write {
		query = r.db.async.WriteQuery
	}
	rows, err := query(ctx, it.query, it.args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	if err := it.scan(rows); err != nil {
		return Classify(err)
	}
	return Classify(rows.Err())
}
