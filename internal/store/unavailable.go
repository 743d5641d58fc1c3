package store

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// ErrUnavailable means the database could not do the work now, for a
// reason that has nothing to do with the request: it did not answer in
// time, refused or dropped the connection, is shutting down, is out of
// disk or connections, or (SQLite) stayed locked. Trying again shortly
// may work. Classify wraps such errors with it; Unavailable recognises
// them also unwrapped.
var ErrUnavailable = errors.New("store: database unavailable")

// Unavailable reports whether err means the database is unavailable (see
// ErrUnavailable) rather than that the request or the code is wrong. It
// is the one classifier every surface uses to answer 503 with
// Retry-After instead of 500. A cancelled context is not an outage: the
// caller gave up (a client that went away), and Unavailable reports
// false for it even if a connection error follows from it. A deadline
// that passed is one: the database did not answer in time.
func Unavailable(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) {
		return false
	}
	if errors.Is(err, ErrUnavailable) || errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return unavailableSQLState(pgErr.Code)
	}
	var sqlErr *sqlite.Error
	if errors.As(err, &sqlErr) {
		switch sqlErr.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_NOMEM, sqlite3.SQLITE_READONLY,
			sqlite3.SQLITE_INTERRUPT, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN:
			return true
		}
		return false
	}
	var connectErr *pgconn.ConnectError
	var netErr net.Error
	switch {
	case errors.As(err, &connectErr), errors.As(err, &netErr), pgconn.Timeout(err):
		return true
	case errors.Is(err, pgconn.ErrConnClosed), errors.Is(err, driver.ErrBadConn), errors.Is(err, net.ErrClosed),
		errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.ECONNABORTED),
		errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ETIMEDOUT), errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.ENETUNREACH):
		return true
	}
	return false
}

// unavailableSQLState reports whether a PostgreSQL error code means the
// server cannot do the work now: connection exceptions (class 08),
// insufficient resources (53: disk full, out of memory, too many
// connections), operator intervention (57: shutting down, cannot connect
// now, a statement or lock that timed out), system errors (58), and a
// read-only transaction (25006: a standby, as after a failover) or one
// ended for idling (25P03).
func unavailableSQLState(code string) bool {
	switch {
	case strings.HasPrefix(code, "08"), strings.HasPrefix(code, "53"), strings.HasPrefix(code, "57"), strings.HasPrefix(code, "58"):
		return true
	}
	switch code {
	case "25006", "25P03", "55P03": // read_only_sql_transaction, idle_in_transaction_session_timeout, lock_not_available
		return true
	}
	return false
}

// LogLevel is the level to log err at, met while serving ctx: debug when
// the work was cancelled (a client that went away: nobody reads the
// answer, and it is no fault), a warning when the database is unavailable
// (an outage, which readiness reports, also when it ran a request out of
// time), an error otherwise (a bug).
func LogLevel(ctx context.Context, err error) slog.Level {
	switch {
	case errors.Is(err, context.Canceled) || errors.Is(ctx.Err(), context.Canceled):
		return slog.LevelDebug
	case Unavailable(err):
		return slog.LevelWarn
	}
	return slog.LevelError
}
