// Package store owns Foyer's connection to its database: opening SQLite
// (embedded, the default) or PostgreSQL (production), running the embedded
// migrations, transactions, and the sentinel errors every store method
// returns (ErrNotFound, ErrConflict, and ErrUnavailable when the database
// cannot do the work now; Unavailable is the one classifier of outages).
//
// The SQL itself lives next to the domain that runs it (identity, session,
// flow, courier, event, throttle): each of those packages has a Store type
// built on a *DB. Where the two dialects differ, the queries are written
// twice, side by side, and chosen with DB.Dialect.
//
// SQLite runs in WAL mode with one writer connection and a pool of
// read-only connections, so concurrent sign-ups queue on the writer instead
// of failing with SQLITE_BUSY. Times are stored as integer Unix
// microseconds in both dialects (see Micros and FromMicros).
//
// No call waits forever for a database that stopped answering: every one
// has a deadline, its context's or, when that has none, the store's
// (DefaultStatementTimeout); connecting to PostgreSQL has one too
// (DefaultConnectTimeout), and its connections carry a server-side
// statement_timeout and TCP keepalive. On SQLite a writer waits for the
// one writer connection no longer than its deadline.
package store
