package upstream_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/upstream"
	"github.com/foyer-id/foyer/internal/upstream/upstreamtest"
)

func TestAuthURL(t *testing.T) {
	oidcSrv := upstreamtest.NewOIDC(t, upstreamtest.Options{})
	appleSrv := upstreamtest.NewOIDC(t, upstreamtest.Options{Kind: upstream.KindApple})
	msSrv := upstreamtest.NewOIDC(t, upstreamtest.Options{Kind: upstream.KindMicrosoft})
	gh := upstreamtest.NewGitHub(t)

	googleSrv := upstreamtest.NewOIDC(t, upstreamtest.Options{Kind: upstream.KindGoogle})

	tests := []struct {
		name     string
		cfg      upstream.Config
		client   *http.Client
		endpoint string
		scope    string
		nonce    bool
		formPost bool
	}{
		{"oidc", oidcSrv.Config("acme"), oidcSrv.Client(), oidcSrv.Issuer + "/authorize", "openid email profile", true, false},
		{"google", googleSrv.Config("google"), googleSrv.Client(), googleSrv.Issuer + "/authorize", "openid email profile", true, false},
		{"apple", appleSrv.Config("apple"), appleSrv.Client(), appleSrv.Issuer + "/authorize", "openid email name", true, true},
		{"microsoft", msSrv.Config("microsoft"), msSrv.Client(), msSrv.Issuer + "/authorize", "openid email profile", true, false},
		{"github", gh.Config("github"), gh.Client(), gh.AuthURL, "read:user user:email", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newProvider(t, tt.cfg, tt.client)
			if p.FormPost() != tt.formPost {
				t.Errorf("FormPost() = %v, want %v", p.FormPost(), tt.formPost)
			}
			req := newRequest()
			to, err := p.AuthURL(t.Context(), redirectURI, req.state, req.nonce, req.verifier)
			if err != nil {
				t.Fatal(err)
			}
			u, err := url.Parse(to)
			if err != nil {
				t.Fatal(err)
			}
			if got := u.Scheme + "://" + u.Host + u.Path; got != tt.endpoint {
				t.Errorf("endpoint %q, want %q", got, tt.endpoint)
			}
			sum := sha256.Sum256([]byte(req.verifier))
			want := url.Values{
				"response_type":         {"code"},
				"client_id":             {tt.cfg.ClientID},
				"redirect_uri":          {redirectURI},
				"scope":                 {tt.scope},
				"state":                 {req.state},
				"code_challenge":        {base64.RawURLEncoding.EncodeToString(sum[:])},
				"code_challenge_method": {"S256"},
			}
			if tt.nonce {
				want.Set("nonce", req.nonce)
			}
			if tt.formPost {
				want.Set("response_mode", "form_post")
			}
			if got := u.Query(); got.Encode() != want.Encode() {
				t.Errorf("parameters\n got %v\nwant %v", got, want)
			}
		})
	}
}

func TestAuthURLNeedsItsParameters(t *testing.T) {
	srv := upstreamtest.NewOIDC(t, upstreamtest.Options{})
	p := newProvider(t, srv.Config("acme"), srv.Client())
	req := newRequest()
	for name, args := range map[string][4]string{
		"no redirect uri":  {"", req.state, req.nonce, req.verifier},
		"no state":         {redirectURI, "", req.nonce, req.verifier},
		"no nonce":         {redirectURI, req.state, "", req.verifier},
		"short verifier":   {redirectURI, req.state, req.nonce, "short"},
		"invalid verifier": {redirectURI, req.state, req.nonce, strings.Repeat("é", 43)},
	} {
		if _, err := p.AuthURL(t.Context(), args[0], args[1], args[2], args[3]); err == nil {
			t.Errorf("%s: AuthURL succeeded", name)
		}
	}
	if n := srv.Hits(upstreamtest.EndpointDiscovery); n != 0 {
		t.Errorf("discovery fetched %d times for requests refused up front", n)
	}
}

func TestExchangeOIDC(t *testing.T) {
	srv := upstreamtest.NewOIDC(t, upstreamtest.Options{})
	tests := []struct {
		name     string
		edit     func(*upstream.Config)
		wantAuth string
	}{
		{"secret basic (default)", func(*upstream.Config) {}, upstreamtest.AuthBasic},
		{"secret post", func(c *upstream.Config) { c.AuthMethod = upstream.AuthSecretPost }, upstreamtest.AuthPost},
		{"private key jwt, RSA", func(c *upstream.Config) {
			c.ClientSecret, c.PrivateKey, c.KeyID = "", srv.ClientRSAKey, upstreamtest.ClientRSAKeyID
		}, upstreamtest.AuthPrivateKey},
		{"private key jwt, P-256, no kid", func(c *upstream.Config) {
			c.ClientSecret, c.PrivateKey, c.AuthMethod = "", srv.ClientECKey, upstream.AuthPrivateKeyJWT
		}, upstreamtest.AuthPrivateKey},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := srv.Config("acme")
			cfg.Claims = map[string]string{"first_name": "given_name", "missing": "no_such_claim"}
			tt.edit(&cfg)
			p := newProvider(t, cfg, srv.Client())
			claims, err := signIn(t, p, srv.Authorize)
			if err != nil {
				t.Fatal(err)
			}
			if got := srv.LastClientAuth(); got != tt.wantAuth {
				t.Errorf("client authenticated with %q, want %q", got, tt.wantAuth)
			}
			want := upstream.Claims{
				Subject: "user-1", Email: "ada@example.com", EmailVerified: true,
				Name: "Ada Lovelace", GivenName: "Ada", FamilyName: "Lovelace", Issuer: srv.Issuer,
			}
			if claims.Subject != want.Subject || claims.Email != want.Email || !claims.EmailVerified ||
				claims.Name != want.Name || claims.GivenName != want.GivenName || claims.FamilyName != want.FamilyName ||
				claims.Issuer != want.Issuer || claims.MFA || claims.PrivateEmail {
				t.Errorf("claims %+v, want %+v", *claims, want)
			}
			wantTraits := map[string]any{"email": "ada@example.com", "name": "Ada Lovelace", "first_name": "Ada"}
			if !equalTraits(claims.Traits, wantTraits) {
				t.Errorf("traits %v, want %v", claims.Traits, wantTraits)
			}
		})
	}
}

func equalTraits(a, b map[string]any) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestExchangeEmailVerified(t *testing.T) {
	srv := upstreamtest.NewOIDC(t, upstreamtest.Options{})
	p := newProvider(t, srv.Config("acme"), srv.Client())
	tests := []struct {
		email    string
		verified any
		want     bool
	}{
		{"a@example.com", true, true},
		{"a@example.com", "true", true},
		{"a@example.com", false, false},
		{"a@example.com", "false", false},
		{"a@example.com", nil, false},
		{"a@example.com", "yes", false},
		{"", true, false}, // no address: nothing to be verified
	}
	for _, tt := range tests {
		srv.SetUser(upstreamtest.User{Subject: "s", Email: tt.email, EmailVerified: tt.verified})
		claims, err := signIn(t, p, srv.Authorize)
		if err != nil {
			t.Fatal(err)
		}
		if claims.EmailVerified != tt.want || claims.Email != tt.email {
			t.Errorf("email %q verified %#v: got %q verified %v, want verified %v", tt.email, tt.verified, claims.Email, claims.EmailVerified, tt.want)
		}
	}
}

func TestDiscoveryAndKeysAreCached(t *testing.T) {
	srv := upstreamtest.NewOIDC(t, upstreamtest.Options{})
	p := newProvider(t, srv.Config("acme"), srv.Client())
	for range 3 {
		if _, err := signIn(t, p, srv.Authorize); err != nil {
			t.Fatal(err)
		}
	}
	if d, k := srv.Hits(upstreamtest.EndpointDiscovery), srv.Hits(upstreamtest.EndpointKeys); d != 1 || k != 1 {
		t.Errorf("discovery fetched %d times, keys %d times; want once each", d, k)
	}
}

func TestConcurrentFirstUse(t *testing.T) {
	srv := upstreamtest.NewOIDC(t, upstreamtest.Options{})
	p := newProvider(t, srv.Config("acme"), srv.Client())
	token := srv.SignIDToken(map[string]any{"sub": "user-1"})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, err := p.VerifyIDToken(t.Context(), token, "")
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if d, k := srv.Hits(upstreamtest.EndpointDiscovery), srv.Hits(upstreamtest.EndpointKeys); d != 1 || k != 1 {
		t.Errorf("discovery fetched %d times, keys %d times; want once each", d, k)
	}
}

func TestDiscoveryFailureIsRetried(t *testing.T) {
	srv := upstreamtest.NewOIDC(t, upstreamtest.Options{})
	p := newProvider(t, srv.Config("acme"), srv.Client())
	srv.Update(func(k *upstreamtest.Knobs) { k.Status = http.StatusInternalServerError })
	req := newRequest()
	_, err := p.AuthURL(t.Context(), redirectURI, req.state, req.nonce, req.verifier)
	wantErr(t, err, upstream.ErrUnavailable)

	srv.Update(func(k *upstreamtest.Knobs) { k.Status = 0 })
	if _, err := signIn(t, p, srv.Authorize); err != nil {
		t.Fatalf("after the provider recovered: %v", err)
	}
	if n := srv.Hits(upstreamtest.EndpointDiscovery); n != 2 {
		t.Errorf("discovery fetched %d times, want 2", n)
	}
}

func TestDiscoveryIssuerMustMatch(t *testing.T) {
	srv := upstreamtest.NewOIDC(t, upstreamtest.Options{})
	cfg := srv.Config("acme")
	cfg.Issuer += "/" // the document names the issuer without the slash
	p := newProvider(t, cfg, srv.Client())
	req := newRequest()
	_, err := p.AuthURL(t.Context(), redirectURI, req.state, req.nonce, req.verifier)
	wantErr(t, err, upstream.ErrUnavailable)
}

func TestExchangeFailures(t *testing.T) {
	tests := []struct {
		name  string
		knobs func(*upstreamtest.Knobs)
		edit  func(*upstream.Config)
		want  error
	}{
		{name: "token endpoint 500", knobs: func(k *upstreamtest.Knobs) { k.Status = http.StatusInternalServerError }, want: upstream.ErrUnavailable},
		{name: "token endpoint 503", knobs: func(k *upstreamtest.Knobs) { k.Status = http.StatusServiceUnavailable }, want: upstream.ErrUnavailable},
		{name: "invalid_grant", knobs: func(k *upstreamtest.Knobs) { k.TokenError = "invalid_grant" }, want: upstream.ErrRefused},
		{name: "wrong nonce", knobs: func(k *upstreamtest.Knobs) { k.WrongNonce = true }, want: upstream.ErrRefused},
		{name: "unknown signing key", knobs: func(k *upstreamtest.Knobs) { k.UnknownKey = true }, want: upstream.ErrRefused},
		{name: "wrong audience", knobs: func(k *upstreamtest.Knobs) { k.Audience = "someone-else" }, want: upstream.ErrRefused},
		{name: "wrong issuer", knobs: func(k *upstreamtest.Knobs) { k.Issuer = "https://evil.example.com" }, want: upstream.ErrRefused},
		{name: "expired", knobs: func(k *upstreamtest.Knobs) { k.TokenTTL = -time.Hour }, want: upstream.ErrRefused},
		{name: "no subject", knobs: func(k *upstreamtest.Knobs) { k.User.Subject = "" }, want: upstream.ErrRefused},
		{name: "azp of another client", knobs: func(k *upstreamtest.Knobs) { k.User.Claims = map[string]any{"azp": "other"} }, want: upstream.ErrRefused},
		{name: "wrong client secret", edit: func(c *upstream.Config) { c.ClientSecret = "guess" }, want: upstream.ErrRefused},
		{name: "assertion signed by another key", edit: func(c *upstream.Config) {
			key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			if err != nil {
				t.Fatal(err)
			}
			c.ClientSecret, c.PrivateKey, c.KeyID = "", key, ""
		}, want: upstream.ErrRefused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := upstreamtest.NewOIDC(t, upstreamtest.Options{})
			cfg := srv.Config("acme")
			if tt.edit != nil {
				tt.edit(&cfg)
			}
			p := newProvider(t, cfg, srv.Client())
			req := newRequest()
			to, err := p.AuthURL(t.Context(), redirectURI, req.state, req.nonce, req.verifier)
			if err != nil {
				t.Fatal(err)
			}
			cb, err := srv.Authorize(to)
			if err != nil {
				t.Fatal(err)
			}
			if tt.knobs != nil {
				srv.Update(tt.knobs)
			}
			claims, err := p.Exchange(t.Context(), redirectURI, cb.Get("code"), req.verifier, req.nonce, cb)
			if claims != nil {
				t.Errorf("claims %+v with an error", claims)
			}
			wantErr(t, err, tt.want)
			for _, secret := range []string{cb.Get("code"), cfg.ClientSecret} {
				if secret != "" && strings.Contains(err.Error(), secret) {
					t.Errorf("error %q holds a secret", err)
				}
			}
		})
	}
}

func TestExchangeChecksTheRoundTrip(t *testing.T) {
	srv := upstreamtest.NewOIDC(t, upstreamtest.Options{})
	p := newProvider(t, srv.Config("acme"), srv.Client())
	start := func() (request, string) {
		req := newRequest()
		to, err := p.AuthURL(t.Context(), redirectURI, req.state, req.nonce, req.verifier)
		if err != nil {
			t.Fatal(err)
		}
		cb, err := srv.Authorize(to)
		if err != nil {
			t.Fatal(err)
		}
		return req, cb.Get("code")
	}

	t.Run("another verifier", func(t *testing.T) {
		req, code := start()
		_, err := p.Exchange(t.Context(), redirectURI, code, newRequest().verifier, req.nonce, nil)
		wantErr(t, err, upstream.ErrRefused)
	})
	t.Run("another nonce", func(t *testing.T) {
		req, code := start()
		_, err := p.Exchange(t.Context(), redirectURI, code, req.verifier, newRequest().nonce, nil)
		wantErr(t, err, upstream.ErrRefused)
	})
	t.Run("code used twice", func(t *testing.T) {
		req, code := start()
		if _, err := p.Exchange(t.Context(), redirectURI, code, req.verifier, req.nonce, nil); err != nil {
			t.Fatal(err)
		}
		_, err := p.Exchange(t.Context(), redirectURI, code, req.verifier, req.nonce, nil)
		wantErr(t, err, upstream.ErrRefused)
	})
	t.Run("no code", func(t *testing.T) {
		req, _ := start()
		_, err := p.Exchange(t.Context(), redirectURI, "", req.verifier, req.nonce, nil)
		wantErr(t, err, upstream.ErrRefused)
	})
	t.Run("no nonce", func(t *testing.T) {
		req, code := start()
		if _, err := p.Exchange(t.Context(), redirectURI, code, req.verifier, "", nil); err == nil {
			t.Fatal("Exchange without a nonce succeeded")
		}
	})
}

func TestProviderDown(t *testing.T) {
	t.Run("before discovery", func(t *testing.T) {
		srv := upstreamtest.NewOIDC(t, upstreamtest.Options{})
		p := newProvider(t, srv.Config("acme"), srv.Client())
		srv.Close()
		req := newRequest()
		_, err := p.AuthURL(t.Context(), redirectURI, req.state, req.nonce, req.verifier)
		wantErr(t, err, upstream.ErrUnavailable)
	})
	t.Run("at the token endpoint", func(t *testing.T) {
		srv := upstreamtest.NewOIDC(t, upstreamtest.Options{})
		p := newProvider(t, srv.Config("acme"), srv.Client())
		req := newRequest()
		to, err := p.AuthURL(t.Context(), redirectURI, req.state, req.nonce, req.verifier)
		if err != nil {
			t.Fatal(err)
		}
		cb, err := srv.Authorize(to)
		if err != nil {
			t.Fatal(err)
		}
		srv.Close()
		_, err = p.Exchange(t.Context(), redirectURI, cb.Get("code"), req.verifier, req.nonce, cb)
		wantErr(t, err, upstream.ErrUnavailable)
	})
	t.Run("slower than the context", func(t *testing.T) {
		srv := upstreamtest.NewOIDC(t, upstreamtest.Options{})
		p := newProvider(t, srv.Config("acme"), srv.Client())
		srv.Update(func(k *upstreamtest.Knobs) { k.Delay = time.Hour })
		req := newRequest()
		_, err := p.AuthURL(ctxTimeout(t), redirectURI, req.state, req.nonce, req.verifier)
		wantErr(t, err, upstream.ErrUnavailable)
	})
	t.Run("keys unavailable", func(t *testing.T) {
		srv := upstreamtest.NewOIDC(t, upstreamtest.Options{})
		p := newProvider(t, srv.Config("acme"), srv.Client())
		token := srv.SignIDToken(map[string]any{"sub": "user-1"})
		req := newRequest()
		if _, err := p.AuthURL(t.Context(), redirectURI, req.state, req.nonce, req.verifier); err != nil {
			t.Fatal(err)
		}
		srv.Update(func(k *upstreamtest.Knobs) { k.Status = http.StatusBadGateway })
		_, err := p.VerifyIDToken(t.Context(), token, "")
		wantErr(t, err, upstream.ErrUnavailable)
	})
}

func TestOversizedAnswer(t *testing.T) {
	big := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"issuer":"` + strings.Repeat("x", 2<<20) + `"}`))
	}))
	t.Cleanup(big.Close)
	p := newProvider(t, upstream.Config{ID: "big", Kind: upstream.KindOIDC, Issuer: big.URL, ClientID: "c", ClientSecret: "s"}, big.Client())
	req := newRequest()
	_, err := p.AuthURL(t.Context(), redirectURI, req.state, req.nonce, req.verifier)
	wantErr(t, err, upstream.ErrUnavailable)
	if !strings.Contains(err.Error(), "1 MiB") {
		t.Errorf("error %q does not say the answer was too large", err)
	}
}

func TestKeyRotation(t *testing.T) {
	srv := upstreamtest.NewOIDC(t, upstreamtest.Options{})
	p := newProvider(t, srv.Config("acme"), srv.Client())
	now := time.Now()
	upstream.SetClock(p, func() time.Time { return now })
	srv.Update(func(k *upstreamtest.Knobs) { k.TokenTTL = 24 * time.Hour }) // valid across the clock's jumps
	if _, err := signIn(t, p, srv.Authorize); err != nil {
		t.Fatal(err)
	}
	srv.RotateKey()

	// Right after a fetch, a token with an unknown key fetches nothing.
	_, err := signIn(t, p, srv.Authorize)
	wantErr(t, err, upstream.ErrRefused)
	if n := srv.Hits(upstreamtest.EndpointKeys); n != 1 {
		t.Fatalf("keys fetched %d times, want 1", n)
	}

	// A minute later, it fetches the keys again, once, and finds the new one.
	now = now.Add(2 * time.Minute)
	if _, err := signIn(t, p, srv.Authorize); err != nil {
		t.Fatalf("after the rotation: %v", err)
	}
	if n := srv.Hits(upstreamtest.EndpointKeys); n != 2 {
		t.Errorf("keys fetched %d times, want 2", n)
	}

	// Keys older than their maximum age are fetched again.
	now = now.Add(2 * time.Hour)
	if _, err := signIn(t, p, srv.Authorize); err != nil {
		t.Fatal(err)
	}
	if n := srv.Hits(upstreamtest.EndpointKeys); n != 3 {
		t.Errorf("keys fetched %d times, want 3", n)
	}
}

func TestUnknownKeyFetchesOnce(t *testing.T) {
	srv := upstreamtest.NewOIDC(t, upstreamtest.Options{})
	p := newProvider(t, srv.Config("acme"), srv.Client())
	now := time.Now()
	upstream.SetClock(p, func() time.Time { return now })
	if _, err := p.VerifyIDToken(t.Context(), srv.SignIDToken(map[string]any{"sub": "u"}), ""); err != nil {
		t.Fatal(err)
	}
	srv.Update(func(k *upstreamtest.Knobs) { k.UnknownKey = true })
	stranger := srv.SignIDToken(map[string]any{"sub": "u", "exp": now.Add(time.Hour).Unix()})
	now = now.Add(2 * time.Minute)
	for range 3 {
		_, err := p.VerifyIDToken(t.Context(), stranger, "")
		wantErr(t, err, upstream.ErrRefused)
	}
	if n := srv.Hits(upstreamtest.EndpointKeys); n != 2 {
		t.Errorf("keys fetched %d times, want 2: once at first, once more for the unknown key", n)
	}
}

func TestVerifyIDToken(t *testing.T) {
	srv := upstreamtest.NewOIDC(t, upstreamtest.Options{})
	cfg := srv.Config("acme")
	cfg.AppClientIDs = []string{"com.example.ios", "com.example.android"}
	p := newProvider(t, cfg, srv.Client())
	now := time.Now().Unix()
	tests := []struct {
		name   string
		claims map[string]any
		nonce  string
		want   error
	}{
		{"web client", map[string]any{"sub": "u"}, "", nil},
		{"ios app", map[string]any{"sub": "u", "aud": "com.example.ios"}, "", nil},
		{"android app as azp", map[string]any{"sub": "u", "aud": srv.ClientID, "azp": "com.example.android"}, "", nil},
		{"one of many audiences", map[string]any{"sub": "u", "aud": []string{"x", "com.example.ios"}, "azp": "com.example.ios"}, "", nil},
		{"nonce matches", map[string]any{"sub": "u", "nonce": "n-1"}, "n-1", nil},
		{"nonce differs", map[string]any{"sub": "u", "nonce": "n-2"}, "n-1", upstream.ErrRefused},
		{"nonce missing", map[string]any{"sub": "u"}, "n-1", upstream.ErrRefused},
		{"unknown app", map[string]any{"sub": "u", "aud": "com.evil.app"}, "", upstream.ErrRefused},
		{"unknown azp", map[string]any{"sub": "u", "azp": "com.evil.app"}, "", upstream.ErrRefused},
		{"expired", map[string]any{"sub": "u", "iat": now - 7200, "exp": now - 3600}, "", upstream.ErrRefused},
		{"issued in the future", map[string]any{"sub": "u", "iat": now + 3600, "exp": now + 7200}, "", upstream.ErrRefused},
		{"no exp", map[string]any{"sub": "u", "exp": nil}, "", upstream.ErrRefused},
		{"other issuer", map[string]any{"sub": "u", "iss": "https://other.example.com"}, "", upstream.ErrRefused},
		{"no subject", map[string]any{"email": "a@example.com"}, "", upstream.ErrRefused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			claims, err := p.VerifyIDToken(t.Context(), srv.SignIDToken(tt.claims), tt.nonce)
			if tt.want == nil {
				if err != nil || claims.Subject != "u" {
					t.Fatalf("claims %+v, error %v", claims, err)
				}
				return
			}
			wantErr(t, err, tt.want)
		})
	}
	t.Run("not a token", func(t *testing.T) {
		for _, raw := range []string{"", "abc", "a.b.c"} {
			_, err := p.VerifyIDToken(t.Context(), raw, "")
			wantErr(t, err, upstream.ErrRefused)
		}
	})
	t.Run("unsigned", func(t *testing.T) {
		header := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none"}`))
		body := base64.RawURLEncoding.EncodeToString([]byte(`{"iss":"` + srv.Issuer + `","sub":"u","aud":"` + srv.ClientID + `"}`))
		_, err := p.VerifyIDToken(t.Context(), header+"."+body+".", "")
		wantErr(t, err, upstream.ErrRefused)
	})
	t.Run("without app client ids", func(t *testing.T) {
		p := newProvider(t, srv.Config("acme"), srv.Client())
		_, err := p.VerifyIDToken(t.Context(), srv.SignIDToken(map[string]any{"sub": "u", "aud": "com.example.ios"}), "")
		wantErr(t, err, upstream.ErrRefused)
	})
}

func TestMFA(t *testing.T) {
	srv := upstreamtest.NewOIDC(t, upstreamtest.Options{})
	const acrMFA = "http://schemas.openid.net/pape/policies/2007/06/multi-factor"
	tests := []struct {
		name   string
		values []string
		claims map[string]any
		want   bool
	}{
		{"amr mfa", []string{"mfa"}, map[string]any{"amr": []string{"pwd", "mfa"}}, true},
		{"amr hwk among several values", []string{"mfa", "hwk", "otp"}, map[string]any{"amr": []string{"hwk"}}, true},
		{"amr as a string", []string{"mfa"}, map[string]any{"amr": "mfa"}, true},
		{"password only", []string{"mfa"}, map[string]any{"amr": []string{"pwd"}}, false},
		{"acr uri", []string{acrMFA}, map[string]any{"acr": acrMFA}, true},
		{"other acr", []string{acrMFA}, map[string]any{"acr": "urn:basic"}, false},
		{"no mfa values", nil, map[string]any{"amr": []string{"mfa"}, "acr": acrMFA}, false},
		{"malformed amr", []string{"mfa"}, map[string]any{"amr": map[string]any{"mfa": true}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := srv.Config("acme")
			cfg.MFAValues = tt.values
			p := newProvider(t, cfg, srv.Client())
			tt.claims["sub"] = "u"
			claims, err := p.VerifyIDToken(t.Context(), srv.SignIDToken(tt.claims), "")
			if err != nil {
				t.Fatal(err)
			}
			if claims.MFA != tt.want {
				t.Errorf("MFA = %v, want %v (amr %q, acr %q)", claims.MFA, tt.want, claims.AMR, claims.ACR)
			}
		})
	}
}

func TestGoogleIssuerWithoutScheme(t *testing.T) {
	// Google documents both issuers; the check accepts the short one only
	// for Google's real issuer, so here a test issuer refuses it.
	srv := upstreamtest.NewOIDC(t, upstreamtest.Options{Kind: upstream.KindGoogle})
	p := newProvider(t, srv.Config("google"), srv.Client())
	_, err := p.VerifyIDToken(t.Context(), srv.SignIDToken(map[string]any{"sub": "u", "iss": "accounts.google.com"}), "")
	wantErr(t, err, upstream.ErrRefused)
}

func TestHTTPClientTimeout(t *testing.T) {
	srv := upstreamtest.NewOIDC(t, upstreamtest.Options{})
	caller := &http.Client{}
	p := newProvider(t, srv.Config("acme"), caller)
	if got := upstream.HTTPClient(p).Timeout; got != 10*time.Second {
		t.Errorf("timeout %v, want 10s", got)
	}
	if caller.Timeout != 0 {
		t.Error("New changed the caller's client")
	}
	own := &http.Client{Timeout: 3 * time.Second}
	if got := upstream.HTTPClient(newProvider(t, srv.Config("acme"), own)).Timeout; got != 3*time.Second {
		t.Errorf("timeout %v, want the caller's 3s", got)
	}
	if upstream.HTTPClient(newProvider(t, srv.Config("acme"), nil)).Timeout != 10*time.Second {
		t.Error("a nil client has no time-out")
	}
}

func TestAccessors(t *testing.T) {
	srv := upstreamtest.NewOIDC(t, upstreamtest.Options{})
	cfg := srv.Config("acme")
	cfg.Name = "Acme SSO"
	scopes := []string{"openid", "email"}
	cfg.Scopes = scopes
	p := newProvider(t, cfg, srv.Client())
	if p.ID() != "acme" || p.Name() != "Acme SSO" || p.Kind() != upstream.KindOIDC || p.FormPost() {
		t.Errorf("ID %q Name %q Kind %q FormPost %v", p.ID(), p.Name(), p.Kind(), p.FormPost())
	}
	scopes[1] = "changed"
	req := newRequest()
	to, err := p.AuthURL(t.Context(), redirectURI, req.state, req.nonce, req.verifier)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(to)
	if got := strings.Fields(u.Query().Get("scope")); !slices.Equal(got, []string{"openid", "email"}) {
		t.Errorf("scopes %q: the provider shares the caller's slice", got)
	}
}
