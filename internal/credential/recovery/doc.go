// Package recovery owns recovery codes: single-use codes a customer prints
// or saves when setting up a second factor, to sign in when the
// authenticator is lost. They are kept in the recovery_codes table.
//
// # Codes
//
// Generate issues Count (10) codes of CodeLength (10) characters from
// Crockford's base32 alphabet in lower case, 5 random bits per character
// (50 bits per code), shown as two groups of five: "7hk2m-x9q4d". A new set
// replaces the previous one, used codes included, in one transaction. Use
// accepts the code as typed: case, spaces and dashes do not matter, and i,
// l and o are read as 1, 1 and 0 (letters the alphabet leaves out because
// they look like digits).
//
// # Storage
//
// Only HMAC-SHA256 hashes are stored, keyed with a key derived from the
// server secret with HKDF-SHA256 (info "foyer recovery codes v1"), over
// the identity id and the normalised code. A database dump alone therefore
// does not allow checking guesses offline, and equal codes of two
// identities have different hashes. Because the stored value is a keyed
// hash, looking it up with an ordinary SQL comparison leaks nothing useful
// through timing. Changing the server secret invalidates every code.
//
// Use marks a code used with one conditional UPDATE (used_at IS NULL), so a
// code works exactly once even when submitted many times at once. The
// package does not throttle; callers must slow down repeated failures.
package recovery
