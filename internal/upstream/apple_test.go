package upstream_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"testing"

	"github.com/foyer-id/foyer/internal/upstream"
	"github.com/foyer-id/foyer/internal/upstream/upstreamtest"
)

// appleUser is an Apple ID token's user: no name, booleans as strings.
func appleUser(verified, private string) upstreamtest.User {
	return upstreamtest.User{
		Subject:       "001234.abcdef.1234",
		Email:         "Relay@PrivateRelay.AppleID.com",
		EmailVerified: verified,
		Claims:        map[string]any{"is_private_email": private},
	}
}

func TestExchangeApple(t *testing.T) {
	srv := upstreamtest.NewOIDC(t, upstreamtest.Options{Kind: upstream.KindApple})
	srv.SetUser(appleUser("true", "true"))
	// The name comes only on the first sign-in, through the browser; the
	// address in it is not to be believed.
	srv.Update(func(k *upstreamtest.Knobs) {
		k.CallbackUser = `{"name":{"firstName":"Ada","lastName":"Lovelace"},"email":"attacker@evil.example.com"}`
	})
	p := newProvider(t, srv.Config("apple"), srv.Client())
	if !p.FormPost() {
		t.Error("apple asking for name and email is not form_post")
	}
	claims, err := signIn(t, p, srv.Authorize)
	if err != nil {
		t.Fatal(err)
	}
	if got := srv.LastClientAuth(); got != upstreamtest.AuthAppleSecret {
		t.Errorf("client authenticated with %q, want Apple's client secret", got)
	}
	if claims.Subject != "001234.abcdef.1234" || claims.Email != "relay@privaterelay.appleid.com" ||
		!claims.EmailVerified || !claims.PrivateEmail {
		t.Errorf("claims %+v", *claims)
	}
	if claims.Name != "Ada Lovelace" || claims.GivenName != "Ada" || claims.FamilyName != "Lovelace" || claims.Traits["name"] != "Ada Lovelace" {
		t.Errorf("name %q (%q %q), traits %v: want Ada Lovelace from the user parameter", claims.Name, claims.GivenName, claims.FamilyName, claims.Traits)
	}
	if claims.Traits["email"] != "relay@privaterelay.appleid.com" {
		t.Errorf("email trait %v: want the ID token's", claims.Traits["email"])
	}
}

func TestExchangeAppleLaterSignIn(t *testing.T) {
	srv := upstreamtest.NewOIDC(t, upstreamtest.Options{Kind: upstream.KindApple})
	srv.SetUser(appleUser("false", "false"))
	p := newProvider(t, srv.Config("apple"), srv.Client())
	claims, err := signIn(t, p, srv.Authorize)
	if err != nil {
		t.Fatal(err)
	}
	if claims.EmailVerified || claims.PrivateEmail || claims.Name != "" {
		t.Errorf("claims %+v: want \"false\" read as false and no name", *claims)
	}
}

func TestExchangeAppleBooleans(t *testing.T) {
	srv := upstreamtest.NewOIDC(t, upstreamtest.Options{Kind: upstream.KindApple})
	p := newProvider(t, srv.Config("apple"), srv.Client())
	srv.SetUser(upstreamtest.User{Subject: "s", Email: "a@example.com", EmailVerified: true, Claims: map[string]any{"is_private_email": true}})
	claims, err := signIn(t, p, srv.Authorize)
	if err != nil {
		t.Fatal(err)
	}
	if !claims.EmailVerified || !claims.PrivateEmail {
		t.Errorf("claims %+v: want booleans read too", *claims)
	}
}

func TestExchangeAppleTokenNameWins(t *testing.T) {
	srv := upstreamtest.NewOIDC(t, upstreamtest.Options{Kind: upstream.KindApple})
	u := appleUser("true", "false")
	u.Claims["name"] = "Ada King"
	srv.SetUser(u)
	srv.Update(func(k *upstreamtest.Knobs) { k.CallbackUser = `{"name":{"firstName":"Ada","lastName":"Lovelace"}}` })
	claims, err := signIn(t, newProvider(t, srv.Config("apple"), srv.Client()), srv.Authorize)
	if err != nil {
		t.Fatal(err)
	}
	if claims.Name != "Ada King" || claims.GivenName != "Ada" || claims.FamilyName != "Lovelace" {
		t.Errorf("name %q (%q %q): want the token's name, and the parts it lacks from the user parameter", claims.Name, claims.GivenName, claims.FamilyName)
	}
}

func TestExchangeAppleMalformedUser(t *testing.T) {
	srv := upstreamtest.NewOIDC(t, upstreamtest.Options{Kind: upstream.KindApple})
	srv.SetUser(appleUser("true", "false"))
	srv.Update(func(k *upstreamtest.Knobs) { k.CallbackUser = `{"name":` })
	p := newProvider(t, srv.Config("apple"), srv.Client())
	claims, err := signIn(t, p, srv.Authorize)
	if err != nil {
		t.Fatalf("a malformed user parameter failed the sign-in: %v", err)
	}
	if claims.Name != "" {
		t.Errorf("name %q from a malformed user parameter", claims.Name)
	}
}

func TestAppleClientSecretIsChecked(t *testing.T) {
	srv := upstreamtest.NewOIDC(t, upstreamtest.Options{Kind: upstream.KindApple})
	otherKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	for name, edit := range map[string]func(*upstream.Config){
		"other key id": func(c *upstream.Config) { c.KeyID = "OTHERKEY00" },
		"other team":   func(c *upstream.Config) { c.TeamID = "OTHERTEAM0" },
		"other key":    func(c *upstream.Config) { c.PrivateKey = otherKey },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := srv.Config("apple")
			edit(&cfg)
			_, err := signIn(t, newProvider(t, cfg, srv.Client()), srv.Authorize)
			wantErr(t, err, upstream.ErrRefused)
		})
	}
}

func TestAppleWithoutNameOrEmail(t *testing.T) {
	srv := upstreamtest.NewOIDC(t, upstreamtest.Options{Kind: upstream.KindApple})
	cfg := srv.Config("apple")
	cfg.Scopes = []string{"openid"}
	p := newProvider(t, cfg, srv.Client())
	if p.FormPost() {
		t.Error("apple asking for neither name nor email needs no form_post")
	}
	if _, err := signIn(t, p, srv.Authorize); err != nil {
		t.Fatal(err)
	}
}
