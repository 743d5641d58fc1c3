package upstream_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"slices"
	"strings"
	"testing"

	"github.com/foyer-id/foyer/internal/upstream"
)

func TestCheckDefaults(t *testing.T) {
	appleKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		cfg        upstream.Config
		name       string
		issuer     string
		scopes     []string
		authMethod string
	}{
		{upstream.Config{ID: "google", Kind: upstream.KindGoogle, ClientID: "c", ClientSecret: "s"},
			"Google", "https://accounts.google.com", []string{"openid", "email", "profile"}, upstream.AuthSecretBasic},
		{upstream.Config{ID: "apple", Kind: upstream.KindApple, ClientID: "com.example.web", TeamID: "T", KeyID: "K", PrivateKey: appleKey},
			"Apple", "https://appleid.apple.com", []string{"openid", "email", "name"}, upstream.AuthSecretPost},
		{upstream.Config{ID: "microsoft", Kind: upstream.KindMicrosoft, ClientID: "c", ClientSecret: "s"},
			"Microsoft", "https://login.microsoftonline.com/common/v2.0", []string{"openid", "email", "profile"}, upstream.AuthSecretBasic},
		{upstream.Config{ID: "work", Kind: upstream.KindMicrosoft, ClientID: "c", ClientSecret: "s", Tenant: "3f2504e0-4f89-11d3-9a0c-0305e82c3301"},
			"Microsoft", "https://login.microsoftonline.com/3f2504e0-4f89-11d3-9a0c-0305e82c3301/v2.0", []string{"openid", "email", "profile"}, upstream.AuthSecretBasic},
		{upstream.Config{ID: "github", Kind: upstream.KindGitHub, ClientID: "c", ClientSecret: "s"},
			"GitHub", "", []string{"read:user", "user:email"}, upstream.AuthSecretPost},
		{upstream.Config{ID: "acme", Kind: upstream.KindOIDC, Issuer: "https://sso.acme.example", ClientID: "c", PrivateKey: appleKey},
			"acme", "https://sso.acme.example", []string{"openid", "email", "profile"}, upstream.AuthPrivateKeyJWT},
	}
	for _, tt := range tests {
		t.Run(tt.cfg.ID, func(t *testing.T) {
			cfg := tt.cfg
			if err := cfg.Check(); err != nil {
				t.Fatal(err)
			}
			if cfg.Name != tt.name || cfg.Issuer != tt.issuer || !slices.Equal(cfg.Scopes, tt.scopes) || cfg.AuthMethod != tt.authMethod {
				t.Errorf("name %q issuer %q scopes %q auth %q", cfg.Name, cfg.Issuer, cfg.Scopes, cfg.AuthMethod)
			}
			if err := cfg.Check(); err != nil {
				t.Errorf("a checked configuration fails a second check: %v", err)
			}
		})
	}
	gh := upstream.Config{ID: "github", Kind: upstream.KindGitHub, ClientID: "c", ClientSecret: "s"}
	if err := gh.Check(); err != nil {
		t.Fatal(err)
	}
	if gh.AuthURL != "https://github.com/login/oauth/authorize" || gh.TokenURL != "https://github.com/login/oauth/access_token" || gh.APIURL != "https://api.github.com" {
		t.Errorf("github endpoints %q %q %q", gh.AuthURL, gh.TokenURL, gh.APIURL)
	}
}

func TestCheckErrors(t *testing.T) {
	p256, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	rsa1024, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	oidc := func(edit func(*upstream.Config)) upstream.Config {
		c := upstream.Config{ID: "acme", Kind: upstream.KindOIDC, Issuer: "https://sso.acme.example", ClientID: "c", ClientSecret: "s"}
		edit(&c)
		return c
	}
	apple := func(edit func(*upstream.Config)) upstream.Config {
		c := upstream.Config{ID: "acme", Kind: upstream.KindApple, ClientID: "c", TeamID: "T", KeyID: "K", PrivateKey: p256}
		edit(&c)
		return c
	}
	tests := []struct {
		name string
		cfg  upstream.Config
		want string
	}{
		{"id with capitals", oidc(func(c *upstream.Config) { c.ID = "Acme" }), "provider id"},
		{"id empty", oidc(func(c *upstream.Config) { c.ID = "" }), "provider id"},
		{"id starting with a dash", oidc(func(c *upstream.Config) { c.ID = "-acme" }), "provider id"},
		{"id too long", oidc(func(c *upstream.Config) { c.ID = strings.Repeat("a", 64) }), "provider id"},
		{"no kind", oidc(func(c *upstream.Config) { c.Kind = "" }), "kind"},
		{"unknown kind", oidc(func(c *upstream.Config) { c.Kind = "facebook" }), "unknown kind"},
		{"no client id", oidc(func(c *upstream.Config) { c.ClientID = "" }), "client id"},
		{"no issuer", oidc(func(c *upstream.Config) { c.Issuer = "" }), "issuer"},
		{"relative issuer", oidc(func(c *upstream.Config) { c.Issuer = "/sso" }), "issuer"},
		{"http issuer", oidc(func(c *upstream.Config) { c.Issuer = "http://sso.acme.example" }), "loopback"},
		{"http on a private address", oidc(func(c *upstream.Config) { c.Issuer = "http://10.0.0.1" }), "loopback"},
		{"ftp issuer", oidc(func(c *upstream.Config) { c.Issuer = "ftp://sso.acme.example" }), "https"},
		{"issuer with a fragment", oidc(func(c *upstream.Config) { c.Issuer = "https://sso.acme.example#x" }), "fragment"},
		{"github endpoints on oidc", oidc(func(c *upstream.Config) { c.TokenURL = "https://sso.acme.example/token" }), "only for github"},
		{"no secret", oidc(func(c *upstream.Config) { c.ClientSecret = "" }), "client secret"},
		{"post without secret", oidc(func(c *upstream.Config) { c.ClientSecret, c.AuthMethod = "", upstream.AuthSecretPost }), "client secret"},
		{"unknown auth method", oidc(func(c *upstream.Config) { c.AuthMethod = "tls_client_auth" }), "unknown auth method"},
		{"private key jwt without key", oidc(func(c *upstream.Config) { c.AuthMethod = upstream.AuthPrivateKeyJWT }), "private key"},
		{"private key on P-384", oidc(func(c *upstream.Config) { c.AuthMethod, c.PrivateKey = upstream.AuthPrivateKeyJWT, p384 }), "P-256"},
		{"short RSA key", oidc(func(c *upstream.Config) { c.AuthMethod, c.PrivateKey = upstream.AuthPrivateKeyJWT, rsa1024 }), "2048"},
		{"scopes without openid", oidc(func(c *upstream.Config) { c.Scopes = []string{"email"} }), "openid"},
		{"scope with a space", oidc(func(c *upstream.Config) { c.Scopes = []string{"openid", "a b"} }), "scope"},
		{"tenant on oidc", oidc(func(c *upstream.Config) { c.Tenant = "common" }), "tenant"},
		{"empty mfa value", oidc(func(c *upstream.Config) { c.MFAValues = []string{"mfa", ""} }), "mfa"},
		{"empty app client id", oidc(func(c *upstream.Config) { c.AppClientIDs = []string{""} }), "app client"},
		{"empty claim name", oidc(func(c *upstream.Config) { c.Claims = map[string]string{"name": ""} }), "claims"},
		{"apple without team", apple(func(c *upstream.Config) { c.TeamID = "" }), "team id"},
		{"apple without key id", apple(func(c *upstream.Config) { c.KeyID = "" }), "key id"},
		{"apple without key", apple(func(c *upstream.Config) { c.PrivateKey = nil }), "P-256"},
		{"apple with an RSA key", apple(func(c *upstream.Config) { c.PrivateKey = rsa1024 }), "P-256"},
		{"apple with a secret", apple(func(c *upstream.Config) { c.ClientSecret = "s" }), "client secret"},
		{"apple with basic", apple(func(c *upstream.Config) { c.AuthMethod = upstream.AuthSecretBasic }), "auth method"},
		{"microsoft domain tenant", upstream.Config{ID: "acme", Kind: upstream.KindMicrosoft, ClientID: "c", ClientSecret: "s", Tenant: "contoso.onmicrosoft.com"}, "tenant"},
		{"microsoft issuer of another tenant", upstream.Config{ID: "acme", Kind: upstream.KindMicrosoft, ClientID: "c", ClientSecret: "s", Tenant: "organizations", Issuer: "https://login.microsoftonline.com/common/v2.0"}, "tenant"},
		{"github with an issuer", upstream.Config{ID: "acme", Kind: upstream.KindGitHub, ClientID: "c", ClientSecret: "s", Issuer: "https://github.com"}, "issuer"},
		{"github without secret", upstream.Config{ID: "acme", Kind: upstream.KindGitHub, ClientID: "c"}, "client secret"},
		{"github with private key jwt", upstream.Config{ID: "acme", Kind: upstream.KindGitHub, ClientID: "c", AuthMethod: upstream.AuthPrivateKeyJWT, PrivateKey: p256}, "private_key_jwt"},
		{"github http api", upstream.Config{ID: "acme", Kind: upstream.KindGitHub, ClientID: "c", ClientSecret: "s", APIURL: "http://api.github.example"}, "api url"},
		{"github with app client ids", upstream.Config{ID: "acme", Kind: upstream.KindGitHub, ClientID: "c", ClientSecret: "s", AppClientIDs: []string{"x"}}, "app client"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := tt.cfg
			err := cfg.Check()
			if err == nil {
				t.Fatal("Check accepted it")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
			if cfg.ID != "" && !strings.Contains(err.Error(), `"`+cfg.ID+`"`) {
				t.Errorf("error %q does not name the provider", err)
			}
			if _, err := upstream.New(tt.cfg, nil); err == nil {
				t.Error("New accepted it")
			}
		})
	}
}

func TestCheckLoopbackHTTP(t *testing.T) {
	for _, issuer := range []string{"http://127.0.0.1:8080", "http://localhost:9000/realms/x", "http://[::1]:5556/dex"} {
		cfg := upstream.Config{ID: "dev", Kind: upstream.KindOIDC, Issuer: issuer, ClientID: "c", ClientSecret: "s"}
		if err := cfg.Check(); err != nil {
			t.Errorf("%s: %v", issuer, err)
		}
	}
}
