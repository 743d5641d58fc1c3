// Package challenge makes and checks proof-of-work challenges: what Foyer
// asks of a request from a network that has made too many attempts,
// instead of refusing it. A challenge costs a browser a moment of hashing
// (the hosted pages solve it by themselves) and an attacker the same for
// every attempt, so a busy shared address (a carrier NAT, an office) is
// slowed down without locking out the customers behind it.
//
// A challenge is stateless: a random id, its scope (the network it
// was made for), its difficulty and its expiry, sealed with an
// HMAC under the server secret. Its solution is a nonce such that
// SHA-256(token ":" nonce) starts with Difficulty zero bits. That it is
// used only once is for the caller to keep (package flow spends the id in
// the throttle table).
package challenge
