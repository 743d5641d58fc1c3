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
