package throttle

import (
	"context"
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
