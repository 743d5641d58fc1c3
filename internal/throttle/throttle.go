package throttle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/foyer-id/foyer/internal/store"
)

// Rule turns a count into a delay: the first Free cost nothing, then the
// delay starts at Base and doubles per count up to Max. Counts are
// forgotten Window after the last.
//
// A rule counts one of two things. With InFlight 0 it counts events —
// sign-ups, codes mailed, journeys started — each counted when it is
// reserved. With InFlight > 0 it counts failures of attempts whose outcome
// comes later (a password checked): a reservation then holds one of
// InFlight places while the attempt runs, and only a failure is counted
// when it ends. So a burst never has more than InFlight attempts under
// way, a success costs the key nothing, and a crowd of customers behind
// one address may sign in at once.
type Rule struct {
	Free   int
	Base   time.Duration
	Max    time.Duration
	Window time.Duration
	// InFlight, when not 0, is how many attempts on a key may be under
	// way at once (see above).
	InFlight int
}

// Delay returns how long to wait after the last of n counts.
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

// inFlightFor bounds how long an attempt may hold its place: past it the
// place is free again (its node died, say). It outlasts any request.
const inFlightFor = time.Minute

// busyWait is the wait told to an attempt refused because its key's
// places were all taken: the attempts under way end within moments.
const busyWait = time.Second

// Limiter keeps counts.
type Limiter struct {
	db  *store.DB
	now func() time.Time

	// The places of watched keys' attempts under way on this node (see
	// Item.Watch), by key.
	mu     sync.Mutex
	local  map[string][]place
	placed uint64 // the last place's id
}

// place is one attempt's place on a watched key, given back by the
// attempt, or lapsed at until.
type place struct {
	id    uint64
	until time.Time
}

// NewLimiter returns a Limiter on db.
func NewLimiter(db *store.DB, now func() time.Time) *Limiter {
	return &Limiter{db: db, now: now, local: map[string][]place{}}
}

// enter takes one of the n places of key on this node, and returns its id;
// ok is false when all are taken (places held past inFlightFor lapse).
func (l *Limiter) enter(key string, n int) (id uint64, ok bool) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	held := slices.DeleteFunc(l.local[key], func(p place) bool { return !now.Before(p.until) })
	if len(held) >= n {
		l.local[key] = held
		return 0, false
	}
	l.placed++
	l.local[key] = append(held, place{id: l.placed, until: now.Add(inFlightFor)})
	return l.placed, true
}

// leave gives back the place id of key.
func (l *Limiter) leave(key string, id uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	held := slices.DeleteFunc(l.local[key], func(p place) bool { return p.id == id })
	if len(held) == 0 {
		delete(l.local, key)
	} else {
		l.local[key] = held
	}
}

// State is where one key stands: how long it must still wait, and its
// count.
type State struct {
	Wait     time.Duration
	Failures int
	// Taken is true when Reserve took the key for an attempt: it need not
	// wait, and Wait is 0.
	Taken bool
}

// Wait returns how long the caller must still wait before an attempt on
// key is accepted under rule (0 when it may go ahead), and the current
// count.
func (l *Limiter) Wait(ctx context.Context, key string, rule Rule) (time.Duration, int, error) {
	st, err := l.Waits(ctx, rule, key)
	if err != nil {
		return 0, 0, err
	}
	return st[0].Wait, st[0].Failures, nil
}

// Waits is Wait for several keys under one rule, in one query. The states
// come in the order of keys.
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
	l.StatesIn(r, out, itemsFor(rule, keys)...)
}

// StatesIn adds to r the read of where each item's key stands under its
// rule: once r runs, *out holds the states, in the order of items.
func (l *Limiter) StatesIn(r *store.Reads, out *[]State, items ...Item) {
	*out = make([]State, len(items))
	if len(items) == 0 {
		return
	}
	r.Query(func(rows store.Rows) error {
		return scanStates(rows, items, l.now(), func(i int, st State) { (*out)[i] = st })
	}, statesSQL(len(items)), keyArgs(items)...)
}

// statesSQL reads the rows of n keys, $1 to $n, for scanStates.
func statesSQL(n int) string {
	return `SELECT key, failures, last_failure, expires_at FROM throttle WHERE key IN (` + marks(n) + `)`
}

// scanStates reads the rows of statesSQL and tells found where each
// item (by its index) whose key has a row stands under its rule at now.
func scanStates(rows store.Rows, items []Item, now time.Time, found func(i int, st State)) error {
	for rows.Next() {
		var key string
		var failures int
		var last, expires int64
		if err := rows.Scan(&key, &failures, &last, &expires); err != nil {
			return err
		}
		for i, it := range items {
			if it.Key == key {
				found(i, it.Rule.state(now, failures, last, expires))
			}
		}
	}
	return nil
}

// state is where a key stands at now under r, from its row: its count,
// the last counted at last, forgotten at expires (Unix microseconds).
func (r Rule) state(now time.Time, failures int, last, expires int64) State {
	if now.UnixMicro() >= expires {
		return State{}
	}
	until := store.FromMicros(last).Add(r.Delay(failures))
	return State{Wait: max(0, until.Sub(now)), Failures: failures}
}

// Item is a key and the rule it is counted under.
type Item struct {
	Key  string
	Rule Rule
	// Gated keys are taken only if every key of the reservation that is
	// neither gated nor watched was.
	Gated bool
	// Watch keys are not taken, only looked at: the reservation takes
	// nothing while one of them must wait, and a failure counts on them
	// (Attempt.Failed). A network watched for a sign-in is thus written
	// only when a sign-in from it fails — a crowd signing in behind one
	// address updates no shared row — and attempts it refuses never touch
	// the account's places. A watched key's places for attempts under way
	// (Rule.InFlight, with BeginEach) are kept by each node in its memory:
	// a burst runs at most InFlight attempts at once on each node, and
	// their failures count in the database, for every node.
	Watch bool
}

// Reserve takes each key for one attempt before the work it guards (a
// password check, a code sent), in one statement: a key is taken only
// when it need not wait (and, for a rule with InFlight, has a place free),
// so that of a burst of simultaneous attempts no more go ahead than the
// rule lets through, on every node; a refused attempt changes nothing.
// The states come in the order of keys: Taken for a key that was taken,
// and for one that was not, how long it must still wait.
//
// What follows the work decides what the count becomes (see Attempt).
// Counts commit asynchronously (store.DB.Async), as Fail's do.
func (l *Limiter) Reserve(ctx context.Context, rule Rule, keys ...string) ([]State, error) {
	return l.ReserveEach(ctx, itemsFor(rule, keys)...)
}

// ReserveEach is Reserve for keys under rules of their own (an address
// counted from one network and from everywhere), still in one statement.
// A key given twice is taken once, under its first rule.
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
// states, in the order of items. The items must all count events, or all
// attempts (Rule.InFlight).
func (l *Limiter) ReserveEachIn(r *store.Reads, out *[]State, items ...Item) {
	l.reserveIn(r, out, nil, nil, items...)
}

// reserveIn is ReserveEachIn. With later not nil, on PostgreSQL the keys
// refused are only listed there (their indexes in items), with a wait
// to be told by Explain: the common case, where every key is taken, then
// reads nothing more. The watched keys in full have no place left on
// this node: nothing is taken, and every key's state is read.
func (l *Limiter) reserveIn(r *store.Reads, out *[]State, later *[]int, full []string, items ...Item) {
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
	var watched, open, gated []Item
	for _, it := range sorted {
		switch {
		case it.Watch:
			watched = append(watched, it)
		case it.Gated:
			gated = append(gated, it)
		default:
			open = append(open, it)
		}
	}
	if len(open) == 0 {
		open, gated = gated, nil
	}
	attempts := len(open) > 0 && open[0].Rule.InFlight > 0
	for _, it := range append(slices.Clip(open), gated...) {
		if (it.Rule.InFlight > 0) != attempts {
			panic("throttle: a reservation counts events or attempts, not both")
		}
	}
	pg := l.db.Dialect == store.Postgres
	taken := map[string]int{}
	seen := map[string]State{}
	scanTaken := func(rs store.Rows) error {
		for rs.Next() {
			var key string
			var failures int
			if err := rs.Scan(&key, &failures); err != nil {
				return err
			}
			taken[key] = failures
		}
		return nil
	}
	readStates := func(rs store.Rows) error {
		return scanStates(rs, items, l.now(), func(i int, st State) { seen[items[i].Key] = st })
	}
	// settle fills *out once the keys are taken and the states read; a
	// key neither taken nor read goes to *later for Explain.
	settle := func(explained bool) {
		for i, it := range items {
			switch n, ok := taken[it.Key]; {
			case ok:
				(*out)[i] = State{Taken: true, Failures: n}
			case it.Watch || explained:
				(*out)[i] = seen[it.Key]
			default:
				*later = append(*later, i)
			}
		}
		if explained || later == nil {
			refusedWaits(items, *out, nil)
		}
	}
	if len(full) > 0 {
		r.Query(func(rs store.Rows) error {
			if err := readStates(rs); err != nil {
				return err
			}
			for _, key := range full {
				st := seen[key]
				st.Wait = max(st.Wait, busyWait)
				seen[key] = st
			}
			settle(true)
			return nil
		}, statesSQL(len(sorted)), keyArgs(sorted)...)
		return
	}
	reads := sorted // the states to read with the reservation
	if later != nil {
		reads = watched
	}
	if pg {
		// One batch: the reservation, then the states it needs, which
		// see what it did (for a key it refused, nothing).
		if len(open) > 0 {
			r.Write(func(rs store.Rows) error {
				if err := scanTaken(rs); err != nil {
					return err
				}
				if len(reads) == 0 {
					settle(later == nil)
				}
				return nil
			}, reserveSQL(pg, attempts, len(open), len(gated), len(watched)), reserveArgs(now, attempts, open, gated, watched)...)
		}
		if len(reads) > 0 {
			r.Query(func(rs store.Rows) error {
				if err := readStates(rs); err != nil {
					return err
				}
				settle(later == nil)
				return nil
			}, statesSQL(len(reads)), keyArgs(reads)...)
		}
		return
	}
	// SQLite has no writes inside WITH: the watched keys' states, the open
	// keys' upsert if none of them must wait, the gated keys' if every
	// open one was taken, then the others' states, one after the other on
	// the one writer (no round trip to save).
	r.Do(func(ctx context.Context) error {
		read := func(set []Item) error {
			if len(set) == 0 {
				return nil
			}
			rs, err := l.db.Async().WriteQuery(ctx, statesSQL(len(set)), keyArgs(set)...)
			if err != nil {
				return err
			}
			defer rs.Close()
			if err := readStates(rs); err != nil {
				return err
			}
			return rs.Err()
		}
		take := func(set []Item) error {
			rs, err := l.db.Async().WriteQuery(ctx, reserveSQL(pg, attempts, len(set), 0, 0), reserveArgs(now, attempts, set, nil, nil)...)
			if err != nil {
				return err
			}
			defer rs.Close()
			if err := scanTaken(rs); err != nil {
				return err
			}
			return rs.Err()
		}
		if err := read(watched); err != nil {
			return err
		}
		if watchOpen(watched, seen) && len(open) > 0 {
			if err := take(open); err != nil {
				return err
			}
			if len(gated) > 0 && len(taken) == len(open) {
				if err := take(gated); err != nil {
					return err
				}
			}
		}
		var rest []Item
		for _, it := range sorted {
			if _, ok := taken[it.Key]; !ok && !it.Watch {
				rest = append(rest, it)
			}
		}
		if err := read(rest); err != nil {
			return err
		}
		settle(true)
		return nil
	})
}

// watchOpen reports whether none of the watched keys must wait.
func watchOpen(watched []Item, seen map[string]State) bool {
	for _, it := range watched {
		if seen[it.Key].Wait > 0 {
			return false
		}
	}
	return true
}

// refusedWaits gives the keys refused on their own account (not for a
// watched or open key that held them back) a wait of at least a moment:
// they were refused for want of a place, or expired or paid off while the
// statement ran. Only the keys at the indexes in which are looked at (all
// when which is nil).
func refusedWaits(items []Item, st []State, which []int) {
	watchedOK, openTaken := true, true
	for i, it := range items {
		switch {
		case it.Watch && st[i].Wait > 0:
			watchedOK = false
		case !it.Watch && !it.Gated && !st[i].Taken:
			openTaken = false
		}
	}
	for i, it := range items {
		if which != nil && !slices.Contains(which, i) {
			continue
		}
		if it.Watch || st[i].Taken {
			continue
		}
		if (it.Gated && watchedOK && openTaken) || (!it.Gated && watchedOK) {
			st[i].Wait = max(st[i].Wait, busyWait)
		}
	}
}

// TakeTx counts an event on item's key inside tx, and fails tx with
// ifBusy when the key must wait (on PostgreSQL when tx commits: the check
// travels with tx's other statements, see store.Tx.ExecOne). The step
// that stores what it counts (a journey started) thus costs no round
// trip of its own; one that finds the key busy reads how long with State.
func (l *Limiter) TakeTx(ctx context.Context, tx *store.Tx, ifBusy error, item Item) error {
	if item.Rule.InFlight > 0 {
		panic("throttle: TakeTx counts events, not attempts")
	}
	pg := l.db.Dialect == store.Postgres
	return tx.ExecOne(ctx, ifBusy, reserveSQL(pg, false, -1, 0, 0), reserveArgs(l.now(), false, []Item{item}, nil, nil)...)
}

// reserveArgs are the arguments of reserveSQL: $1 now, for attempts $2
// when their places lapse, then for each key of open and then gated its
// key, window's end, Free, Base and Max (microseconds), and for attempts
// InFlight, then for each watched key its key, Free, Base and Max.
func reserveArgs(now time.Time, attempts bool, open, gated, watched []Item) []any {
	args := []any{store.Micros(now)}
	if attempts {
		args = append(args, store.Micros(now.Add(inFlightFor)))
	}
	for _, it := range append(slices.Clip(open), gated...) {
		args = append(args, it.Key, store.Micros(now.Add(it.Rule.Window)), it.Rule.Free, it.Rule.Base.Microseconds(), it.Rule.Max.Microseconds())
		if attempts {
			args = append(args, it.Rule.InFlight)
		}
	}
	for _, it := range watched {
		args = append(args, it.Key, it.Rule.Free, it.Rule.Base.Microseconds(), it.Rule.Max.Microseconds())
	}
	return args
}

// reserveSQLs caches reserveSQL's statements, one per shape.
var reserveSQLs sync.Map

// reserveSQL is the statement that takes each key that need not wait and
// has a place — a new row, or one more count or place — and returns the
// taken keys with their count; a key that must wait is left alone. With
// watched keys (PostgreSQL), nothing is taken while one of them must
// wait; with gated keys, they are taken only if every open key was, in
// the same statement (SQLite runs these steps one after the other).
//
// An event's key counts at once: one more, the last now. An attempt's key
// takes a place (pending), and its count and time stay; a window over
// forgets them.
func reserveSQL(pg, attempts bool, open, gated, watched int) string {
	shape := fmt.Sprint(pg, attempts, open, gated, watched)
	if q, ok := reserveSQLs.Load(shape); ok {
		return q.(string)
	}
	per, first := 5, 2 // arguments per key, and the first key's
	if attempts {
		per, first = 6, 3
	}
	now := nowArg(pg)
	// None of the watched keys may wait: its window is over, it is within
	// its free counts, or its delay since the last has passed.
	var watch []string
	for i := range watched {
		k := first + (open+gated)*per + i*4 // $k key, $k+1 Free, $k+2 Base, $k+3 Max
		watch = append(watch, fmt.Sprintf(`NOT EXISTS (SELECT 1 FROM throttle w WHERE %s)`, mustWait(pg, k, k+1, k+2, k+3)))
	}
	upsert := func(from, n int, after int) string {
		rows := make([]string, n)
		conds := make([]string, n)
		for i := range n {
			k := first + (from+i)*per // $k key, $k+1 end, $k+2 Free, $k+3 Base, $k+4 Max, $k+5 InFlight
			switch {
			case attempts && pg:
				rows[i] = fmt.Sprintf("($%d::text, 0::bigint, 0::bigint, $%d::bigint, 1::bigint, $2::bigint)", k, k+1)
			case attempts:
				rows[i] = fmt.Sprintf("($%d, 0, 0, $%d, 1, $2)", k, k+1)
			case pg:
				rows[i] = fmt.Sprintf("($%d::text, 1::bigint, $1::bigint, $%d::bigint, 0::bigint, 0::bigint)", k, k+1)
			default:
				rows[i] = fmt.Sprintf("($%d, 1, $1, $%d, 0, 0)", k, k+1)
			}
			places := 0
			if attempts {
				places = k + 5
			}
			conds[i] = mayTake(pg, k, k+2, k+3, k+4, places)
		}
		source := `VALUES ` + strings.Join(rows, ", ")
		var where []string
		if after > 0 {
			where = append(where, fmt.Sprintf(`(SELECT COUNT(*) FROM open) = %d`, after))
		} else {
			where = watch
		}
		if len(where) > 0 {
			source = fmt.Sprintf(`SELECT * FROM (VALUES %s) g (key, failures, last_failure, expires_at, pending, pending_until) WHERE %s`,
				strings.Join(rows, ", "), strings.Join(where, " AND "))
		}
		set := `failures = CASE WHEN throttle.expires_at <= ` + now + ` THEN 1 ELSE throttle.failures + 1 END,
			last_failure = excluded.last_failure, expires_at = excluded.expires_at`
		if attempts {
			set = `failures = CASE WHEN throttle.expires_at <= ` + now + ` THEN 0 ELSE throttle.failures END,
			last_failure = CASE WHEN throttle.expires_at <= ` + now + ` THEN 0 ELSE throttle.last_failure END,
			expires_at = CASE WHEN throttle.expires_at <= ` + now + ` THEN excluded.expires_at ELSE throttle.expires_at END,
			pending = CASE WHEN throttle.pending_until <= ` + now + ` THEN 1 ELSE throttle.pending + 1 END,
			pending_until = excluded.pending_until`
		}
		return `INSERT INTO throttle (key, failures, last_failure, expires_at, pending, pending_until) ` + source + `
		ON CONFLICT (key) DO UPDATE SET ` + set + `
		WHERE ` + strings.Join(conds, " OR ")
	}
	if open < 0 { // TakeTx's: one event's key, nothing returned
		q := upsert(0, 1, 0)
		reserveSQLs.Store(shape, q)
		return q
	}
	q := upsert(0, open, 0) + ` RETURNING key, failures`
	if gated > 0 {
		q = `WITH open AS (` + q + `), gated AS (` + upsert(open, gated, open) + ` RETURNING key, failures)
		SELECT key, failures FROM open UNION ALL SELECT key, failures FROM gated`
	}
	reserveSQLs.Store(shape, q)
	return q
}

// marks returns "$1, $2, …, $n".
func marks(n int) string { return marksFrom(1, n) }

// marksFrom returns "$first, …, $(first+n-1)".
func marksFrom(first, n int) string {
	m := make([]string, n)
	for i := range m {
		m[i] = fmt.Sprintf("$%d", first+i)
	}
	return strings.Join(m, ", ")
}

// itemsFor returns keys as items under one rule.
func itemsFor(rule Rule, keys []string) []Item {
	items := make([]Item, len(keys))
	for i, k := range keys {
		items[i] = Item{Key: k, Rule: rule}
	}
	return items
}

// keyArgs returns the items' keys as statement arguments.
func keyArgs(items []Item) []any {
	args := make([]any, len(items))
	for i, it := range items {
		args[i] = it.Key
	}
	return args
}

// mayTake is the condition, in each dialect, under which key $key may be
// taken now: its window is over, or it is within its free counts, the rule
// has no delay, or its delay since the last count has passed — and, when
// places is not 0 (an attempt's key), it has one of $places places free
// (or its places lapsed). The delay after n counts is Rule.Delay's,
// min(Max, Base·2^(n−Free)) from Free on. $1 is now.
func mayTake(pg bool, key, free, base, maxDelay, places int) string {
	if pg {
		c := fmt.Sprintf(`(throttle.key = $%d AND (throttle.expires_at <= $1::bigint OR throttle.failures < $%[2]d::bigint OR $%[3]d::bigint <= 0
			OR throttle.last_failure + LEAST($%[4]d::float8, $%[3]d::float8 * power(2, LEAST(throttle.failures - $%[2]d::bigint, 62))) <= $1::bigint)`,
			key, free, base, maxDelay)
		if places > 0 {
			c += fmt.Sprintf(` AND (throttle.pending < $%d::bigint OR throttle.pending_until <= $1::bigint)`, places)
		}
		return c + `)`
	}
	c := fmt.Sprintf(`(throttle.key = $%d AND (throttle.expires_at <= $1 OR throttle.failures < $%[2]d OR $%[3]d <= 0
			OR throttle.last_failure + min($%[4]d, $%[3]d * power(2, min(throttle.failures - $%[2]d, 62))) <= $1)`,
		key, free, base, maxDelay)
	if places > 0 {
		c += fmt.Sprintf(` AND (throttle.pending < $%d OR throttle.pending_until <= $1)`, places)
	}
	return c + `)`
}

// mustWait is the condition, in each dialect, under which the row w of
// key $key must still wait: its window is not over, it is past its free
// counts, the rule has a delay, and the delay since its last count has
// not passed (see mayTake). $1 is now.
func mustWait(pg bool, key, free, base, maxDelay int) string {
	if pg {
		return fmt.Sprintf(`w.key = $%d AND w.expires_at > $1::bigint AND w.failures >= $%[2]d::bigint AND $%[3]d::bigint > 0
			AND w.last_failure + LEAST($%[4]d::float8, $%[3]d::float8 * power(2, LEAST(w.failures - $%[2]d::bigint, 62))) > $1::bigint`,
			key, free, base, maxDelay)
	}
	return fmt.Sprintf(`w.key = $%d AND w.expires_at > $1 AND w.failures >= $%[2]d AND $%[3]d > 0
			AND w.last_failure + min($%[4]d, $%[3]d * power(2, min(w.failures - $%[2]d, 62))) > $1`,
		key, free, base, maxDelay)
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
	// later lists the keys refused whose waits Explain has yet to read.
	later []int
	// places are the places the attempt holds on this node (see
	// Item.Watch), given back once it is settled.
	places []heldPlace
}

type heldPlace struct {
	key string
	id  uint64
}

// End gives back the places a holds on this node (see Item.Watch), for
// an attempt over without being settled (a step that failed on an error).
// Settling does it too; it may be called more than once.
func (a *Attempt) End() {
	for _, p := range a.places {
		a.l.leave(p.key, p.id)
	}
	a.places = nil
}

// Begin reserves an attempt on keys under rule (see Reserve).
func (l *Limiter) Begin(ctx context.Context, rule Rule, keys ...string) (*Attempt, error) {
	return l.BeginEach(ctx, itemsFor(rule, keys)...)
}

// BeginEach reserves an attempt on keys under rules of their own (see
// ReserveEach).
func (l *Limiter) BeginEach(ctx context.Context, items ...Item) (*Attempt, error) {
	r := l.db.Reads()
	a := l.BeginEachIn(r, items...)
	if err := r.Run(ctx); err != nil {
		a.End()
		return nil, fmt.Errorf("throttle: reserve: %w", err)
	}
	if err := a.Explain(ctx); err != nil {
		a.End()
		return nil, err
	}
	return a, nil
}

// BeginEachIn adds BeginEach to r: the attempt's States are there once r
// has run, and Explain has told the refused keys' waits.
func (l *Limiter) BeginEachIn(r *store.Reads, items ...Item) *Attempt {
	a := &Attempt{l: l, items: items}
	var full []string
	for _, it := range items {
		if !it.Watch || it.Rule.InFlight == 0 {
			continue
		}
		if id, ok := l.enter(it.Key, it.Rule.InFlight); ok {
			a.places = append(a.places, heldPlace{it.Key, id})
		} else {
			full = append(full, it.Key)
		}
	}
	if len(full) > 0 {
		a.End() // the attempt does not run: it holds nothing
	}
	l.reserveIn(r, &a.States, &a.later, full, items...)
	return a
}

// Explain reads how long the keys an attempt begun with BeginEachIn was
// refused must wait, and their counts: one read, only when something was
// refused (on SQLite the reservation told already).
func (a *Attempt) Explain(ctx context.Context) error {
	if len(a.later) == 0 {
		return nil
	}
	later := a.later
	a.later = nil
	items := make([]Item, len(later))
	for j, i := range later {
		items[j] = a.items[i]
	}
	var st []State
	r := a.l.db.Reads()
	a.l.StatesIn(r, &st, items...)
	if err := r.Run(ctx); err != nil {
		return fmt.Errorf("throttle: explain: %w", err)
	}
	for j, i := range later {
		a.States[i] = st[j]
	}
	refusedWaits(a.items, a.States, later)
	return nil
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

// Failed counts the attempt as a failure on every key: an attempt's key
// gives its place back and counts the failure; an event's key counted it
// already; a key the attempt went past without taking it (the policy let
// a known device through) counts it now.
func (a *Attempt) Failed(ctx context.Context) error {
	a.End()
	for i, it := range a.items {
		var err error
		switch {
		case !a.States[i].Taken:
			err = a.l.fail(ctx, a.l.db.Async(), it.Key, it.Rule, false)
		case it.Rule.InFlight > 0:
			err = a.l.fail(ctx, a.l.db.Async(), it.Key, it.Rule, true)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Succeeded settles a successful attempt: an attempt's key gives its place
// back, an event's key gives its count back (it did not happen as such),
// and the keys in forget lose their whole count (an address signed in
// to).
func (a *Attempt) Succeeded(ctx context.Context, forget ...string) error {
	return a.settle(ctx, a.l.db.Async(), forget)
}

// SucceededTx is Succeeded inside tx, with the step's other writes: on
// PostgreSQL it costs no round trip of its own.
func (a *Attempt) SucceededTx(ctx context.Context, tx *store.Tx, forget ...string) error {
	return a.settle(ctx, tx, forget)
}

// Cancel settles an attempt that did not take place (the policy refused
// it): what it took is given back.
func (a *Attempt) Cancel(ctx context.Context) error { return a.Succeeded(ctx) }

func (a *Attempt) settle(ctx context.Context, db store.Execer, forget []string) error {
	a.End()
	// What each key needs: to be forgotten, to give its place back, or
	// its count.
	var gone, freed, back []any
	for i, it := range a.items {
		switch st := a.States[i]; {
		case slices.Contains(forget, it.Key):
			if st.Taken || st.Failures > 0 {
				gone = append(gone, it.Key)
			}
		case st.Taken && it.Rule.InFlight > 0:
			freed = append(freed, it.Key)
		case st.Taken:
			back = append(back, it.Key)
		}
	}
	parts := []struct {
		keys []any
		stmt string
	}{
		{gone, `DELETE FROM throttle WHERE key IN (%s)`},
		{freed, `UPDATE throttle SET pending = pending - 1 WHERE key IN (%s) AND pending > 0`},
		{back, `UPDATE throttle SET failures = failures - 1 WHERE key IN (%s) AND failures > 0`},
	}
	if a.l.db.Dialect == store.Postgres {
		// One statement, one round trip: the parts as writes in WITH.
		var ctes []string
		var args []any
		for _, p := range parts {
			if len(p.keys) == 0 {
				continue
			}
			ctes = append(ctes, fmt.Sprintf("s%d AS (%s)", len(ctes), fmt.Sprintf(p.stmt, marksFrom(len(args)+1, len(p.keys)))))
			args = append(args, p.keys...)
		}
		if len(ctes) == 0 {
			return nil
		}
		if _, err := db.Exec(ctx, `WITH `+strings.Join(ctes, ", ")+` SELECT 1`, args...); err != nil {
			return fmt.Errorf("throttle: settle: %w", err)
		}
		return nil
	}
	for _, p := range parts {
		if len(p.keys) == 0 {
			continue
		}
		if _, err := db.Exec(ctx, fmt.Sprintf(p.stmt, marks(len(p.keys))), p.keys...); err != nil {
			return fmt.Errorf("throttle: settle: %w", err)
		}
	}
	return nil
}

// Fail records one failure on key. Counts commit asynchronously
// (store.DB.Async): a crash of the database server may forget the last
// moment's, and nothing else.
func (l *Limiter) Fail(ctx context.Context, key string, rule Rule) error {
	return l.fail(ctx, l.db.Async(), key, rule, false)
}

// fail counts a failure on key, and with release gives back the place an
// attempt held.
func (l *Limiter) fail(ctx context.Context, db store.Execer, key string, rule Rule, release bool) error {
	now := l.now()
	held := 0
	if release {
		held = 1
	}
	_, err := db.Exec(ctx, `INSERT INTO throttle (key, failures, last_failure, expires_at) VALUES ($1, 1, $2, $3)
		ON CONFLICT (key) DO UPDATE SET
			failures = CASE WHEN throttle.expires_at <= $2 THEN 1 ELSE throttle.failures + 1 END,
			last_failure = $2, expires_at = $3,
			pending = CASE WHEN throttle.pending >= $4 THEN throttle.pending - $4 ELSE 0 END`,
		key, store.Micros(now), store.Micros(now.Add(rule.Window)), held)
	if err != nil {
		return fmt.Errorf("throttle: fail: %w", err)
	}
	return nil
}

// Reset forgets the counts on key (after a success).
func (l *Limiter) Reset(ctx context.Context, key string) error {
	if _, err := l.db.Async().Exec(ctx, `DELETE FROM throttle WHERE key = $1`, key); err != nil {
		return fmt.Errorf("throttle: reset: %w", err)
	}
	return nil
}

// Prune deletes the counters whose window is over and whose attempts have
// ended, in batches.
func (l *Limiter) Prune(ctx context.Context) (int64, error) {
	now := store.Micros(l.now())
	n, err := l.db.DeleteInBatches(ctx, `DELETE FROM throttle WHERE key IN
		(SELECT key FROM throttle WHERE expires_at <= $2 AND (pending = 0 OR pending_until <= $2) LIMIT $1)`, now)
	if err != nil {
		return n, fmt.Errorf("throttle: prune: %w", err)
	}
	return n, nil
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
