// Package totp owns Foyer's authenticator-app second factor: time-based
// one-time passwords (TOTP, RFC 6238) with the parameters every
// authenticator app supports — HMAC-SHA1, 6 digits, a 30-second step and a
// 160-bit shared secret. It keeps at most one authenticator per identity in
// the totp_credentials table.
//
// # Enrolment
//
// Begin generates a secret, stores it unconfirmed and returns it three
// ways: base32 for manual entry, an otpauth:// key URI and a PNG QR code of
// that URI (built with github.com/pquerna/otp). A new Begin replaces an
// unconfirmed secret; with a confirmed authenticator it returns
// ErrAlreadyEnrolled, so replacing an authenticator is an explicit Remove
// first. Confirm checks the first code from the app and marks the
// authenticator confirmed; only then do Enrolled and Verify see it.
//
// # Verification and replay
//
// Verify accepts a code from the current step or one step either side
// (clock drift and typing time), compared in constant time. A one-time
// password must be used only once, so the step of each accepted code is
// stored in last_step, and a code is accepted only if its step is later:
// the same code is refused for the rest of its window, and so is an older
// code once a newer one was accepted. The check and the update are one
// conditional UPDATE, so parallel submissions of one code give exactly one
// success on both SQLite and PostgreSQL. ErrReplayed wraps ErrInvalidCode:
// customers see one message, logs can tell them apart.
//
// The package does not throttle; callers must slow down repeated failures
// (internal/throttle), since a 6-digit code with three accepted steps falls
// to about 333,000 guesses on average.
//
// # Secrets at rest
//
// Secrets are stored encrypted with AES-256-GCM under a key derived from
// the server secret with HKDF-SHA256 (info "foyer totp secrets v1"), with
// the identity id as additional data, as base64(nonce || ciphertext). A
// database dump alone does not reveal them; a row copied to another
// identity does not decrypt; a different server secret yields ErrDecrypt.
// Changing the server secret therefore disables every authenticator.
package totp
