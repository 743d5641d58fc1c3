package keys_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/foyer-id/foyer/internal/keys"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// The types plug into zitadel/oidc's provider as they are.
var (
	_ op.Key        = keys.Key{}
	_ op.SigningKey = keys.SigningKey{}
)

var secret = []byte("test-secret-test-secret-test-secret-0123")

// clock is a settable clock shared by the Managers of a test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var testRotation = keys.Rotation{PublishBefore: 24 * time.Hour, RetainAfter: 7 * 24 * time.Hour, CacheFor: 30 * time.Second}

func newManager(t testing.TB, db *store.DB, c *clock, secret []byte) *keys.Manager {
	t.Helper()
	m, err := keys.NewManager(db, secret, c.Now, testRotation)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

type claims struct {
	jwt.Claims
	Nonce string `json:"nonce"`
}

// sign signs a small ID-token-like JWT the way zitadel/oidc does.
func sign(t testing.TB, sk keys.SigningKey) string {
	t.Helper()
	signer, err := op.SignerFromKey(sk)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(signer).Claims(claims{
		Claims: jwt.Claims{Issuer: "https://id.example.com", Subject: "user-1", Audience: jwt.Audience{"client-1"}},
		Nonce:  "n-0S6_WzA2Mj",
	}).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// verify checks tok the way a relying party does: fetch the JWKS (through
// JSON), find the key by kid, verify.
func verify(t testing.TB, m *keys.Manager, tok string) error {
	t.Helper()
	set, err := m.JWKS(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	raw, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	var fetched jose.JSONWebKeySet
	if err := json.Unmarshal(raw, &fetched); err != nil {
		t.Fatal(err)
	}
	parsed, err := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.ES256, jose.RS256, jose.EdDSA})
	if err != nil {
		return err
	}
	found := fetched.Key(parsed.Headers[0].KeyID)
	if len(found) != 1 {
		return fmt.Errorf("kid %s: %d keys in the JWKS", parsed.Headers[0].KeyID, len(found))
	}
	if found[0].Use != "sig" || found[0].Algorithm != parsed.Headers[0].Algorithm || !found[0].IsPublic() {
		return fmt.Errorf("JWK %+v does not fit header %+v", found[0], parsed.Headers[0])
	}
	var c claims
	if err := parsed.Claims(found[0].Key, &c); err != nil {
		return err
	}
	if c.Subject != "user-1" || c.Nonce != "n-0S6_WzA2Mj" {
		return fmt.Errorf("claims %+v", c)
	}
	return nil
}

func TestRoundTrip(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		m := newManager(t, db, newClock(), secret)
		for _, alg := range keys.Algorithms() {
			t.Run(alg, func(t *testing.T) {
				if err := m.Ensure(ctx, alg); err != nil {
					t.Fatal(err)
				}
				sk, err := m.Signer(ctx, alg)
				if err != nil {
					t.Fatal(err)
				}
				if string(sk.SignatureAlgorithm()) != alg || len(sk.ID()) != 22 {
					t.Fatalf("signer %s %q", sk.SignatureAlgorithm(), sk.ID())
				}
				tok := sign(t, sk)
				parsed, _ := jwt.ParseSigned(tok, []jose.SignatureAlgorithm{jose.SignatureAlgorithm(alg)})
				if h := parsed.Headers[0]; h.KeyID != sk.ID() || h.Algorithm != alg {
					t.Fatalf("header %+v", h)
				}
				if err := verify(t, m, tok); err != nil {
					t.Fatal(err)
				}
				// The same key through the other API.
				pubs, err := m.PublicKeys(ctx)
				if err != nil {
					t.Fatal(err)
				}
				var k *keys.Key
				for i := range pubs {
					if pubs[i].ID() == sk.ID() {
						k = &pubs[i]
					}
				}
				if k == nil || k.Use() != "sig" || string(k.Algorithm()) != alg || k.Info().State != keys.Active {
					t.Fatalf("public key for %s: %+v", sk.ID(), k)
				}
			})
		}
		// A second Ensure changes nothing.
		before, _ := m.List(ctx)
		if err := m.Ensure(ctx, keys.Algorithms()...); err != nil {
			t.Fatal(err)
		}
		after, _ := m.List(ctx)
		if len(before) != 3 || len(after) != 3 {
			t.Fatalf("keys before %d, after %d; want 3", len(before), len(after))
		}
	})
}

func TestPrivateKeyAtRest(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := newClock()
		m := newManager(t, db, c, secret)
		if err := m.Ensure(ctx); err != nil { // default: ES256
			t.Fatal(err)
		}
		sk, err := m.Signer(ctx, keys.ES256)
		if err != nil {
			t.Fatal(err)
		}
		var stored, jwk string
		if err := db.QueryRow(ctx, `SELECT private_key, public_jwk FROM signing_keys WHERE id = $1`, sk.ID()).Scan(&stored, &jwk); err != nil {
			t.Fatal(err)
		}
		raw, err := base64.StdEncoding.DecodeString(stored)
		if err != nil {
			t.Fatalf("private_key is not base64: %v", err)
		}
		der, _ := x509.MarshalPKCS8PrivateKey(sk.Key())
		scalar := sk.Key().(*ecdsa.PrivateKey).D.Bytes()
		if bytes.Contains(raw, der) || bytes.Contains(raw, scalar) || strings.Contains(stored, base64.StdEncoding.EncodeToString(der)) {
			t.Fatal("private_key holds the raw key")
		}
		if _, err := x509.ParsePKCS8PrivateKey(raw); err == nil {
			t.Fatal("private_key parses as PKCS#8")
		}
		if len(raw) != 12+len(der)+16 {
			t.Fatalf("private_key is %d bytes, want nonce+DER+tag = %d", len(raw), 12+len(der)+16)
		}
		if strings.Contains(jwk, `"d"`) {
			t.Fatalf("public_jwk holds private material: %s", jwk)
		}
		if s := fmt.Sprintf("%v %+v %#v", sk, sk, sk); strings.Contains(s, scalar2hex(scalar)) || !strings.Contains(s, sk.ID()) {
			t.Fatalf("formatted signing key: %s", s)
		}

		wrongSecret := []byte("another-secret-another-secret-another-se")
		wrong := newManager(t, db, c, wrongSecret)
		_, err = wrong.Signer(ctx, keys.ES256)
		if !errors.Is(err, keys.ErrDecrypt) || !strings.Contains(err.Error(), sk.ID()) {
			t.Fatalf("Signer with the wrong secret: %v", err)
		}
		if err := wrong.Ensure(ctx, keys.ES256); !errors.Is(err, keys.ErrDecrypt) {
			t.Fatalf("Ensure with the wrong secret: %v", err)
		}
		// Nor may it add keys the servers cannot read.
		for _, alg := range []string{keys.ES256, keys.EdDSA} {
			if _, err := wrong.Rotate(ctx, alg); !errors.Is(err, keys.ErrDecrypt) {
				t.Fatalf("Rotate %s with the wrong secret: %v", alg, err)
			}
			if err := wrong.Ensure(ctx, alg); !errors.Is(err, keys.ErrDecrypt) {
				t.Fatalf("Ensure %s with the wrong secret: %v", alg, err)
			}
		}
		if l, _ := m.List(ctx); len(l) != 1 {
			t.Fatalf("%d keys after refused changes, want 1", len(l))
		}
		if strings.Contains(err.Error(), string(wrongSecret)) || strings.Contains(err.Error(), string(secret)) {
			t.Fatal("error carries the secret")
		}
		// Publishing needs no secret that matches.
		if pubs, err := wrong.PublicKeys(ctx); err != nil || len(pubs) != 1 {
			t.Fatalf("PublicKeys with the wrong secret: %d, %v", len(pubs), err)
		}

		// A ciphertext moved to another row does not decrypt (the kid is
		// authenticated).
		k2, err := m.Rotate(ctx, keys.ES256)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(ctx, `UPDATE signing_keys SET private_key = (SELECT private_key FROM signing_keys WHERE id = $1) WHERE id = $2`, k2.ID(), sk.ID()); err != nil {
			t.Fatal(err)
		}
		fresh := newManager(t, db, c, secret)
		if _, err := fresh.Signer(ctx, keys.ES256); !errors.Is(err, keys.ErrDecrypt) {
			t.Fatalf("swapped ciphertext: %v", err)
		}
	})
}

func scalar2hex(b []byte) string { return fmt.Sprintf("%x", b) }

func TestNewManagerRefuses(t *testing.T) {
	db := storetest.NewSQLite(t)
	for _, tc := range []struct {
		name   string
		secret []byte
		rot    keys.Rotation
		want   string
	}{
		{"short secret", []byte("short"), keys.Rotation{}, "at least 32 bytes"},
		{"no secret", nil, keys.Rotation{}, "at least 32 bytes"},
		{"negative publish", secret, keys.Rotation{PublishBefore: -time.Hour}, "PublishBefore"},
		{"negative retain", secret, keys.Rotation{RetainAfter: -time.Hour}, "RetainAfter"},
		{"negative cache", secret, keys.Rotation{CacheFor: -time.Second}, "CacheFor"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := keys.NewManager(db, tc.secret, nil, tc.rot)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %q", err, tc.want)
			}
		})
	}
	m, err := keys.NewManager(db, secret, nil, keys.Rotation{})
	if err != nil {
		t.Fatal(err)
	}
	want := keys.Rotation{PublishBefore: 24 * time.Hour, RetainAfter: 7 * 24 * time.Hour, CacheFor: 5 * time.Second}
	if got := m.Rotation(); got != want {
		t.Fatalf("defaults %+v, want %+v", got, want)
	}
}

func TestUnknownAlgorithms(t *testing.T) {
	ctx := context.Background()
	m := newManager(t, storetest.NewSQLite(t), newClock(), secret)
	for _, alg := range []string{"HS256", "none", "es256", ""} {
		if _, err := m.Signer(ctx, alg); !errors.Is(err, keys.ErrUnsupportedAlgorithm) {
			t.Errorf("Signer(%q): %v", alg, err)
		}
		if _, err := m.Rotate(ctx, alg); !errors.Is(err, keys.ErrUnsupportedAlgorithm) {
			t.Errorf("Rotate(%q): %v", alg, err)
		}
		if err := m.Ensure(ctx, keys.ES256, alg); !errors.Is(err, keys.ErrUnsupportedAlgorithm) {
			t.Errorf("Ensure(%q): %v", alg, err)
		}
	}
	// A supported algorithm without a key is "not found".
	if _, err := m.Signer(ctx, keys.RS256); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Signer(RS256) without a key: %v", err)
	}
}
