// Package store owns Foyer's connection to its database: opening SQLite
// (embedded, the default) or PostgreSQL (production), running the embedded
// migrations, transactions, and the sentinel errors every store method
// returns (ErrNotFound, ErrConflict).
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
package store
