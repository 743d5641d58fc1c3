package courier

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// Depth counts the mail waiting, by where it is: due, waiting for a
// retry, held by a worker; what left or was given up is not counted.
func TestDepth(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clk := newClock()
		o := NewOutbox(db, clk.Now)
		if d, err := o.Depth(ctx); err != nil || d != (Depth{}) {
			t.Fatalf("empty outbox: %+v, %v", d, err)
		}
		first := clk.Now()
		mustEnqueue(t, o, codeMessage("a@example.com", "1"))
		clk.Advance(time.Minute)
		for _, to := range []string{"b@example.com", "c@example.com", "d@example.com"} {
			mustEnqueue(t, o, codeMessage(to, "2"))
		}
		claimed, err := o.Claim(ctx, 3, time.Hour)
		if err != nil || len(claimed) != 3 {
			t.Fatalf("Claim = %d, %v", len(claimed), err)
		}
		// Of the three claimed, one is sent (not a@, the oldest, which
		// stays waiting one way or another), one waits for a retry, one
		// is still being sent; the fourth is due.
		slices.SortFunc(claimed, func(a, b Entry) int { return -strings.Compare(a.To, b.To) })
		if err := o.MarkSent(ctx, claimed[0].ID, claimed[0].Attempts); err != nil {
			t.Fatal(err)
		}
		if err := o.MarkRetry(ctx, claimed[1].ID, claimed[1].Attempts, errors.New("421 busy"), clk.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		// Given up, and a decoy: neither waits.
		gone := mustEnqueue(t, o, codeMessage("e@example.com", "3"))
		err = db.InTx(ctx, func(tx *store.Tx) error {
			if err := o.SupersedeTx(ctx, tx, gone); err != nil {
				return err
			}
			return o.DecoyTx(ctx, tx, codeMessage("nobody@example.com", "4"))
		})
		if err != nil {
			t.Fatal(err)
		}
		d, err := o.Depth(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if d.Due != 1 || d.Retry != 1 || d.Sending != 1 || !d.Oldest.Equal(first) {
			t.Fatalf("depth %+v; want 1 due, 1 retry, 1 sending, oldest %s", d, first)
		}
	})
}

// The worker tells Observe how each attempt ended, and how much mail the
// expiry sweep gave up.
func TestWorkerObserves(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		clk := newClock()
		w, _ := newTestWorker(t, db, clk, senderFunc(func(ctx context.Context, m Mail) error {
			switch {
			case strings.HasPrefix(m.To, "busy"):
				return errors.New("421 try again later")
			case strings.HasPrefix(m.To, "gone"):
				return Permanent(errors.New("550 no such user"))
			}
			return nil
		}))
		heard := map[string]int{}
		var mu sync.Mutex // deliveries run in parallel, and so do their observations
		w.Observe = func(result string, n int) {
			mu.Lock()
			defer mu.Unlock()
			heard[result] += n
		}
		mustEnqueue(t, w.Outbox, codeMessage("ok@example.com", "1"))
		mustEnqueue(t, w.Outbox, codeMessage("busy@example.com", "2"))
		mustEnqueue(t, w.Outbox, codeMessage("gone@example.com", "3"))
		stale := codeMessage("stale@example.com", "4")
		stale.NotAfter = clk.Now().Add(time.Minute)
		mustEnqueue(t, w.Outbox, stale)
		w.BatchSize = 3 // the stale mail is left for the sweep
		deliverDue(t, w)
		clk.Advance(2 * time.Minute)
		if err := w.housekeep(context.Background()); err != nil {
			t.Fatal(err)
		}
		want := map[string]int{DeliverySent: 1, DeliveryRetry: 1, DeliveryFailed: 1, DeliveryExpired: 1}
		if !maps.Equal(heard, want) {
			t.Fatalf("heard %v, want %v", heard, want)
		}
	})
}
