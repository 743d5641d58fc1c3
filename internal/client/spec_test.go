package client

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// testJWKS returns a JWKS holding keys, marshalled by go-jose.
func testJWKS(t testing.TB, keys ...jose.JSONWebKey) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: keys})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func ecKey(t testing.TB) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestSpecValidate(t *testing.T) {
	web := func() Spec {
		return Spec{Name: new("Shop"), RedirectURIs: &[]string{"https://shop.example/callback"}}
	}
	with := func(f func(*Spec)) Spec { s := web(); f(&s); return s }
	priv := ecKey(t)
	pubJWKS := testJWKS(t, jose.JSONWebKey{Key: &priv.PublicKey, KeyID: "k1", Use: "sig", Algorithm: "ES256"})
	privJWKS := testJWKS(t, jose.JSONWebKey{Key: priv, KeyID: "k1"})
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	smallJWKS := testJWKS(t, jose.JSONWebKey{Key: &small.PublicKey, KeyID: "r1"})
	encOnly := testJWKS(t, jose.JSONWebKey{Key: &priv.PublicKey, KeyID: "e1", Use: "enc"})

	tests := []struct {
		name  string
		spec  Spec
		field string // "" = valid
		msg   string // part of the message
	}{
		{"defaults", web(), "", ""},
		{"no name", with(func(s *Spec) { s.Name = nil }), "name", "required"},
		{"blank name", with(func(s *Spec) { s.Name = new("   ") }), "name", "1 to 200"},
		{"long name", with(func(s *Spec) { s.Name = new(strings.Repeat("é", 201)) }), "name", "1 to 200"},
		{"200 runes", with(func(s *Spec) { s.Name = new(strings.Repeat("é", 200)) }), "", ""},
		{"control in name", with(func(s *Spec) { s.Name = new("a\nb") }), "name", "control"},

		{"no redirect uri", with(func(s *Spec) { s.RedirectURIs = nil }), "redirect_uris", "at least one"},
		{"http", with(func(s *Spec) { s.RedirectURIs = &[]string{"http://shop.example/cb"} }), "redirect_uris[0]", "must be an absolute https URL without fragment"},
		{"http localhost", with(func(s *Spec) { s.RedirectURIs = &[]string{"http://localhost:3000/cb"} }), "", ""},
		{"http 127.0.0.1", with(func(s *Spec) { s.RedirectURIs = &[]string{"http://127.0.0.1:8080/cb"} }), "", ""},
		{"http ::1", with(func(s *Spec) { s.RedirectURIs = &[]string{"http://[::1]:8080/cb"} }), "", ""},
		{"http localhost lookalike", with(func(s *Spec) { s.RedirectURIs = &[]string{"http://localhost.evil.example/cb"} }), "redirect_uris[0]", "https"},
		{"relative", with(func(s *Spec) { s.RedirectURIs = &[]string{"/callback"} }), "redirect_uris[0]", "absolute"},
		{"fragment", with(func(s *Spec) { s.RedirectURIs = &[]string{"https://shop.example/cb#x"} }), "redirect_uris[0]", "fragment"},
		{"empty fragment", with(func(s *Spec) { s.RedirectURIs = &[]string{"https://shop.example/cb#"} }), "redirect_uris[0]", "fragment"},
		{"wildcard", with(func(s *Spec) { s.RedirectURIs = &[]string{"https://*.shop.example/cb"} }), "redirect_uris[0]", "wildcard"},
		{"userinfo", with(func(s *Spec) { s.RedirectURIs = &[]string{"https://user@shop.example/cb"} }), "redirect_uris[0]", "https"},
		{"query allowed", with(func(s *Spec) { s.RedirectURIs = &[]string{"https://shop.example/cb?tenant=1"} }), "", ""},
		{"second uri", with(func(s *Spec) { s.RedirectURIs = &[]string{"https://shop.example/cb", "javascript:alert(1)"} }), "redirect_uris[1]", "https"},
		{"duplicate uri", with(func(s *Spec) { s.RedirectURIs = &[]string{"https://shop.example/cb", "https://shop.example/cb"} }), "redirect_uris[1]", "twice"},
		{"space", with(func(s *Spec) { s.RedirectURIs = &[]string{"https://shop.example/c b"} }), "redirect_uris[0]", "spaces"},
		{"custom scheme confidential", with(func(s *Spec) { s.RedirectURIs = &[]string{"com.example.app:/callback"} }), "redirect_uris[0]", "public (native) clients only"},
		{"custom scheme public", with(func(s *Spec) { s.Public = new(true); s.RedirectURIs = &[]string{"com.example.app:/callback"} }), "", ""},
		{"custom scheme without dot", with(func(s *Spec) { s.Public = new(true); s.RedirectURIs = &[]string{"myapp:/callback"} }), "redirect_uris[0]", "reversed domain"},
		{"javascript public", with(func(s *Spec) { s.Public = new(true); s.RedirectURIs = &[]string{"javascript:alert(1)"} }), "redirect_uris[0]", "reversed domain"},
		{"post logout http", with(func(s *Spec) { s.PostLogoutRedirectURIs = &[]string{"http://shop.example/"} }), "post_logout_redirect_uris[0]", "https"},
		{"post logout ok", with(func(s *Spec) { s.PostLogoutRedirectURIs = &[]string{"https://shop.example/"} }), "", ""},

		{"public defaults to none", with(func(s *Spec) { s.Public = new(true) }), "", ""},
		{"public with basic", with(func(s *Spec) { s.Public = new(true); s.AuthMethod = new(AuthMethodBasic) }), "auth_method", "must use none"},
		{"confidential with none", with(func(s *Spec) { s.AuthMethod = new(AuthMethodNone) }), "auth_method", "must authenticate"},
		{"unknown method", with(func(s *Spec) { s.AuthMethod = new("tls_client_auth") }), "auth_method", "one of"},
		{"public client_credentials", with(func(s *Spec) {
			s.Public = new(true)
			s.GrantTypes = &[]string{GrantAuthorizationCode, GrantClientCredentials}
		}), "grant_types", "public client cannot use client_credentials"},
		{"client_credentials only, no redirect", Spec{Name: new("batch"), GrantTypes: &[]string{GrantClientCredentials}}, "", ""},
		{"unknown grant", with(func(s *Spec) { s.GrantTypes = &[]string{GrantAuthorizationCode, "implicit"} }), "grant_types[1]", "one of"},
		{"duplicate grant", with(func(s *Spec) { s.GrantTypes = &[]string{GrantAuthorizationCode, GrantAuthorizationCode} }), "grant_types[1]", "twice"},
		{"no grant", with(func(s *Spec) { s.GrantTypes = &[]string{} }), "grant_types", "at least one"},
		{"refresh without code", Spec{Name: new("x"), GrantTypes: &[]string{GrantClientCredentials, GrantRefreshToken}}, "grant_types", "refresh_token needs authorization_code"},

		{"private_key_jwt", with(func(s *Spec) { s.AuthMethod = new(AuthMethodPrivateKeyJWT); s.JWKS = pubJWKS }), "", ""},
		{"private_key_jwt without jwks", with(func(s *Spec) { s.AuthMethod = new(AuthMethodPrivateKeyJWT) }), "jwks", "at least one public signing key"},
		{"private_key_jwt enc key only", with(func(s *Spec) { s.AuthMethod = new(AuthMethodPrivateKeyJWT); s.JWKS = encOnly }), "jwks", "signing key"},
		{"private key in jwks", with(func(s *Spec) { s.AuthMethod = new(AuthMethodPrivateKeyJWT); s.JWKS = privJWKS }), "jwks.keys[0]", "must be a public key"},
		{"symmetric key in jwks", with(func(s *Spec) { s.JWKS = json.RawMessage(`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`) }), "jwks.keys[0]", "must be a public key"},
		{"small RSA key", with(func(s *Spec) { s.JWKS = smallJWKS }), "jwks.keys[0]", "2048"},
		{"jwks not a set", with(func(s *Spec) { s.JWKS = json.RawMessage(`[1]`) }), "jwks", "JSON Web Key Set"},
		{"jwks unknown kty", with(func(s *Spec) { s.JWKS = json.RawMessage(`{"keys":[{"kty":"XYZ"}]}`) }), "jwks.keys[0]", "not a valid public key"},
		{"jwks null is unset", with(func(s *Spec) { s.JWKS = json.RawMessage(`null`) }), "", ""},

		{"scopes", with(func(s *Spec) { s.Scopes = &[]string{"openid", "orders:read"} }), "", ""},
		{"scope with space", with(func(s *Spec) { s.Scopes = &[]string{"openid profile"} }), "scopes[0]", "without spaces"},
		{"duplicate scope", with(func(s *Spec) { s.Scopes = &[]string{"openid", "openid"} }), "scopes[1]", "twice"},
		{"details types", with(func(s *Spec) { s.AuthorizationDetailsTypes = &[]string{"payment_initiation"} }), "", ""},
		{"details type with space", with(func(s *Spec) { s.AuthorizationDetailsTypes = &[]string{"payment initiation"} }), "authorization_details_types[0]", "without spaces"},
		{"duplicate details type", with(func(s *Spec) { s.AuthorizationDetailsTypes = &[]string{"a", "a"} }), "authorization_details_types[1]", "twice"},
		{"details types without code", Spec{Name: new("x"), GrantTypes: &[]string{GrantClientCredentials}, AuthorizationDetailsTypes: &[]string{"a"}}, "authorization_details_types", "authorization_code"},
		{"app pages", with(func(s *Spec) {
			s.ClientURI, s.LogoURI, s.PolicyURI, s.TosURI = new("https://shop.example"), new("https://shop.example/logo.png"), new("https://shop.example/privacy"), new("http://localhost:3000/terms")
		}), "", ""},
		{"logo over http", with(func(s *Spec) { s.LogoURI = new("http://shop.example/logo.png") }), "logo_uri", "https"},
		{"javascript website", with(func(s *Spec) { s.ClientURI = new("javascript:alert(1)") }), "client_uri", "https"},
		{"policy with credentials", with(func(s *Spec) { s.PolicyURI = new("https://user:pw@shop.example/p") }), "policy_uri", "https"},
		{"opaque", with(func(s *Spec) { s.AccessTokenFormat = new(AccessTokenOpaque) }), "", ""},
		{"bad format", with(func(s *Spec) { s.AccessTokenFormat = new("paseto") }), "access_token_format", "jwt or opaque"},
		{"RS256", with(func(s *Spec) { s.SigningAlg = new(AlgRS256) }), "", ""},
		{"HS256", with(func(s *Spec) { s.SigningAlg = new("HS256") }), "signing_alg", "one of"},
		{"access ttl short", with(func(s *Spec) { s.AccessTokenTTL = new(Duration(30 * time.Second)) }), "access_token_ttl", "between 1 minute and 1 hour"},
		{"access ttl long", with(func(s *Spec) { s.AccessTokenTTL = new(Duration(2 * time.Hour)) }), "access_token_ttl", "between"},
		{"access ttl fraction", with(func(s *Spec) { s.AccessTokenTTL = new(Duration(90*time.Second + time.Millisecond)) }), "access_token_ttl", "whole number"},
		{"id ttl", with(func(s *Spec) { s.IDTokenTTL = new(Duration(61 * time.Minute)) }), "id_token_ttl", "between"},
		{"refresh ttl short", with(func(s *Spec) { s.RefreshTokenTTL = new(Duration(59 * time.Minute)) }), "refresh_token_ttl", "1 hour and 365 days"},
		{"refresh ttl long", with(func(s *Spec) { s.RefreshTokenTTL = new(Duration(366 * 24 * time.Hour)) }), "refresh_token_ttl", "between"},
		{"refresh ttl max", with(func(s *Spec) { s.RefreshTokenTTL = new(Duration(365 * 24 * time.Hour)) }), "", ""},
		{"aal2", with(func(s *Spec) { s.RequireAAL = new(AAL2) }), "", ""},
		{"aal3", with(func(s *Spec) { s.RequireAAL = new("aal3") }), "require_aal", "aal1 or aal2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := tt.spec.validate(nil)
			if tt.field == "" {
				if err != nil {
					t.Fatalf("unexpected error: %v", err)
				}
				if c == nil {
					t.Fatal("nil client")
				}
				return
			}
			ve, ok := err.(*ValidationError)
			if !ok {
				t.Fatalf("error %v (%T), want *ValidationError on %s", err, err, tt.field)
			}
			if ve.Field != tt.field || !strings.Contains(ve.Message, tt.msg) {
				t.Fatalf("got %q, want field %s and a message containing %q", ve.Error(), tt.field, tt.msg)
			}
		})
	}
}

func TestSpecDefaults(t *testing.T) {
	c, err := Spec{Name: new("Shop"), RedirectURIs: &[]string{"https://shop.example/cb"}}.validate(nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.AuthMethod != AuthMethodBasic || c.Public || c.FirstParty || c.AccessTokenFormat != AccessTokenJWT || c.SigningAlg != AlgRS256 ||
		c.AccessTokenTTL.D() != 10*time.Minute || c.IDTokenTTL.D() != 10*time.Minute || c.RefreshTokenTTL.D() != 30*24*time.Hour ||
		c.RequireAAL != "" || strings.Join(c.GrantTypes, " ") != "authorization_code refresh_token" ||
		strings.Join(c.Scopes, " ") != "openid profile email phone address offline_access" || len(c.PostLogoutRedirectURIs) != 0 || c.PostLogoutRedirectURIs == nil {
		t.Fatalf("defaults: %+v", c)
	}
	pub, err := Spec{Name: new("App"), Public: new(true), RedirectURIs: &[]string{"com.example.app:/cb"}}.validate(nil)
	if err != nil || pub.AuthMethod != AuthMethodNone {
		t.Fatalf("public default: %+v %v", pub, err)
	}
	cc, err := Spec{Name: new("Batch"), GrantTypes: &[]string{GrantClientCredentials}}.validate(nil)
	if err != nil || cc.AccessTokenTTL.D() != 5*time.Minute || cc.RedirectURIs == nil {
		t.Fatalf("client_credentials default: %+v %v", cc, err)
	}
}

func TestDurationJSON(t *testing.T) {
	var s Spec
	if err := json.Unmarshal([]byte(`{"access_token_ttl": 300, "id_token_ttl": "15m"}`), &s); err != nil {
		t.Fatal(err)
	}
	if s.AccessTokenTTL.D() != 5*time.Minute || s.IDTokenTTL.D() != 15*time.Minute {
		t.Fatalf("got %v %v", s.AccessTokenTTL, s.IDTokenTTL)
	}
	for _, bad := range []string{`1.5`, `-1`, `"soon"`, `true`} {
		if err := json.Unmarshal([]byte(`{"access_token_ttl": `+bad+`}`), &s); err == nil {
			t.Errorf("%s accepted", bad)
		} else if te, ok := err.(*json.UnmarshalTypeError); !ok || te.Field != "access_token_ttl" {
			t.Errorf("%s: %v (%T), want an UnmarshalTypeError naming the field", bad, err, err)
		}
	}
	b, _ := json.Marshal(Client{AccessTokenTTL: Duration(10 * time.Minute)})
	if !strings.Contains(string(b), `"access_token_ttl":600`) {
		t.Fatalf("marshal: %s", b)
	}
}

func TestSecretFormat(t *testing.T) {
	s := newSecret()
	if !strings.HasPrefix(s, "fcs_") || len(s) != 4+43 {
		t.Fatalf("secret %q", s)
	}
	id := newID()
	if len(id) != 26 || strings.ToLower(id) != id || strings.ContainsAny(id, "=+/") {
		t.Fatalf("id %q", id)
	}
	key := secretKey([]byte(strings.Repeat("k", 32)))
	h := hashSecret(key, s)
	if strings.Contains(h, s[4:]) || !checkSecret(key, mac(key, "dummy"), h, s) || checkSecret(key, mac(key, "dummy"), h, s+"x") {
		t.Fatal("hash does not verify")
	}
	if checkSecret(key, mac(key, "dummy"), "", "dummy") {
		t.Fatal("empty hash verified against the dummy")
	}
	other := secretKey([]byte(strings.Repeat("j", 32)))
	if checkSecret(other, mac(other, "dummy"), h, s) {
		t.Fatal("hash verified under another server secret")
	}
}
