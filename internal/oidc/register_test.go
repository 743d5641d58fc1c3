package oidc_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"golang.org/x/oauth2"

	"github.com/foyer-id/foyer/internal/client"
	"github.com/foyer-id/foyer/internal/config"
	"github.com/foyer-id/foyer/internal/event"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

const partnerRedirect = "https://partner.example/callback"

// registering starts the server with dynamic client registration in mode.
func registering(mode string) servertest.Option {
	return func(c *config.Config) { c.OIDC.Registration = mode }
}

// regCall sends a request to the registration endpoints with an optional
// bearer token and returns the answer with its JSON object, if it is one.
func regCall(t *testing.T, env *servertest.Env, method, path, token string, body any) (*servertest.Response, map[string]any) {
	t.Helper()
	r := env.JSON(t, method, path, token, body, nil)
	var out map[string]any
	if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal([]byte(r.Body), &out); err != nil {
			t.Fatalf("%s %s: %v\n%s", method, path, err, r.Body)
		}
	}
	return r, out
}

// partnerMetadata is what a web app registers.
func partnerMetadata() map[string]any {
	return map[string]any{
		"redirect_uris":     []string{partnerRedirect},
		"client_name":       "Partner app",
		"grant_types":       []string{"authorization_code", "refresh_token"},
		"scope":             "openid profile email offline_access",
		"contacts":          []string{"ops@partner.example"},
		"logo_uri":          "https://partner.example/logo.png",
		"software_id":       "ignored: Foyer does not know it", // unknown metadata are ignored
		"require_auth_time": true,
	}
}

// regEvents returns the outcomes and reasons (outcome/reason) of the
// events of typ recorded for clientID.
func regEvents(t *testing.T, env *servertest.Env, typ, clientID string) []string {
	t.Helper()
	list, err := env.Server.Events.List(context.Background(), event.Query{Type: typ})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range list {
		if e.ClientID == clientID {
			out = append(out, e.Outcome+"/"+e.Reason)
		}
	}
	return out
}

// A relying party registers itself, then signs a customer in with the
// real client libraries: a third-party app, so the customer consents,
// and its ID tokens are RS256, as it said nothing of their algorithm.
func TestDynamicRegistrationThenSignIn(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db, registering(config.RegistrationOpen))
		ctx := context.Background()
		signUp(t, env, "rita@example.com")

		provider, err := gooidc.NewProvider(ctx, env.URL)
		if err != nil {
			t.Fatal(err)
		}
		var meta struct {
			RegistrationEndpoint string `json:"registration_endpoint"`
		}
		if err := provider.Claims(&meta); err != nil || meta.RegistrationEndpoint != env.URL+"/oauth/register" {
			t.Fatalf("discovery registration_endpoint %q %v", meta.RegistrationEndpoint, err)
		}

		r, out := regCall(t, env, "POST", "/oauth/register", "", partnerMetadata())
		if r.StatusCode != http.StatusCreated || r.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("register: %d %s", r.StatusCode, r.Body)
		}
		id, _ := out["client_id"].(string)
		secret, _ := out["client_secret"].(string)
		rat, _ := out["registration_access_token"].(string)
		if id == "" || !strings.HasPrefix(secret, client.SecretPrefix) || !strings.HasPrefix(rat, client.RegistrationTokenPrefix) ||
			out["registration_client_uri"] != env.URL+"/oauth/register/"+id || r.Header.Get("Location") != out["registration_client_uri"] ||
			out["client_secret_expires_at"] != float64(0) || out["client_id_issued_at"] != float64(env.Clock.Now().Unix()) {
			t.Fatalf("registration answer: %s", r.Body)
		}
		for field, want := range map[string]any{
			"client_name": "Partner app", "token_endpoint_auth_method": "client_secret_basic", "application_type": "web",
			"id_token_signed_response_alg": "RS256", "scope": "openid profile email offline_access", "subject_type": "public",
			"logo_uri": "https://partner.example/logo.png",
		} {
			if out[field] != want {
				t.Errorf("%s = %v, want %v", field, out[field], want)
			}
		}
		if got, _ := json.Marshal([]any{out["redirect_uris"], out["grant_types"], out["response_types"], out["contacts"]}); string(got) !=
			`[["https://partner.example/callback"],["authorization_code","refresh_token"],["code"],["ops@partner.example"]]` {
			t.Errorf("lists: %s", got)
		}
		if _, ok := out["software_id"]; ok {
			t.Error("an unknown field came back as if registered")
		}
		c, err := env.Server.Clients.Get(ctx, id)
		if err != nil || !c.Dynamic || c.FirstParty || c.Public || c.Name != "Partner app" || c.ApplicationType != "web" {
			t.Fatalf("stored client: %+v %v", c, err)
		}
		if got := regEvents(t, env, "oauth.client_registered", id); strings.Join(got, " ") != "success/open" {
			t.Fatalf("registration events: %v", got)
		}

		// The authorization code flow, with the consent a third party needs.
		p := &rp{t: t, env: env, client: c, secret: secret, provider: provider,
			verifier: provider.Verifier(&gooidc.Config{ClientID: id, SupportedSigningAlgs: []string{"RS256"}}),
			oauth: oauth2.Config{ClientID: id, ClientSecret: secret, Endpoint: provider.Endpoint(), RedirectURL: partnerRedirect,
				Scopes: []string{gooidc.ScopeOpenID, "email", gooidc.ScopeOfflineAccess}},
			browser: env.NewBrowser(t)}
		verifier, nonce := oauth2.GenerateVerifier(), random()
		r = p.browser.Get(strings.TrimPrefix(p.oauth.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier), gooidc.Nonce(nonce)), env.URL))
		r = p.browser.Get(r.Header.Get("Location"))
		login := r.Header.Get("Location")
		lu, _ := url.Parse(login)
		r = p.browser.Submit(login, url.Values{"email": {"rita@example.com"}, "password": {password}, "return_to": {lu.Query().Get("return_to")}})
		consent := r.Header.Get("Location")
		page := p.browser.Get(consent)
		if page.StatusCode != http.StatusOK || !strings.Contains(page.Body, "Partner app") {
			t.Fatalf("no consent page for a client that registered itself: %d %s\n%s", page.StatusCode, consent, page.Body)
		}
		allow := p.browser.Post(consent, url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "decision": {"allow"}})
		back, _ := url.Parse(allow.Header.Get("Location"))
		if !strings.HasPrefix(back.String(), partnerRedirect) || back.Query().Get("code") == "" || back.Query().Get("state") != "st" {
			t.Fatalf("allow: %d %s", allow.StatusCode, back)
		}
		tok, err := p.oauth.Exchange(ctx, back.Query().Get("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("exchange: %v", err)
		}
		rawID, _ := tok.Extra("id_token").(string)
		idt, err := p.verifier.Verify(ctx, rawID)
		if err != nil {
			t.Fatalf("ID token: %v", err)
		}
		jws, err := jose.ParseSigned(rawID, []jose.SignatureAlgorithm{jose.RS256})
		if err != nil || jws.Signatures[0].Protected.Algorithm != "RS256" {
			t.Fatalf("ID token algorithm: %v", err)
		}
		var claims struct {
			Nonce string `json:"nonce"`
			Email string `json:"email"`
		}
		if err := idt.Claims(&claims); err != nil || idt.Audience[0] != id || claims.Nonce != nonce || claims.Email != "rita@example.com" {
			t.Fatalf("ID token claims: %+v %+v %v", idt, claims, err)
		}
		if tok.RefreshToken == "" {
			t.Fatal("no refresh token for a client that registered refresh_token and asked for offline_access")
		}
	})
}

// Off, the default: no endpoint, and discovery names none.
func TestRegistrationOff(t *testing.T) {
	env := servertest.Start(t, storetest.NewSQLite(t))
	for _, c := range []struct{ method, path string }{{"POST", "/oauth/register"}, {"GET", "/oauth/register/abc"}, {"PUT", "/oauth/register/abc"}, {"DELETE", "/oauth/register/abc"}} {
		if r, _ := regCall(t, env, c.method, c.path, "", partnerMetadata()); r.StatusCode != http.StatusNotFound {
			t.Fatalf("%s %s with registration off: %d %s", c.method, c.path, r.StatusCode, r.Body)
		}
	}
	var meta map[string]any
	env.JSON(t, "GET", "/.well-known/openid-configuration", "", nil, &meta)
	if _, ok := meta["registration_endpoint"]; ok || meta["issuer"] != env.URL {
		t.Fatalf("discovery with registration off: %v", meta)
	}
	list, err := env.Server.Clients.List(context.Background(), "customers")
	if err != nil || len(list) != 0 {
		t.Fatalf("clients: %v %v", list, err)
	}
}

// In token mode a registration needs a live initial access token, and
// each registration uses it once; refused metadata cost no use.
func TestRegistrationNeedsInitialToken(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db, registering(config.RegistrationToken))
		ctx := context.Background()
		reg := env.Server.Clients
		refused := func(token, why string) {
			t.Helper()
			r, out := regCall(t, env, "POST", "/oauth/register", token, partnerMetadata())
			challenge := r.Header.Get("WWW-Authenticate")
			if r.StatusCode != http.StatusUnauthorized || out["error"] != "invalid_token" || !strings.HasPrefix(challenge, "Bearer ") ||
				(token != "") != strings.Contains(challenge, `error="invalid_token"`) {
				t.Fatalf("%s: %d %q %s", why, r.StatusCode, challenge, r.Body)
			}
		}
		refused("", "no initial access token")
		refused("fit_nonsense", "a wrong initial access token")

		iat, token, err := reg.CreateInitialToken(ctx, "customers", time.Hour, 2, "partners")
		if err != nil {
			t.Fatal(err)
		}
		// Refused metadata take no use.
		bad := partnerMetadata()
		bad["redirect_uris"] = []string{"http://partner.example/callback"}
		if r, out := regCall(t, env, "POST", "/oauth/register", token, bad); r.StatusCode != http.StatusBadRequest || out["error"] != "invalid_redirect_uri" {
			t.Fatalf("bad metadata with a good token: %d %s", r.StatusCode, r.Body)
		}
		var ids []string
		for range 2 {
			r, out := regCall(t, env, "POST", "/oauth/register", token, partnerMetadata())
			if r.StatusCode != http.StatusCreated {
				t.Fatalf("register with the initial token: %d %s", r.StatusCode, r.Body)
			}
			ids = append(ids, out["client_id"].(string))
		}
		refused(token, "a used-up initial access token")
		if got := regEvents(t, env, "oauth.client_registered", ids[0]); strings.Join(got, " ") != "success/initial_token:"+iat.ID {
			t.Fatalf("events: %v", got)
		}
		list, err := reg.InitialTokens(ctx, "customers")
		if err != nil || len(list) != 1 || list[0].UsesLeft != 0 || list[0].Used != 2 || list[0].LastUsedAt.IsZero() {
			t.Fatalf("initial tokens: %+v %v", list, err)
		}

		// Expired, and revoked.
		_, expiring, err := reg.CreateInitialToken(ctx, "customers", time.Hour, 5, "")
		if err != nil {
			t.Fatal(err)
		}
		revoked, revokedToken, err := reg.CreateInitialToken(ctx, "customers", time.Hour, 5, "")
		if err != nil {
			t.Fatal(err)
		}
		if err := reg.RevokeInitialToken(ctx, "customers", revoked.ID); err != nil {
			t.Fatal(err)
		}
		refused(revokedToken, "a revoked initial access token")
		env.Clock.Advance(time.Hour + time.Second)
		refused(expiring, "an expired initial access token")
	})
}

// Metadata Foyer cannot honour are refused with RFC 7591's errors, and
// nothing is stored.
func TestRegistrationRefusesMetadata(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db, registering(config.RegistrationOpen))
		with := func(changes map[string]any) map[string]any {
			m := partnerMetadata()
			for k, v := range changes {
				if v == nil {
					delete(m, k)
				} else {
					m[k] = v
				}
			}
			return m
		}
		for _, c := range []struct {
			name string
			body any
			want string
		}{
			{"http redirect for a web client", with(map[string]any{"redirect_uris": []string{"http://partner.example/cb"}}), "invalid_redirect_uri"},
			{"localhost for a web client", with(map[string]any{"redirect_uris": []string{"https://localhost/cb"}}), "invalid_redirect_uri"},
			{"fragment in a redirect", with(map[string]any{"redirect_uris": []string{"https://partner.example/cb#top"}}), "invalid_redirect_uri"},
			{"no redirect", with(map[string]any{"redirect_uris": nil}), "invalid_redirect_uri"},
			{"https for a native client", with(map[string]any{"application_type": "native", "redirect_uris": []string{"https://partner.example/cb"}}), "invalid_redirect_uri"},
			{"bad post-logout redirect", with(map[string]any{"post_logout_redirect_uris": []string{"javascript:alert(1)"}}), "invalid_redirect_uri"},
			{"unknown auth method", with(map[string]any{"token_endpoint_auth_method": "client_secret_jwt"}), "invalid_client_metadata"},
			{"response type token", with(map[string]any{"response_types": []string{"token"}}), "invalid_client_metadata"},
			{"code without its grant", with(map[string]any{"response_types": []string{}}), "invalid_client_metadata"},
			{"client_credentials", with(map[string]any{"grant_types": []string{"client_credentials"}, "response_types": []string{}}), "invalid_client_metadata"},
			{"implicit", with(map[string]any{"grant_types": []string{"implicit"}}), "invalid_client_metadata"},
			{"unsigned ID tokens", with(map[string]any{"id_token_signed_response_alg": "none"}), "invalid_client_metadata"},
			{"HS256 ID tokens", with(map[string]any{"id_token_signed_response_alg": "HS256"}), "invalid_client_metadata"},
			{"an API's scope", with(map[string]any{"scope": "openid orders:write"}), "invalid_client_metadata"},
			{"private_key_jwt without keys", with(map[string]any{"token_endpoint_auth_method": "private_key_jwt"}), "invalid_client_metadata"},
			{"jwks_uri", with(map[string]any{"jwks_uri": "https://partner.example/jwks"}), "invalid_client_metadata"},
			{"encrypted ID tokens", with(map[string]any{"id_token_encrypted_response_alg": "RSA-OAEP"}), "invalid_client_metadata"},
			{"pairwise", with(map[string]any{"subject_type": "pairwise"}), "invalid_client_metadata"},
			{"web or native", with(map[string]any{"application_type": "desktop"}), "invalid_client_metadata"},
			{"a contact that is no address", with(map[string]any{"contacts": []string{"call us"}}), "invalid_client_metadata"},
			{"a script as logo", with(map[string]any{"logo_uri": "javascript:alert(1)"}), "invalid_client_metadata"},
			{"redirect_uris as a string", with(map[string]any{"redirect_uris": partnerRedirect}), "invalid_client_metadata"},
			{"not an object", `["redirect_uris"]`, "invalid_client_metadata"},
			{"not JSON", "redirect_uris=https://partner.example/cb", "invalid_client_metadata"},
		} {
			r, out := regCall(t, env, "POST", "/oauth/register", "", c.body)
			if r.StatusCode != http.StatusBadRequest || out["error"] != c.want || out["error_description"] == "" {
				t.Errorf("%s: %d %s, want 400 %s", c.name, r.StatusCode, r.Body, c.want)
			}
		}
		list, err := env.Server.Clients.List(context.Background(), "customers")
		if err != nil || len(list) != 0 {
			t.Fatalf("refused registrations stored clients: %d %v", len(list), err)
		}
		// A native app: a public client with a private-use scheme and PKCE.
		r, out := regCall(t, env, "POST", "/oauth/register", "", map[string]any{"application_type": "native",
			"redirect_uris": []string{"com.partner.app:/callback", "http://127.0.0.1/callback"}, "token_endpoint_auth_method": "none"})
		if r.StatusCode != http.StatusCreated || out["client_secret"] != nil || out["client_secret_expires_at"] != nil ||
			out["client_name"] != "com.partner.app" || strings.Contains(out["scope"].(string), "offline_access") {
			t.Fatalf("native app: %d %s", r.StatusCode, r.Body)
		}
	})
}

// RFC 7592: a client reads, replaces and deletes its registration with
// its registration access token, and with nothing else.
func TestRegistrationManagement(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db, registering(config.RegistrationOpen))
		ctx := context.Background()
		_, first := regCall(t, env, "POST", "/oauth/register", "", partnerMetadata())
		_, other := regCall(t, env, "POST", "/oauth/register", "", partnerMetadata())
		id, token := first["client_id"].(string), first["registration_access_token"].(string)
		path := "/oauth/register/" + id
		unauthorized := func(method, token string, body any) {
			t.Helper()
			if r, out := regCall(t, env, method, path, token, body); r.StatusCode != http.StatusUnauthorized || out["error"] != "invalid_token" ||
				!strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Bearer ") {
				t.Fatalf("%s with token %q: %d %s", method, token, r.StatusCode, r.Body)
			}
		}

		r, got := regCall(t, env, "GET", path, token, nil)
		if r.StatusCode != http.StatusOK || got["client_id"] != id || got["client_name"] != "Partner app" || got["registration_client_uri"] != env.URL+path ||
			got["client_secret"] != nil || got["registration_access_token"] != nil || got["client_secret_expires_at"] != float64(0) {
			t.Fatalf("read: %d %s", r.StatusCode, r.Body)
		}
		for _, wrong := range []string{"", "frt_wrong", other["registration_access_token"].(string), first["client_secret"].(string)} {
			unauthorized("GET", wrong, nil)
			unauthorized("DELETE", wrong, nil)
		}
		if r, _ := regCall(t, env, "GET", "/oauth/register/"+other["client_id"].(string), token, nil); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("another client's registration read with this token: %d", r.StatusCode)
		}

		// An update replaces the metadata: what it leaves out goes.
		update := map[string]any{"client_id": id, "client_secret": first["client_secret"], "client_name": "Partner app 2",
			"redirect_uris": []string{partnerRedirect, "https://partner.example/cb2"}, "token_endpoint_auth_method": "client_secret_post",
			"registration_client_uri": env.URL + path}
		r, updated := regCall(t, env, "PUT", path, token, update)
		newToken, _ := updated["registration_access_token"].(string)
		if r.StatusCode != http.StatusOK || updated["client_name"] != "Partner app 2" || updated["token_endpoint_auth_method"] != "client_secret_post" ||
			updated["contacts"] != nil || updated["logo_uri"] != nil || strings.Contains(updated["scope"].(string), "offline_access") ||
			!strings.HasPrefix(newToken, client.RegistrationTokenPrefix) || newToken == token || updated["client_secret"] != nil {
			t.Fatalf("update: %d %s", r.StatusCode, r.Body)
		}
		c, err := env.Server.Clients.Get(ctx, id)
		if err != nil || c.Name != "Partner app 2" || len(c.RedirectURIs) != 2 || len(c.Contacts) != 0 || !c.Dynamic || c.FirstParty {
			t.Fatalf("updated client: %+v %v", c, err)
		}
		if _, err := env.Server.Clients.VerifySecret(ctx, id, first["client_secret"].(string)); err != nil {
			t.Fatalf("the secret did not survive the update: %v", err)
		}
		// The old token is spent.
		unauthorized("GET", token, nil)
		unauthorized("PUT", token, update)
		token = newToken
		for _, c := range []struct {
			name    string
			changes map[string]any
			want    string
		}{
			{"no client_id", map[string]any{"client_id": nil}, "invalid_client_metadata"},
			{"another client_id", map[string]any{"client_id": other["client_id"]}, "invalid_client_metadata"},
			{"a secret of its choosing", map[string]any{"client_secret": "fcs_mine"}, "invalid_client_metadata"},
			{"an API's scope", map[string]any{"scope": "openid payments"}, "invalid_client_metadata"},
			{"an http redirect", map[string]any{"redirect_uris": []string{"http://partner.example/cb"}}, "invalid_redirect_uri"},
		} {
			body := map[string]any{}
			for k, v := range update {
				body[k] = v
			}
			for k, v := range c.changes {
				if v == nil {
					delete(body, k)
				} else {
					body[k] = v
				}
			}
			if r, out := regCall(t, env, "PUT", path, token, body); r.StatusCode != http.StatusBadRequest || out["error"] != c.want {
				t.Fatalf("update with %s: %d %s", c.name, r.StatusCode, r.Body)
			}
		}

		if r, _ := regCall(t, env, "DELETE", path, token, nil); r.StatusCode != http.StatusNoContent {
			t.Fatalf("delete: %d %s", r.StatusCode, r.Body)
		}
		if _, err := env.Server.Clients.Get(ctx, id); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("the deleted client: %v", err)
		}
		unauthorized("GET", token, nil)
		unauthorized("DELETE", token, nil)
		for typ, want := range map[string]string{"oauth.client_updated": "success/", "oauth.client_deleted": "success/"} {
			var ok []string
			for _, e := range regEvents(t, env, typ, id) {
				if strings.HasPrefix(e, "success/") {
					ok = append(ok, e)
				}
			}
			if strings.Join(ok, " ") != want {
				t.Fatalf("%s events: %v", typ, regEvents(t, env, typ, id))
			}
		}
	})
}

// Each registration is a stored client: a network registers its share,
// then waits.
func TestRegistrationsPerNetwork(t *testing.T) {
	env := servertest.Start(t, storetest.NewSQLite(t), registering(config.RegistrationOpen),
		func(c *config.Config) { c.OIDC.RegistrationsPerNetwork = 2 })
	for i := range 3 {
		r, out := regCall(t, env, "POST", "/oauth/register", "", partnerMetadata())
		switch {
		case i < 2 && r.StatusCode == http.StatusCreated:
		case i == 2 && r.StatusCode == http.StatusTooManyRequests && r.Header.Get("Retry-After") != "" && out["error"] == "temporarily_unavailable":
		default:
			t.Fatalf("registration %d: %d %s", i+1, r.StatusCode, r.Body)
		}
	}
	if list, err := env.Server.Clients.List(context.Background(), "customers"); err != nil || len(list) != 2 {
		t.Fatalf("%d clients stored, want 2 (%v)", len(list), err)
	}
}
