package oidc

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"

	"github.com/foyer-id/foyer/internal/client"
	"github.com/foyer-id/foyer/internal/keys"
	"github.com/foyer-id/foyer/internal/session"
	"github.com/foyer-id/foyer/internal/store"
)

// requestState carries what Foyer learns about a protocol request to the
// storage methods the library calls while serving it.
type requestState struct {
	binding   string         // browser binding hash (authorization requests)
	alg       string         // the client's signing algorithm
	client    *client.Client // the client, once read
	verifier  bool           // the token request carried a code_verifier
	byRef     bool           // the authorization request came by reference (request_uri)
	details   string         // the authorization request's authorization_details, as sent
	claims    string         // the authorization request's claims parameter, as sent
	granted   []byte         // the authorization details the tokens being issued carry
	refused   string         // why the grant was refused, where the library says nothing (error_description)
	failed    bool           // the storage met a failure of its own (Storage.internal)
	ip        string
	userAgent string
}

type stateKey struct{}

func stateFrom(ctx context.Context) *requestState {
	rs, _ := ctx.Value(stateKey{}).(*requestState)
	return rs
}

// Config configures the provider.
type Config struct {
	// Issuer is the public URL (FOYER_PUBLIC_URL).
	Issuer string
	// Insecure allows an http issuer (dev mode only).
	Insecure bool
	// Secret is the server secret; the key that encrypts opaque access
	// tokens is derived from it.
	Secret []byte
	// Binding returns the browser binding of a request, setting the
	// cookie that carries it when missing (see ui.Pages.BrowserBinding).
	Binding func(http.ResponseWriter, *http.Request) string
	// ClientIP returns the client's address.
	ClientIP func(*http.Request) string
	// Traits are the identity schema's traits: those named as standard
	// claims are published as them (claims.go), and discovery lists them.
	Traits []string
}

// Provider is Foyer's OpenID provider.
type Provider struct {
	OP       *op.Provider
	Storage  *Storage
	Consents *Consents
	cfg      Config
}

// The protocol endpoints, as mounted.
const (
	pathAuthorize  = "/authorize"
	pathToken      = "/oauth/token"
	pathIntrospect = "/oauth/introspect"
	pathUserinfo   = "/userinfo"
	pathRevoke     = "/revoke"
	pathEndSession = "/end_session"
	pathKeys       = "/keys"
	pathDiscovery  = "/.well-known/openid-configuration"
)

// methods lists the HTTP methods each endpoint answers.
var methods = map[string][]string{
	pathAuthorize:  {http.MethodGet, http.MethodPost},
	pathToken:      {http.MethodPost},
	pathIntrospect: {http.MethodPost},
	pathUserinfo:   {http.MethodGet, http.MethodPost},
	pathRevoke:     {http.MethodPost},
	pathEndSession: {http.MethodGet, http.MethodPost},
	pathKeys:       {http.MethodGet},
}

// corsPaths are the endpoints browser apps (public clients: single-page
// apps) call from their own origin. Only the origins of public clients'
// redirect URIs are allowed, and never with credentials.
var corsPaths = map[string]bool{pathToken: true, pathRevoke: true, pathUserinfo: true}

// allowOrigin answers CORS for origin when it belongs to a public client
// of the domain, and reports whether it did.
func (p *Provider) allowOrigin(w http.ResponseWriter, r *http.Request, origin string) bool {
	w.Header().Add("Vary", "Origin")
	origins, err := p.Storage.Clients.PublicOrigins(r.Context(), p.Storage.Domain)
	if err != nil || !origins[origin] {
		return false
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Methods", "GET, POST")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
	h.Set("Access-Control-Max-Age", "600")
	return true
}

// Grants Foyer refuses even though the library knows them.
var refusedGrants = map[string]bool{
	string(oidc.GrantTypeBearer):        true, // jwt-bearer
	string(oidc.GrantTypeTokenExchange): true,
	string(oidc.GrantTypeDeviceCode):    true,
	"password":                          true,
	"implicit":                          true,
}

// NewProvider builds the provider on st.
func NewProvider(cfg Config, st *Storage) (*Provider, error) {
	st.init()
	key := sha256.Sum256(append([]byte("foyer opaque access tokens v1\x00"), cfg.Secret...))
	logoutKey := sha256.Sum256(append([]byte("foyer logout redirect v1\x00"), cfg.Secret...))
	st.logoutKey = logoutKey[:]
	rotationKey := sha256.Sum256(append([]byte("foyer refresh rotation v1\x00"), cfg.Secret...))
	st.tokens.rotationKey = rotationKey[:]
	opCfg := &op.Config{
		CryptoKey:               key,
		CodeMethodS256:          true,
		AuthMethodPost:          true,
		AuthMethodPrivateKeyJWT: true,
		GrantTypeRefreshToken:   true,
		SupportedUILocales:      []language.Tag{language.English},
		SupportedScopes:         []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopePhone, oidc.ScopeOfflineAccess},
		SupportedClaims:         []string{"sub", "aud", "exp", "iat", "iss", "auth_time", "nonce", "acr", "amr", "azp", "email", "email_verified", "name", "updated_at"},
	}
	p := &Provider{Storage: st, Consents: &Consents{DB: st.DB, Now: st.Now}, cfg: cfg}
	// The library verifies Foyer's own JWTs (access tokens at UserInfo,
	// introspection and revocation; ID token hints) with RS256, ES256 and
	// PS256 only unless told: every algorithm a client may sign with.
	opts := []op.Option{op.WithHttpInterceptors(p.intercept), op.WithCORSOptions(nil), op.WithCrypto(newAccessTokenCrypto(key, &st.signedAccess)),
		op.WithAccessTokenKeySet(newVerifiedCache(&op.OpenIDKeySet{Storage: st}, st.Now)),
		op.WithAccessTokenVerifierOpts(op.WithSupportedAccessTokenSigningAlgorithms(keys.Algorithms()...)),
		op.WithIDTokenHintVerifierOpts(op.WithSupportedIDTokenHintSigningAlgorithms(keys.Algorithms()...))}
	if cfg.Insecure {
		opts = append(opts, op.WithAllowInsecure())
	}
	o, err := op.NewProvider(opCfg, st, op.StaticIssuer(cfg.Issuer), opts...)
	if err != nil {
		return nil, fmt.Errorf("oidc: provider: %w", err)
	}
	p.OP = o
	return p, nil
}

// Mount registers the protocol endpoints, and those of dynamic client
// registration when reg is on (nil is off: they are absent, and
// discovery does not name them). The library's own login callback
// (/authorize/callback), which would issue a code to whoever knows a
// request id, is deliberately not mounted; nor are its health endpoints
// (Foyer has /health/*).
func (p *Provider) Mount(mux *http.ServeMux, reg *Registration) {
	for path := range methods {
		mux.Handle(path, p.OP)
	}
	registering := reg.mount(mux, p)
	mux.HandleFunc("POST "+pathPAR, p.pushAuthorization) // par.go
	mux.HandleFunc("GET "+pathDiscovery, func(w http.ResponseWriter, r *http.Request) { p.discovery(w, r, registering) })
}

// intercept runs before every library endpoint: it restricts methods,
// forbids caching (but of the public keys), refuses grants Foyer does not
// offer, and records the request state the storage needs.
func (p *Provider) intercept(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == pathKeys {
			// Relying parties and resource servers may keep the JWKS a
			// while: a new key is published a day before it signs
			// (docs/oidc.md).
			w.Header().Set("Cache-Control", "public, max-age=300")
		} else {
			w.Header().Set("Cache-Control", "no-store")
			w.Header().Set("Pragma", "no-cache")
		}
		allowed, ok := methods[r.URL.Path]
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		if origin := r.Header.Get("Origin"); origin != "" && corsPaths[r.URL.Path] {
			if !p.allowOrigin(w, r, origin) && r.Method == http.MethodOptions {
				http.Error(w, "origin not allowed", http.StatusForbidden)
				return
			}
			if r.Method == http.MethodOptions {
				w.WriteHeader(http.StatusNoContent)
				return
			}
		}
		if !contains(allowed, r.Method) {
			w.Header().Set("Allow", strings.Join(allowed, ", "))
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		rs := &requestState{ip: p.cfg.ClientIP(r), userAgent: r.UserAgent()}
		w = &failingWriter{ResponseWriter: challenging(w, r), rs: rs}
		if r.URL.Path == pathToken {
			g := &grantWriter{ResponseWriter: w, rs: rs}
			defer g.flush()
			w = g
		}
		// Where clients authenticate, the form is read here, within bounds.
		clientAuth := r.URL.Path == pathToken || r.URL.Path == pathIntrospect || r.URL.Path == pathRevoke
		if clientAuth {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if err := r.ParseForm(); err != nil {
				writeOAuthError(w, http.StatusBadRequest, "invalid_request", "the request body could not be read")
				return
			}
			// One client, authenticated one way (RFC 6749, section 2.3):
			// the library would take an assertion and ignore another
			// client's Basic credentials beside it.
			if clientAuthMethods(r) > 1 {
				p.refuseClient(w, r, errManyMethods)
				return
			}
		}
		switch r.URL.Path {
		case pathAuthorize:
			if !p.pushedInto(w, r) { // a pushed request's parameters (par.go)
				return
			}
			if !p.loopbackRegistered(r.Context(), r.FormValue("client_id"), r.FormValue("redirect_uri"), false) {
				refuseRedirect(w, "redirect_uri")
				return
			}
			if p.refuseAuthorization(w, r) {
				return
			}
			// The library's refusals go to the app the way the request
			// asked, with the issuer (respond).
			w = &authorizeWriter{ResponseWriter: w, p: p, r: r}
			rs.binding = p.cfg.Binding(w, r)
			rs.byRef = r.FormValue("request_uri") != ""
			rs.details = r.FormValue(paramDetails)
			rs.claims = r.FormValue(paramClaims)
		case pathEndSession:
			// The library answers an unknown client here with a 500.
			if id := r.FormValue("client_id"); id != "" {
				if _, err := p.Storage.clientOf(r.Context(), id); errors.Is(err, store.ErrNotFound) {
					refuseRedirect(w, "client_id")
					return
				}
			}
			if !p.loopbackRegistered(r.Context(), r.FormValue("client_id"), r.FormValue("post_logout_redirect_uri"), true) {
				refuseRedirect(w, "post_logout_redirect_uri")
				return
			}
			// A browser follows a sign-out link: the library's refusals
			// (JSON, for programs) become a page (see refuseRedirect).
			w = pageErrors{w}
		case pathToken:
			if g := r.PostForm.Get("grant_type"); refusedGrants[g] {
				writeOAuthError(w, http.StatusBadRequest, "unsupported_grant_type", "grant type "+g+" is not supported")
				return
			}
			if r.URL.RawQuery != "" {
				writeOAuthError(w, http.StatusBadRequest, "invalid_request", "parameters belong in the request body, not the URL")
				return
			}
			rs.verifier = r.PostForm.Get("code_verifier") != ""
			if r.PostForm.Get("grant_type") == string(oidc.GrantTypeClientCredentials) && r.PostForm.Get("client_assertion") != "" {
				p.clientCredentialsWithAssertion(w, r.WithContext(context.WithValue(r.Context(), stateKey{}, rs)))
				return
			}
			if r.PostForm.Get("client_assertion") == "" && !p.tokenClientAllowed(w, r, rs) {
				return
			}
		case pathIntrospect, pathRevoke:
			if r.PostForm.Get("token") == "" { // REQUIRED (RFC 7662, section 2.1; RFC 7009, section 2.1)
				writeOAuthError(w, http.StatusBadRequest, "invalid_request", "the token parameter is missing")
				return
			}
		}
		switch r.URL.Path {
		case pathIntrospect:
			p.introspect(w, r)
			return
		case pathUserinfo:
			p.userinfo(w, r)
			return
		}
		r = r.WithContext(context.WithValue(r.Context(), stateKey{}, rs))
		if clientAuth && r.PostForm.Get("client_assertion") != "" {
			aud, ok := p.assertionFresh(w, r)
			if !ok {
				return
			}
			if aud != p.cfg.Issuer {
				// The library checks the assertion again, with the issuer
				// as the only audience it knows.
				served := assertionAudience{p.OP, aud}
				if r.URL.Path == pathToken {
					op.Exchange(w, r, served)
				} else {
					op.Revoke(w, r, served)
				}
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// loopbackRegistered holds a loopback redirect_uri to RFC 8252 (sections
// 7.3 and 8.3): the library lets a native app's loopback redirect differ
// from the registered one in anything but path and query; only the port
// may. Other redirect URIs it reports as registered, for the library to
// check. logout picks the client's post-logout redirect URIs.
func (p *Provider) loopbackRegistered(ctx context.Context, clientID, redirectURI string, logout bool) bool {
	u, loopback := op.HTTPLoopbackOrLocalhost(redirectURI)
	if !loopback || clientID == "" {
		return true
	}
	c, err := p.Storage.clientOf(ctx, clientID)
	if err != nil {
		return true // the library answers for an unknown client
	}
	registered := c.RedirectURIs
	if logout {
		registered = c.PostLogoutRedirectURIs
	}
	return matchesRegistered(c, registered, u, redirectURI)
}

// matchesRegistered reports whether uri (parsed: u, nil when it is not a
// loopback one) is one of registered, c's: the same, or for a public
// client a loopback URI that differs in its port only (RFC 8252).
func matchesRegistered(c *client.Client, registered []string, u *url.URL, uri string) bool {
	for _, reg := range registered {
		if reg == uri {
			return true
		}
		r, ok := op.HTTPLoopbackOrLocalhost(reg)
		if ok && u != nil && c.Public && r.Scheme == u.Scheme && r.Hostname() == u.Hostname() && r.User == nil && u.User == nil &&
			r.Path == u.Path && r.RawQuery == u.RawQuery {
			return true
		}
	}
	return false
}

// refuseAuthorization answers, at the client's redirect URI, the
// authorization requests the library would answer with the wrong error: a
// response_type other than code (it says unauthorized_client, RFC 6749
// section 4.1.2.1 says unsupported_response_type), and a max_age that is
// not a number of seconds (it answers a plain-text page with its own
// internals). It reports whether it answered. Requests whose redirect URI
// is not registered are left to the library, which never redirects them.
func (p *Provider) refuseAuthorization(w http.ResponseWriter, r *http.Request) bool {
	rt := r.FormValue("response_type")
	repeated := repeatedParam(r.Form)
	var refusal *oidc.Error
	switch {
	case repeated == "client_id" || repeated == "redirect_uri" || repeated == "response_mode":
		// Which app, or where and how to answer it, is not known.
		refusePage(w, "The parameter "+repeated+" is repeated in this sign-in link.")
		return true
	case repeated != "":
		// RFC 6749, section 3.1: a parameter is sent once.
		refusal = oidc.ErrInvalidRequest().WithDescription("the parameter %s is repeated", repeated)
	case rt != "" && rt != string(oidc.ResponseTypeCode):
		refusal = &oidc.Error{ErrorType: "unsupported_response_type", Description: "only response_type=code is supported"}
	case !validMaxAge(r.FormValue("max_age")):
		refusal = oidc.ErrInvalidRequest().WithDescription("max_age must be a number of seconds")
	}
	if refusal == nil {
		return false
	}
	redirectURI := r.FormValue("redirect_uri")
	c, err := p.Storage.clientOf(r.Context(), r.FormValue("client_id"))
	if err != nil || !redirectRegistered(c, redirectURI) {
		if repeated != "" { // the library would take the first value
			refusePage(w, "The parameter "+repeated+" is repeated in this sign-in link.")
			return true
		}
		return false // the library refuses, without redirecting
	}
	if repeated != "state" {
		refusal.State = r.FormValue("state")
	}
	p.answer(w, r, redirectURI, oidc.ResponseType(rt), oidc.ResponseMode(r.FormValue("response_mode")), refusal)
	return true
}

// validMaxAge reports whether max_age is absent or a number of seconds.
func validMaxAge(ma string) bool {
	if ma == "" {
		return true
	}
	_, err := strconv.ParseUint(ma, 10, 31)
	return err == nil
}

// refuseRedirect answers an authorization or logout request whose
// redirect (the param named) is not registered: a page, never a redirect.
// In Foyer's server a browser sees the hosted error page instead of its
// text, as for the library's own refusals there (server.misses).
func refuseRedirect(w http.ResponseWriter, param string) {
	refusePage(w, "This "+param+" is not registered for this application.")
}

// refusePage answers a request that cannot be answered at the app's
// redirect URI with a plain page (the hosted error page in Foyer's
// server, see refuseRedirect).
func refusePage(w http.ResponseWriter, text string) {
	w.Header().Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	http.Error(w, text, http.StatusBadRequest)
}

// challenging makes every 401 where clients authenticate carry the
// WWW-Authenticate header HTTP requires (RFC 9110, section 11.6.1; RFC
// 6749, section 5.2). UserInfo sets its Bearer challenges itself.
func challenging(w http.ResponseWriter, r *http.Request) http.ResponseWriter {
	switch r.URL.Path {
	case pathToken, pathIntrospect, pathRevoke, pathPAR:
		return challengeWriter{w, `Basic realm="foyer"`}
	}
	return w
}

// failingWriter answers server_error, without a description, in place of
// the error the library writes once the storage has met a failure of its
// own (Storage.internal): the library would call it invalid_grant or
// invalid_client, and a client would drop a token or credentials that are
// fine. Redirects (errors at a client's redirect URI) pass unchanged.
type failingWriter struct {
	http.ResponseWriter
	rs      *requestState
	swallow bool
}

func (f *failingWriter) WriteHeader(code int) {
	if f.rs.failed && code >= 400 {
		f.swallow = true
		f.Header().Del("Content-Length")
		writeOAuthError(f.ResponseWriter, http.StatusInternalServerError, "server_error", "")
		return
	}
	f.ResponseWriter.WriteHeader(code)
}

func (f *failingWriter) Write(b []byte) (int, error) {
	if f.swallow {
		return len(b), nil
	}
	return f.ResponseWriter.Write(b)
}

func (f *failingWriter) Unwrap() http.ResponseWriter { return f.ResponseWriter }

// grantWriter adds to a successful token response the authorization
// details its tokens grant (RFC 9396, section 7), which the library knows
// nothing of, and to a refusal the library gives no error_description the
// storage's reason (rs.refused): such a response is held until the
// handler is done, the field added; every other response passes
// unchanged.
type grantWriter struct {
	http.ResponseWriter
	rs      *requestState
	status  int // 0 until the header is written
	holding bool
	body    bytes.Buffer
}

func (g *grantWriter) WriteHeader(code int) {
	if g.status != 0 {
		return
	}
	g.status = code
	if code == http.StatusOK && g.rs.granted != nil || code == http.StatusBadRequest && g.rs.refused != "" {
		g.holding = true
		return
	}
	g.ResponseWriter.WriteHeader(code)
}

func (g *grantWriter) Write(b []byte) (int, error) {
	if g.status == 0 {
		g.WriteHeader(http.StatusOK)
	}
	if g.holding {
		return g.body.Write(b)
	}
	return g.ResponseWriter.Write(b)
}

func (g *grantWriter) Unwrap() http.ResponseWriter { return g.ResponseWriter }

// flush writes a held response with the granted details added.
func (g *grantWriter) flush() {
	if !g.holding {
		return
	}
	body := g.body.Bytes()
	var resp map[string]json.RawMessage
	if err := json.Unmarshal(body, &resp); err == nil && resp != nil {
		if g.status == http.StatusOK {
			resp[paramDetails] = g.rs.granted
		} else if _, ok := resp["error_description"]; !ok {
			resp["error_description"], _ = json.Marshal(g.rs.refused)
		}
		if b, err := json.Marshal(resp); err == nil {
			body = b
		}
	}
	g.Header().Del("Content-Length")
	g.ResponseWriter.WriteHeader(g.status)
	_, _ = g.ResponseWriter.Write(body)
}

type challengeWriter struct {
	http.ResponseWriter
	challenge string
}

func (c challengeWriter) WriteHeader(code int) {
	if code == http.StatusUnauthorized && c.Header().Get("WWW-Authenticate") == "" {
		c.Header().Set("WWW-Authenticate", c.challenge)
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c challengeWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// tokenClientAllowed authenticates a token request's client by its secret,
// when it sends one, before the library reads the code or refresh token:
// wrong credentials are invalid_client whatever the grant (RFC 6749,
// section 5.2), and a client may use only the grants registered for it
// (unauthorized_client, where the library would answer invalid_client for
// client_credentials). Public clients and assertions are left to the
// library and assertionFresh. It answers and reports false to stop.
func (p *Provider) tokenClientAllowed(w http.ResponseWriter, r *http.Request, rs *requestState) bool {
	c, err := p.authenticateClient(r)
	if p.refuseClient(w, r, err) {
		return false
	}
	if c == nil {
		return true
	}
	if g := r.PostForm.Get("grant_type"); knownGrants[g] && !c.HasGrant(g) {
		writeOAuthError(w, http.StatusBadRequest, "unauthorized_client", "the grant type "+g+" is not allowed for this client")
		return false
	}
	rs.client = c
	return true
}

// knownGrants are the grant types Foyer serves.
var knownGrants = map[string]bool{
	string(oidc.GrantTypeCode):              true,
	string(oidc.GrantTypeRefreshToken):      true,
	string(oidc.GrantTypeClientCredentials): true,
}

// assertionFresh holds a client assertion that the library will check
// (every use but the client_credentials grant, which Foyer serves itself)
// to Foyer's rules first: short-lived, with a jti, never replayed. The
// library checks signature and audience again. It answers 401 and reports
// false for an assertion that fails, and returns the audience it accepted.
func (p *Provider) assertionFresh(w http.ResponseWriter, r *http.Request) (aud string, ok bool) {
	_, aud, err := p.verifyAssertion(r.Context(), r.PostForm.Get("client_assertion"))
	if p.refuseClient(w, r, err) {
		return "", false
	}
	return aud, true
}

// assertionAudience is the provider as the library's token and
// revocation handlers see it once Foyer has verified a client assertion
// addressed to the token endpoint, as OpenID Connect Core (section 9)
// recommends: the library's own verifier would accept only the issuer as
// the audience.
type assertionAudience struct {
	*op.Provider
	aud string
}

func (a assertionAudience) JWTProfileVerifier(context.Context) *op.JWTProfileVerifier {
	return op.NewJWTProfileVerifier(a.Storage(), a.aud, time.Hour, time.Second)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func writeOAuthError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

// discovery serves the OpenID Provider metadata, starting from the
// library's and correcting what Foyer does differently: only the code flow,
// S256 only, the grants and auth methods actually offered, and the
// assurance levels; the registration endpoint when registering.
func (p *Provider) discovery(w http.ResponseWriter, r *http.Request, registering bool) {
	ctx := op.ContextWithIssuer(r.Context(), p.cfg.Issuer)
	d := op.CreateDiscoveryConfig(ctx, p.OP, p.Storage)
	d.ResponseTypesSupported = []string{string(oidc.ResponseTypeCode)}
	d.ResponseModesSupported = []string{"query", "form_post"}
	d.GrantTypesSupported = []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken, oidc.GrantTypeClientCredentials}
	d.CodeChallengeMethodsSupported = []oidc.CodeChallengeMethod{oidc.CodeChallengeMethodS256}
	d.TokenEndpointAuthMethodsSupported = []oidc.AuthMethod{oidc.AuthMethodBasic, oidc.AuthMethodPost, oidc.AuthMethodPrivateKeyJWT, oidc.AuthMethodNone}
	// Introspection is Foyer's own (resource.go): no public clients, but
	// client_secret_post as well.
	d.IntrospectionEndpointAuthMethodsSupported = []oidc.AuthMethod{oidc.AuthMethodBasic, oidc.AuthMethodPost, oidc.AuthMethodPrivateKeyJWT}
	algs := make([]string, len(assertionAlgs))
	for i, a := range assertionAlgs {
		algs[i] = string(a)
	}
	d.TokenEndpointAuthSigningAlgValuesSupported = algs
	d.IntrospectionEndpointAuthSigningAlgValuesSupported = algs
	d.RevocationEndpointAuthSigningAlgValuesSupported = algs
	d.ACRValuesSupported = []string{session.AAL1, session.AAL2}
	d.RequestParameterSupported = false
	d.DeviceAuthorizationEndpoint = ""
	d.CheckSessionIframe = ""
	d.IDTokenSigningAlgValuesSupported = keys.Algorithms()
	// What the claims code (claims.go) can fill in, not the library's
	// list of every standard scope and claim.
	d.ScopesSupported = []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopePhone, oidc.ScopeOfflineAccess}
	d.ClaimsSupported = []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "at_hash",
		"email", "email_verified", "phone_number", "phone_number_verified", "updated_at", ClaimRecentlyRecovered}
	for _, scope := range []string{oidc.ScopeProfile, oidc.ScopeAddress} {
		for _, claim := range standardClaims[scope] {
			if slices.Contains(p.cfg.Traits, claim) {
				d.ClaimsSupported = append(d.ClaimsSupported, claim)
				if scope == oidc.ScopeAddress {
					d.ScopesSupported = append(d.ScopesSupported, scope)
				}
			}
		}
	}
	d.RequestURIParameterSupported = false
	d.ClaimsParameterSupported = true
	d.UserinfoSigningAlgValuesSupported = keys.Algorithms()
	if registering {
		d.RegistrationEndpoint = p.cfg.Issuer + pathRegister
	}
	meta, err := json.Marshal(d)
	if err != nil {
		p.internalError(w, r, err)
		return
	}
	// What the library's metadata has no field for.
	var m map[string]any
	if err := json.Unmarshal(meta, &m); err != nil {
		p.internalError(w, r, err)
		return
	}
	m["authorization_response_iss_parameter_supported"] = true          // RFC 9207
	m["pushed_authorization_request_endpoint"] = p.cfg.Issuer + pathPAR // RFC 9126
	m["require_pushed_authorization_requests"] = false
	m["prompt_values_supported"] = []string{oidc.PromptNone, oidc.PromptLogin, oidc.PromptConsent, promptCreate}
	// The authorization details types (RFC 9396, section 10): those of
	// the domain's clients.
	types, err := p.Storage.Clients.DetailsTypes(r.Context(), p.Storage.Domain)
	if err != nil {
		p.internalError(w, r, err)
		return
	}
	if len(types) > 0 {
		m["authorization_details_types_supported"] = types
	}
	if meta, err = json.Marshal(m); err != nil {
		p.internalError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "public, max-age=300")
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(meta)
}

// Prune deletes expired authorization requests and tokens.
func (p *Provider) Prune(ctx context.Context) error {
	if _, err := p.Storage.requests.prune(ctx); err != nil {
		return err
	}
	if _, err := p.Storage.tokens.prune(ctx); err != nil {
		return err
	}
	if err := p.Storage.prunePushed(ctx); err != nil {
		return err
	}
	_, err := p.Storage.DB.DeleteInBatches(ctx, `DELETE FROM oauth_assertions WHERE jti IN
		(SELECT jti FROM oauth_assertions WHERE expires_at < $2 LIMIT $1)`, store.Micros(p.Storage.Now()))
	return err
}

// repeatedParam returns the name of a parameter the request repeats
// (state=A&state=B, or one in both the query and the body), "" if none.
func repeatedParam(form url.Values) string {
	names := make([]string, 0, len(form))
	for name, vs := range form {
		if len(vs) > 1 {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return ""
	}
	slices.Sort(names)
	return names[0]
}

// authorizeWriter passes on the library's answers to an authorization
// request but its error redirects to the app's redirect URI, which it
// answers again with respond: in the response mode the request asked for
// (the library puts errors in the query even for form_post), and with
// the issuer (RFC 9207).
type authorizeWriter struct {
	http.ResponseWriter
	p        *Provider
	r        *http.Request
	replaced bool
}

func (a *authorizeWriter) WriteHeader(code int) {
	if code == http.StatusFound || code == http.StatusSeeOther {
		if params, ok := a.refusal(a.Header().Get("Location")); ok {
			a.Header().Del("Location")
			a.replaced = true
			mode := oidc.ResponseMode(a.r.FormValue("response_mode"))
			if mode != oidc.ResponseModeFormPost {
				mode = oidc.ResponseModeQuery // code's default, also for modes not served
			}
			a.p.respond(a.ResponseWriter, a.r, a.r.FormValue("redirect_uri"), mode, params)
			return
		}
	}
	a.ResponseWriter.WriteHeader(code)
}

func (a *authorizeWriter) Write(b []byte) (int, error) {
	if a.replaced {
		return len(b), nil
	}
	return a.ResponseWriter.Write(b)
}

func (a *authorizeWriter) Unwrap() http.ResponseWriter { return a.ResponseWriter }

// refusal reports whether loc is an error answer at the request's
// redirect URI, and returns its parameters but those of the redirect URI
// itself.
func (a *authorizeWriter) refusal(loc string) (url.Values, bool) {
	redirect := a.r.FormValue("redirect_uri")
	if loc == "" || redirect == "" {
		return nil, false
	}
	u, err := url.Parse(loc)
	if err != nil {
		return nil, false
	}
	base, err := url.Parse(redirect)
	if err != nil {
		return nil, false
	}
	params := u.Query()
	if u.Fragment != "" {
		if params, err = url.ParseQuery(u.Fragment); err != nil {
			return nil, false
		}
	}
	own := base.Query()
	u.RawQuery, u.Fragment, base.RawQuery, base.Fragment = "", "", "", ""
	if u.String() != base.String() || params.Get("error") == "" {
		return nil, false
	}
	for k := range own {
		params.Del(k)
	}
	return params, true
}

// pageErrors turns the library's JSON refusals (4xx) into plain ones,
// which Foyer's server answers with the hosted error page.
type pageErrors struct{ http.ResponseWriter }

func (p pageErrors) WriteHeader(code int) {
	if code >= 400 && code < 500 && strings.HasPrefix(p.Header().Get("Content-Type"), "application/json") {
		p.Header().Set("Content-Type", "text/plain; charset=utf-8")
	}
	p.ResponseWriter.WriteHeader(code)
}

func (p pageErrors) Unwrap() http.ResponseWriter { return p.ResponseWriter }
