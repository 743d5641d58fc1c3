package throttle

import (
	"context"
	"crypto/sha256"
	"database/sql"
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
	// seq numbers the reservation that took the key, so that giving it
	// back restores the key's time only if no later one moved it.
	seq int64
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
	items := make([]Item, len(keys))
	for i, k := range keys {
		items[i] = Item{Key: k, Rule: rule}
	}
	l.StatesIn(r, out, items...)
}

// StatesIn adds to r the read of where each item's key stands under its
// rule: once r runs, *out holds the states, in the order of items.
func (l *Limiter) StatesIn(r *store.Reads, out *[]State, items ...Item) {
	*out = make([]State, len(items))
	if len(items) == 0 {
		return
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
			for i, it := range items {
				if it.Key == key {
					(*out)[i] = it.Rule.state(now, failures, last, expires)
				}
			}
		}
		return nil
	}, `SELECT key, failures, last_failure, expires_at FROM throttle WHERE key IN (`+marks(len(items))+`)`, keyArgs(items)...)
}

// state is where a key stands at now under r, from its row: failures
// counted, the last at last, forgotten at expires (Unix microseconds).
func (r Rule) state(now time.Time, failures int, last, expires int64) State {
	if now.UnixMicro() >= expires {
		return State{}
	}
	until := store.FromMicros(last).Add(r.Delay(failures))
	return State{Wait: max(0, until.Sub(now)), Failures: failures}
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
	items := make([]Item, len(keys))
	for i, k := range keys {
		items[i] = Item{Key: k, Rule: rule}
	}
	return l.ReserveEach(ctx, items...)
}

// Item is a key and the rule it is counted under.
type Item struct {
	Key  string
	Rule Rule
	// Gated keys are taken only if every key of the reservation that is
	// not gated was: an account's count moves only for an attempt its
	// network lets through, so that attempts refused at the network (in
	// flight, by the hundred) never crowd the account's free ones.
	Gated bool
}

// ReserveEach is Reserve for keys under rules of their own (an address
// counted from one network and from everywhere), still in one statement.
// A key given twice is counted once, under its first rule.
func (l *Limiter) ReserveEach(ctx context.Context, items ...Item) ([]State, error) {
	var out []State
	r := l.db.Reads()
	l.ReserveEachIn(r, &out, items...)
	if err := r.Run(ctx); err != nil {
		return nil, fmt.Errorf("throttle: reserve: %w", err)
	}
	return out, nil
}

// ReserveEachIn adds ReserveEach to r (see store.Reads.Write), so that a
// step's reservation travels with its reads: once r runs, *out holds the
// states, in the order of items.
func (l *Limiter) ReserveEachIn(r *store.Reads, out *[]State, items ...Item) {
	*out = make([]State, len(items))
	if len(items) == 0 {
		return
	}
	now := l.now()
	// One row per key, locked in the order of the keys so that two
	// reservations of the same keys cannot deadlock on PostgreSQL.
	sorted := slices.Clone(items)
	slices.SortStableFunc(sorted, func(a, b Item) int { return strings.Compare(a.Key, b.Key) })
	sorted = slices.CompactFunc(sorted, func(a, b Item) bool { return a.Key == b.Key })
	var open, gated []Item
	for _, it := range sorted {
		if it.Gated {
			gated = append(gated, it)
		} else {
			open = append(open, it)
		}
	}
	if len(open) == 0 {
		open, gated = gated, nil
	}
	pg := l.db.Dialect == store.Postgres
	args := []any{store.Micros(now)}
	taken := map[string]State{}
	refused := map[string]State{}
	settle := func() {
		gateOpen := true
		for _, it := range open {
			if _, ok := taken[it.Key]; !ok {
				gateOpen = false
			}
		}
		for i, it := range items {
			if st, ok := taken[it.Key]; ok {
				(*out)[i] = st
				continue
			}
			st := refused[it.Key]
			if !it.Gated || gateOpen {
				// Expired or paid off while the statement ran: still
				// refused, and asked to wait a moment rather than nothing.
				st.Wait = max(st.Wait, time.Second)
			}
			(*out)[i] = st
		}
	}
	// A refused key's state: where it stands under its rule.
	state := func(key string, failures int, last, expires int64) State {
		for _, it := range items {
			if it.Key == key {
				return it.Rule.state(l.now(), failures, last, expires)
			}
		}
		return State{}
	}
	if pg {
		// The reservation and the state of every key in one statement.
		// The gated keys' upsert reads what the open keys' returned; the
		// main query reads throttle as it was before both, which for a
		// refused key (left alone) is as it is.
		q := `WITH open AS (` + l.upsert(pg, &args, open, nil) + `)`
		join := `LEFT JOIN open ON open.key = v.key`
		took := `open.failures, open.seq`
		if len(gated) > 0 {
			q += `, gated AS (` + l.upsert(pg, &args, gated, open) + `)`
			join += ` LEFT JOIN gated ON gated.key = v.key`
			took = `COALESCE(open.failures, gated.failures), COALESCE(open.seq, gated.seq)`
		}
		keys := make([]string, len(sorted))
		for i, it := range sorted {
			args = append(args, it.Key)
			keys[i] = fmt.Sprintf("($%d::text)", len(args))
		}
		q += ` SELECT v.key, ` + took + `, t.failures, t.last_failure, t.expires_at
			FROM (VALUES ` + strings.Join(keys, ", ") + `) v (key) ` + join + ` LEFT JOIN throttle t ON t.key = v.key`
		r.Write(func(rs store.Rows) error {
			for rs.Next() {
				var key string
				var tookN, seq, failures, last, expires sql.NullInt64
				if err := rs.Scan(&key, &tookN, &seq, &failures, &last, &expires); err != nil {
					return err
				}
				switch {
				case tookN.Valid:
					taken[key] = State{Taken: true, Failures: int(tookN.Int64), seq: seq.Int64}
				case failures.Valid:
					refused[key] = state(key, int(failures.Int64), last.Int64, expires.Int64)
				}
			}
			settle()
			return nil
		}, q, args...)
		return
	}
	// SQLite has no writes inside WITH: the open keys' upsert, the gated
	// keys' if every open one was taken, then the keys as they stand, one
	// after the other on the one writer (no round trip to save).
	r.Do(func(ctx context.Context) error {
		take := func(set []Item) error {
			args := []any{store.Micros(now)}
			rs, err := l.db.Async().WriteQuery(ctx, l.upsert(pg, &args, set, nil), args...)
			if err != nil {
				return err
			}
			defer rs.Close()
			for rs.Next() {
				var key string
				var failures int
				var seq int64
				if err := rs.Scan(&key, &failures, &seq); err != nil {
					return err
				}
				taken[key] = State{Taken: true, Failures: failures, seq: seq}
			}
			return rs.Err()
		}
		if err := take(open); err != nil {
			return err
		}
		if len(gated) > 0 && len(taken) == len(open) {
			if err := take(gated); err != nil {
				return err
			}
		}
		rs, err := l.db.Async().WriteQuery(ctx, `SELECT key, failures, last_failure, expires_at FROM throttle WHERE key IN (`+marks(len(sorted))+`)`, keyArgs(sorted)...)
		if err != nil {
			return err
		}
		defer rs.Close()
		for rs.Next() {
			var key string
			var failures int
			var last, expires int64
			if err := rs.Scan(&key, &failures, &last, &expires); err != nil {
				return err
			}
			if _, ok := taken[key]; !ok {
				refused[key] = state(key, failures, last, expires)
			}
		}
		if err := rs.Err(); err != nil {
			return err
		}
		settle()
		return nil
	})
}

// upsert is the statement that takes each of set's keys that need not
// wait — the key's first count, or one more — and returns them with their
// count and reservation number; a key that must wait is left alone and
// returns no row. It appends its arguments to *args ($1 is now). With
// after (PostgreSQL), the keys are taken only if the CTE "open" returned
// every one of after's.
func (l *Limiter) upsert(pg bool, args *[]any, set, after []Item) string {
	rows := make([]string, len(set))
	conds := make([]string, len(set))
	for i, it := range set {
		*args = append(*args, it.Key, store.Micros(store.FromMicros((*args)[0].(int64)).Add(it.Rule.Window)), it.Rule.Free, it.Rule.Base.Microseconds(), it.Rule.Max.Microseconds())
		n := len(*args) - 4 // $n key, $n+1 expiry, $n+2 Free, $n+3 Base, $n+4 Max
		rows[i] = fmt.Sprintf("($%d, 1, $1, $%d, 1)", n, n+1)
		if pg {
			rows[i] = fmt.Sprintf("($%d::text, 1::bigint, $1::bigint, $%d::bigint, 1::bigint)", n, n+1)
		}
		conds[i] = fmt.Sprintf(mayTake(pg), n, n+2, n+3, n+4)
	}
	source := `VALUES ` + strings.Join(rows, ", ")
	if after != nil {
		source = fmt.Sprintf(`SELECT * FROM (VALUES %s) g (key, failures, last_failure, expires_at, seq) WHERE (SELECT COUNT(*) FROM open) = %d`,
			strings.Join(rows, ", "), len(after))
	}
	return fmt.Sprintf(`INSERT INTO throttle (key, failures, last_failure, expires_at, seq) %s
		ON CONFLICT (key) DO UPDATE SET
			failures = CASE WHEN throttle.expires_at <= %s THEN 1 ELSE throttle.failures + 1 END,
			last_failure = excluded.last_failure, expires_at = excluded.expires_at,
			seq = throttle.seq + 1, prev_last = throttle.last_failure, prev_expires = throttle.expires_at
		WHERE throttle.expires_at <= %[2]s OR %[3]s
		RETURNING key, failures, seq`, source, nowArg(pg), strings.Join(conds, " OR "))
}

// marks returns "$1, $2, …, $n".
func marks(n int) string {
	m := make([]string, n)
	for i := range m {
		m[i] = fmt.Sprintf("$%d", i+1)
	}
	return strings.Join(m, ", ")
}

// keyArgs returns the items' keys as statement arguments.
func keyArgs(items []Item) []any {
	args := make([]any, len(items))
	for i, it := range items {
		args[i] = it.Key
	}
	return args
}

// mayTake is the condition, in each dialect, under which an existing
// count of key $1 may take one more now: it is within the free attempts,
// the rule has no delay, or its delay since the last attempt has passed.
// The delay after n counts is Rule.Delay's, min(Max, Base·2^(n−Free))
// from Free on. Its verbs are the argument numbers of the key, Free, Base
// and Max (microseconds); $1 is now.
func mayTake(pg bool) string {
	if pg {
		return `(throttle.key = $%d AND (throttle.failures < $%[2]d::bigint OR $%[3]d::bigint <= 0
			OR throttle.last_failure + LEAST($%[4]d::float8, $%[3]d::float8 * power(2, LEAST(throttle.failures - $%[2]d::bigint, 62))) <= $1::bigint))`
	}
	return `(throttle.key = $%d AND (throttle.failures < $%[2]d OR $%[3]d <= 0
			OR throttle.last_failure + min($%[4]d, $%[3]d * power(2, min(throttle.failures - $%[2]d, 62))) <= $1))`
}

// nowArg is the first argument, now, typed where PostgreSQL needs it.
func nowArg(pg bool) string {
	if pg {
		return "$1::bigint"
	}
	return "$1"
}

// Attempt is one attempt guarded by counts on several keys (a sign-in's
// network and address): what Reserve answered for each, and how to settle
// the counts once the outcome is known.
type Attempt struct {
	l     *Limiter
	items []Item
	// States are Reserve's answers, in the order of the keys.
	States []State
}

// Begin reserves an attempt on keys under rule (see Reserve).
func (l *Limiter) Begin(ctx context.Context, rule Rule, keys ...string) (*Attempt, error) {
	items := make([]Item, len(keys))
	for i, k := range keys {
		items[i] = Item{Key: k, Rule: rule}
	}
	return l.BeginEach(ctx, items...)
}

// BeginEach reserves an attempt on keys under rules of their own (see
// ReserveEach).
func (l *Limiter) BeginEach(ctx context.Context, items ...Item) (*Attempt, error) {
	r := l.db.Reads()
	a := l.BeginEachIn(r, items...)
	if err := r.Run(ctx); err != nil {
		return nil, fmt.Errorf("throttle: reserve: %w", err)
	}
	return a, nil
}

// BeginEachIn adds BeginEach to r: the attempt's States are there once r
// has run.
func (l *Limiter) BeginEachIn(r *store.Reads, items ...Item) *Attempt {
	a := &Attempt{l: l, items: items}
	l.ReserveEachIn(r, &a.States, items...)
	return a
}

// Only returns the part of a that counts keys, to settle on its own.
func (a *Attempt) Only(keys ...string) *Attempt {
	part := &Attempt{l: a.l}
	for i, it := range a.items {
		if slices.Contains(keys, it.Key) {
			part.items = append(part.items, it)
			part.States = append(part.States, a.States[i])
		}
	}
	return part
}

// Failed counts the attempt as a failure on every key. Keys it was taken
// on are counted already; the others (the attempt went ahead although
// they had to wait: the policy let a known device through) are counted
// now.
func (a *Attempt) Failed(ctx context.Context) error {
	for i, it := range a.items {
		if !a.States[i].Taken {
			if err := a.l.Fail(ctx, it.Key, it.Rule); err != nil {
				return err
			}
		}
	}
	return nil
}

// Succeeded gives back the attempt's counts: a success is not a failure.
// The keys in forget lose their whole count (an address signed in to).
func (a *Attempt) Succeeded(ctx context.Context, forget ...string) error {
	return a.settle(ctx, a.l.db.Async(), forget)
}

// SucceededTx is Succeeded inside tx, with the step's other writes: on
// PostgreSQL it costs no round trip of its own.
func (a *Attempt) SucceededTx(ctx context.Context, tx *store.Tx, forget ...string) error {
	return a.settle(ctx, tx, forget)
}

// Cancel gives back the counts of an attempt that did not take place (the
// policy refused it).
func (a *Attempt) Cancel(ctx context.Context) error { return a.Succeeded(ctx) }

func (a *Attempt) settle(ctx context.Context, db store.Execer, forget []string) error {
	for i, it := range a.items {
		var err error
		switch st := a.States[i]; {
		case slices.Contains(forget, it.Key):
			if st.Taken || st.Failures > 0 {
				_, err = db.Exec(ctx, `DELETE FROM throttle WHERE key = $1`, it.Key)
			}
		case st.Taken:
			// One count less, and the key's time as it was before this
			// reservation unless a later one has moved it since.
			_, err = db.Exec(ctx, `UPDATE throttle SET failures = failures - 1,
					last_failure = CASE WHEN seq = $2 THEN prev_last ELSE last_failure END,
					expires_at = CASE WHEN seq = $2 THEN prev_expires ELSE expires_at END
				WHERE key = $1 AND failures > 0`, it.Key, st.seq)
		}
		if err != nil {
			return fmt.Errorf("throttle: settle: %w", err)
		}
	}
	return nil
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
	_, err := db.Exec(ctx, `INSERT INTO throttle (key, failures, last_failure, expires_at, seq) VALUES ($1, 1, $2, $3, 1)
		ON CONFLICT (key) DO UPDATE SET
			failures = CASE WHEN throttle.expires_at <= $2 THEN 1 ELSE throttle.failures + 1 END,
			last_failure = $2, expires_at = $3,
			seq = throttle.seq + 1, prev_last = throttle.last_failure, prev_expires = throttle.expires_at`,
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
