package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/foyer-id/foyer/internal/client"
)

// Foyer answers introspection (RFC 7662) and UserInfo (OpenID Connect Core,
// section 5.3) itself rather than through the library, whose handlers
// differ from the standards where clients notice: introspection took
// client_secret_basic but not client_secret_post, answered a failed client
// authentication in plain text, and called every refresh token inactive;
// UserInfo answered a revoked or expired token with 403 instead of RFC 6750's
// 401 invalid_token. The tokens themselves are still read the library's way
// (its Crypto for opaque tokens, its verifier for JWTs).

// introspect serves the introspection endpoint: the client authenticates,
// and learns about the tokens issued to it; any other token is inactive.
func (p *Provider) introspect(w http.ResponseWriter, r *http.Request) {
	c, err := p.authenticateClient(r)
	if p.refuseClient(w, r, err) {
		return
	}
	if c == nil { // public clients cannot introspect (RFC 7662, section 2.1)
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "client authentication is required")
		return
	}
	ctx := r.Context()
	resp := &oidc.IntrospectionResponse{}
	raw := r.PostForm.Get("token")
	if strings.HasPrefix(raw, RefreshTokenPrefix) {
		// A refresh token is active until it is used (rotated), revoked
		// or expired.
		t, err := p.Storage.tokens.byRefresh(ctx, raw)
		if err == nil && p.Storage.tokens.active(t) && t.UsedAt.IsZero() && t.ClientID == c.ID {
			describeToken(resp, t)
		}
	} else {
		t, err := p.liveAccessToken(ctx, raw)
		if err != nil {
			// Not "inactive": the resource server would end a live
			// customer's session over an outage.
			p.internalError(w, r, err)
			return
		}
		if t != nil && t.ClientID == c.ID {
			describeToken(resp, t)
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

// describeToken fills an introspection response for an active token;
// token_type names access tokens' type only (RFC 7662, section 2.2).
func describeToken(resp *oidc.IntrospectionResponse, t *token) {
	resp.Active = true
	if t.Kind == kindAccess {
		resp.TokenType = oidc.BearerToken
	}
	resp.Scope = t.Scopes
	resp.ClientID = t.ClientID
	resp.Subject = t.Subject
	resp.Audience = t.Audience
	resp.Expiration = oidc.FromTime(t.ExpiresAt)
	resp.IssuedAt = oidc.FromTime(t.CreatedAt)
	if t.SessionID != "" {
		resp.Claims = map[string]any{"auth_time": t.AuthTime.Unix(), "acr": t.ACR}
	}
	if t.Details != nil { // RFC 9396, section 9.2
		if resp.Claims == nil {
			resp.Claims = map[string]any{}
		}
		resp.Claims["authorization_details"] = t.Details
	}
}

// authenticateClient authenticates the client of a request by exactly one
// of client_secret_basic, client_secret_post and private_key_jwt. A
// request that carries none of them gets nil and no error; so does an
// empty secret, which some libraries send for public clients.
func (p *Provider) authenticateClient(r *http.Request) (*client.Client, error) {
	id, secret, basic := r.BasicAuth()
	basic = basic && secret != ""
	assertion := r.PostForm.Get("client_assertion")
	if n := clientAuthMethods(r); n > 1 {
		return nil, errManyMethods
	} else if n == 0 {
		return nil, nil
	}
	ctx := r.Context()
	switch {
	case assertion != "":
		if r.PostForm.Get("client_assertion_type") != oidc.ClientAssertionTypeJWTAssertion {
			return nil, errors.New("client_assertion_type must be " + oidc.ClientAssertionTypeJWTAssertion)
		}
		c, _, err := p.verifyAssertion(ctx, assertion)
		if err == nil && r.PostForm.Has("client_id") && r.PostForm.Get("client_id") != c.ID {
			return nil, errors.New("client_id does not match the client assertion")
		}
		return c, err
	case basic:
		// RFC 6749, section 2.3.1: both are form-encoded first.
		var err1, err2 error
		id, err1 = url.QueryUnescape(id)
		secret, err2 = url.QueryUnescape(secret)
		if err1 != nil || err2 != nil {
			return nil, errors.New("the Basic credentials are not form-encoded")
		}
	default:
		id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	}
	c, err := p.Storage.Clients.VerifySecret(ctx, id, secret)
	if errors.Is(err, client.ErrInvalidCredentials) {
		return nil, errors.New("client authentication failed")
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errInternal, err)
	}
	return c, nil
}

// refuseClient answers a failed client authentication (authenticateClient's
// error, if any) and reports whether it did: several methods at once are
// an invalid request, a failure of Foyer's own a server error (logged,
// never described to the client), anything else an invalid client.
func (p *Provider) refuseClient(w http.ResponseWriter, r *http.Request, err error) bool {
	switch {
	case errors.Is(err, errManyMethods):
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", err.Error())
	case errors.Is(err, errInternal):
		p.internalError(w, r, err)
	case err != nil:
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", err.Error())
	default:
		return false
	}
	return true
}

// errManyMethods refuses a request that authenticates its client in more
// than one way (RFC 6749, section 2.3).
var errManyMethods = errors.New("use one client authentication method, not several")

// errInternal marks a failure of Foyer's own (the database) while
// authenticating a client: the client gets server_error and no more.
var errInternal = errors.New("oidc: internal error")

// internalError logs err and answers server_error, without a description:
// what went wrong inside is for the log alone.
func (p *Provider) internalError(w http.ResponseWriter, r *http.Request, err error) {
	p.Storage.logInternal(r.Context(), r.URL.Path, err)
	writeOAuthError(w, http.StatusInternalServerError, "server_error", "")
}

// clientAuthMethods counts the ways a request authenticates its client:
// client_secret_basic (an empty secret, which some libraries send for
// public clients, does not count), client_secret_post and
// private_key_jwt. The request's form must have been parsed.
func clientAuthMethods(r *http.Request) int {
	_, secret, basic := r.BasicAuth()
	return btoi(basic && secret != "") + btoi(r.PostForm.Get("client_assertion") != "") + btoi(r.PostForm.Get("client_secret") != "")
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// userinfo serves the UserInfo endpoint. A missing, unknown, expired or
// revoked access token gets 401 with a Bearer challenge (RFC 6750,
// section 3.1); a live token that does not speak for a person signed in
// with OpenID Connect (a machine client's token, a token without the
// openid scope) gets 403 insufficient_scope.
func (p *Provider) userinfo(w http.ResponseWriter, r *http.Request) {
	raw, err := bearerToken(w, r)
	if err != nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="foyer", error="invalid_request"`)
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", err.Error())
		return
	}
	if raw == "" {
		// No token: a challenge without an error code (RFC 6750, section 3.1).
		w.Header().Set("WWW-Authenticate", `Bearer realm="foyer"`)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	ctx := r.Context()
	t, err := p.liveAccessToken(ctx, raw)
	if err != nil {
		p.internalError(w, r, err)
		return
	}
	if t == nil {
		w.Header().Set("WWW-Authenticate", `Bearer realm="foyer", error="invalid_token"`)
		writeOAuthError(w, http.StatusUnauthorized, "invalid_token", "the access token is not active")
		return
	}
	if t.SessionID == "" || !slices.Contains(t.Scopes, oidc.ScopeOpenID) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="foyer", error="insufficient_scope", scope="openid"`)
		writeOAuthError(w, http.StatusForbidden, "insufficient_scope", "the access token was not issued to sign a person in with OpenID Connect")
		return
	}
	info := &oidc.UserInfo{}
	if err := p.Storage.fillUserinfo(ctx, info, t.Subject, t.Scopes, t.Claims.forUserInfo()); err != nil {
		if !errors.Is(err, errSubjectGone) {
			p.internalError(w, r, err)
			return
		}
		w.Header().Set("WWW-Authenticate", `Bearer realm="foyer", error="invalid_token"`)
		writeOAuthError(w, http.StatusUnauthorized, "invalid_token", "the access token's subject is gone")
		return
	}
	c, err := p.Storage.clientOf(ctx, t.ClientID)
	if err != nil {
		p.internalError(w, r, err)
		return
	}
	if c.UserinfoSigningAlg == "" {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(info)
		return
	}
	signed, err := p.Storage.signUserinfo(ctx, p.cfg.Issuer, c, info)
	if err != nil {
		p.internalError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/jwt")
	_, _ = io.WriteString(w, signed)
}

// signUserinfo returns UserInfo's claims as a JWT signed for client c with
// its userinfo_signed_response_alg (OpenID Connect Core, section 5.3.2),
// with the issuer and the client as its audience.
func (s *Storage) signUserinfo(ctx context.Context, issuer string, c *client.Client, info *oidc.UserInfo) (string, error) {
	k, err := s.Keys.Signer(ctx, c.UserinfoSigningAlg)
	if err != nil {
		return "", err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.SignatureAlgorithm(), Key: jose.JSONWebKey{Key: k.Key(), KeyID: k.ID()}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", err
	}
	raw, err := json.Marshal(info)
	if err != nil {
		return "", err
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		return "", err
	}
	claims["iss"], claims["aud"] = issuer, c.ID
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// bearerToken returns the access token of a UserInfo request: from the
// Authorization header, or a POST's form body (RFC 6750, sections 2.1 and
// 2.2); "" if there is none. A token in the URL is refused: it ends up in
// logs and histories (RFC 6750, section 2.3; RFC 9700). So is one sent
// both ways.
func bearerToken(w http.ResponseWriter, r *http.Request) (string, error) {
	if r.URL.Query().Has("access_token") {
		return "", errors.New("send the access token as Authorization: Bearer <token>, not in the URL")
	}
	var header string
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, token, _ := strings.Cut(h, " ")
		if strings.EqualFold(scheme, "Bearer") {
			header = strings.TrimSpace(token)
		}
	}
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") == "" {
		return header, nil
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		return "", errors.New("the request body could not be read")
	}
	if !r.PostForm.Has("access_token") {
		return header, nil
	}
	if r.Header.Get("Authorization") != "" {
		return "", errors.New("send the access token one way only")
	}
	return r.PostForm.Get("access_token"), nil
}

// liveAccessToken reads an access token back from its string and returns
// it if it is live, nil if not (Storage.liveAccess).
func (p *Provider) liveAccessToken(ctx context.Context, raw string) (*token, error) {
	id, subject, ok, err := p.accessTokenRef(ctx, raw)
	if !ok || err != nil {
		return nil, err
	}
	return p.Storage.liveAccess(ctx, id, subject)
}

// accessTokenRef reads an access token as the library issued it: an
// opaque token decrypts to "tokenID:subject"; a JWT must carry a valid
// signature by one of the provider's keys. An error says the keys could
// not be read (an outage), not that the token is no token.
func (p *Provider) accessTokenRef(ctx context.Context, raw string) (id, subject string, ok bool, err error) {
	if raw == "" {
		return "", "", false, nil
	}
	if plain, err := p.OP.Crypto().Decrypt(raw); err == nil {
		id, subject, ok = strings.Cut(plain, ":")
		return id, subject, ok && !strings.Contains(subject, ":"), nil
	}
	claims, err := op.VerifyAccessToken[*oidc.AccessTokenClaims](ctx, raw, p.OP.AccessTokenVerifier(ctx))
	if err != nil {
		// The library does not say why; a key set that cannot be read
		// (cached for moments, so this costs a bad token nothing more
		// when the database is up) is why as far as the client is
		// concerned.
		if _, kerr := p.Storage.Keys.PublicKeys(ctx); kerr != nil {
			return "", "", false, kerr
		}
		return "", "", false, nil
	}
	return claims.JWTID, claims.Subject, true, nil
}
