package identity

import (
	"encoding/json"
	"time"
)

// Identity states.
const (
	StatePending  = "pending"  // sign-up not finished; cannot sign in
	StateActive   = "active"   // a customer who completed sign-up
	StateDisabled = "disabled" // turned off by an operator
)

// Identity is one person (or, later, machine) in a policy domain.
type Identity struct {
	ID          string          `json:"id"`
	Domain      string          `json:"domain"`
	State       string          `json:"state"`
	SchemaID    string          `json:"schema_id"`
	Traits      json.RawMessage `json:"traits"`
	Identifiers []Identifier    `json:"identifiers"`
	CreatedAt   time.Time       `json:"created_at"`
	UpdatedAt   time.Time       `json:"updated_at"`
	// MethodsChangedAt is when the identity last changed how it signs in
	// (zero for never): a risk signal, not shown.
	MethodsChangedAt time.Time `json:"-"`
	// RecoveredAt is when the identity was last recovered (zero for
	// never), and RestrictedUntil the end of the cool-off that followed
	// (zero once lifted): see Restricted.
	RecoveredAt     time.Time `json:"recovered_at,omitzero"`
	RestrictedUntil time.Time `json:"restricted_until,omitzero"`
	// ProtectedAt is when the owner said a change was not theirs ("this
	// wasn't me"; zero for never, or once lifted): a password alone no
	// longer signs in. EmailChangedAt is when the email address last
	// changed (zero for never).
	ProtectedAt    time.Time `json:"protected_at,omitzero"`
	EmailChangedAt time.Time `json:"-"`
	// PhoneChangedAt is when the phone number last changed (zero for
	// never).
	PhoneChangedAt time.Time `json:"-"`
}

// Restricted reports whether the identity is in the cool-off after a
// recovery at now: signed in, but held back from what would lock the
// owner out (policy.Signals.RecentlyRecovered).
func (i *Identity) Restricted(now time.Time) bool {
	return now.Before(i.RestrictedUntil)
}

// Identifier is a normalised, unique-per-domain handle of an identity
// that it signs in with and that can be verified (an email address).
type Identifier struct {
	ID         string    `json:"id"`
	Kind       string    `json:"kind"`
	Value      string    `json:"value"`
	Verified   bool      `json:"verified"`
	VerifiedAt time.Time `json:"verified_at,omitzero"`
}

// Email returns the identity's first email identifier, or the zero
// Identifier.
func (i *Identity) Email() Identifier {
	for _, id := range i.Identifiers {
		if id.Kind == KindEmail {
			return id
		}
	}
	return Identifier{}
}

// ChangedAt is when the identity's identifier of kind last changed (zero
// for never).
func (i *Identity) ChangedAt(kind string) time.Time {
	if kind == KindPhone {
		return i.PhoneChangedAt
	}
	return i.EmailChangedAt
}

// Phone returns the identity's phone identifier, or the zero Identifier.
func (i *Identity) Phone() Identifier {
	for _, id := range i.Identifiers {
		if id.Kind == KindPhone {
			return id
		}
	}
	return Identifier{}
}

// Credential types.
const (
	CredentialPassword = "password"
)
