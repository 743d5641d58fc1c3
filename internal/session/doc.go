// Package session owns signed-in sessions: random 256-bit tokens handed to
// the browser (cookie) or native app (bearer token), stored only as
// SHA-256 hashes, with an absolute lifetime, an idle lifetime, the
// authentication methods and assurance level that created them, the device
// they belong to, and server-side revocation that takes effect at once on
// every node.
package session
