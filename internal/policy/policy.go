package policy

import (
	"context"
	"encoding/json"
	"math/bits"
	"slices"
	"strings"
	"time"

	"github.com/foyer-id/foyer/internal/throttle"
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
	// PasskeyChallenge: a passkey sign-in challenge is about to be made
	// (a stored row; the sign-in page asks for one on every view).
	PasskeyChallenge Action = "passkey.challenge"
	// SessionStepUp: a live session is about to be raised to aal2 by a
	// second factor the customer just passed.
	SessionStepUp Action = "session.step_up"
	// MethodsChange: a customer is about to add or remove a way of
	// signing in (authenticator app, recovery codes, passkey).
	MethodsChange Action = "methods.change"
	// TokenIssue: an access token is about to be issued (code exchange,
	// refresh, client credentials).
	TokenIssue Action = "token.issue"
	// RecoveryComplete: a customer who proved a recovery channel (an
	// emailed code, a recovery code) is about to set a new password and
	// get a session. Input.Methods is the proof.
	RecoveryComplete Action = "recovery.complete"
	// AccountChange: a signed-in customer is about to change something
	// an account is recovered or taken over with (Input.Change names it):
	// the password, the email address, a second factor.
	AccountChange Action = "account.change"
	// AccountRevert: the owner is about to undo a change with a "this
	// wasn't me" link (Input.Change names the change's kind), which also
	// signs every device out and protects the account.
	AccountRevert Action = "account.revert"
)

// Actions are every decision point, in the order of a journey.
var Actions = []Action{FlowStart, RegistrationSubmit, VerificationSend, VerificationSubmit, LoginSubmit,
	PasskeyChallenge, SecondFactorSubmit, SessionIssue, SessionStepUp, AuthorizeApp, TokenIssue,
	MethodsChange, AccountChange, RecoveryComplete, AccountRevert, Logout}

// Changes an AccountChange (and a MethodsChange) decision is about.
const (
	ChangePassword = "password"
	ChangeEmail    = "email"
	ChangePhone    = "phone"
	ChangeTraits   = "traits"
	// ChangeRemoveFactor: turning off the authenticator app, removing a
	// passkey or recovery codes.
	ChangeRemoveFactor = "remove_factor"
	// ChangeAddFactor: adding an authenticator app, a passkey or
	// recovery codes; ChangeOnlyPasskey a passkey to an account with no
	// password (it would become the only way in).
	ChangeAddFactor   = "add_factor"
	ChangeOnlyPasskey = "only_passkey"
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

// Steps a decision may require before the action completes. Each journey
// serves them from a state of its own (flow's table of states); a policy
// that may require a step no journey serves is refused at start
// (Stepper).
const (
	StepVerifyEmail  = "verify_email"
	StepSecondFactor = "second_factor"
	// StepReauthenticate: sign in again (a session too old for what it
	// asks).
	StepReauthenticate = "reauthenticate"
	// StepEmailCode: prove the mailbox with a code mailed to the
	// verified address (a sign-in that looks unlike the customer's, by a
	// customer with no second factor).
	StepEmailCode = "email_code"
	// StepNewPassword: choose a new password before the session (the one
	// the sign-in passed with is on the breached and common list).
	StepNewPassword = "new_password"
)

// Stepper is a policy that says which steps its decisions may require,
// so that one no journey can serve is found at start, not met as a
// refusal.
type Stepper interface {
	Steps() []string
}

// Limits are the counts and waits the journeys keep for a policy: the
// throttle rules (free failures, then doubling waits) and the bounds on
// emailed codes. The journeys count; the policy decides what the counts
// mean.
type Limits struct {
	// Login counts password and second-factor attempts, per network and
	// per account.
	Login throttle.Rule
	// Code counts code entry and sending per network.
	Code throttle.Rule
	// CodeSend counts the codes mailed to an address as asked from one
	// network; CodeSendAddress from everywhere, looser.
	CodeSend        throttle.Rule
	CodeSendAddress throttle.Rule
	// Registration counts sign-ups per network.
	Registration throttle.Rule
	// FlowStart counts journeys (and authorization requests) started per
	// network: each is a stored row.
	FlowStart throttle.Rule
	// PasskeyChallenge counts passkey sign-in challenges per network: each
	// is a stored row, and a page with passkey autofill asks for one on
	// every view, so many customers behind one address need room.
	PasskeyChallenge throttle.Rule
	// MaxCodeAttempts is how many wrong codes one code survives;
	// MaxCodesPerFlow how many codes a journey may send, each at least
	// ResendAfter after the one before.
	MaxCodeAttempts int
	MaxCodesPerFlow int
	ResendAfter     time.Duration
}

// DefaultLimits are the limits of a domain that sets none.
func DefaultLimits() Limits {
	return Limits{
		Login:            throttle.Rule{Free: 5, Base: time.Second, Max: 5 * time.Minute, Window: time.Hour},
		Code:             throttle.Rule{Free: 20, Base: time.Second, Max: 5 * time.Minute, Window: time.Hour},
		CodeSend:         throttle.Rule{Free: 5, Base: time.Minute, Max: 15 * time.Minute, Window: time.Hour},
		CodeSendAddress:  throttle.Rule{Free: 20, Base: time.Minute, Max: 15 * time.Minute, Window: time.Hour},
		Registration:     throttle.Rule{Free: 100, Base: time.Second, Max: time.Minute, Window: 10 * time.Minute},
		FlowStart:        throttle.Rule{Free: 1000, Base: time.Second, Max: time.Minute, Window: 10 * time.Minute},
		PasskeyChallenge: throttle.Rule{Free: 600, Base: time.Second, Max: time.Minute, Window: 10 * time.Minute},
		MaxCodeAttempts:  5,
		MaxCodesPerFlow:  5,
		ResendAfter:      30 * time.Second,
	}
}

// Limited is a policy that sets the journeys' limits; for one that does
// not, they are DefaultLimits.
type Limited interface {
	JourneyLimits() Limits
}

// AAL2 is the assurance level of two factors (NIST SP 800-63B), the only
// one above the first a policy asks for.
const AAL2 = "aal2"

// SecondFactorMethods are the methods that give two factors: a second
// factor, or a passkey with user verification (possession of the device
// plus the biometric or PIN that unlocked it).
// An upstream provider's sign-in that used two factors there counts
// (provider_mfa) only for the provider's mfa_values the operator trusts.
var SecondFactorMethods = []string{"totp", "recovery_code", "passkey", "provider_mfa"}

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
	// AAL is the assurance level of the session the decision is about,
	// and AuthenticatedAt when it last proved a factor.
	AAL             string    `json:"aal,omitempty"`
	AuthenticatedAt time.Time `json:"auth_at,omitzero"`
	// ClientAAL is the assurance level the app requires of every sign-in
	// ("" for the domain's policy), RequestedAAL what this request asked
	// for (acr_values: a wish, not a demand).
	ClientAAL    string `json:"client_aal,omitempty"`
	RequestedAAL string `json:"requested_aal,omitempty"`
	// Change is what an account.change or methods.change decision is
	// about (Change…).
	Change string `json:"change,omitempty"`

	// Email is the address the journey is about (typed at sign-up or
	// sign-in, or the account's); Traits what a sign-up typed.
	Email  string         `json:"email,omitempty"`
	Traits map[string]any `json:"traits,omitempty"`
	// Factors are the ways in the identity has besides its password and
	// address (totp, passkey, recovery_code, phone), where the step read
	// them.
	Factors []string `json:"factors,omitempty"`
	// FirstParty is true when the app (ClientID) is the business's own.
	FirstParty bool `json:"first_party,omitempty"`
	// Provider is the upstream provider (its id in the configuration) a
	// sign-in or sign-up passed through, if any.
	Provider string `json:"provider,omitempty"`
	// FlowType is the kind of journey FlowID is (registration, login, …).
	FlowType string `json:"flow_type,omitempty"`
	// Transaction is what an app says is at stake, where it says so
	// (TransactionOf).
	Transaction map[string]any `json:"transaction,omitempty"`

	Signals Signals `json:"signals,omitzero"`
}

// MaxUserAgent is how much of a User-Agent a decision sees and keeps.
const MaxUserAgent = 512

// UserAgent is ua as a decision sees and records it: valid UTF-8, at most
// MaxUserAgent bytes. (A header is the sender's bytes: a rule must not be
// made to work through megabytes of it, and replay must see what the rule
// saw.)
func UserAgent(ua string) string {
	ua = strings.ToValidUTF8(ua, "\uFFFD")
	if len(ua) > MaxUserAgent {
		ua = strings.ToValidUTF8(ua[:MaxUserAgent], "")
	}
	return ua
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
	// NetworkSpread is how many distinct accounts (or addresses) began
	// failing from the client's network lately: a password sprayed over
	// many accounts from one source — credential stuffing — where one
	// customer mistyping fails on one.
	NetworkSpread int `json:"network_spread,omitempty"`
	// IdentifierWideWait is the remaining delay of the identifier counted
	// from every network (the codes mailed to an address from anywhere):
	// many networks together. It is answered with a challenge, not a wait,
	// so that the owner on a new device still gets through.
	IdentifierWideWait time.Duration `json:"identifier_wide_wait,omitempty"`
	// KnownDevice is true when the device has held a session of the
	// identity before.
	KnownDevice bool `json:"known_device,omitempty"`
	// DeviceAge is how long ago the device first held a session of the
	// identity (0 for a device new to it), at a sign-in.
	DeviceAge time.Duration `json:"device_age,omitempty"`
	// DeviceWait is the remaining delay of a known device's own count on
	// the identity: a known device passes the identity's and the
	// network's limits, but has one of its own, so that a device id that
	// leaked (a shared computer, a guessable id) is no key to unlimited
	// attempts.
	DeviceWait time.Duration `json:"device_wait,omitempty"`
	// AccountAge is how long ago the identity was created, and
	// SinceLastSignIn how long ago a device last signed in to it (0 for
	// none): a sign-in to an account dormant for months reads apart from
	// one to an account in daily use.
	AccountAge      time.Duration `json:"account_age,omitempty"`
	SinceLastSignIn time.Duration `json:"since_last_sign_in,omitempty"`
	// SinceMethodsChange is how long ago the identity last changed how it
	// signs in (0 for never): a takeover often adds its own factor first.
	SinceMethodsChange time.Duration `json:"since_methods_change,omitempty"`
	// SinceEmailChange is how long ago the identity's email address last
	// changed (0 for never): the address is how an account is recovered,
	// and a takeover often moves it first.
	SinceEmailChange time.Duration `json:"since_email_change,omitempty"`
	// RecentlyRecovered is true while the account is in the cool-off
	// after a recovery: whoever recovered it proved one channel (a
	// mailbox, a recovery code), which an attacker may hold.
	RecentlyRecovered bool `json:"recently_recovered,omitempty"`
	// OriginalFactor is true when the factor a step-up passed with was
	// set up before the account's last recovery: the owner's, not
	// something whoever recovered could have added.
	OriginalFactor bool `json:"original_factor,omitempty"`
	// Protected is true when the owner said a change to the account was
	// not theirs ("this wasn't me"): a password alone no longer signs in,
	// until a sign-in passes with the owner's own channel.
	Protected bool `json:"protected,omitempty"`
	// BreachedPassword is true when the password a sign-in passed with is
	// on the list of breached and common passwords.
	BreachedPassword bool `json:"breached_password,omitempty"`
	// SiteSpike is true while sign-in failures across the whole site
	// spike far above their recent rate (package risk, Velocity): stuffing
	// spread over many sources, each too quiet for its own network's
	// limit. SiteFailures is the busiest recent minute's count.
	SiteSpike    bool `json:"site_spike,omitempty"`
	SiteFailures int  `json:"site_failures,omitempty"`
	// ChallengeSolved is true when the request carries a solved
	// proof-of-work challenge made for its network, not used before.
	ChallengeSolved bool `json:"challenge_solved,omitempty"`
	// ClonedAuthenticator is true when a passkey's signature verified
	// but its signature counter did not go up: the authenticator may
	// have been copied.
	ClonedAuthenticator bool `json:"cloned_authenticator,omitempty"`

	// Where the client is (package risk), at a sign-in: its country and
	// autonomous system when a GeoIP database knows them; whether the
	// identity has signed in from that country, or that network, before
	// (false when it has no history to compare with); FirstDevice when it
	// has signed in from no device yet; and TravelKmh, the speed it would
	// have travelled at from its last sign-in's place (0 when unknown).
	Country     string  `json:"country,omitempty"`
	ASN         uint    `json:"asn,omitempty"`
	NewCountry  bool    `json:"new_country,omitempty"`
	NewNetwork  bool    `json:"new_network,omitempty"`
	FirstDevice bool    `json:"first_device,omitempty"`
	TravelKmh   float64 `json:"travel_kmh,omitempty"`
}

// Decision is the answer.
type Decision struct {
	Effect Effect
	// Reason says why, for the record: a code (too_many_attempts) or, from
	// a policy file's rule, words; Message, when set, is what the customer
	// reads of a deny.
	Reason     string
	Message    string
	Require    []string
	RetryAfter time.Duration
	// Difficulty is what a Challenge asks: leading zero bits of the
	// proof of work.
	Difficulty int
	// Policy names the policy (and version) that decided, for the event
	// log and for replay; Rule the rule of a policy file that decided
	// ("" for a built-in policy, or a file's fallback).
	Policy string
	Rule   string
	// SessionLifetime and SessionIdle, when set, bound the session an
	// allowed session.issue creates: how long it lives, and how long it
	// may go unused (0: the domain's settings).
	SessionLifetime time.Duration
	SessionIdle     time.Duration
	// Notify asks that the customer be mailed a security notice of the
	// action, which goes ahead.
	Notify bool
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
//   - challenge every sign-in attempt from a device not known to the
//     account while the site's failures spike (SiteSpike), or from a
//     network where many accounts began failing (NetworkSpread);
//   - challenge when the client's network must still wait, unless the
//     request carries a solved challenge: many customers may share one
//     address (a carrier NAT, an office), and one of them failing, or an
//     attacker among them, must not refuse the others' right answers —
//     each attempt costs a moment of work instead, which grows with the
//     network's failures;
//   - let a session change how the customer signs in only when it signed
//     in within FreshFor, and at aal2 when the customer has a second
//     factor (otherwise a stolen password could replace the passkeys);
//   - send a customer to an app only at the assurance the app requires
//     (its own, or AppAAL for the domain's apps): with the second factor
//     when the customer has one, refused when not; a request's own wish
//     for aal2 (acr_values) asks for the second factor when there is one;
//   - ask for email verification before a session when the domain
//     requires verified email (RequireVerifiedEmail) and it is not verified;
//   - at sign-in, on a new device in a new country or after failed
//     passwords on the account, or after impossible travel (faster than
//     MaxTravelKmh since the last sign-in), ask for
//     the second factor, or a code mailed to the customer's address when
//     there is none — unless the sign-in already used one, or a passkey;
//   - ask for the second factor at sign-in when the customer set one up;
//   - ask for a new password before the session when the one the sign-in
//     passed with is on the breached and common list;
//   - in the cool-off after a recovery (RecentlyRecovered), refuse
//     changing the email address, removing a factor, or a passkey as the
//     only way in; a password change needs the current password or a
//     recent sign-in, an email change what a methods change needs; and
//     only a factor set up before the recovery steps a session up;
//   - deny disabled identities (at sign-in and at recovery);
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
	// Limits are the journeys' counts and code bounds; zero means
	// DefaultLimits.
	Limits Limits
	// FreshFor is how recent a sign-in must be to change how the customer
	// signs in; 0 means 10 minutes.
	FreshFor time.Duration
	// AppAAL is the assurance level the domain's apps require when they
	// say nothing themselves: "" (or aal1) for one factor, aal2 for two.
	AppAAL string
	// SpreadLimit is how many distinct accounts may begin failing from one
	// network (within the login rule's window) before every sign-in
	// attempt from it is challenged; 0 means 10.
	SpreadLimit int
	// MaxTravelKmh is the fastest a customer travels between sign-ins:
	// faster is impossible travel; 0 means 1000 km/h (an airliner's
	// cruise, plus the slack of GeoIP coordinates).
	MaxTravelKmh float64
}

// WithDefaults returns p with each setting left at zero set to what it
// means: the settings a decision is made with (the rules engine's
// `domain` context reads them).
func (p Default) WithDefaults() Default {
	if p.ChallengeBits <= 0 {
		p.ChallengeBits = 16
	}
	p.Limits = p.JourneyLimits()
	p.FreshFor = p.freshFor()
	if p.AppAAL == "" {
		p.AppAAL = "aal1"
	}
	p.SpreadLimit = p.spreadLimit()
	if p.MaxTravelKmh <= 0 {
		p.MaxTravelKmh = 1000
	}
	return p
}

// riskyFailures is how many recent failed passwords on an account make
// its right password, on a device new to it, worth confirming.
const riskyFailures = 3

// riskOf names what makes a sign-in look unlike the customer's, "" for
// nothing: a protected account (its owner undid a change), impossible travel, a new device in a new country, or a new
// device right after failed passwords on the account (a guess that hit).
func (p Default) riskOf(sig Signals) string {
	limit := p.MaxTravelKmh
	if limit <= 0 {
		limit = 1000
	}
	switch {
	case sig.Protected:
		return "account_protected"
	case sig.TravelKmh > limit:
		return "impossible_travel"
	case !sig.KnownDevice && sig.NewCountry:
		return "new_device_new_country"
	case !sig.KnownDevice && sig.IdentifierFailures >= riskyFailures:
		return "recent_failures"
	}
	return ""
}

// strongMethod reports whether methods include one that a password thief
// does not have: a second factor, a passkey, or a code from the mailbox.
func strongMethod(methods []string) bool {
	return HasSecondFactor(methods) || slices.Contains(methods, "email_code")
}

// JourneyLimits implements Limited.
func (p Default) JourneyLimits() Limits {
	if p.Limits == (Limits{}) {
		return DefaultLimits()
	}
	return p.Limits
}

// Steps implements Stepper.
func (p Default) Steps() []string {
	return []string{StepVerifyEmail, StepSecondFactor, StepReauthenticate, StepEmailCode, StepNewPassword}
}

// spreadLimit is SpreadLimit or its default.
func (p Default) spreadLimit() int {
	if p.SpreadLimit <= 0 {
		return 10
	}
	return p.SpreadLimit
}

// freshFor is FreshFor or its default.
func (p Default) freshFor() time.Duration {
	if p.FreshFor <= 0 {
		return 10 * time.Minute
	}
	return p.FreshFor
}

// difficulty is the challenge for a network with failures.
func (p Default) difficulty(failures int) int {
	base := p.ChallengeBits
	if base <= 0 {
		base = 16
	}
	return base + min(bits.Len(uint(max(failures, 0))/8), 3)
}

// restrictedChange reports whether a change is held back in the cool-off
// after a recovery: the email address (or phone) that recovers the
// account, removing a factor, or a passkey as the only way in.
func restrictedChange(change string) bool {
	switch change {
	case ChangeEmail, ChangePhone, ChangeRemoveFactor, ChangeOnlyPasskey:
		return true
	}
	return false
}

// Name identifies the policy in decisions.
const defaultName = "builtin/default@1"

// Decide implements Decider.
func (p Default) Decide(_ context.Context, in Input) Decision {
	d := Decision{Effect: Allow, Policy: defaultName}
	if in.Action == PasskeyChallenge && in.Signals.NetworkWait > 0 {
		return Decision{Effect: Throttle, Reason: "too_many_challenges", RetryAfter: in.Signals.NetworkWait, Policy: defaultName}
	}
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
		case (sig.NetworkWait > 0 || sig.IdentifierWideWait > 0 || (in.Action == LoginSubmit && (sig.SiteSpike || sig.NetworkSpread >= p.spreadLimit()))) && !sig.ChallengeSolved:
			reason := "network_busy"
			switch {
			case sig.NetworkWait > 0:
			case sig.IdentifierWideWait > 0:
				reason = "identifier_busy"
			case sig.NetworkSpread >= p.spreadLimit():
				// Many accounts failing from one source: each attempt
				// from it costs a moment of work, whatever its own count.
				reason = "credential_stuffing"
			default:
				// Stuffing from many sources: every password tried on a
				// device new to its account costs a moment of work.
				reason = "site_under_attack"
			}
			return Decision{Effect: Challenge, Reason: reason, RetryAfter: max(sig.NetworkWait, sig.IdentifierWideWait),
				Difficulty: p.difficulty(sig.NetworkFailures), Policy: defaultName}
		}
	}
	switch in.Action {
	case RecoveryComplete:
		if in.IdentityState == "disabled" {
			return Decision{Effect: Deny, Reason: "identity_disabled", Policy: defaultName}
		}
	case SessionStepUp:
		// In the cool-off, only a factor the account had before the
		// recovery raises a session: recovery codes may be what recovered
		// it, and a factor added since may be the intruder's.
		if in.Signals.RecentlyRecovered && !in.Signals.OriginalFactor {
			return Decision{Effect: Deny, Reason: "recently_recovered", Policy: defaultName}
		}
	case AccountChange, MethodsChange:
		// In the cool-off after a recovery, whoever recovered may hold only
		// the channel that recovered: nothing that would lock the owner out
		// for good, or vouch for the intruder later.
		if in.Signals.RecentlyRecovered && restrictedChange(in.Change) {
			return Decision{Effect: Deny, Reason: "recently_recovered", Policy: defaultName}
		}
	}
	switch in.Action {
	case AccountChange:
		stale := in.AuthenticatedAt.IsZero() || in.Time.Sub(in.AuthenticatedAt) > p.freshFor()
		switch in.Change {
		case ChangePassword:
			// The current password, or a recent sign-in, proves it is the
			// customer at the keyboard, not someone at an unlocked screen.
			if stale && !slices.Contains(in.Methods, "password") {
				return Decision{Effect: StepUp, Reason: "sign_in_not_fresh", Require: []string{StepReauthenticate}, Policy: defaultName}
			}
		case ChangeEmail, ChangePhone:
			// The address (or number) recovers the account: changing it
			// asks what changing a sign-in method asks.
			switch {
			case in.SecondFactor && in.AAL != AAL2:
				return Decision{Effect: StepUp, Reason: "second_factor_required", Require: []string{StepSecondFactor}, Policy: defaultName}
			case stale && in.SecondFactor:
				return Decision{Effect: StepUp, Reason: "sign_in_not_fresh", Require: []string{StepSecondFactor}, Policy: defaultName}
			case stale:
				return Decision{Effect: StepUp, Reason: "sign_in_not_fresh", Require: []string{StepReauthenticate}, Policy: defaultName}
			}
		}
	case MethodsChange:
		stale := in.AuthenticatedAt.IsZero() || in.Time.Sub(in.AuthenticatedAt) > p.freshFor()
		switch {
		case in.SecondFactor && in.AAL != AAL2:
			return Decision{Effect: StepUp, Reason: "second_factor_required", Require: []string{StepSecondFactor}, Policy: defaultName}
		case in.SecondFactor && stale:
			return Decision{Effect: StepUp, Reason: "sign_in_not_fresh", Require: []string{StepSecondFactor}, Policy: defaultName}
		case stale:
			return Decision{Effect: StepUp, Reason: "sign_in_not_fresh", Require: []string{StepReauthenticate}, Policy: defaultName}
		}
	case AuthorizeApp:
		required := in.ClientAAL == AAL2 || (in.ClientAAL == "" && p.AppAAL == AAL2)
		if (required || in.RequestedAAL == AAL2) && in.AAL != AAL2 {
			switch {
			case in.SecondFactor && required:
				return Decision{Effect: StepUp, Reason: "app_requires_aal2", Require: []string{StepSecondFactor}, Policy: defaultName}
			case in.SecondFactor:
				return Decision{Effect: StepUp, Reason: "aal2_requested", Require: []string{StepSecondFactor}, Policy: defaultName}
			case required:
				return Decision{Effect: Deny, Reason: "second_factor_not_set_up", Policy: defaultName}
			}
			// acr_values is a wish: without a second factor the app gets
			// aal1, and sees it in acr.
		}
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
		// A sign-in unlike the customer's asks for the strongest proof the
		// customer has: the second factor, or a code from the mailbox.
		if reason := p.riskOf(in.Signals); reason != "" && !strongMethod(in.Methods) {
			step := StepEmailCode
			if in.SecondFactor {
				step = StepSecondFactor
			}
			return Decision{Effect: StepUp, Reason: reason, Require: []string{step}, Policy: defaultName}
		}
		// A customer who set up a second factor chose to be asked for it.
		if in.SecondFactor && !HasSecondFactor(in.Methods) {
			return Decision{Effect: StepUp, Reason: "second_factor_enrolled", Require: []string{StepSecondFactor}, Policy: defaultName}
		}
		// A password everyone tries is no secret: once the customer has
		// proved the rest, it is replaced before the session.
		if in.Signals.BreachedPassword && slices.Contains(in.Methods, "password") {
			return Decision{Effect: StepUp, Reason: "breached_password", Require: []string{StepNewPassword}, Policy: defaultName}
		}
	}
	return d
}

// TransactionOf is the Transaction of an authorization request that
// carries authorization details (RFC 9396, a JSON array of objects):
// {"details": [...]}, each object as the app sent it.
func TransactionOf(details json.RawMessage) map[string]any {
	list := []any{}
	if details != nil {
		_ = json.Unmarshal(details, &list)
	}
	return map[string]any{"details": list}
}
