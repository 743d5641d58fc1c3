package flow

import (
	"context"
	"slices"
	"testing"

	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// An identity's factors are read in one statement, by its id and by its
// address alike: an authenticator app once confirmed, passkeys, unused
// recovery codes, a verified phone number.
func TestKinds(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		exec := func(q string, args ...any) {
			t.Helper()
			if _, err := db.Exec(ctx, q, args...); err != nil {
				t.Fatal(err)
			}
		}
		read := func() (byID, byEmail Kinds) {
			t.Helper()
			r := db.Reads()
			Factors{}.KindsIn(r, "ida", &byID)
			Factors{}.KindsByIdentifierIn(r, "customers", "email", "ida@example.com", &byEmail)
			if err := r.Run(ctx); err != nil {
				t.Fatal(err)
			}
			return byID, byEmail
		}
		expect := func(want ...string) {
			t.Helper()
			byID, byEmail := read()
			slices.Sort(byID)
			slices.Sort(byEmail)
			if !slices.Equal(byID, want) || !slices.Equal(byEmail, want) {
				t.Fatalf("kinds by id %v, by address %v; want %v", byID, byEmail, want)
			}
			if byID.TOTP() != slices.Contains(want, "totp") {
				t.Fatalf("TOTP() = %v", byID.TOTP())
			}
		}
		exec(`INSERT INTO identities (id, domain, state, schema_id, traits, created_at, updated_at) VALUES ('ida', 'customers', 'active', 'default', '{}', 1, 1)`)
		exec(`INSERT INTO identifiers (id, domain, identity_id, kind, value, verified_at, created_at) VALUES ('e', 'customers', 'ida', 'email', 'ida@example.com', 1, 1)`)
		expect()
		exec(`INSERT INTO totp_credentials (identity_id, secret, created_at) VALUES ('ida', 's', 1)`)
		expect() // not confirmed yet
		exec(`UPDATE totp_credentials SET confirmed_at = 2`)
		exec(`INSERT INTO recovery_codes (id, identity_id, code_hash, used_at, created_at) VALUES ('r1', 'ida', 'h', 5, 1)`)
		expect("totp") // every code used
		exec(`INSERT INTO recovery_codes (id, identity_id, code_hash, created_at) VALUES ('r2', 'ida', 'h', 1)`)
		exec(`INSERT INTO identifiers (id, domain, identity_id, kind, value, created_at) VALUES ('p', 'customers', 'ida', 'phone', '+33600000000', 1)`)
		expect("recovery_code", "totp") // the number is not verified
		exec(`UPDATE identifiers SET verified_at = 3 WHERE id = 'p'`)
		expect("phone", "recovery_code", "totp")
		exec(`INSERT INTO webauthn_credentials (id, identity_id, domain, name, public_key, aaguid, created_at) VALUES ('k', 'ida', 'customers', 'Phone', $1, 'a', 1)`, []byte{1})
		expect("passkey", "phone", "recovery_code", "totp")
		// Another identity's factors are not hers.
		var other Kinds
		r := db.Reads()
		Factors{}.KindsByIdentifierIn(r, "customers", "email", "nobody@example.com", &other)
		if err := r.Run(ctx); err != nil || len(other) != 0 {
			t.Fatalf("unknown address: %v, %v", other, err)
		}
	})
}
