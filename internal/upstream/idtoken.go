package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

const (
	// leeway is the clock skew allowed between Foyer and a provider.
	leeway = time.Minute
	// msaTenant is the tenant of Microsoft's personal accounts.
	msaTenant = "9188040d-6c67-4c5b-b112-36a304b66dad"
	// googleIssuerNoScheme is the issuer Google's tokens sometimes carry
	// instead of googleIssuer; Google documents both.
	googleIssuerNoScheme = "accounts.google.com"
)

// idClaims are the claims of an ID token that Foyer checks or reads
// strictly; the others are read from the token's claims as a map.
type idClaims struct {
	jwt.Claims
	Nonce string `json:"nonce"`
	AZP   string `json:"azp"`
	// TID is Microsoft's tenant of the account.
	TID           string   `json:"tid"`
	EmailVerified flexBool `json:"email_verified"`
	// DomainOwnerVerified is Microsoft's xms_edov: the address's domain
	// owner vouches for it.
	DomainOwnerVerified flexBool   `json:"xms_edov"`
	PrivateEmail        flexBool   `json:"is_private_email"`
	AMR                 stringList `json:"amr"`
}

// verifyIDToken checks an ID token: its signature with the provider's
// keys, its issuer, that its audience holds one of audiences (and azp, if
// present, is one of them), its times, its subject and, unless nonce is
// empty, its nonce. It returns the checked claims and all the claims.
func (p *Provider) verifyIDToken(ctx context.Context, m *metadata, raw, nonce string, audiences []string) (*idClaims, map[string]any, error) {
	jws, err := jose.ParseSignedCompact(raw, m.algs)
	if err != nil {
		return nil, nil, p.refused("id token: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, nil, p.refused("id token: want one signature")
	}
	payload, err := p.verifySignature(ctx, m, jws)
	if err != nil {
		return nil, nil, err
	}
	var c idClaims
	var all map[string]any
	if json.Unmarshal(payload, &c) != nil || json.Unmarshal(payload, &all) != nil {
		return nil, nil, p.refused("id token: malformed claims")
	}
	if c.Subject == "" {
		return nil, nil, p.refused("id token has no subject")
	}
	if c.Expiry == nil || c.IssuedAt == nil {
		return nil, nil, p.refused("id token lacks exp or iat")
	}
	want, err := p.expectedIssuer(&c)
	if err != nil {
		return nil, nil, err
	}
	if c.Issuer != want {
		return nil, nil, p.refused("id token issuer %q is not %q", c.Issuer, want)
	}
	if !slices.ContainsFunc(audiences, c.Audience.Contains) {
		return nil, nil, p.refused("id token audience %q is not among %q", []string(c.Audience), audiences)
	}
	if c.AZP != "" && !slices.Contains(audiences, c.AZP) {
		return nil, nil, p.refused("id token azp %q is not among %q", c.AZP, audiences)
	}
	if err := c.Claims.ValidateWithLeeway(jwt.Expected{Time: p.now()}, leeway); err != nil {
		return nil, nil, p.refused("id token: %w", err)
	}
	if nonce != "" && c.Nonce != nonce {
		return nil, nil, p.refused("id token nonce does not match")
	}
	return &c, all, nil
}

// expectedIssuer is the issuer c must have: the configured one, or for
// Microsoft's multi-tenant settings the issuer of the token's own tenant.
func (p *Provider) expectedIssuer(c *idClaims) (string, error) {
	switch {
	case p.multiTenant():
		if !guidPattern.MatchString(c.TID) {
			return "", p.refused("id token has no valid tid")
		}
		if p.cfg.Tenant == msConsumers && c.TID != msaTenant {
			return "", p.refused("id token tenant %q is not the personal accounts' (tenant consumers)", c.TID)
		}
		if p.cfg.Tenant == msOrganizations && c.TID == msaTenant {
			return "", p.refused("id token is of a personal account (tenant organizations)")
		}
		return p.tenantIssuer(c.TID), nil
	case p.cfg.Kind == KindGoogle && p.cfg.Issuer == googleIssuer && c.Issuer == googleIssuerNoScheme:
		return googleIssuerNoScheme, nil
	}
	return p.cfg.Issuer, nil
}

// verifySignature verifies jws with the provider's keys, fetching them
// again once when it names a key they lack.
func (p *Provider) verifySignature(ctx context.Context, m *metadata, jws *jose.JSONWebSignature) ([]byte, error) {
	header := jws.Signatures[0].Header
	keys, fetched, err := p.keySet(ctx, m, false)
	if err != nil {
		return nil, err
	}
	payload, found, err := verifyWithKeys(jws, header, keys)
	if !found && !fetched {
		if keys, fetched, err = p.keySet(ctx, m, true); err != nil {
			return nil, err
		}
		if fetched {
			payload, found, err = verifyWithKeys(jws, header, keys)
		}
	}
	switch {
	case !found:
		return nil, p.refused("id token signed with an unknown key %.64q", header.KeyID)
	case err != nil:
		return nil, p.refused("id token signature: %w", err)
	}
	return payload, nil
}

// verifyWithKeys verifies jws with the keys that match its header's key id
// and algorithm. found reports whether any did.
func verifyWithKeys(jws *jose.JSONWebSignature, header jose.Header, keys []jose.JSONWebKey) (payload []byte, found bool, err error) {
	err = errors.New("no matching key")
	for _, k := range keys {
		if header.KeyID != "" && k.KeyID != header.KeyID || k.Algorithm != "" && k.Algorithm != header.Algorithm {
			continue
		}
		found = true
		if payload, err = jws.Verify(k); err == nil {
			return payload, true, nil
		}
	}
	return nil, found, err
}
