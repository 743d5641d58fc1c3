package upstreamtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// Keys made once per test binary: RSA keys are slow to make, and every
// test starts servers.
var (
	signingKey  = sync.OnceValue(func() *rsa.PrivateKey { return newRSAKey() })
	strangerKey = sync.OnceValue(func() *rsa.PrivateKey { return newRSAKey() })
	clientRSA   = sync.OnceValue(func() *rsa.PrivateKey { return newRSAKey() })
)

func newRSAKey() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
}

func newECKey() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}

// signRS256 signs claims as a JWT with key, naming kid.
func signRS256(key *rsa.PrivateKey, kid string, claims map[string]any) string {
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: kid}},
		(&jose.SignerOptions{}).WithType("JWT"),
	)
	if err != nil {
		panic(err)
	}
	s, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		panic(err)
	}
	return s
}

// verifyJWT checks a client's JWT (an assertion or Apple's client secret):
// its signature with key, issuer, subject, audience and times. It returns
// the claims.
func verifyJWT(raw string, alg jose.SignatureAlgorithm, key any, iss, sub, aud string) (*jwt.Claims, error) {
	tok, err := jwt.ParseSigned(raw, []jose.SignatureAlgorithm{alg})
	if err != nil {
		return nil, err
	}
	var c jwt.Claims
	if err := tok.Claims(key, &c); err != nil {
		return nil, err
	}
	if c.Expiry == nil || c.IssuedAt == nil {
		return nil, fmt.Errorf("exp or iat missing")
	}
	err = c.ValidateWithLeeway(jwt.Expected{Issuer: iss, Subject: sub, AnyAudience: jwt.Audience{aud}, Time: time.Now()}, time.Minute)
	return &c, err
}

// keyID is the kid header of a JWT, "" when it has none or is malformed.
func keyID(raw string, algs ...jose.SignatureAlgorithm) string {
	jws, err := jose.ParseSignedCompact(raw, algs)
	if err != nil || len(jws.Signatures) != 1 {
		return ""
	}
	return jws.Signatures[0].Header.KeyID
}
