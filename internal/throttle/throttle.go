package throttle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
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
	// Taken is true when Reserve counted an attempt on the key: it need
	// not wait, and Wait is 0.
	Taken bool
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

// Reserve counts one attempt on each key before the work it guards (a
// password check, a code sent), in one statement: a key is taken — counted
// — only when it need not wait, so that of a burst of simultaneous attempts
// no more go ahead than the rule lets through, on every node, and a
// refused attempt is not counted at all. The states come in the order of
// keys: Taken for a key that was counted, and for one that was not, how
// long it must still wait.
//
// What follows the work decides what the count becomes (see Attempt): a
// failure keeps it, a success gives it back. Counts commit
// asynchronously (store.DB.Async), as Fail's do.
func (l *Limiter) Reserve(ctx context.Context, rule Rule, keys ...string) ([]State, error) {
	out := make([]State, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	now := l.now()
	// One row per key, locked in the order of the keys so that two
	// reservations of the same keys cannot deadlock on PostgreSQL.
	sorted := slices.Clone(keys)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	args := []any{store.Micros(now), store.Micros(now.Add(rule.Window)), rule.Free, rule.Base.Microseconds(), rule.Max.Microseconds()}
	rows := make([]string, len(sorted))
	for i, k := range sorted {
		args = append(args, k)
		rows[i] = fmt.Sprintf("($%d, 1, $1, $2)", len(args))
	}
	q := reserveSQLite
	if l.db.Dialect == store.Postgres {
		q = reservePostgres
	}
	res, err := l.db.Async().WriteQuery(ctx, fmt.Sprintf(q, strings.Join(rows, ", ")), args...)
	if err != nil {
		return nil, fmt.Errorf("throttle: reserve: %w", err)
	}
	taken := map[string]int{}
	for res.Next() {
		var key string
		var failures int
		if err := res.Scan(&key, &failures); err != nil {
			res.Close()
			return nil, fmt.Errorf("throttle: reserve: %w", err)
		}
		taken[key] = failures
	}
	res.Close()
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("throttle: reserve: %w", err)
	}
	var refused []string
	for i, k := range keys {
		if n, ok := taken[k]; ok {
			out[i] = State{Taken: true, Failures: n}
		} else {
			refused = append(refused, k)
		}
	}
	if len(refused) == 0 {
		return out, nil
	}
	// Only a refusal costs a second statement: how long it must wait.
	st, err := l.Waits(ctx, rule, refused...)
	if err != nil {
		return nil, err
	}
	for i, k := range keys {
		if j := slices.Index(refused, k); j >= 0 {
			out[i] = st[j]
			// Expired or paid off between the two statements: still
			// refused, and asked to wait a moment rather than nothing.
			out[i].Wait = max(out[i].Wait, time.Second)
		}
	}
	return out, nil
}

// The reservation, in each dialect: insert the key's first count, or add
// one to a count that need not wait (its window is over, it is within
// the free attempts, or its delay since the last attempt has passed); a
// key that must wait is left alone and returns no row. The delay after n
// counts is Rule.Delay's: min(Max, Base·2^(n−Free)) from Free on.
// Arguments: $1 now, $2 expiry, $3 Free, $4 Base and $5 Max in
// microseconds, then the keys.
const (
	reserveSQLite = `INSERT INTO throttle (key, failures, last_failure, expires_at) VALUES %s
		ON CONFLICT (key) DO UPDATE SET
			failures = CASE WHEN throttle.expires_at <= $1 THEN 1 ELSE throttle.failures + 1 END,
			last_failure = $1, expires_at = $2
		WHERE throttle.expires_at <= $1 OR throttle.failures < $3 OR $4 <= 0
			OR throttle.last_failure + min($5, $4 * power(2, min(throttle.failures - $3, 62))) <= $1
		RETURNING key, failures`
	reservePostgres = `INSERT INTO throttle (key, failures, last_failure, expires_at) VALUES %s
		ON CONFLICT (key) DO UPDATE SET
			failures = CASE WHEN throttle.expires_at <= $1::bigint THEN 1 ELSE throttle.failures + 1 END,
			last_failure = $1, expires_at = $2
		WHERE throttle.expires_at <= $1::bigint OR throttle.failures < $3::bigint OR $4::bigint <= 0
			OR throttle.last_failure + LEAST($5::float8, $4::float8 * power(2, LEAST(throttle.failures - $3::bigint, 62))) <= $1::bigint
		RETURNING key, failures`
)

// Release gives back one count that Reserve took on key: the attempt
// succeeded, or never happened.
func (l *Limiter) Release(ctx context.Context, key string) error {
	if _, err := l.db.Async().Exec(ctx, `UPDATE throttle SET failures = failures - 1 WHERE key = $1 AND failures > 0`, key); err != nil {
		return fmt.Errorf("throttle: release: %w", err)
	}
	return nil
}

// Attempt is one attempt guarded by counts on several keys (a sign-in's
// network and address): what Reserve answered for each, and how to settle
// the counts once the outcome is known.
type Attempt struct {
	l    *Limiter
	rule Rule
	keys []string
	// States are Reserve's answers, in the order of the keys.
	States []State
}

// Begin reserves an attempt on keys under rule (see Reserve).
func (l *Limiter) Begin(ctx context.Context, rule Rule, keys ...string) (*Attempt, error) {
	st, err := l.Reserve(ctx, rule, keys...)
	if err != nil {
		return nil, err
	}
	return &Attempt{l: l, rule: rule, keys: keys, States: st}, nil
}

// Failed counts the attempt as a failure on every key. Keys it was taken
// on are counted already; the others (the attempt went ahead although
// they had to wait: the policy let a known device through) are counted
// now.
func (a *Attempt) Failed(ctx context.Context) error {
	for i, k := range a.keys {
		if !a.States[i].Taken {
			if err := a.l.Fail(ctx, k, a.rule); err != nil {
				return err
			}
		}
	}
	return nil
}

// Succeeded gives back the attempt's counts: a success is not a failure.
// The keys in forget lose their whole count (an address signed in to).
func (a *Attempt) Succeeded(ctx context.Context, forget ...string) error {
	for i, k := range a.keys {
		switch {
		case slices.Contains(forget, k):
			if a.States[i].Taken || a.States[i].Failures > 0 {
				if err := a.l.Reset(ctx, k); err != nil {
					return err
				}
			}
		case a.States[i].Taken:
			if err := a.l.Release(ctx, k); err != nil {
				return err
			}
		}
	}
	return nil
}

// Cancel gives back the counts of an attempt that did not take place (the
// policy refused it).
func (a *Attempt) Cancel(ctx context.Context) error { return a.Succeeded(ctx) }

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
