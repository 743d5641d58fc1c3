package store_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// With Trace, the calls made under a recording span are its children,
// named after their operation and table, with the SQL and never its
// arguments; calls without one (background work) make none.
func TestTrace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		spans := tracetest.NewSpanRecorder()
		tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
		ctx := context.Background()
		if _, err := db.Exec(ctx, `CREATE TABLE traced (k TEXT PRIMARY KEY, v TEXT NOT NULL)`); err != nil {
			t.Fatal(err)
		}
		db.Trace(tp)
		// Background work: no parent, no span.
		if _, err := db.Exec(ctx, `INSERT INTO traced (k, v) VALUES ($1, $2)`, "untraced", "x"); err != nil {
			t.Fatal(err)
		}

		reqCtx, request := tp.Tracer("test").Start(ctx, "POST /login")
		if _, err := db.Exec(reqCtx, `INSERT INTO traced (k, v) VALUES ($1, $2)`, "a", "secret-value"); err != nil {
			t.Fatal(err)
		}
		var v string
		if err := db.QueryRow(reqCtx, `SELECT v FROM traced WHERE k = $1`, "a").Scan(&v); err != nil {
			t.Fatal(err)
		}
		err := db.InTx(reqCtx, func(tx *store.Tx) error {
			_, err := tx.Exec(reqCtx, `UPDATE traced SET v = $1 WHERE k = $2`, "b", "a")
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(reqCtx, `INSERT INTO traced (k, v) VALUES ($1, $2)`, "a", "again"); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("duplicate insert: %v", err)
		}
		if err := db.ExecBatched(reqCtx, `INSERT INTO traced (k, v) VALUES ($1, $2)`, "c", "d"); err != nil {
			t.Fatal(err)
		}
		r := db.Reads()
		for _, k := range []string{"a", "c"} {
			r.Query(func(rows store.Rows) error {
				for rows.Next() {
				}
				return nil
			}, `SELECT v FROM traced WHERE k = $1`, k)
		}
		if err := r.Run(reqCtx); err != nil {
			t.Fatal(err)
		}
		request.End()

		var names []string
		byName := map[string]sdktrace.ReadOnlySpan{}
		for _, s := range spans.Ended() {
			if s.SpanContext().SpanID() == request.SpanContext().SpanID() {
				continue
			}
			names = append(names, s.Name())
			if s.Parent().TraceID() != request.SpanContext().TraceID() {
				t.Errorf("span %s is not in the request's trace", s.Name())
			}
			byName[s.Name()] = s
			for _, kv := range s.Attributes() {
				if kv.Value.Emit() == "secret-value" {
					t.Errorf("span %s records an argument: %s", s.Name(), kv.Key)
				}
			}
		}
		reads := []string{"SELECT traced", "SELECT traced"} // one by one on SQLite
		if db.Dialect == store.Postgres {
			reads = []string{"BATCH"} // one round trip
		}
		want := append([]string{"INSERT traced", "SELECT traced", "transaction", "INSERT traced", "INSERT traced", "group commit"}, reads...)
		slices.Sort(names)
		slices.Sort(want)
		if !slices.Equal(names, want) {
			t.Fatalf("spans %q\nwant  %q", names, want)
		}
		insert := byName["SELECT traced"]
		if q := attrOf(insert, "db.query.text"); q != `SELECT v FROM traced WHERE k = $1` {
			t.Errorf("db.query.text = %q", q)
		}
		if s := attrOf(insert, "db.system.name"); s != map[store.Dialect]string{store.SQLite: "sqlite", store.Postgres: "postgresql"}[db.Dialect] {
			t.Errorf("db.system.name = %q", s)
		}
		failed := 0
		for _, s := range spans.Ended() {
			if s.Name() == "INSERT traced" && s.Status().Code == codes.Error {
				failed++
			}
		}
		if failed != 1 {
			t.Errorf("%d failed inserts marked as errors, want 1", failed)
		}
	})
}

func attrOf(s sdktrace.ReadOnlySpan, key string) string {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value.Emit()
		}
	}
	return ""
}
