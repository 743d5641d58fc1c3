package event

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// Observe hears of every event that happened, once: appended, committed
// with its transaction, or left out by sampling; never of one whose
// transaction rolled back.
func TestObserve(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		l := NewLog(db, slog.New(slog.NewTextHandler(io.Discard, nil)), func() time.Time { return now })
		var heard []string
		l.Observe = func(e Event) { heard = append(heard, e.Type+"/"+e.Outcome) }

		if err := l.Append(ctx, Event{Domain: "customers", Type: LoginSubmitted, Outcome: OutcomeFailure, Reason: "invalid_credentials"}); err != nil {
			t.Fatal(err)
		}
		err := db.InTx(ctx, func(tx *store.Tx) error {
			if err := l.AppendTx(ctx, tx, Event{Domain: "customers", Type: LoginSucceeded, Outcome: OutcomeSuccess}); err != nil {
				return err
			}
			if !slices.Equal(heard, []string{"login.submitted/failure"}) {
				t.Errorf("heard before the commit: %v", heard)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		rolledBack := errors.New("rolled back")
		err = db.InTx(ctx, func(tx *store.Tx) error {
			_ = l.AppendTx(ctx, tx, Event{Domain: "customers", Type: Logout, Outcome: OutcomeSuccess})
			return rolledBack
		})
		if !errors.Is(err, rolledBack) {
			t.Fatal(err)
		}
		for range SampledPerMinute + 2 {
			if err := l.AppendSampled(ctx, Event{Domain: "customers", Type: LoginSubmitted, Outcome: OutcomeThrottled, IP: "192.0.2.1"}); err != nil {
				t.Fatal(err)
			}
		}

		want := []string{"login.submitted/failure", "login.succeeded/success"}
		for range SampledPerMinute + 2 {
			want = append(want, "login.submitted/throttled")
		}
		if !slices.Equal(heard, want) {
			t.Fatalf("heard %v\nwant  %v", heard, want)
		}
		recorded, err := l.List(ctx, Query{Type: LoginSubmitted})
		if err != nil || len(recorded) != 1+SampledPerMinute {
			t.Fatalf("recorded %d login.submitted, %v; want %d (the sample)", len(recorded), err, 1+SampledPerMinute)
		}
	})
}
