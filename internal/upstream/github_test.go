package upstream_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/upstream"
	"github.com/foyer-id/foyer/internal/upstream/upstreamtest"
)

func TestExchangeGitHub(t *testing.T) {
	gh := upstreamtest.NewGitHub(t)
	cfg := gh.Config("github")
	cfg.Claims = map[string]string{"username": "login"}
	p := newProvider(t, cfg, gh.Client())
	claims, err := signIn(t, p, gh.Authorize)
	if err != nil {
		t.Fatal(err)
	}
	if claims.Subject != "4242" || claims.Email != "ada@example.com" || !claims.EmailVerified ||
		claims.Name != "Ada Octo" || claims.Issuer != gh.URL() || claims.MFA {
		t.Errorf("claims %+v", *claims)
	}
	want := map[string]any{"username": "ada-octo", "email": "ada@example.com", "name": "Ada Octo"}
	if !equalTraits(claims.Traits, want) {
		t.Errorf("traits %v, want %v", claims.Traits, want)
	}
	if got := gh.LastClientAuth(); got != upstreamtest.AuthPost {
		t.Errorf("client authenticated with %q, want client_secret_post", got)
	}
}

func TestExchangeGitHubBasicAuth(t *testing.T) {
	gh := upstreamtest.NewGitHub(t)
	cfg := gh.Config("github")
	cfg.AuthMethod = upstream.AuthSecretBasic
	if _, err := signIn(t, newProvider(t, cfg, gh.Client()), gh.Authorize); err != nil {
		t.Fatal(err)
	}
	if got := gh.LastClientAuth(); got != upstreamtest.AuthBasic {
		t.Errorf("client authenticated with %q, want client_secret_basic", got)
	}
}

func TestGitHubEmails(t *testing.T) {
	gh := upstreamtest.NewGitHub(t)
	p := newProvider(t, gh.Config("github"), gh.Client())
	tests := []struct {
		name         string
		emails       []upstreamtest.GitHubEmail
		status       int
		want         string
		wantVerified bool
	}{
		{"primary verified", []upstreamtest.GitHubEmail{
			{Email: "other@example.com", Verified: true},
			{Email: "Primary@Example.com", Primary: true, Verified: true},
		}, 0, "primary@example.com", true},
		{"unverified primary skipped", []upstreamtest.GitHubEmail{
			{Email: "primary@example.com", Primary: true},
			{Email: "unverified@example.com"},
			{Email: "first@example.com", Verified: true},
			{Email: "second@example.com", Verified: true},
		}, 0, "first@example.com", true},
		{"none verified", []upstreamtest.GitHubEmail{
			{Email: "primary@example.com", Primary: true},
		}, 0, "", false},
		{"no addresses", nil, 0, "", false},
		{"addresses not readable (404)", nil, http.StatusNotFound, "", false},
		{"addresses forbidden (403)", nil, http.StatusForbidden, "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gh.Update(func(k *upstreamtest.GitHubKnobs) { k.Emails, k.EmailsStatus = tt.emails, tt.status })
			claims, err := signIn(t, p, gh.Authorize)
			if err != nil {
				t.Fatal(err)
			}
			// Never the profile's public address, which GitHub does not
			// vouch for.
			if claims.Email != tt.want || claims.EmailVerified != tt.wantVerified {
				t.Errorf("email %q verified %v, want %q %v", claims.Email, claims.EmailVerified, tt.want, tt.wantVerified)
			}
			if _, ok := claims.Traits["email"]; ok != (tt.want != "") {
				t.Errorf("email trait %v", claims.Traits["email"])
			}
		})
	}
}

func TestGitHubFailures(t *testing.T) {
	tests := []struct {
		name  string
		knobs func(*upstreamtest.GitHubKnobs)
		want  error
	}{
		{"bad verification code (200 with an error)", func(k *upstreamtest.GitHubKnobs) { k.TokenError = "bad_verification_code" }, upstream.ErrRefused},
		{"token endpoint 500", func(k *upstreamtest.GitHubKnobs) { k.Status = http.StatusInternalServerError }, upstream.ErrUnavailable},
		{"user 401", func(k *upstreamtest.GitHubKnobs) { k.UserStatus = http.StatusUnauthorized }, upstream.ErrRefused},
		{"user 502", func(k *upstreamtest.GitHubKnobs) { k.UserStatus = http.StatusBadGateway }, upstream.ErrUnavailable},
		{"emails 500", func(k *upstreamtest.GitHubKnobs) { k.EmailsStatus = http.StatusInternalServerError }, upstream.ErrUnavailable},
		{"emails 401", func(k *upstreamtest.GitHubKnobs) { k.EmailsStatus = http.StatusUnauthorized }, upstream.ErrRefused},
		{"user without id", func(k *upstreamtest.GitHubKnobs) { k.User.ID = 0 }, upstream.ErrRefused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gh := upstreamtest.NewGitHub(t)
			p := newProvider(t, gh.Config("github"), gh.Client())
			req := newRequest()
			to, err := p.AuthURL(t.Context(), redirectURI, req.state, "", req.verifier)
			if err != nil {
				t.Fatal(err)
			}
			cb, err := gh.Authorize(to)
			if err != nil {
				t.Fatal(err)
			}
			gh.Update(tt.knobs)
			claims, err := p.Exchange(t.Context(), redirectURI, cb.Get("code"), req.verifier, "", cb)
			if claims != nil {
				t.Errorf("claims %+v with an error", claims)
			}
			wantErr(t, err, tt.want)
			for _, secret := range []string{cb.Get("code"), gh.ClientSecret} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q holds a secret", err)
				}
			}
		})
	}
}

func TestGitHubChecksTheRoundTrip(t *testing.T) {
	gh := upstreamtest.NewGitHub(t)
	p := newProvider(t, gh.Config("github"), gh.Client())
	req := newRequest()
	to, err := p.AuthURL(t.Context(), redirectURI, req.state, "", req.verifier)
	if err != nil {
		t.Fatal(err)
	}
	cb, err := gh.Authorize(to)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Exchange(t.Context(), redirectURI, cb.Get("code"), newRequest().verifier, "", cb)
	wantErr(t, err, upstream.ErrRefused)
	if n := gh.Hits(upstreamtest.EndpointUser); n != 0 {
		t.Errorf("/user called %d times after a refused code", n)
	}
}

func TestGitHubDown(t *testing.T) {
	t.Run("closed", func(t *testing.T) {
		gh := upstreamtest.NewGitHub(t)
		p := newProvider(t, gh.Config("github"), gh.Client())
		gh.Close()
		req := newRequest()
		_, err := p.Exchange(t.Context(), redirectURI, "some-code", req.verifier, "", nil)
		wantErr(t, err, upstream.ErrUnavailable)
	})
	t.Run("slower than the context", func(t *testing.T) {
		gh := upstreamtest.NewGitHub(t)
		p := newProvider(t, gh.Config("github"), gh.Client())
		gh.Update(func(k *upstreamtest.GitHubKnobs) { k.Delay = time.Hour })
		req := newRequest()
		_, err := p.Exchange(ctxTimeout(t), redirectURI, "some-code", req.verifier, "", nil)
		wantErr(t, err, upstream.ErrUnavailable)
	})
}

func TestGitHubHasNoIDTokens(t *testing.T) {
	gh := upstreamtest.NewGitHub(t)
	p := newProvider(t, gh.Config("github"), gh.Client())
	_, err := p.VerifyIDToken(t.Context(), "a.b.c", "")
	wantErr(t, err, upstream.ErrRefused)
}
