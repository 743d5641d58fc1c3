package store

import "database/sql"

// PoolStats is one connection pool's statistics (database/sql's).
type PoolStats struct {
	// Pool names it: on SQLite "write" (the one writer connection) and
	// "read" (the read-only connections); on PostgreSQL "main" (reads
	// and writes), "async" (writes that commit without waiting for the
	// disk, see Async) and "lock" (advisory locks, see Lock).
	Pool string
	sql.DBStats
}

// PoolStats returns the statistics of db's connection pools, for the
// metrics: a pool whose connections are all in use makes callers wait,
// and the wait counts say how often and how long.
func (db *DB) PoolStats() []PoolStats {
	if db.Dialect == SQLite {
		return []PoolStats{{"write", db.write.Stats()}, {"read", db.read.Stats()}}
	}
	out := []PoolStats{{"main", db.write.Stats()}}
	if db.async != db {
		out = append(out, PoolStats{"async", db.async.write.Stats()})
	}
	if db.locker != nil {
		out = append(out, PoolStats{"lock", db.locker.Stats()})
	}
	return out
}
