package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib" // also registers the database/sql driver "pgx"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Sentinel errors returned by every store method in Foyer.
var (
	// ErrNotFound means the row asked for does not exist (or has expired).
	ErrNotFound = errors.New("store: not found")
	// ErrConflict means a uniqueness or state precondition failed: the
	// row exists already, or was changed by someone else first.
	ErrConflict = errors.New("store: conflict")
)

// Dialect names the SQL dialect of a DB.
type Dialect int

// The dialects Foyer supports.
const (
	SQLite Dialect = iota + 1
	Postgres
)

func (d Dialect) String() string {
	switch d {
	case SQLite:
		return "sqlite"
	case Postgres:
		return "postgres"
	}
	return "unknown"
}

// DB is an open Foyer database. Writes go through Write (one connection on
// SQLite), reads through Read (a pool of read-only connections on SQLite;
// the same pool as Write on PostgreSQL).
type DB struct {
	Dialect Dialect
	write   *sql.DB
	read    *sql.DB

	// Prepared statements, by pool and query text. Queries are constants
	// in the code, so the caches stay small; preparing once saves parsing
	// and planning on every call, which is most of a point lookup's cost.
	readStmts, writeStmts *sync.Map // string → *sql.Stmt

	// Lock's: advisory locks through their own pool on PostgreSQL (nil on
	// SQLite), in-process locks on SQLite.
	locker *sql.DB
	locks  lockTable

	// async is what Async returns: on PostgreSQL a view of this database
	// whose writes go through connections of their own; db itself on
	// SQLite. A view (view true) shares everything else with its DB and
	// leaves closing it to that DB.
	async *DB
	view  bool

	// timeout bounds a call whose context has no deadline (see bounded);
	// 0 leaves such calls unbounded.
	timeout time.Duration

	// tracer makes calls spans (see Trace); nil: none.
	tracer atomic.Pointer[dbTracer]

	batch     chan *batchItem // see ExecBatched
	batchDone chan struct{}
	closeOnce sync.Once
	closeErr  error
}

func newDB(d Dialect, write, read *sql.DB, timeout time.Duration) *DB {
	db := &DB{Dialect: d, write: write, read: read, readStmts: new(sync.Map), writeStmts: new(sync.Map),
		timeout: timeout, batch: make(chan *batchItem, maxBatch), batchDone: make(chan struct{})}
	db.async = db
	go db.runBatches()
	return db
}

// Async returns db for writes that a crash of the database server may
// lose: they commit without waiting for the write-ahead log to reach the
// disk (PostgreSQL's asynchronous commit, set on connections of their
// own). That saves each commit its flush, the biggest single cost of a
// small write on the machines Foyer is measured on. A crash in the
// following moment (up to three times wal_writer_delay, 600 ms by default)
// may lose such a transaction, never corrupt or half-apply it, and any
// later ordinary commit makes it durable too, since the log is flushed in
// order. Use it for a journey just started, throttle counts, the courier's
// bookkeeping, and writes that the same step follows with an ordinary
// commit. Reads and ExecBatched work as on db. SQLite, in WAL mode with
// synchronous=NORMAL, commits this way always: there Async returns db.
func (db *DB) Async() *DB { return db.async }

// quick returns the context for a read, or for a statement inside a
// SQLite transaction. SQLite statements run in this process in
// microseconds, so there is nothing to cancel: without a Done channel
// neither database/sql nor the driver starts watching the context, which
// on the hottest reads (whoami, every token request) costs more than the
// query. (A SQLite write outside a transaction, or a transaction's start,
// keeps its deadline: it may have to wait for the one writer.) PostgreSQL
// statements keep the caller's context, bounded (see boundedRows).
func (db *DB) quick(ctx context.Context) context.Context {
	if db.Dialect == SQLite {
		return context.WithoutCancel(ctx)
	}
	return db.boundedRows(ctx)
}

// unbounded marks a context whose calls get no deadline from the store
// (migrations, which take as long as they take).
type unbounded struct{}

// bounded returns ctx with a deadline db.timeout from now when it has
// none, so that no call waits forever for a database that stopped
// answering: a request's context has its own deadline already (the
// server gives every request one); background work and commands get this
// one. Call cancel once the work is done.
func (db *DB) bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	if db.timeout <= 0 || ctx.Value(unbounded{}) != nil {
		return ctx, func() {}
	}
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, db.timeout)
}

// boundedRows is bounded for a statement whose rows are read after the
// method returns (QueryRow, Query): the context must outlive the call, so
// nobody can cancel it early. One given a deadline here lets go of its
// timer when the deadline passes, which bounds what it holds; callers
// with a deadline of their own (every request) get none.
func (db *DB) boundedRows(ctx context.Context) context.Context {
	ctx, cancel := db.bounded(ctx)
	_ = cancel // released at its deadline; see above
	return ctx
}

// stmt returns the cached prepared statement for query on pool.
func (db *DB) stmt(ctx context.Context, pool *sql.DB, cache *sync.Map, query string) (*sql.Stmt, error) {
	if st, ok := cache.Load(query); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := pool.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if prev, loaded := cache.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// Open connects to the database named by dsn. A dsn starting with
// postgres:// or postgresql:// opens PostgreSQL, with Foyer's bounds on
// waiting where the DSN sets none (DefaultConnectTimeout,
// DefaultStatementTimeout); an unreachable or silent server fails Open
// within the connect timeout, with an error Unavailable recognises.
// Anything else is a SQLite file path, optionally prefixed with sqlite://
// or sqlite: — except what looks like another database's URL or a
// PostgreSQL key=value string, which is refused rather than taken for a
// file name. The database is not migrated; call Migrate.
func Open(ctx context.Context, dsn string) (*DB, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return openPostgres(ctx, dsn)
	}
	if err := notSQLite(dsn); err != nil {
		return nil, err
	}
	path := strings.TrimPrefix(strings.TrimPrefix(dsn, "sqlite://"), "sqlite:")
	if path == "" {
		return nil, errors.New("store: empty database path")
	}
	return openSQLite(ctx, path)
}

// urlScheme matches the scheme of a URL ("mysql://").
var urlScheme = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9+.-]*)://`)

// notSQLite refuses a dsn that is meant for a database other than a
// SQLite file: a URL of another scheme, or PostgreSQL's key=value form.
func notSQLite(dsn string) error {
	if m := urlScheme.FindStringSubmatch(dsn); m != nil && m[1] != "sqlite" && m[1] != "file" {
		return fmt.Errorf("store: unsupported database URL %q: use postgres://… for PostgreSQL or a file path for SQLite", m[1]+"://…")
	}
	fields := strings.Fields(dsn)
	for _, f := range fields {
		key, _, ok := strings.Cut(f, "=")
		if ok && slices.Contains([]string{"host", "hostaddr", "port", "dbname", "user", "password", "sslmode"}, key) {
			return errors.New("store: a PostgreSQL DSN must be a URL (postgres://user@host:5432/dbname?sslmode=…), not key=value pairs")
		}
	}
	return nil
}

func openPostgres(ctx context.Context, dsn string) (*DB, error) {
	cfg, timeouts, err := postgresConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open postgres: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(4 * runtime.NumCPU())
	db.SetMaxIdleConns(4 * runtime.NumCPU())
	db.SetConnMaxIdleTime(5 * time.Minute)
	// A DSN may turn either bound off (0): the ping then waits as long as
	// it takes.
	pingCtx, cancel := context.WithCancel(ctx)
	if timeouts.connect > 0 && timeouts.statement > 0 {
		pingCtx, cancel = context.WithTimeout(ctx, timeouts.connect+timeouts.statement)
	}
	err = db.PingContext(pingCtx)
	cancel()
	if err != nil {
		db.Close()
		return nil, connectError(cfg, timeouts, err)
	}
	locker := stdlib.OpenDB(*cfg)
	locker.SetMaxOpenConns(runtime.NumCPU())
	locker.SetMaxIdleConns(1)
	asyncCfg := cfg.Copy()
	asyncCfg.RuntimeParams["synchronous_commit"] = "off"
	async := stdlib.OpenDB(*asyncCfg)
	// As many as the main pool: a step's reads travel here with its
	// throttle reservation (Reads.Write).
	async.SetMaxOpenConns(4 * runtime.NumCPU())
	async.SetMaxIdleConns(4 * runtime.NumCPU())
	async.SetConnMaxIdleTime(5 * time.Minute)
	d := newDB(Postgres, db, db, timeouts.statement)
	d.locker = locker
	d.async = &DB{Dialect: Postgres, write: async, read: db, readStmts: d.readStmts, writeStmts: new(sync.Map),
		locker: locker, timeout: d.timeout, view: true, batch: d.batch, batchDone: d.batchDone}
	d.async.async = d.async
	return d, nil
}

// sqliteBusyTimeout is how long a SQLite connection waits for a lock
// another process holds (another Foyer command on the same file).
const sqliteBusyTimeout = 10 * time.Second

func openSQLite(ctx context.Context, path string) (*DB, error) {
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("store: create data folder: %w", err)
		}
	}
	pragmas := url.Values{}
	for _, p := range []string{
		fmt.Sprintf("busy_timeout(%d)", sqliteBusyTimeout.Milliseconds()),
		"synchronous(NORMAL)",
		"foreign_keys(ON)",
		"temp_store(MEMORY)",
		"cache_size(-16000)",
	} {
		pragmas.Add("_pragma", p)
	}
	base := "file:" + path + "?"
	write, err := sql.Open("sqlite", base+pragmas.Encode()+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("store: open sqlite: %w", err)
	}
	// One writer: SQLite serialises writers anyway, and queueing them in
	// the pool instead of in SQLite's busy handler is what keeps
	// concurrent sign-ups from failing with SQLITE_BUSY.
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)
	if err := useWAL(ctx, write); err != nil {
		write.Close()
		return nil, fmt.Errorf("store: open sqlite %s: %w", path, Classify(err))
	}
	pragmas.Add("_pragma", "query_only(ON)")
	read, err := sql.Open("sqlite", base+pragmas.Encode())
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("store: open sqlite readers: %w", err)
	}
	n := max(4, 2*runtime.NumCPU())
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	read.SetConnMaxIdleTime(0)
	read.SetConnMaxLifetime(0)
	return newDB(SQLite, write, read, DefaultStatementTimeout), nil
}

// useWAL puts the database file in WAL mode, which lasts: every later
// connection, the readers' too, finds it so. On a new file that several
// processes open at once, the switch may fail at once with SQLITE_BUSY
// whatever the busy timeout: it needs the write lock while its statement
// holds a read lock, and SQLite does not wait there, as two such
// switches waiting for each other would deadlock. It is tried again
// then, until the busy timeout or ctx ends.
func useWAL(ctx context.Context, write *sql.DB) error {
	ctx, cancel := context.WithTimeout(ctx, sqliteBusyTimeout)
	defer cancel()
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		var mode string
		err := write.QueryRowContext(ctx, `PRAGMA journal_mode = WAL`).Scan(&mode)
		if err == nil {
			if !strings.EqualFold(mode, "wal") {
				return fmt.Errorf("journal mode is %s, not wal", mode)
			}
			return nil
		}
		var sqlErr *sqlite.Error
		if !errors.As(err, &sqlErr) || sqlErr.Code()&0xff != sqlite3.SQLITE_BUSY {
			return err
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("switch to WAL mode: another process holds the database: %w (%w)", ctx.Err(), err)
		case <-t.C:
		}
	}
}

// Close closes every connection; closing twice is harmless. Closing an
// Async view does nothing: its DB owns the connections.
func (db *DB) Close() error {
	if db.view {
		return nil
	}
	db.closeOnce.Do(func() {
		close(db.batch)
		<-db.batchDone
		caches := []*sync.Map{db.readStmts, db.writeStmts}
		if db.async != db {
			caches = append(caches, db.async.writeStmts)
		}
		for _, cache := range caches {
			cache.Range(func(_, st any) bool {
				st.(*sql.Stmt).Close()
				return true
			})
		}
		if db.async != db {
			db.closeErr = db.async.write.Close()
		}
		db.closeErr = errors.Join(db.closeErr, db.write.Close())
		if db.read != db.write {
			db.closeErr = errors.Join(db.closeErr, db.read.Close())
		}
		if db.locker != nil {
			db.closeErr = errors.Join(db.closeErr, db.locker.Close())
		}
	})
	return db.closeErr
}

// Ping checks that the database answers; used by the readiness probe.
func (db *DB) Ping(ctx context.Context) error {
	ctx, cancel := db.bounded(ctx)
	defer cancel()
	return Classify(db.read.PingContext(ctx))
}

// Exec runs a write statement outside a transaction. On SQLite it waits
// for the one writer no longer than ctx's deadline (or the store's).
func (db *DB) Exec(ctx context.Context, query string, args ...any) (_ sql.Result, err error) {
	if _, span := db.spanQuery(ctx, query); span != nil {
		defer func() { endSpan(span, err) }()
	}
	ctx, cancel := db.bounded(ctx)
	defer cancel()
	st, err := db.stmt(ctx, db.write, db.writeStmts, query)
	if err != nil {
		return nil, Classify(err)
	}
	res, err := st.ExecContext(ctx, args...)
	return res, Classify(err)
}

// QueryRow runs a read-only query returning at most one row.
func (db *DB) QueryRow(ctx context.Context, query string, args ...any) (row *sql.Row) {
	if _, span := db.spanQuery(ctx, query); span != nil {
		defer func() { endSpan(span, row.Err()) }()
	}
	ctx = db.quick(ctx)
	st, err := db.stmt(ctx, db.read, db.readStmts, query)
	if err != nil {
		// Let the error surface from Scan, as database/sql does.
		return db.read.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// Query runs a read-only query.
func (db *DB) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	return db.queryOn(ctx, db.read, db.readStmts, query, args)
}

// queryOn runs query as a cached prepared statement of pool.
func (db *DB) queryOn(ctx context.Context, pool *sql.DB, cache *sync.Map, query string, args []any) (_ *sql.Rows, err error) {
	if _, span := db.spanQuery(ctx, query); span != nil {
		defer func() { endSpan(span, err) }()
	}
	ctx = db.quick(ctx)
	st, err := db.stmt(ctx, pool, cache, query)
	if err != nil {
		return nil, Classify(err)
	}
	rows, err := st.QueryContext(ctx, args...)
	return rows, Classify(err)
}

// WriteRow runs a write statement with a RETURNING clause outside a
// transaction.
func (db *DB) WriteRow(ctx context.Context, query string, args ...any) (row *sql.Row) {
	if _, span := db.spanQuery(ctx, query); span != nil {
		defer func() { endSpan(span, row.Err()) }()
	}
	ctx = db.boundedRows(ctx)
	st, err := db.stmt(ctx, db.write, db.writeStmts, query)
	if err != nil {
		return db.write.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// WriteQuery runs a write statement with a RETURNING clause, outside a
// transaction, that may return many rows. Read and close the rows at
// once: on SQLite they hold the one writer connection.
func (db *DB) WriteQuery(ctx context.Context, query string, args ...any) (_ *sql.Rows, err error) {
	if _, span := db.spanQuery(ctx, query); span != nil {
		defer func() { endSpan(span, err) }()
	}
	ctx = db.boundedRows(ctx)
	st, err := db.stmt(ctx, db.write, db.writeStmts, query)
	if err != nil {
		return nil, Classify(err)
	}
	rows, err := st.QueryContext(ctx, args...)
	return rows, Classify(err)
}

// Tx is a write transaction. It exposes the same methods as DB, all on the
// transaction. On PostgreSQL, Exec queues its statement and the queue goes
// to the server in one round trip when the transaction needs an answer
// (see pipeline): a statement's error may come from a later call, and
// InTx returns it in any case.
type Tx struct {
	Dialect Dialect
	db      *DB
	tx      *sql.Tx   // SQLite
	unseen  []string  // SQLite: queries to prepare once the transaction is over
	pg      *pipeline // PostgreSQL
	hooks   []txHook
}

// txHook is work waiting for a transaction's end.
type txHook struct {
	onCommit bool // run after a commit; otherwise after a rollback
	fn       func()
}

// AfterCommit registers fn to run once the transaction has committed,
// before InTx returns: to announce what the transaction made visible. It
// never runs if the transaction rolls back, nor if the InTxBatched
// savepoint it was registered in does.
func (tx *Tx) AfterCommit(fn func()) { tx.hooks = append(tx.hooks, txHook{onCommit: true, fn: fn}) }

// AfterRollback registers fn to run if the transaction does not commit, or
// if the InTxBatched savepoint it was registered in rolls back, before
// InTx returns: to give back what the transaction's work reserved. A
// commit whose outcome is unknown (the connection broke during it) counts
// as a rollback, so the reserved thing must stay safe should the commit
// have gone through after all.
func (tx *Tx) AfterRollback(fn func()) { tx.hooks = append(tx.hooks, txHook{fn: fn}) }

// end runs the hooks registered since the from'th for work that committed
// or not, and forgets them.
func (tx *Tx) end(from int, committed bool) {
	hooks := tx.hooks[from:]
	tx.hooks = tx.hooks[:from]
	for _, h := range hooks {
		if h.onCommit == committed {
			h.fn()
		}
	}
}

// prepared returns query as a statement of the transaction: the writer
// connection's cached prepared statement (the writer is one connection, so
// the transaction runs on it), as preparing a statement costs more than
// running it. A query not prepared yet runs as it is (nil) and is prepared
// after the transaction, when the connection is free again.
func (tx *Tx) prepared(ctx context.Context, query string) *sql.Stmt {
	st, ok := tx.db.writeStmts.Load(query)
	if !ok {
		tx.unseen = append(tx.unseen, query)
		return nil
	}
	return tx.tx.StmtContext(ctx, st.(*sql.Stmt))
}

// Exec runs a statement in the transaction; on PostgreSQL it queues it.
func (tx *Tx) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	ctx = tx.db.quick(ctx)
	if tx.pg != nil {
		return tx.pg.exec(ctx, query, args), nil
	}
	var res sql.Result
	var err error
	if st := tx.prepared(ctx, query); st != nil {
		res, err = st.ExecContext(ctx, args...)
	} else {
		res, err = tx.tx.ExecContext(ctx, query, args...)
	}
	return res, Classify(err)
}

// ExecOne runs a write statement (UPDATE, INSERT or DELETE, without
// RETURNING) that must change exactly one row: otherwise the transaction
// fails and InTx returns ifNot. It suits optimistic checks such as
// "UPDATE … WHERE id = $1 AND version = $2". On PostgreSQL the server
// checks the count (foyer_expect_one), so the statement queues like any
// other and costs no round trip of its own: ExecOne returns nil there, and
// ifNot comes from InTx. On SQLite it returns ifNot at once.
func (tx *Tx) ExecOne(ctx context.Context, ifNot error, query string, args ...any) error {
	if tx.pg != nil {
		q := tx.pg.exec(tx.db.quick(ctx), `WITH changed AS (`+query+` RETURNING 1) SELECT foyer_expect_one(COUNT(*)) FROM changed`, args)
		q.(*queued).ifNotOne = ifNot
		return nil
	}
	res, err := tx.Exec(ctx, query, args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return Classify(err)
	}
	if n != 1 {
		return ifNot
	}
	return nil
}

// ExecScript runs a script of statements without arguments (a
// migration). Exec takes one statement: on PostgreSQL a statement with
// arguments cannot hold several.
func (tx *Tx) ExecScript(ctx context.Context, script string) error {
	ctx = tx.db.quick(ctx)
	if tx.pg != nil {
		if err := tx.pg.flush(ctx, false); err != nil {
			return err
		}
		_, err := tx.pg.conn.ExecContext(ctx, script)
		return Classify(err)
	}
	_, err := tx.tx.ExecContext(ctx, script)
	return Classify(err)
}

// QueryRow runs a query returning at most one row in the transaction.
func (tx *Tx) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	ctx = tx.db.quick(ctx)
	if tx.pg != nil {
		// A failed flush aborted the transaction: the query then fails
		// too, and InTx returns the first error.
		_ = tx.pg.flush(ctx, false)
		return tx.pg.conn.QueryRowContext(ctx, query, args...)
	}
	if st := tx.prepared(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return tx.tx.QueryRowContext(ctx, query, args...)
}

// Query runs a query in the transaction.
func (tx *Tx) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	ctx = tx.db.quick(ctx)
	if tx.pg != nil {
		if err := tx.pg.flush(ctx, false); err != nil {
			return nil, err
		}
		rows, err := tx.pg.conn.QueryContext(ctx, query, args...)
		return rows, Classify(err)
	}
	var rows *sql.Rows
	var err error
	if st := tx.prepared(ctx, query); st != nil {
		rows, err = st.QueryContext(ctx, args...)
	} else {
		rows, err = tx.tx.QueryContext(ctx, query, args...)
	}
	return rows, Classify(err)
}

// Execer runs a write statement: a *DB (the statement commits on its own)
// or a *Tx (it commits with the rest of the transaction). Stores take one
// where a write may join a caller's transaction.
type Execer interface {
	Exec(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// InTx runs fn in a write transaction and commits it if fn returns nil.
// Keep fn short and free of slow work (password hashing, network calls):
// on SQLite every writer waits for it.
func (db *DB) InTx(ctx context.Context, fn func(tx *Tx) error) (err error) {
	if _, span := db.spanOf(ctx, "transaction"); span != nil {
		defer func() { endSpan(span, err) }()
	}
	ctx, cancel := db.bounded(ctx)
	defer cancel()
	if db.Dialect == Postgres {
		return db.inPipelinedTx(ctx, fn)
	}
	// The transaction waits for the one writer no longer than ctx allows,
	// and a deadline that passes during it rolls it back; its statements
	// themselves run without watching ctx (see quick).
	sqltx, err := db.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("store: begin: %w", Classify(err))
	}
	tx := &Tx{Dialect: db.Dialect, tx: sqltx, db: db}
	committed := false
	defer func() {
		tx.end(0, committed)
		for _, q := range tx.unseen {
			_, _ = db.stmt(db.quick(ctx), db.write, db.writeStmts, q)
		}
	}()
	if err := fn(tx); err != nil {
		_ = sqltx.Rollback()
		return Classify(err)
	}
	if err := sqltx.Commit(); err != nil {
		return fmt.Errorf("store: commit: %w", Classify(err))
	}
	committed = true
	return nil
}

// Classify maps driver errors to the sentinel errors: a uniqueness or
// primary-key violation becomes ErrConflict, sql.ErrNoRows becomes
// ErrNotFound, and an error that means the database is unavailable (see
// Unavailable) becomes ErrUnavailable. The driver error stays in the
// chain for the logs.
func Classify(err error) error {
	if err == nil || errors.Is(err, ErrConflict) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrUnavailable) {
		return err
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	if Unavailable(err) {
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "23505" {
		return fmt.Errorf("%w: %w", ErrConflict, err)
	}
	var sqlErr *sqlite.Error
	if errors.As(err, &sqlErr) {
		switch sqlErr.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %w", ErrConflict, err)
		}
	}
	return err
}

// Micros converts t to the integer Unix microseconds stored in every time
// column; the zero time becomes 0.
func Micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// FromMicros converts stored Unix microseconds back to a UTC time; 0 is the
// zero time.
func FromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

// NullMicros converts an optional time for storage: the zero time becomes
// NULL.
func NullMicros(t time.Time) sql.NullInt64 {
	if t.IsZero() {
		return sql.NullInt64{}
	}
	return sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
}

// FromNullMicros converts an optional stored time; NULL is the zero time.
func FromNullMicros(v sql.NullInt64) time.Time {
	if !v.Valid {
		return time.Time{}
	}
	return FromMicros(v.Int64)
}
