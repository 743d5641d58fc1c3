package event

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

func TestAppendAndList(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		base := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
		now := base
		l := NewLog(db, slog.New(slog.NewTextHandler(io.Discard, nil)), func() time.Time { return now })
		for i, typ := range []string{LoginSubmitted, LoginSucceeded, Logout, LoginSubmitted} {
			now = base.Add(time.Duration(i) * time.Minute)
			if err := l.Append(ctx, Event{Domain: "customers", Type: typ, Outcome: OutcomeSuccess, IdentityID: "id-1", IP: "127.0.0.1"}); err != nil {
				t.Fatal(err)
			}
		}
		all, err := l.List(ctx, Query{Domain: "customers"})
		if err != nil || len(all) != 4 {
			t.Fatalf("List = %d events, %v", len(all), err)
		}
		if !all[0].OccurredAt.Equal(base) || all[3].Type != LoginSubmitted {
			t.Fatalf("order or time wrong: %+v", all)
		}
		ranged, err := l.List(ctx, Query{From: base.Add(time.Minute), To: base.Add(3 * time.Minute)})
		if err != nil || len(ranged) != 2 || ranged[0].Type != LoginSucceeded || ranged[1].Type != Logout {
			t.Fatalf("range = %+v, %v", ranged, err)
		}
		typed, err := l.List(ctx, Query{Type: LoginSubmitted})
		if err != nil || len(typed) != 2 {
			t.Fatalf("typed = %+v, %v", typed, err)
		}
		other, err := l.List(ctx, Query{Domain: "workforce"})
		if err != nil || len(other) != 0 {
			t.Fatalf("other domain = %+v, %v", other, err)
		}
	})
}

func BenchmarkAppend(b *testing.B) {
	db := storetest.NewSQLite(b)
	l := NewLog(db, slog.New(slog.NewTextHandler(io.Discard, nil)), time.Now)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if err := l.Append(ctx, Event{Domain: "customers", Type: LoginSucceeded, Outcome: OutcomeSuccess}); err != nil {
			b.Fatal(err)
		}
	}
}

// TestAppendTxLogsOnCommit checks that an event appended in a transaction
// reaches the log only if the transaction commits, as it reaches the table.
func TestAppendTxLogsOnCommit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		var out strings.Builder
		logger := slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))
		l := NewLog(db, logger, time.Now)
		undone := errors.New("undone")
		err := db.InTx(ctx, func(tx *store.Tx) error {
			if err := l.AppendTx(ctx, tx, Event{Domain: "customers", Type: LoginSubmitted, Outcome: OutcomeSuccess, FlowID: "rolled-back"}); err != nil {
				return err
			}
			return undone
		})
		if !errors.Is(err, undone) {
			t.Fatalf("InTx = %v, want %v", err, undone)
		}
		err = db.InTx(ctx, func(tx *store.Tx) error {
			return l.AppendTx(ctx, tx, Event{Domain: "customers", Type: LoginSucceeded, Outcome: OutcomeSuccess, FlowID: "committed"})
		})
		if err != nil {
			t.Fatal(err)
		}
		events, err := l.List(ctx, Query{Domain: "customers"})
		if err != nil || len(events) != 1 || events[0].FlowID != "committed" {
			t.Fatalf("events = %+v, %v; want the committed one alone", events, err)
		}
		logged := out.String()
		if strings.Contains(logged, "rolled-back") {
			t.Errorf("the log names the rolled-back event:\n%s", logged)
		}
		if strings.Count(logged, "flow_id=committed") != 1 {
			t.Errorf("the log does not name the committed event once:\n%s", logged)
		}
	})
}
