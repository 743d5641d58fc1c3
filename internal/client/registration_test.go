package client

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// A client that registers itself is third-party, and only its
// registration access token reads, replaces or deletes its registration.
func TestRegisterAndManage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		reg, clk := newTestRegistry(db)
		spec := webSpec("partner")
		spec.FirstParty = new(true) // not for a client that registers itself
		spec.Contacts = &[]string{"ops@partner.example"}
		spec.ApplicationType = new(ApplicationWeb)
		got, err := reg.Register(ctx, "customers", spec, "")
		if err != nil {
			t.Fatal(err)
		}
		c := got.Client
		if !c.Dynamic || c.FirstParty || !c.HasSecret || !strings.HasPrefix(got.Secret, SecretPrefix) ||
			!strings.HasPrefix(got.AccessToken, RegistrationTokenPrefix) || got.InitialToken != "" || c.Contacts[0] != "ops@partner.example" {
			t.Fatalf("registered %+v", got)
		}
		// Only a hash of the token is stored.
		var stored string
		if err := db.QueryRow(ctx, `SELECT registration_token_hash FROM oauth_clients WHERE id = $1`, c.ID).Scan(&stored); err != nil ||
			stored == "" || strings.Contains(stored, strings.TrimPrefix(got.AccessToken, RegistrationTokenPrefix)) {
			t.Fatalf("stored %q %v", stored, err)
		}
		if read, err := reg.Registered(ctx, c.ID, got.AccessToken); err != nil || read.ID != c.ID || !read.Dynamic {
			t.Fatalf("read: %+v %v", read, err)
		}
		if _, err := reg.VerifySecret(ctx, c.ID, got.Secret); err != nil {
			t.Fatalf("secret: %v", err)
		}

		// Nothing else opens it: no token, a wrong one, a secret, another
		// client's token, the token for another client, a client the
		// operator registered.
		other, err := reg.Register(ctx, "customers", webSpec("other"), "")
		if err != nil {
			t.Fatal(err)
		}
		operators, _, err := reg.Create(ctx, "customers", webSpec("shop"))
		if err != nil {
			t.Fatal(err)
		}
		for _, bad := range []struct{ id, token string }{
			{c.ID, ""}, {c.ID, got.AccessToken + "x"}, {c.ID, got.Secret}, {c.ID, stored}, {c.ID, other.AccessToken},
			{other.Client.ID, got.AccessToken}, {operators.ID, got.AccessToken}, {operators.ID, ""}, {"unknown", got.AccessToken}, {"bad\x00id", ""},
		} {
			if _, err := reg.Registered(ctx, bad.id, bad.token); !errors.Is(err, ErrInvalidRegistrationToken) {
				t.Errorf("Registered(%q, %q) = %v", bad.id, bad.token, err)
			}
			if _, err := reg.UpdateRegistered(ctx, bad.id, bad.token, Spec{Name: new("x")}); !errors.Is(err, ErrInvalidRegistrationToken) {
				t.Errorf("UpdateRegistered(%q, %q) = %v", bad.id, bad.token, err)
			}
			if err := reg.DeleteRegistered(ctx, bad.id, bad.token); !errors.Is(err, ErrInvalidRegistrationToken) {
				t.Errorf("DeleteRegistered(%q, %q) = %v", bad.id, bad.token, err)
			}
		}

		// An update rotates the token; a switch to private_key_jwt drops
		// the secret, and back to a secret method issues a new one.
		clk.t = clk.t.Add(time.Minute)
		up, err := reg.UpdateRegistered(ctx, c.ID, got.AccessToken, Spec{AuthMethod: new(AuthMethodPrivateKeyJWT), JWKS: testJWKS(t, jose.JSONWebKey{Key: ecKey(t).Public(), KeyID: "k1", Use: "sig"})})
		if err != nil || up.AccessToken == got.AccessToken || up.Secret != "" || up.Client.HasSecret || !up.Client.UpdatedAt.After(c.UpdatedAt) {
			t.Fatalf("update: %+v %v", up, err)
		}
		if _, err := reg.Registered(ctx, c.ID, got.AccessToken); !errors.Is(err, ErrInvalidRegistrationToken) {
			t.Fatalf("the replaced token still reads: %v", err)
		}
		back, err := reg.UpdateRegistered(ctx, c.ID, up.AccessToken, Spec{AuthMethod: new(AuthMethodPost), JWKS: []byte(`{"keys": []}`)})
		if err != nil || !strings.HasPrefix(back.Secret, SecretPrefix) || !back.Client.HasSecret {
			t.Fatalf("back to a secret: %+v %v", back, err)
		}
		if _, err := reg.VerifySecret(ctx, c.ID, back.Secret); err != nil {
			t.Fatalf("the new secret: %v", err)
		}
		// An update is validated; a refused one changes nothing.
		if _, err := reg.UpdateRegistered(ctx, c.ID, back.AccessToken, Spec{FirstParty: new(true)}); !isField(err, "first_party") {
			t.Fatalf("first-party update: %v", err)
		}
		if _, err := reg.Update(ctx, c.ID, Spec{FirstParty: new(true)}); !isField(err, "first_party") {
			t.Fatalf("the operator made it first-party: %v", err)
		}
		if _, err := reg.Registered(ctx, c.ID, back.AccessToken); err != nil {
			t.Fatalf("a refused update spent the token: %v", err)
		}

		if err := reg.DeleteRegistered(ctx, c.ID, back.AccessToken); err != nil {
			t.Fatal(err)
		}
		if _, err := reg.Get(ctx, c.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("deleted: %v", err)
		}
		if err := reg.DeleteRegistered(ctx, c.ID, back.AccessToken); !errors.Is(err, ErrInvalidRegistrationToken) {
			t.Fatalf("delete twice: %v", err)
		}
	})
}

func isField(err error, field string) bool {
	var ve *ValidationError
	return errors.As(err, &ve) && ve.Field == field
}

// Initial access tokens: bounded, listed, revoked; each registration
// takes one use, and a refused one none.
func TestInitialTokens(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		reg, clk := newTestRegistry(db)
		for _, bad := range []struct {
			ttl   time.Duration
			uses  int
			note  string
			field string
		}{
			{30 * time.Second, 1, "", "expires"}, {MaxInitialTokenTTL + time.Hour, 1, "", "expires"},
			{time.Hour, 0, "", "uses"}, {time.Hour, MaxInitialTokenUses + 1, "", "uses"},
			{time.Hour, 1, "a\nb", "note"}, {time.Hour, 1, strings.Repeat("n", 201), "note"},
		} {
			if _, _, err := reg.CreateInitialToken(ctx, "customers", bad.ttl, bad.uses, bad.note); !isField(err, bad.field) {
				t.Errorf("CreateInitialToken(%s, %d, %q) = %v, want a problem with %s", bad.ttl, bad.uses, bad.note, err, bad.field)
			}
		}
		it, token, err := reg.CreateInitialToken(ctx, "customers", time.Hour, 2, "conformance suite")
		if err != nil || !strings.HasPrefix(token, InitialTokenPrefix) || it.UsesLeft != 2 || !it.ExpiresAt.Equal(it.CreatedAt.Add(time.Hour)) {
			t.Fatalf("created %+v %q %v", it, token, err)
		}
		var stored string
		if err := db.QueryRow(ctx, `SELECT token_hash FROM oauth_initial_tokens WHERE id = $1`, it.ID).Scan(&stored); err != nil ||
			strings.Contains(stored, strings.TrimPrefix(token, InitialTokenPrefix)) {
			t.Fatalf("stored %q %v", stored, err)
		}
		if err := reg.CheckInitialToken(ctx, "customers", token); err != nil {
			t.Fatal(err)
		}
		for _, bad := range []struct{ domain, token string }{{"customers", token + "x"}, {"customers", ""}, {"workforce", token}, {"customers", stored}} {
			if err := reg.CheckInitialToken(ctx, bad.domain, bad.token); !errors.Is(err, ErrInvalidInitialToken) {
				t.Errorf("CheckInitialToken(%q, %q) = %v", bad.domain, bad.token, err)
			}
			if bad.token == "" {
				continue // Register without a token is open registration
			}
			if _, err := reg.Register(ctx, bad.domain, webSpec("x"), bad.token); !errors.Is(err, ErrInvalidInitialToken) {
				t.Errorf("Register with (%q, %q) = %v", bad.domain, bad.token, err)
			}
		}
		// A refused registration takes no use.
		if _, err := reg.Register(ctx, "customers", Spec{Name: new("x")}, token); !isField(err, "redirect_uris") {
			t.Fatalf("invalid spec: %v", err)
		}
		// Of registrations racing for the last use, one wins.
		first, err := reg.Register(ctx, "customers", webSpec("a"), token)
		if err != nil || first.InitialToken != it.ID {
			t.Fatalf("register: %+v %v", first, err)
		}
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() { _, errs[i] = reg.Register(ctx, "customers", webSpec("b"), token) })
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case !errors.Is(err, ErrInvalidInitialToken):
				t.Fatalf("racing registration: %v", err)
			}
		}
		if won != 1 {
			t.Fatalf("%d registrations took the last use", won)
		}
		list, err := reg.InitialTokens(ctx, "customers")
		if err != nil || len(list) != 1 || list[0].UsesLeft != 0 || list[0].Used != 2 || list[0].Note != "conformance suite" || list[0].LastUsedAt.IsZero() {
			t.Fatalf("list: %+v %v", list, err)
		}
		if clients, _ := reg.List(ctx, "customers"); len(clients) != 2 {
			t.Fatalf("%d clients registered, want 2", len(clients))
		}

		// Expiry, and revocation.
		later, laterToken, err := reg.CreateInitialToken(ctx, "customers", time.Hour, 5, "")
		if err != nil {
			t.Fatal(err)
		}
		clk.t = clk.t.Add(time.Hour)
		if err := reg.CheckInitialToken(ctx, "customers", laterToken); !errors.Is(err, ErrInvalidInitialToken) {
			t.Fatalf("expired: %v", err)
		}
		if err := reg.RevokeInitialToken(ctx, "workforce", later.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("revoke in another domain: %v", err)
		}
		if err := reg.RevokeInitialToken(ctx, "customers", later.ID); err != nil {
			t.Fatal(err)
		}
		if err := reg.RevokeInitialToken(ctx, "customers", later.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("revoke twice: %v", err)
		}
		if list, _ := reg.InitialTokens(ctx, "customers"); len(list) != 1 {
			t.Fatalf("after revoke: %+v", list)
		}
		// Pruned once expired before the cutoff; not before.
		if n, err := reg.PruneInitialTokens(ctx, clk.t.Add(-2*time.Hour)); err != nil || n != 0 {
			t.Fatalf("prune before expiry: %d %v", n, err)
		}
		if n, err := reg.PruneInitialTokens(ctx, clk.t.Add(time.Minute)); err != nil || n != 1 {
			t.Fatalf("prune after expiry: %d %v", n, err)
		}
		if list, _ := reg.InitialTokens(ctx, "customers"); len(list) != 0 {
			t.Fatalf("after prune: %+v", list)
		}
	})
}

// Contacts and application types are checked like every other field.
func TestSpecContactsAndApplicationType(t *testing.T) {
	for _, c := range []struct {
		spec  Spec
		field string
	}{
		{Spec{Contacts: &[]string{"ops@example.com", "Ops <ops@example.com>"}}, "contacts[1]"},
		{Spec{Contacts: &[]string{"ops@example.com", "ops@example.com"}}, "contacts[1]"},
		{Spec{Contacts: &[]string{"not an address"}}, "contacts[0]"},
		{Spec{Contacts: new(make([]string, maxContacts+1))}, "contacts"},
		{Spec{ApplicationType: new("desktop")}, "application_type"},
	} {
		spec := webSpec("x")
		spec.Contacts, spec.ApplicationType = c.spec.Contacts, c.spec.ApplicationType
		if _, err := spec.validate(nil); !isField(err, c.field) {
			t.Errorf("%+v: %v, want a problem with %s", c.spec, err, c.field)
		}
	}
	spec := webSpec("x")
	spec.Contacts, spec.ApplicationType = &[]string{"ops@example.com"}, new(ApplicationNative)
	if c, err := spec.validate(nil); err != nil || c.ApplicationType != ApplicationNative || len(c.Contacts) != 1 {
		t.Fatalf("%+v %v", c, err)
	}
	if c, err := webSpec("x").validate(nil); err != nil || c.ApplicationType != "" || c.Contacts == nil || len(c.Contacts) != 0 {
		t.Fatalf("defaults: %+v %v", c, err)
	}
}

// Migration 0025 keeps the clients registered before it: registered by
// the operator, with no contacts, type or registration token.
func TestMigrationKeepsClients(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "old.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.MigrateTo(ctx, 24); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(ctx, `INSERT INTO oauth_clients (id, domain, name, public, first_party, secret_hash, auth_method, redirect_uris,
		post_logout_redirect_uris, grant_types, scopes, jwks, access_token_format, signing_alg, access_token_ttl, id_token_ttl,
		refresh_token_ttl, require_aal, created_at, updated_at) VALUES ('old', 'customers', 'Shop', 0, 1, '', 'client_secret_basic',
		'["https://shop.example/cb"]', '[]', '["authorization_code"]', '["openid"]', '', 'jwt', 'ES256', 600000000, 600000000,
		3600000000, '', 1, 1)`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	reg, _ := newTestRegistry(db)
	c, err := reg.Get(ctx, "old")
	if err != nil || c.Name != "Shop" || !c.FirstParty || c.Dynamic || c.ApplicationType != "" || c.Contacts == nil || len(c.Contacts) != 0 {
		t.Fatalf("old client: %+v %v", c, err)
	}
	if _, err := reg.Registered(ctx, "old", ""); !errors.Is(err, ErrInvalidRegistrationToken) {
		t.Fatalf("an operator's client opened without a token: %v", err)
	}
}
