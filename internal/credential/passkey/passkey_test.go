package passkey_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/credential/passkey"
	"github.com/foyer-id/foyer/internal/credential/passkey/passkeytest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

const (
	rpID   = "id.example.com"
	origin = "https://id.example.com"
)

var cfg = passkey.Config{RPID: rpID, RPName: "Acme", Origins: []string{origin}}

// clock is a settable test clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

var b64 = base64.RawURLEncoding

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type fixture struct {
	t     *testing.T
	db    *store.DB
	svc   *passkey.Service
	clock *clock
	auth  *passkeytest.Authenticator
}

func setup(t *testing.T, db *store.DB) *fixture {
	t.Helper()
	c := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	svc, err := passkey.New(db, cfg, c.now)
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{t: t, db: db, svc: svc, clock: c, auth: passkeytest.New(t, origin, rpID)}
	f.addIdentity("alice")
	f.addIdentity("bob")
	return f
}

func (f *fixture) addIdentity(id string) {
	f.t.Helper()
	if _, err := f.db.Exec(context.Background(), `INSERT INTO identities (id, domain, state, schema_id, traits, created_at, updated_at)
		VALUES ($1, 'customers', 'active', 'default', '{}', 1, 1)`, id); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) beginRegistration(identityID string) (json.RawMessage, string) {
	f.t.Helper()
	opts, ch, err := f.svc.BeginRegistration(context.Background(), identityID, identityID+"@example.com", "")
	if err != nil {
		f.t.Fatal(err)
	}
	return opts, ch
}

// register adds a passkey named name to identityID through the software
// authenticator.
func (f *fixture) register(identityID, name string) (*passkey.Credential, *passkeytest.Credential) {
	f.t.Helper()
	opts, ch := f.beginRegistration(identityID)
	resp, soft := f.auth.Register(opts)
	c, err := f.svc.FinishRegistration(context.Background(), ch, identityID, name, resp)
	if err != nil {
		f.t.Fatal(err)
	}
	return c, soft
}

func (f *fixture) beginLogin() (json.RawMessage, string) {
	f.t.Helper()
	opts, ch, err := f.svc.BeginLogin(context.Background())
	if err != nil {
		f.t.Fatal(err)
	}
	return opts, ch
}

func (f *fixture) login(soft *passkeytest.Credential, tm passkeytest.Tamper) (string, *passkey.Credential, error) {
	f.t.Helper()
	opts, ch := f.beginLogin()
	return f.svc.FinishLogin(context.Background(), ch, f.auth.Get(opts, soft, tm))
}

func (f *fixture) list(identityID string) []passkey.Credential {
	f.t.Helper()
	l, err := f.svc.List(context.Background(), identityID)
	if err != nil {
		f.t.Fatal(err)
	}
	return l
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  passkey.Config
		ok   bool
	}{
		{"public", cfg, true},
		{"localhost", passkey.Config{RPID: "localhost", RPName: "Foyer", Origins: []string{"http://localhost:4455"}}, true},
		{"subdomain origin", passkey.Config{RPID: "example.com", RPName: "Acme", Origins: []string{"https://id.example.com"}}, true},
		{"no RPID", passkey.Config{RPName: "Acme", Origins: []string{origin}}, false},
		{"RPID with port", passkey.Config{RPID: "id.example.com:443", RPName: "Acme", Origins: []string{origin}}, false},
		{"RPID is a URL", passkey.Config{RPID: origin, RPName: "Acme", Origins: []string{origin}}, false},
		{"no name", passkey.Config{RPID: rpID, Origins: []string{origin}}, false},
		{"no origins", passkey.Config{RPID: rpID, RPName: "Acme"}, false},
		{"origin with path", passkey.Config{RPID: rpID, RPName: "Acme", Origins: []string{origin + "/login"}}, false},
		{"origin elsewhere", passkey.Config{RPID: rpID, RPName: "Acme", Origins: []string{"https://evil.com"}}, false},
		{"origin suffix trick", passkey.Config{RPID: rpID, RPName: "Acme", Origins: []string{"https://notid.example.com"}}, false},
		{"http off localhost", passkey.Config{RPID: rpID, RPName: "Acme", Origins: []string{"http://id.example.com"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate()
			if (err == nil) != tc.ok {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
			if _, err := passkey.New(nil, tc.cfg, nil); (err == nil) != tc.ok {
				t.Fatalf("New() = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

func TestRegisterAndLogin(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)

		opts, ch, err := f.svc.BeginRegistration(ctx, "alice", "alice@example.com", "Alice")
		if err != nil {
			t.Fatal(err)
		}
		var o struct {
			PublicKey struct {
				RP struct {
					ID   string `json:"id"`
					Name string `json:"name"`
				} `json:"rp"`
				User struct {
					ID          string `json:"id"`
					Name        string `json:"name"`
					DisplayName string `json:"displayName"`
				} `json:"user"`
				Challenge   string `json:"challenge"`
				Timeout     int    `json:"timeout"`
				Attestation string `json:"attestation"`
				Params      []struct {
					Type string `json:"type"`
					Alg  int    `json:"alg"`
				} `json:"pubKeyCredParams"`
				Selection struct {
					ResidentKey        string `json:"residentKey"`
					RequireResidentKey bool   `json:"requireResidentKey"`
					UserVerification   string `json:"userVerification"`
				} `json:"authenticatorSelection"`
				Exclude []any `json:"excludeCredentials"`
			} `json:"publicKey"`
		}
		if err := json.Unmarshal(opts, &o); err != nil {
			t.Fatal(err)
		}
		pk := o.PublicKey
		if pk.RP.ID != rpID || pk.RP.Name != "Acme" || pk.User.ID != b64.EncodeToString([]byte("alice")) ||
			pk.User.Name != "alice@example.com" || pk.User.DisplayName != "Alice" || pk.Timeout != 300000 ||
			pk.Attestation != "none" || pk.Selection.ResidentKey != "required" || !pk.Selection.RequireResidentKey ||
			pk.Selection.UserVerification != "required" || len(pk.Exclude) != 0 {
			t.Fatalf("creation options: %s", opts)
		}
		if raw, err := b64.DecodeString(pk.Challenge); err != nil || len(raw) < 16 {
			t.Fatalf("challenge %q: %v", pk.Challenge, err)
		}
		if !slices.ContainsFunc(pk.Params, func(p struct {
			Type string `json:"type"`
			Alg  int    `json:"alg"`
		}) bool {
			return p.Type == "public-key" && p.Alg == -7
		}) {
			t.Fatalf("ES256 not offered: %s", opts)
		}

		resp, soft := f.auth.Register(opts)
		c, err := f.svc.FinishRegistration(ctx, ch, "alice", "  iPhone ", resp)
		if err != nil {
			t.Fatal(err)
		}
		want := passkey.Credential{
			ID: b64.EncodeToString(soft.ID), IdentityID: "alice", Domain: "customers", Name: "iPhone",
			AAGUID: "00000000-0000-0000-0000-000000000000", Transports: []string{"hybrid", "internal"},
			BackupEligible: true, BackupState: true, UserVerified: true, CreatedAt: f.clock.now(),
		}
		if !sameCredential(*c, want) {
			t.Fatalf("FinishRegistration = %+v, want %+v", *c, want)
		}
		if l := f.list("alice"); len(l) != 1 || !sameCredential(l[0], want) {
			t.Fatalf("List = %+v, want [%+v]", l, want)
		}

		f.clock.add(time.Hour)
		lopts, lch := f.beginLogin()
		var lo struct {
			PublicKey map[string]any `json:"publicKey"`
		}
		if err := json.Unmarshal(lopts, &lo); err != nil {
			t.Fatal(err)
		}
		if lo.PublicKey["rpId"] != rpID || lo.PublicKey["userVerification"] != "required" ||
			lo.PublicKey["timeout"] != float64(300000) || lo.PublicKey["challenge"] == "" {
			t.Fatalf("request options: %s", lopts)
		}
		if _, ok := lo.PublicKey["allowCredentials"]; ok {
			t.Fatalf("request options list credentials: %s", lopts)
		}
		id, got, err := f.svc.FinishLogin(ctx, lch, f.auth.Get(lopts, soft, passkeytest.Tamper{}))
		if err != nil {
			t.Fatal(err)
		}
		if id != "alice" || got.ID != c.ID || got.SignCount != 1 || !got.LastUsedAt.Equal(f.clock.now()) {
			t.Fatalf("FinishLogin = %q, %+v", id, got)
		}
		l := f.list("alice")
		if len(l) != 1 || l[0].SignCount != 1 || !l[0].LastUsedAt.Equal(f.clock.now()) {
			t.Fatalf("after login: %+v", l)
		}

		// And again: the counter moves on.
		if id, got, err := f.login(soft, passkeytest.Tamper{}); err != nil || id != "alice" || got.SignCount != 2 {
			t.Fatalf("second login = %q, %+v, %v", id, got, err)
		}
	})
}

func sameCredential(a, b passkey.Credential) bool {
	return a.ID == b.ID && a.IdentityID == b.IdentityID && a.Domain == b.Domain && a.Name == b.Name &&
		a.AAGUID == b.AAGUID && slices.Equal(a.Transports, b.Transports) && a.SignCount == b.SignCount &&
		a.BackupEligible == b.BackupEligible && a.BackupState == b.BackupState && a.UserVerified == b.UserVerified &&
		a.CreatedAt.Equal(b.CreatedAt) && a.LastUsedAt.Equal(b.LastUsedAt)
}

func TestLoginFindsTheRightIdentity(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		_, a := f.register("alice", "laptop")
		_, b := f.register("bob", "phone")
		for _, tc := range []struct {
			soft *passkeytest.Credential
			want string
		}{{a, "alice"}, {b, "bob"}, {a, "alice"}} {
			id, _, err := f.login(tc.soft, passkeytest.Tamper{})
			if err != nil || id != tc.want {
				t.Fatalf("login = %q, %v; want %q", id, err, tc.want)
			}
		}
		// Bob's authenticator claiming Alice's user handle.
		if _, _, err := f.login(b, passkeytest.Tamper{UserHandle: []byte("alice")}); !errors.Is(err, passkey.ErrInvalidResponse) {
			t.Fatalf("someone else's user handle: %v", err)
		}
	})
}

// TestRegistrationRejected covers responses that must not register a
// passkey; each uses up its challenge.
func TestRegistrationRejected(t *testing.T) {
	for _, tc := range []struct {
		name string
		tm   passkeytest.Tamper
	}{
		{"wrong origin", passkeytest.Tamper{Origin: "https://evil.example.com"}},
		{"origin of the RP ID's parent", passkeytest.Tamper{Origin: "https://example.com"}},
		{"wrong RP ID", passkeytest.Tamper{RPID: "evil.com"}},
		{"wrong challenge", passkeytest.Tamper{Challenge: b64.EncodeToString(make([]byte, 32))}},
		{"user not verified", passkeytest.Tamper{NoUV: true}},
		{"sign-in client data", passkeytest.Tamper{Type: "webauthn.get"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				ctx := context.Background()
				f := setup(t, db)
				opts, ch := f.beginRegistration("alice")
				resp, _ := f.auth.Create(opts, tc.tm)
				if _, err := f.svc.FinishRegistration(ctx, ch, "alice", "x", resp); !errors.Is(err, passkey.ErrInvalidResponse) {
					t.Fatalf("FinishRegistration = %v, want ErrInvalidResponse", err)
				}
				good, _ := f.auth.Create(opts, passkeytest.Tamper{})
				if _, err := f.svc.FinishRegistration(ctx, ch, "alice", "x", good); !errors.Is(err, passkey.ErrChallenge) {
					t.Fatalf("retry on a failed challenge = %v, want ErrChallenge", err)
				}
				if n, err := f.svc.Count(ctx, "alice"); err != nil || n != 0 {
					t.Fatalf("Count = %d, %v", n, err)
				}
			})
		})
	}
}

func TestLoginRejected(t *testing.T) {
	for _, tc := range []struct {
		name string
		tm   passkeytest.Tamper
	}{
		{"wrong origin", passkeytest.Tamper{Origin: "https://evil.example.com"}},
		{"wrong RP ID", passkeytest.Tamper{RPID: "evil.com"}},
		{"wrong challenge", passkeytest.Tamper{Challenge: b64.EncodeToString(make([]byte, 32))}},
		{"user not verified", passkeytest.Tamper{NoUV: true}},
		{"registration client data", passkeytest.Tamper{Type: "webauthn.create"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			storetest.Each(t, func(t *testing.T, db *store.DB) {
				ctx := context.Background()
				f := setup(t, db)
				_, soft := f.register("alice", "")
				opts, ch := f.beginLogin()
				id, c, err := f.svc.FinishLogin(ctx, ch, f.auth.Get(opts, soft, tc.tm))
				if !errors.Is(err, passkey.ErrInvalidResponse) || id != "" || c != nil {
					t.Fatalf("FinishLogin = %q, %v, %v; want ErrInvalidResponse", id, c, err)
				}
				if _, _, err := f.svc.FinishLogin(ctx, ch, f.auth.Get(opts, soft, passkeytest.Tamper{})); !errors.Is(err, passkey.ErrChallenge) {
					t.Fatalf("retry on a failed challenge = %v, want ErrChallenge", err)
				}
				if l := f.list("alice"); l[0].SignCount != 0 || !l[0].LastUsedAt.IsZero() {
					t.Fatalf("rejected login updated the credential: %+v", l[0])
				}
			})
		})
	}
}

func TestChallenges(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		_, soft := f.register("alice", "")

		// A sign-in challenge works once.
		opts, ch := f.beginLogin()
		resp := f.auth.Get(opts, soft, passkeytest.Tamper{})
		if _, _, err := f.svc.FinishLogin(ctx, ch, resp); err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.svc.FinishLogin(ctx, ch, resp); !errors.Is(err, passkey.ErrChallenge) {
			t.Fatalf("replayed sign-in = %v, want ErrChallenge", err)
		}
		// Unknown challenge id.
		if _, _, err := f.svc.FinishLogin(ctx, "nope", resp); !errors.Is(err, passkey.ErrChallenge) {
			t.Fatalf("unknown challenge = %v, want ErrChallenge", err)
		}
		// The response to one challenge does not finish another.
		_, ch2 := f.beginLogin()
		if _, _, err := f.svc.FinishLogin(ctx, ch2, f.auth.Get(opts, soft, passkeytest.Tamper{})); !errors.Is(err, passkey.ErrInvalidResponse) {
			t.Fatalf("response for another challenge = %v, want ErrInvalidResponse", err)
		}

		// A registration challenge works once, for its identity only, and
		// not for a sign-in; a sign-in challenge does not register.
		ropts, rch := f.beginRegistration("alice")
		rresp, _ := f.auth.Create(ropts, passkeytest.Tamper{})
		if _, err := f.svc.FinishRegistration(ctx, rch, "bob", "", rresp); !errors.Is(err, passkey.ErrChallenge) {
			t.Fatalf("another identity's challenge = %v, want ErrChallenge", err)
		}
		if _, _, err := f.svc.FinishLogin(ctx, rch, resp); !errors.Is(err, passkey.ErrChallenge) {
			t.Fatalf("registration challenge for a sign-in = %v, want ErrChallenge", err)
		}
		_, lch := f.beginLogin()
		if _, err := f.svc.FinishRegistration(ctx, lch, "alice", "", rresp); !errors.Is(err, passkey.ErrChallenge) {
			t.Fatalf("sign-in challenge for a registration = %v, want ErrChallenge", err)
		}
		if _, err := f.svc.FinishRegistration(ctx, rch, "alice", "", rresp); err != nil {
			t.Fatalf("own challenge after the misuses: %v", err)
		}
		if _, err := f.svc.FinishRegistration(ctx, rch, "alice", "", rresp); !errors.Is(err, passkey.ErrChallenge) {
			t.Fatalf("replayed registration = %v, want ErrChallenge", err)
		}

		// A bad name keeps the challenge.
		nopts, nch := f.beginRegistration("alice")
		nresp, _ := f.auth.Create(nopts, passkeytest.Tamper{})
		if _, err := f.svc.FinishRegistration(ctx, nch, "alice", "a\x00b", nresp); !errors.Is(err, passkey.ErrInvalidName) {
			t.Fatalf("bad name = %v, want ErrInvalidName", err)
		}
		if _, err := f.svc.FinishRegistration(ctx, nch, "alice", "ok", nresp); err != nil {
			t.Fatalf("after a bad name: %v", err)
		}
	})
}

func TestChallengeOnceUnderConcurrency(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		first, soft := f.register("alice", "")
		f.clock.add(time.Second) // so List puts it first

		opts, ch := f.beginLogin()
		resp := f.auth.Get(opts, soft, passkeytest.Tamper{})
		ropts, rch := f.beginRegistration("alice")
		rresp, _ := f.auth.Create(ropts, passkeytest.Tamper{})

		const n = 10
		var wg sync.WaitGroup
		loginErrs := make([]error, n)
		regErrs := make([]error, n)
		for i := range n {
			wg.Go(func() { _, _, loginErrs[i] = f.svc.FinishLogin(ctx, ch, resp) })
			wg.Go(func() { _, regErrs[i] = f.svc.FinishRegistration(ctx, rch, "alice", "", rresp) })
		}
		wg.Wait()
		for name, errs := range map[string][]error{"FinishLogin": loginErrs, "FinishRegistration": regErrs} {
			ok := 0
			for _, err := range errs {
				switch {
				case err == nil:
					ok++
				case !errors.Is(err, passkey.ErrChallenge):
					t.Errorf("%s: unexpected error %v", name, err)
				}
			}
			if ok != 1 {
				t.Errorf("%s: %d of %d parallel finishes succeeded, want 1", name, ok, n)
			}
		}
		if l := f.list("alice"); len(l) != 2 || l[0].ID != first.ID || l[0].SignCount != 1 {
			t.Fatalf("after the race: %+v", l)
		}
	})
}

func TestChallengeExpiry(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		_, soft := f.register("alice", "")

		// Just in time works.
		opts, ch := f.beginLogin()
		f.clock.add(passkey.ChallengeTTL - time.Microsecond)
		if _, _, err := f.svc.FinishLogin(ctx, ch, f.auth.Get(opts, soft, passkeytest.Tamper{})); err != nil {
			t.Fatalf("login just before expiry: %v", err)
		}

		opts, ch = f.beginLogin()
		ropts, rch := f.beginRegistration("alice")
		f.clock.add(passkey.ChallengeTTL)
		if _, _, err := f.svc.FinishLogin(ctx, ch, f.auth.Get(opts, soft, passkeytest.Tamper{})); !errors.Is(err, passkey.ErrChallengeExpired) || !errors.Is(err, passkey.ErrChallenge) {
			t.Fatalf("expired sign-in challenge = %v, want ErrChallengeExpired", err)
		}
		rresp, _ := f.auth.Create(ropts, passkeytest.Tamper{})
		if _, err := f.svc.FinishRegistration(ctx, rch, "alice", "", rresp); !errors.Is(err, passkey.ErrChallengeExpired) {
			t.Fatalf("expired registration challenge = %v, want ErrChallengeExpired", err)
		}

		// Prune deletes expired, unfinished challenges only.
		f.beginLogin()
		f.beginRegistration("bob")
		f.clock.add(passkey.ChallengeTTL)
		_, fresh := f.beginLogin()
		if n, err := f.svc.Prune(ctx); err != nil || n != 2 {
			t.Fatalf("Prune = %d, %v; want 2", n, err)
		}
		var left []string
		rows, err := db.Query(ctx, `SELECT id FROM webauthn_challenges`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				t.Fatal(err)
			}
			left = append(left, id)
		}
		if !slices.Equal(left, []string{fresh}) {
			t.Fatalf("challenges after Prune: %v, want [%s]", left, fresh)
		}
	})
}

func TestSignCounter(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		_, soft := f.register("alice", "")
		counter := func(n uint32) passkeytest.Tamper { return passkeytest.Tamper{Counter: &n} }

		if _, c, err := f.login(soft, counter(5)); err != nil || c.SignCount != 5 {
			t.Fatalf("counter 5: %+v, %v", c, err)
		}
		lastUsed := f.list("alice")[0].LastUsedAt
		f.clock.add(time.Minute)
		for _, n := range []uint32{3, 5, 0} {
			id, c, err := f.login(soft, counter(n))
			if !errors.Is(err, passkey.ErrCloned) {
				t.Fatalf("counter %d after 5 = %v, want ErrCloned", n, err)
			}
			if id != "alice" || c == nil || c.SignCount != 5 {
				t.Fatalf("ErrCloned came with %q, %+v; want the identity and the stored credential", id, c)
			}
		}
		if l := f.list("alice"); l[0].SignCount != 5 || !l[0].LastUsedAt.Equal(lastUsed) {
			t.Fatalf("a cloned sign-in updated the credential: %+v", l[0])
		}
		if _, c, err := f.login(soft, counter(6)); err != nil || c.SignCount != 6 {
			t.Fatalf("counter 6: %+v, %v", c, err)
		}

		// Authenticators without a counter send 0 every time.
		_, synced := f.register("bob", "")
		for range 3 {
			if id, c, err := f.login(synced, counter(0)); err != nil || id != "bob" || c.SignCount != 0 {
				t.Fatalf("counterless: %q, %+v, %v", id, c, err)
			}
		}
		if _, _, err := f.login(synced, counter(1)); err != nil {
			t.Fatalf("counter starting later: %v", err)
		}
		if _, _, err := f.login(synced, counter(0)); !errors.Is(err, passkey.ErrCloned) {
			t.Fatalf("back to 0 = %v, want ErrCloned", err)
		}
	})
}

func TestExcludeCredentials(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := setup(t, db)
		a1, _ := f.register("alice", "one")
		a2, _ := f.register("alice", "two")
		f.register("bob", "other")

		opts, _ := f.beginRegistration("alice")
		var o struct {
			PublicKey struct {
				Exclude []struct {
					Type       string   `json:"type"`
					ID         string   `json:"id"`
					Transports []string `json:"transports"`
				} `json:"excludeCredentials"`
			} `json:"publicKey"`
		}
		if err := json.Unmarshal(opts, &o); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, d := range o.PublicKey.Exclude {
			if d.Type != "public-key" || !slices.Equal(d.Transports, []string{"hybrid", "internal"}) {
				t.Fatalf("descriptor %+v", d)
			}
			ids = append(ids, d.ID)
		}
		slices.Sort(ids)
		want := []string{a1.ID, a2.ID}
		slices.Sort(want)
		if !slices.Equal(ids, want) {
			t.Fatalf("excludeCredentials = %v, want %v", ids, want)
		}
	})
}

func TestAlreadyRegistered(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		opts, ch := f.beginRegistration("alice")
		resp, _ := f.auth.Create(opts, passkeytest.Tamper{})
		if _, err := f.svc.FinishRegistration(ctx, ch, "alice", "", resp); err != nil {
			t.Fatal(err)
		}
		// The same credential id again, for another identity.
		var first struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(resp, &first); err != nil {
			t.Fatal(err)
		}
		id, err := b64.DecodeString(first.ID)
		if err != nil {
			t.Fatal(err)
		}
		opts2, ch2 := f.beginRegistration("bob")
		resp2, _ := f.auth.Create(opts2, passkeytest.Tamper{CredID: id})
		if _, err := f.svc.FinishRegistration(ctx, ch2, "bob", "", resp2); !errors.Is(err, passkey.ErrAlreadyRegistered) {
			t.Fatalf("registering a known credential id = %v, want ErrAlreadyRegistered", err)
		}
		if n, _ := f.svc.Count(ctx, "bob"); n != 0 {
			t.Fatalf("bob has %d passkeys", n)
		}
	})
}

func TestManage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		if l := f.list("alice"); l == nil || len(l) != 0 {
			t.Fatalf("List with none = %#v, want empty", l)
		}
		a1, soft1 := f.register("alice", "")
		f.clock.add(time.Second)
		a2, _ := f.register("alice", "YubiKey")
		b1, _ := f.register("bob", "phone")

		if a1.Name != passkey.DefaultName {
			t.Fatalf("empty name became %q", a1.Name)
		}
		if n, err := f.svc.Count(ctx, "alice"); err != nil || n != 2 {
			t.Fatalf("Count = %d, %v", n, err)
		}
		if l := f.list("alice"); len(l) != 2 || l[0].ID != a1.ID || l[1].ID != a2.ID {
			t.Fatalf("List = %+v", l)
		}

		if c, err := f.svc.Rename(ctx, "alice", a1.ID, " MacBook "); err != nil || c.ID != a1.ID || c.Name != "MacBook" {
			t.Fatalf("Rename = %+v, %v", c, err)
		}
		if _, err := f.svc.Rename(ctx, "alice", b1.ID, "mine now"); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("renaming someone else's passkey = %v, want ErrNotFound", err)
		}
		if _, err := f.svc.Rename(ctx, "alice", a2.ID, string(make([]rune, passkey.MaxNameLength+1))); !errors.Is(err, passkey.ErrInvalidName) {
			t.Fatalf("long name = %v", err)
		}
		long := ""
		for range passkey.MaxNameLength {
			long += "é"
		}
		if _, err := f.svc.Rename(ctx, "alice", a2.ID, long); err != nil {
			t.Fatalf("%d-character name: %v", passkey.MaxNameLength, err)
		}
		if l := f.list("alice"); l[0].Name != "MacBook" || l[1].Name != long {
			t.Fatalf("after rename: %+v", l)
		}
		if l := f.list("bob"); l[0].Name != "phone" {
			t.Fatalf("bob's passkey renamed: %+v", l)
		}

		if err := f.svc.Delete(ctx, "bob", a1.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("deleting someone else's passkey = %v, want ErrNotFound", err)
		}
		if err := f.svc.Delete(ctx, "alice", a1.ID); err != nil {
			t.Fatal(err)
		}
		if err := f.svc.Delete(ctx, "alice", a1.ID); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("deleting twice = %v, want ErrNotFound", err)
		}
		if l := f.list("alice"); len(l) != 1 || l[0].ID != a2.ID {
			t.Fatalf("after delete: %+v", l)
		}
		if _, _, err := f.login(soft1, passkeytest.Tamper{}); !errors.Is(err, passkey.ErrUnknownCredential) {
			t.Fatalf("login with a deleted passkey = %v, want ErrUnknownCredential", err)
		}

		// Deleting the identity deletes its passkeys.
		if _, err := db.Exec(ctx, `DELETE FROM identities WHERE id = $1`, "alice"); err != nil {
			t.Fatal(err)
		}
		if n, err := f.svc.Count(ctx, "alice"); err != nil || n != 0 {
			t.Fatalf("Count after deleting the identity = %d, %v", n, err)
		}
	})
}

func TestBeginRegistrationInput(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		f := setup(t, db)
		long := string(make([]byte, 65))
		for _, tc := range []struct{ id, email string }{{"", "a@example.com"}, {long, "a@example.com"}, {"alice", ""}} {
			if _, _, err := f.svc.BeginRegistration(ctx, tc.id, tc.email, ""); err == nil {
				t.Fatalf("BeginRegistration(%q, %q) succeeded", tc.id, tc.email)
			}
		}
		// An identity that is gone by the time the ceremony finishes.
		f.addIdentity("carol")
		opts, ch := f.beginRegistration("carol")
		if _, err := db.Exec(ctx, `DELETE FROM identities WHERE id = 'carol'`); err != nil {
			t.Fatal(err)
		}
		resp, _ := f.auth.Create(opts, passkeytest.Tamper{})
		if _, err := f.svc.FinishRegistration(ctx, ch, "carol", "", resp); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("identity deleted meanwhile = %v, want ErrNotFound", err)
		}
		// Garbage and oversized responses.
		_, ch = f.beginLogin()
		if _, _, err := f.svc.FinishLogin(ctx, ch, []byte(`{"id":"x"}`)); !errors.Is(err, passkey.ErrInvalidResponse) {
			t.Fatalf("garbage = %v, want ErrInvalidResponse", err)
		}
		_, ch = f.beginLogin()
		if _, _, err := f.svc.FinishLogin(ctx, ch, make([]byte, passkey.MaxResponseSize+1)); !errors.Is(err, passkey.ErrInvalidResponse) {
			t.Fatalf("oversized = %v, want ErrInvalidResponse", err)
		}
	})
}
