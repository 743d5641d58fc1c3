package store

import (
	"context"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
)

// RoundTrips counts the exchanges with PostgreSQL made under a context
// that carries it (CountRoundTrips): each query, each batch (a Reads, a
// transaction's pipeline) and each statement preparation is one. It is how
// a journey's cost in round trips is measured and kept from growing
// unnoticed (see internal/server's TestRoundTripsPerJourney). SQLite runs
// in the process: nothing is counted.
type RoundTrips struct {
	exchanges, prepares atomic.Int64
}

// Exchanges returns the queries and batches counted, preparations left
// out: a prepared statement is prepared once per connection, so how many
// of those a step costs depends on which connections it happened to get.
func (c *RoundTrips) Exchanges() int64 { return c.exchanges.Load() }

// Prepares returns the statement preparations counted.
func (c *RoundTrips) Prepares() int64 { return c.prepares.Load() }

type roundTripsKey struct{}

// CountRoundTrips returns ctx counting its exchanges with PostgreSQL in c.
func CountRoundTrips(ctx context.Context, c *RoundTrips) context.Context {
	return context.WithValue(ctx, roundTripsKey{}, c)
}

// roundTripTracer counts into the RoundTrips a context carries, if any.
type roundTripTracer struct{}

func counted(ctx context.Context) *RoundTrips {
	c, _ := ctx.Value(roundTripsKey{}).(*RoundTrips)
	return c
}

func (roundTripTracer) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	if c := counted(ctx); c != nil {
		c.exchanges.Add(1)
	}
	return ctx
}

func (roundTripTracer) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (roundTripTracer) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	if c := counted(ctx); c != nil {
		c.exchanges.Add(1)
	}
	return ctx
}

func (roundTripTracer) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}

func (roundTripTracer) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

func (roundTripTracer) TracePrepareStart(ctx context.Context, _ *pgx.Conn, _ pgx.TracePrepareStartData) context.Context {
	if c := counted(ctx); c != nil {
		c.prepares.Add(1)
	}
	return ctx
}

func (roundTripTracer) TracePrepareEnd(context.Context, *pgx.Conn, pgx.TracePrepareEndData) {}
