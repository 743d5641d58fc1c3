package oidc_test

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/foyer-id/foyer/internal/api"
	"github.com/foyer-id/foyer/internal/client"
	"github.com/foyer-id/foyer/internal/decision"
	"github.com/foyer-id/foyer/internal/event"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

const password = "correct horse battery staple"

func ptr[T any](v T) *T { return &v }

// rp is a relying party under test: a registered client, the standard
// client libraries configured for it, and a browser.
type rp struct {
	t        *testing.T
	env      *servertest.Env
	client   *client.Client
	secret   string
	provider *gooidc.Provider
	verifier *gooidc.IDTokenVerifier
	oauth    oauth2.Config
	browser  *servertest.Browser
}

const redirectURI = "https://shop.example/callback"

func newRP(t *testing.T, env *servertest.Env, spec client.Spec) *rp {
	t.Helper()
	ctx := context.Background()
	if spec.Name == nil {
		spec.Name = ptr("Shop")
	}
	if spec.RedirectURIs == nil {
		spec.RedirectURIs = &[]string{redirectURI}
	}
	c, secret, err := env.Server.Clients.Create(ctx, "customers", spec)
	if err != nil {
		t.Fatal(err)
	}
	provider, err := gooidc.NewProvider(ctx, env.URL)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	return &rp{t: t, env: env, client: c, secret: secret, provider: provider,
		verifier: provider.Verifier(&gooidc.Config{ClientID: c.ID}),
		oauth: oauth2.Config{ClientID: c.ID, ClientSecret: secret, Endpoint: provider.Endpoint(), RedirectURL: redirectURI,
			Scopes: []string{gooidc.ScopeOpenID, "email", "profile", gooidc.ScopeOfflineAccess}},
		browser: env.NewBrowser(t)}
}

func random() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// signUp creates an active customer through the JSON API.
func signUp(t *testing.T, env *servertest.Env, email string) {
	t.Helper()
	var start api.FlowResponse
	env.JSON(t, "POST", "/api/registration", "", nil, &start)
	before := env.MailCount(email)
	env.JSON(t, "POST", "/api/registration/"+start.Flow.ID, "", map[string]any{"traits": map[string]any{"email": email, "name": "Alice"}, "password": password}, nil)
	code := servertest.CodeFrom(t, env.MailTo(t, email, before+1))
	if r := env.JSON(t, "POST", "/api/flows/"+start.Flow.ID+"/code", "", map[string]any{"code": code}, nil); r.StatusCode != 200 {
		t.Fatalf("sign-up: %s", r.Body)
	}
}

// follow walks redirects inside Foyer until one leaves for the client; it
// signs in when the login page shows up. It returns the final redirect.
func (p *rp) follow(start string, email string) *url.URL {
	p.t.Helper()
	next := start
	for range 10 {
		u, _ := url.Parse(next)
		if u.Host != "" && !strings.HasPrefix(next, p.env.URL) {
			return u
		}
		path := strings.TrimPrefix(next, p.env.URL)
		var r *servertest.Response
		if strings.HasPrefix(path, "/login") {
			r = p.browser.Submit(path, url.Values{"email": {email}, "password": {password}, "return_to": {u.Query().Get("return_to")}})
		} else {
			r = p.browser.Get(path)
		}
		switch r.StatusCode {
		case http.StatusFound, http.StatusSeeOther:
			next = r.Header.Get("Location")
		default:
			p.t.Fatalf("GET %s: %d\n%s", path, r.StatusCode, r.Body)
		}
	}
	p.t.Fatal("too many redirects")
	return nil
}

// authorize runs the code flow with PKCE up to the code.
func (p *rp) authorize(email string, opts ...oauth2.AuthCodeOption) (code, verifier, nonce string) {
	p.t.Helper()
	state, nonce, verifier := random(), random(), oauth2.GenerateVerifier()
	opts = append(opts, oauth2.S256ChallengeOption(verifier), gooidc.Nonce(nonce))
	back := p.follow(p.oauth.AuthCodeURL(state, opts...), email)
	if back.Query().Get("state") != state {
		p.t.Fatalf("state %q, want %q (redirect %s)", back.Query().Get("state"), state, back)
	}
	if e := back.Query().Get("error"); e != "" {
		p.t.Fatalf("authorization error %s: %s", e, back.Query().Get("error_description"))
	}
	if back.Query().Get("iss") != "" && back.Query().Get("iss") != p.env.URL {
		p.t.Fatalf("iss %q", back.Query().Get("iss"))
	}
	return back.Query().Get("code"), verifier, nonce
}

func TestAuthorizationCodeFlow(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		signUp(t, env, "alice@example.com")
		p := newRP(t, env, client.Spec{FirstParty: ptr(true)})
		ctx := context.Background()

		code, verifier, nonce := p.authorize("alice@example.com")
		tok, err := p.oauth.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		rawID, _ := tok.Extra("id_token").(string)
		idt, err := p.verifier.Verify(ctx, rawID)
		if err != nil {
			t.Fatalf("id token: %v", err)
		}
		var claims struct {
			Email         string   `json:"email"`
			EmailVerified bool     `json:"email_verified"`
			Name          string   `json:"name"`
			Nonce         string   `json:"nonce"`
			ACR           string   `json:"acr"`
			AMR           []string `json:"amr"`
			AuthTime      int64    `json:"auth_time"`
		}
		if err := idt.Claims(&claims); err != nil {
			t.Fatal(err)
		}
		if idt.Issuer != env.URL || idt.Audience[0] != p.client.ID || claims.Nonce != nonce || claims.Email != "alice@example.com" ||
			!claims.EmailVerified || claims.ACR != "aal1" || len(claims.AMR) == 0 || claims.AuthTime == 0 {
			t.Fatalf("id token claims: %+v %+v", idt, claims)
		}
		if tok.RefreshToken == "" || !strings.HasPrefix(tok.RefreshToken, "fyr_") {
			t.Fatalf("refresh token %q", tok.RefreshToken)
		}
		// The app's authorization and the token were each decided once,
		// and recorded with the app and the session they were for.
		recs, err := env.Server.Decisions.List(ctx, decision.Query{ClientID: p.client.ID})
		if err != nil {
			t.Fatal(err)
		}
		var decided []string
		for _, r := range recs {
			decided = append(decided, string(r.Action)+"/"+string(r.Effect))
			if r.IdentityID != idt.Subject || r.Input.SessionID == "" {
				t.Fatalf("record lacks its context: %+v", r)
			}
		}
		if got := strings.Join(decided, " "); got != "oauth.authorize/allow token.issue/allow" {
			t.Fatalf("decisions for the app: %s", got)
		}

		// UserInfo with the access token.
		info, err := p.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil || info.Email != "alice@example.com" || info.Subject != idt.Subject {
			t.Fatalf("userinfo: %+v %v", info, err)
		}

		// The code is single-use, and replaying it revokes what it gave.
		if _, err := p.oauth.Exchange(ctx, code, oauth2.VerifierOption(verifier)); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
			t.Fatalf("code reuse: %v", err)
		}
		if _, err := p.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err == nil {
			t.Fatal("access token still works after the code was replayed")
		}
	})
}

// refresh asks for new tokens with a refresh token.
func (p *rp) refresh(rt string) (*oauth2.Token, error) {
	return p.oauth.TokenSource(context.Background(), &oauth2.Token{RefreshToken: rt, Expiry: time.Now().Add(-time.Hour)}).Token()
}

func TestRefreshRotationAndReuse(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		signUp(t, env, "bob@example.com")
		p := newRP(t, env, client.Spec{FirstParty: ptr(true)})
		ctx := context.Background()
		code, verifier, _ := p.authorize("bob@example.com")
		first, err := p.oauth.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		second, err := p.refresh(first.RefreshToken)
		if err != nil || second.RefreshToken == first.RefreshToken || second.AccessToken == "" {
			t.Fatalf("rotation: %v", err)
		}
		// The new ID token says how the customer signed in, as the first did.
		rawID, _ := second.Extra("id_token").(string)
		idt, err := p.verifier.Verify(ctx, rawID)
		if err != nil {
			t.Fatalf("ID token on refresh: %v", err)
		}
		var claims struct {
			ACR      string   `json:"acr"`
			AMR      []string `json:"amr"`
			AuthTime int64    `json:"auth_time"`
		}
		if err := idt.Claims(&claims); err != nil || claims.ACR != "aal1" || len(claims.AMR) == 0 || claims.AuthTime == 0 {
			t.Fatalf("ID token claims on refresh: %+v %v", claims, err)
		}
		third, err := p.refresh(second.RefreshToken)
		if err != nil {
			t.Fatalf("second rotation: %v", err)
		}
		// Past the grace period, presenting a rotated token is reuse: the
		// whole family dies, including the newest token.
		env.Clock.Advance(30 * time.Second)
		if _, err := p.refresh(first.RefreshToken); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
			t.Fatalf("reuse of a rotated token: %v", err)
		}
		if _, err := p.refresh(third.RefreshToken); err == nil {
			t.Fatal("the family survived reuse")
		}
	})
}

// A client that lost the answer retries with the same refresh token
// within the grace period and gets the same successor; once that has been
// used, the old token is reuse and the family dies.
func TestRefreshGrace(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		signUp(t, env, "carol@example.com")
		p := newRP(t, env, client.Spec{FirstParty: ptr(true)})
		code, verifier, _ := p.authorize("carol@example.com")
		first, _ := p.oauth.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
		lost, err := p.refresh(first.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		env.Clock.Advance(5 * time.Second)
		retry, err := p.refresh(first.RefreshToken)
		if err != nil {
			t.Fatalf("retry within grace: %v", err)
		}
		if retry.RefreshToken != lost.RefreshToken {
			t.Fatal("a retry within the grace got another successor")
		}
		ctx := context.Background()
		for _, tok := range []*oauth2.Token{lost, retry} {
			if _, err := p.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err != nil {
				t.Fatalf("the successor's access token: %v", err)
			}
		}
		next, err := p.refresh(retry.RefreshToken)
		if err != nil {
			t.Fatalf("the successor does not work: %v", err)
		}
		// The successor is used: the first token, even within the grace,
		// is reuse, and the whole family dies.
		if _, err := p.refresh(first.RefreshToken); err == nil || !strings.Contains(err.Error(), "invalid_grant") {
			t.Fatalf("the first token after its successor was used: %v", err)
		}
		if _, err := p.refresh(next.RefreshToken); err == nil {
			t.Fatal("the family survived reuse")
		}
		if _, err := p.provider.UserInfo(ctx, oauth2.StaticTokenSource(next)); err == nil {
			t.Fatal("the family's access token survived reuse")
		}
	})
}

// Simultaneous presentations of one refresh token — a client's retries,
// or tabs refreshing at once — all get the same successor, whichever
// commits first, on either database; the family lives on.
func TestRefreshBurstGetsOneSuccessor(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		signUp(t, env, "cleo@example.com")
		p := newRP(t, env, client.Spec{FirstParty: ptr(true)})
		code, verifier, _ := p.authorize("cleo@example.com")
		first, err := p.oauth.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		const n = 6
		var (
			wg      sync.WaitGroup
			release = make(chan struct{})
			got     [n]*oauth2.Token
			errs    [n]error
		)
		for i := range n {
			wg.Go(func() {
				<-release
				got[i], errs[i] = p.refresh(first.RefreshToken)
			})
		}
		close(release)
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("presentation %d of %d: %v", i+1, n, errs[i])
			}
			if got[i].RefreshToken != got[0].RefreshToken {
				t.Fatalf("presentation %d got another successor", i+1)
			}
		}
		ctx := context.Background()
		if _, err := p.provider.UserInfo(ctx, oauth2.StaticTokenSource(got[n-1])); err != nil {
			t.Fatalf("the successor's access token: %v", err)
		}
		if _, err := p.refresh(got[0].RefreshToken); err != nil {
			t.Fatalf("the family died in the burst: %v", err)
		}
	})
}

// An exchange that fails (wrong secret, wrong or missing verifier, another
// client) leaves the code to its client: whoever sees a code in transit
// cannot spend it. Unknown codes with bad credentials get invalid_client.
func TestFailedExchangeKeepsCode(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		signUp(t, env, "dora@example.com")
		p := newRP(t, env, client.Spec{FirstParty: ptr(true)})
		other := newRP(t, env, client.Spec{Name: ptr("Other")})
		code, verifier, _ := p.authorize("dora@example.com")
		exchange := func(id, secret string, form url.Values) (int, map[string]any) {
			form.Set("grant_type", "authorization_code")
			form.Set("redirect_uri", redirectURI)
			return postForm(t, env.URL+"/oauth/token", id, secret, form)
		}
		for name, try := range map[string]func() (int, map[string]any){
			"wrong secret": func() (int, map[string]any) {
				return exchange(p.client.ID, "fcs_wrong", url.Values{"code": {code}, "code_verifier": {verifier}})
			},
			"wrong verifier": func() (int, map[string]any) {
				return exchange(p.client.ID, p.secret, url.Values{"code": {code}, "code_verifier": {verifier + "x"}})
			},
			"no verifier": func() (int, map[string]any) { return exchange(p.client.ID, p.secret, url.Values{"code": {code}}) },
			"another client": func() (int, map[string]any) {
				return exchange(other.client.ID, other.secret, url.Values{"code": {code}, "code_verifier": {verifier}})
			},
			"no authentication": func() (int, map[string]any) {
				return exchange("", "", url.Values{"code": {code}, "code_verifier": {verifier}, "client_id": {p.client.ID}})
			},
		} {
			if status, out := try(); status == 200 {
				t.Fatalf("%s: exchanged: %v", name, out)
			}
		}
		if status, out := exchange(p.client.ID, p.secret, url.Values{"code": {code}, "code_verifier": {verifier}}); status != 200 || out["access_token"] == nil {
			t.Fatalf("the client's own exchange after the failed ones: %d %v", status, out)
		}
		// Bad client credentials are reported as such, whatever the code.
		if status, out := exchange(p.client.ID, "fcs_wrong", url.Values{"code": {"made-up"}, "code_verifier": {verifier}}); status != 401 || out["error"] != "invalid_client" {
			t.Fatalf("made-up code, wrong secret: %d %v", status, out)
		}
	})
}

func TestParallelCodeRedemption(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		signUp(t, env, "dave@example.com")
		p := newRP(t, env, client.Spec{FirstParty: ptr(true)})
		code, verifier, _ := p.authorize("dave@example.com")
		var wg sync.WaitGroup
		var mu sync.Mutex
		ok := 0
		for range 10 {
			wg.Go(func() {
				if _, err := p.oauth.Exchange(context.Background(), code, oauth2.VerifierOption(verifier)); err == nil {
					mu.Lock()
					ok++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if ok != 1 {
			t.Fatalf("%d successful redemptions of one code", ok)
		}
	})
}

func postForm(t *testing.T, u, user, pass string, form url.Values) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", u, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if user != "" {
		req.SetBasicAuth(url.QueryEscape(user), url.QueryEscape(pass))
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("%s: Cache-Control %q", u, resp.Header.Get("Cache-Control"))
	}
	if resp.StatusCode == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") != `Basic realm="foyer"` {
		t.Errorf("%s: 401 with WWW-Authenticate %q", u, resp.Header.Get("WWW-Authenticate"))
	}
	return resp.StatusCode, out
}

func TestIntrospectionAndRevocation(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		signUp(t, env, "erin@example.com")
		p := newRP(t, env, client.Spec{FirstParty: ptr(true)})
		code, verifier, _ := p.authorize("erin@example.com")
		tok, err := p.oauth.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		introspect := func(token string) map[string]any {
			status, out := postForm(t, env.URL+"/oauth/introspect", p.client.ID, p.secret, url.Values{"token": {token}})
			if status != 200 {
				t.Fatalf("introspect: %d %v", status, out)
			}
			return out
		}
		if got := introspect(tok.AccessToken); got["active"] != true || got["client_id"] != p.client.ID || got["scope"] == nil {
			t.Fatalf("introspection: %v", got)
		}
		// The token parameter is required.
		for _, path := range []string{"/oauth/introspect", "/revoke"} {
			if status, out := postForm(t, env.URL+path, p.client.ID, p.secret, url.Values{}); status != 400 || out["error"] != "invalid_request" {
				t.Errorf("%s without a token: %d %v", path, status, out)
			}
		}
		// Another client may not look at it.
		other := newRP(t, env, client.Spec{Name: ptr("Other")})
		if status, out := postForm(t, env.URL+"/oauth/introspect", other.client.ID, other.secret, url.Values{"token": {tok.AccessToken}}); status != 200 || out["active"] != false {
			t.Fatalf("foreign introspection: %d %v", status, out)
		}
		// Revoking the refresh token revokes its family, access token included.
		if status, _ := postForm(t, env.URL+"/revoke", p.client.ID, p.secret, url.Values{"token": {tok.RefreshToken}, "token_type_hint": {"refresh_token"}}); status != 200 {
			t.Fatalf("revoke: %d", status)
		}
		if got := introspect(tok.AccessToken); got["active"] != false {
			t.Fatalf("after revocation: %v", got)
		}
		if _, err := p.refresh(tok.RefreshToken); err == nil {
			t.Fatal("revoked refresh token works")
		}
	})
}

func TestClientCredentials(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		c, secret, err := env.Server.Clients.Create(context.Background(), "customers", client.Spec{
			Name: ptr("Nightly job"), GrantTypes: &[]string{"client_credentials"}, Scopes: &[]string{"reports:read"}})
		if err != nil {
			t.Fatal(err)
		}
		status, out := postForm(t, env.URL+"/oauth/token", c.ID, secret, url.Values{"grant_type": {"client_credentials"}, "scope": {"reports:read openid"}})
		if status != 200 || out["access_token"] == nil || out["token_type"] != "Bearer" {
			t.Fatalf("client_credentials: %d %v", status, out)
		}
		if exp, _ := out["expires_in"].(float64); exp < 200 || exp > 300 {
			t.Fatalf("expires_in %v, want about 5 minutes", out["expires_in"])
		}
		// The JWT access token verifies against the JWKS.
		keySet := gooidc.NewRemoteKeySet(context.Background(), env.URL+"/keys")
		payload, err := keySet.VerifySignature(context.Background(), out["access_token"].(string))
		if err != nil {
			t.Fatalf("JWT access token: %v", err)
		}
		var claims map[string]any
		_ = json.Unmarshal(payload, &claims)
		if claims["client_id"] != c.ID || claims["scope"] != "reports:read" || claims["sub"] != c.ID || claims["iss"] != env.URL ||
			claims["jti"] == nil || claims["iat"] == nil || claims["exp"] == nil || claims["aud"] == nil {
			t.Fatalf("claims: %v", claims)
		}
		// The issue is an event, committed with the token.
		issued, err := env.Server.Events.List(context.Background(), event.Query{Type: "oauth.client_credentials"})
		if err != nil || len(issued) != 1 || issued[0].Outcome != event.OutcomeSuccess || issued[0].ClientID != c.ID {
			t.Fatalf("oauth.client_credentials events: %+v %v", issued, err)
		}
		// RFC 9068: the header says what it is, so it cannot pass for an
		// ID token.
		jws, err := jose.ParseSigned(out["access_token"].(string), []jose.SignatureAlgorithm{jose.RS256})
		if err != nil || jws.Signatures[0].Protected.ExtraHeaders["typ"] != "at+jwt" || jws.Signatures[0].Protected.KeyID == "" {
			t.Fatalf("access token header: %+v %v", jws.Signatures[0].Protected, err)
		}
		// Wrong secret.
		if status, out := postForm(t, env.URL+"/oauth/token", c.ID, secret+"x", url.Values{"grant_type": {"client_credentials"}}); status != 401 && status != 400 || out["error"] != "invalid_client" {
			t.Fatalf("wrong secret: %d %v", status, out)
		}
		// GET is refused; the password grant and jwt-bearer are not offered.
		resp, _ := http.Get(env.URL + "/oauth/token?grant_type=client_credentials&client_id=" + c.ID + "&client_secret=" + secret)
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("GET token: %d", resp.StatusCode)
		}
		for _, g := range []string{"password", "urn:ietf:params:oauth:grant-type:jwt-bearer"} {
			if status, out := postForm(t, env.URL+"/oauth/token", c.ID, secret, url.Values{"grant_type": {g}}); status != 400 || out["error"] != "unsupported_grant_type" {
				t.Fatalf("grant %s: %d %v", g, status, out)
			}
		}
		// Only scopes the client may not have: invalid_scope. Some of them:
		// the allowed ones, said in the response.
		if status, out := postForm(t, env.URL+"/oauth/token", c.ID, secret, url.Values{"grant_type": {"client_credentials"}, "scope": {"admin openid"}}); status != 400 || out["error"] != "invalid_scope" {
			t.Fatalf("only disallowed scopes: %d %v", status, out)
		}
		if status, out := postForm(t, env.URL+"/oauth/token", c.ID, secret, url.Values{"grant_type": {"client_credentials"}, "scope": {"admin reports:read"}}); status != 200 || out["scope"] != "reports:read" {
			t.Fatalf("some disallowed scopes: %d %v", status, out)
		}
		// A web app authenticates fine but may not use a grant it is not
		// registered for (RFC 6749, section 5.2), nor may the machine
		// client use the code grant.
		web := newRP(t, env, client.Spec{Name: ptr("Web")})
		if status, out := postForm(t, env.URL+"/oauth/token", web.client.ID, web.secret, url.Values{"grant_type": {"client_credentials"}}); status != 400 || out["error"] != "unauthorized_client" {
			t.Fatalf("client_credentials for a web app: %d %v", status, out)
		}
		if status, out := postForm(t, env.URL+"/oauth/token", c.ID, secret, url.Values{"grant_type": {"authorization_code"}, "code": {"x"}}); status != 400 || out["error"] != "unauthorized_client" {
			t.Fatalf("authorization_code for a machine client: %d %v", status, out)
		}
	})
}

func TestDiscovery(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		resp, err := http.Get(env.URL + "/.well-known/openid-configuration")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var d map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&d)
		want := map[string]string{
			"issuer":                                                   env.URL,
			"response_types_supported":                                 "[code]",
			"code_challenge_methods_supported":                         "[S256]",
			"grant_types_supported":                                    "[authorization_code refresh_token client_credentials]",
			"response_modes_supported":                                 "[query form_post]",
			"scopes_supported":                                         "[openid profile email phone offline_access]",
			"introspection_endpoint_auth_methods_supported":            "[client_secret_basic client_secret_post private_key_jwt]",
			"token_endpoint_auth_signing_alg_values_supported":         "[ES256 RS256 PS256]",
			"introspection_endpoint_auth_signing_alg_values_supported": "[ES256 RS256 PS256]",
		}
		for k, v := range want {
			if got := strings.Trim(strings.ReplaceAll(fmtValue(d[k]), "\"", ""), " "); got != v {
				t.Errorf("%s = %s, want %s", k, got, v)
			}
		}
		for _, k := range []string{"jwks_uri", "userinfo_endpoint", "introspection_endpoint", "revocation_endpoint", "end_session_endpoint", "acr_values_supported"} {
			if d[k] == nil {
				t.Errorf("discovery lacks %s", k)
			}
		}
		if d["request_parameter_supported"] == true || d["request_uri_parameter_supported"] == true {
			t.Error("discovery claims request objects")
		}
		// The public keys may be cached for a while; nothing else may.
		keys, err := http.Get(env.URL + "/keys")
		if err != nil {
			t.Fatal(err)
		}
		keys.Body.Close()
		if keys.StatusCode != 200 || keys.Header.Get("Cache-Control") != "public, max-age=300" || keys.Header.Get("Pragma") != "" {
			t.Errorf("JWKS: %d, Cache-Control %q, Pragma %q", keys.StatusCode, keys.Header.Get("Cache-Control"), keys.Header.Get("Pragma"))
		}
		// Only claims Foyer fills in: the built-in schema has no address,
		// given name or picture.
		for _, c := range []string{"address", "given_name", "picture"} {
			if strings.Contains(fmtValue(d["claims_supported"]), c) {
				t.Errorf("claims_supported lists %s", c)
			}
		}
	})
}

func fmtValue(v any) string {
	switch x := v.(type) {
	case []any:
		var parts []string
		for _, e := range x {
			parts = append(parts, e.(string))
		}
		return "[" + strings.Join(parts, " ") + "]"
	case string:
		return x
	}
	return ""
}

var (
	formPostAction = regexp.MustCompile(`<form method="post" action="([^"]+)">`)
	formPostField  = regexp.MustCompile(`<input type="hidden" name="(\w+)" value="([^"]*)"\s*/?>`)
)

// response_mode=form_post: the code comes back in a page that posts it to
// the redirect URI (never in the URL), and exchanges like any other; a
// native app's custom-scheme redirect URI works too. The page runs only its
// own script.
func TestFormPostResponseMode(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		signUp(t, env, "fern@example.com")
		for _, spec := range []client.Spec{
			{FirstParty: ptr(true)},
			{Name: ptr("Native"), FirstParty: ptr(true), Public: ptr(true), RedirectURIs: &[]string{"com.example.app:/callback"}},
		} {
			p := newRP(t, env, spec)
			p.oauth.RedirectURL = p.client.RedirectURIs[0]
			state, verifier := random(), oauth2.GenerateVerifier()
			next := p.oauth.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oauth2.SetAuthURLParam("response_mode", "form_post"))
			var page *servertest.Response
			for range 10 {
				u, _ := url.Parse(next)
				path := strings.TrimPrefix(next, env.URL)
				if strings.HasPrefix(path, "/login") {
					page = p.browser.Submit(path, url.Values{"email": {"fern@example.com"}, "password": {password}, "return_to": {u.Query().Get("return_to")}})
				} else {
					page = p.browser.Get(path)
				}
				if page.StatusCode != http.StatusFound && page.StatusCode != http.StatusSeeOther {
					break
				}
				next = page.Header.Get("Location")
				if strings.HasPrefix(next, p.oauth.RedirectURL) {
					t.Fatalf("form_post answered with a redirect: %s", next)
				}
			}
			if page.StatusCode != http.StatusOK || !strings.HasPrefix(page.Header.Get("Content-Type"), "text/html") {
				t.Fatalf("form_post answer: %d %s\n%s", page.StatusCode, page.Header.Get("Content-Type"), page.Body)
			}
			if csp := page.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "script-src 'sha256-") || !strings.Contains(csp, "frame-ancestors 'none'") {
				t.Errorf("form_post page CSP %q", csp)
			}
			if m := formPostAction.FindStringSubmatch(page.Body); m == nil || m[1] != p.oauth.RedirectURL {
				t.Fatalf("form_post page posts to %v\n%s", m, page.Body)
			}
			fields := map[string]string{}
			for _, m := range formPostField.FindAllStringSubmatch(page.Body, -1) {
				fields[m[1]] = m[2]
			}
			if fields["state"] != state || fields["code"] == "" {
				t.Fatalf("form_post fields: %v\n%s", fields, page.Body)
			}
			tok, err := p.oauth.Exchange(context.Background(), fields["code"], oauth2.VerifierOption(verifier))
			if err != nil || tok.Extra("id_token") == nil {
				t.Fatalf("exchange of the posted code: %v", err)
			}
		}
	})
}

// UserInfo's 401s carry a bearer challenge, naming a token that is no good;
// a token in the URL is refused.
func TestUserInfoChallenge(t *testing.T) {
	env := servertest.Start(t, storetest.NewSQLite(t))
	resp, err := http.Get(env.URL + "/userinfo?access_token=junk")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("token in the URL: %d", resp.StatusCode)
	}
	for token, want := range map[string]string{
		"":     `Bearer realm="foyer"`,
		"junk": `Bearer realm="foyer", error="invalid_token"`,
	} {
		req, _ := http.NewRequest("GET", env.URL+"/userinfo", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != want {
			t.Errorf("token %q: %d, WWW-Authenticate %q; want 401, %q", token, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), want)
		}
	}
}
