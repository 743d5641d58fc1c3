package risk_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/foyer-id/foyer/internal/risk"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
	"github.com/foyer-id/foyer/internal/throttle"
)

// proof signs a device proof with key, with claims (htm, htu, iat, jti
// and whatever the case changes) and header typ.
func proof(t *testing.T, key any, alg jose.SignatureAlgorithm, typ string, claims map[string]any) string {
	t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, (&jose.SignerOptions{EmbedJWK: true}).WithType(jose.ContentType(typ)))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A device proof names its device by its key, holds only for the request
// it was made for, for a minute, once; anything else is refused with the
// reason.
func TestDeviceProofs(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		now := time.Date(2026, 12, 5, 12, 0, 0, 0, time.UTC)
		p := &risk.DeviceProofs{Throttle: throttle.NewLimiter(db, func() time.Time { return now }), Now: func() time.Time { return now }}
		ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		_, ed, _ := ed25519.GenerateKey(rand.Reader)
		const url = "https://id.example.com/api/login/123"
		claims := func(jti string, change ...any) map[string]any {
			c := map[string]any{"htm": "POST", "htu": url, "iat": now.Unix(), "jti": jti}
			for i := 0; i+1 < len(change); i += 2 {
				c[change[i].(string)] = change[i+1]
			}
			return c
		}
		first, err := p.Check(ctx, proof(t, ec, jose.ES256, "dpop+jwt", claims("a")), "POST", url)
		if err != nil || !strings.HasPrefix(first, "dk:") {
			t.Fatalf("good proof: %q, %v", first, err)
		}
		again, err := p.Check(ctx, proof(t, ec, jose.ES256, "dpop+jwt", claims("b")), "POST", url)
		if err != nil || again != first {
			t.Fatalf("the same key is the same device: %q, %v", again, err)
		}
		other, err := p.Check(ctx, proof(t, ed, jose.EdDSA, "dpop+jwt", claims("a")), "POST", url)
		if err != nil || other == first {
			t.Fatalf("another key (Ed25519): %q, %v", other, err)
		}
		for name, bad := range map[string]string{
			"replayed":        proof(t, ec, jose.ES256, "dpop+jwt", claims("a")),
			"another method":  proof(t, ec, jose.ES256, "dpop+jwt", claims("c", "htm", "GET")),
			"another URL":     proof(t, ec, jose.ES256, "dpop+jwt", claims("d", "htu", "https://id.example.com/api/login/456")),
			"from the past":   proof(t, ec, jose.ES256, "dpop+jwt", claims("e", "iat", now.Add(-2*time.Minute).Unix())),
			"from the future": proof(t, ec, jose.ES256, "dpop+jwt", claims("f", "iat", now.Add(2*time.Minute).Unix())),
			"no jti":          proof(t, ec, jose.ES256, "dpop+jwt", claims("")),
			"another type":    proof(t, ec, jose.ES256, "JWT", claims("g")),
			"HMAC":            proof(t, []byte("0123456789abcdef0123456789abcdef"), jose.HS256, "dpop+jwt", claims("h")),
			"garbage":         "not.a.proof",
		} {
			if id, err := p.Check(ctx, bad, "POST", url); !errors.Is(err, risk.ErrDeviceProof) || id != "" {
				t.Errorf("%s: %q, %v", name, id, err)
			}
		}
		// A proof whose signature was made by another key than the one
		// in its header.
		good := proof(t, ec, jose.ES256, "dpop+jwt", claims("i"))
		forged := proof(t, ed, jose.EdDSA, "dpop+jwt", claims("i"))
		parts, fparts := strings.Split(good, "."), strings.Split(forged, ".")
		if _, err := p.Check(ctx, parts[0]+"."+parts[1]+"."+fparts[2], "POST", url); !errors.Is(err, risk.ErrDeviceProof) {
			t.Errorf("a signature of another key: %v", err)
		}
	})
}
