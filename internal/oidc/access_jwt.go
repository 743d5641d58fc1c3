package oidc

import (
	"context"
	"encoding/json"
	"strings"
	"sync"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/foyer-id/foyer/internal/client"
)

// JWT access tokens follow RFC 9068, whose header says "typ": "at+jwt" so
// that no one mistakes one for an ID token. The library signs its JWT
// access tokens with "typ": "JWT" and no way to change it, so Foyer signs
// them itself: the storage signs the token it has just stored
// (issueAccessJWT), and the library, which then asks its Crypto to make
// the token string from the token id, gets that JWT back
// (accessTokenCrypto.Encrypt). Clients with opaque tokens are unchanged.
// Reading a JWT access token back (UserInfo, introspection, revocation)
// stays with the library: its Crypto cannot decrypt a JWT, so it verifies
// the signature with the published keys.

// accessTokenCrypto is the library's Crypto for access tokens: the JWTs
// the storage signed for the token ids it is given, and AES-GCM opaque
// tokens otherwise.
type accessTokenCrypto struct {
	op.Crypto
	signed *sync.Map // token id → compact JWT, taken once
}

// newAccessTokenCrypto returns the crypto, opaque tokens keyed by key as
// the library's default would be.
func newAccessTokenCrypto(key [32]byte, signed *sync.Map) *accessTokenCrypto {
	gcm := op.NewAES256GCMCrypto(key, "")
	return &accessTokenCrypto{Crypto: op.NewCompositeCrypto(gcm, []op.Decrypter{gcm, op.NewAESDecrypter(key)}), signed: signed}
}

// Encrypt is given "tokenID:subject" (op.CreateBearerToken).
func (c *accessTokenCrypto) Encrypt(value string) (string, error) {
	id, _, _ := strings.Cut(value, ":")
	if jwt, ok := c.signed.LoadAndDelete(id); ok {
		return jwt.(string), nil
	}
	return c.Crypto.Encrypt(value)
}

// accessTokenClaims are the RFC 9068 claims of a JWT access token.
type accessTokenClaims struct {
	Issuer   string   `json:"iss"`
	Subject  string   `json:"sub"`
	Audience []string `json:"aud"`
	Expiry   int64    `json:"exp"`
	IssuedAt int64    `json:"iat"`
	// NotBefore is iat: resource servers with a clock a little behind
	// still accept the token.
	NotBefore int64    `json:"nbf"`
	JWTID     string   `json:"jti"`
	ClientID  string   `json:"client_id"`
	Scope     string   `json:"scope"`
	AuthTime  int64    `json:"auth_time,omitempty"`
	ACR       string   `json:"acr,omitempty"`
	AMR       []string `json:"amr,omitempty"`
	// Details are the authorization details granted (RFC 9396, section 9.1).
	Details json.RawMessage `json:"authorization_details,omitempty"`
}

// issueAccessJWT signs the stored access token t as a JWT for a client
// that wants JWT access tokens, and leaves it for accessTokenCrypto.
func (s *Storage) issueAccessJWT(ctx context.Context, c *client.Client, t *token) error {
	if c.AccessTokenFormat == client.AccessTokenOpaque {
		return nil
	}
	alg := c.SigningAlg
	if alg == "" {
		alg = DefaultSigningAlg
	}
	k, err := s.Keys.Signer(ctx, alg)
	if err != nil {
		return err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: k.SignatureAlgorithm(), Key: jose.JSONWebKey{Key: k.Key(), KeyID: k.ID()}},
		(&jose.SignerOptions{}).WithType("at+jwt"))
	if err != nil {
		return err
	}
	claims := accessTokenClaims{Issuer: op.IssuerFromContext(ctx), Subject: t.Subject, Audience: t.Audience, Expiry: t.ExpiresAt.Unix(),
		IssuedAt: t.CreatedAt.Unix(), NotBefore: t.CreatedAt.Unix(), JWTID: t.ID, ClientID: t.ClientID, Scope: strings.Join(t.Scopes, " ")}
	if t.SessionID != "" { // a person's token
		claims.AuthTime, claims.ACR, claims.AMR = t.AuthTime.Unix(), t.ACR, t.AMR
	}
	claims.Details = t.Details
	payload, err := json.Marshal(claims)
	if err != nil {
		return err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return err
	}
	compact, err := jws.CompactSerialize()
	if err != nil {
		return err
	}
	s.signedAccess.Store(t.ID, compact)
	return nil
}
