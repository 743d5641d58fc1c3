package oidc_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/foyer-id/foyer/internal/client"
	"github.com/foyer-id/foyer/internal/config"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// A client that says nothing of its ID tokens' algorithm gets RS256, as
// OpenID Connect Registration has it: a relying party that accepts only
// RS256 (openid-client's default) verifies them.
func TestIDTokensRS256ByDefault(t *testing.T) {
	env := servertest.Start(t, storetest.NewSQLite(t))
	signUp(t, env, "rosa@example.com")
	p := newRP(t, env, client.Spec{FirstParty: ptr(true)})
	code, verifier, _ := p.authorize("rosa@example.com")
	tok, err := p.oauth.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	jws, err := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
	if err != nil {
		t.Fatalf("the ID token is not RS256: %v", err)
	}
	if jws.Signatures[0].Protected.Algorithm != "RS256" {
		t.Fatalf("alg %s", jws.Signatures[0].Protected.Algorithm)
	}
	strict := p.provider.Verifier(&gooidc.Config{ClientID: p.client.ID, SupportedSigningAlgs: []string{"RS256"}})
	if _, err := strict.Verify(context.Background(), raw); err != nil {
		t.Fatalf("an RS256-only relying party: %v", err)
	}
}

// noRedirects is a browser that stops at each redirect, to read it.
func noRedirects() *http.Client {
	return &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

func get(t *testing.T, c *http.Client, u string) (*http.Response, string) {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

// Every authorization response carries the issuer (RFC 9207), and every
// error — the library's early refusals too — goes back the way the
// request asked: in a form post for response_mode=form_post. A repeated
// parameter is refused (RFC 6749, section 3.1); one that says which app
// or where to answer it, with a page.
func TestAuthorizationResponses(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		signUp(t, env, "sara@example.com")
		p := newRP(t, env, client.Spec{FirstParty: ptr(true)})

		// Success: iss beside the code.
		state, verifier := random(), oauth2.GenerateVerifier()
		back := p.follow(p.oauth.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier)), "sara@example.com")
		if back.Query().Get("iss") != env.URL || back.Query().Get("code") == "" {
			t.Fatalf("the code's redirect: %s", back)
		}

		base := url.Values{"client_id": {p.client.ID}, "redirect_uri": {redirectURI}, "response_type": {"code"}, "scope": {"openid"},
			"state": {"st1"}, "code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGd0kGsQ8w"}, "code_challenge_method": {"S256"}}
		c := noRedirects()
		// The library's refusal of a plain PKCE method, asked in the
		// query: a redirect with the error and iss.
		q := cloneValues(base)
		q.Set("code_challenge_method", "plain")
		resp, _ := get(t, c, env.URL+"/authorize?"+q.Encode())
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc.String(), redirectURI) || loc.Query().Get("error") != "invalid_request" ||
			loc.Query().Get("iss") != env.URL || loc.Query().Get("state") != "st1" {
			t.Fatalf("plain PKCE: %d %s", resp.StatusCode, loc)
		}
		// The same, asked in form_post: a page that posts it.
		q.Set("response_mode", "form_post")
		resp, body := get(t, c, env.URL+"/authorize?"+q.Encode())
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Location") != "" {
			t.Fatalf("plain PKCE in form_post: %d %s\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
		}
		fields := map[string]string{}
		for _, m := range formPostField.FindAllStringSubmatch(body, -1) {
			fields[m[1]] = m[2]
		}
		if m := formPostAction.FindStringSubmatch(body); m == nil || m[1] != redirectURI ||
			fields["error"] != "invalid_request" || fields["state"] != "st1" || fields["iss"] != env.URL {
			t.Fatalf("form_post error: %v\n%s", fields, body)
		}
		// Foyer's own refusal (response_type) in form_post too.
		q = cloneValues(base)
		q.Set("response_type", "token")
		q.Set("response_mode", "form_post")
		if resp, body := get(t, c, env.URL+"/authorize?"+q.Encode()); resp.StatusCode != http.StatusOK || !strings.Contains(body, `name="error" value="unsupported_response_type"`) ||
			!strings.Contains(body, `name="iss"`) {
			t.Fatalf("unsupported response_type in form_post: %d\n%s", resp.StatusCode, body)
		}

		// A repeated state: invalid_request at the redirect URI, without
		// choosing one of the states.
		raw := base.Encode() + "&state=st2"
		resp, _ = get(t, c, env.URL+"/authorize?"+raw)
		loc, _ = url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusFound || loc.Query().Get("error") != "invalid_request" || loc.Query().Has("state") ||
			!strings.Contains(loc.Query().Get("error_description"), "state") {
			t.Fatalf("repeated state: %d %s", resp.StatusCode, loc)
		}
		// A repeated redirect_uri: a page, never a redirect.
		raw = base.Encode() + "&redirect_uri=" + url.QueryEscape("https://evil.example/cb")
		resp, body = get(t, c, env.URL+"/authorize?"+raw)
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
			t.Fatalf("repeated redirect_uri: %d %s\n%s", resp.StatusCode, resp.Header.Get("Location"), body)
		}
	})
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

// A sign-out link the library refuses shows the hosted error page, not
// its JSON.
func TestEndSessionErrorPage(t *testing.T) {
	env := servertest.Start(t, storetest.NewSQLite(t))
	resp, body := get(t, noRedirects(), env.URL+"/end_session?id_token_hint=not.a.token")
	if resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, "<html") {
		t.Fatalf("end_session refusal: %d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
}

// Discovery says what the provider does: iss in responses, the prompts it
// serves, the scopes and claims it can fill in.
func TestDiscoveryConformance(t *testing.T) {
	env := servertest.Start(t, storetest.NewSQLite(t))
	resp, body := get(t, http.DefaultClient, env.URL+"/.well-known/openid-configuration")
	if resp.StatusCode != 200 {
		t.Fatal(resp.Status)
	}
	var d struct {
		ISS     bool     `json:"authorization_response_iss_parameter_supported"`
		Prompts []string `json:"prompt_values_supported"`
		Scopes  []string `json:"scopes_supported"`
		Claims  []string `json:"claims_supported"`
		Algs    []string `json:"id_token_signing_alg_values_supported"`
	}
	if err := json.Unmarshal([]byte(body), &d); err != nil {
		t.Fatal(err)
	}
	if !d.ISS || !slices.Contains(d.Prompts, "create") || !slices.Contains(d.Prompts, "none") || !slices.Contains(d.Scopes, "phone") ||
		slices.Contains(d.Scopes, "address") || !slices.Contains(d.Claims, "locale") || !slices.Contains(d.Claims, "phone_number") ||
		slices.Contains(d.Claims, "given_name") || !slices.Contains(d.Algs, "RS256") {
		t.Fatalf("discovery: %+v", d)
	}
}

// The profile scope yields the standard claims of the schema's traits
// (given_name, family_name, locale, picture, …), and address its address.
func TestStandardClaims(t *testing.T) {
	dir := t.TempDir()
	schema := filepath.Join(dir, "schema.json")
	if err := os.WriteFile(schema, []byte(`{
  "type": "object",
  "properties": {
    "email": {"type": "string", "format": "email", "x-foyer-identifier": "email"},
    "name": {"type": "string"},
    "given_name": {"type": "string"},
    "family_name": {"type": "string"},
    "locale": {"type": "string"},
    "picture": {"type": "string"},
    "address": {"type": "object", "properties": {"locality": {"type": "string"}, "country": {"type": "string"}}}
  },
  "required": ["email"],
  "additionalProperties": false
}`), 0o600); err != nil {
		t.Fatal(err)
	}
	env := servertest.Start(t, storetest.NewSQLite(t), func(c *config.Config) { c.Domains[config.DefaultDomain].IdentitySchema = schema })
	// Sign up through the API with the extra traits.
	var start struct {
		Flow struct{ ID string } `json:"flow"`
	}
	env.JSON(t, "POST", "/api/registration", "", nil, &start)
	traits := map[string]any{"email": "tove@example.com", "name": "Tove Jansson", "given_name": "Tove", "family_name": "Jansson",
		"locale": "sv", "picture": "https://cdn.example/tove.png", "address": map[string]any{"locality": "Helsinki", "country": "FI"}}
	env.JSON(t, "POST", "/api/registration/"+start.Flow.ID, "", map[string]any{"traits": traits, "password": password}, nil)
	code := servertest.CodeFrom(t, env.MailTo(t, "tove@example.com", 1))
	if r := env.JSON(t, "POST", "/api/flows/"+start.Flow.ID+"/code", "", map[string]any{"code": code}, nil); r.StatusCode != 200 {
		t.Fatalf("sign-up: %s", r.Body)
	}
	p := newRP(t, env, client.Spec{FirstParty: ptr(true)})
	p.oauth.Scopes = append(p.oauth.Scopes, "address")
	code, verifier, _ := p.authorize("tove@example.com")
	tok, err := p.oauth.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	idt, err := p.verifier.Verify(context.Background(), tok.Extra("id_token").(string))
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		t.Fatal(err)
	}
	addr, _ := claims["address"].(map[string]any)
	if claims["given_name"] != "Tove" || claims["family_name"] != "Jansson" || claims["locale"] != "sv" || claims["name"] != "Tove Jansson" ||
		claims["picture"] != "https://cdn.example/tove.png" || addr["locality"] != "Helsinki" || addr["country"] != "FI" {
		t.Fatalf("ID token claims: %v", claims)
	}
	info, err := p.provider.UserInfo(context.Background(), oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatal(err)
	}
	var fromInfo map[string]any
	if err := info.Claims(&fromInfo); err != nil || fromInfo["given_name"] != "Tove" || fromInfo["locale"] != "sv" {
		t.Fatalf("userinfo: %v %v", fromInfo, err)
	}
	// Discovery lists what this schema fills in.
	_, body := get(t, http.DefaultClient, env.URL+"/.well-known/openid-configuration")
	if !strings.Contains(body, `"given_name"`) || !strings.Contains(body, `"address"`) {
		t.Fatalf("discovery for this schema:\n%s", body)
	}
}

// A refused refresh says why.
func TestRefreshRefusalSaysWhy(t *testing.T) {
	env := servertest.Start(t, storetest.NewSQLite(t))
	p := newRP(t, env, client.Spec{FirstParty: ptr(true)})
	_, out := postForm(t, env.URL+"/oauth/token", p.client.ID, p.secret, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"fyr_nothing"}})
	if out["error"] != "invalid_grant" || !strings.Contains(out["error_description"].(string), "not known") {
		t.Fatalf("refresh refusal: %v", out)
	}
}

// An app pushes its authorization request (RFC 9126) and sends the
// customer with the request_uri it gets: the request goes on as if its
// parameters had come through the browser, once.
func TestPushedAuthorizationRequest(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		signUp(t, env, "ulla@example.com")
		p := newRP(t, env, client.Spec{FirstParty: ptr(true)})
		var meta struct {
			PAR string `json:"pushed_authorization_request_endpoint"`
		}
		if err := p.provider.Claims(&meta); err != nil || meta.PAR != env.URL+"/oauth/par" {
			t.Fatalf("discovery: %+v %v", meta, err)
		}
		state, nonce, verifier := random(), random(), oauth2.GenerateVerifier()
		push := url.Values{"response_type": {"code"}, "redirect_uri": {redirectURI}, "scope": {"openid email"}, "state": {state},
			"nonce": {nonce}, "code_challenge": {oauth2.S256ChallengeFromVerifier(verifier)}, "code_challenge_method": {"S256"}}
		status, out := postForm(t, meta.PAR, p.client.ID, p.secret, push)
		uri, _ := out["request_uri"].(string)
		if status != http.StatusCreated || !strings.HasPrefix(uri, "urn:ietf:params:oauth:request_uri:") || out["expires_in"] != float64(60) {
			t.Fatalf("push: %d %v", status, out)
		}
		start := env.URL + "/authorize?" + url.Values{"client_id": {p.client.ID}, "request_uri": {uri}}.Encode()
		back := p.follow(start, "ulla@example.com")
		if back.Query().Get("state") != state || back.Query().Get("iss") != env.URL || back.Query().Get("code") == "" {
			t.Fatalf("answer to a pushed request: %s", back)
		}
		tok, err := p.oauth.Exchange(context.Background(), back.Query().Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		idt, err := p.verifier.Verify(context.Background(), tok.Extra("id_token").(string))
		var claims struct {
			Nonce string `json:"nonce"`
		}
		if err != nil || idt.Claims(&claims) != nil || claims.Nonce != nonce {
			t.Fatalf("ID token of a pushed request: %v %+v", err, claims)
		}
		// Used once.
		resp, body := get(t, noRedirects(), start)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(body, "<html") {
			t.Fatalf("a used request_uri: %d\n%s", resp.StatusCode, body)
		}
		// Refusals, in JSON to the app.
		for _, tc := range []struct {
			name   string
			secret string
			change func(url.Values)
			status int
			err    string
		}{
			{"wrong secret", "nope", func(url.Values) {}, 401, "invalid_client"},
			{"unregistered redirect", p.secret, func(v url.Values) { v.Set("redirect_uri", "https://evil.example/cb") }, 400, "invalid_request"},
			{"plain PKCE", p.secret, func(v url.Values) { v.Set("code_challenge_method", "plain") }, 400, "invalid_request"},
			{"by reference", p.secret, func(v url.Values) { v.Set("request_uri", uri) }, 400, "invalid_request"},
			{"token", p.secret, func(v url.Values) { v.Set("response_type", "token") }, 400, "unsupported_response_type"},
		} {
			v := cloneValues(push)
			tc.change(v)
			if status, out := postForm(t, meta.PAR, p.client.ID, tc.secret, v); status != tc.status || out["error"] != tc.err {
				t.Errorf("%s: %d %v", tc.name, status, out)
			}
		}
	})
}

// The claims parameter asks for claims by name, for the ID token and for
// UserInfo apart, whatever the scopes; a malformed one is refused.
func TestClaimsParameter(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		signUp(t, env, "vivi@example.com")
		p := newRP(t, env, client.Spec{FirstParty: ptr(true)})
		p.oauth.Scopes = []string{"openid", "offline_access"}
		claims := `{"id_token":{"email":null},"userinfo":{"name":{"essential":true}}}`
		code, verifier, _ := p.authorize("vivi@example.com", oauth2.SetAuthURLParam("claims", claims))
		tok, err := p.oauth.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatal(err)
		}
		idt, err := p.verifier.Verify(context.Background(), tok.Extra("id_token").(string))
		if err != nil {
			t.Fatal(err)
		}
		var inToken map[string]any
		_ = idt.Claims(&inToken)
		if inToken["email"] != "vivi@example.com" || inToken["name"] != nil {
			t.Fatalf("ID token: %v", inToken)
		}
		info, err := p.provider.UserInfo(context.Background(), oauth2.StaticTokenSource(tok))
		if err != nil {
			t.Fatal(err)
		}
		var fromInfo map[string]any
		_ = info.Claims(&fromInfo)
		if fromInfo["name"] != "Alice" || fromInfo["email"] != nil {
			t.Fatalf("userinfo: %v", fromInfo)
		}
		// Refreshed ID tokens keep what was asked.
		next, err := p.refresh(tok.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		idt, err = p.verifier.Verify(context.Background(), next.Extra("id_token").(string))
		if err != nil {
			t.Fatal(err)
		}
		inToken = nil
		_ = idt.Claims(&inToken)
		if inToken["email"] != "vivi@example.com" {
			t.Fatalf("refreshed ID token: %v", inToken)
		}
		// Malformed: refused at the redirect URI.
		state := random()
		back := p.follow(p.oauth.AuthCodeURL(state, oauth2.S256ChallengeOption(oauth2.GenerateVerifier()), oauth2.SetAuthURLParam("claims", `{"id_token":["email"]}`)), "vivi@example.com")
		if back.Query().Get("error") != "invalid_request" || back.Query().Get("state") != state {
			t.Fatalf("malformed claims: %s", back)
		}
		_, body := get(t, http.DefaultClient, env.URL+"/.well-known/openid-configuration")
		if !strings.Contains(body, `"claims_parameter_supported":true`) {
			t.Fatal("discovery does not claim the claims parameter")
		}
	})
}

// A client registered with userinfo_signed_response_alg gets UserInfo as
// a JWT signed with it, for it, by the issuer.
func TestSignedUserInfo(t *testing.T) {
	env := servertest.Start(t, storetest.NewSQLite(t))
	signUp(t, env, "wren@example.com")
	p := newRP(t, env, client.Spec{FirstParty: ptr(true), UserinfoSigningAlg: ptr("ES256")})
	code, verifier, _ := p.authorize("wren@example.com")
	tok, err := p.oauth.Exchange(context.Background(), code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", env.URL+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/jwt" {
		t.Fatalf("userinfo: %d %s\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	v := p.provider.Verifier(&gooidc.Config{ClientID: p.client.ID, SkipExpiryCheck: true, SupportedSigningAlgs: []string{"ES256"}})
	signed, err := v.Verify(context.Background(), string(body))
	if err != nil {
		t.Fatalf("signed userinfo: %v", err)
	}
	var claims map[string]any
	_ = signed.Claims(&claims)
	if claims["email"] != "wren@example.com" || signed.Subject == "" {
		t.Fatalf("signed userinfo claims: %v", claims)
	}
	_, disc := get(t, http.DefaultClient, env.URL+"/.well-known/openid-configuration")
	if !strings.Contains(disc, `"userinfo_signing_alg_values_supported"`) {
		t.Fatal("discovery does not list the userinfo signing algorithms")
	}
}
