package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// The signature algorithms Foyer signs tokens with (JWA names).
const (
	// ES256 is ECDSA on P-256 with SHA-256: small, fast, and supported by
	// every relying-party library. The default.
	ES256 = "ES256"
	// RS256 is RSA PKCS#1 v1.5 with SHA-256 on a 2048-bit key, for relying
	// parties that support nothing else. OpenID Connect makes it the one
	// algorithm every client must accept.
	RS256 = "RS256"
	// EdDSA is Ed25519.
	EdDSA = "EdDSA"

	// DefaultAlgorithm is the algorithm used when none is configured.
	DefaultAlgorithm = ES256
)

// Algorithms lists the supported algorithms, default first.
func Algorithms() []string { return []string{ES256, RS256, EdDSA} }

// ErrUnsupportedAlgorithm is returned for an algorithm Foyer does not sign
// with.
var ErrUnsupportedAlgorithm = errors.New("keys: unsupported algorithm (use ES256, RS256 or EdDSA)")

func checkAlg(alg string) error {
	switch alg {
	case ES256, RS256, EdDSA:
		return nil
	}
	return fmt.Errorf("%w: %q", ErrUnsupportedAlgorithm, alg)
}

// State is where a key is in its life: pending → active → retired, then
// deleted.
type State string

// Key states, as stored in signing_keys.state.
const (
	// Pending keys are published in the JWKS but do not sign yet.
	Pending State = "pending"
	// Active keys sign new tokens (one per algorithm).
	Active State = "active"
	// Retired keys no longer sign but stay in the JWKS until they expire,
	// so that tokens they signed still verify.
	Retired State = "retired"
)

// Use is the JWK "use" of every signing key.
const Use = "sig"

// Info describes a key for people and tooling. It never holds private
// material.
type Info struct {
	ID          string    `json:"kid"`                   // key id, the JWT header's "kid"
	Algorithm   string    `json:"alg"`                   // ES256, RS256 or EdDSA
	State       State     `json:"state"`                 // pending, active or retired
	CreatedAt   time.Time `json:"created_at"`            // when it was generated and published
	ActivatedAt time.Time `json:"activated_at,omitzero"` // when it began signing; zero while pending
	RetiredAt   time.Time `json:"retired_at,omitzero"`   // when it stopped signing; zero unless retired
	ExpiresAt   time.Time `json:"expires_at,omitzero"`   // when a retired key leaves the JWKS and is deleted
}

// Key is a public verification key as published in the JWKS. It satisfies
// zitadel/oidc's op.Key.
type Key struct {
	info Info
	pub  crypto.PublicKey
}

// ID returns the key id (the JWT header's "kid").
func (k Key) ID() string { return k.info.ID }

// Algorithm returns the signature algorithm the key verifies.
func (k Key) Algorithm() jose.SignatureAlgorithm { return jose.SignatureAlgorithm(k.info.Algorithm) }

// Use returns "sig".
func (k Key) Use() string { return Use }

// Key returns the public key: *ecdsa.PublicKey, *rsa.PublicKey or
// ed25519.PublicKey.
func (k Key) Key() any { return k.pub }

// Info describes the key as it was when it was read.
func (k Key) Info() Info { return k.info }

// JWK returns the key as a JSON Web Key.
func (k Key) JWK() jose.JSONWebKey {
	return jose.JSONWebKey{Key: k.pub, KeyID: k.info.ID, Algorithm: k.info.Algorithm, Use: Use}
}

// SigningKey is the private half of the active key for one algorithm. It
// satisfies zitadel/oidc's op.SigningKey. Its String and GoString do not
// print the private key.
type SigningKey struct {
	id   string
	alg  string
	priv crypto.Signer
}

// ID returns the key id, written into the "kid" header of what it signs.
func (k SigningKey) ID() string { return k.id }

// SignatureAlgorithm returns the algorithm to sign with.
func (k SigningKey) SignatureAlgorithm() jose.SignatureAlgorithm {
	return jose.SignatureAlgorithm(k.alg)
}

// Key returns the private key: *ecdsa.PrivateKey, *rsa.PrivateKey or
// ed25519.PrivateKey.
func (k SigningKey) Key() any { return k.priv }

// Public returns the public key.
func (k SigningKey) Public() crypto.PublicKey { return k.priv.Public() }

// String identifies the key without its material, so that a stray %v in a
// log line leaks nothing.
func (k SigningKey) String() string { return "keys.SigningKey{" + k.alg + " " + k.id + "}" }

// GoString is String, for %#v.
func (k SigningKey) GoString() string { return k.String() }

// generate makes a new private key for alg.
func generate(alg string) (crypto.Signer, error) {
	switch alg {
	case ES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case RS256:
		return rsa.GenerateKey(rand.Reader, 2048)
	case EdDSA:
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	}
	return nil, checkAlg(alg)
}

// matches reports whether priv is a key of the kind alg signs with.
func matches(alg string, priv crypto.Signer) bool {
	switch p := priv.(type) {
	case *ecdsa.PrivateKey:
		return alg == ES256 && p.Curve == elliptic.P256()
	case *rsa.PrivateKey:
		return alg == RS256 && p.N.BitLen() >= 2048
	case ed25519.PrivateKey:
		return alg == EdDSA
	}
	return false
}

// newKID returns a random, URL-safe key id (16 bytes, base64url).
func newKID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return base64.RawURLEncoding.EncodeToString(b[:])
}
