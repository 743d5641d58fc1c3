package policy

import (
	"context"
	"testing"
	"time"
)

func TestDefault(t *testing.T) {
	p := Default{RequireVerifiedEmail: true}
	tests := []struct {
		name   string
		in     Input
		effect Effect
		reason string
	}{
		{"plain login", Input{Action: LoginSubmit}, Allow, ""},
		{"flow start", Input{Action: FlowStart}, Allow, ""},
		{"flow starts past the network's share", Input{Action: FlowStart, Signals: Signals{NetworkWait: time.Second}}, Throttle, "too_many_flows"},
		{"busy network challenged", Input{Action: LoginSubmit, Signals: Signals{NetworkWait: time.Second}}, Challenge, "network_busy"},
		{"busy network, challenge solved", Input{Action: LoginSubmit, Signals: Signals{NetworkWait: time.Second, ChallengeSolved: true}}, Allow, ""},
		{"identifier throttled on a busy network", Input{Action: LoginSubmit, Signals: Signals{NetworkWait: time.Second, IdentifierWait: time.Second, ChallengeSolved: true}}, Throttle, "too_many_attempts"},
		{"busy network at sign-up", Input{Action: RegistrationSubmit, Signals: Signals{NetworkWait: time.Second}}, Challenge, "network_busy"},
		{"many accounts failing from one network", Input{Action: LoginSubmit, Signals: Signals{NetworkSpread: 10}}, Challenge, "credential_stuffing"},
		{"a few accounts failing from one network", Input{Action: LoginSubmit, Signals: Signals{NetworkSpread: 9}}, Allow, ""},
		{"stuffing source, challenge solved", Input{Action: LoginSubmit, Signals: Signals{NetworkSpread: 50, ChallengeSolved: true}}, Allow, ""},
		{"stuffing source, known device", Input{Action: LoginSubmit, Signals: Signals{NetworkSpread: 50, KnownDevice: true}}, Allow, ""},
		{"address limit for codes", Input{Action: VerificationSend, Signals: Signals{IdentifierWait: time.Minute}}, Throttle, "too_many_attempts"},
		{"known device does not pass the second factor's limit", Input{Action: SecondFactorSubmit, Signals: Signals{IdentifierWait: time.Second, KnownDevice: true}}, Throttle, "too_many_attempts"},
		{"known device past its own limit", Input{Action: LoginSubmit, Signals: Signals{IdentifierWait: time.Second, KnownDevice: true, DeviceWait: time.Minute}}, Throttle, "too_many_attempts"},
		{"address busy from many networks", Input{Action: VerificationSend, Signals: Signals{IdentifierWideWait: time.Minute}}, Challenge, "identifier_busy"},
		{"address busy from many networks, challenge solved", Input{Action: VerificationSend, Signals: Signals{IdentifierWideWait: time.Minute, ChallengeSolved: true}}, Allow, ""},
		{"owner's device past the address limit", Input{Action: VerificationSend, Signals: Signals{IdentifierWait: time.Minute, KnownDevice: true}}, Allow, ""},
		{"identifier throttled", Input{Action: LoginSubmit, Signals: Signals{IdentifierWait: time.Second}}, Throttle, "too_many_attempts"},
		{"known device passes identifier throttle", Input{Action: LoginSubmit, Signals: Signals{IdentifierWait: time.Second, KnownDevice: true}}, Allow, ""},
		{"known device passes network throttle", Input{Action: LoginSubmit, Signals: Signals{NetworkWait: time.Second, KnownDevice: true}}, Allow, ""},
		{"unverified email", Input{Action: SessionIssue, IdentityState: "active"}, StepUp, "email_not_verified"},
		{"verified email", Input{Action: SessionIssue, IdentityState: "active", EmailVerified: true}, Allow, ""},
		{"disabled", Input{Action: SessionIssue, IdentityState: "disabled", EmailVerified: true}, Deny, "identity_disabled"},
		{"logout", Input{Action: Logout}, Allow, ""},
		{"second factor set up", Input{Action: SessionIssue, IdentityState: "active", EmailVerified: true, SecondFactor: true, Methods: []string{"password"}}, StepUp, "second_factor_enrolled"},
		{"second factor passed", Input{Action: SessionIssue, IdentityState: "active", EmailVerified: true, SecondFactor: true, Methods: []string{"password", "totp"}}, Allow, ""},
		{"cloned passkey", Input{Action: SessionIssue, IdentityState: "active", EmailVerified: true, Methods: []string{"passkey"}, Signals: Signals{ClonedAuthenticator: true}}, Deny, "passkey_cloned"},
	}
	for _, tt := range tests {
		d := p.Decide(context.Background(), tt.in)
		if d.Effect != tt.effect || d.Reason != tt.reason || d.Policy == "" {
			t.Errorf("%s: got %+v, want %s/%s", tt.name, d, tt.effect, tt.reason)
		}
	}
	if d := (Default{}).Decide(context.Background(), Input{Action: SessionIssue, IdentityState: "active"}); !d.Allowed() {
		t.Errorf("unverified allowed when not required: %+v", d)
	}
	cloned := Input{Action: SessionIssue, IdentityState: "active", Methods: []string{"passkey"}, Signals: Signals{ClonedAuthenticator: true}}
	if d := (Default{AllowClonedPasskeys: true}).Decide(context.Background(), cloned); !d.Allowed() {
		t.Errorf("cloned passkey refused though allowed: %+v", d)
	}
}

// A challenge grows harder with the network's failures, within bounds.
func TestChallengeDifficulty(t *testing.T) {
	p := Default{}
	last := 0
	for _, n := range []int{0, 8, 16, 64, 1000, 1 << 30} {
		d := p.Decide(context.Background(), Input{Action: LoginSubmit, Signals: Signals{NetworkWait: time.Second, NetworkFailures: n}})
		if d.Effect != Challenge || d.Difficulty < last || d.Difficulty < 16 || d.Difficulty > 19 || d.RetryAfter != time.Second {
			t.Fatalf("%d failures: %+v (previous difficulty %d)", n, d, last)
		}
		last = d.Difficulty
	}
	if last != 19 {
		t.Fatalf("difficulty tops out at %d, want 19", last)
	}
	if d := (Default{ChallengeBits: 4}).Decide(context.Background(), Input{Action: LoginSubmit, Signals: Signals{NetworkWait: time.Second}}); d.Difficulty != 4 {
		t.Fatalf("ChallengeBits 4 gave %d", d.Difficulty)
	}
}

// Changing how one signs in needs a fresh sign-in, at aal2 when the
// customer has a second factor; the freshness is the policy's parameter.
func TestMethodsChangeFreshness(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	change := func(p Default, aal string, age time.Duration, second bool) Decision {
		return p.Decide(context.Background(), Input{Action: MethodsChange, Time: now, AAL: aal, AuthenticatedAt: now.Add(-age), SecondFactor: second})
	}
	tests := []struct {
		name    string
		p       Default
		aal     string
		age     time.Duration
		second  bool
		effect  Effect
		require string
	}{
		{"fresh, one factor, none set up", Default{}, "aal1", 9 * time.Minute, false, Allow, ""},
		{"stale, one factor", Default{}, "aal1", 11 * time.Minute, false, StepUp, StepReauthenticate},
		{"fresh aal1 with a second factor", Default{}, "aal1", time.Minute, true, StepUp, StepSecondFactor},
		{"stale aal2", Default{}, "aal2", 11 * time.Minute, true, StepUp, StepSecondFactor},
		{"fresh aal2", Default{}, "aal2", time.Minute, true, Allow, ""},
		{"fresher rule", Default{FreshFor: 2 * time.Minute}, "aal1", 3 * time.Minute, false, StepUp, StepReauthenticate},
		{"looser rule", Default{FreshFor: time.Hour}, "aal1", 30 * time.Minute, false, Allow, ""},
	}
	for _, tt := range tests {
		d := change(tt.p, tt.aal, tt.age, tt.second)
		if d.Effect != tt.effect || (tt.require != "" && (len(d.Require) != 1 || d.Require[0] != tt.require)) {
			t.Errorf("%s: got %+v, want %s %s", tt.name, d, tt.effect, tt.require)
		}
	}
	if d := (Default{}).Decide(context.Background(), Input{Action: MethodsChange, Time: now}); d.Effect != StepUp {
		t.Errorf("a session that never proved a factor may change methods: %+v", d)
	}
}

// An app's assurance requirement (its own, or the domain's for its apps)
// is the policy's: two factors when the customer has them, a refusal when
// not; a request's wish for aal2 asks only when it can be met.
func TestAuthorizeAppAssurance(t *testing.T) {
	authorize := func(p Default, client, requested, aal string, second bool) Decision {
		return p.Decide(context.Background(), Input{Action: AuthorizeApp, ClientAAL: client, RequestedAAL: requested, AAL: aal, SecondFactor: second})
	}
	tests := []struct {
		name         string
		p            Default
		client, wish string
		aal          string
		second       bool
		effect       Effect
		reason       string
	}{
		{"no requirement", Default{}, "", "", "aal1", false, Allow, ""},
		{"app requires aal2, customer has a factor", Default{}, "aal2", "", "aal1", true, StepUp, "app_requires_aal2"},
		{"app requires aal2, customer has none", Default{}, "aal2", "", "aal1", false, Deny, "second_factor_not_set_up"},
		{"app requires aal2, session has it", Default{}, "aal2", "", "aal2", true, Allow, ""},
		{"wish for aal2 with a factor", Default{}, "", "aal2", "aal1", true, StepUp, "aal2_requested"},
		{"wish for aal2 without", Default{}, "", "aal2", "aal1", false, Allow, ""},
		{"domain's apps require aal2", Default{AppAAL: "aal2"}, "", "", "aal1", true, StepUp, "app_requires_aal2"},
		{"an app says aal1 in an aal2 domain", Default{AppAAL: "aal2"}, "aal1", "", "aal1", true, Allow, ""},
	}
	for _, tt := range tests {
		d := authorize(tt.p, tt.client, tt.wish, tt.aal, tt.second)
		if d.Effect != tt.effect || d.Reason != tt.reason {
			t.Errorf("%s: got %+v, want %s/%s", tt.name, d, tt.effect, tt.reason)
		}
	}
}

// The journeys' limits are the policy's parameters, with defaults.
func TestJourneyLimits(t *testing.T) {
	if got := (Default{}).JourneyLimits(); got != DefaultLimits() {
		t.Fatalf("zero limits = %+v", got)
	}
	l := DefaultLimits()
	l.MaxCodeAttempts = 3
	if got := (Default{Limits: l}).JourneyLimits(); got.MaxCodeAttempts != 3 {
		t.Fatalf("limits = %+v", got)
	}
	var _ Limited = Default{}
	var _ Stepper = Default{}
}

// A sign-in unlike the customer's asks for the strongest proof they have,
// once: impossible travel, a new device in a new country, or a new device
// right after failed passwords.
func TestSignInRisk(t *testing.T) {
	p := Default{}
	issue := func(sig Signals, second bool, methods ...string) Decision {
		return p.Decide(context.Background(), Input{Action: SessionIssue, IdentityState: "active", EmailVerified: true,
			SecondFactor: second, Methods: append([]string{"password"}, methods...), Signals: sig})
	}
	tests := []struct {
		name    string
		sig     Signals
		second  bool
		methods []string
		effect  Effect
		reason  string
		require string
	}{
		{"known device at home", Signals{KnownDevice: true}, false, nil, Allow, "", ""},
		{"new device, same country", Signals{}, false, nil, Allow, "", ""},
		{"new device, new country", Signals{NewCountry: true}, false, nil, StepUp, "new_device_new_country", StepEmailCode},
		{"known device, new country", Signals{KnownDevice: true, NewCountry: true}, false, nil, Allow, "", ""},
		{"impossible travel, known device", Signals{KnownDevice: true, TravelKmh: 5000}, false, nil, StepUp, "impossible_travel", StepEmailCode},
		{"a plane is possible", Signals{TravelKmh: 800}, false, nil, Allow, "", ""},
		{"new device after failures", Signals{IdentifierFailures: 3}, false, nil, StepUp, "recent_failures", StepEmailCode},
		{"known device after failures", Signals{KnownDevice: true, IdentifierFailures: 9}, false, nil, Allow, "", ""},
		{"with a second factor", Signals{NewCountry: true}, true, nil, StepUp, "new_device_new_country", StepSecondFactor},
		{"the code was given", Signals{NewCountry: true}, false, []string{"email_code"}, Allow, "", ""},
		{"a passkey", Signals{TravelKmh: 5000}, false, []string{"passkey"}, Allow, "", ""},
	}
	for _, tt := range tests {
		d := issue(tt.sig, tt.second, tt.methods...)
		if d.Effect != tt.effect || d.Reason != tt.reason || (tt.require != "" && (len(d.Require) != 1 || d.Require[0] != tt.require)) {
			t.Errorf("%s: got %+v, want %s/%s %s", tt.name, d, tt.effect, tt.reason, tt.require)
		}
	}
}

// In the cool-off after a recovery, what would lock the owner out for
// good is refused, whatever the session; what is not (a new password, a
// name, a factor added) follows the usual rules. A password change needs
// the current password or a fresh sign-in; an email change what a methods
// change needs.
func TestAccountChanges(t *testing.T) {
	now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
	fresh, stale := now.Add(-time.Minute), now.Add(-time.Hour)
	tests := []struct {
		name    string
		in      Input
		effect  Effect
		reason  string
		require string
	}{
		{"email, recovered", Input{Action: AccountChange, Change: ChangeEmail, AAL: "aal2", AuthenticatedAt: fresh, Signals: Signals{RecentlyRecovered: true}}, Deny, "recently_recovered", ""},
		{"factor removal, recovered", Input{Action: MethodsChange, Change: ChangeRemoveFactor, AAL: "aal2", AuthenticatedAt: fresh, Signals: Signals{RecentlyRecovered: true}}, Deny, "recently_recovered", ""},
		{"only passkey, recovered", Input{Action: MethodsChange, Change: ChangeOnlyPasskey, AuthenticatedAt: fresh, Signals: Signals{RecentlyRecovered: true}}, Deny, "recently_recovered", ""},
		{"factor added, recovered", Input{Action: MethodsChange, Change: ChangeAddFactor, AuthenticatedAt: fresh, Signals: Signals{RecentlyRecovered: true}}, Allow, "", ""},
		{"password, recovered, fresh", Input{Action: AccountChange, Change: ChangePassword, AuthenticatedAt: fresh, Signals: Signals{RecentlyRecovered: true}}, Allow, "", ""},
		{"factor removal, not recovered", Input{Action: MethodsChange, Change: ChangeRemoveFactor, AAL: "aal2", SecondFactor: true, AuthenticatedAt: fresh}, Allow, "", ""},
		{"password, stale", Input{Action: AccountChange, Change: ChangePassword, AuthenticatedAt: stale}, StepUp, "sign_in_not_fresh", StepReauthenticate},
		{"password, stale, current password given", Input{Action: AccountChange, Change: ChangePassword, AuthenticatedAt: stale, Methods: []string{"password"}}, Allow, "", ""},
		{"traits, stale", Input{Action: AccountChange, Change: ChangeTraits, AuthenticatedAt: stale}, Allow, "", ""},
		{"email, stale", Input{Action: AccountChange, Change: ChangeEmail, AuthenticatedAt: stale}, StepUp, "sign_in_not_fresh", StepReauthenticate},
		{"email, aal1 with a second factor", Input{Action: AccountChange, Change: ChangeEmail, AAL: "aal1", SecondFactor: true, AuthenticatedAt: fresh}, StepUp, "second_factor_required", StepSecondFactor},
		{"email, fresh", Input{Action: AccountChange, Change: ChangeEmail, AAL: "aal1", AuthenticatedAt: fresh}, Allow, "", ""},
		{"recovery of a disabled account", Input{Action: RecoveryComplete, IdentityState: "disabled"}, Deny, "identity_disabled", ""},
		{"recovery", Input{Action: RecoveryComplete, IdentityState: "active", Methods: []string{"email_code"}}, Allow, "", ""},
	}
	for _, tt := range tests {
		tt.in.Time = now
		d := Default{}.Decide(context.Background(), tt.in)
		if d.Effect != tt.effect || d.Reason != tt.reason || (tt.require != "" && (len(d.Require) != 1 || d.Require[0] != tt.require)) {
			t.Errorf("%s: got %+v, want %s %s %s", tt.name, d, tt.effect, tt.reason, tt.require)
		}
	}
}
