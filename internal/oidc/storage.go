package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/foyer-id/foyer/internal/decision"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/foyer-id/foyer/internal/client"
	"github.com/foyer-id/foyer/internal/event"
	"github.com/foyer-id/foyer/internal/identity"
	"github.com/foyer-id/foyer/internal/keys"
	"github.com/foyer-id/foyer/internal/policy"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/throttle"
)

// Storage implements op.Storage (and the optional client-credentials,
// userinfo and logout interfaces) on Foyer's database.
type Storage struct {
	DB         *store.DB
	Domain     string
	Clients    *client.Registry
	Keys       *keys.Manager
	Identities *identity.Store
	Events     *event.Log
	// Point is where the provider's decisions are made (the journeys
	// share it); nil allows every token. Each decision is recorded with
	// the step it let happen.
	Point     *decision.Point
	Decisions *decision.Log
	// Factors tells whether a customer can step up to aal2 (an
	// authenticator app or a passkey); nil when the domain offers none.
	Factors interface {
		CanStepUp(ctx context.Context, identityID string) (bool, error)
	}
	Logger *slog.Logger
	Now    func() time.Time
	// LogoutURL is where end_session sends the browser to end the Foyer
	// session (the hosted logout confirmation).
	LogoutURL string
	// EndOfflineGrants ends offline grants (tokens with the scope
	// offline_access) with the session they were issued in, as every
	// other token ends; by default they outlive it, which is what
	// offline_access asks for.
	EndOfflineGrants bool
	// Throttle, when set, counts the authorization requests each network
	// starts under AuthorizeRule: each is a stored row.
	Throttle      *throttle.Limiter
	AuthorizeRule throttle.Rule

	requests      *authRequests
	tokens        *tokens
	machineEvents machineEvents
	logoutKey     []byte // MACs the logout handed to the logout page: redirect, client_id and sub
	// signedAccess holds JWT access tokens just signed, by token id, until
	// the library turns the id into the token string (access_jwt.go).
	signedAccess sync.Map
}

// init prepares the internal stores.
func (s *Storage) init() {
	s.requests = &authRequests{db: s.DB, now: s.Now}
	s.tokens = &tokens{db: s.DB, now: s.Now, endOffline: s.EndOfflineGrants}
}

// Lifetimes fixed by the protocol.
const (
	authRequestLifetime = 30 * time.Minute
	codeLifetime        = 60 * time.Second
)

// DefaultSigningAlg signs tokens for clients that choose nothing: RS256,
// as OpenID Connect Registration has it.
const DefaultSigningAlg = "RS256"

var (
	_ op.Storage                        = (*Storage)(nil)
	_ op.ClientCredentialsStorage       = (*Storage)(nil)
	_ op.CanSetUserinfoFromRequest      = (*Storage)(nil)
	_ op.CanTerminateSessionFromRequest = (*Storage)(nil)
)

// ---- authorization requests and codes ----

// CreateAuthRequest validates what the library leaves open — PKCE method
// and presence, allowed scopes, the browser binding — and stores the
// request.
func (s *Storage) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	rs := stateFrom(ctx)
	if rs == nil || rs.binding == "" {
		return nil, oidc.ErrServerError().WithDescription("authorization requests must come from a browser")
	}
	c, err := s.Clients.Get(ctx, req.ClientID)
	if err != nil {
		return nil, oidc.ErrInvalidClient().WithDescription("unknown client")
	}
	if req.ResponseType != oidc.ResponseTypeCode {
		return nil, &oidc.Error{ErrorType: "unsupported_response_type", Description: "only response_type=code is supported"}
	}
	switch req.ResponseMode {
	case "", oidc.ResponseModeQuery, oidc.ResponseModeFormPost:
	default:
		return nil, oidc.ErrInvalidRequest().WithDescription("response_mode must be query or form_post")
	}
	if rs.byRef {
		return nil, &oidc.Error{ErrorType: "request_uri_not_supported", Description: "send the request's parameters themselves, not a request_uri"}
	}
	switch {
	case req.CodeChallenge == "" && c.Public:
		return nil, oidc.ErrInvalidRequest().WithDescription("PKCE is required: send code_challenge with code_challenge_method=S256")
	case req.CodeChallenge != "" && req.CodeChallengeMethod != oidc.CodeChallengeMethodS256:
		return nil, oidc.ErrInvalidRequest().WithDescription("code_challenge_method must be S256")
	}
	scopes := make([]string, 0, len(req.Scopes))
	for _, sc := range req.Scopes {
		if slices.Contains(c.Scopes, sc) || sc == oidc.ScopeOpenID {
			scopes = append(scopes, sc)
		}
	}
	if !slices.Contains(scopes, oidc.ScopeOpenID) {
		return nil, oidc.ErrInvalidScope().WithDescription("the openid scope is required")
	}
	req.Scopes = scopes
	var details json.RawMessage
	if rs.details != "" {
		var oerr *oidc.Error
		if details, oerr = parseDetails(rs.details, c.AuthorizationDetailsTypes); oerr != nil {
			return nil, oerr
		}
	}
	claims, oerr := parseClaimsRequest(rs.claims)
	if oerr != nil {
		return nil, oerr
	}
	if s.Throttle != nil {
		st, err := s.Throttle.Reserve(ctx, s.AuthorizeRule, throttle.NetworkKey("authorize", rs.ip))
		if err != nil {
			return nil, s.internal(ctx, "count an authorization request", err)
		}
		if !st[0].Taken {
			return nil, &oidc.Error{ErrorType: "temporarily_unavailable", Description: "too many sign-ins were started from this network; try again shortly"}
		}
	}
	now := s.Now()
	a := &AuthRequest{Domain: s.Domain, Request: *req, BrowserHash: rs.binding, Details: details, Claims: claims, CreatedAt: now, ExpiresAt: now.Add(authRequestLifetime)}
	if err := s.requests.create(ctx, a); err != nil {
		return nil, s.internal(ctx, "create auth request", err)
	}
	return a, nil
}

// AuthRequestByID returns a live request.
func (s *Storage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	a, err := s.requests.get(ctx, id)
	if err != nil {
		return nil, oidc.ErrInvalidRequest().WithDescription("unknown or expired authorization request")
	}
	return a, nil
}

// AuthRequestByCode looks a code up for an exchange; the tokens' commit
// uses it up (codeUsed). A code presented after its use revokes the tokens
// it produced.
func (s *Storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	a, reusedID, err := s.requests.byCode(ctx, code)
	if errors.Is(err, ErrCodeReused) {
		return nil, s.codeReused(ctx, reusedID)
	}
	if err != nil {
		return nil, oidc.ErrInvalidGrant().WithDescription("unknown or expired authorization code")
	}
	if rs := stateFrom(ctx); rs != nil && rs.verifier && a.Request.CodeChallenge == "" {
		// PKCE downgrade: a verifier for a request that had no challenge.
		return nil, oidc.ErrInvalidGrant().WithDescription("code_verifier sent but the authorization request had no code_challenge")
	}
	return a, nil
}

// codeReused revokes the tokens issued for an authorization request whose
// code was presented again (RFC 6749, section 4.1.2), and answers the
// exchange.
func (s *Storage) codeReused(ctx context.Context, authRequestID string) *oidc.Error {
	_ = s.tokens.revokeAuthRequest(ctx, authRequestID)
	s.emit(ctx, "oauth.code_reused", event.OutcomeDenied, "code_reused", "", "")
	return oidc.ErrInvalidGrant().WithDescription("the authorization code was already used")
}

// codeUsed, run in the transaction that stores a code exchange's tokens,
// uses the code up: of parallel exchanges one commits, and the others
// are reuse.
func (s *Storage) codeUsed(ctx context.Context, tx *store.Tx, req op.TokenRequest) error {
	if a, ok := req.(*AuthRequest); ok {
		return s.requests.consume(ctx, tx, a.ID)
	}
	return nil
}

// tokensFailed answers a failed commit of tokens: a code that another
// exchange used first is reuse; anything else is Foyer's failure.
func (s *Storage) tokensFailed(ctx context.Context, req op.TokenRequest, err error) error {
	if a, ok := req.(*AuthRequest); ok && errors.Is(err, ErrCodeReused) {
		return s.codeReused(ctx, a.ID)
	}
	return s.internal(ctx, "store tokens", err)
}

// SaveAuthCode attaches the (only) code to a completed request.
func (s *Storage) SaveAuthCode(ctx context.Context, id, code string) error {
	return s.requests.saveCode(ctx, id, code, codeLifetime)
}

// DeleteAuthRequest keeps the request: its used code must stay known to
// detect a replay. Expired requests are pruned.
func (s *Storage) DeleteAuthRequest(context.Context, string) error { return nil }

// ---- tokens ----

// clientOf returns a client, reading it once per request: the library asks
// for the same client several times while serving one token request.
func (s *Storage) clientOf(ctx context.Context, id string) (*client.Client, error) {
	rs := stateFrom(ctx)
	if rs != nil && rs.client != nil && rs.client.ID == id {
		return rs.client, nil
	}
	c, err := s.Clients.Get(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("oidc: client %s: %w", id, err)
	}
	if rs != nil {
		rs.client = c
	}
	return c, nil
}

// newAccess builds the access token row for a request.
func (s *Storage) newAccess(ctx context.Context, req op.TokenRequest) (*token, *client.Client, error) {
	now := s.Now()
	t := &token{Kind: kindAccess, Domain: s.Domain, Subject: req.GetSubject(), Scopes: req.GetScopes(), Audience: req.GetAudience(), CreatedAt: now}
	var clientID string
	switch r := req.(type) {
	case *AuthRequest:
		clientID = r.GetClientID()
		t.AuthRequestID, t.SessionID, t.AMR, t.ACR, t.AuthTime, t.Details, t.Claims = r.ID, r.SessionID, r.AMR, r.ACR, r.AuthTime, r.Details, r.Claims
	case *refreshRequest:
		clientID = r.t.ClientID
		t.SessionID, t.AMR, t.ACR, t.AuthTime, t.Details, t.Claims = r.t.SessionID, r.t.AMR, r.t.ACR, r.t.AuthTime, r.t.Details, r.t.Claims
	case *clientCredentialsRequest:
		clientID = r.clientID
	default:
		return nil, nil, oidc.ErrUnsupportedGrantType()
	}
	c, err := s.clientOf(ctx, clientID)
	if err != nil {
		return nil, nil, s.internal(ctx, "token's client", err)
	}
	if s.Point != nil {
		in := policy.Input{Action: policy.TokenIssue, Time: now, ClientID: clientID, SessionID: t.SessionID}
		if t.SessionID != "" {
			in.IdentityID = t.Subject
		}
		if rs := stateFrom(ctx); rs != nil {
			in.ClientIP, in.UserAgent = rs.ip, rs.userAgent
		}
		d, rec := s.Point.Decide(ctx, in)
		if !d.Allowed() {
			s.emit(ctx, "oauth.token_denied", event.OutcomeDenied, d.Reason, in.IdentityID, clientID, rec)
			return nil, nil, oidc.ErrAccessDenied().WithDescription("not allowed by policy")
		}
		t.decided = &rec
	}
	t.ClientID = clientID
	if rs := stateFrom(ctx); rs != nil {
		rs.granted = t.Details // for the token response (grantWriter)
	}
	t.ExpiresAt = now.Add(c.AccessTokenTTL.D())
	t.FamilyExpiresAt = t.ExpiresAt
	if t.SessionID != "" {
		// A person's tokens form a family (refresh rotation, reuse
		// detection); a machine's token stands alone.
		t.FamilyID = newFamilyID()
	}
	return t, c, nil
}

// CreateAccessToken stores an access token (authorization code without
// refresh, client credentials).
func (s *Storage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	t, c, err := s.newAccess(ctx, req)
	if err != nil {
		return "", time.Time{}, err
	}
	switch req.(type) {
	case *clientCredentialsRequest:
		e := s.event(ctx, "oauth.client_credentials", event.OutcomeSuccess, "", "", t.ClientID)
		if s.Events == nil || !s.machineEvents.take(e, t.CreatedAt) {
			// A machine's tokens can be thousands a second: like their
			// event, their decision is recorded once a window per client.
			t.decided = nil
			err = insertToken(ctx, batched{s.DB}, t, "")
			break
		}
		// A machine token and its event in one commit.
		err = s.DB.InTxBatched(ctx, func(tx *store.Tx) error {
			if err := insertToken(ctx, tx, t, ""); err != nil {
				return err
			}
			return s.Events.AppendTx(ctx, tx, e)
		})
		if err != nil {
			s.machineEvents.giveBack(e, t.CreatedAt)
		}
	case *AuthRequest:
		// The token and the use of its code in one commit.
		err = s.DB.InTxBatched(ctx, func(tx *store.Tx) error {
			if err := s.codeUsed(ctx, tx, req); err != nil {
				return err
			}
			return insertToken(ctx, tx, t, "")
		})
	default:
		err = insertToken(ctx, batched{s.DB}, t, "")
	}
	if err != nil {
		return "", time.Time{}, s.tokensFailed(ctx, req, err)
	}
	if err := s.issueAccessJWT(ctx, c, t); err != nil {
		return "", time.Time{}, s.internal(ctx, "sign access token", err)
	}
	return t.ID, t.ExpiresAt, nil
}

// CreateAccessAndRefreshTokens issues an access token and a refresh token:
// a new family for an authorization code, a rotation for a refresh.
func (s *Storage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, current string) (string, string, time.Time, error) {
	access, c, err := s.newAccess(ctx, req)
	if err != nil {
		return "", "", time.Time{}, err
	}
	refresh := *access
	refresh.ID, refresh.Kind, refresh.decided = "", kindRefresh, nil // the decision goes with the access token
	if current == "" {
		raw := newRefreshValue()
		refresh.FamilyExpiresAt = access.CreatedAt.Add(c.RefreshTokenTTL.D())
		refresh.ExpiresAt = refresh.FamilyExpiresAt
		access.FamilyExpiresAt = refresh.FamilyExpiresAt
		err := s.DB.InTxBatched(ctx, func(tx *store.Tx) error {
			if err := s.codeUsed(ctx, tx, req); err != nil {
				return err
			}
			if err := insertToken(ctx, tx, access, ""); err != nil {
				return err
			}
			return insertToken(ctx, tx, &refresh, raw)
		})
		if err != nil {
			return "", "", time.Time{}, s.tokensFailed(ctx, req, err)
		}
		if err := s.issueAccessJWT(ctx, c, access); err != nil {
			return "", "", time.Time{}, s.internal(ctx, "sign access token", err)
		}
		return access.ID, raw, access.ExpiresAt, nil
	}
	raw := s.tokens.successorValue(current)
	if err := s.tokens.rotate(ctx, current, access, &refresh, raw); err != nil {
		switch {
		case errors.Is(err, errRefreshReused):
			s.emit(ctx, "oauth.refresh_reused", event.OutcomeDenied, "refresh_token_reused", access.Subject, access.ClientID)
		case !errors.Is(err, store.ErrNotFound):
			// Not the token's fault: the client must keep it and retry.
			return "", "", time.Time{}, s.internal(ctx, "rotate refresh token", err)
		}
		return "", "", time.Time{}, oidc.ErrInvalidGrant().WithDescription("invalid refresh token")
	}
	if err := s.issueAccessJWT(ctx, c, access); err != nil {
		return "", "", time.Time{}, s.internal(ctx, "sign access token", err)
	}
	return access.ID, raw, access.ExpiresAt, nil
}

// TokenRequestByRefreshToken looks a refresh token up. Presenting a token
// that was rotated outside the grace period, or revoked, revokes its
// family.
func (s *Storage) TokenRequestByRefreshToken(ctx context.Context, raw string) (op.RefreshTokenRequest, error) {
	refused := func(why string) (op.RefreshTokenRequest, error) {
		if rs := stateFrom(ctx); rs != nil {
			rs.refused = why
		}
		return nil, op.ErrInvalidRefreshToken
	}
	t, err := s.tokens.byRefresh(ctx, raw)
	if errors.Is(err, store.ErrNotFound) {
		return refused("the refresh token is not known")
	}
	if err != nil {
		return nil, s.internal(ctx, "read refresh token", err)
	}
	now := s.Now()
	reused := !t.RevokedAt.IsZero() || (!t.UsedAt.IsZero() && now.Sub(t.UsedAt) > refreshGrace)
	if reused {
		_ = s.tokens.revokeFamily(ctx, t.FamilyID)
		s.emit(ctx, "oauth.refresh_reused", event.OutcomeDenied, "refresh_token_reused", t.Subject, t.ClientID)
		return refused("the refresh token was used already or revoked; the tokens issued with it are revoked too")
	}
	if !now.Before(t.ExpiresAt) {
		return refused("the refresh token has expired")
	}
	if s.tokens.sessionEnded(t, now) {
		return refused("the sign-in the refresh token came from has ended")
	}
	return &refreshRequest{t: t}, nil
}

// FollowSession moves the tokens issued in session from to session to,
// which replaces it for the same customer (a step-up, or signing in again
// in the same browser): they end with the session that carries on.
func (s *Storage) FollowSession(ctx context.Context, db store.Execer, from, to, identityID string) error {
	if _, err := db.Exec(ctx, `UPDATE oauth_tokens SET session_id = $1 WHERE subject = $2 AND session_id = $3`, to, identityID, from); err != nil {
		return fmt.Errorf("oidc: tokens follow session: %w", err)
	}
	return nil
}

// TerminateSession revokes the tokens of a subject at a client.
func (s *Storage) TerminateSession(ctx context.Context, userID, clientID string) error {
	return s.tokens.revokeSubjectClient(ctx, userID, clientID)
}

// RevokeToken revokes an access token (by id) or a refresh token (by
// value, with its whole family). Tokens of other clients are left alone,
// as RFC 7009 asks.
func (s *Storage) RevokeToken(ctx context.Context, tokenOrID, _ string, clientID string) *oidc.Error {
	var t *token
	var err error
	if strings.HasPrefix(tokenOrID, RefreshTokenPrefix) {
		t, err = s.tokens.byRefresh(ctx, tokenOrID)
	} else {
		t, err = s.tokens.byID(ctx, tokenOrID)
	}
	if err != nil || t.ClientID != clientID {
		return nil // unknown tokens are fine (RFC 7009 §2.2)
	}
	if t.Kind == kindRefresh {
		err = s.tokens.revokeFamily(ctx, t.FamilyID)
	} else {
		err = s.tokens.revoke(ctx, t.ID)
	}
	if err != nil {
		return oidc.ErrServerError()
	}
	return nil
}

// GetRefreshTokenInfo resolves a refresh token for revocation.
func (s *Storage) GetRefreshTokenInfo(ctx context.Context, clientID, raw string) (string, string, error) {
	if !strings.HasPrefix(raw, RefreshTokenPrefix) {
		return "", "", op.ErrInvalidRefreshToken
	}
	t, err := s.tokens.byRefresh(ctx, raw)
	if err != nil || t.ClientID != clientID {
		return "", "", op.ErrInvalidRefreshToken
	}
	return t.Subject, raw, nil
}

// ---- keys ----

// SigningKey returns the active key for the algorithm of the client the
// request is about (RS256 unless the client chose ES256 or EdDSA).
func (s *Storage) SigningKey(ctx context.Context) (op.SigningKey, error) {
	alg := DefaultSigningAlg
	if rs := stateFrom(ctx); rs != nil && rs.alg != "" {
		alg = rs.alg
	}
	k, err := s.Keys.Signer(ctx, alg)
	if err != nil {
		return nil, s.internal(ctx, "signing key", err)
	}
	return k, nil
}

// SignatureAlgorithms lists the algorithms in use.
func (s *Storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.EdDSA}, nil
}

// KeySet returns the published keys (pending, active and recently retired).
func (s *Storage) KeySet(ctx context.Context) ([]op.Key, error) {
	ks, err := s.Keys.PublicKeys(ctx)
	if err != nil {
		return nil, s.internal(ctx, "key set", err)
	}
	out := make([]op.Key, 0, len(ks))
	for _, k := range ks {
		out = append(out, k)
	}
	return out, nil
}

// ---- clients ----

// GetClientByClientID returns the client, and remembers its signing
// algorithm for the tokens of this request.
func (s *Storage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.clientOf(ctx, id)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, errors.New("unknown client")
		}
		return nil, s.internal(ctx, "client", err)
	}
	if rs := stateFrom(ctx); rs != nil {
		rs.alg = c.SigningAlg
	}
	return &opClient{c: c}, nil
}

// AuthorizeClientIDSecret checks a client secret (constant time, keyed hash).
func (s *Storage) AuthorizeClientIDSecret(ctx context.Context, id, secret string) error {
	if _, err := s.Clients.VerifySecret(ctx, id, secret); err != nil {
		if !errors.Is(err, client.ErrInvalidCredentials) {
			return s.internal(ctx, "client secret", err)
		}
		return errors.New("invalid client credentials")
	}
	return nil
}

// ClientCredentials authenticates a machine client for the
// client_credentials grant.
func (s *Storage) ClientCredentials(ctx context.Context, id, secret string) (op.Client, error) {
	c, err := s.Clients.VerifySecret(ctx, id, secret)
	if err != nil {
		if !errors.Is(err, client.ErrInvalidCredentials) {
			return nil, s.internal(ctx, "client secret", err)
		}
		return nil, errors.New("invalid client credentials")
	}
	if rs := stateFrom(ctx); rs != nil {
		rs.client = c
	}
	if !slices.Contains(c.GrantTypes, string(oidc.GrantTypeClientCredentials)) {
		return nil, oidc.ErrUnauthorizedClient().WithDescription("client_credentials is not allowed for this client")
	}
	if rs := stateFrom(ctx); rs != nil {
		rs.alg = c.SigningAlg
	}
	return &opClient{c: c}, nil
}

// clientCredentialsRequest is the token request of a machine client.
type clientCredentialsRequest struct {
	clientID string
	scopes   []string
}

func (r *clientCredentialsRequest) GetSubject() string    { return r.clientID }
func (r *clientCredentialsRequest) GetAudience() []string { return []string{r.clientID} }
func (r *clientCredentialsRequest) GetScopes() []string   { return r.scopes }

// ClientCredentialsTokenRequest keeps only the scopes the client may have.
func (s *Storage) ClientCredentialsTokenRequest(ctx context.Context, clientID string, scopes []string) (op.TokenRequest, error) {
	c, err := s.clientOf(ctx, clientID)
	if err != nil {
		return nil, s.internal(ctx, "client credentials' client", err)
	}
	// The scopes asked for that the client may have; the OpenID scopes make
	// no sense without a person and are dropped. Asking only for scopes it
	// may not have is invalid_scope (RFC 6749, section 5.2); asking for
	// none gets none.
	var granted []string
	asked := false
	for _, sc := range scopes {
		if sc == oidc.ScopeOpenID || sc == oidc.ScopeOfflineAccess {
			continue
		}
		asked = true
		if slices.Contains(c.Scopes, sc) {
			granted = append(granted, sc)
		}
	}
	if asked && len(granted) == 0 {
		return nil, oidc.ErrInvalidScope().WithDescription("none of the requested scopes is allowed for this client")
	}
	// The oauth.client_credentials event is written with the token
	// (CreateAccessToken).
	return &clientCredentialsRequest{clientID: clientID, scopes: granted}, nil
}

// GetKeyByIDAndClientID returns a client's registered public key for
// private_key_jwt.
func (s *Storage) GetKeyByIDAndClientID(ctx context.Context, keyID, clientID string) (*jose.JSONWebKey, error) {
	c, err := s.clientOf(ctx, clientID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errors.New("unknown client")
	}
	if err != nil {
		return nil, s.internal(ctx, "client's keys", err)
	}
	if c.AuthMethod != client.AuthMethodPrivateKeyJWT || c.JWKS == nil {
		return nil, errors.New("client has no registered keys")
	}
	for _, k := range c.JWKS.Key(keyID) {
		if k.IsPublic() {
			return &k, nil
		}
	}
	if keyID == "" && len(c.JWKS.Keys) == 1 {
		k := c.JWKS.Keys[0]
		return &k, nil
	}
	return nil, errors.New("unknown key")
}

// ValidateJWTProfileScopes refuses the JWT bearer grant, which the library
// turns on unconditionally: no Foyer client is allowed to use it.
func (s *Storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, oidc.ErrUnauthorizedClient().WithDescription("the jwt-bearer grant is not supported")
}

// Health reports whether the database answers.
func (s *Storage) Health(ctx context.Context) error { return s.DB.Ping(ctx) }

// internal turns a failure of Foyer's own (the database, the keys) into
// what the library may pass on to a client: server_error without a
// description, for the library would describe any other error with its
// text; and where the library would answer it as the client's fault
// (invalid_grant, invalid_client), failingWriter answers server_error
// instead. The failure itself goes to the log. Protocol errors
// (*oidc.Error) pass through.
func (s *Storage) internal(ctx context.Context, what string, err error) error {
	var oe *oidc.Error
	if err == nil || errors.As(err, &oe) {
		return err
	}
	s.logInternal(ctx, what, err)
	if rs := stateFrom(ctx); rs != nil {
		rs.failed = true
	}
	return oidc.ErrServerError()
}

// logInternal logs a failure of Foyer's own; a request that its client
// abandoned is no error of the server's.
func (s *Storage) logInternal(ctx context.Context, what string, err error) {
	if s.Logger == nil {
		return
	}
	s.Logger.Log(ctx, store.LogLevel(ctx, err), "oidc: internal error", slog.String("op", what), slog.Any("error", err))
}

// record writes a decision that no event of the request goes with (a
// step-up asked for, a consent page shown); a failure is logged.
func (s *Storage) record(ctx context.Context, rec decision.Record) {
	if err := s.Decisions.Append(ctx, rec); err != nil {
		s.logInternal(ctx, "record decision", err)
	}
}

// emit records an event of the request in ctx, with the decisions behind
// it (recs) in the same transaction.
func (s *Storage) emit(ctx context.Context, typ, outcome, reason, subject, clientID string, recs ...decision.Record) {
	if s.Events == nil {
		return
	}
	e := s.event(ctx, typ, outcome, reason, subject, clientID)
	if len(recs) == 0 {
		_ = s.Events.Append(ctx, e)
		return
	}
	err := s.DB.InTxBatched(ctx, func(tx *store.Tx) error {
		for _, r := range recs {
			if err := s.Decisions.AppendTx(ctx, tx, r); err != nil {
				return err
			}
		}
		return s.Events.AppendTx(ctx, tx, e)
	})
	if err != nil {
		s.logInternal(ctx, "record event and its decisions", err)
	}
}

// event describes an event of the request in ctx.
func (s *Storage) event(ctx context.Context, typ, outcome, reason, subject, clientID string) event.Event {
	e := event.Event{Domain: s.Domain, Type: typ, Outcome: outcome, Reason: reason, IdentityID: subject, ClientID: clientID}
	if rs := stateFrom(ctx); rs != nil {
		e.IP, e.UserAgent = rs.ip, rs.userAgent
	}
	return e
}
