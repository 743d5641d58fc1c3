package oidc

import (
	"bytes"
	"context"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// verifiedCache remembers JWT access tokens whose signature was checked,
// so introspecting or calling UserInfo with the same token again skips the
// ECDSA verification (about a quarter of an introspection's cost). An
// entry is keyed by the signature and holds the exact payload it covered:
// a token with another payload is verified afresh. Revocation is never
// cached — the token row is read on every request.
type verifiedCache struct {
	inner oidc.KeySet
	now   func() time.Time
	ttl   time.Duration
	max   int

	mu      sync.Mutex
	entries map[string]verifiedEntry
}

type verifiedEntry struct {
	payload []byte
	until   time.Time
}

func newVerifiedCache(inner oidc.KeySet, now func() time.Time) *verifiedCache {
	return &verifiedCache{inner: inner, now: now, ttl: time.Minute, max: 50_000, entries: map[string]verifiedEntry{}}
}

// VerifySignature implements oidc.KeySet.
func (c *verifiedCache) VerifySignature(ctx context.Context, jws *jose.JSONWebSignature) ([]byte, error) {
	if len(jws.Signatures) != 1 {
		return c.inner.VerifySignature(ctx, jws)
	}
	key := string(jws.Signatures[0].Signature)
	payload := jws.UnsafePayloadWithoutVerification()
	now := c.now()
	c.mu.Lock()
	e, ok := c.entries[key]
	c.mu.Unlock()
	if ok && now.Before(e.until) && bytes.Equal(e.payload, payload) {
		return e.payload, nil
	}
	verified, err := c.inner.VerifySignature(ctx, jws)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if len(c.entries) >= c.max {
		for k, v := range c.entries { // drop expired entries, or everything
			if !now.Before(v.until) {
				delete(c.entries, k)
			}
		}
		if len(c.entries) >= c.max {
			clear(c.entries)
		}
	}
	c.entries[key] = verifiedEntry{payload: verified, until: now.Add(c.ttl)}
	c.mu.Unlock()
	return verified, nil
}
