package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Each provider mistake is named by its key; a secret file's newline is
// dropped.
func TestValidateProviders(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "google")
	if err := os.WriteFile(secret, []byte("s3cret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	good := Provider{ID: "google", Kind: "google", ClientID: "c", ClientSecretFile: secret}
	for _, tc := range []struct {
		name string
		ps   []Provider
		want string // "" for valid
	}{
		{"valid", []Provider{good, {ID: "acme", Kind: "oidc", Issuer: "https://id.acme.example", ClientID: "c", ClientSecret: "x"}}, ""},
		{"bad id", []Provider{{ID: "Google!", Kind: "google", ClientID: "c"}}, "p.providers[0].id: must be"},
		{"id twice", []Provider{good, good}, `p.providers[1].id: "google" is used twice`},
		{"unknown kind", []Provider{{ID: "x", Kind: "facebook", ClientID: "c"}}, "p.providers[0].kind: must be one of"},
		{"no client id", []Provider{{ID: "x", Kind: "github"}}, "p.providers[0].client_id: must not be empty"},
		{"secret twice", []Provider{{ID: "x", Kind: "github", ClientID: "c", ClientSecret: "a", ClientSecretFile: secret}}, "client_secret_file: give client_secret or"},
		{"missing secret file", []Provider{{ID: "x", Kind: "github", ClientID: "c", ClientSecretFile: filepath.Join(dir, "nope")}}, "client_secret_file: cannot be read"},
		{"oidc without issuer", []Provider{{ID: "x", Kind: "oidc", ClientID: "c"}}, "p.providers[0].issuer: must be set"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var errs []string
			validateProviders("p", tc.ps, func(key, format string, args ...any) {
				errs = append(errs, key+": "+fmt.Sprintf(format, args...))
			})
			got := strings.Join(errs, "; ")
			if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
				t.Fatalf("errors %q, want %q", got, tc.want)
			}
		})
	}
	ps := []Provider{good}
	validateProviders("p", ps, func(string, string, ...any) {})
	if ps[0].ClientSecret != "s3cret" {
		t.Fatalf("secret from file = %q", ps[0].ClientSecret)
	}
}
