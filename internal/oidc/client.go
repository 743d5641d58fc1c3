package oidc

import (
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/foyer-id/foyer/internal/client"
)

// ContinuePath is where the library sends the browser after /authorize:
// Foyer's hand-off to its hosted pages (see ui).
const ContinuePath = "/oauth/continue"

// opClient presents a registered client to the library.
type opClient struct{ c *client.Client }

func (o *opClient) GetID() string                    { return o.c.ID }
func (o *opClient) RedirectURIs() []string           { return o.c.RedirectURIs }
func (o *opClient) PostLogoutRedirectURIs() []string { return o.c.PostLogoutRedirectURIs }
func (o *opClient) LoginURL(id string) string        { return ContinuePath + "?id=" + id }
func (o *opClient) IDTokenLifetime() time.Duration   { return o.c.IDTokenTTL.D() }
func (o *opClient) DevMode() bool                    { return false }
func (o *opClient) ClockSkew() time.Duration         { return 0 }

// ApplicationType is the one a client registered (application_type);
// without one, public clients are native apps or single-page apps
// (custom schemes and loopback redirects allowed), and confidential ones
// web apps.
func (o *opClient) ApplicationType() op.ApplicationType {
	switch {
	case o.c.ApplicationType == client.ApplicationNative:
		return op.ApplicationTypeNative
	case o.c.ApplicationType == client.ApplicationWeb:
		return op.ApplicationTypeWeb
	case o.c.Public:
		return op.ApplicationTypeNative
	}
	return op.ApplicationTypeWeb
}

func (o *opClient) AuthMethod() oidc.AuthMethod {
	switch o.c.AuthMethod {
	case client.AuthMethodPost:
		return oidc.AuthMethodPost
	case client.AuthMethodPrivateKeyJWT:
		return oidc.AuthMethodPrivateKeyJWT
	case client.AuthMethodNone:
		return oidc.AuthMethodNone
	}
	return oidc.AuthMethodBasic
}

// ResponseTypes: the authorization code flow only (OAuth 2.1).
func (o *opClient) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}

func (o *opClient) GrantTypes() []oidc.GrantType {
	out := make([]oidc.GrantType, 0, len(o.c.GrantTypes))
	for _, g := range o.c.GrantTypes {
		out = append(out, oidc.GrantType(g))
	}
	return out
}

// AccessTokenType is always "bearer" to the library: for clients with JWT
// access tokens the storage signs them itself (access_jwt.go).
func (o *opClient) AccessTokenType() op.AccessTokenType {
	return op.AccessTokenTypeBearer
}

func (o *opClient) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

func (o *opClient) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

func (o *opClient) IsScopeAllowed(scope string) bool {
	for _, s := range o.c.Scopes {
		if s == scope {
			return true
		}
	}
	return false
}

// IDTokenUserinfoClaimsAssertion puts the scope claims (email, name) in
// the ID token too, as most apps expect.
func (o *opClient) IDTokenUserinfoClaimsAssertion() bool { return true }
