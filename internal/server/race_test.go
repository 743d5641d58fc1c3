package server_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/api"
	"github.com/foyer-id/foyer/internal/config"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

func manySignUps(c *config.Config) {
	c.Domains[config.DefaultDomain].Registration.PerNetwork = 100000
	c.Domains[config.DefaultDomain].FlowsPerNetwork = 100000
	// These bursts are about what the store does with hundreds of writers
	// at once, not how fast: on a loaded machine under the race detector
	// the last of them waits longer than the default deadline, which would
	// (rightly) answer 503.
	c.RequestTimeout = config.Duration(config.MaxRequestTimeout - 5*time.Second)
}

// registerAPI runs one API registration and returns the submit response.
func registerAPI(t *testing.T, env *servertest.Env, email string) *servertest.Response {
	var start api.FlowResponse
	if r := env.JSON(t, "POST", "/api/registration", "", nil, &start); r.StatusCode != 201 {
		return r
	}
	return env.JSON(t, "POST", "/api/registration/"+start.Flow.ID, "", map[string]any{
		"traits": map[string]any{"email": email}, "password": goodPassword}, nil)
}

// 100 concurrent registrations of one address, in case variants, create
// exactly one identity, and every caller sees the same response: most of
// them read the address as free and find it taken when they commit.
func TestConcurrentRegistrationsOfOneEmail(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db, manySignUps)
		variants := []string{"race@example.com", "Race@Example.com", "RACE@EXAMPLE.COM", "race@EXAMPLE.com", " race@example.com "}
		var wg sync.WaitGroup
		responses := make([]string, 100)
		for i := range 100 {
			wg.Go(func() {
				r := registerAPI(t, env, variants[i%len(variants)])
				responses[i] = fmt.Sprint(r.StatusCode, " ", normalize(r.Body, "race@example.com"))
			})
		}
		wg.Wait()
		for i, r := range responses {
			if r != responses[0] {
				t.Fatalf("response %d differs:\n%s\n%s", i, r, responses[0])
			}
		}
		if !strings.HasPrefix(responses[0], "200 ") {
			t.Fatalf("response: %s", responses[0])
		}
		if n := countIdentities(t, db); n != 1 {
			t.Fatalf("%d identities for one address", n)
		}
	})
}

// 200 concurrent registrations of distinct addresses create 200
// identities without a single error.
func TestConcurrentRegistrationsOfDistinctEmails(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db, manySignUps)
		var wg sync.WaitGroup
		var mu sync.Mutex
		failures := map[int]int{}
		for i := range 200 {
			wg.Go(func() {
				r := registerAPI(t, env, fmt.Sprintf("user%03d@example.com", i))
				if r.StatusCode != 200 {
					mu.Lock()
					failures[r.StatusCode]++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if len(failures) > 0 {
			t.Fatalf("failed registrations by status: %v", failures)
		}
		if n := countIdentities(t, db); n != 200 {
			t.Fatalf("%d identities, want 200", n)
		}
	})
}

// Parallel submits of one sign-in flow sign in once: one 200, the others
// 409 (or 429, past the address's free attempts), and no session row for the losers (a loser's session commits with
// its flow update, so the flow's version check undoes it).
func TestParallelSignInSubmitsIssueOneSession(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		const email = "paula@example.com"
		signUp(t, env, email, goodPassword) // verified, and one browser session
		var start api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/login", "", nil, &start), 201)
		var wg sync.WaitGroup
		var mu sync.Mutex
		statuses := map[int]int{}
		var token string
		for range 8 {
			wg.Go(func() {
				var in api.FlowResponse
				r := env.JSON(t, "POST", "/api/login/"+start.Flow.ID, "", map[string]any{"identifier": email, "password": goodPassword}, &in)
				mu.Lock()
				defer mu.Unlock()
				statuses[r.StatusCode]++
				if r.StatusCode == 200 {
					token = in.SessionToken
				}
			})
		}
		wg.Wait()
		// Each submit takes one of the account's places for attempts
		// under way before its hash; those that find none wait (429),
		// like any burst on one account.
		if statuses[200] != 1 || statuses[409]+statuses[429] != 7 {
			t.Fatalf("statuses %v: want one 200 and seven 409 or 429", statuses)
		}
		var who api.WhoamiResponse
		expectStatus(t, env.JSON(t, "GET", "/sessions/whoami", token, nil, &who), 200)
		var n int
		if err := db.QueryRow(t.Context(), `SELECT COUNT(*) FROM sessions WHERE identity_id = $1`, who.Identity.ID).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 2 {
			t.Fatalf("%d sessions, want 2: the sign-up's and the one sign-in's", n)
		}
	})
}
