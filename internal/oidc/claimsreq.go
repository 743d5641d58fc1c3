package oidc

import (
	"encoding/json"
	"slices"

	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// paramClaims is the authorization request parameter that asks for
// claims by name (OpenID Connect Core, section 5.5).
const paramClaims = "claims"

// requestedClaims are the claims an authorization request asked for by
// name, for the ID token and for UserInfo. A claim asked for this way is
// given whatever the scopes, when Foyer has it; essential or not, and
// whatever value it was asked to have, it is given as it is (section
// 5.5.1: an unmet request is not an error).
type requestedClaims struct {
	IDToken  []string `json:"id_token,omitempty"`
	UserInfo []string `json:"userinfo,omitempty"`
}

// parseClaimsRequest reads the claims parameter: a JSON object whose
// members id_token and userinfo, if present, are objects naming claims
// (each null, or an object with essential, value or values). It returns
// nil for an empty parameter or one that names nothing.
func parseClaimsRequest(raw string) (*requestedClaims, *oidc.Error) {
	if raw == "" {
		return nil, nil
	}
	bad := oidc.ErrInvalidRequest().WithDescription("claims must be a JSON object whose id_token and userinfo members are objects naming claims")
	if len(raw) > 4096 {
		return nil, bad
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &top); err != nil || top == nil {
		return nil, bad
	}
	out := &requestedClaims{}
	for member, into := range map[string]*[]string{"id_token": &out.IDToken, "userinfo": &out.UserInfo} {
		v, ok := top[member]
		if !ok || string(v) == "null" {
			continue
		}
		var named map[string]json.RawMessage
		if err := json.Unmarshal(v, &named); err != nil || named == nil {
			return nil, bad
		}
		for name, spec := range named {
			if s := string(spec); s != "null" {
				var obj map[string]json.RawMessage
				if json.Unmarshal(spec, &obj) != nil || obj == nil {
					return nil, bad
				}
			}
			*into = append(*into, name)
		}
		slices.Sort(*into)
	}
	if len(out.IDToken) == 0 && len(out.UserInfo) == 0 {
		return nil, nil
	}
	return out, nil
}

// encode is the stored form of c ("" for none).
func (c *requestedClaims) encode() string {
	if c == nil {
		return ""
	}
	b, _ := json.Marshal(c)
	return string(b)
}

// decodeClaims reads the stored form back (nil for "" or a bad one).
func decodeClaims(s string) *requestedClaims {
	if s == "" {
		return nil
	}
	c := &requestedClaims{}
	if json.Unmarshal([]byte(s), c) != nil {
		return nil
	}
	return c
}

// forIDToken and forUserInfo are the names asked for each (nil-safe).
func (c *requestedClaims) forIDToken() []string {
	if c == nil {
		return nil
	}
	return c.IDToken
}

func (c *requestedClaims) forUserInfo() []string {
	if c == nil {
		return nil
	}
	return c.UserInfo
}
