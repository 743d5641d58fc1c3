// Package identity owns the people (and later machines) Foyer knows:
// identities with their traits, validated against the domain's JSON
// Schema; identifiers (email now; phone and usernames later), normalised
// and unique per policy domain, enforced by the database; and the stored
// credentials that prove an identity (password hashes now).
//
// An identity starts "pending" while its sign-up is unfinished (its email
// not yet verified), becomes "active" when sign-up completes, and may be
// "disabled" by an operator. Pending identities cannot sign in; a new
// sign-up with the same address takes the pending one over, so nobody can
// squat an address they cannot read mail for.
package identity
