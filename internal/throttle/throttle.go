package throttle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/foyer-id/foyer/internal/store"
)

// Rule turns a failure count into a delay: the first Free failures cost
// nothing, then the delay starts at Base and doubles per failure up to
// Max. Counts are forgotten Window after the last failure.
type Rule struct {
	Free   int
	Base   time.Duration
	Max    time.Duration
	Window time.Duration
}

// Delay returns how long to wait after the last of n failures.
func (r Rule) Delay(n int) time.Duration {
	if n < r.Free || r.Base <= 0 {
		return 0
	}
	d := r.Base
	for i := r.Free; i < n && d < r.Max; i++ {
		d *= 2
	}
	return min(d, r.Max)
}

// Limiter keeps failure counts.
type Limiter struct {
	db  *store.DB
	now func() time.Time
}

// NewLimiter returns a Limiter on db.
func NewLimiter(db *store.DB, now func() time.Time) *Limiter {
	return &Limiter{db: db, now: now}
}

// Wait returns how long the caller must still wait before an attempt on
// key is accepted under rule (0 when it may go ahead), and the current
// failure count.
func (l *Limiter) Wait(ctx context.Context, key string, rule Rule) (time.Duration, int, error) {
	st, err := l.Waits(ctx, rule, key)
	if err != nil {
		return 0, 0, err
	}
	return st[0].Wait, st[0].Failures, nil
}

// State is where one key stands: how long it must still wait, and its
// recent failures.
type State struct {
	Wait     time.Duration
	Failures int
}

// Waits is Wait for several keys under one rule, in one query (a sign-in
// checks its network and its identifier together). The states come in
// the order of keys.
func (l *Limiter) Waits(ctx context.Context, rule Rule, keys ...string) ([]State, error) {
	var out []State
	r := l.db.Reads()
	l.WaitsIn(r, rule, &out, keys...)
	if err := r.Run(ctx); err != nil {
		return nil, fmt.Errorf("throttle: read: %w", err)
	}
	return out, nil
}

// WaitsIn adds Waits to r: once r runs, *out holds the states, in the
// order of keys.
func (l *Limiter) WaitsIn(r *store.Reads, rule Rule, out *[]State, keys ...string) {
	*out = make([]State, len(keys))
	if len(keys) == 0 {
		return
	}
	marks := make([]string, len(keys))
	args := make([]any, len(keys))
	for i, k := range keys {
		marks[i], args[i] = fmt.Sprintf("$%d", i+1), k
	}
	r.Query(func(rows store.Rows) error {
		now := l.now()
		for rows.Next() {
			var key string
			var failures int
			var last, expires int64
			if err := rows.Scan(&key, &failures, &last, &expires); err != nil {
				return err
			}
			if now.UnixMicro() >= expires {
				continue
			}
			until := store.FromMicros(last).Add(rule.Delay(failures))
			for i, k := range keys {
				if k == key {
					(*out)[i] = State{Wait: max(0, until.Sub(now)), Failures: failures}
				}
			}
		}
		return nil
	}, `SELECT key, failures, last_failure, expires_at FROM throttle WHERE key IN (`+strings.Join(marks, ", ")+`)`, args...)
}

// Fail records one failure on key. Counts commit asynchronously
// (store.DB.Async): a crash of the database server may forget the last
// moment's, and nothing else.
func (l *Limiter) Fail(ctx context.Context, key string, rule Rule) error {
	return l.fail(ctx, l.db.Async(), key, rule)
}

// FailTx is Fail inside tx, counted only if tx commits. On PostgreSQL the
// counter's row stays locked until then, so queue it last (see store.Tx):
// after the transaction's last read or row count, it waits for no round
// trip of the client's.
func (l *Limiter) FailTx(ctx context.Context, tx *store.Tx, key string, rule Rule) error {
	return l.fail(ctx, tx, key, rule)
}

func (l *Limiter) fail(ctx context.Context, db store.Execer, key string, rule Rule) error {
	now := l.now()
	_, err := db.Exec(ctx, `INSERT INTO throttle (key, failures, last_failure, expires_at) VALUES ($1, 1, $2, $3)
		ON CONFLICT (key) DO UPDATE SET
			failures = CASE WHEN throttle.expires_at <= $2 THEN 1 ELSE throttle.failures + 1 END,
			last_failure = $2, expires_at = $3`,
		key, store.Micros(now), store.Micros(now.Add(rule.Window)))
	if err != nil {
		return fmt.Errorf("throttle: fail: %w", err)
	}
	return nil
}

// Reset forgets the failures on key (after a success).
func (l *Limiter) Reset(ctx context.Context, key string) error {
	if _, err := l.db.Async().Exec(ctx, `DELETE FROM throttle WHERE key = $1`, key); err != nil {
		return fmt.Errorf("throttle: reset: %w", err)
	}
	return nil
}

// Prune deletes expired counters.
func (l *Limiter) Prune(ctx context.Context) (int64, error) {
	res, err := l.db.Exec(ctx, `DELETE FROM throttle WHERE expires_at <= $1`, store.Micros(l.now()))
	if err != nil {
		return 0, fmt.Errorf("throttle: prune: %w", err)
	}
	return res.RowsAffected()
}

// NetworkKey returns the throttling key for a client address: the address
// itself for IPv4, its /64 network for IPv6 (one customer line holds a
// whole /64).
func NetworkKey(scope, ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil {
		return scope + ":ip:" + ip
	}
	addr = addr.Unmap()
	if addr.Is6() {
		p, _ := addr.Prefix(64)
		return scope + ":net:" + p.String()
	}
	return scope + ":ip:" + addr.String()
}

// IdentifierKey returns the throttling key for an identifier, hashed so
// the table holds no addresses.
func IdentifierKey(scope, identifier string) string {
	sum := sha256.Sum256([]byte(identifier))
	return scope + ":id:" + hex.EncodeToString(sum[:16])
}
