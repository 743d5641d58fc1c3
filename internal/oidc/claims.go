package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"slices"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// SetUserinfoFromScopes is deprecated in the library; claims are set from
// the request or the token.
func (s *Storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest fills the ID token's claims.
func (s *Storage) SetUserinfoFromRequest(ctx context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	return s.fillUserinfo(ctx, info, req.GetSubject(), scopes)
}

// SetUserinfoFromToken answers the UserInfo endpoint for a live access
// token.
func (s *Storage) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, tokenID, subject, _ string) error {
	t, err := s.tokens.byID(ctx, tokenID)
	if err != nil || !s.tokens.active(t) || t.Subject != subject {
		return oidc.ErrAccessDenied().WithDescription("the access token is not active")
	}
	if t.SessionID == "" {
		return oidc.ErrAccessDenied().WithDescription("the access token does not belong to a person")
	}
	return s.fillUserinfo(ctx, info, subject, t.Scopes)
}

// fillUserinfo sets the claims the scopes allow: sub always; email and
// email_verified for "email"; name for "profile".
func (s *Storage) fillUserinfo(ctx context.Context, info *oidc.UserInfo, subject string, scopes []string) error {
	info.Subject = subject
	ident, err := s.Identities.Get(ctx, s.Domain, subject)
	if err != nil {
		return errors.New("unknown subject")
	}
	traits := map[string]any{}
	_ = json.Unmarshal(ident.Traits, &traits)
	if slices.Contains(scopes, oidc.ScopeEmail) {
		email := ident.Email()
		info.Email = email.Value
		info.EmailVerified = oidc.Bool(email.Verified)
	}
	if slices.Contains(scopes, oidc.ScopeProfile) {
		if name, ok := traits["name"].(string); ok {
			info.Name = name
		}
		info.UpdatedAt = oidc.FromTime(ident.UpdatedAt)
	}
	return nil
}

// SetIntrospectionFromToken answers RFC 7662 introspection for a live
// token. Only the client the token was issued to may introspect it.
func (s *Storage) SetIntrospectionFromToken(ctx context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	t, err := s.tokens.byID(ctx, tokenID)
	if err != nil || !s.tokens.active(t) || t.Subject != subject || t.ClientID != clientID {
		return errors.New("inactive")
	}
	resp.Active = true
	resp.Scope = t.Scopes
	resp.ClientID = t.ClientID
	resp.Subject = t.Subject
	resp.Audience = t.Audience
	resp.Expiration = oidc.FromTime(t.ExpiresAt)
	resp.IssuedAt = oidc.FromTime(t.CreatedAt)
	resp.TokenType = oidc.BearerToken
	if t.SessionID != "" {
		resp.Claims = map[string]any{"auth_time": t.AuthTime.Unix(), "acr": t.ACR}
	}
	return nil
}

// GetPrivateClaimsFromScopes adds nothing: JWT access tokens carry the
// RFC 9068 claims (access_jwt.go).
func (s *Storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}
