package recovery_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/credential/recovery"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

var serverSecret = []byte("0123456789abcdef0123456789abcdef")

func addIdentity(t *testing.T, db *store.DB, id string) {
	t.Helper()
	if _, err := db.Exec(context.Background(), `INSERT INTO identities (id, domain, state, schema_id, traits, created_at, updated_at)
		VALUES ($1, 'customers', 'active', 'default', '{}', 1, 1)`, id); err != nil {
		t.Fatal(err)
	}
}

func newStore(t *testing.T, db *store.DB, secret []byte) *recovery.Store {
	t.Helper()
	s, err := recovery.NewStore(db, secret, func() time.Time { return time.Unix(1_700_000_000, 0) })
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func remaining(t *testing.T, s *recovery.Store, id string) int {
	t.Helper()
	n, err := s.Remaining(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestNewStoreShortSecret(t *testing.T) {
	if _, err := recovery.NewStore(nil, make([]byte, 31), time.Now); err == nil {
		t.Fatal("31-byte server secret accepted")
	}
}

func TestGenerateAndUse(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := newStore(t, db, serverSecret)
		addIdentity(t, db, "alice")
		addIdentity(t, db, "bob")

		if n := remaining(t, s, "alice"); n != 0 {
			t.Fatalf("Remaining before Generate = %d", n)
		}
		codes, err := s.Generate(ctx, "alice")
		if err != nil {
			t.Fatal(err)
		}
		if len(codes) != recovery.Count {
			t.Fatalf("got %d codes, want %d", len(codes), recovery.Count)
		}
		seen := map[string]bool{}
		for _, c := range codes {
			if seen[c] {
				t.Fatalf("duplicate code %q", c)
			}
			seen[c] = true
		}
		if n := remaining(t, s, "alice"); n != recovery.Count {
			t.Fatalf("Remaining = %d, want %d", n, recovery.Count)
		}

		// Only hashes are stored.
		rows, err := db.Query(ctx, `SELECT code_hash FROM recovery_codes WHERE identity_id = $1`, "alice")
		if err != nil {
			t.Fatal(err)
		}
		nrows := 0
		for rows.Next() {
			var h string
			if err := rows.Scan(&h); err != nil {
				t.Fatal(err)
			}
			nrows++
			for _, c := range codes {
				if strings.Contains(h, c) || strings.Contains(h, strings.ReplaceAll(c, "-", "")) {
					t.Fatalf("code %q stored in clear: %q", c, h)
				}
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		if nrows != recovery.Count {
			t.Fatalf("%d rows stored, want %d", nrows, recovery.Count)
		}

		// Alice's codes are not Bob's.
		if err := s.Use(ctx, "bob", codes[0]); !errors.Is(err, recovery.ErrInvalidCode) {
			t.Fatalf("alice's code for bob: %v", err)
		}

		// Each code works once.
		for i, c := range codes {
			if err := s.Use(ctx, "alice", c); err != nil {
				t.Fatalf("code %d: %v", i, err)
			}
			if err := s.Use(ctx, "alice", c); !errors.Is(err, recovery.ErrInvalidCode) {
				t.Fatalf("code %d reused: %v", i, err)
			}
			if n := remaining(t, s, "alice"); n != recovery.Count-i-1 {
				t.Fatalf("Remaining after %d uses = %d", i+1, n)
			}
		}
		if err := s.Use(ctx, "alice", "zzzzz-zzzzz"); !errors.Is(err, recovery.ErrInvalidCode) {
			t.Fatalf("unknown code: %v", err)
		}
		if err := s.Use(ctx, "alice", "not a code"); !errors.Is(err, recovery.ErrInvalidCode) {
			t.Fatalf("malformed code: %v", err)
		}
	})
}

func TestRegenerateAndDelete(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := newStore(t, db, serverSecret)
		addIdentity(t, db, "carol")

		old, err := s.Generate(ctx, "carol")
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Use(ctx, "carol", old[0]); err != nil {
			t.Fatal(err)
		}
		fresh, err := s.Generate(ctx, "carol")
		if err != nil {
			t.Fatal(err)
		}
		if n := remaining(t, s, "carol"); n != recovery.Count {
			t.Fatalf("Remaining after regeneration = %d, want %d", n, recovery.Count)
		}
		for i, c := range old[1:] {
			if err := s.Use(ctx, "carol", c); !errors.Is(err, recovery.ErrInvalidCode) {
				t.Fatalf("old code %d after regeneration: %v", i+1, err)
			}
		}
		if err := s.Use(ctx, "carol", fresh[0]); err != nil {
			t.Fatalf("new code: %v", err)
		}

		if err := s.Delete(ctx, "carol"); err != nil {
			t.Fatal(err)
		}
		if n := remaining(t, s, "carol"); n != 0 {
			t.Fatalf("Remaining after Delete = %d", n)
		}
		if err := s.Use(ctx, "carol", fresh[1]); !errors.Is(err, recovery.ErrInvalidCode) {
			t.Fatalf("code after Delete: %v", err)
		}
		if err := s.Delete(ctx, "carol"); err != nil {
			t.Fatalf("Delete with no codes: %v", err)
		}

		if _, err := s.Generate(ctx, "nobody"); err == nil {
			t.Fatal("Generate for an unknown identity succeeded")
		}
	})
}

func TestUseNormalises(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := newStore(t, db, serverSecret)
		addIdentity(t, db, "dave")
		codes, err := s.Generate(ctx, "dave")
		if err != nil {
			t.Fatal(err)
		}
		typed := []func(string) string{
			strings.ToUpper,
			func(c string) string { return strings.ReplaceAll(c, "-", "") },
			func(c string) string { return " " + strings.ReplaceAll(c, "-", " ") + " " },
			func(c string) string { return strings.ToUpper(c[:2]) + "-" + c[2:] },
			// Hand-copied look-alikes: o for 0, l or I for 1.
			func(c string) string {
				return strings.NewReplacer("0", "o", "1", "l").Replace(c)
			},
			func(c string) string {
				return strings.NewReplacer("0", "O", "1", "I").Replace(c)
			},
		}
		for i, f := range typed {
			in := f(codes[i])
			if err := s.Use(ctx, "dave", in); err != nil {
				t.Errorf("%q (for %q): %v", in, codes[i], err)
			}
		}
	})
}

func TestUseParallel(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := newStore(t, db, serverSecret)
		addIdentity(t, db, "erin")
		codes, err := s.Generate(ctx, "erin")
		if err != nil {
			t.Fatal(err)
		}

		const n = 20
		errs := make([]error, n)
		var wg sync.WaitGroup
		ready := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-ready
				errs[i] = s.Use(ctx, "erin", codes[3])
			})
		}
		close(ready)
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, recovery.ErrInvalidCode):
				t.Errorf("unexpected error: %v", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d of %d parallel uses succeeded; want exactly 1", ok, n)
		}
		if n := remaining(t, s, "erin"); n != recovery.Count-1 {
			t.Fatalf("Remaining = %d, want %d", n, recovery.Count-1)
		}
	})
}

func TestOtherServerSecret(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := newStore(t, db, serverSecret)
		other := newStore(t, db, []byte("another server secret, 32 bytes!"))
		addIdentity(t, db, "frank")
		codes, err := s.Generate(ctx, "frank")
		if err != nil {
			t.Fatal(err)
		}
		if err := other.Use(ctx, "frank", codes[0]); !errors.Is(err, recovery.ErrInvalidCode) {
			t.Fatalf("code checked under another server secret: %v", err)
		}
	})
}
