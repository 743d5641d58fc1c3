package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/foyer-id/foyer/internal/client"
	"github.com/foyer-id/foyer/internal/store"
)

// maxAssertionLifetime bounds how far in the future a client assertion
// may expire, and how old it may be.
const maxAssertionLifetime = 10 * time.Minute

// assertionAlgs are the signature algorithms accepted on client
// assertions, and advertised as such in discovery: those the library also
// accepts where it checks an assertion again (the code and refresh grants,
// revocation).
var assertionAlgs = []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.PS256}

// verifyAssertion authenticates a client by private_key_jwt (RFC 7523):
// signed by one of the client's registered keys, iss = sub = client_id,
// aud naming the issuer or the token endpoint, short-lived, and with a jti
// never seen before (replays are refused). It returns the client and the
// audience it accepted.
func (p *Provider) verifyAssertion(ctx context.Context, assertion string) (c *client.Client, aud string, err error) {
	jws, err := jose.ParseSignedCompact(assertion, assertionAlgs)
	if err != nil || len(jws.Signatures) != 1 {
		return nil, "", errors.New("client assertion is not a signed JWT")
	}
	var claims struct {
		Issuer   string        `json:"iss"`
		Subject  string        `json:"sub"`
		Audience oidc.Audience `json:"aud"`
		Expiry   oidc.Time     `json:"exp"`
		IssuedAt oidc.Time     `json:"iat"`
		JTI      string        `json:"jti"`
	}
	raw := jws.UnsafePayloadWithoutVerification()
	if err := json.Unmarshal(raw, &claims); err != nil {
		return nil, "", errors.New("client assertion claims are not JSON")
	}
	if claims.Issuer == "" || claims.Issuer != claims.Subject {
		return nil, "", errors.New("client assertion: iss and sub must both be the client_id")
	}
	c, err = p.Storage.Clients.Get(ctx, claims.Issuer)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, "", fmt.Errorf("%w: client of an assertion: %w", errInternal, err)
	}
	if err != nil || c.AuthMethod != client.AuthMethodPrivateKeyJWT || c.JWKS == nil {
		return nil, "", errors.New("client assertion: unknown client or not a private_key_jwt client")
	}
	kid := jws.Signatures[0].Header.KeyID
	var verified bool
	for _, k := range c.JWKS.Keys {
		if (kid != "" && k.KeyID != kid) || !k.IsPublic() {
			continue
		}
		if payload, err := jws.Verify(k.Key); err == nil && string(payload) == string(raw) {
			verified = true
			break
		}
	}
	if !verified {
		return nil, "", errors.New("client assertion: signature does not match a registered key")
	}
	now := p.Storage.Now()
	exp, iat := claims.Expiry.AsTime(), claims.IssuedAt.AsTime()
	switch {
	case claims.Expiry == 0 || !now.Before(exp):
		return nil, "", errors.New("client assertion expired")
	case exp.Sub(now) > maxAssertionLifetime:
		return nil, "", errors.New("client assertion lives too long")
	case claims.IssuedAt != 0 && (now.Sub(iat) > maxAssertionLifetime || iat.Sub(now) > time.Minute):
		return nil, "", errors.New("client assertion issued at a wrong time")
	case claims.JTI == "":
		return nil, "", errors.New("client assertion has no jti")
	case len(claims.JTI) > 255 || !utf8.ValidString(claims.JTI) || strings.ContainsRune(claims.JTI, 0):
		return nil, "", errors.New("client assertion jti is not a short printable string")
	}
	tokenURL := strings.TrimRight(p.cfg.Issuer, "/") + pathToken
	switch {
	case slices.Contains(claims.Audience, p.cfg.Issuer):
		aud = p.cfg.Issuer
	case slices.Contains(claims.Audience, tokenURL):
		aud = tokenURL
	default:
		return nil, "", errors.New("client assertion audience must be the issuer or the token endpoint")
	}
	_, err = p.Storage.DB.Exec(ctx, `INSERT INTO oauth_assertions (jti, client_id, expires_at) VALUES ($1, $2, $3)`,
		c.ID+"/"+claims.JTI, c.ID, store.Micros(exp))
	if errors.Is(err, store.ErrConflict) {
		return nil, "", errors.New("client assertion replayed")
	}
	if err != nil {
		return nil, "", fmt.Errorf("%w: record assertion: %w", errInternal, err)
	}
	return c, aud, nil
}

// clientCredentialsWithAssertion serves the client_credentials grant for
// private_key_jwt clients, which the library would not authenticate.
func (p *Provider) clientCredentialsWithAssertion(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	if r.PostForm.Get("client_assertion_type") != oidc.ClientAssertionTypeJWTAssertion {
		writeOAuthError(w, http.StatusBadRequest, "invalid_request", "client_assertion_type must be "+oidc.ClientAssertionTypeJWTAssertion)
		return
	}
	c, _, err := p.verifyAssertion(ctx, r.PostForm.Get("client_assertion"))
	if err != nil {
		if !errors.Is(err, errInternal) {
			// Anyone may send a bad assertion, as fast as they like: sampled.
			if p.Storage.Events != nil {
				_ = p.Storage.Events.AppendSampled(ctx, p.Storage.event(ctx, "oauth.client_credentials", "failure", "invalid_client_assertion", "", ""))
			}
		}
		p.refuseClient(w, r, err)
		return
	}
	if id := r.PostForm.Get("client_id"); id != "" && id != c.ID {
		writeOAuthError(w, http.StatusUnauthorized, "invalid_client", "client_id does not match the assertion")
		return
	}
	if !c.HasGrant(client.GrantClientCredentials) {
		writeOAuthError(w, http.StatusBadRequest, "unauthorized_client", "client_credentials is not allowed for this client")
		return
	}
	if rs := stateFrom(ctx); rs != nil {
		rs.alg = c.SigningAlg
	}
	req, err := p.Storage.ClientCredentialsTokenRequest(ctx, c.ID, strings.Fields(r.PostForm.Get("scope")))
	var refusal *oidc.Error
	if errors.As(err, &refusal) && refusal.ErrorType == oidc.InvalidScope {
		writeOAuthError(w, http.StatusBadRequest, string(refusal.ErrorType), refusal.Description)
		return
	} else if err != nil {
		p.internalError(w, r, err)
		return
	}
	ctx = op.ContextWithIssuer(ctx, p.cfg.Issuer)
	resp, err := op.CreateClientCredentialsTokenResponse(ctx, req, p.OP, &opClient{c: c})
	if err != nil {
		p.internalError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}
