package upstreamtest

import (
	"cmp"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"errors"
	"fmt"
	"html/template"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/foyer-id/foyer/internal/upstream"
)

// Options shape an OpenID test server.
type Options struct {
	// Kind makes the server act like a preset (an upstream Kind constant;
	// empty is upstream.KindOIDC):
	//   - google: Config says google, with the server as the issuer;
	//   - apple: the token endpoint takes only Apple's client secret, an
	//     ES256 JWT signed by AppleKey, sent as client_secret_post;
	//   - microsoft: the issuer is {URL}/{Tenant}/v2.0; as Microsoft's,
	//     discovery names the issuer {URL}/{tenantid}/v2.0 for common and
	//     organizations and the personal accounts' tenant for consumers,
	//     and ID tokens carry the issuer of their tid claim's tenant.
	Kind string
	// Tenant is Microsoft's tenant in the issuer's path (default common).
	Tenant string
}

// User is the account the server signs in: every authorization request
// gets a code for it at once.
type User struct {
	Subject string
	Email   string
	// EmailVerified is the email_verified claim as sent: true, false,
	// "true", "false"; nil leaves the claim out.
	EmailVerified any
	// Claims are further ID token claims (name, given_name, tid, amr, acr,
	// is_private_email, xms_edov, azp, …); they override the others.
	Claims map[string]any
}

// Knobs make the server misbehave; the zero value behaves.
type Knobs struct {
	// User is the account signed in. NewOIDC sets a default one: subject
	// "user-1", Ada@Example.com (verified), a name, and for Microsoft a tid
	// of the server's tenant (a made-up one for common and organizations).
	User User
	// CallbackUser is sent back as the callback's "user" parameter, as
	// Apple does on a first sign-in ({"name":{"firstName":…}}).
	CallbackUser string
	// WrongNonce puts another nonce in ID tokens.
	WrongNonce bool
	// UnknownKey signs ID tokens with a key the key set does not publish.
	UnknownKey bool
	// Issuer and Audience replace the iss and aud of ID tokens.
	Issuer, Audience string
	// TokenTTL is the ID tokens' lifetime (default 10 minutes); negative:
	// they expired that long ago.
	TokenTTL time.Duration
	// Status makes every endpoint answer with this HTTP status.
	Status int
	// TokenError makes the token endpoint answer 400 with this OAuth error
	// (invalid_grant).
	TokenError string
	// Delay makes every endpoint wait this long before it answers (less
	// when the client gives up).
	Delay time.Duration
}

// The endpoints, as counted by Hits.
const (
	EndpointDiscovery = "discovery"
	EndpointKeys      = "keys"
	EndpointAuthorize = "authorize"
	EndpointToken     = "token"
)

// The client authentications the token endpoint tells apart
// (LastClientAuth).
const (
	AuthBasic       = "client_secret_basic"
	AuthPost        = "client_secret_post"
	AuthPrivateKey  = "private_key_jwt"
	AuthAppleSecret = "apple_client_secret"
)

// PersonalTenant is the tenant of Microsoft's personal accounts.
const PersonalTenant = "9188040d-6c67-4c5b-b112-36a304b66dad"

// The key ids of the client's keys.
const (
	ClientRSAKeyID = "client-rsa"
	ClientECKeyID  = "client-ec"
)

// OIDC is a running OpenID test provider.
type OIDC struct {
	// Issuer is the provider's issuer URL.
	Issuer string
	// ClientID and ClientSecret are the client it knows.
	ClientID, ClientSecret string
	// ClientRSAKey and ClientECKey sign private_key_jwt assertions the
	// token endpoint accepts (kid ClientRSAKeyID and ClientECKeyID, or
	// none).
	ClientRSAKey *rsa.PrivateKey
	ClientECKey  *ecdsa.PrivateKey
	// AppleTeamID, AppleKeyID and AppleKey make Apple's client secret
	// (Kind apple).
	AppleTeamID, AppleKeyID string
	AppleKey                *ecdsa.PrivateKey

	opts   Options
	server *httptest.Server

	mu       sync.Mutex
	knobs    Knobs
	signKey  *rsa.PrivateKey
	signKID  string
	grants   map[string]grant
	jtis     map[string]bool
	hits     map[string]int
	lastAuth string
}

// grant is an authorization code's request.
type grant struct {
	redirectURI, nonce, challenge string
}

// NewOIDC starts an OpenID test provider, closed when the test ends.
func NewOIDC(t testing.TB, opts Options) *OIDC {
	t.Helper()
	s := &OIDC{
		ClientID:     "foyer-client",
		ClientSecret: "foyer-secret",
		ClientRSAKey: clientRSA(),
		ClientECKey:  newECKey(),
		AppleTeamID:  "TEAM123456",
		AppleKeyID:   "KEY1234567",
		AppleKey:     newECKey(),
		opts:         opts,
		signKey:      signingKey(),
		signKID:      "k1",
		grants:       map[string]grant{},
		jtis:         map[string]bool{},
		hits:         map[string]int{},
	}
	s.knobs.User = User{
		Subject:       "user-1",
		Email:         "Ada@Example.com",
		EmailVerified: true,
		Claims:        map[string]any{"name": "Ada Lovelace", "given_name": "Ada", "family_name": "Lovelace"},
	}
	if opts.Kind == upstream.KindMicrosoft {
		s.opts.Tenant = cmp.Or(opts.Tenant, "common")
		switch s.opts.Tenant {
		case "common", "organizations":
			s.knobs.User.Claims["tid"] = "3f2504e0-4f89-11d3-9a0c-0305e82c3301"
		case "consumers":
			s.knobs.User.Claims["tid"] = PersonalTenant
		default:
			s.knobs.User.Claims["tid"] = s.opts.Tenant
		}
	}
	mux := http.NewServeMux()
	s.server = httptest.NewServer(mux)
	t.Cleanup(s.server.Close)
	s.Issuer = s.server.URL
	if opts.Kind == upstream.KindMicrosoft {
		s.Issuer = s.server.URL + "/" + s.opts.Tenant + "/v2.0"
	}
	prefix := strings.TrimPrefix(s.Issuer, s.server.URL)
	mux.HandleFunc("GET "+prefix+"/.well-known/openid-configuration", s.handle(EndpointDiscovery, s.discovery))
	mux.HandleFunc("GET "+prefix+"/keys", s.handle(EndpointKeys, s.keys))
	mux.HandleFunc("GET "+prefix+"/authorize", s.handle(EndpointAuthorize, s.authorize))
	mux.HandleFunc("POST "+prefix+"/token", s.handle(EndpointToken, s.token))
	return s
}

// URL is the server's base URL.
func (s *OIDC) URL() string { return s.server.URL }

// Client is an HTTP client for the server.
func (s *OIDC) Client() *http.Client { return s.server.Client() }

// Close stops the server now: it is then a provider that is down.
func (s *OIDC) Close() { s.server.Close() }

// Config is a provider configuration for the server: the kind of its
// Options, its issuer, and its client with the secret (or, for Apple, the
// team, key id and key).
func (s *OIDC) Config(id string) upstream.Config {
	c := upstream.Config{ID: id, Kind: upstream.KindOIDC, Issuer: s.Issuer, ClientID: s.ClientID, ClientSecret: s.ClientSecret}
	switch s.opts.Kind {
	case upstream.KindGoogle:
		c.Kind = upstream.KindGoogle
	case upstream.KindApple:
		c.Kind, c.ClientSecret = upstream.KindApple, ""
		c.TeamID, c.KeyID, c.PrivateKey = s.AppleTeamID, s.AppleKeyID, s.AppleKey
	case upstream.KindMicrosoft:
		c.Kind, c.Tenant = upstream.KindMicrosoft, s.opts.Tenant
	}
	return c
}

// SetUser sets the account signed in.
func (s *OIDC) SetUser(u User) { s.Update(func(k *Knobs) { k.User = u }) }

// Update changes the knobs.
func (s *OIDC) Update(f func(*Knobs)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(&s.knobs)
}

// Hits counts the requests an endpoint (EndpointDiscovery, …) received.
func (s *OIDC) Hits(endpoint string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hits[endpoint]
}

// LastClientAuth is how the client authenticated at the last successful
// token request (AuthBasic, …).
func (s *OIDC) LastClientAuth() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastAuth
}

// RotateKey replaces the signing key with a new one: the key set then
// publishes only the new key.
func (s *OIDC) RotateKey() {
	k := newRSAKey()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.signKey, s.signKID = k, rand.Text()
}

// Authorize follows an authorization request (from Provider.AuthURL) as a
// browser would, and returns the callback's parameters: code and state,
// and user when CallbackUser is set — or error when the server refused the
// request.
func (s *OIDC) Authorize(authURL string) (url.Values, error) {
	return authorize(s.server.Client(), authURL)
}

// SignIDToken signs claims with the server's current key (or, with the
// UnknownKey knob, one it does not publish), adding iss, aud (the client),
// iat and exp (in 10 minutes) when claims lack them: an ID token as a
// native app would get from the provider's SDK.
func (s *OIDC) SignIDToken(claims map[string]any) string {
	c := maps.Clone(claims)
	now := time.Now()
	defaults := map[string]any{"iss": s.Issuer, "aud": s.ClientID, "iat": now.Unix(), "exp": now.Add(10 * time.Minute).Unix()}
	for k, v := range defaults {
		if _, ok := c[k]; !ok {
			c[k] = v
		}
	}
	s.mu.Lock()
	key, kid := s.signingKey()
	s.mu.Unlock()
	return signRS256(key, kid, c)
}

// signingKey is the key that signs ID tokens. s.mu is held.
func (s *OIDC) signingKey() (*rsa.PrivateKey, string) {
	if s.knobs.UnknownKey {
		return strangerKey(), "k-unknown"
	}
	return s.signKey, s.signKID
}

// handle counts a request to an endpoint and applies the knobs that every
// endpoint obeys.
func (s *OIDC) handle(endpoint string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits[endpoint]++
		k := s.knobs
		s.mu.Unlock()
		if !wait(r, k.Delay) {
			return
		}
		if k.Status != 0 {
			http.Error(w, "test provider failing", k.Status)
			return
		}
		h(w, r)
	}
}

func (s *OIDC) discovery(w http.ResponseWriter, r *http.Request) {
	issuer := s.Issuer
	if s.opts.Kind == upstream.KindMicrosoft {
		switch s.opts.Tenant {
		case "common", "organizations":
			issuer = s.server.URL + "/{tenantid}/v2.0"
		case "consumers":
			issuer = s.server.URL + "/" + PersonalTenant + "/v2.0"
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                issuer,
		"authorization_endpoint":                s.Issuer + "/authorize",
		"token_endpoint":                        s.Issuer + "/token",
		"jwks_uri":                              s.Issuer + "/keys",
		"response_types_supported":              []string{"code"},
		"response_modes_supported":              []string{"query", "form_post"},
		"subject_types_supported":               []string{"public"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"code_challenge_methods_supported":      []string{"S256"},
		"token_endpoint_auth_methods_supported": []string{AuthBasic, AuthPost, AuthPrivateKey},
	})
}

func (s *OIDC) keys(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	key := jose.JSONWebKey{Key: &s.signKey.PublicKey, KeyID: s.signKID, Algorithm: "RS256", Use: "sig"}
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{key}})
}

var formPostPage = template.Must(template.New("form_post").Parse(`<!doctype html>
<html><body onload="document.forms[0].submit()">
<form method="post" action="{{.Action}}">
{{range $name, $values := .Fields}}{{range $values}}<input type="hidden" name="{{$name}}" value="{{.}}">
{{end}}{{end}}</form>
</body></html>
`))

// authorize signs the user in at once: it answers with a code for them,
// remembering the request's redirect URI, nonce and PKCE challenge.
func (s *OIDC) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != s.ClientID {
		http.Error(w, "unknown client", http.StatusBadRequest)
		return
	}
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if err != nil || !redirect.IsAbs() {
		http.Error(w, "bad redirect_uri", http.StatusBadRequest)
		return
	}
	answer := url.Values{}
	if state := q.Get("state"); state != "" {
		answer.Set("state", state)
	}
	switch {
	case q.Get("response_type") != "code":
		answer.Set("error", "unsupported_response_type")
	case q.Get("code_challenge") == "" || q.Get("code_challenge_method") != "S256":
		answer.Set("error", "invalid_request")
		answer.Set("error_description", "PKCE S256 is required")
	case !strings.Contains(" "+q.Get("scope")+" ", " openid "):
		answer.Set("error", "invalid_scope")
	default:
		code := rand.Text()
		s.mu.Lock()
		s.grants[code] = grant{redirectURI: q.Get("redirect_uri"), nonce: q.Get("nonce"), challenge: q.Get("code_challenge")}
		callbackUser := s.knobs.CallbackUser
		s.mu.Unlock()
		answer.Set("code", code)
		if callbackUser != "" {
			answer.Set("user", callbackUser)
		}
	}
	if q.Get("response_mode") == "form_post" {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = formPostPage.Execute(w, map[string]any{"Action": redirect.String(), "Fields": answer})
		return
	}
	rq := redirect.Query()
	for k, v := range answer {
		rq[k] = v
	}
	redirect.RawQuery = rq.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

// token redeems a code: it checks the client's authentication, the code,
// the redirect URI and the PKCE verifier, and issues an RS256 ID token.
func (s *OIDC) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, oauthError("invalid_request", "unreadable form"))
		return
	}
	method, err := s.clientAuth(r)
	if err != nil {
		writeJSON(w, http.StatusUnauthorized, oauthError("invalid_client", err.Error()))
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	k := s.knobs
	if k.TokenError != "" {
		writeJSON(w, http.StatusBadRequest, oauthError(k.TokenError, "as the test asked"))
		return
	}
	if r.PostForm.Get("grant_type") != "authorization_code" {
		writeJSON(w, http.StatusBadRequest, oauthError("unsupported_grant_type", ""))
		return
	}
	code := r.PostForm.Get("code")
	g, ok := s.grants[code]
	delete(s.grants, code)
	switch {
	case !ok:
		writeJSON(w, http.StatusBadRequest, oauthError("invalid_grant", "unknown or used code"))
		return
	case r.PostForm.Get("redirect_uri") != g.redirectURI:
		writeJSON(w, http.StatusBadRequest, oauthError("invalid_grant", "redirect_uri differs"))
		return
	case s256(r.PostForm.Get("code_verifier")) != g.challenge:
		writeJSON(w, http.StatusBadRequest, oauthError("invalid_grant", "PKCE verifier does not match"))
		return
	}
	s.lastAuth = method

	now := time.Now()
	ttl := k.TokenTTL
	if ttl == 0 {
		ttl = 10 * time.Minute
	}
	iat := now
	if ttl < 0 {
		iat = now.Add(2 * ttl)
	}
	claims := map[string]any{
		"iss":       s.tokenIssuer(k),
		"sub":       k.User.Subject,
		"aud":       cmp.Or(k.Audience, s.ClientID),
		"iat":       iat.Unix(),
		"exp":       now.Add(ttl).Unix(),
		"auth_time": iat.Unix(),
	}
	if g.nonce != "" {
		claims["nonce"] = g.nonce
		if k.WrongNonce {
			claims["nonce"] = g.nonce + "-not"
		}
	}
	if k.User.Email != "" {
		claims["email"] = k.User.Email
	}
	if k.User.EmailVerified != nil {
		claims["email_verified"] = k.User.EmailVerified
	}
	maps.Copy(claims, k.User.Claims)
	key, kid := s.signingKey()
	writeJSON(w, http.StatusOK, map[string]any{
		"access_token": rand.Text(),
		"token_type":   "Bearer",
		"expires_in":   3600,
		"id_token":     signRS256(key, kid, claims),
	})
}

// tokenIssuer is the iss of the ID tokens: the Issuer knob, Microsoft's
// issuer of the user's tenant, or the server's issuer.
func (s *OIDC) tokenIssuer(k Knobs) string {
	if k.Issuer != "" {
		return k.Issuer
	}
	if tid, ok := k.User.Claims["tid"].(string); ok && s.opts.Kind == upstream.KindMicrosoft {
		return s.server.URL + "/" + tid + "/v2.0"
	}
	return s.Issuer
}

// clientAuth checks how the client authenticated (exactly one way) and
// returns the way.
func (s *OIDC) clientAuth(r *http.Request) (string, error) {
	user, pass, basic := r.BasicAuth()
	secret := r.PostForm.Get("client_secret")
	assertion := r.PostForm.Get("client_assertion")
	ways := 0
	for _, used := range []bool{basic, secret != "", assertion != ""} {
		if used {
			ways++
		}
	}
	if ways != 1 {
		return "", fmt.Errorf("want exactly one client authentication, got %d", ways)
	}
	if id := r.PostForm.Get("client_id"); id != "" && id != s.ClientID && !basic {
		return "", errors.New("unknown client_id")
	}
	apple := s.opts.Kind == upstream.KindApple
	switch {
	case basic:
		id, err1 := url.QueryUnescape(user)
		sec, err2 := url.QueryUnescape(pass)
		if apple || err1 != nil || err2 != nil || id != s.ClientID || !equal(sec, s.ClientSecret) {
			return "", errors.New("bad basic credentials")
		}
		return AuthBasic, nil
	case assertion != "":
		if apple || r.PostForm.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" {
			return "", errors.New("bad client_assertion_type")
		}
		return AuthPrivateKey, s.checkAssertion(assertion)
	case r.PostForm.Get("client_id") != s.ClientID:
		return "", errors.New("client_secret_post without client_id")
	case apple:
		return AuthAppleSecret, s.checkAppleSecret(secret)
	default:
		if !equal(secret, s.ClientSecret) {
			return "", errors.New("bad client_secret")
		}
		return AuthPost, nil
	}
}

// checkAssertion verifies a private_key_jwt assertion (RFC 7523): signed
// by one of the client's keys, from and about the client, for the token
// endpoint, current and never seen before.
func (s *OIDC) checkAssertion(assertion string) error {
	keys := map[string]struct {
		alg jose.SignatureAlgorithm
		key any
	}{
		ClientRSAKeyID: {jose.RS256, &s.ClientRSAKey.PublicKey},
		ClientECKeyID:  {jose.ES256, &s.ClientECKey.PublicKey},
	}
	kid := keyID(assertion, jose.RS256, jose.ES256)
	for id, k := range keys {
		if kid != "" && kid != id {
			continue
		}
		c, err := verifyJWT(assertion, k.alg, k.key, s.ClientID, s.ClientID, s.Issuer+"/token")
		if err != nil {
			continue
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		if c.ID == "" || s.jtis[c.ID] {
			return errors.New("client assertion without a fresh jti")
		}
		s.jtis[c.ID] = true
		return nil
	}
	return errors.New("no client key verifies the assertion")
}

// checkAppleSecret verifies Apple's client secret: an ES256 JWT with the
// key id of AppleKey, from the team, about the client, for Apple, living
// at most six months.
func (s *OIDC) checkAppleSecret(secret string) error {
	if keyID(secret, jose.ES256) != s.AppleKeyID {
		return errors.New("apple client secret: wrong or missing kid")
	}
	c, err := verifyJWT(secret, jose.ES256, &s.AppleKey.PublicKey, s.AppleTeamID, s.ClientID, "https://appleid.apple.com")
	if err != nil {
		return fmt.Errorf("apple client secret: %w", err)
	}
	if c.Expiry.Time().Sub(c.IssuedAt.Time()) > 15777000*time.Second {
		return errors.New("apple client secret lives longer than six months")
	}
	return nil
}

func oauthError(code, description string) map[string]string {
	return map[string]string{"error": code, "error_description": description}
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
