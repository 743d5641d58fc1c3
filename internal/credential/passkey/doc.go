// Package passkey owns customers' passkeys: WebAuthn credentials (through
// github.com/go-webauthn/webauthn) kept in the webauthn_credentials table,
// and the challenges of their ceremonies, kept in webauthn_challenges.
//
// # Model
//
// A Service is one WebAuthn relying party: an RP ID (the host of the public
// URL, e.g. "id.example.com") and the origins a ceremony may come from
// (the public URL's origin, e.g. "https://id.example.com"). A passkey
// registered under one RP ID never works under another; changing the
// public URL's host strands every passkey.
//
// Every passkey is a discoverable credential (residentKey "required"): the
// authenticator stores the account, so signing in needs no username.
// BeginLogin sends an empty allowCredentials list, which is what lets the
// browser offer passkeys in the username field's autofill (conditional
// mediation) as well as in a modal dialog; the authenticator answers with
// the credential id and the user handle, and FinishLogin finds the
// identity from them.
//
// The user handle is the identity id's bytes (a UUIDv7, at most 64
// bytes): stable for the life of the account, the same for all of its
// passkeys, and no personal data (it reveals only when the account was
// created, to the customer's own authenticator). Authenticators and
// password managers store it next to the key and never show it. The email address and name
// go only into user.name and user.displayName, which the authenticator
// shows in its account chooser.
//
// # Ceremonies
//
// Begin* stores the ceremony's webauthn.SessionData (the challenge, RP
// ID, required user verification, the user handle for a registration)
// in webauthn_challenges under a random challenge id and returns it with
// the options for navigator.credentials.create or .get. Finish* deletes
// the row with one DELETE … RETURNING before it looks at the response, so:
//
//   - any node can finish a ceremony another node began;
//   - a challenge works at most once, however many finishes race for it,
//     and a failed finish uses it up too (begin again);
//   - a challenge expires ChallengeTTL (5 minutes) after it was issued,
//     by the injected clock. Prune deletes expired rows that were never
//     finished; call it periodically.
//
// A registration challenge is bound to the identity it was issued for and
// a sign-in challenge to no one. BeginLogin writes a row without knowing
// who is asking (it runs when the sign-in page loads, for autofill), so
// callers should throttle it per network like any unauthenticated write.
//
// The library verifies the rest: the client data's type, challenge and
// origin, the RP ID hash, the UP and UV flags, the signature with the
// stored public key, and that the user handle is the credential's owner.
//
// # User verification
//
// User verification (biometrics, PIN or device passcode) is required at
// registration and at every sign-in, so a passkey is a complete
// multi-factor sign-in on its own (something you have, unlocked by
// something you know or are). A response without the UV flag fails.
//
// # Attestation
//
// Attestation is "none": Foyer does not ask which make or model of
// authenticator a customer uses and does not restrict it, so there is no
// attestation consent prompt and no metadata service. Responses with an
// attestation statement anyway (some security keys send "packed"
// self-attestation) are verified as the library does but not trusted for
// anything. The AAGUID is stored for display only (often all zeros).
// Client extension outputs are ignored: Foyer requests none and reads
// none, and some password managers add unrequested ones.
//
// # Signature counters
//
// Each credential's signature counter is stored. A sign-in whose counter
// is not greater than the stored one (unless both are zero: synced
// passkeys typically always send zero) returns ErrCloned and changes
// nothing; the signature was valid, so FinishLogin also returns the
// identity and the credential, and the caller records an event and lets
// policy decide. The update is conditional (sign_count < new), so of two
// concurrent sign-ins carrying the same counter only one succeeds.
//
// # Not here
//
// The package does not issue sessions, check the identity's state
// (disabled accounts), throttle, or emit events: the caller does, with
// the identity id FinishLogin returns. Credential ids are public values
// (the authenticator reveals them to anyone who asks it to sign in), so
// they are stored in clear; public keys are not secret either.
package passkey
