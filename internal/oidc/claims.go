package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"slices"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/foyer-id/foyer/internal/store"
)

// SetUserinfoFromScopes is deprecated in the library; claims are set from
// the request or the token.
func (s *Storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

// SetUserinfoFromRequest fills the ID token's claims. The library takes
// acr only from an authorization request; an ID token issued on refresh
// gets it here, from the token family's sign-in.
func (s *Storage) SetUserinfoFromRequest(ctx context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	var named []string
	switch r := req.(type) {
	case *refreshRequest:
		if r.t.ACR != "" {
			info.AppendClaims("acr", r.t.ACR)
		}
		named = r.t.Claims.forIDToken()
	case *AuthRequest:
		named = r.Claims.forIDToken()
	}
	return s.fillUserinfo(ctx, info, req.GetSubject(), scopes, named)
}

// SetUserinfoFromToken is part of the library's Storage; Foyer serves
// UserInfo itself (resource.go), so it answers only for completeness.
func (s *Storage) SetUserinfoFromToken(ctx context.Context, info *oidc.UserInfo, tokenID, subject, _ string) error {
	t, err := s.liveAccess(ctx, tokenID, subject)
	if err != nil {
		return err
	}
	if t == nil || t.SessionID == "" {
		return oidc.ErrAccessDenied().WithDescription("the access token is not active")
	}
	return s.fillUserinfo(ctx, info, subject, t.Scopes, t.Claims.forUserInfo())
}

// liveAccess returns the access token tokenID if it is live and was
// issued to subject, and nil if not: what UserInfo and introspection both
// ask of a token read back from its string (Provider.accessTokenRef). An
// error says the store could not tell (an outage), not that the token is
// dead.
func (s *Storage) liveAccess(ctx context.Context, tokenID, subject string) (*token, error) {
	t, err := s.tokens.byID(ctx, tokenID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if t.Kind != kindAccess || !s.tokens.active(t) || t.Subject != subject {
		return nil, nil
	}
	return t, nil
}

// ClaimRecentlyRecovered is the claim of an account in the cool-off after
// a recovery (identity.Identity.Restricted).
const ClaimRecentlyRecovered = "recently_recovered"

// errSubjectGone is fillUserinfo's answer for a subject that no longer
// exists.
var errSubjectGone = errors.New("oidc: the subject is gone")

// standardClaims are the standard claims (OpenID Connect Core, section
// 5.1) the scopes profile and address ask for (section 5.4) that come
// from traits: a trait named as one of them is published as it.
var standardClaims = map[string][]string{
	oidc.ScopeProfile: {"name", "given_name", "family_name", "middle_name", "nickname", "preferred_username",
		"profile", "picture", "website", "gender", "birthdate", "zoneinfo", "locale"},
	oidc.ScopeAddress: {"address"},
}

// fillUserinfo sets the claims the scopes allow: sub always; email and
// email_verified for "email"; the standard claims of the identity's
// traits for "profile" (name, given_name, locale, …, see standardClaims)
// and "address", with updated_at; phone_number and phone_number_verified
// for "phone", from its phone number. recently_recovered (true) says,
// whatever the scopes, that the account is in the cool-off after a
// recovery: whoever signed in proved one channel only. A claim named in
// named (the claims parameter) is given as if its scope were granted.
func (s *Storage) fillUserinfo(ctx context.Context, info *oidc.UserInfo, subject string, scopes, named []string) error {
	info.Subject = subject
	ident, err := s.Identities.Get(ctx, s.Domain, subject)
	if errors.Is(err, store.ErrNotFound) {
		return errSubjectGone
	}
	if err != nil {
		return err
	}
	if ident.Restricted(s.Now()) {
		info.AppendClaims(ClaimRecentlyRecovered, true)
	}
	traits := map[string]any{}
	_ = json.Unmarshal(ident.Traits, &traits)
	wants := func(scope string, claims ...string) bool {
		if slices.Contains(scopes, scope) {
			return true
		}
		for _, c := range claims {
			if slices.Contains(named, c) {
				return true
			}
		}
		return false
	}
	if wants(oidc.ScopeEmail, "email", "email_verified") {
		email := ident.Email()
		info.Email = email.Value
		info.EmailVerified = oidc.Bool(email.Verified)
	}
	if wants(oidc.ScopePhone, "phone_number", "phone_number_verified") {
		if ph := ident.Phone(); ph.Value != "" {
			info.PhoneNumber = ph.Value
			info.PhoneNumberVerified = oidc.Bool(ph.Verified)
		}
	}
	claims := map[string]any{}
	for _, scope := range []string{oidc.ScopeProfile, oidc.ScopeAddress} {
		for _, name := range standardClaims[scope] {
			if !wants(scope, name) {
				continue
			}
			if v, ok := traits[name]; ok && v != nil && v != "" {
				claims[name] = v
			}
		}
	}
	if wants(oidc.ScopeProfile, "updated_at") {
		info.UpdatedAt = oidc.FromTime(ident.UpdatedAt)
	}
	if len(claims) == 0 {
		return nil
	}
	// The library's types say how each claim is written (locale as a
	// language tag, address as an object): the traits go through them,
	// and one that does not fit its claim is left out.
	target := struct {
		oidc.UserInfoProfile
		Address *oidc.UserInfoAddress `json:"address,omitempty"`
	}{UserInfoProfile: info.UserInfoProfile}
	for name, v := range claims {
		raw, err := json.Marshal(map[string]any{name: v})
		if err == nil {
			err = json.Unmarshal(raw, &target)
		}
		if err != nil && s.Logger != nil {
			s.Logger.WarnContext(ctx, "oidc: a trait does not fit its standard claim", "claim", name)
		}
	}
	info.UserInfoProfile, info.Address = target.UserInfoProfile, target.Address
	return nil
}

// SetIntrospectionFromToken is part of the library's Storage; Foyer
// serves introspection itself (resource.go), so it answers only for
// completeness.
func (s *Storage) SetIntrospectionFromToken(ctx context.Context, resp *oidc.IntrospectionResponse, tokenID, subject, clientID string) error {
	t, err := s.liveAccess(ctx, tokenID, subject)
	if err != nil {
		return err
	}
	if t == nil || t.ClientID != clientID {
		return errors.New("inactive")
	}
	describeToken(resp, t)
	return nil
}

// GetPrivateClaimsFromScopes adds nothing: JWT access tokens carry the
// RFC 9068 claims (access_jwt.go).
func (s *Storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}
