package client

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

var testSecret = []byte("0123456789abcdef0123456789abcdef")

// clock is a settable test clock.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newTestRegistry(db *store.DB) (*Registry, *clock) {
	c := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.UTC)}
	return NewRegistry(db, testSecret, c.now), c
}

func webSpec(name string) Spec {
	return Spec{Name: new(name), RedirectURIs: &[]string{"https://" + name + ".example/callback"}}
}

func TestRegistryCRUD(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		reg, clk := newTestRegistry(db)

		c, secret, err := reg.Create(ctx, "customers", webSpec("shop"))
		if err != nil {
			t.Fatal(err)
		}
		if c.ID == "" || c.Domain != "customers" || !c.HasSecret || !strings.HasPrefix(secret, SecretPrefix) {
			t.Fatalf("created %+v, secret %q", c, secret)
		}
		if !c.CreatedAt.Equal(clk.t.Truncate(time.Microsecond)) || !c.UpdatedAt.Equal(c.CreatedAt) {
			t.Fatalf("times %v %v", c.CreatedAt, c.UpdatedAt)
		}
		got, err := reg.Get(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, c) {
			t.Fatalf("Get differs from Create:\n%+v\n%+v", got, c)
		}

		// A public client gets no secret.
		pub, pubSecret, err := reg.Create(ctx, "customers", Spec{Name: new("app"), Public: new(true), RedirectURIs: &[]string{"com.example.app:/cb"}})
		if err != nil || pubSecret != "" || pub.HasSecret || pub.AuthMethod != AuthMethodNone {
			t.Fatalf("public: %+v %q %v", pub, pubSecret, err)
		}
		if _, err := reg.RotateSecret(ctx, pub.ID); !errors.Is(err, ErrNoSecret) {
			t.Fatalf("rotate public: %v", err)
		}

		if err := reg.Delete(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := reg.Get(ctx, c.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("get deleted: %v", err)
		}
		if err := reg.Delete(ctx, c.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("delete twice: %v", err)
		}
		if _, err := reg.Update(ctx, c.ID, Spec{Name: new("x")}); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("update deleted: %v", err)
		}
		if _, err := reg.RotateSecret(ctx, c.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("rotate deleted: %v", err)
		}
		if _, err := reg.VerifySecret(ctx, c.ID, secret); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("verify deleted: %v", err)
		}
	})
}

func TestRegistryCreateInvalid(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		reg, _ := newTestRegistry(db)
		_, _, err := reg.Create(ctx, "customers", Spec{Name: new("shop"), RedirectURIs: &[]string{"http://shop.example/cb"}})
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Field != "redirect_uris[0]" {
			t.Fatalf("err %v", err)
		}
		if list, _ := reg.List(ctx, "customers"); len(list) != 0 {
			t.Fatalf("invalid client stored: %+v", list)
		}
	})
}

func TestSecretStorage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		reg, _ := newTestRegistry(db)
		c, secret, err := reg.Create(ctx, "customers", webSpec("shop"))
		if err != nil {
			t.Fatal(err)
		}
		// The row holds a keyed hash, never the secret or its random part.
		var stored string
		if err := db.QueryRow(ctx, `SELECT secret_hash FROM oauth_clients WHERE id = $1`, c.ID).Scan(&stored); err != nil {
			t.Fatal(err)
		}
		if stored == "" || strings.Contains(stored, secret) || strings.Contains(stored, strings.TrimPrefix(secret, SecretPrefix)) {
			t.Fatalf("stored %q", stored)
		}

		v, err := reg.VerifySecret(ctx, c.ID, secret)
		if err != nil || v.ID != c.ID {
			t.Fatalf("verify: %+v %v", v, err)
		}
		for _, bad := range []struct{ id, secret string }{
			{c.ID, secret + "x"},
			{c.ID, ""},
			{c.ID, stored},
			{"unknown", secret},
			{"", ""},
		} {
			if _, err := reg.VerifySecret(ctx, bad.id, bad.secret); !errors.Is(err, ErrInvalidCredentials) {
				t.Errorf("VerifySecret(%q, %q) = %v, want ErrInvalidCredentials", bad.id, bad.secret, err)
			}
		}
		// Another server secret: the stored hashes do not verify.
		other := NewRegistry(db, []byte(strings.Repeat("z", 32)), nil)
		if _, err := other.VerifySecret(ctx, c.ID, secret); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("other server secret: %v", err)
		}

		// Rotation: the new secret works, the old one stops at once.
		newSecret, err := reg.RotateSecret(ctx, c.ID)
		if err != nil || newSecret == secret || !strings.HasPrefix(newSecret, SecretPrefix) {
			t.Fatalf("rotate: %q %v", newSecret, err)
		}
		if _, err := reg.VerifySecret(ctx, c.ID, secret); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("old secret after rotation: %v", err)
		}
		if _, err := reg.VerifySecret(ctx, c.ID, newSecret); err != nil {
			t.Fatalf("new secret: %v", err)
		}

		// Switching to private_key_jwt drops the secret.
		key := ecKey(t)
		jwks := testJWKS(t, jose.JSONWebKey{Key: &key.PublicKey, KeyID: "k1", Use: "sig"})
		u, err := reg.Update(ctx, c.ID, Spec{AuthMethod: new(AuthMethodPrivateKeyJWT), JWKS: jwks})
		if err != nil || u.HasSecret || u.JWKS == nil || len(u.JWKS.Keys) != 1 {
			t.Fatalf("to private_key_jwt: %+v %v", u, err)
		}
		if _, err := reg.VerifySecret(ctx, c.ID, newSecret); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("secret after switching to private_key_jwt: %v", err)
		}
		got, err := reg.Get(ctx, c.ID)
		if err != nil || got.JWKS == nil || got.JWKS.Keys[0].KeyID != "k1" || !got.JWKS.Keys[0].IsPublic() {
			t.Fatalf("stored jwks: %+v %v", got, err)
		}
		// And back: no secret until it is rotated.
		u, err = reg.Update(ctx, c.ID, Spec{AuthMethod: new(AuthMethodPost)})
		if err != nil || u.HasSecret {
			t.Fatalf("back to a secret method: %+v %v", u, err)
		}
		s3, err := reg.RotateSecret(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if v, err := reg.VerifySecret(ctx, c.ID, s3); err != nil || !v.HasSecret {
			t.Fatalf("after rotation: %+v %v", v, err)
		}
	})
}

func TestUpdateMerges(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		reg, clk := newTestRegistry(db)
		spec := webSpec("shop")
		spec.Scopes = &[]string{"openid", "email"}
		spec.FirstParty = new(true)
		c, secret, err := reg.Create(ctx, "customers", spec)
		if err != nil {
			t.Fatal(err)
		}
		clk.t = clk.t.Add(time.Hour)

		u, err := reg.Update(ctx, c.ID, Spec{
			Name:                   new("Shop 2"),
			PostLogoutRedirectURIs: &[]string{"https://shop.example/"},
			AccessTokenTTL:         new(Duration(15 * time.Minute)),
		})
		if err != nil {
			t.Fatal(err)
		}
		want := *c
		want.Name = "Shop 2"
		want.PostLogoutRedirectURIs = []string{"https://shop.example/"}
		want.AccessTokenTTL = Duration(15 * time.Minute)
		want.UpdatedAt = clk.t.Truncate(time.Microsecond)
		if !reflect.DeepEqual(u, &want) {
			t.Fatalf("merged:\n%+v\nwant\n%+v", u, &want)
		}
		if got, _ := reg.Get(ctx, c.ID); !reflect.DeepEqual(got, &want) {
			t.Fatalf("stored:\n%+v\nwant\n%+v", got, &want)
		}
		// The secret survives an update that keeps a secret method.
		if _, err := reg.VerifySecret(ctx, c.ID, secret); err != nil {
			t.Fatalf("secret after update: %v", err)
		}

		// The merged result is validated: emptying the redirect URIs of an
		// authorization_code client fails and changes nothing.
		_, err = reg.Update(ctx, c.ID, Spec{RedirectURIs: &[]string{}})
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Field != "redirect_uris" {
			t.Fatalf("empty redirect uris: %v", err)
		}
		if got, _ := reg.Get(ctx, c.ID); !reflect.DeepEqual(got, &want) {
			t.Fatalf("failed update changed the client: %+v", got)
		}
		// A confidential client cannot become public while it keeps
		// client_credentials.
		if _, err := reg.Update(ctx, c.ID, Spec{GrantTypes: &[]string{GrantAuthorizationCode, GrantClientCredentials}}); err != nil {
			t.Fatal(err)
		}
		if _, err := reg.Update(ctx, c.ID, Spec{Public: new(true)}); !errors.As(err, &ve) || ve.Field != "grant_types" {
			t.Fatalf("public with client_credentials: %v", err)
		}
		// Becoming public switches the method to none and drops the secret.
		u, err = reg.Update(ctx, c.ID, Spec{Public: new(true), GrantTypes: &[]string{GrantAuthorizationCode}})
		if err != nil || u.AuthMethod != AuthMethodNone || u.HasSecret {
			t.Fatalf("to public: %+v %v", u, err)
		}
		if _, err := reg.VerifySecret(ctx, c.ID, secret); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("secret of a public client: %v", err)
		}
	})
}

func TestListByDomain(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		reg, clk := newTestRegistry(db)
		var want []string
		for _, name := range []string{"a", "b", "c"} {
			c, _, err := reg.Create(ctx, "customers", webSpec(name))
			if err != nil {
				t.Fatal(err)
			}
			want = append(want, c.ID)
			clk.t = clk.t.Add(time.Second)
		}
		if _, _, err := reg.Create(ctx, "staff", webSpec("intranet")); err != nil {
			t.Fatal(err)
		}
		list, err := reg.List(ctx, "customers")
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, c := range list {
			got = append(got, c.ID)
		}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Fatalf("list %v, want %v (oldest first)", got, want)
		}
		if list, err := reg.List(ctx, "nobody"); err != nil || list == nil || len(list) != 0 {
			t.Fatalf("empty domain: %#v %v", list, err)
		}
	})
}

// Deleting a client revokes its tokens: the rows go with it.
func TestDeleteRemovesTokens(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		reg, _ := newTestRegistry(db)
		c, _, err := reg.Create(ctx, "customers", webSpec("shop"))
		if err != nil {
			t.Fatal(err)
		}
		_, err = db.Exec(ctx, `INSERT INTO oauth_tokens (id, kind, token_hash, family_id, auth_request_id, domain, client_id, subject,
			session_id, scopes, audience, amr, acr, auth_time, created_at, expires_at, family_expires_at)
			VALUES ('t1', 'refresh', 'h1', 'f1', 'r1', 'customers', $1, 's', 'sess', '[]', '[]', '[]', '', 1, 1, 2, 2)`, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if err := reg.Delete(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
		var n int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM oauth_tokens WHERE client_id = $1`, c.ID).Scan(&n); err != nil || n != 0 {
			t.Fatalf("tokens left: %d %v", n, err)
		}
	})
}

func BenchmarkVerifySecret(b *testing.B) {
	storetest.EachB(b, func(b *testing.B, db *store.DB) {
		ctx := context.Background()
		reg := NewRegistry(db, testSecret, nil)
		c, secret, err := reg.Create(ctx, "customers", Spec{Name: new("batch"), GrantTypes: &[]string{GrantClientCredentials}})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				if _, err := reg.VerifySecret(ctx, c.ID, secret); err != nil {
					b.Error(err)
					return
				}
			}
		})
	})
	b.Run("hmac-only", func(b *testing.B) {
		key := secretKey(testSecret)
		s := newSecret()
		h := hashSecret(key, s)
		dummy := mac(key, "dummy")
		b.ReportAllocs()
		for b.Loop() {
			if !checkSecret(key, dummy, h, s) {
				b.Fatal("no match")
			}
		}
	})
}

// A change through the registry shows at once; one made by another
// process (a second Registry on the same database) shows once the cached
// entry is older than CacheFor.
func TestRegistryCache(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		reg, _ := newTestRegistry(db)
		other, _ := newTestRegistry(db)
		// The cache's clock stands still, however slow a loaded machine
		// makes the test: entries age only when the test says so.
		still := time.Now()
		reg.ticks = func() time.Time { return still }
		c, secret, err := reg.Create(ctx, "customers", webSpec("cached"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reg.VerifySecret(ctx, c.ID, secret); err != nil {
			t.Fatal(err)
		}
		// Rotated here: the old secret stops working at once.
		fresh, err := reg.RotateSecret(ctx, c.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := reg.VerifySecret(ctx, c.ID, secret); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("old secret after rotation: %v", err)
		}
		// Renamed by the other process: still cached here...
		if _, err := other.Update(ctx, c.ID, Spec{Name: new("renamed")}); err != nil {
			t.Fatal(err)
		}
		if got, _ := reg.Get(ctx, c.ID); got.Name != "cached" {
			t.Fatalf("within CacheFor: %q", got.Name)
		}
		// ...until the entry is CacheFor old.
		reg.mu.Lock()
		e := reg.cache[c.ID]
		e.until = still.Add(-time.Nanosecond)
		reg.cache[c.ID] = e
		reg.mu.Unlock()
		if got, _ := reg.Get(ctx, c.ID); got.Name != "renamed" {
			t.Fatalf("after CacheFor: %q", got.Name)
		}
		// Deleted here: gone at once; callers cannot change the cache.
		got, _ := reg.Get(ctx, c.ID)
		got.Name = "mutated"
		if again, _ := reg.Get(ctx, c.ID); again.Name != "renamed" {
			t.Fatalf("a caller changed the cached client: %q", again.Name)
		}
		if err := reg.Delete(ctx, c.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := reg.VerifySecret(ctx, c.ID, fresh); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("deleted client: %v", err)
		}
	})
}

func TestPublicOrigins(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		reg, _ := newTestRegistry(db)
		other, _ := newTestRegistry(db)
		still := time.Now() // the cache's clock stands still (see TestRegistryCache)
		reg.ticks = func() time.Time { return still }
		spa, _, err := reg.Create(ctx, "customers", Spec{Name: new("spa"), Public: new(true),
			RedirectURIs: &[]string{"https://spa.example/cb", "http://localhost:3000/cb", "com.example.app:/cb"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := reg.Create(ctx, "customers", webSpec("confidential")); err != nil {
			t.Fatal(err)
		}
		if _, _, err := reg.Create(ctx, "workforce", Spec{Name: new("staff"), Public: new(true),
			RedirectURIs: &[]string{"https://staff.example/cb"}}); err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{"https://spa.example": true, "http://localhost:3000": true}
		if got, err := reg.PublicOrigins(ctx, "customers"); err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("origins %v, %v; want %v", got, err, want)
		}
		// A change here shows at once; one made elsewhere within CacheFor.
		if _, err := reg.Update(ctx, spa.ID, Spec{RedirectURIs: &[]string{"https://new.example/cb"}}); err != nil {
			t.Fatal(err)
		}
		if got, _ := reg.PublicOrigins(ctx, "customers"); !reflect.DeepEqual(got, map[string]bool{"https://new.example": true}) {
			t.Fatalf("after an update here: %v", got)
		}
		if err := other.Delete(ctx, spa.ID); err != nil {
			t.Fatal(err)
		}
		if got, _ := reg.PublicOrigins(ctx, "customers"); !got["https://new.example"] {
			t.Fatalf("within CacheFor of a deletion elsewhere: %v", got)
		}
		reg.mu.Lock()
		e := reg.domains["customers"]
		e.until = still.Add(-time.Nanosecond)
		reg.domains["customers"] = e
		reg.mu.Unlock()
		if got, _ := reg.PublicOrigins(ctx, "customers"); len(got) != 0 {
			t.Fatalf("after CacheFor: %v", got)
		}
	})
}

func TestDetailsTypes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		reg, _ := newTestRegistry(db)
		if got, err := reg.DetailsTypes(ctx, "customers"); err != nil || len(got) != 0 {
			t.Fatalf("no clients: %v, %v", got, err)
		}
		spec := webSpec("bank")
		spec.AuthorizationDetailsTypes = &[]string{"payment_initiation", "account_information"}
		bank, _, err := reg.Create(ctx, "customers", spec)
		if err != nil {
			t.Fatal(err)
		}
		spec = webSpec("shop")
		spec.AuthorizationDetailsTypes = &[]string{"payment_initiation"}
		if _, _, err := reg.Create(ctx, "customers", spec); err != nil {
			t.Fatal(err)
		}
		spec = webSpec("staff")
		spec.AuthorizationDetailsTypes = &[]string{"payroll"}
		if _, _, err := reg.Create(ctx, "workforce", spec); err != nil {
			t.Fatal(err)
		}
		want := []string{"account_information", "payment_initiation"}
		if got, err := reg.DetailsTypes(ctx, "customers"); err != nil || !reflect.DeepEqual(got, want) {
			t.Fatalf("types %v, %v; want %v", got, err, want)
		}
		got, err := reg.Get(ctx, bank.ID)
		if err != nil || !reflect.DeepEqual(got.AuthorizationDetailsTypes, []string{"payment_initiation", "account_information"}) {
			t.Fatalf("stored types %v, %v", got, err)
		}
		// An update shows at once; emptying the list keeps others' types.
		if _, err := reg.Update(ctx, bank.ID, Spec{AuthorizationDetailsTypes: &[]string{}}); err != nil {
			t.Fatal(err)
		}
		if got, _ := reg.DetailsTypes(ctx, "customers"); !reflect.DeepEqual(got, []string{"payment_initiation"}) {
			t.Fatalf("after an update: %v", got)
		}
	})
}
