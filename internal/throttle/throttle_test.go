package throttle

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

func TestRuleDelay(t *testing.T) {
	r := Rule{Free: 3, Base: time.Second, Max: 8 * time.Second, Window: time.Hour}
	want := []time.Duration{0, 0, 0, 1 * time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 8 * time.Second, 8 * time.Second}
	for n, w := range want {
		if got := r.Delay(n); got != w {
			t.Errorf("Delay(%d) = %v, want %v", n, got, w)
		}
	}
}

func TestLimiter(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
		l := NewLimiter(db, func() time.Time { return now })
		r := Rule{Free: 2, Base: time.Second, Max: 4 * time.Second, Window: time.Minute}
		key := IdentifierKey("login", "a@example.com")
		for i := range 2 {
			if err := l.Fail(ctx, key, r); err != nil {
				t.Fatal(err)
			}
			if i == 0 {
				if d, n, _ := l.Wait(ctx, key, r); d != 0 || n != 1 {
					t.Fatalf("after 1 failure: wait %v, n %d", d, n)
				}
			}
		}
		if d, n, _ := l.Wait(ctx, key, r); d != time.Second || n != 2 {
			t.Fatalf("after 2 failures: wait %v, n %d", d, n)
		}
		now = now.Add(time.Second)
		if d, _, _ := l.Wait(ctx, key, r); d != 0 {
			t.Fatalf("delay not over: %v", d)
		}
		_ = l.Fail(ctx, key, r)
		if d, n, _ := l.Wait(ctx, key, r); d != 2*time.Second || n != 3 {
			t.Fatalf("after 3 failures: wait %v, n %d", d, n)
		}
		// The window forgets.
		now = now.Add(2 * time.Minute)
		if d, n, _ := l.Wait(ctx, key, r); d != 0 || n != 0 {
			t.Fatalf("after window: wait %v, n %d", d, n)
		}
		_ = l.Fail(ctx, key, r)
		if _, n, _ := l.Wait(ctx, key, r); n != 1 {
			t.Fatalf("count restarted at %d", n)
		}
		if err := l.Reset(ctx, key); err != nil {
			t.Fatal(err)
		}
		if _, n, _ := l.Wait(ctx, key, r); n != 0 {
			t.Fatalf("after reset n = %d", n)
		}
	})
}

func TestNetworkKey(t *testing.T) {
	if a, b := NetworkKey("l", "2001:db8::1"), NetworkKey("l", "2001:db8::ffff"); a != b {
		t.Fatalf("same /64 gives %s and %s", a, b)
	}
	if got := NetworkKey("l", "::ffff:192.0.2.1"); got != "l:ip:192.0.2.1" {
		t.Fatalf("mapped v4 = %s", got)
	}
}

// Waits answers for several keys at once, in their order, with zero for
// keys without failures and for expired ones.
func TestWaits(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
		l := NewLimiter(db, func() time.Time { return now })
		r := Rule{Free: 1, Base: time.Second, Max: time.Minute, Window: time.Minute}
		net, id, other := NetworkKey("login", "203.0.113.7"), IdentifierKey("login", "b@example.com"), IdentifierKey("login", "c@example.com")
		for range 3 {
			_ = l.Fail(ctx, id, r)
		}
		_ = l.Fail(ctx, net, r)
		st, err := l.Waits(ctx, r, net, id, other)
		if err != nil {
			t.Fatal(err)
		}
		if st[0] != (State{Wait: r.Delay(1), Failures: 1}) || st[1] != (State{Wait: r.Delay(3), Failures: 3}) || st[1].Wait == 0 || st[2] != (State{}) {
			t.Fatalf("states = %+v", st)
		}
		now = now.Add(2 * time.Minute)
		if st, _ := l.Waits(ctx, r, id, net); st[0] != (State{}) || st[1] != (State{}) {
			t.Fatalf("after the window: %+v", st)
		}
	})
}

// burst runs fn n times at once, released together at a barrier, and
// waits for all of them.
func burst(n int, fn func(i int)) {
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			fn(i)
		})
	}
	close(start)
	wg.Wait()
}

// A burst of simultaneous attempts reserves exactly what the rule lets
// through, however the requests interleave, and refused attempts are not
// counted: the count is the attempts taken.
func TestReserveBurst(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var mu sync.Mutex
		now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
		l := NewLimiter(db, clock)
		r := Rule{Free: 5, Base: time.Second, Max: 8 * time.Second, Window: time.Minute}
		key := NetworkKey("login", "198.51.100.9")

		var taken, refused atomic.Int32
		burst(40, func(int) {
			st, err := l.Reserve(ctx, r, key)
			if err != nil {
				t.Error(err)
				return
			}
			if st[0].Taken {
				taken.Add(1)
			} else if st[0].Wait > 0 {
				refused.Add(1)
			}
		})
		if taken.Load() != 5 || refused.Load() != 35 {
			t.Fatalf("taken %d, refused %d; want 5 and 35", taken.Load(), refused.Load())
		}
		if _, n, _ := l.Wait(ctx, key, r); n != 5 {
			t.Fatalf("count %d after the burst, want 5 (refusals are not counted)", n)
		}
		// The fifth count asks for Base; once it has passed, one more
		// attempt of the next burst goes ahead, and then two seconds.
		advance(time.Second)
		taken.Store(0)
		burst(20, func(int) {
			if st, err := l.Reserve(ctx, r, key); err == nil && st[0].Taken {
				taken.Add(1)
			}
		})
		if taken.Load() != 1 {
			t.Fatalf("after the delay %d attempts went ahead, want 1", taken.Load())
		}
		if d, n, _ := l.Wait(ctx, key, r); n != 6 || d != 2*time.Second {
			t.Fatalf("wait %v count %d, want 2s and 6", d, n)
		}
		// The window forgets; the count starts again at one.
		advance(2 * time.Minute)
		if st, err := l.Reserve(ctx, r, key); err != nil || !st[0].Taken || st[0].Failures != 1 {
			t.Fatalf("after the window: %+v, %v", st, err)
		}
	})
}

// Reserve answers several keys in their order; a key that must wait is
// refused while the others are taken.
func TestReserveKeys(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
		l := NewLimiter(db, func() time.Time { return now })
		r := Rule{Free: 1, Base: time.Minute, Max: time.Hour, Window: time.Hour}
		net, id := NetworkKey("login", "203.0.113.7"), IdentifierKey("login", "b@example.com")
		if err := l.Fail(ctx, id, r); err != nil {
			t.Fatal(err)
		}
		st, err := l.Reserve(ctx, r, net, id)
		if err != nil {
			t.Fatal(err)
		}
		if !st[0].Taken || st[0].Failures != 1 || st[1].Taken || st[1].Wait != time.Minute || st[1].Failures != 1 {
			t.Fatalf("states = %+v", st)
		}
		// Duplicates are one key.
		if st, err := l.Reserve(ctx, Rule{Free: 10, Window: time.Hour}, net, net); err != nil || !st[0].Taken || !st[1].Taken || st[0].Failures != 2 {
			t.Fatalf("duplicate keys: %+v, %v", st, err)
		}
	})
}

// An attempt's counts settle by its outcome: a failure keeps them (and
// counts the keys it went past), a success gives them back and forgets
// the keys named, a cancelled attempt gives them back.
func TestAttempt(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
		l := NewLimiter(db, func() time.Time { return now })
		r := Rule{Free: 3, Base: time.Minute, Max: time.Hour, Window: time.Hour}
		net, id := NetworkKey("login", "203.0.113.8"), IdentifierKey("login", "d@example.com")
		count := func(key string) int {
			t.Helper()
			_, n, err := l.Wait(ctx, key, r)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		for range 2 {
			a, err := l.Begin(ctx, r, net, id)
			if err != nil {
				t.Fatal(err)
			}
			if err := a.Failed(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if count(net) != 2 || count(id) != 2 {
			t.Fatalf("after two failures: %d, %d", count(net), count(id))
		}
		a, _ := l.Begin(ctx, r, net, id)
		if err := a.Succeeded(ctx, id); err != nil {
			t.Fatal(err)
		}
		if count(net) != 2 || count(id) != 0 {
			t.Fatalf("after a success: network %d (want 2), address %d (want 0)", count(net), count(id))
		}
		a, _ = l.Begin(ctx, r, net)
		if err := a.Cancel(ctx); err != nil {
			t.Fatal(err)
		}
		if count(net) != 2 {
			t.Fatalf("after a cancelled attempt: %d", count(net))
		}
		// Past the free attempts, a key that must wait is refused; an
		// attempt let through anyway (a known device) counts on failure.
		_ = l.Fail(ctx, net, r)
		a, _ = l.Begin(ctx, r, net)
		if a.States[0].Taken {
			t.Fatalf("a key that must wait was taken: %+v", a.States[0])
		}
		if err := a.Failed(ctx); err != nil {
			t.Fatal(err)
		}
		if count(net) != 4 {
			t.Fatalf("a failure past the wait counted %d, want 4", count(net))
		}
	})
}

// ReserveEach counts keys under rules of their own in one statement: each
// key takes or refuses by its own rule.
func TestReserveEach(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
		l := NewLimiter(db, func() time.Time { return now })
		tight := Rule{Free: 1, Base: time.Minute, Max: time.Hour, Window: time.Hour}
		loose := Rule{Free: 3, Base: time.Minute, Max: time.Hour, Window: time.Hour}
		pair, addr := IdentifierKey("m", "net/a@example.com"), IdentifierKey("m", "a@example.com")
		items := []Item{{Key: pair, Rule: tight}, {Key: addr, Rule: loose}}
		for i, want := range [][2]bool{{true, true}, {false, true}, {false, true}, {false, false}} {
			st, err := l.ReserveEach(ctx, items...)
			if err != nil {
				t.Fatal(err)
			}
			if st[0].Taken != want[0] || st[1].Taken != want[1] {
				t.Fatalf("reservation %d: %+v, want taken %v", i+1, st, want)
			}
			if !st[0].Taken && st[0].Wait != time.Minute {
				t.Fatalf("reservation %d: the tight key waits %v, want 1m", i+1, st[0].Wait)
			}
		}
	})
}

// A gated key is counted only for an attempt every open key let through:
// attempts refused at the network leave the account's count alone.
func TestGatedKeys(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
		l := NewLimiter(db, func() time.Time { return now })
		r := Rule{Free: 2, Base: time.Minute, Max: time.Hour, Window: time.Hour}
		loose := Rule{Free: 5, Base: time.Minute, Max: time.Hour, Window: time.Hour}
		net, acct := NetworkKey("login", "203.0.113.9"), IdentifierKey("login", "g@example.com")
		items := []Item{{Key: net, Rule: r}, {Key: acct, Rule: loose, Gated: true}}
		for range 2 {
			if st, err := l.ReserveEach(ctx, items...); err != nil || !st[0].Taken || !st[1].Taken {
				t.Fatalf("within the free attempts: %+v, %v", st, err)
			}
		}
		var taken atomic.Int32
		burst(30, func(int) {
			if st, err := l.ReserveEach(ctx, items...); err == nil && (st[0].Taken || st[1].Taken) {
				taken.Add(1)
			}
		})
		if taken.Load() != 0 {
			t.Fatalf("%d attempts took a key past the network's limit", taken.Load())
		}
		if _, n, _ := l.Wait(ctx, acct, loose); n != 2 {
			t.Fatalf("the account counts %d, want 2: refused attempts must not move it", n)
		}
		st, _ := l.ReserveEach(ctx, items...)
		if st[1].Taken || st[1].Wait != 0 {
			t.Fatalf("a gated key behind a closed gate: %+v (its own wait is none)", st[1])
		}
	})
}

// An attempt's key holds a place while the attempt runs and counts only
// its failure: a burst gets no more than its places at once, successes
// cost nothing (nor move the key's time, so a success never re-arms a
// wait), and places of attempts that never ended lapse.
func TestAttemptsHoldPlaces(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var mu sync.Mutex
		now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
		l := NewLimiter(db, clock)
		r := Rule{Free: 2, Base: time.Minute, Max: time.Hour, Window: time.Hour, InFlight: 3}
		key := NetworkKey("login", "203.0.113.10")

		var attempts []*Attempt
		var mu2 sync.Mutex
		burst(20, func(int) {
			a, err := l.Begin(ctx, r, key)
			if err != nil {
				t.Error(err)
				return
			}
			if a.States[0].Taken {
				mu2.Lock()
				attempts = append(attempts, a)
				mu2.Unlock()
			} else if a.States[0].Wait != time.Second {
				t.Errorf("a refusal for want of a place waits %v, want 1s", a.States[0].Wait)
			}
		})
		if len(attempts) != 3 {
			t.Fatalf("%d attempts under way at once, want 3", len(attempts))
		}
		for _, a := range attempts {
			_ = a.Succeeded(ctx)
		}
		if d, n, _ := l.Wait(ctx, key, r); d != 0 || n != 0 {
			t.Fatalf("after three successes: wait %v, count %d", d, n)
		}
		// Two failures, the free ones: then a wait of 1m.
		for range 2 {
			a, _ := l.Begin(ctx, r, key)
			if !a.States[0].Taken {
				t.Fatalf("refused before the failures: %+v", a.States[0])
			}
			_ = a.Failed(ctx)
		}
		if d, n, _ := l.Wait(ctx, key, r); d != time.Minute || n != 2 {
			t.Fatalf("after two failures: wait %v, count %d", d, n)
		}
		if a, _ := l.Begin(ctx, r, key); a.States[0].Taken {
			t.Fatal("taken during the wait")
		}
		// Once the wait is over, a success does not re-arm it.
		advance(time.Minute)
		a, _ := l.Begin(ctx, r, key)
		_ = a.Succeeded(ctx)
		if a2, _ := l.Begin(ctx, r, key); !a2.States[0].Taken {
			t.Fatalf("a success re-armed the wait: %+v", a2.States[0])
		} else {
			_ = a2.Cancel(ctx)
		}
		// Places taken by attempts that never end lapse.
		for range 3 {
			_, _ = l.Begin(ctx, r, key)
		}
		if a, _ := l.Begin(ctx, r, key); a.States[0].Taken {
			t.Fatal("a fourth place")
		}
		advance(inFlightFor)
		if a, _ := l.Begin(ctx, r, key); !a.States[0].Taken {
			t.Fatal("places of attempts that never ended did not lapse")
		}
	})
}

// A watched key is read, not written: successes leave no trace on it, a
// failure counts on it, and while it must wait the reservation takes
// nothing — the keys behind it are left alone, and told no wait of their
// own.
func TestWatchedKeys(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
		l := NewLimiter(db, func() time.Time { return now })
		netRule := Rule{Free: 2, Base: time.Minute, Max: time.Hour, Window: time.Hour}
		acctRule := netRule
		acctRule.InFlight = 2
		net := NetworkKey("login", "203.0.113.11")
		items := func(account string) []Item {
			return []Item{{Key: net, Rule: netRule, Watch: true}, {Key: IdentifierKey("login", account), Rule: acctRule, Gated: true}}
		}
		rows := func(key string) (n int) {
			if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM throttle WHERE key = $1`, key).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		// Begun both ways: on its own, and within a step's reads.
		begin := func(account string) *Attempt {
			t.Helper()
			if account[0] == 'r' {
				r := db.Reads()
				a := l.BeginEachIn(r, items(account)...)
				if err := r.Run(ctx); err != nil {
					t.Fatal(err)
				}
				if err := a.Explain(ctx); err != nil {
					t.Fatal(err)
				}
				return a
			}
			a, err := l.BeginEach(ctx, items(account)...)
			if err != nil {
				t.Fatal(err)
			}
			return a
		}
		for _, account := range []string{"a@example.com", "reads-a@example.com"} {
			a := begin(account)
			if a.States[0].Taken || !a.States[1].Taken {
				t.Fatalf("%s: %+v, want the account taken and the network only watched", account, a.States)
			}
			if err := a.Succeeded(ctx, IdentifierKey("login", account)); err != nil {
				t.Fatal(err)
			}
		}
		if n := rows(net); n != 0 {
			t.Fatalf("successes wrote the watched network's row (%d rows)", n)
		}
		// Two failures on two accounts: the network's free ones.
		for _, account := range []string{"b@example.com", "c@example.com"} {
			if err := begin(account).Failed(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if d, n, _ := l.Wait(ctx, net, netRule); d != time.Minute || n != 2 {
			t.Fatalf("the network after two failures: wait %v, count %d", d, n)
		}
		for _, account := range []string{"d@example.com", "reads-d@example.com"} {
			a := begin(account)
			if a.States[1].Taken || a.States[0].Wait != time.Minute || a.States[1].Wait != 0 {
				t.Fatalf("%s behind a network that must wait: %+v", account, a.States)
			}
			if n := rows(IdentifierKey("login", account)); n != 0 {
				t.Fatalf("%s: a refused attempt wrote the account's row", account)
			}
		}
		now = now.Add(time.Minute)
		if a := begin("e@example.com"); !a.States[1].Taken {
			t.Fatalf("once the network's wait is over: %+v", a.States)
		}
	})
}

// A watched key's attempts under way hold places in the node's memory: a
// burst runs no more than InFlight at once, the others are refused for a
// moment and touch no row, a settled or ended attempt gives its place
// back, and a place never given back lapses.
func TestWatchedKeysHoldPlacesOnTheNode(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var mu sync.Mutex
		now := time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		l := NewLimiter(db, clock)
		netRule := Rule{Free: 50, Base: time.Minute, Max: time.Hour, Window: time.Hour, InFlight: 3}
		acctRule := Rule{Free: 5, Base: time.Minute, Max: time.Hour, Window: time.Hour, InFlight: 2}
		net := NetworkKey("login", "203.0.113.12")
		items := func(i int) []Item {
			return []Item{{Key: net, Rule: netRule, Watch: true}, {Key: IdentifierKey("login", fmt.Sprint(i, "@example.com")), Rule: acctRule, Gated: true}}
		}
		var (
			mu2      sync.Mutex
			running  []*Attempt
			accounts int
		)
		burst(20, func(i int) {
			a, err := l.BeginEach(ctx, items(i)...)
			if err != nil {
				t.Error(err)
				return
			}
			mu2.Lock()
			defer mu2.Unlock()
			switch {
			case a.States[1].Taken:
				running = append(running, a)
			case a.States[0].Wait != busyWait || a.States[1].Wait != 0:
				t.Errorf("attempt %d refused with %+v, want the network busy a moment", i, a.States)
			}
		})
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM throttle`).Scan(&accounts); err != nil {
			t.Fatal(err)
		}
		if len(running) != 3 || accounts != 3 {
			t.Fatalf("%d attempts under way, %d rows written; want 3 and 3", len(running), accounts)
		}
		// A failure, a success and an attempt ended on an error each give
		// their place back; ending twice gives back nothing more.
		_ = running[0].Failed(ctx)
		_ = running[1].Succeeded(ctx)
		running[2].End()
		running[2].End()
		var again []*Attempt
		for i := 100; i < 104; i++ {
			a, err := l.BeginEach(ctx, items(i)...)
			if err != nil {
				t.Fatal(err)
			}
			if a.States[1].Taken {
				again = append(again, a)
			}
		}
		if len(again) != 3 {
			t.Fatalf("%d places given back, want 3", len(again))
		}
		if a, _ := l.BeginEach(ctx, items(200)...); a.States[0].Failures != 1 {
			t.Fatalf("a refusal tells the network's count: %+v, want 1 failure", a.States[0])
		}
		mu.Lock()
		now = now.Add(inFlightFor)
		mu.Unlock()
		if a, _ := l.BeginEach(ctx, items(300)...); !a.States[1].Taken {
			t.Fatalf("places never given back did not lapse: %+v", a.States)
		}
	})
}
