// Package telemetry owns what operators watch Foyer with
// (docs/operations.md): Prometheus metrics — requests by route and status
// with their latency, journey steps by outcome and reason, the policy's
// decisions (waits, challenges, refusals), mail delivery and the outbox's
// depth, the database's connection pools, the Go runtime — served as
// /metrics, and OpenTelemetry traces: a span per request, exported over
// OTLP/HTTP when tracing is on.
//
// The numbers come from the few places everything passes through, not
// from the journeys: the HTTP middleware around the server's mux, the
// event log's Observe hook (every journey step is an event), the
// decision point's (every decision), the courier worker's (every
// delivery attempt), and, at scrape time, the store's pool statistics
// and the outbox's depth. The database spans are the store's own (see
// store.DB.Trace). The server wires it all (internal/server).
package telemetry
