package session

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

func newIdentity(t testing.TB, db *store.DB, id string) {
	t.Helper()
	if _, err := db.Exec(context.Background(), `INSERT INTO identities (id, domain, state, schema_id, traits, created_at, updated_at) VALUES ($1, 'customers', 'active', 'default', '{}', 1, 1)`, id); err != nil {
		t.Fatal(err)
	}
}

func TestManager(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		newIdentity(t, db, "id-1")
		now := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
		m := NewManager(db, Lifetimes{Absolute: 10 * time.Hour, Idle: time.Hour}, func() time.Time { return now }, nil)

		tok, s, err := m.Issue(ctx, Params{Domain: "customers", IdentityID: "id-1", Methods: []string{"password"}, DeviceID: "dev", IP: "192.0.2.1"})
		if err != nil {
			t.Fatal(err)
		}
		if len(tok) != 47 || s.AAL != AAL1 || !s.ExpiresAt.Equal(now.Add(10*time.Hour)) || !s.IdleExpiresAt.Equal(now.Add(time.Hour)) {
			t.Fatalf("issued %q %+v", tok, s)
		}
		var stored string
		if err := db.QueryRow(ctx, `SELECT token_hash FROM sessions WHERE id = $1`, s.ID).Scan(&stored); err != nil || stored == tok || stored != HashToken(tok) {
			t.Fatalf("stored %q: the token must be stored hashed", stored)
		}
		got, err := m.Authenticate(ctx, tok)
		if err != nil || got.ID != s.ID || got.Methods[0] != "password" {
			t.Fatalf("authenticate: %+v, %v", got, err)
		}
		// Use extends the idle lifetime...
		for range 12 {
			now = now.Add(50 * time.Minute)
			if _, err := m.Authenticate(ctx, tok); err != nil && now.Before(s.ExpiresAt) {
				t.Fatalf("at %v: %v", now, err)
			}
		}
		// ...up to the absolute lifetime.
		if _, err := m.Authenticate(ctx, tok); !errors.Is(err, ErrInvalid) {
			t.Fatalf("past absolute lifetime: %v", err)
		}

		tok2, _, _ := m.Issue(ctx, Params{Domain: "customers", IdentityID: "id-1", DeviceID: "dev"})
		now = now.Add(61 * time.Minute)
		if _, err := m.Authenticate(ctx, tok2); !errors.Is(err, ErrInvalid) {
			t.Fatalf("idle session: %v", err)
		}

		tok3, _, _ := m.Issue(ctx, Params{Domain: "customers", IdentityID: "id-1", DeviceID: "dev"})
		if revoked, err := m.Revoke(ctx, tok3); err != nil || revoked == nil {
			t.Fatalf("revoke: %v", err)
		}
		if _, err := m.Authenticate(ctx, tok3); !errors.Is(err, ErrInvalid) {
			t.Fatalf("revoked session: %v", err)
		}
		if again, err := m.Revoke(ctx, tok3); err != nil || again != nil {
			t.Fatalf("second revoke: %v %v", again, err)
		}
		tok4, _, _ := m.Issue(ctx, Params{Domain: "customers", IdentityID: "id-1"})
		if n, err := m.RevokeIdentity(ctx, "id-1"); err != nil || n < 1 {
			t.Fatalf("revoke identity: %d %v", n, err)
		}
		if _, err := m.Authenticate(ctx, tok4); !errors.Is(err, ErrInvalid) {
			t.Fatal("session survived RevokeIdentity")
		}
		for _, bad := range []string{"", "fys_", "nope", tok + "x"} {
			if _, err := m.Authenticate(ctx, bad); !errors.Is(err, ErrInvalid) {
				t.Fatalf("token %q: %v", bad, err)
			}
		}
		// The device, address and user agent stay server-side.
		raw, _ := json.Marshal(s)
		if strings.Contains(string(raw), "192.0.2.1") || strings.Contains(string(raw), `"dev"`) {
			t.Fatalf("session JSON leaks client details: %s", raw)
		}
	})
}

// A short idle lifetime is extended by use too: use is written more often
// than once a minute then.
func TestShortIdleLifetime(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		newIdentity(t, db, "id-1")
		now := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
		m := NewManager(db, Lifetimes{Absolute: time.Hour, Idle: 70 * time.Second}, func() time.Time { return now }, nil)
		tok, _, err := m.Issue(ctx, Params{Domain: "customers", IdentityID: "id-1"})
		if err != nil {
			t.Fatal(err)
		}
		for range 10 { // used every 55 s for over nine minutes
			now = now.Add(55 * time.Second)
			if _, err := m.Authenticate(ctx, tok); err != nil {
				t.Fatalf("at %v, 55 s after its last use: %v", now, err)
			}
		}
		now = now.Add(71 * time.Second)
		if _, err := m.Authenticate(ctx, tok); !errors.Is(err, ErrInvalid) {
			t.Fatalf("idle for 71 s: %v", err)
		}
	})
}

func TestTokenFromRequest(t *testing.T) {
	r, _ := http.NewRequest("GET", "/", nil)
	r.AddCookie(&http.Cookie{Name: "c", Value: "fromcookie"})
	if got := TokenFromRequest(r, "c"); got != "fromcookie" {
		t.Fatalf("cookie: %q", got)
	}
	r.Header.Set("Authorization", "Bearer  frombearer ")
	if got := TokenFromRequest(r, "c"); got != "frombearer" {
		t.Fatalf("bearer: %q", got)
	}
	r.Header.Set("Authorization", "Basic abc")
	if got := TokenFromRequest(r, "c"); got != "fromcookie" {
		t.Fatalf("basic and a cookie: %q", got)
	}
	r.Header.Set("Authorization", "Bearer")
	if got := TokenFromRequest(r, "c"); got != "" {
		t.Fatalf("an empty bearer: %q", got)
	}
}

func BenchmarkAuthenticate(b *testing.B) {
	db := storetest.NewSQLite(b)
	newIdentity(b, db, "id-1")
	m := NewManager(db, Lifetimes{Absolute: time.Hour, Idle: time.Hour}, time.Now, nil)
	tok, _, err := m.Issue(context.Background(), Params{Domain: "customers", IdentityID: "id-1"})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := m.Authenticate(context.Background(), tok); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestWhoami(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		newIdentity(t, db, "id-1")
		for i, email := range []string{"b@example.com", "a@example.com"} {
			verified := any(nil)
			if i == 0 {
				verified = int64(5)
			}
			if _, err := db.Exec(ctx, `INSERT INTO identifiers (id, domain, identity_id, kind, value, verified_at, created_at) VALUES ($1, 'customers', 'id-1', 'email', $2, $3, 1)`,
				"x"+email, email, verified); err != nil {
				t.Fatal(err)
			}
		}
		m := NewManager(db, Lifetimes{Absolute: time.Hour, Idle: time.Hour}, time.Now, nil)
		tok, issued, _ := m.Issue(ctx, Params{Domain: "customers", IdentityID: "id-1", Methods: []string{"password"}})
		s, ident, err := m.Whoami(ctx, tok)
		if err != nil || s.ID != issued.ID || ident.ID != "id-1" || ident.State != "active" || len(ident.Identifiers) != 2 {
			t.Fatalf("whoami: %+v %+v %v", s, ident, err)
		}
		if ident.Identifiers[0].Value != "a@example.com" || ident.Identifiers[0].Verified || !ident.Identifiers[1].Verified {
			t.Fatalf("identifiers: %+v", ident.Identifiers)
		}
		m.Revoke(ctx, tok)
		if _, _, err := m.Whoami(ctx, tok); !errors.Is(err, ErrInvalid) {
			t.Fatalf("revoked: %v", err)
		}
	})
}

func BenchmarkWhoami(b *testing.B) {
	db := storetest.NewSQLite(b)
	newIdentity(b, db, "id-1")
	if _, err := db.Exec(context.Background(), `INSERT INTO identifiers (id, domain, identity_id, kind, value, created_at) VALUES ('x', 'customers', 'id-1', 'email', 'a@example.com', 1)`); err != nil {
		b.Fatal(err)
	}
	m := NewManager(db, Lifetimes{Absolute: time.Hour, Idle: time.Hour}, time.Now, nil)
	tok, _, _ := m.Issue(context.Background(), Params{Domain: "customers", IdentityID: "id-1"})
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, _, err := m.Whoami(context.Background(), tok); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestUpgradeRotates(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		newIdentity(t, db, "id-1")
		now := time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
		m := NewManager(db, Lifetimes{Absolute: 10 * time.Hour, Idle: time.Hour}, func() time.Time { return now }, nil)
		tok, s, _ := m.Issue(ctx, Params{Domain: "customers", IdentityID: "id-1", Methods: []string{"password"}})
		now = now.Add(30 * time.Minute)
		tok2, s2, err := m.Upgrade(ctx, tok, "totp", AAL2)
		if err != nil {
			t.Fatal(err)
		}
		if tok2 == tok || s2.ID == s.ID || s2.AAL != AAL2 || len(s2.Methods) != 2 || !s2.AuthenticatedAt.Equal(now) || !s2.ExpiresAt.Equal(s.ExpiresAt) {
			t.Fatalf("upgraded: %+v", s2)
		}
		if _, err := m.Authenticate(ctx, tok); !errors.Is(err, ErrInvalid) {
			t.Fatal("the old token still works after step-up")
		}
		if got, err := m.Authenticate(ctx, tok2); err != nil || got.AAL != AAL2 {
			t.Fatalf("new token: %+v %v", got, err)
		}
		if _, _, err := m.Upgrade(ctx, tok, "totp", AAL2); !errors.Is(err, ErrInvalid) {
			t.Fatal("a dead token was upgraded")
		}
	})
}
