package store

import (
	"context"
	"errors"
	"strings"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// Tracing: every call into the database — a statement, a query, a
// transaction, a batch of reads, a group-committed write, the wait for a
// lock — can be a span, so that a trace of a request shows where its time
// went. This file is the one place that makes them: the store's methods
// are the narrow waist every domain's SQL passes through, on both
// dialects.
//
// A call makes a span only when its context carries a recording one (a
// request's, see internal/telemetry): background work (the courier's
// polls, pruning) stays out of the traces instead of flooding them with
// root spans. With tracing off (no Trace call) a call costs one atomic
// load more.

// tracerName is the instrumentation scope of the store's spans.
const tracerName = "github.com/foyer-id/foyer/internal/store"

// dbTracer is what Trace sets.
type dbTracer struct {
	tracer trace.Tracer
	system attribute.KeyValue // db.system.name
	// names caches each query's span name and operation: queries are
	// constants of the code, so it stays small.
	names sync.Map // string → spanName
}

type spanName struct{ name, operation string }

// Trace makes db's calls spans of tp's tracer, children of the span the
// call's context carries (none without one). The spans record the SQL
// text, which holds placeholders, never the arguments. Call it before
// use.
func (db *DB) Trace(tp trace.TracerProvider) {
	system := semconv.DBSystemNameSQLite
	if db.Dialect == Postgres {
		system = semconv.DBSystemNamePostgreSQL
	}
	t := &dbTracer{tracer: tp.Tracer(tracerName), system: system}
	db.tracer.Store(t)
	db.async.tracer.Store(t)
}

// spanQuery starts the span of a statement or query on ctx, or returns a
// nil span when nothing is traced.
func (db *DB) spanQuery(ctx context.Context, query string) (context.Context, trace.Span) {
	t := db.tracer.Load()
	if t == nil || !trace.SpanFromContext(ctx).IsRecording() {
		return ctx, nil
	}
	n := t.name(query)
	return t.tracer.Start(ctx, n.name, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(t.system, semconv.DBOperationName(n.operation), semconv.DBQueryText(query)))
}

// spanOf starts a span named name for work that is not one statement (a
// transaction, a batch), with attrs; nil when nothing is traced.
func (db *DB) spanOf(ctx context.Context, name string, attrs ...attribute.KeyValue) (context.Context, trace.Span) {
	t := db.tracer.Load()
	if t == nil || !trace.SpanFromContext(ctx).IsRecording() {
		return ctx, nil
	}
	return t.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(append(attrs, t.system)...))
}

// endSpan ends span, if any, marking it failed with err. ErrNotFound is
// an answer, not a failure.
func endSpan(span trace.Span, err error) {
	if span == nil {
		return
	}
	if err != nil && !errors.Is(err, ErrNotFound) {
		span.SetStatus(codes.Error, err.Error())
		span.SetAttributes(semconv.ErrorTypeKey.String(errorType(err)))
	}
	span.End()
}

// errorType is the error.type of a span that failed: the sentinel the
// error classifies as, or "other".
func errorType(err error) string {
	switch {
	case errors.Is(err, ErrConflict):
		return "conflict"
	case errors.Is(err, ErrUnavailable):
		return "unavailable"
	}
	return "_OTHER"
}

// name returns the span name of query: its operation and the table it
// names first ("SELECT outbox", "INSERT events"), as OpenTelemetry's
// database conventions have it, or the operation alone.
func (t *dbTracer) name(query string) spanName {
	if n, ok := t.names.Load(query); ok {
		return n.(spanName)
	}
	op, target := summarize(query)
	n := spanName{name: op, operation: op}
	if target != "" {
		n.name = op + " " + target
	}
	t.names.Store(query, n)
	return n
}

// summarize reads the operation (the first keyword) and the first table
// of a statement: after FROM, INTO or UPDATE.
func summarize(query string) (op, target string) {
	words := strings.Fields(query)
	if len(words) == 0 {
		return "", ""
	}
	op = strings.ToUpper(words[0])
	after := map[string]string{"SELECT": "FROM", "DELETE": "FROM", "INSERT": "INTO", "UPDATE": "UPDATE"}[op]
	if after == "" {
		return op, ""
	}
	for i, w := range words[:len(words)-1] {
		if strings.EqualFold(w, after) {
			if next := words[i+1]; !strings.HasPrefix(next, "(") {
				return op, strings.TrimRight(next, ");,")
			}
			return op, ""
		}
	}
	return op, ""
}
