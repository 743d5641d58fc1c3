package server

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/foyer-id/foyer/internal/config"
	"github.com/foyer-id/foyer/internal/upstream"
)

// upstreamTimeout bounds each call to an upstream provider: a provider
// that hangs must not hold a customer's request (nor a server's
// connection) longer.
const upstreamTimeout = 10 * time.Second

// upstreams makes the domain's upstream providers (docs/social.md) from
// their configuration; a provider that cannot work (a key that does not
// load, a setting its kind does not allow) stops the start, naming it.
// Nothing is fetched yet: each provider discovers its endpoints when a
// customer first uses it.
func upstreams(dom *config.Domain) ([]*upstream.Provider, error) {
	client := &http.Client{Timeout: upstreamTimeout}
	var out []*upstream.Provider
	for i, pc := range dom.Providers {
		key := fmt.Sprintf("domains.%s.providers[%d] (%s)", config.DefaultDomain, i, pc.ID)
		cfg := upstream.Config{ID: pc.ID, Kind: pc.Kind, Name: pc.Name, Issuer: pc.Issuer, ClientID: pc.ClientID,
			ClientSecret: pc.ClientSecret, AuthMethod: pc.TokenEndpointAuthMethod, KeyID: pc.KeyID, TeamID: pc.TeamID,
			Scopes: pc.Scopes, AuthURL: pc.AuthURL, TokenURL: pc.TokenURL, APIURL: pc.APIURL, Claims: pc.Claims,
			MFAValues: pc.MFAValues, AppClientIDs: pc.AppClientIDs, Tenant: pc.Tenant}
		if pc.PrivateKeyFile != "" {
			k, err := loadPrivateKey(pc.PrivateKeyFile)
			if err != nil {
				return nil, fmt.Errorf("%s.private_key_file: %w", key, err)
			}
			cfg.PrivateKey = k
		}
		p, err := upstream.New(cfg, client)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// loadPrivateKey reads a PEM private key: PKCS #8 (Apple's .p8 keys,
// openssl genpkey), or the older EC and RSA forms.
func loadPrivateKey(path string) (crypto.Signer, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(raw)
	if block == nil {
		return nil, fmt.Errorf("%s holds no PEM block", path)
	}
	var k any
	switch block.Type {
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	default:
		k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: not a signing key", path)
	}
	return s, nil
}
