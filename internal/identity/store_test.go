package identity

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

func pending(domain, email string) *Identity {
	return &Identity{Domain: domain, SchemaID: DefaultSchemaID, Traits: json.RawMessage(`{"email":"` + email + `"}`),
		Identifiers: []Identifier{{Kind: KindEmail, Value: email}}}
}

func TestStore(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := NewStore(db)
		now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		a := pending("customers", "a@example.com")
		if err := s.CreatePending(ctx, a, now); err != nil {
			t.Fatal(err)
		}
		// The database, not only the code, keeps identifiers unique per domain.
		if err := s.CreatePending(ctx, pending("customers", "a@example.com"), now); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("duplicate identifier: %v", err)
		}
		if _, err := db.Exec(ctx, `INSERT INTO identifiers (id, domain, identity_id, kind, value, created_at) VALUES ($1, 'customers', $2, 'email', 'a@example.com', 1)`,
			NewID(), a.ID); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("raw duplicate insert: %v", err)
		}
		// Another domain may hold the same address.
		if err := s.CreatePending(ctx, pending("workforce", "a@example.com"), now); err != nil {
			t.Fatalf("same address in another domain: %v", err)
		}
		// A failed create leaves nothing behind.
		if n, _ := s.Count(ctx, "customers", StatePending); n != 1 {
			t.Fatalf("pending = %d", n)
		}

		got, err := s.FindByIdentifier(ctx, "customers", KindEmail, "a@example.com")
		if err != nil || got.ID != a.ID || got.State != StatePending || !got.CreatedAt.Equal(now) || got.Email().Verified {
			t.Fatalf("find: %+v, %v", got, err)
		}
		if _, err := s.FindByIdentifier(ctx, "customers", KindEmail, "nobody@example.com"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("find unknown: %v", err)
		}
		if _, err := s.Get(ctx, "workforce", a.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("get across domains: %v", err)
		}

		later := now.Add(time.Minute)
		traits := json.RawMessage(`{"email":"a@example.com","name":"A"}`)
		if err := s.CompleteSignUp(ctx, a.ID, got.Email().ID, traits, "$argon2id$hash", later); err != nil {
			t.Fatal(err)
		}
		if err := s.CompleteSignUp(ctx, a.ID, got.Email().ID, traits, "$argon2id$other", later); !errors.Is(err, ErrNotPending) {
			t.Fatalf("second completion: %v", err)
		}
		findLogin := func() (*LoginCandidate, error) {
			var c *LoginCandidate
			r := db.Reads()
			s.FindLoginIn(r, "customers", KindEmail, "a@example.com", &c)
			return c, r.Run(ctx)
		}
		c, err := findLogin()
		if err != nil || c == nil || c.Identity.State != StateActive || !c.Identifier.Verified || c.PasswordHash != "$argon2id$hash" {
			t.Fatalf("login candidate: %+v, %v", c, err)
		}
		if err := s.SetPassword(ctx, a.ID, "$argon2id$new", later); err != nil {
			t.Fatal(err)
		}
		if c, err := findLogin(); err != nil || c == nil || c.PasswordHash != "$argon2id$new" {
			t.Fatalf("password not replaced: %+v, %v", c, err)
		}
		var n int
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM credentials WHERE identity_id = $1`, a.ID).Scan(&n); err != nil || n != 1 {
			t.Fatalf("credentials = %d, %v", n, err)
		}
		full, _ := s.Get(ctx, "customers", a.ID)
		if string(full.Traits) != string(traits) || !full.Email().VerifiedAt.Equal(later) {
			t.Fatalf("after completion: %+v", full)
		}
	})
}

// The reads a sign-in gathers into one round trip answer as they do one
// at a time, and an identity comes with all its identifiers whichever one
// found it.
func TestStoreReadsTogether(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := NewStore(db)
		now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		b := pending("customers", "b@example.com")
		b.Identifiers = append(b.Identifiers, Identifier{Kind: KindEmail, Value: "b.work@example.com"})
		if err := s.CreatePending(ctx, b, now); err != nil {
			t.Fatal(err)
		}
		both := func(id *Identity) bool {
			return id != nil && id.ID == b.ID && len(id.Identifiers) == 2 &&
				id.Identifiers[0].Value == "b.work@example.com" && id.Identifiers[1].Value == "b@example.com"
		}
		found, err := s.FindByIdentifier(ctx, "customers", KindEmail, "b.work@example.com")
		if err != nil || !both(found) {
			t.Fatalf("FindByIdentifier = %+v, %v; want b with both addresses", found, err)
		}

		var (
			got           *Identity
			known, nobody *LoginCandidate
		)
		r := db.Reads()
		s.GetIn(r, "customers", b.ID, &got)
		s.FindLoginIn(r, "customers", KindEmail, "nobody@example.com", &nobody)
		s.FindLoginIn(r, "customers", KindEmail, "b@example.com", &known)
		if err := r.Run(ctx); err != nil {
			t.Fatal(err)
		}
		if !both(got) || nobody != nil || known == nil || known.Identity.ID != b.ID || known.Identity.State != StatePending ||
			known.Identifier.Value != "b@example.com" || !both(known.Identity) {
			t.Fatalf("reads = %+v, %+v, %+v; want b, nil, b's candidate", got, nobody, known)
		}

		// An unknown identity ends the batch with ErrNotFound.
		s.GetIn(r, "customers", NewID(), &got)
		s.FindLoginIn(r, "customers", KindEmail, "b@example.com", &known)
		if err := r.Run(ctx); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("GetIn of an unknown identity: %v, want ErrNotFound", err)
		}
	})
}
