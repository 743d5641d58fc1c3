package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"
)

// A PostgreSQL write transaction sends its statements in pipelines: Exec
// queues a statement and returns at once, and the queue travels to the
// server in one round trip when the transaction next needs an answer — a
// query, a RowsAffected, or the commit. A transaction of writes alone is
// then one round trip, where statements sent one by one would take one each
// and two more for BEGIN and COMMIT; it does not even need BEGIN and
// COMMIT, since the server runs a pipeline as one implicit transaction.
// Each round trip costs both processes a wake-up and the kernel a loopback
// or network hop; on a server that also hashes passwords, they are what a
// journey's database work mostly costs.
//
// A queued statement's error is returned by whatever sent it (RowsAffected,
// a later query, or the commit), and InTx returns it in any case. A failed
// statement aborts a PostgreSQL transaction, so nothing can run after it
// either way.
type pipeline struct {
	conn  *sql.Conn
	queue []*queued
	begun bool  // BEGIN has been sent
	block bool  // a statement needs an explicit transaction block (SAVEPOINT)
	err   error // the first failure; the transaction is aborted
}

// queued is a statement waiting in a pipeline, and its result once sent.
type queued struct {
	p     *pipeline
	ctx   context.Context
	query string
	args  []any
	// ifNotOne is ExecOne's error: the statement is wrapped so that the
	// server fails the transaction unless it changed exactly one row.
	ifNotOne error
	sent     bool
	rows     int64
	err      error
}

// expectOneCode is the SQLSTATE of foyer_expect_one (migration 0007).
const expectOneCode = "FY001"

// LastInsertId is not supported: PostgreSQL statements use RETURNING.
func (q *queued) LastInsertId() (int64, error) {
	return 0, errors.New("store: LastInsertId is not supported on PostgreSQL")
}

// RowsAffected sends the pipeline if q has not gone yet, and returns the
// number of rows q changed.
func (q *queued) RowsAffected() (int64, error) {
	if !q.sent {
		if err := q.p.flush(q.ctx, false); err != nil {
			return 0, err
		}
	}
	return q.rows, q.err
}

func (p *pipeline) exec(ctx context.Context, query string, args []any) sql.Result {
	q := &queued{p: p, ctx: ctx, query: query, args: args}
	p.queue = append(p.queue, q)
	return q
}

// flush sends BEGIN (the first time), the queued statements and, with
// commit, COMMIT, in one round trip. A transaction that commits in its
// first flush needs neither: the server runs the statements of one
// pipeline as an implicit transaction, all or nothing.
func (p *pipeline) flush(ctx context.Context, commit bool) error {
	if p.err != nil {
		return p.err
	}
	if len(p.queue) == 0 && p.begun != commit {
		// Nothing to send: everything went already, or the transaction
		// commits without having written or read anything.
		return nil
	}
	implicit := commit && !p.begun && !p.block
	err := p.conn.Raw(func(driverConn any) error {
		conn := driverConn.(*stdlib.Conn).Conn()
		b := &pgx.Batch{}
		if !p.begun && !implicit {
			b.Queue("BEGIN")
		}
		for _, q := range p.queue {
			b.Queue(q.query, q.args...)
		}
		if commit && !implicit {
			b.Queue("COMMIT")
		}
		br := conn.SendBatch(ctx, b)
		var first error
		if !p.begun && !implicit {
			if _, err := br.Exec(); err != nil {
				first = err
			}
			p.begun = true
		}
		for _, q := range p.queue {
			tag, err := br.Exec()
			var pgErr *pgconn.PgError
			if q.ifNotOne != nil && errors.As(err, &pgErr) && pgErr.Code == expectOneCode {
				err = q.ifNotOne
			}
			q.sent, q.rows, q.err = true, tag.RowsAffected(), Classify(err)
			if first == nil {
				first = err
			}
		}
		if commit && !implicit {
			if _, err := br.Exec(); first == nil {
				first = err
			}
		}
		if err := br.Close(); first == nil {
			first = err
		}
		return first
	})
	p.queue = p.queue[:0]
	if err != nil {
		p.err = Classify(err)
	}
	return p.err
}

// rollback ends a transaction that failed or was abandoned. The
// connection goes back to the pool either way: one still inside a
// transaction is discarded by the driver.
func (p *pipeline) rollback(ctx context.Context) {
	if !p.begun {
		return
	}
	// Even when ctx has ended; but a connection that stopped answering
	// must not hold the caller up: past the bound, the driver closes it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), rollbackTimeout)
	defer cancel()
	_ = p.conn.Raw(func(driverConn any) error {
		_, err := driverConn.(*stdlib.Conn).Conn().Exec(ctx, "ROLLBACK")
		return err
	})
}

// rollbackTimeout bounds the ROLLBACK of a failed transaction.
const rollbackTimeout = 2 * time.Second

// inPipelinedTx is InTx on PostgreSQL.
func (db *DB) inPipelinedTx(ctx context.Context, fn func(tx *Tx) error) error {
	conn, err := db.write.Conn(ctx)
	if err != nil {
		return fmt.Errorf("store: begin: %w", Classify(err))
	}
	defer conn.Close()
	p := &pipeline{conn: conn}
	tx := &Tx{Dialect: db.Dialect, db: db, pg: p}
	committed := false
	defer func() { tx.end(0, committed) }()
	if err := fn(tx); err != nil {
		p.rollback(ctx)
		if p.err != nil {
			// The statement that failed is the cause of whatever fn
			// made of it (a RowsAffected of 0, say).
			return p.err
		}
		return Classify(err)
	}
	if err := p.flush(ctx, true); err != nil {
		p.rollback(ctx)
		return fmt.Errorf("store: commit: %w", err)
	}
	committed = true
	return nil
}
