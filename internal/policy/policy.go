package policy

import (
	"context"
	"math/bits"
	"time"
)

// Action names a decision point.
type Action string

// The decision points of the first journeys.
const (
	// FlowStart: a journey (flow) is about to start; each is a stored row.
	FlowStart          Action = "flow.start"
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
	// Challenge asks the client to solve a proof-of-work challenge of
	// Decision.Difficulty and try again (see package challenge).
	Challenge Effect = "challenge"
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

// Input is the context of one decision. It is recorded with the decision
// (package decision) as compact JSON: Domain, Action and Time are the
// record's own columns, and empty fields are left out.
type Input struct {
	Domain string    `json:"-"`
	Action Action    `json:"-"`
	Time   time.Time `json:"-"`

	FlowID    string `json:"flow,omitempty"`
	SessionID string `json:"session,omitempty"`
	ClientIP  string `json:"ip,omitempty"`
	UserAgent string `json:"ua,omitempty"`
	DeviceID  string `json:"device,omitempty"`

	// ClientID is the app (OAuth client) the decision is about, if any.
	ClientID string `json:"client,omitempty"`

	// Identity, when known.
	IdentityID    string `json:"identity,omitempty"`
	IdentityState string `json:"state,omitempty"`
	EmailVerified bool   `json:"verified,omitempty"`
	// SecondFactor is true when the identity has a second factor: for
	// session.issue an authenticator app (asked for at sign-in); for
	// methods.change an authenticator app or a passkey (either raises a
	// session to aal2).
	SecondFactor bool `json:"second_factor,omitempty"`
	// Methods are the authentication methods passed so far.
	Methods []string `json:"methods,omitempty"`

	Signals Signals `json:"signals,omitzero"`
}

// Signals are the risk facts gathered before the decision.
type Signals struct {
	// NetworkWait and IdentifierWait are the remaining throttle delays for
	// the client's network and the identifier tried.
	NetworkWait    time.Duration `json:"network_wait,omitempty"`
	IdentifierWait time.Duration `json:"identifier_wait,omitempty"`
	// NetworkFailures and IdentifierFailures are the recent failure counts.
	NetworkFailures    int `json:"network_failures,omitempty"`
	IdentifierFailures int `json:"identifier_failures,omitempty"`
	// IdentifierWideWait is the remaining delay of the identifier counted
	// from every network (the codes mailed to an address from anywhere):
	// many networks together. It is answered with a challenge, not a wait,
	// so that the owner on a new device still gets through.
	IdentifierWideWait time.Duration `json:"identifier_wide_wait,omitempty"`
	// KnownDevice is true when the device has held a session of the
	// identity before.
	KnownDevice bool `json:"known_device,omitempty"`
	// DeviceWait is the remaining delay of a known device's own count on
	// the identity: a known device passes the identity's and the
	// network's limits, but has one of its own, so that a device id that
	// leaked (a shared computer, a guessable id) is no key to unlimited
	// attempts.
	DeviceWait time.Duration `json:"device_wait,omitempty"`
	// ChallengeSolved is true when the request carries a solved
	// proof-of-work challenge made for its network, not used before.
	ChallengeSolved bool `json:"challenge_solved,omitempty"`
	// ClonedAuthenticator is true when a passkey's signature verified
	// but its signature counter did not go up: the authenticator may
	// have been copied.
	ClonedAuthenticator bool `json:"cloned_authenticator,omitempty"`
}

// Decision is the answer.
type Decision struct {
	Effect     Effect
	Reason     string
	Require    []string
	RetryAfter time.Duration
	// Difficulty is what a Challenge asks: leading zero bits of the
	// proof of work.
	Difficulty int
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
//   - throttle the start of journeys from a network past its share;
//   - let a device the customer has signed in from before through every
//     limit but the second factor's (so an attacker cannot lock the owner
//     out), within a limit of its own;
//   - throttle when the identifier tried (an address, an account) must
//     still wait;
//   - challenge when the identifier counted from every network must
//     wait (codes mailed to one address from many networks);
//   - challenge when the client's network must still wait, unless the
//     request carries a solved challenge: many customers may share one
//     address (a carrier NAT, an office), and one of them failing, or an
//     attacker among them, must not refuse the others' right answers —
//     each attempt costs a moment of work instead, which grows with the
//     network's failures;
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
	// ChallengeBits is the difficulty of the first challenge a network
	// gets (leading zero bits of SHA-256: about 2^bits hashes, a tenth of
	// a second in a desktop browser at 16, a few tenths on a slow phone);
	// 0 means 16. Each doubling of the network's failures adds a bit, up
	// to ChallengeBits+3: every bit doubles a customer's wait as much as an
	// attacker's, and a phone hashes tens of times slower than an
	// attacker's native code.
	ChallengeBits int
}

// difficulty is the challenge for a network with failures.
func (p Default) difficulty(failures int) int {
	base := p.ChallengeBits
	if base <= 0 {
		base = 16
	}
	return base + min(bits.Len(uint(max(failures, 0))/8), 3)
}

// Name identifies the policy in decisions.
const defaultName = "builtin/default@1"

// Decide implements Decider.
func (p Default) Decide(_ context.Context, in Input) Decision {
	d := Decision{Effect: Allow, Policy: defaultName}
	if in.Action == FlowStart && in.Signals.NetworkWait > 0 && !in.Signals.KnownDevice {
		// Starting is cheap to ask for and costs a row: past its share a
		// network waits. The limit is generous; journeys under way go on.
		return Decision{Effect: Throttle, Reason: "too_many_flows", RetryAfter: in.Signals.NetworkWait, Policy: defaultName}
	}
	switch in.Action {
	case LoginSubmit, RegistrationSubmit, VerificationSend, VerificationSubmit, SecondFactorSubmit:
		// A device that has held a session of this identity before is
		// the owner's (its cookie came from a successful sign-in): it is
		// not held back, so nobody can lock the owner out.
		sig := in.Signals
		switch {
		case sig.KnownDevice && in.Action != SecondFactorSubmit:
			// Not for the second factor: it is what stands between a
			// stolen password and the account, on any device.
			if sig.DeviceWait > 0 {
				return Decision{Effect: Throttle, Reason: "too_many_attempts", RetryAfter: sig.DeviceWait, Policy: defaultName}
			}
		case sig.IdentifierWait > 0:
			return Decision{Effect: Throttle, Reason: "too_many_attempts", RetryAfter: sig.IdentifierWait, Policy: defaultName}
		case (sig.NetworkWait > 0 || sig.IdentifierWideWait > 0) && !sig.ChallengeSolved:
			reason := "network_busy"
			if sig.NetworkWait == 0 {
				reason = "identifier_busy"
			}
			return Decision{Effect: Challenge, Reason: reason, RetryAfter: max(sig.NetworkWait, sig.IdentifierWideWait),
				Difficulty: p.difficulty(sig.NetworkFailures), Policy: defaultName}
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
