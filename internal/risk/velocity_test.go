package risk_test

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/event"
	"github.com/foyer-id/foyer/internal/risk"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// Failures spread over two nodes add up to a spike both see, against the
// site's own recent rate; its start is recorded once; it ends when the
// failures stop. An ordinary rate, however busy, is no spike.
func TestVelocitySpike(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var mu sync.Mutex
		now := time.Date(2026, 12, 5, 12, 0, 30, 0, time.UTC)
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
		logger := slog.New(slog.NewTextHandler(io.Discard, nil))
		events := event.NewLog(db, logger, clock)
		a := risk.NewVelocity(db, "node-a", "customers", events, logger, clock)
		b := risk.NewVelocity(db, "node-b", "customers", events, logger, clock)
		fail := func(v *risk.Velocity, n int) {
			for range n {
				v.Failed()
			}
		}
		tick := func(vs ...*risk.Velocity) {
			t.Helper()
			for _, v := range vs {
				if err := v.Tick(ctx); err != nil {
					t.Fatal(err)
				}
			}
		}
		// A busy hour: 40 failures a minute.
		for range 60 {
			fail(a, 40)
			tick(a)
			advance(time.Minute)
		}
		if spike, rate := a.Spike(); spike || rate != 40 {
			t.Fatalf("a busy hour: spike %v at %d a minute", spike, rate)
		}
		// Then 300 in a minute, half on each node: five times the hour.
		fail(a, 150)
		fail(b, 150)
		tick(a, b, a)
		for _, v := range []*risk.Velocity{a, b} {
			if spike, rate := v.Spike(); !spike || rate != 300 {
				t.Fatalf("stuffing: spike %v at %d a minute", spike, rate)
			}
		}
		spikes, err := events.List(ctx, event.Query{Type: event.FailureSpike})
		if err != nil || len(spikes) != 1 {
			t.Fatalf("spike events: %+v, %v", spikes, err)
		}
		// Two quiet minutes later, it is over.
		advance(2 * time.Minute)
		tick(a, b)
		if spike, _ := a.Spike(); spike {
			t.Fatal("the spike outlived the failures")
		}
		if n, err := a.Prune(ctx, clock()); err != nil || n == 0 {
			t.Fatalf("Prune = %d, %v", n, err)
		}
		var nilV *risk.Velocity
		nilV.Failed()
		if spike, _ := nilV.Spike(); spike {
			t.Fatal("no velocity spikes")
		}
	})
}
