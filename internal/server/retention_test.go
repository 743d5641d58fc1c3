package server_test

import (
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/api"
	"github.com/foyer-id/foyer/internal/config"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// count returns the rows of a table that match a condition.
func count(t *testing.T, db *store.DB, table, where string, args ...any) int {
	t.Helper()
	var n int
	if err := db.QueryRow(t.Context(), `SELECT COUNT(*) FROM `+table+` WHERE `+where, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Storage does not grow without limit: past their retention, events,
// ended sessions and abandoned sign-ups go (the address of one is free
// again), and so do expired passkey challenges; what is still in use
// stays.
func TestPruneByRetention(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db, servertest.Localhost())
		keep := env.Config.Retention

		// A customer who signed out, an abandoned sign-up, a passkey
		// sign-in that was never finished.
		var done api.FlowResponse
		id, code := startAPIRegistration(t, env, "old@example.com")
		expectStatus(t, env.JSON(t, "POST", "/api/flows/"+id+"/code", "", map[string]any{"code": code}, &done), 200)
		expectStatus(t, env.JSON(t, "POST", "/api/logout", done.SessionToken, map[string]any{}, nil), 204)
		startAPIRegistration(t, env, "gone@example.com")
		expectStatus(t, env.JSON(t, "POST", "/api/passkeys/login/options", "", map[string]any{}, nil), 200)
		if count(t, db, "identities", "state = 'pending'") != 1 || count(t, db, "webauthn_challenges", "1 = 1") != 1 {
			t.Fatal("set-up did not leave a pending sign-up and a passkey challenge")
		}
		oldEvents := count(t, db, "events", "1 = 1")

		// Long after, a new customer signs up and is still signed in.
		env.Clock.Advance(keep.Events.D() + time.Hour)
		id, code = startAPIRegistration(t, env, "new@example.com")
		expectStatus(t, env.JSON(t, "POST", "/api/flows/"+id+"/code", "", map[string]any{"code": code}, &done), 200)
		newEvents := count(t, db, "events", "1 = 1") - oldEvents

		env.Server.PruneOnce(t.Context())
		if n := count(t, db, "events", "1 = 1"); n != newEvents {
			t.Fatalf("%d events left, want the %d recent ones", n, newEvents)
		}
		if n := count(t, db, "sessions", "1 = 1"); n != 1 {
			t.Fatalf("%d sessions left, want the one live session", n)
		}
		if n := count(t, db, "identities", "state = 'pending'"); n != 0 {
			t.Fatalf("%d abandoned sign-ups left", n)
		}
		if n := count(t, db, "webauthn_challenges", "1 = 1"); n != 0 {
			t.Fatalf("%d expired passkey challenges left", n)
		}
		if n := count(t, db, "identities", "state = 'active'"); n != 2 {
			t.Fatalf("%d accounts, want both", n)
		}
		// The abandoned address is free again: a sign-up creates it anew.
		startAPIRegistration(t, env, "gone@example.com")
		if n := count(t, db, "identities", "state = 'pending'"); n != 1 {
			t.Fatalf("signing up the freed address: %d pending", n)
		}
		var who api.WhoamiResponse
		expectStatus(t, env.JSON(t, "GET", "/sessions/whoami", done.SessionToken, nil, &who), 200)
	})
}

// An unfinished sign-up that a new sign-up of its address shares is not
// abandoned: the pruner leaves it to the new one, whose code completes it.
func TestPruneSparesASharedSignUp(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db, servertest.Localhost())
		startAPIRegistration(t, env, "back@example.com")
		env.Clock.Advance(env.Config.Retention.PendingIdentities.D() + time.Hour)
		id, code := startAPIRegistration(t, env, "back@example.com")
		env.Server.PruneOnce(t.Context())
		var done api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/flows/"+id+"/code", "", map[string]any{"code": code}, &done), 200)
		if done.SessionToken == "" || count(t, db, "identities", "state = 'active'") != 1 {
			t.Fatalf("the shared sign-up was not completed: %+v", done)
		}
	})
}

// Retention 0 keeps records for ever.
func TestRetentionZeroKeeps(t *testing.T) {
	env := servertest.Start(t, storetest.NewSQLite(t), func(c *config.Config) { c.Retention = config.Retention{} })
	startAPIRegistration(t, env, "kept@example.com")
	events := count(t, env.DB, "events", "1 = 1")
	env.Clock.Advance(10 * 365 * 24 * time.Hour)
	env.Server.PruneOnce(t.Context())
	if count(t, env.DB, "events", "1 = 1") != events || count(t, env.DB, "identities", "1 = 1") != 1 {
		t.Fatal("retention 0 pruned")
	}
}

// Journeys started from one network are counted before each is stored:
// a burst past the network's share waits, and another network does not.
func TestFlowStartsPerNetwork(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db, behindProxy, func(c *config.Config) {
			c.Domains[config.DefaultDomain].FlowsPerNetwork = 5
		})
		env.Clock.Stop() // its waits last while the test works, however loaded the machine
		statuses := burst(20, func(int) *servertest.Response {
			return env.JSONWith(t, "POST", "/api/login", from("198.51.100.40", ""), nil, nil)
		})
		if statuses[201] != 5 || statuses[429] != 15 {
			t.Fatalf("statuses %v: want five flows and 15 waits", statuses)
		}
		if n := count(t, db, "flows", "1 = 1"); n != 5 {
			t.Fatalf("%d flows stored, want 5", n)
		}
		expectStatus(t, env.JSONWith(t, "POST", "/api/registration", from("198.51.100.41", ""), nil, nil), 201)
	})
}
