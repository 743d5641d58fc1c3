// Package policy is Foyer's decision point. Every journey step asks it
// before acting — registration, verification, sign-in, sign-out — with the
// context of the request: which domain and action, which identity (if
// known), which flow, the client's address, user agent and device, the
// time, and the risk signals gathered so far (throttle state, known
// device). It answers allow, deny with a reason, require a further step,
// or throttle with a retry-after.
//
// Default is the built-in policy for customer domains. The rules engine
// and risk engine of later releases implement the same Decider interface
// and plug in without changes to the journeys.
package policy
