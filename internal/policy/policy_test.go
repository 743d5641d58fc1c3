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
		{"network throttled", Input{Action: LoginSubmit, Signals: Signals{NetworkWait: time.Second}}, Throttle, "too_many_attempts"},
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
