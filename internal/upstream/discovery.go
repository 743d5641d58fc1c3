package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

const (
	// keysMaxAge is how long fetched keys are used before they are fetched
	// again, so that a key the provider withdrew stops being trusted.
	keysMaxAge = time.Hour
	// keyRefetchInterval is the least time between two fetches caused by
	// tokens signed with an unknown key, so that forged tokens cannot make
	// Foyer hammer the provider.
	keyRefetchInterval = time.Minute
)

// metadata is what Foyer uses of a discovery document.
type metadata struct {
	Issuer                string   `json:"issuer"`
	AuthorizationEndpoint string   `json:"authorization_endpoint"`
	TokenEndpoint         string   `json:"token_endpoint"`
	JWKSURI               string   `json:"jwks_uri"`
	SigningAlgs           []string `json:"id_token_signing_alg_values_supported"`

	// algs are the algorithms accepted for ID tokens: the provider's,
	// among those Foyer supports (never "none" nor a shared-secret one).
	algs []jose.SignatureAlgorithm
}

// supportedAlgs are the ID token signature algorithms Foyer accepts.
var supportedAlgs = []jose.SignatureAlgorithm{
	jose.RS256, jose.RS384, jose.RS512,
	jose.PS256, jose.PS384, jose.PS512,
	jose.ES256, jose.ES384, jose.ES512,
	jose.EdDSA,
}

// metadata returns the provider's discovery document, fetching it the
// first time (and again after a failure).
func (p *Provider) metadata(ctx context.Context) (*metadata, error) {
	if err := lock(ctx, p.metaLock); err != nil {
		return nil, p.unavailable("discovery: %w", err)
	}
	defer unlock(p.metaLock)
	if p.meta != nil {
		return p.meta, nil
	}
	m, err := p.discover(ctx)
	if err != nil {
		return nil, err
	}
	p.meta = m
	return m, nil
}

func (p *Provider) discover(ctx context.Context) (*metadata, error) {
	body, err := p.fetch(ctx, strings.TrimSuffix(p.cfg.Issuer, "/")+"/.well-known/openid-configuration", nil)
	if err != nil {
		return nil, p.unavailable("discovery: %w", err)
	}
	var m metadata
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, p.unavailable("discovery: unreadable document: %w", err)
	}
	if !p.discoveredIssuer(m.Issuer) {
		return nil, p.unavailable("discovery: the document's issuer %q is not %q", m.Issuer, p.cfg.Issuer)
	}
	for _, e := range []struct{ name, url string }{
		{"authorization_endpoint", m.AuthorizationEndpoint},
		{"token_endpoint", m.TokenEndpoint},
		{"jwks_uri", m.JWKSURI},
	} {
		if err := checkURL(e.url); err != nil {
			return nil, p.unavailable("discovery: %s: %w", e.name, err)
		}
	}
	for _, a := range m.SigningAlgs {
		if alg := jose.SignatureAlgorithm(a); slices.Contains(supportedAlgs, alg) {
			m.algs = append(m.algs, alg)
		}
	}
	if len(m.algs) == 0 {
		// RS256 is the one algorithm every OpenID provider must support.
		m.algs = []jose.SignatureAlgorithm{jose.RS256}
	}
	return &m, nil
}

// discoveredIssuer reports whether iss, the issuer a discovery document
// names, is the provider's. Microsoft's documents for many tenants name a
// template, "…/{tenantid}/v2.0", or for consumers the personal accounts'
// tenant; its tokens are then checked against their own tenant.
func (p *Provider) discoveredIssuer(iss string) bool {
	switch {
	case iss == p.cfg.Issuer:
		return true
	case !p.multiTenant():
		return false
	case iss == p.tenantIssuer("{tenantid}"):
		return true
	default:
		return p.cfg.Tenant == msConsumers && iss == p.tenantIssuer(msaTenant)
	}
}

// multiTenant reports whether the provider is Microsoft for many tenants.
func (p *Provider) multiTenant() bool {
	return p.cfg.Kind == KindMicrosoft && multiTenant(p.cfg.Tenant)
}

// tenantIssuer is Microsoft's issuer for tenant tid.
func (p *Provider) tenantIssuer(tid string) string {
	return strings.Replace(p.cfg.Issuer, "/"+p.cfg.Tenant+"/", "/"+tid+"/", 1)
}

// keySet returns the provider's signing keys, fetched when there are none
// yet or they are older than keysMaxAge. With unknownKey (a token named a
// key the set lacks) it fetches them again unless they are younger than
// keyRefetchInterval. fetched reports whether this call fetched them.
func (p *Provider) keySet(ctx context.Context, m *metadata, unknownKey bool) (keys []jose.JSONWebKey, fetched bool, err error) {
	if err := lock(ctx, p.keyLock); err != nil {
		return nil, false, p.unavailable("keys: %w", err)
	}
	defer unlock(p.keyLock)
	now := p.now()
	age := now.Sub(p.keysAt)
	if !p.keysAt.IsZero() && (unknownKey && age < keyRefetchInterval || !unknownKey && age < keysMaxAge) {
		return p.keys, false, nil
	}
	body, err := p.fetch(ctx, m.JWKSURI, nil)
	if err != nil {
		return nil, false, p.unavailable("keys: %w", err)
	}
	keys, err = parseKeySet(body)
	if err != nil {
		return nil, false, p.unavailable("keys: %w", err)
	}
	p.keys, p.keysAt = keys, now
	return keys, true, nil
}

// parseKeySet reads a JSON Web Key Set, keeping the public keys it
// understands and skipping the others (RFC 7517, section 5).
func parseKeySet(body []byte) ([]jose.JSONWebKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, fmt.Errorf("unreadable key set: %w", err)
	}
	keys := []jose.JSONWebKey{}
	for _, raw := range set.Keys {
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(raw); err != nil || !k.Valid() || !k.IsPublic() {
			continue
		}
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		keys = append(keys, k)
	}
	return keys, nil
}

// statusError is an HTTP answer other than 200.
type statusError struct {
	code   int
	status string
	// transient: the provider is failing or limiting the rate, not
	// refusing.
	transient bool
}

func (e *statusError) Error() string { return "answered " + e.status }

// fetch GETs url and returns the body of a 200 answer; any other answer is
// a *statusError.
func (p *Provider) fetch(ctx context.Context, url string, header http.Header) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := readBody(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, &statusError{
			code:   resp.StatusCode,
			status: resp.Status,
			transient: resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests ||
				resp.StatusCode == http.StatusForbidden && resp.Header.Get("X-RateLimit-Remaining") == "0",
		}
	}
	return body, nil
}

var errTooLarge = errors.New("answer larger than 1 MiB")

// readBody reads at most maxBody bytes of an answer.
func readBody(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxBody+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxBody {
		return nil, errTooLarge
	}
	return b, nil
}
