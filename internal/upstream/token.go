package upstream

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// tokenResponse is a token endpoint's answer (RFC 6749, sections 5.1 and
// 5.2).
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	IDToken     string `json:"id_token"`
	Error       string `json:"error"`
}

// redeem exchanges an authorization code at the token endpoint,
// authenticating Foyer as the configuration says.
func (p *Provider) redeem(ctx context.Context, endpoint, redirectURI, code, verifier string) (*tokenResponse, error) {
	form := url.Values{
		"grant_type":   {"authorization_code"},
		"code":         {code},
		"redirect_uri": {redirectURI},
	}
	if verifier != "" {
		form.Set("code_verifier", verifier)
	}
	basic := false
	switch {
	case p.cfg.Kind == KindApple:
		secret, err := p.appleClientSecret()
		if err != nil {
			return nil, fmt.Errorf("upstream: %s: apple client secret: %w", p.cfg.ID, err)
		}
		form.Set("client_id", p.cfg.ClientID)
		form.Set("client_secret", secret)
	case p.cfg.AuthMethod == AuthSecretPost:
		form.Set("client_id", p.cfg.ClientID)
		form.Set("client_secret", p.cfg.ClientSecret)
	case p.cfg.AuthMethod == AuthPrivateKeyJWT:
		assertion, err := p.clientAssertion(endpoint)
		if err != nil {
			return nil, fmt.Errorf("upstream: %s: client assertion: %w", p.cfg.ID, err)
		}
		form.Set("client_id", p.cfg.ClientID)
		form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		form.Set("client_assertion", assertion)
	default:
		basic = true
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, p.unavailable("token endpoint: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if basic {
		// RFC 6749, section 2.3.1: both are form-encoded first.
		req.SetBasicAuth(url.QueryEscape(p.cfg.ClientID), url.QueryEscape(p.cfg.ClientSecret))
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, p.unavailable("token endpoint: %w", err)
	}
	defer resp.Body.Close()
	body, err := readBody(resp.Body)
	if err != nil {
		return nil, p.unavailable("token endpoint: %w", err)
	}
	var tok tokenResponse
	decodeErr := decodeTokenResponse(resp.Header.Get("Content-Type"), body, &tok)
	switch {
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return nil, p.unavailable("token endpoint answered %s", resp.Status)
	case tok.Error != "":
		// GitHub answers its errors with 200.
		return nil, p.refused("token endpoint answered %s: %.64q", resp.Status, tok.Error)
	case resp.StatusCode != http.StatusOK:
		return nil, p.refused("token endpoint answered %s", resp.Status)
	case decodeErr != nil:
		return nil, p.refused("token endpoint: unreadable answer: %w", decodeErr)
	case tok.AccessToken == "":
		return nil, p.refused("token endpoint returned no access token")
	}
	return &tok, nil
}

// decodeTokenResponse reads a token endpoint's answer: JSON, or the
// form encoding GitHub uses when it ignores the Accept header.
func decodeTokenResponse(contentType string, body []byte, tok *tokenResponse) error {
	if mt, _, _ := mime.ParseMediaType(contentType); mt == "application/x-www-form-urlencoded" {
		v, err := url.ParseQuery(string(body))
		if err != nil {
			return errors.New("malformed form")
		}
		tok.AccessToken, tok.IDToken, tok.Error = v.Get("access_token"), v.Get("id_token"), v.Get("error")
		return nil
	}
	if err := json.Unmarshal(body, tok); err != nil {
		// The error of encoding/json may quote the body, which holds
		// tokens: keep only that it failed.
		return errors.New("malformed JSON")
	}
	return nil
}

// appleClientSecret is the client secret Apple wants: an ES256 JWT from
// the team, signed with the key Apple issued, made for each request.
func (p *Provider) appleClientSecret() (string, error) {
	now := p.now()
	return signJWT(p.cfg.PrivateKey, p.cfg.KeyID, map[string]any{
		"iss": p.cfg.TeamID,
		"sub": p.cfg.ClientID,
		"aud": appleAudience,
		"iat": now.Unix(),
		"exp": now.Add(time.Hour).Unix(),
	})
}

// clientAssertion is a private_key_jwt client assertion for the token
// endpoint (RFC 7523, section 3; OpenID Connect Core, section 9).
func (p *Provider) clientAssertion(endpoint string) (string, error) {
	now := p.now()
	return signJWT(p.cfg.PrivateKey, p.cfg.KeyID, map[string]any{
		"iss": p.cfg.ClientID,
		"sub": p.cfg.ClientID,
		"aud": endpoint,
		"jti": rand.Text(),
		"iat": now.Unix(),
		"exp": now.Add(5 * time.Minute).Unix(),
	})
}

// signJWT signs claims as a compact JWS with key, RS256 for an RSA key and
// ES256 for a P-256 key (signingAlg), naming it kid.
func signJWT(key crypto.Signer, kid string, claims map[string]any) (string, error) {
	alg, err := signingAlg(key)
	if err != nil {
		return "", err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(alg), Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return "", err
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// pkceChallenge is the S256 code challenge of verifier (RFC 7636,
// section 4.2).
func pkceChallenge(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
