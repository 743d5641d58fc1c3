// Package flow owns Foyer's journeys — registration, email verification,
// sign-in and sign-out — as persisted, expiring state machines, and the
// one-time codes they send.
//
// A flow is created at the first submit of a journey (hosted page) or
// explicitly (JSON API), lives in the database so that any node can
// continue it, expires (default one hour), and is bound to the browser
// that started it. Each step asks the policy decision point, appends an
// event, and leaves the flow in a state the hosted pages and the JSON API
// render the same way. The Service is transport-neutral: internal/ui and
// internal/api are two faces of it.
//
// One-time codes are 6 random digits, stored as an HMAC keyed with the
// server secret (a leaked database does not reveal them), single-use,
// short-lived (default 15 minutes) and limited to 5 attempts; a flow that
// used up its attempts must be started again.
package flow
