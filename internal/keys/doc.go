// Package keys owns Foyer's token-signing keys: the keys that sign ID
// tokens, JWT access tokens and logout tokens, and the JSON Web Key Set
// (JWKS) that relying parties verify them with. A Manager creates them,
// encrypts them at rest, rotates them, and caches them for the signing
// path; Key and SigningKey satisfy zitadel/oidc's op.Key and op.SigningKey.
//
// # Algorithms
//
// ES256 (P-256, the default), RS256 (RSA 2048) and EdDSA (Ed25519). Each
// algorithm rotates on its own; a server may sign with several (an RP
// chooses with id_token_signed_response_alg).
//
// # Rotation
//
// A key lives in four stages, stored in signing_keys.state:
//
//	pending ──PublishBefore──▶ active ──(next key activated)──▶ retired ──RetainAfter──▶ deleted
//	published, not signing     signing, published              published, not signing
//
// Relying parties cache the JWKS (often for hours) and verify tokens with
// whatever keys their copy holds. So:
//
//   - A new key must be in the JWKS before it signs anything, for at least
//     as long as RPs cache the JWKS; otherwise an RP with an older copy
//     sees an unknown kid and rejects valid tokens. Rotate therefore adds a
//     pending key, and Maintain promotes it only after PublishBefore.
//   - A token outlives the moment its key stops signing: an ID token or
//     JWT access token signed a minute before rotation is valid for its
//     whole lifetime. So a retired key stays in the JWKS for RetainAfter,
//     which must be at least the longest token lifetime, and only then is
//     it deleted.
//   - Several nodes share the keys through the database and each caches
//     them for CacheFor, so a change reaches every node within CacheFor;
//     both windows are lengthened by CacheFor to cover that.
//
// The very first key of an algorithm (Ensure at start-up) is active at
// once: no RP knows any key yet, so there is nothing to pre-publish for.
// An emergency rotation (Rotate with Immediate, for a compromised key)
// skips pre-publication on purpose: new tokens fail at RPs whose cached
// JWKS lacks the new key until they refetch it, which most do on an
// unknown kid.
//
// Maintain is meant to run on every node every minute or so. Ensure,
// Rotate and Maintain serialise on the database (a PostgreSQL advisory
// lock, SQLite's single writer) and re-read under that lock, so nodes
// racing each other still leave exactly one active key per algorithm.
//
// # At rest
//
// Private keys are stored as base64(nonce || AES-256-GCM(PKCS#8 DER)),
// with the kid as additional data, under a key derived from the server
// secret with HKDF-SHA256 (info "foyer signing keys v1"). Changing the
// server secret therefore makes the stored keys unusable: Ensure and
// Signer then fail with ErrDecrypt, and Rotate refuses to add keys under a
// secret that cannot read the existing ones. Public keys are stored in
// clear as JWKs. Nothing in this package logs, and no error carries key
// material.
package keys
