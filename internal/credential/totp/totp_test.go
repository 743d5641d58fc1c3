package totp_test

import (
	"bytes"
	"context"
	"encoding/base32"
	"encoding/base64"
	"errors"
	"image/png"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pquerna/otp"
	pqtotp "github.com/pquerna/otp/totp"

	"github.com/foyer-id/foyer/internal/credential/totp"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

var serverSecret = []byte("0123456789abcdef0123456789abcdef")

// clock is a settable clock, safe for concurrent reads.
type clock struct{ us atomic.Int64 }

func newClock(t time.Time) *clock { c := &clock{}; c.set(t); return c }
func (c *clock) set(t time.Time)  { c.us.Store(t.UnixMicro()) }
func (c *clock) add(d time.Duration) {
	c.us.Add(d.Microseconds())
}
func (c *clock) now() time.Time { return time.UnixMicro(c.us.Load()) }

// start is in the middle of a 30-second step, so ±1 step is unambiguous.
var start = time.Unix(1_700_000_010, 0)

func addIdentity(t testing.TB, db *store.DB, id string) {
	t.Helper()
	if _, err := db.Exec(context.Background(), `INSERT INTO identities (id, domain, state, schema_id, traits, created_at, updated_at)
		VALUES ($1, 'customers', 'active', 'default', '{}', 1, 1)`, id); err != nil {
		t.Fatal(err)
	}
}

// code computes a code with pquerna/otp, independently of the package.
func code(t testing.TB, secret string, at time.Time) string {
	t.Helper()
	c, err := pqtotp.GenerateCodeCustom(secret, at, pqtotp.ValidateOpts{
		Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newStore(t testing.TB, db *store.DB, c *clock) *totp.Store {
	t.Helper()
	s, err := totp.NewStore(db, serverSecret, c.now)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// enrol begins and confirms an authenticator and returns its secret.
func enrol(t testing.TB, s *totp.Store, c *clock, id string) string {
	t.Helper()
	ctx := context.Background()
	e, err := s.Begin(ctx, id, "Foyer", id+"@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Confirm(ctx, id, code(t, e.Secret, c.now())); err != nil {
		t.Fatal(err)
	}
	return e.Secret
}

func TestNewStoreShortSecret(t *testing.T) {
	if _, err := totp.NewStore(nil, make([]byte, 31), time.Now); err == nil {
		t.Fatal("31-byte server secret accepted")
	}
}

func TestEnrolment(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := newClock(start)
		s := newStore(t, db, c)
		addIdentity(t, db, "alice")

		if ok, err := s.Enrolled(ctx, "alice"); err != nil || ok {
			t.Fatalf("Enrolled before Begin = %v, %v", ok, err)
		}
		if err := s.Confirm(ctx, "alice", "123456"); !errors.Is(err, totp.ErrNotEnrolled) {
			t.Fatalf("Confirm without Begin: %v", err)
		}

		e, err := s.Begin(ctx, "alice", "Acme Shop", "alice@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if len(e.Secret) != 32 { // 160 bits in unpadded base32
			t.Errorf("secret %q: want 32 base32 characters", e.Secret)
		}
		u, err := url.Parse(e.URL)
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/Acme Shop:alice@example.com" ||
			q.Get("secret") != e.Secret || q.Get("issuer") != "Acme Shop" ||
			q.Get("algorithm") != "SHA1" || q.Get("digits") != "6" || q.Get("period") != "30" {
			t.Errorf("URL %s", e.URL)
		}
		img, err := png.Decode(bytes.NewReader(e.QRPNG))
		if err != nil {
			t.Fatalf("QR code is not a PNG: %v", err)
		}
		if b := img.Bounds(); b.Dx() != totp.QRSize || b.Dy() != totp.QRSize {
			t.Errorf("QR code is %v", b)
		}

		// Pending: not enrolled, Verify refuses, a new Begin replaces it.
		if ok, err := s.Enrolled(ctx, "alice"); err != nil || ok {
			t.Fatalf("Enrolled while pending = %v, %v", ok, err)
		}
		if err := s.Verify(ctx, "alice", code(t, e.Secret, c.now())); !errors.Is(err, totp.ErrNotEnrolled) {
			t.Fatalf("Verify while pending: %v", err)
		}
		e2, err := s.Begin(ctx, "alice", "Acme Shop", "alice@example.com")
		if err != nil {
			t.Fatalf("second Begin while pending: %v", err)
		}
		if e2.Secret == e.Secret {
			t.Fatal("second Begin reused the secret")
		}
		if err := s.Confirm(ctx, "alice", code(t, e.Secret, c.now())); !errors.Is(err, totp.ErrInvalidCode) {
			t.Fatalf("Confirm with the replaced secret: %v", err)
		}
		if err := s.Confirm(ctx, "alice", "abcdef"); !errors.Is(err, totp.ErrInvalidCode) {
			t.Fatalf("Confirm with garbage: %v", err)
		}
		if err := s.Confirm(ctx, "alice", code(t, e2.Secret, c.now().Add(-2*totp.Period))); !errors.Is(err, totp.ErrInvalidCode) {
			t.Fatalf("Confirm with a code 2 steps old: %v", err)
		}

		// The first code confirms, and cannot be used again by Verify.
		first := code(t, e2.Secret, c.now())
		if err := s.Confirm(ctx, "alice", first); err != nil {
			t.Fatalf("Confirm: %v", err)
		}
		if ok, err := s.Enrolled(ctx, "alice"); err != nil || !ok {
			t.Fatalf("Enrolled after Confirm = %v, %v", ok, err)
		}
		if err := s.Confirm(ctx, "alice", first); !errors.Is(err, totp.ErrAlreadyEnrolled) {
			t.Fatalf("second Confirm: %v", err)
		}
		if err := s.Verify(ctx, "alice", first); !errors.Is(err, totp.ErrReplayed) {
			t.Fatalf("Verify with the confirming code: %v", err)
		}
		if _, err := s.Begin(ctx, "alice", "Acme Shop", "alice@example.com"); !errors.Is(err, totp.ErrAlreadyEnrolled) {
			t.Fatalf("Begin while enrolled: %v", err)
		}
		c.add(totp.Period)
		if err := s.Verify(ctx, "alice", code(t, e2.Secret, c.now())); err != nil {
			t.Fatalf("Verify after Begin was refused: %v", err)
		}

		// Remove, then enrol again.
		if err := s.Remove(ctx, "alice"); err != nil {
			t.Fatal(err)
		}
		if err := s.Remove(ctx, "alice"); !errors.Is(err, totp.ErrNotEnrolled) {
			t.Fatalf("second Remove: %v", err)
		}
		if ok, err := s.Enrolled(ctx, "alice"); err != nil || ok {
			t.Fatalf("Enrolled after Remove = %v, %v", ok, err)
		}
		if err := s.Verify(ctx, "alice", code(t, e2.Secret, c.now())); !errors.Is(err, totp.ErrNotEnrolled) {
			t.Fatalf("Verify after Remove: %v", err)
		}
		enrol(t, s, c, "alice")

		// Begin for an identity that does not exist fails.
		if _, err := s.Begin(ctx, "nobody", "Acme", "nobody"); err == nil {
			t.Fatal("Begin for an unknown identity succeeded")
		}
	})
}

func TestVerify(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := newClock(start)
		s := newStore(t, db, c)
		addIdentity(t, db, "bob")
		secret := enrol(t, s, c, "bob")

		c.add(10 * totp.Period)
		now := c.now()
		for _, tc := range []struct {
			name string
			code string
			want error
		}{
			{"current", code(t, secret, now), nil},
			{"current again", code(t, secret, now), totp.ErrReplayed},
			{"previous, older than accepted", code(t, secret, now.Add(-totp.Period)), totp.ErrReplayed},
			{"two steps back", code(t, secret, now.Add(-2*totp.Period)), totp.ErrInvalidCode},
			{"two steps ahead", code(t, secret, now.Add(2*totp.Period)), totp.ErrInvalidCode},
			{"next", code(t, secret, now.Add(totp.Period)), nil},
			{"next again", code(t, secret, now.Add(totp.Period)), totp.ErrReplayed},
			{"current after next", code(t, secret, now), totp.ErrReplayed},
			{"too short", "12345", totp.ErrInvalidCode},
			{"letters", "12e456", totp.ErrInvalidCode},
		} {
			err := s.Verify(ctx, "bob", tc.code)
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Errorf("%s: got %v, want %v", tc.name, err, tc.want)
			}
		}

		// A previous-step code is accepted when no later one was.
		c.add(10 * totp.Period)
		now = c.now()
		if err := s.Verify(ctx, "bob", code(t, secret, now.Add(-totp.Period))); err != nil {
			t.Fatalf("previous step, nothing later accepted: %v", err)
		}
		spaced := code(t, secret, now)
		spaced = spaced[:3] + " " + spaced[3:]
		if err := s.Verify(ctx, "bob", spaced); err != nil {
			t.Fatalf("current step after previous, with a space: %v", err)
		}
		if err := s.Verify(ctx, "bob", code(t, secret, now.Add(-totp.Period))); !errors.Is(err, totp.ErrReplayed) {
			t.Fatalf("previous step again: %v", err)
		}

		// Codes of one identity do not work for another.
		addIdentity(t, db, "carol")
		enrol(t, s, c, "carol")
		c.add(totp.Period)
		if err := s.Verify(ctx, "carol", code(t, secret, c.now())); !errors.Is(err, totp.ErrInvalidCode) {
			t.Fatalf("bob's code for carol: %v", err)
		}
		if err := s.Verify(ctx, "nobody", "123456"); !errors.Is(err, totp.ErrNotEnrolled) {
			t.Fatalf("unknown identity: %v", err)
		}
	})
}

func TestVerifyParallel(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := newClock(start)
		s := newStore(t, db, c)
		addIdentity(t, db, "dave")
		secret := enrol(t, s, c, "dave")
		c.add(totp.Period)
		cd := code(t, secret, c.now())

		const n = 20
		errs := make([]error, n)
		var wg sync.WaitGroup
		ready := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-ready
				errs[i] = s.Verify(ctx, "dave", cd)
			})
		}
		close(ready)
		wg.Wait()
		ok := 0
		for _, err := range errs {
			switch {
			case err == nil:
				ok++
			case !errors.Is(err, totp.ErrReplayed):
				t.Errorf("unexpected error: %v", err)
			}
		}
		if ok != 1 {
			t.Fatalf("%d of %d parallel verifications succeeded; want exactly 1", ok, n)
		}
	})
}

func TestSecretAtRest(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := newClock(start)
		s := newStore(t, db, c)
		addIdentity(t, db, "erin")
		addIdentity(t, db, "frank")
		secret := enrol(t, s, c, "erin")
		enrol(t, s, c, "frank")

		var stored string
		if err := db.QueryRow(ctx, `SELECT secret FROM totp_credentials WHERE identity_id = $1`, "erin").Scan(&stored); err != nil {
			t.Fatal(err)
		}
		raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(strings.ToUpper(stored), secret) || stored == base64.StdEncoding.EncodeToString(raw) ||
			bytes.Contains(mustB64(t, stored), raw) {
			t.Fatalf("secret stored in clear: %q", stored)
		}

		// Another server secret cannot decrypt it.
		other, err := totp.NewStore(db, []byte("another server secret, 32 bytes!"), c.now)
		if err != nil {
			t.Fatal(err)
		}
		c.add(totp.Period)
		if err := other.Verify(ctx, "erin", code(t, secret, c.now())); !errors.Is(err, totp.ErrDecrypt) {
			t.Fatalf("Verify with another server secret: %v", err)
		}

		// A sealed secret copied to another identity does not decrypt
		// (the identity id is bound as additional data).
		if _, err := db.Exec(ctx, `UPDATE totp_credentials SET secret = $1 WHERE identity_id = $2`, stored, "frank"); err != nil {
			t.Fatal(err)
		}
		if err := s.Verify(ctx, "frank", code(t, secret, c.now())); !errors.Is(err, totp.ErrDecrypt) {
			t.Fatalf("Verify with a secret copied from another identity: %v", err)
		}
		if err := s.Verify(ctx, "erin", code(t, secret, c.now())); err != nil {
			t.Fatalf("Verify with the right server secret: %v", err)
		}
	})
}

func mustB64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("stored secret is not base64: %v", err)
	}
	return b
}

func BenchmarkVerify(b *testing.B) {
	storetest.EachB(b, func(b *testing.B, d *store.DB) {
		c := newClock(start)
		s := newStore(b, d, c)
		addIdentity(b, d, "bench")
		secret := enrol(b, s, c, "bench")
		base := c.now()
		codes := make([]string, b.N)
		for i := range codes {
			codes[i] = code(b, secret, base.Add(time.Duration(i+1)*totp.Period))
		}
		ctx := context.Background()
		b.ResetTimer()
		for i := range b.N {
			c.set(base.Add(time.Duration(i+1) * totp.Period))
			if err := s.Verify(ctx, "bench", codes[i]); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// Pending shows an unconfirmed enrolment again, and nothing once
// confirmed.
func TestPending(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		c := newClock(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC))
		s := newStore(t, db, c)
		addIdentity(t, db, "id-p")
		if _, err := s.Pending(ctx, "id-p", "Foyer", "p@example.com"); !errors.Is(err, totp.ErrNotEnrolled) {
			t.Fatalf("nothing pending: %v", err)
		}
		e, err := s.Begin(ctx, "id-p", "Foyer", "p@example.com")
		if err != nil {
			t.Fatal(err)
		}
		again, err := s.Pending(ctx, "id-p", "Foyer", "p@example.com")
		if err != nil || again.Secret != e.Secret || again.URL != e.URL || len(again.QRPNG) == 0 {
			t.Fatalf("pending: %+v %v", again, err)
		}
		if err := s.Confirm(ctx, "id-p", code(t, e.Secret, c.now())); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Pending(ctx, "id-p", "Foyer", "p@example.com"); !errors.Is(err, totp.ErrAlreadyEnrolled) {
			t.Fatalf("after confirm: %v", err)
		}
	})
}
