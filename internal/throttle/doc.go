// Package throttle slows down repeated failures without ever locking an
// account: it counts failures per key (a client network, an identifier)
// in the database, so every node sees the same counts, and turns them into
// a growing delay before the next attempt is accepted. A failed login is
// not fraud: after the delay the next attempt is let through, and callers
// exempt a customer's known device from the per-identifier delay.
package throttle
