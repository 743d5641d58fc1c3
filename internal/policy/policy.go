package policy

import (
	"context"
	"time"
)

// Action names a decision point.
type Action string

// The decision points of the first journeys.
const (
	RegistrationSubmit Action = "registration.submit"
	VerificationSend   Action = "verification.send"
	VerificationSubmit Action = "verification.submit"
	LoginSubmit        Action = "login.submit"
	SessionIssue       Action = "session.issue"
	Logout             Action = "logout"
	// AuthorizeApp: a signed-in customer is about to be sent back to an
	// app with an authorization code.
	AuthorizeApp Action = "oauth.authorize"
	// SecondFactorSubmit: a second-factor code (authenticator app,
	// recovery code) is submitted.
	SecondFactorSubmit Action = "second_factor.submit"
	// MethodsChange: a customer is about to add or remove a way of
	// signing in (authenticator app, recovery codes, passkey).
	MethodsChange Action = "methods.change"
	// TokenIssue: an access token is about to be issued (code exchange,
	// refresh, client credentials).
	TokenIssue Action = "token.issue"
)

// Effect is the kind of answer.
type Effect string

// Effects.
const (
	Allow    Effect = "allow"
	Deny     Effect = "deny"
	StepUp   Effect = "step_up"
	Throttle Effect = "throttle"
)

// Steps a decision may require before the action completes.
const (
	StepVerifyEmail  = "verify_email"
	StepSecondFactor = "second_factor"
)

// SecondFactorMethods are the methods that give two factors: a second
// factor, or a passkey with user verification (possession of the device
// plus the biometric or PIN that unlocked it).
var SecondFactorMethods = []string{"totp", "recovery_code", "passkey"}

// HasSecondFactor reports whether methods include a second factor.
func HasSecondFactor(methods []string) bool {
	for _, m := range methods {
		for _, f := range SecondFactorMethods {
			if m == f {
				return true
			}
		}
	}
	return false
}

// Input is the context of one decision.
type Input struct {
	Domain string
	Action Action
	Time   time.Time

	FlowID    string
	ClientIP  string
	UserAgent string
	DeviceID  string

	// ClientID is the app (OAuth client) the decision is about, if any.
	ClientID string

	// Identity, when known.
	IdentityID    string
	IdentityState string
	EmailVerified bool
	// SecondFactor is true when the identity has a second factor: for
	// session.issue an authenticator app (asked for at sign-in); for
	// methods.change an authenticator app or a passkey (either raises a
	// session to aal2).
	SecondFactor bool
	// Methods are the authentication methods passed so far.
	Methods []string

	Signals Signals
}

// Signals are the risk facts gathered before the decision.
type Signals struct {
	// NetworkWait and IdentifierWait are the remaining throttle delays for
	// the client's network and the identifier tried.
	NetworkWait    time.Duration
	IdentifierWait time.Duration
	// NetworkFailures and IdentifierFailures are the recent failure counts.
	NetworkFailures    int
	IdentifierFailures int
	// KnownDevice is true when the device has held a session of the
	// identity before.
	KnownDevice bool
	// ClonedAuthenticator is true when a passkey's signature verified
	// but its signature counter did not go up: the authenticator may
	// have been copied.
	ClonedAuthenticator bool
}

// Decision is the answer.
type Decision struct {
	Effect     Effect
	Reason     string
	Require    []string
	RetryAfter time.Duration
	// Policy names the policy (and version) that decided, for the event
	// log and for replay.
	Policy string
}

// Allowed reports whether the action may go ahead as asked.
func (d Decision) Allowed() bool { return d.Effect == Allow }

// Decider is the decision point.
type Decider interface {
	Decide(ctx context.Context, in Input) Decision
}

// Default is the built-in customer policy:
//   - throttle when the client's network or the identifier tried must
//     still wait — unless the request comes from a device the customer
//     has signed in from before (so an attacker cannot lock the owner out);
//   - ask for email verification before a session when the domain
//     requires verified email (RequireVerifiedEmail) and it is not verified;
//   - ask for the second factor at sign-in when the customer set one up;
//   - deny disabled identities;
//   - deny a sign-in with a passkey whose authenticator looks cloned,
//     unless AllowClonedPasskeys (the event log flags it either way);
//   - allow everything else.
type Default struct {
	RequireVerifiedEmail bool
	// AllowClonedPasskeys lets a passkey whose signature counter went
	// backwards still sign in. Some authenticators get counters wrong;
	// an operator who sees only those in the event log may allow them.
	AllowClonedPasskeys bool
}

// Name identifies the policy in decisions.
const defaultName = "builtin/default@1"

// Decide implements Decider.
func (p Default) Decide(_ context.Context, in Input) Decision {
	d := Decision{Effect: Allow, Policy: defaultName}
	switch in.Action {
	case LoginSubmit, RegistrationSubmit, VerificationSend, VerificationSubmit, SecondFactorSubmit:
		// A device that has held a session of this identity before is
		// the owner's (its cookie came from a successful sign-in): it is
		// not held back, so nobody can lock the owner out.
		if !in.Signals.KnownDevice && max(in.Signals.NetworkWait, in.Signals.IdentifierWait) > 0 {
			wait := max(in.Signals.NetworkWait, in.Signals.IdentifierWait)
			return Decision{Effect: Throttle, Reason: "too_many_attempts", RetryAfter: wait, Policy: defaultName}
		}
	}
	switch in.Action {
	case SessionIssue:
		if in.IdentityState == "disabled" {
			return Decision{Effect: Deny, Reason: "identity_disabled", Policy: defaultName}
		}
		if in.Signals.ClonedAuthenticator && !p.AllowClonedPasskeys {
			return Decision{Effect: Deny, Reason: "passkey_cloned", Policy: defaultName}
		}
		if p.RequireVerifiedEmail && !in.EmailVerified {
			return Decision{Effect: StepUp, Reason: "email_not_verified", Require: []string{StepVerifyEmail}, Policy: defaultName}
		}
		// A customer who set up a second factor chose to be asked for it.
		if in.SecondFactor && !HasSecondFactor(in.Methods) {
			return Decision{Effect: StepUp, Reason: "second_factor_enrolled", Require: []string{StepSecondFactor}, Policy: defaultName}
		}
	}
	return d
}
