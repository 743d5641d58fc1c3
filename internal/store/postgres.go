package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Bounds on waiting for PostgreSQL, for what the DSN does not set itself.
// A database that stops answering — stalled behind a proxy, a network
// that drops packets, a server that hangs — must cost a request its
// deadline, not hang it, and must keep a node from starting rather than
// leave it waiting.
const (
	// DefaultConnectTimeout bounds opening a connection, the TLS and
	// start-up exchange included (the DSN's connect_timeout, in seconds,
	// replaces it).
	DefaultConnectTimeout = 5 * time.Second
	// DefaultStatementTimeout is PostgreSQL's statement_timeout on
	// Foyer's connections and the deadline of a call whose context has
	// none (the DSN's statement_timeout replaces both; 0 turns both off).
	// Requests have their own, shorter or not (request_timeout).
	DefaultStatementTimeout = 10 * time.Second
	// defaultIdleInTransaction ends, on the server, a transaction whose
	// client went silent (idle_in_transaction_session_timeout), so that
	// the locks it holds do not hold up the other nodes until the server
	// notices the connection is dead. Foyer's own transactions never idle
	// longer than a request.
	defaultIdleInTransaction = time.Minute
)

// TCP keepalive on connections to PostgreSQL: a peer that vanished
// (a crashed host, a dropped route) is noticed in about 30 s instead of
// the kernel's two hours.
var postgresKeepAlive = net.KeepAliveConfig{Enable: true, Idle: 15 * time.Second, Interval: 5 * time.Second, Count: 3}

// postgresTimeouts are the bounds a PostgreSQL DB works with.
type postgresTimeouts struct {
	connect, statement time.Duration
}

// postgresConfig parses dsn and fills in Foyer's bounds where the DSN is
// silent: connect_timeout, statement_timeout,
// idle_in_transaction_session_timeout, TCP keepalive.
func postgresConfig(dsn string) (*pgx.ConnConfig, postgresTimeouts, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, postgresTimeouts{}, err
	}
	t := postgresTimeouts{connect: cfg.ConnectTimeout, statement: DefaultStatementTimeout}
	if !dsnSets(dsn, "connect_timeout") && os.Getenv("PGCONNECT_TIMEOUT") == "" {
		cfg.ConnectTimeout = DefaultConnectTimeout
		t.connect = DefaultConnectTimeout
	}
	if v, ok := cfg.RuntimeParams["statement_timeout"]; ok {
		if d, ok := postgresDuration(v); ok {
			t.statement = d
		}
	} else {
		cfg.RuntimeParams["statement_timeout"] = strconv.FormatInt(DefaultStatementTimeout.Milliseconds(), 10)
	}
	if _, ok := cfg.RuntimeParams["idle_in_transaction_session_timeout"]; !ok {
		cfg.RuntimeParams["idle_in_transaction_session_timeout"] = strconv.FormatInt(defaultIdleInTransaction.Milliseconds(), 10)
	}
	dialer := &net.Dialer{KeepAliveConfig: postgresKeepAlive}
	cfg.DialFunc = dialer.DialContext
	cfg.Tracer = roundTripTracer{}
	return cfg, t, nil
}

// dsnSets reports whether a postgres:// URL names the parameter key.
func dsnSets(dsn, key string) bool {
	u, err := url.Parse(dsn)
	return err == nil && u.Query().Has(key)
}

// postgresDuration parses a PostgreSQL time setting: a number of
// milliseconds, or a number with a unit (us, ms, s, min, h, d).
func postgresDuration(v string) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	i := strings.IndexFunc(v, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := v, "ms"
	if i >= 0 {
		num, unit = v[:i], strings.TrimSpace(v[i:])
	}
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	units := map[string]time.Duration{"us": time.Microsecond, "ms": time.Millisecond, "s": time.Second,
		"min": time.Minute, "h": time.Hour, "d": 24 * time.Hour}
	u, ok := units[unit]
	if !ok {
		return 0, false
	}
	return time.Duration(n * float64(u)), true
}

// connectError words a failure to reach PostgreSQL at start for the
// operator: where, and how long Foyer waited when it timed out.
func connectError(cfg *pgx.ConnConfig, t postgresTimeouts, err error) error {
	where := net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port)))
	if Unavailable(err) {
		var hint string
		var netErr net.Error
		if errors.Is(err, context.DeadlineExceeded) || pgconn.Timeout(err) || (errors.As(err, &netErr) && netErr.Timeout()) {
			hint = fmt.Sprintf(" (no answer within %s; connect_timeout in the DSN changes the wait)", t.connect)
		}
		return fmt.Errorf("store: cannot reach PostgreSQL at %s%s: %w: %w", where, hint, ErrUnavailable, err)
	}
	return fmt.Errorf("store: connect to PostgreSQL at %s: %w", where, err)
}
