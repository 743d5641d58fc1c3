package flow

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/decision"
	"github.com/foyer-id/foyer/internal/policy"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
	"github.com/foyer-id/foyer/internal/throttle"
)

// A step that ends on an error before its counts are settled gives its
// places back as its guard closes: the account is not held for a minute
// by attempts that never completed. A settled step's counts stay as
// settled.
func TestGuardEndGivesBackAnUnsettledStep(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
		rule := throttle.Rule{Free: 5, Base: time.Second, Max: time.Minute, Window: time.Hour}
		limits := policy.DefaultLimits()
		limits.Login = rule
		s := &Service{Config: Config{Domain: "customers"}, Flows: NewStore(db),
			Point:    &decision.Point{Domain: "customers", Policy: policy.Default{Limits: limits}, Now: func() time.Time { return now }},
			Throttle: throttle.NewLimiter(db, func() time.Time { return now })}
		c := Client{Channel: ChannelAPI, IP: "192.0.2.1"}
		key := throttle.IdentifierKey("factor", "id-1")
		pending := func() int {
			t.Helper()
			var n int
			err := db.QueryRow(ctx, `SELECT COALESCE(SUM(pending), 0) FROM throttle WHERE key = $1`, key).Scan(&n)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
		step := func(outcome func(g *guard) error) {
			t.Helper()
			g, err := s.reserve(ctx, c, policy.SecondFactorSubmit, key, "id-1")
			if err != nil {
				t.Fatal(err)
			}
			if pending() != 1 {
				t.Fatalf("%d places held during the step, want 1", pending())
			}
			g.end(ctx, outcome(g))
		}
		step(func(*guard) error { return errors.New("the save lost a race") })
		if n := pending(); n != 0 {
			t.Fatalf("%d places held after a step that failed on an error, want 0", n)
		}
		// Failed, then ended with the failure's error: the failure counts
		// once, and nothing is given back twice.
		step(func(g *guard) error { g.failed(ctx); return errors.New("wrong code") })
		if _, n, err := s.Throttle.Wait(ctx, key, rule); err != nil || n != 1 || pending() != 0 {
			t.Fatalf("after a failure: count %d, %d places, %v; want 1 and 0", n, pending(), err)
		}
	})
}
