package keys_test

import (
	"context"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/foyer-id/foyer/internal/keys"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

func benchManager(b *testing.B, alg string) *keys.Manager {
	b.Helper()
	m, err := keys.NewManager(storetest.NewSQLite(b), secret, nil, keys.Rotation{})
	if err != nil {
		b.Fatal(err)
	}
	if err := m.Ensure(context.Background(), alg); err != nil {
		b.Fatal(err)
	}
	return m
}

// BenchmarkSigner is the per-token cost of finding the signing key (the
// cached path).
func BenchmarkSigner(b *testing.B) {
	ctx := context.Background()
	m := benchManager(b, keys.ES256)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := m.Signer(ctx, keys.ES256); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkSignES256 signs a small ID-token-sized JWT, building the signer
// per token as zitadel/oidc does (op.SignerFromKey).
func BenchmarkSignES256(b *testing.B) {
	ctx := context.Background()
	m := benchManager(b, keys.ES256)
	now := time.Now()
	c := claims{
		Claims: jwt.Claims{
			Issuer: "https://id.example.com", Subject: "01JQ6Z8W5V3K2M1N0P9R8S7T6U",
			Audience: jwt.Audience{"client-1"}, IssuedAt: jwt.NewNumericDate(now),
			Expiry: jwt.NewNumericDate(now.Add(time.Hour)), ID: "jti-0123456789",
		},
		Nonce: "n-0S6_WzA2Mj",
	}
	b.ReportAllocs()
	for b.Loop() {
		sk, err := m.Signer(ctx, keys.ES256)
		if err != nil {
			b.Fatal(err)
		}
		signer, err := op.SignerFromKey(sk)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := jwt.Signed(signer).Claims(c).Serialize(); err != nil {
			b.Fatal(err)
		}
	}
}
