package server_test

import (
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/api"
	"github.com/foyer-id/foyer/internal/challenge"
	"github.com/foyer-id/foyer/internal/config"
	"github.com/foyer-id/foyer/internal/decision"
	"github.com/foyer-id/foyer/internal/event"
	"github.com/foyer-id/foyer/internal/policy"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// A credential-stuffing run on loopback: 10,000 attempts over 1,000
// identifiers from one source, then 10,000 spread over 200 sources. The
// single source is challenged after its few free failures; the spread run
// raises the site's failure rate until every node sees a spike (recorded
// as an event), from which on every attempt on a device new to its
// account is challenged — from every source. Throughout, the owner's sign-
// in from their known device with the right password succeeds: no
// lockout. Its latency is logged (p99), not asserted.
func TestCredentialStuffing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db, behindProxy)
		const owner = "owner@example.com"
		home := from("10.9.9.9", "owner-laptop")
		signUpOn(t, env, owner, home)
		velocity := env.Server.Flows.Velocity
		// The attack takes seconds, or a minute on a loaded machine: with
		// the clock stopped, no wait ends during it by chance, so what
		// gets through is what the throttles let through, every run.
		env.Clock.Stop()

		var (
			mu    sync.Mutex
			owned []time.Duration
		)
		ownerSignsIn := func() {
			t.Helper()
			start := time.Now()
			r, p := signInFrom(t, env, home, owner, goodPassword)
			took := time.Since(start)
			if r.StatusCode != http.StatusOK {
				t.Fatalf("the owner's known device was refused during the attack: %d %+v", r.StatusCode, p)
			}
			mu.Lock()
			owned = append(owned, took)
			mu.Unlock()
		}
		// attack sends n attempts, 8 at a time, each on a flow of its
		// source started once, and counts the answers: 400 (the password
		// was checked and wrong) or 429 (refused unchecked: a challenge,
		// almost always). Every 500 attempts the
		// site shares its failures (as each node does every few seconds)
		// and the owner signs in.
		attack := func(n int, source func(i int) string) (checked, challenged int) {
			flows := map[string]string{}
			flowOf := func(ip string) string {
				mu.Lock()
				defer mu.Unlock()
				if id, ok := flows[ip]; ok {
					return id
				}
				var start api.FlowResponse
				expectStatus(t, env.JSONWith(t, "POST", "/api/login", from(ip, ""), nil, &start), 201)
				flows[ip] = start.Flow.ID
				return start.Flow.ID
			}
			for batch := 0; batch < n; batch += 500 {
				var wg sync.WaitGroup
				work := make(chan int)
				for range 8 {
					wg.Go(func() {
						for i := range work {
							ip := source(i)
							var p api.Problem
							r := env.JSONWith(t, "POST", "/api/login/"+flowOf(ip), from(ip, ""),
								map[string]any{"identifier": fmt.Sprintf("victim%04d@example.com", i%1000), "password": "Summer2026!"}, &p)
							mu.Lock()
							switch {
							case r.StatusCode == http.StatusBadRequest:
								checked++
							case r.StatusCode == http.StatusTooManyRequests && p.Challenge != nil:
								challenged++
							case r.StatusCode == http.StatusTooManyRequests:
								// Refused with a wait: a network's wait
								// that ended between the reservation
								// and its explanation reads as the
								// account's moment of wait. Refused all
								// the same, unchecked.
								challenged++
							default:
								t.Errorf("attempt %d from %s: %d %+v", i, ip, r.StatusCode, p)
							}
							mu.Unlock()
						}
					})
				}
				for i := batch; i < min(batch+500, n); i++ {
					work <- i
				}
				close(work)
				wg.Wait()
				if err := velocity.Tick(t.Context()); err != nil {
					t.Fatal(err)
				}
				ownerSignsIn()
			}
			return checked, challenged
		}

		// One source: a few free failures (and the attempts already under
		// way when the network closed), then challenges.
		checked, challenged := attack(10_000, func(int) string { return "203.0.113.66" })
		if checked > 5+8 || challenged < 10_000-13 {
			t.Fatalf("one source: %d passwords checked, %d challenged", checked, challenged)
		}
		if spike, _ := velocity.Spike(); spike {
			t.Fatal("one throttled source made a site-wide spike")
		}

		// Two hundred sources, fifty attempts each: each alone stays
		// within a network's few free failures for a while, but together
		// they spike, and then every source is challenged.
		checked, challenged = attack(10_000, func(i int) string { return fmt.Sprintf("198.51.%d.%d", 100+i%200/100, i%200) })
		spikes, err := env.Server.Events.List(t.Context(), event.Query{Type: event.FailureSpike})
		if err != nil || len(spikes) != 1 {
			t.Fatalf("spike events: %d, %v", len(spikes), err)
		}
		if spike, _ := velocity.Spike(); !spike {
			t.Fatal("no spike after 10,000 attempts from 200 sources")
		}
		if checked > 200*5+8 || challenged < 10_000-200*5-8 {
			t.Fatalf("spread: %d passwords checked, %d challenged", checked, challenged)
		}
		// A source never seen before is challenged at once, for the site.
		var p api.Problem
		r, p := signInFrom(t, env, from("192.0.2.200", ""), "victim0001@example.com", "Summer2026!")
		if r.StatusCode != http.StatusTooManyRequests || p.Challenge == nil {
			t.Fatalf("a fresh source during the spike: %d %+v", r.StatusCode, p)
		}
		recs, err := env.Server.Decisions.List(t.Context(), decision.Query{Action: policy.LoginSubmit, From: env.Clock.Now().Add(-time.Minute)})
		if err != nil || !slices.ContainsFunc(recs, func(d decision.Record) bool {
			return d.Reason == "site_under_attack" && d.Input.Signals.SiteSpike && d.Input.Signals.SiteFailures >= 100
		}) {
			t.Fatalf("no site_under_attack decision recorded (%d records, %v)", len(recs), err)
		}
		// A customer on a new device solves the challenge and is let in.
		signUpOn(t, env, "newcomer@example.com", from("10.8.8.8", "first-laptop"))
		var start api.FlowResponse
		expectStatus(t, env.JSONWith(t, "POST", "/api/login", from("10.7.7.7", "new-phone"), nil, &start), 201)
		body := map[string]any{"identifier": "newcomer@example.com", "password": goodPassword}
		r = env.JSONWith(t, "POST", "/api/login/"+start.Flow.ID, from("10.7.7.7", "new-phone"), body, &p)
		if r.StatusCode != http.StatusTooManyRequests || p.Challenge == nil {
			t.Fatalf("a new device during the spike: %d %+v", r.StatusCode, p)
		}
		solved := from("10.7.7.7", "new-phone")
		solved.Set("X-Foyer-Challenge", p.Challenge.Token)
		solved.Set("X-Foyer-Challenge-Solution", challenge.Solve(*p.Challenge))
		expectStatus(t, env.JSONWith(t, "POST", "/api/login/"+start.Flow.ID, solved, body, nil), 200)

		slices.Sort(owned)
		t.Logf("%s: the owner signed in %d times during the attack; p50 %v, p99 %v, max %v", db.Dialect, len(owned),
			owned[len(owned)/2], owned[len(owned)*99/100], owned[len(owned)-1])
	})
}

// Where an operator gave networks many free failures (customers behind a
// few large NATs), a source whose failures spread over many accounts is
// still challenged — that is stuffing — while one customer mistyping a
// password again and again, behind another address, is not.
func TestNetworkSpreadIsChallenged(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db, behindProxy, func(c *config.Config) {
			c.Domains[config.DefaultDomain].Login.FreeFailures = 100
		})
		env.Clock.Stop()
		for i := range 10 {
			r, p := signInFrom(t, env, from("203.0.113.99", ""), fmt.Sprintf("sprayed%02d@example.com", i), "Winter2026!")
			if r.StatusCode != http.StatusBadRequest {
				t.Fatalf("account %d: %d %+v", i, r.StatusCode, p)
			}
		}
		r, p := signInFrom(t, env, from("203.0.113.99", ""), "sprayed10@example.com", "Winter2026!")
		if r.StatusCode != http.StatusTooManyRequests || p.Challenge == nil {
			t.Fatalf("the eleventh account from the source: %d %+v", r.StatusCode, p)
		}
		for i := range 12 {
			if r, p := signInFrom(t, env, from("198.51.100.42", ""), "mistyped@example.com", fmt.Sprintf("Almost%02d!", i)); r.StatusCode != http.StatusBadRequest {
				t.Fatalf("mistyping %d: %d %+v", i, r.StatusCode, p)
			}
		}
		recs, err := env.Server.Decisions.List(t.Context(), decision.Query{Action: policy.LoginSubmit})
		if err != nil || !slices.ContainsFunc(recs, func(d decision.Record) bool {
			return d.Reason == "credential_stuffing" && d.Input.Signals.NetworkSpread == 10
		}) {
			t.Fatalf("no credential_stuffing decision (%d records, %v)", len(recs), err)
		}
	})
}
