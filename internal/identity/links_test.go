package identity

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

func TestLinks(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		ids, links := NewStore(db), NewLinks(db)
		now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
		a, b := pending("customers", "a@example.com"), pending("customers", "b@example.com")
		for _, id := range []*Identity{a, b} {
			if err := ids.CreatePending(ctx, id, now); err != nil {
				t.Fatal(err)
			}
		}
		findLink := func(domain, provider, subject string) (*Link, error) {
			var out []Link
			r := db.Reads()
			links.FindLinkIn(r, domain, provider, subject, &out)
			if err := r.Run(ctx); err != nil || len(out) == 0 {
				return nil, err
			}
			return &out[0], nil
		}
		link := func(l Link) error {
			return db.InTx(ctx, func(tx *store.Tx) error { return links.CreateTx(ctx, tx, l) })
		}
		google := Link{Domain: "customers", Provider: "google", Subject: "g-1", IdentityID: a.ID, Email: "a@gmail.com", LinkedAt: now}
		if err := link(google); err != nil {
			t.Fatal(err)
		}
		// One subject, one identity; one account per provider per identity.
		if err := link(Link{Domain: "customers", Provider: "google", Subject: "g-1", IdentityID: b.ID, LinkedAt: now}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("subject linked twice: %v", err)
		}
		if err := link(Link{Domain: "customers", Provider: "google", Subject: "g-2", IdentityID: a.ID, LinkedAt: now}); !errors.Is(err, store.ErrConflict) {
			t.Fatalf("second google account for one identity: %v", err)
		}
		// The same subject at another provider is another account.
		if err := link(Link{Domain: "customers", Provider: "github", Subject: "g-1", IdentityID: a.ID, LinkedAt: now.Add(time.Second)}); err != nil {
			t.Fatal(err)
		}
		got, err := findLink("customers", "google", "g-1")
		if err != nil || got == nil || got.IdentityID != a.ID || got.Email != "a@gmail.com" || !got.LinkedAt.Equal(now) || !got.LastUsedAt.Equal(now) {
			t.Fatalf("find: %+v, %v", got, err)
		}
		if got, err := findLink("workforce", "google", "g-1"); err != nil || got != nil {
			t.Fatalf("find across domains: %+v, %v", got, err)
		}
		later := now.Add(time.Hour)
		if err := db.InTx(ctx, func(tx *store.Tx) error { return links.UsedTx(ctx, tx, "customers", "google", "g-1", later) }); err != nil {
			t.Fatal(err)
		}
		list, err := links.List(ctx, a.ID)
		if err != nil || len(list) != 2 || list[0].Provider != "google" || !list[0].LastUsedAt.Equal(later) || list[1].Provider != "github" {
			t.Fatalf("list: %+v, %v", list, err)
		}
		var byAddress, byNobody []Link
		r := db.Reads()
		links.ListByIdentifierIn(r, "customers", KindEmail, "a@example.com", &byAddress)
		links.ListByIdentifierIn(r, "customers", KindEmail, "nobody@example.com", &byNobody)
		if err := r.Run(ctx); err != nil || len(byAddress) != 2 || byAddress[0].Provider != "google" || len(byNobody) != 0 {
			t.Fatalf("by address: %+v, %+v, %v", byAddress, byNobody, err)
		}
		unlink := func(id, provider string) error {
			return db.InTx(ctx, func(tx *store.Tx) error { return links.DeleteTx(ctx, tx, id, provider) })
		}
		if err := unlink(b.ID, "google"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("unlink what b never linked: %v", err)
		}
		if err := unlink(a.ID, "google"); err != nil {
			t.Fatal(err)
		}
		if got, err := findLink("customers", "google", "g-1"); err != nil || got != nil {
			t.Fatalf("after unlink: %+v, %v", got, err)
		}
		// An identity's links go with it.
		if _, err := db.Exec(ctx, `DELETE FROM identities WHERE id = $1`, a.ID); err != nil {
			t.Fatal(err)
		}
		if list, err := links.List(ctx, a.ID); err != nil || len(list) != 0 {
			t.Fatalf("links of a deleted identity: %+v, %v", list, err)
		}
	})
}
