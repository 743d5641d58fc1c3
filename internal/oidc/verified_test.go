package oidc

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

type countingKeySet struct {
	key   *ecdsa.PublicKey
	calls int
}

func (k *countingKeySet) VerifySignature(_ context.Context, jws *jose.JSONWebSignature) ([]byte, error) {
	k.calls++
	return jws.Verify(k.key)
}

func TestVerifiedCache(t *testing.T) {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: priv}, nil)
	sign := func(payload string) string {
		jws, _ := signer.Sign([]byte(payload))
		s, _ := jws.CompactSerialize()
		return s
	}
	parse := func(s string) *jose.JSONWebSignature {
		jws, err := jose.ParseSigned(s, []jose.SignatureAlgorithm{jose.ES256})
		if err != nil {
			t.Fatal(err)
		}
		return jws
	}
	now := time.Unix(1000, 0)
	inner := &countingKeySet{key: &priv.PublicKey}
	c := newVerifiedCache(inner, func() time.Time { return now })
	tok := sign(`{"sub":"a"}`)
	for range 3 {
		if p, err := c.VerifySignature(context.Background(), parse(tok)); err != nil || string(p) != `{"sub":"a"}` {
			t.Fatalf("verify: %s %v", p, err)
		}
	}
	if inner.calls != 1 {
		t.Fatalf("verified %d times, want once", inner.calls)
	}
	// The same signature over another payload is checked, and fails.
	parts := strings.Split(tok, ".")
	forged := parts[0] + "." + base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"admin"}`)) + "." + parts[2]
	if _, err := c.VerifySignature(context.Background(), parse(forged)); err == nil {
		t.Fatal("a cached signature vouched for another payload")
	}
	// Entries expire.
	now = now.Add(2 * time.Minute)
	_, _ = c.VerifySignature(context.Background(), parse(tok))
	if inner.calls < 2 {
		t.Fatal("expired entry used")
	}
}
