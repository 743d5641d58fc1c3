// Package event owns Foyer's event log: every journey step appends one
// event (type, outcome, reason, flow, identity, session, client IP, user
// agent, time) to a persisted, append-only table. Funnels, audit trails
// and webhooks are built from it; it is cheap to write (one insert) and to
// query by time range (indexed by occurrence time).
package event
