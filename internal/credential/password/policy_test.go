package password_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/foyer-id/foyer/internal/credential/password"
)

func TestPolicyCheck(t *testing.T) {
	def := password.DefaultPolicy()
	email := "alice.wonder@example.com"
	longPassphrase := "the quiet lighthouse keeper paints violet storms every second tuesday"
	tests := []struct {
		name      string
		policy    password.Policy
		password  string
		context   []string
		want      string // reason; "" for accepted
		wantLimit int
	}{
		// Length, counted in code points after NFKC.
		{"empty", def, "", nil, password.ReasonEmpty, 0},
		{"not UTF-8", def, "\xff\xfe secret passphrase zq", nil, password.ReasonInvalidText, 0},
		{"NUL", def, "secret\x00passphrase zq", nil, password.ReasonInvalidText, 0},
		{"replacement characters", def, "\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd\ufffd", nil, password.ReasonInvalidText, 0},
		{"only zero-width characters", def, "\u200b\u200b\u200b\u200b\u200c\u200d\u200b\u200b\u200b\u200b", nil, password.ReasonEmpty, 0},
		{"only spaces", def, "          ", nil, password.ReasonEmpty, 0},
		{"only mixed white space", def, " \t\u3000\u00a0  \n ", nil, password.ReasonEmpty, 0},
		{"too short", def, "kq7#vz", nil, password.ReasonTooShort, 8},
		{"7 code points, 25 bytes", def, "🦊🌲🚲☕🎸🌊🦉", nil, password.ReasonTooShort, 8},
		{"decomposed accents count once", password.Policy{MinLength: 9, MaxLength: 64}, strings.Repeat("e\u0301", 8), nil, password.ReasonTooShort, 9},
		{"ligatures count after NFKC", password.Policy{MinLength: 9, MaxLength: 64}, "ﬃﬃﬃ", nil, "", 0},
		{"ligatures too short after NFKC", password.Policy{MinLength: 10, MaxLength: 64}, "ﬃﬃﬃ", nil, password.ReasonTooShort, 10},
		{"exactly the minimum", def, "kq7#vzw!", nil, "", 0},
		{"exactly the maximum", def, strings.Repeat("kq7#vzw!", 32), nil, "", 0},
		{"too long", def, strings.Repeat("kq7#vzw!", 32) + "x", nil, password.ReasonTooLong, 256},
		{"15 minimum for password-only accounts", password.Policy{MinLength: 15, MaxLength: 256}, "violet-harbour", nil, password.ReasonTooShort, 15},

		// Common and breached passwords, ignoring case and width.
		{"password", def, "password", nil, password.ReasonCommon, 0},
		{"12345678", def, "12345678", nil, password.ReasonCommon, 0},
		{"Password1", def, "Password1", nil, password.ReasonCommon, 0},
		{"PASSWORD", def, "PASSWORD", nil, password.ReasonCommon, 0},
		{"P@ssw0rd", def, "P@ssw0rd", nil, password.ReasonCommon, 0},
		{"iloveyou", def, "iloveyou", nil, password.ReasonCommon, 0},
		{"qwerty123", def, "qwerty123", nil, password.ReasonCommon, 0},
		{"full-width password", def, "ｐａｓｓｗｏｒｄ", nil, password.ReasonCommon, 0},

		// Context: email, local part, name.
		{"equals local part", def, "alice.wonder", []string{email}, password.ReasonSimilarToIdentifier, 0},
		{"equals local part, other case", def, "Alice.Wonder", []string{email}, password.ReasonSimilarToIdentifier, 0},
		{"equals email", def, "ALICE.WONDER@example.com", []string{email}, password.ReasonSimilarToIdentifier, 0},
		{"contains local part", def, "my-alice.wonder-pw", []string{email}, password.ReasonSimilarToIdentifier, 0},
		{"contains local part reversed", def, "rednow.ecila!", []string{email}, password.ReasonSimilarToIdentifier, 0},
		{"contains a word of the local part", def, "wonderland-tea-party", []string{email}, password.ReasonSimilarToIdentifier, 0},
		{"local part without separator", def, "jsmith2024!", []string{"jsmith@example.com"}, password.ReasonSimilarToIdentifier, 0},
		{"part of the email", def, "christopher.rob", []string{"christopher.robinson@example.com"}, password.ReasonSimilarToIdentifier, 0},
		{"contains a word of the name", def, "smithfamily2020", []string{"x@example.com", "Mary Ann Smith"}, password.ReasonSimilarToIdentifier, 0},
		{"close to the name", def, "zachariaz1", []string{"Zacharias"}, password.ReasonSimilarToIdentifier, 0},
		{"service name", def, "my-foyer-account", []string{email, "Foyer"}, password.ReasonSimilarToIdentifier, 0},
		{"full-width local part", def, "ａｌｉｃｅ．ｗｏｎｄｅｒ", []string{email}, password.ReasonSimilarToIdentifier, 0},
		{"local part shorter than 4 is not searched", def, "bobcat-racing-team", []string{"bob@example.com"}, "", 0},
		{"name shorter than 4 is not searched", def, "always-kind-albatross", []string{"Al"}, "", 0},
		{"empty context ignored", def, "violet-harbour-47", []string{"", "  "}, "", 0},
		{"unrelated context", def, "violet-harbour-47", []string{email, "Alice Wonder"}, "", 0},

		// Passphrases.
		{"64+ character passphrase", def, longPassphrase, []string{email, "Alice Wonder"}, "", 0},
		{"emoji passphrase", def, "🦊🌲🏔️🚲☕🎸🌊🦉", []string{email}, "", 0},
		{"unicode passphrase", def, "pässwörd-ünïcode-✓", []string{email}, "", 0},
	}
	if len([]rune(longPassphrase)) < 64 {
		t.Fatal("long passphrase is shorter than 64 code points")
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.policy.Check(tt.password, tt.context...)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Check(%q) = %v, want nil", tt.password, err)
				}
				return
			}
			var v *password.Violation
			if !errors.As(err, &v) {
				t.Fatalf("Check(%q) = %v, want a *Violation", tt.password, err)
			}
			if v.Reason != tt.want || v.Limit != tt.wantLimit {
				t.Fatalf("Check(%q) = %+v, want reason %q limit %d", tt.password, v, tt.want, tt.wantLimit)
			}
		})
	}
}

func TestPolicyCheckInvalidPolicy(t *testing.T) {
	err := password.Policy{}.Check("violet-harbour-47")
	var v *password.Violation
	if err == nil || errors.As(err, &v) {
		t.Fatalf("Check with zero Policy = %v, want a configuration error that is not a *Violation", err)
	}
}

func TestPolicyValidate(t *testing.T) {
	tests := []struct {
		name    string
		policy  password.Policy
		wantErr string // substring; "" for valid
	}{
		{"default", password.DefaultPolicy(), ""},
		{"password-only", password.Policy{MinLength: 15, MaxLength: 256}, ""},
		{"one length", password.Policy{MinLength: 12, MaxLength: 12}, ""},
		{"largest", password.Policy{MinLength: 1, MaxLength: 1024}, ""},
		{"zero", password.Policy{}, "min length must be at least 1"},
		{"negative min", password.Policy{MinLength: -1, MaxLength: 10}, "min length must be at least 1"},
		{"max below min", password.Policy{MinLength: 8, MaxLength: 7}, "max length must be at least min length"},
		{"max too large", password.Policy{MinLength: 8, MaxLength: 1025}, "max length must be at most 1024"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.policy.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Validate() = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
	if d := password.DefaultPolicy(); d.MinLength != 8 || d.MaxLength != 256 {
		t.Fatalf("DefaultPolicy() = %+v, want 8..256", d)
	}
}

func TestViolationMessage(t *testing.T) {
	tests := []struct {
		v           password.Violation
		wantMessage string
		wantError   string
	}{
		{password.Violation{Reason: password.ReasonEmpty}, "Enter a password.", "password: policy: empty"},
		{password.Violation{Reason: password.ReasonInvalidText}, "This password has characters that are not valid text. Choose a different one.", "password: policy: invalid_text"},
		{password.Violation{Reason: password.ReasonTooShort, Limit: 8}, "Choose a password of at least 8 characters.", "password: policy: too_short (limit 8)"},
		{password.Violation{Reason: password.ReasonTooShort, Limit: 1}, "Choose a password of at least 1 character.", "password: policy: too_short (limit 1)"},
		{password.Violation{Reason: password.ReasonTooLong, Limit: 256}, "Choose a password of at most 256 characters.", "password: policy: too_long (limit 256)"},
		{password.Violation{Reason: password.ReasonCommon}, "This password is too common: it appears in lists of passwords that attackers try first. Choose a different one.", "password: policy: common"},
		{password.Violation{Reason: password.ReasonSimilarToIdentifier}, "This password is too similar to your email address or name. Choose a different one.", "password: policy: similar_to_identifier"},
		{password.Violation{Reason: "something_new"}, "Choose a different password.", "password: policy: something_new"},
	}
	for _, tt := range tests {
		t.Run(tt.v.Reason, func(t *testing.T) {
			if got := tt.v.Message(); got != tt.wantMessage {
				t.Errorf("Message() = %q, want %q", got, tt.wantMessage)
			}
			if got := tt.v.Error(); got != tt.wantError {
				t.Errorf("Error() = %q, want %q", got, tt.wantError)
			}
		})
	}
}

func BenchmarkCheck(b *testing.B) {
	p := password.DefaultPolicy()
	password.IsCommon("warm up") // load the list outside the timed loop
	for b.Loop() {
		if err := p.Check("the quiet lighthouse keeper paints violet storms", "alice.wonder@example.com", "Alice Wonder"); err != nil {
			b.Fatal(err)
		}
	}
}
