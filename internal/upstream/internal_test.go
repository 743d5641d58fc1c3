package upstream

import (
	"testing"

	"github.com/go-jose/go-jose/v4/jwt"
)

func TestGoogleIssuers(t *testing.T) {
	p, err := New(Config{ID: "google", Kind: KindGoogle, ClientID: "c", ClientSecret: "s"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for iss, want := range map[string]string{
		"https://accounts.google.com": "https://accounts.google.com",
		"accounts.google.com":         "accounts.google.com",
		"https://evil.example.com":    "https://accounts.google.com",
	} {
		got, err := p.expectedIssuer(&idClaims{Claims: jwt.Claims{Issuer: iss}})
		if err != nil || got != want {
			t.Errorf("token issuer %q: want issuer %q, got %q (%v)", iss, want, got, err)
		}
	}
}
