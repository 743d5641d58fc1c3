package oidc

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/foyer-id/foyer/internal/client"
	"github.com/foyer-id/foyer/internal/config"
	"github.com/foyer-id/foyer/internal/event"
	"github.com/foyer-id/foyer/internal/throttle"
)

// pathRegister is the registration endpoint (RFC 7591); a client's own
// registration is at pathRegister/{client_id} (RFC 7592).
const pathRegister = "/oauth/register"

// Events of dynamic client registration, with the client's id.
const (
	eventClientRegistered = "oauth.client_registered"
	eventClientUpdated    = "oauth.client_updated"
	eventClientDeleted    = "oauth.client_deleted"
)

// Registration serves dynamic client registration: RFC 7591 and OpenID
// Connect Dynamic Client Registration 1.0 at /oauth/register, and RFC
// 7592's management of a registration at /oauth/register/{client_id}
// with the registration access token it was given. Provider.Mount mounts
// it, and discovery names it, only when Mode is not off.
//
// Clients that register themselves are third-party apps (the consent page
// is always shown), may use the authorization code grant (and refresh
// tokens) only — never client_credentials, which no customer consents to
// — and may ask only for the standard OpenID Connect scopes: an API's
// scopes, and machine clients, are the operator's to give.
type Registration struct {
	// Mode is config.RegistrationOff (nothing is mounted),
	// config.RegistrationToken (registering needs an initial access
	// token) or config.RegistrationOpen (anyone may register).
	Mode string
	// PerNetwork is how many registrations one network may make per 10
	// minutes before each next one waits.
	PerNetwork int

	p *Provider
}

// rule counts a network's registrations: PerNetwork within 10 minutes,
// then each next one waits, from a second doubling up to a minute.
func (g *Registration) rule() throttle.Rule {
	return throttle.Rule{Free: max(g.PerNetwork, 1), Base: time.Second, Max: time.Minute, Window: 10 * time.Minute}
}

// mount registers the endpoints on mux for p and reports whether it did:
// not for a nil Registration or one that is off.
func (g *Registration) mount(mux *http.ServeMux, p *Provider) bool {
	if g == nil || g.Mode == "" || g.Mode == config.RegistrationOff {
		return false
	}
	g.p = p
	mux.HandleFunc("POST "+pathRegister, g.register)
	mux.HandleFunc("GET "+pathRegister+"/{id}", g.read)
	mux.HandleFunc("PUT "+pathRegister+"/{id}", g.update)
	mux.HandleFunc("DELETE "+pathRegister+"/{id}", g.remove)
	if g.Mode == config.RegistrationOpen && p.Storage.Logger != nil {
		p.Storage.Logger.Warn("oidc: dynamic client registration is open: anyone who reaches " + pathRegister +
			" may register a client (oidc.registration: token asks for an initial access token)")
	}
	return true
}

// registrableScopes are the scopes a client may register for itself:
// OpenID Connect's own (Core, section 5.4), whose claims the customer
// sees on the consent page. An API's scopes are the operator's to give
// (foyer clients update --scope); a client keeps those on update.
var registrableScopes = []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, oidc.ScopePhone, oidc.ScopeAddress, oidc.ScopeOfflineAccess}

// register serves POST /oauth/register (RFC 7591, section 3).
func (g *Registration) register(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	ctx := r.Context()
	st := g.p.Storage
	if !g.allowed(w, r) {
		return
	}
	initial := ""
	if g.Mode == config.RegistrationToken {
		var ok bool
		if initial, ok = bearer(w, r, "an initial access token"); !ok {
			g.refused(r, eventClientRegistered, event.OutcomeDenied, "initial_token_missing", "")
			return
		}
		if err := st.Clients.CheckInitialToken(ctx, st.Domain, initial); err != nil {
			g.tokenRefused(w, r, err, eventClientRegistered, "initial_token_invalid", "")
			return
		}
	}
	md, refusal := readMetadata(w, r)
	var spec client.Spec
	if refusal == nil {
		spec, refusal = specFor(md, nil)
	}
	if refusal != nil {
		g.refuse(w, r, eventClientRegistered, "", refusal)
		return
	}
	reg, err := st.Clients.Register(ctx, st.Domain, spec, initial)
	var ve *client.ValidationError
	switch {
	case errors.As(err, &ve):
		g.refuse(w, r, eventClientRegistered, "", refusalOf(ve))
		return
	case err != nil:
		g.tokenRefused(w, r, err, eventClientRegistered, "initial_token_invalid", "")
		return
	}
	reason := "open"
	if reg.InitialToken != "" {
		reason = "initial_token:" + reg.InitialToken
	}
	g.record(r, eventClientRegistered, event.OutcomeSuccess, reason, reg.Client.ID)
	info := g.info(reg.Client)
	info.ClientSecret, info.RegistrationAccessToken = reg.Secret, reg.AccessToken
	w.Header().Set("Location", info.RegistrationClientURI)
	writeJSON(w, http.StatusCreated, info)
}

// read serves GET /oauth/register/{id} (RFC 7592, section 2.1). The
// answer carries neither the client secret nor the registration access
// token: Foyer keeps only their hashes.
func (g *Registration) read(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	id := r.PathValue("id")
	token, ok := bearer(w, r, "the registration access token")
	if !ok {
		return
	}
	c, err := g.p.Storage.Clients.Registered(r.Context(), id, token)
	if err != nil {
		g.tokenRefused(w, r, err, "", "", id)
		return
	}
	writeJSON(w, http.StatusOK, g.info(c))
}

// update serves PUT /oauth/register/{id} (RFC 7592, section 2.2): the
// metadata sent replace the registration's, validated as on
// registration, and the client gets a new registration access token (the
// old one stops working), so that the answer carries one as section 3
// requires; an absent field takes its default. Settings the metadata do
// not speak for (token lifetimes and formats, the required assurance
// level) keep the operator's values.
func (g *Registration) update(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	ctx := r.Context()
	st := g.p.Storage
	id := r.PathValue("id")
	token, ok := bearer(w, r, "the registration access token")
	if !ok {
		return
	}
	current, err := st.Clients.Registered(ctx, id, token)
	if err != nil {
		g.tokenRefused(w, r, err, eventClientUpdated, "registration_token_invalid", id)
		return
	}
	md, refusal := readMetadata(w, r)
	if refusal == nil {
		refusal = g.sameClient(r, md, current)
	}
	var spec client.Spec
	if refusal == nil {
		spec, refusal = specFor(md, current)
	}
	if refusal != nil {
		g.refuse(w, r, eventClientUpdated, id, refusal)
		return
	}
	reg, err := st.Clients.UpdateRegistered(ctx, id, token, spec)
	var ve *client.ValidationError
	switch {
	case errors.As(err, &ve):
		g.refuse(w, r, eventClientUpdated, id, refusalOf(ve))
		return
	case err != nil:
		g.tokenRefused(w, r, err, eventClientUpdated, "registration_token_invalid", id)
		return
	}
	g.record(r, eventClientUpdated, event.OutcomeSuccess, "", id)
	info := g.info(reg.Client)
	info.ClientSecret, info.RegistrationAccessToken = reg.Secret, reg.AccessToken
	writeJSON(w, http.StatusOK, info)
}

// sameClient holds an update to RFC 7592 (section 2.2): it names the
// client it updates, and a client_secret it sends is the client's own (a
// client never chooses its secret).
func (g *Registration) sameClient(r *http.Request, md *metadata, c *client.Client) *regRefusal {
	if md.ClientID == nil || *md.ClientID != c.ID {
		return &regRefusal{"invalid_client_metadata", "client_id must be the id of the client this registration is for"}
	}
	if md.ClientSecret != nil && *md.ClientSecret != "" {
		if _, err := g.p.Storage.Clients.VerifySecret(r.Context(), c.ID, *md.ClientSecret); err != nil {
			return &regRefusal{"invalid_client_metadata", "client_secret is not this client's secret: leave it out, a client cannot choose its secret"}
		}
	}
	return nil
}

// remove serves DELETE /oauth/register/{id} (RFC 7592, section 2.3): the
// client goes, with its tokens and consents.
func (g *Registration) remove(w http.ResponseWriter, r *http.Request) {
	noStore(w)
	id := r.PathValue("id")
	token, ok := bearer(w, r, "the registration access token")
	if !ok {
		return
	}
	if err := g.p.Storage.Clients.DeleteRegistered(r.Context(), id, token); err != nil {
		g.tokenRefused(w, r, err, eventClientDeleted, "registration_token_invalid", id)
		return
	}
	g.record(r, eventClientDeleted, event.OutcomeSuccess, "", id)
	w.WriteHeader(http.StatusNoContent)
}

// allowed counts a registration from the request's network, and answers
// 429 and reports false once the network must wait: every registration
// is a stored client.
func (g *Registration) allowed(w http.ResponseWriter, r *http.Request) bool {
	st := g.p.Storage
	if st.Throttle == nil {
		return true
	}
	states, err := st.Throttle.Reserve(r.Context(), g.rule(), throttle.NetworkKey("client_registration", g.p.cfg.ClientIP(r)))
	if err != nil {
		g.p.internalError(w, r, err)
		return false
	}
	if states[0].Taken {
		return true
	}
	g.refused(r, eventClientRegistered, event.OutcomeThrottled, "network_limit", "")
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(max(states[0].Wait, time.Second).Seconds()))))
	writeOAuthError(w, http.StatusTooManyRequests, "temporarily_unavailable", "too many clients were registered from this network; try again later")
	return false
}

// bearer returns the request's bearer token (RFC 6750, section 2.1;
// only the Authorization header), or answers 401 and reports false when
// there is none; what names the token the client should send.
func bearer(w http.ResponseWriter, r *http.Request, what string) (string, bool) {
	scheme, token, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !strings.EqualFold(scheme, "Bearer") || token == "" {
		// No token: a challenge without an error code (section 3.1).
		w.Header().Set("WWW-Authenticate", `Bearer realm="foyer"`)
		writeOAuthError(w, http.StatusUnauthorized, "invalid_token", "send "+what+" as Authorization: Bearer <token>")
		return "", false
	}
	return token, true
}

// tokenRefused answers a refused bearer token with 401 invalid_token,
// and any other error as Foyer's own failure. A refusal is recorded as
// the event typ (when not "") with reason.
func (g *Registration) tokenRefused(w http.ResponseWriter, r *http.Request, err error, typ, reason, clientID string) {
	if !errors.Is(err, client.ErrInvalidInitialToken) && !errors.Is(err, client.ErrInvalidRegistrationToken) {
		g.p.internalError(w, r, err)
		return
	}
	if typ != "" {
		g.refused(r, typ, event.OutcomeDenied, reason, clientID)
	}
	w.Header().Set("WWW-Authenticate", `Bearer realm="foyer", error="invalid_token"`)
	desc := "the registration access token is not this client's"
	if errors.Is(err, client.ErrInvalidInitialToken) {
		desc = "the initial access token is unknown, expired, revoked or used up"
	}
	writeOAuthError(w, http.StatusUnauthorized, "invalid_token", desc)
}

// refuse answers metadata Foyer does not register (RFC 7591, section
// 3.2.2), and records the refusal as the event typ.
func (g *Registration) refuse(w http.ResponseWriter, r *http.Request, typ, clientID string, refusal *regRefusal) {
	g.refused(r, typ, event.OutcomeFailure, refusal.code, clientID)
	writeOAuthError(w, http.StatusBadRequest, refusal.code, refusal.desc)
}

// record records an event of the registration request r.
func (g *Registration) record(r *http.Request, typ, outcome, reason, clientID string) {
	if st := g.p.Storage; st.Events != nil {
		_ = st.Events.Append(r.Context(), g.event(r, typ, outcome, reason, clientID))
	}
}

// refused records a refusal, sampled: refusals cost their sender nothing
// and may come in floods.
func (g *Registration) refused(r *http.Request, typ, outcome, reason, clientID string) {
	if st := g.p.Storage; st.Events != nil {
		_ = st.Events.AppendSampled(r.Context(), g.event(r, typ, outcome, reason, clientID))
	}
}

func (g *Registration) event(r *http.Request, typ, outcome, reason, clientID string) event.Event {
	return event.Event{Domain: g.p.Storage.Domain, Type: typ, Outcome: outcome, Reason: reason, ClientID: clientID,
		IP: g.p.cfg.ClientIP(r), UserAgent: r.UserAgent()}
}

func noStore(w http.ResponseWriter) {
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// regRefusal is an error answer of the registration endpoint: code is
// invalid_redirect_uri or invalid_client_metadata.
type regRefusal struct{ code, desc string }

func badMetadata(format string, args ...any) *regRefusal {
	return &regRefusal{"invalid_client_metadata", fmt.Sprintf(format, args...)}
}

func badRedirect(format string, args ...any) *regRefusal {
	return &regRefusal{"invalid_redirect_uri", fmt.Sprintf(format, args...)}
}

// metadata are the client metadata Foyer knows (RFC 7591, section 2;
// OpenID Connect Dynamic Client Registration 1.0, section 2). Others are
// ignored, as RFC 7591 asks; null is absent.
type metadata struct {
	RedirectURIs             *[]string       `json:"redirect_uris"`
	ClientName               *string         `json:"client_name"`
	TokenEndpointAuthMethod  *string         `json:"token_endpoint_auth_method"`
	GrantTypes               *[]string       `json:"grant_types"`
	ResponseTypes            *[]string       `json:"response_types"`
	Scope                    *string         `json:"scope"`
	ClientURI                *string         `json:"client_uri"`
	LogoURI                  *string         `json:"logo_uri"`
	PolicyURI                *string         `json:"policy_uri"`
	TosURI                   *string         `json:"tos_uri"`
	PostLogoutRedirectURIs   *[]string       `json:"post_logout_redirect_uris"`
	IDTokenSignedResponseAlg *string         `json:"id_token_signed_response_alg"`
	UserinfoSignedAlg        *string         `json:"userinfo_signed_response_alg"`
	Contacts                 *[]string       `json:"contacts"`
	ApplicationType          *string         `json:"application_type"`
	JWKS                     json.RawMessage `json:"jwks"`
	SubjectType              *string         `json:"subject_type"`
	// An update names its client, and may carry its secret (RFC 7592).
	ClientID     *string `json:"client_id"`
	ClientSecret *string `json:"client_secret"`
}

// unsupported are metadata Foyer does not honour and refuses rather than
// ignores, since a client that asks for them counts on them: a key set
// fetched from a URL, encrypted or signed responses, mutual TLS, pushed
// requests required of it. Their empty values (null, "", false) are
// accepted.
var unsupported = map[string]string{
	"jwks_uri":                                   "register the public keys themselves in jwks: Foyer does not fetch key sets",
	"id_token_encrypted_response_alg":            "ID tokens are signed, not encrypted",
	"id_token_encrypted_response_enc":            "ID tokens are signed, not encrypted",
	"userinfo_encrypted_response_alg":            "UserInfo answers plain JSON, not an encrypted JWT",
	"userinfo_encrypted_response_enc":            "UserInfo answers plain JSON, not an encrypted JWT",
	"request_object_encryption_alg":              "request objects are not supported",
	"request_object_encryption_enc":              "request objects are not supported",
	"authorization_signed_response_alg":          "authorization responses are not JWTs (JARM is not supported)",
	"authorization_encrypted_response_alg":       "authorization responses are not JWTs (JARM is not supported)",
	"authorization_encrypted_response_enc":       "authorization responses are not JWTs (JARM is not supported)",
	"tls_client_certificate_bound_access_tokens": "certificate-bound access tokens (mutual TLS) are not supported",
	"require_pushed_authorization_requests":      "Foyer does not require a client to push its authorization requests (it may push them at /oauth/par)",
}

// maxMetadata bounds a registration request's body.
const maxMetadata = 64 << 10

// readMetadata reads a request's client metadata: a JSON object of at
// most maxMetadata bytes whose known fields have the types the
// specifications give them.
func readMetadata(w http.ResponseWriter, r *http.Request) (*metadata, *regRefusal) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		return nil, badMetadata("send the client metadata as a JSON object, with Content-Type: application/json")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxMetadata))
	if err != nil {
		return nil, badMetadata("the request body could not be read (at most %d KiB)", maxMetadata>>10)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(body, &fields); err != nil || fields == nil {
		return nil, badMetadata("the client metadata must be a JSON object")
	}
	var md metadata
	if err := json.Unmarshal(body, &md); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			name, _, _ := strings.Cut(te.Field, ".")
			want := "a string"
			if listFields[name] {
				want = "an array of strings"
			}
			return nil, badMetadata("%s must be %s", name, want)
		}
		return nil, badMetadata("the client metadata must be a JSON object")
	}
	for name, why := range unsupported {
		if v, ok := fields[name]; ok && !emptyJSON(v) {
			return nil, badMetadata("%s: %s", name, why)
		}
	}
	return &md, nil
}

// listFields are the metadata that are arrays of strings.
var listFields = map[string]bool{"redirect_uris": true, "post_logout_redirect_uris": true, "grant_types": true, "response_types": true, "contacts": true}

// emptyJSON reports whether v is null, "" or false.
func emptyJSON(v json.RawMessage) bool {
	switch strings.TrimSpace(string(v)) {
	case "null", `""`, "false":
		return true
	}
	return false
}

// specFor maps metadata onto a client specification as a whole: every
// field the metadata speak for is set, to its default when absent, so
// that an update replaces the registration (RFC 7592, section 2.2).
// current is the client being updated, nil for a registration.
func specFor(md *metadata, current *client.Client) (client.Spec, *regRefusal) {
	var s client.Spec

	appType := orDefault(md.ApplicationType, client.ApplicationWeb)
	if appType != client.ApplicationWeb && appType != client.ApplicationNative {
		return s, badMetadata("application_type must be web or native")
	}
	s.ApplicationType = &appType

	method := orDefault(md.TokenEndpointAuthMethod, client.AuthMethodBasic)
	switch method {
	case client.AuthMethodBasic, client.AuthMethodPost, client.AuthMethodPrivateKeyJWT, client.AuthMethodNone:
	default:
		return s, badMetadata("token_endpoint_auth_method must be one of client_secret_basic, client_secret_post, private_key_jwt, none")
	}
	s.AuthMethod, s.Public = &method, new(method == client.AuthMethodNone)

	grants := []string{client.GrantAuthorizationCode}
	if md.GrantTypes != nil {
		grants = *md.GrantTypes
	}
	for _, gt := range grants {
		switch gt {
		case client.GrantAuthorizationCode, client.GrantRefreshToken:
		case client.GrantClientCredentials:
			return s, badMetadata("grant_types: client_credentials clients act without a customer's consent; the operator registers them (foyer clients create)")
		default:
			return s, badMetadata("grant_types may list authorization_code and refresh_token only (OAuth 2.1: no implicit or password grant)")
		}
	}
	s.GrantTypes = &grants

	responses := []string{string(oidc.ResponseTypeCode)}
	if md.ResponseTypes != nil {
		responses = *md.ResponseTypes
	}
	for _, rt := range responses {
		if rt != string(oidc.ResponseTypeCode) {
			return s, badMetadata("response_types may list code only: Foyer serves the authorization code flow (OAuth 2.1)")
		}
	}
	if slices.Contains(grants, client.GrantAuthorizationCode) != slices.Contains(responses, string(oidc.ResponseTypeCode)) {
		return s, badMetadata("response_types must list code exactly when grant_types lists authorization_code")
	}

	redirects := []string{}
	if md.RedirectURIs != nil {
		redirects = *md.RedirectURIs
	}
	for i, u := range redirects {
		if msg := redirectRule(appType, u); msg != "" {
			return s, badRedirect("redirect_uris[%d]: %s", i, msg)
		}
	}
	s.RedirectURIs = &redirects
	s.PostLogoutRedirectURIs = listOrEmpty(md.PostLogoutRedirectURIs)

	scopes, refusal := registeredScopes(md.Scope, grants, current)
	if refusal != nil {
		return s, refusal
	}
	s.Scopes = &scopes

	name := orDefault(md.ClientName, "")
	if name == "" {
		name = defaultName(redirects)
	}
	s.Name = &name

	alg := orDefault(md.IDTokenSignedResponseAlg, client.AlgRS256)
	switch alg {
	case client.AlgRS256, client.AlgES256, client.AlgEdDSA:
	case "none":
		return s, badMetadata("id_token_signed_response_alg: ID tokens are always signed")
	default:
		return s, badMetadata("id_token_signed_response_alg must be RS256, ES256 or EdDSA")
	}
	s.SigningAlg = &alg
	if ui := orDefault(md.UserinfoSignedAlg, ""); ui != "" {
		switch ui {
		case client.AlgRS256, client.AlgES256, client.AlgEdDSA:
		default:
			return s, badMetadata("userinfo_signed_response_alg must be RS256, ES256 or EdDSA")
		}
		s.UserinfoSigningAlg = &ui
	} else {
		s.UserinfoSigningAlg = new("")
	}

	if subject := orDefault(md.SubjectType, "public"); subject != "public" {
		return s, badMetadata("subject_type must be public: pairwise subject identifiers are not supported")
	}
	for _, u := range []struct {
		dst **string
		v   *string
	}{{&s.ClientURI, md.ClientURI}, {&s.LogoURI, md.LogoURI}, {&s.PolicyURI, md.PolicyURI}, {&s.TosURI, md.TosURI}} {
		*u.dst = new(orDefault(u.v, ""))
	}
	s.Contacts = listOrEmpty(md.Contacts)
	s.JWKS = md.JWKS
	if len(s.JWKS) == 0 || emptyJSON(s.JWKS) {
		s.JWKS = json.RawMessage(`{"keys": []}`)
	}
	return s, nil
}

// registeredScopes returns the scopes of a registration's scope field
// (space-separated): registrableScopes, and on update the scopes the
// client has (an operator may have given it an API's). Absent, the
// defaults new clients get, offline_access only with refresh tokens.
func registeredScopes(scope *string, grants []string, current *client.Client) ([]string, *regRefusal) {
	if scope == nil {
		out := []string{}
		for _, sc := range client.DefaultScopes {
			if sc != oidc.ScopeOfflineAccess || slices.Contains(grants, client.GrantRefreshToken) {
				out = append(out, sc)
			}
		}
		return out, nil
	}
	out := []string{}
	for _, sc := range strings.Fields(*scope) {
		if !slices.Contains(registrableScopes, sc) && (current == nil || !slices.Contains(current.Scopes, sc)) {
			return nil, badMetadata("scope: %q is not offered to clients that register themselves (offered: %s); the operator gives an API's scopes", sc, strings.Join(registrableScopes, " "))
		}
		if !slices.Contains(out, sc) {
			out = append(out, sc)
		}
	}
	return out, nil
}

// redirectRule checks a redirect URI against the client's application
// type (OpenID Connect Dynamic Client Registration 1.0, section 2): a web
// client's are https on a host other than localhost; a native client's
// are a private-use scheme or http on a loopback address. It returns what
// is wrong, or "". Foyer's own rules (no fragment, no wildcard, a
// private-use scheme named after a domain) are client.Spec's.
func redirectRule(appType, raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "is not a URL"
	}
	loopback := u.Hostname() == "localhost" || strings.HasSuffix(u.Hostname(), ".localhost")
	if ip := net.ParseIP(u.Hostname()); ip != nil && ip.IsLoopback() {
		loopback = true
	}
	switch {
	case appType == client.ApplicationWeb && u.Scheme != "https":
		return "a web client's redirect URIs must use https (a native app registers application_type native)"
	case appType == client.ApplicationWeb && loopback:
		return "a web client's redirect URIs must not point at localhost (a native app registers application_type native)"
	case appType == client.ApplicationNative && (u.Scheme == "https" || u.Scheme == "http" && !loopback):
		return "a native client's redirect URIs must use a private-use scheme (com.example.app:/callback) or http on a loopback address (http://127.0.0.1/callback)"
	}
	return ""
}

// defaultName names a client that gave no client_name after where it
// sends customers back to, which the consent page then shows.
func defaultName(redirects []string) string {
	if len(redirects) > 0 {
		if u, err := url.Parse(redirects[0]); err == nil {
			if u.Hostname() != "" {
				return u.Hostname()
			}
			if u.Scheme != "" {
				return u.Scheme
			}
		}
	}
	return "Unnamed app"
}

func orDefault(v *string, def string) string {
	if v == nil {
		return def
	}
	return *v
}

func listOrEmpty(v *[]string) *[]string {
	if v == nil {
		return &[]string{}
	}
	return v
}

// metadataNames are the registration metadata that client.Spec fields
// stand for, in the messages clients read.
var metadataNames = map[string]string{
	"name": "client_name", "auth_method": "token_endpoint_auth_method", "public": "token_endpoint_auth_method",
	"scopes": "scope", "signing_alg": "id_token_signed_response_alg", "userinfo_signing_alg": "userinfo_signed_response_alg",
}

// refusalOf words a client.Spec validation error in metadata terms: a
// problem with a redirect URI is invalid_redirect_uri, any other
// invalid_client_metadata.
func refusalOf(ve *client.ValidationError) *regRefusal {
	field := ve.Field
	base, rest := field, ""
	if i := strings.IndexAny(field, "[."); i >= 0 {
		base, rest = field[:i], field[i:]
	}
	if name, ok := metadataNames[base]; ok {
		field = name + rest
	}
	desc := ve.Message
	if field != "" {
		desc = field + ": " + desc
	}
	if base == "redirect_uris" || base == "post_logout_redirect_uris" {
		return &regRefusal{"invalid_redirect_uri", desc}
	}
	return &regRefusal{"invalid_client_metadata", desc}
}

// clientInfo is the client information response (RFC 7591, section
// 3.2.1; RFC 7592, section 3): the registered metadata, with what Foyer
// issued.
type clientInfo struct {
	ClientID                 string              `json:"client_id"`
	ClientSecret             string              `json:"client_secret,omitempty"`
	ClientIDIssuedAt         int64               `json:"client_id_issued_at"`
	ClientSecretExpiresAt    *int64              `json:"client_secret_expires_at,omitempty"`
	RegistrationAccessToken  string              `json:"registration_access_token,omitempty"`
	RegistrationClientURI    string              `json:"registration_client_uri"`
	ClientName               string              `json:"client_name"`
	ApplicationType          string              `json:"application_type"`
	RedirectURIs             []string            `json:"redirect_uris"`
	PostLogoutRedirectURIs   []string            `json:"post_logout_redirect_uris,omitempty"`
	TokenEndpointAuthMethod  string              `json:"token_endpoint_auth_method"`
	GrantTypes               []string            `json:"grant_types"`
	ResponseTypes            []string            `json:"response_types"`
	Scope                    string              `json:"scope"`
	IDTokenSignedResponseAlg string              `json:"id_token_signed_response_alg"`
	UserinfoSignedAlg        string              `json:"userinfo_signed_response_alg,omitempty"`
	SubjectType              string              `json:"subject_type"`
	Contacts                 []string            `json:"contacts,omitempty"`
	ClientURI                string              `json:"client_uri,omitempty"`
	LogoURI                  string              `json:"logo_uri,omitempty"`
	PolicyURI                string              `json:"policy_uri,omitempty"`
	TosURI                   string              `json:"tos_uri,omitempty"`
	JWKS                     *jose.JSONWebKeySet `json:"jwks,omitempty"`
}

// info describes c as registered.
func (g *Registration) info(c *client.Client) *clientInfo {
	responses := []string{}
	if c.HasGrant(client.GrantAuthorizationCode) {
		responses = append(responses, string(oidc.ResponseTypeCode))
	}
	info := &clientInfo{
		ClientID: c.ID, ClientIDIssuedAt: c.CreatedAt.Unix(), RegistrationClientURI: g.p.cfg.Issuer + pathRegister + "/" + url.PathEscape(c.ID),
		ClientName: c.Name, ApplicationType: c.ApplicationType, RedirectURIs: c.RedirectURIs, PostLogoutRedirectURIs: c.PostLogoutRedirectURIs,
		TokenEndpointAuthMethod: c.AuthMethod, GrantTypes: c.GrantTypes, ResponseTypes: responses, Scope: strings.Join(c.Scopes, " "),
		IDTokenSignedResponseAlg: c.SigningAlg, UserinfoSignedAlg: c.UserinfoSigningAlg, SubjectType: "public", Contacts: c.Contacts,
		ClientURI: c.ClientURI, LogoURI: c.LogoURI, PolicyURI: c.PolicyURI, TosURI: c.TosURI, JWKS: c.JWKS,
	}
	if c.UsesSecret() {
		info.ClientSecretExpiresAt = new(int64(0)) // secrets do not expire
	}
	return info
}
