package oidc

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/foyer-id/foyer/internal/client"
	"github.com/foyer-id/foyer/internal/store"
)

// Pushed authorization requests (RFC 9126). An app posts the parameters
// of its authorization request to pathPAR, authenticated as at the token
// endpoint, and gets a request_uri to send the customer to /authorize
// with (beside its client_id): the parameters never travel through the
// browser, where they could be read or changed, and arrive checked. At
// /authorize the stored parameters take the place of the request's, once
// (intercept): from there the request is like any other.

const (
	pathPAR = "/oauth/par"
	// parURIPrefix begins every request_uri Foyer hands out (RFC 9126,
	// section 2.2).
	parURIPrefix = "urn:ietf:params:oauth:request_uri:"
	// parLifetime is how long a pushed request waits to be used: the
	// customer is sent on at once.
	parLifetime = 60 * time.Second
)

// clientAuthParams are the form fields that authenticate a client: they
// are not the authorization request's, and are not stored.
var clientAuthParams = []string{"client_secret", "client_assertion", "client_assertion_type"}

// pushAuthorization serves POST /oauth/par.
func (p *Provider) pushAuthorization(w http.ResponseWriter, r *http.Request) {
	w = challenging(w, r) // a 401 names the way to authenticate, as at the token endpoint
	w.Header().Set("Cache-Control", "no-store")
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "the request body could not be read")
		return
	}
	if r.URL.RawQuery != "" {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "parameters belong in the request body, not the URL")
		return
	}
	c, err := p.authenticateClient(r)
	if p.refuseClient(w, r, err) {
		return
	}
	if c == nil {
		// A public client names itself, and has nothing to prove.
		c, err = p.Storage.Clients.Get(r.Context(), r.PostForm.Get("client_id"))
		if err != nil || !c.Public || c.Domain != p.Storage.Domain {
			writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "client authentication is required")
			return
		}
	}
	if c.Domain != p.Storage.Domain {
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "unknown client")
		return
	}
	params := url.Values{}
	for k, vs := range r.PostForm {
		if !slices.Contains(clientAuthParams, k) {
			params[k] = vs
		}
	}
	if oerr := checkPushed(c, params); oerr != nil {
		writeOAuthError(w, http.StatusBadRequest, string(oerr.ErrorType), oerr.Description)
		return
	}
	params.Set("client_id", c.ID)
	uri, err := p.Storage.pushRequest(r.Context(), c.ID, params)
	if err != nil {
		p.internalError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{"request_uri": uri, "expires_in": int(parLifetime.Seconds())})
}

// checkPushed checks a pushed request as far as it can be before the
// customer arrives (RFC 9126, section 2.1): the rest is checked at
// /authorize, where the request goes on like any other.
func checkPushed(c *client.Client, params url.Values) *oidc.Error {
	if name := repeatedParam(params); name != "" {
		return oidc.ErrInvalidRequest().WithDescription("the parameter %s is repeated", name)
	}
	if id := params.Get("client_id"); id != "" && id != c.ID {
		return oidc.ErrInvalidRequest().WithDescription("client_id does not match the authenticated client")
	}
	switch {
	case params.Has("request_uri"):
		return oidc.ErrInvalidRequest().WithDescription("a pushed request cannot carry a request_uri")
	case params.Has("request"):
		return oidc.ErrRequestNotSupported().WithDescription("send the request's parameters themselves, not a request object")
	case params.Get("response_type") != string(oidc.ResponseTypeCode):
		return &oidc.Error{ErrorType: "unsupported_response_type", Description: "only response_type=code is supported"}
	case !redirectRegistered(c, params.Get("redirect_uri")):
		return oidc.ErrInvalidRequest().WithDescription("the redirect_uri is not registered for this client")
	case params.Get("code_challenge") == "" && c.Public:
		return oidc.ErrInvalidRequest().WithDescription("PKCE is required: send code_challenge with code_challenge_method=S256")
	case params.Get("code_challenge") != "" && params.Get("code_challenge_method") != string(oidc.CodeChallengeMethodS256):
		return oidc.ErrInvalidRequest().WithDescription("code_challenge_method must be S256")
	case !validMaxAge(params.Get("max_age")):
		return oidc.ErrInvalidRequest().WithDescription("max_age must be a number of seconds")
	}
	switch oidc.ResponseMode(params.Get("response_mode")) {
	case "", oidc.ResponseModeQuery, oidc.ResponseModeFormPost:
	default:
		return oidc.ErrInvalidRequest().WithDescription("response_mode must be query or form_post")
	}
	if raw := params.Get(paramDetails); raw != "" {
		if _, oerr := parseDetails(raw, c.AuthorizationDetailsTypes); oerr != nil {
			return oerr
		}
	}
	return nil
}

// redirectRegistered reports whether uri is one of c's redirect URIs, or
// a loopback one a public client's registered one allows (RFC 8252: the
// port may differ).
func redirectRegistered(c *client.Client, uri string) bool {
	u, loopback := op.HTTPLoopbackOrLocalhost(uri)
	if !loopback {
		u = nil
	}
	return uri != "" && matchesRegistered(c, c.RedirectURIs, u, uri)
}

// pushRequest stores the parameters of a pushed request and returns its
// request_uri, whose hash is the row's id.
func (s *Storage) pushRequest(ctx context.Context, clientID string, params url.Values) (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	uri := parURIPrefix + base64.RawURLEncoding.EncodeToString(b)
	raw, err := json.Marshal(params)
	if err != nil {
		return "", err
	}
	now := s.Now()
	_, err = s.DB.Exec(ctx, `INSERT INTO oauth_pushed_requests (id, domain, client_id, params, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		parID(uri), s.Domain, clientID, string(raw), store.Micros(now), store.Micros(now.Add(parLifetime)))
	if err != nil {
		return "", fmt.Errorf("oidc: store pushed request: %w", err)
	}
	return uri, nil
}

func parID(uri string) string {
	sum := sha256.Sum256([]byte(uri))
	return hex.EncodeToString(sum[:])
}

// errPushedGone is usePushed's answer for a request_uri that is unknown,
// used already, expired, or another client's.
var errPushedGone = errors.New("oidc: the pushed request is unknown, used or expired")

// usePushed takes, once, the parameters of the pushed request uri of
// clientID.
func (s *Storage) usePushed(ctx context.Context, uri, clientID string) (url.Values, error) {
	var raw, owner string
	err := s.DB.WriteRow(ctx, `UPDATE oauth_pushed_requests SET used_at = $1
		WHERE id = $2 AND domain = $3 AND used_at IS NULL AND expires_at > $1
		RETURNING params, client_id`, store.Micros(s.Now()), parID(uri), s.Domain).Scan(&raw, &owner)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errPushedGone
	}
	if err != nil {
		return nil, fmt.Errorf("oidc: use pushed request: %w", err)
	}
	if owner != clientID {
		return nil, errPushedGone
	}
	var params url.Values
	if err := json.Unmarshal([]byte(raw), &params); err != nil {
		return nil, fmt.Errorf("oidc: pushed request: %w", err)
	}
	return params, nil
}

// pushedInto replaces the parameters of an authorization request that
// names a pushed request (request_uri) with the pushed ones, and reports
// whether the request may go on; when it may not, it has answered: a
// page, since where to answer the app is among the parameters that are
// not known (RFC 9126, section 4).
func (p *Provider) pushedInto(w http.ResponseWriter, r *http.Request) bool {
	uri := r.FormValue("request_uri")
	if !strings.HasPrefix(uri, parURIPrefix) {
		return true // not one of Foyer's: refused as a request by reference
	}
	params, err := p.Storage.usePushed(r.Context(), uri, r.FormValue("client_id"))
	switch {
	case errors.Is(err, errPushedGone):
		refusePage(w, "This sign-in link has expired or was used already. Go back to the application and try again.")
		return false
	case err != nil:
		p.internalError(w, r, err)
		return false
	}
	r.Form, r.PostForm = params, url.Values{}
	r.URL.RawQuery = params.Encode()
	return true
}

// prunePushed deletes the pushed requests past their use.
func (s *Storage) prunePushed(ctx context.Context) error {
	_, err := s.DB.DeleteInBatches(ctx, `DELETE FROM oauth_pushed_requests WHERE id IN
		(SELECT id FROM oauth_pushed_requests WHERE expires_at < $2 LIMIT $1)`, store.Micros(s.Now()))
	return err
}
