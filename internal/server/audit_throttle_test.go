package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/api"
	"github.com/foyer-id/foyer/internal/challenge"
	"github.com/foyer-id/foyer/internal/config"
	"github.com/foyer-id/foyer/internal/policy"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
	"github.com/foyer-id/foyer/internal/throttle"
	pqtotp "github.com/pquerna/otp/totp"
)

// makeBusy fails eight sign-ins from ip with addresses nobody has: its
// network must then wait, and is challenged. The wait is a second: the
// clock stops, so that it lasts until the test moves the clock on.
func makeBusy(t *testing.T, env *servertest.Env, ip string) {
	t.Helper()
	env.Clock.Stop()
	for i := range 8 {
		var start api.FlowResponse
		env.JSONWith(t, "POST", "/api/login", from(ip, ""), nil, &start)
		env.JSONWith(t, "POST", "/api/login/"+start.Flow.ID, from(ip, ""),
			map[string]any{"identifier": fmt.Sprintf("nobody%d@example.com", i), "password": "wrong wrong wrong"}, nil)
	}
}

// signInFrom signs in over the API from headers h and returns the answer.
func signInFrom(t *testing.T, env *servertest.Env, h map[string][]string, email, password string) (*servertest.Response, api.Problem) {
	t.Helper()
	var start api.FlowResponse
	env.JSONWith(t, "POST", "/api/login", h, nil, &start)
	var p api.Problem
	r := env.JSONWith(t, "POST", "/api/login/"+start.Flow.ID, h, map[string]any{"identifier": email, "password": password}, &p)
	return r, p
}

// loginCount is an address's sign-in count.
func loginCount(t *testing.T, env *servertest.Env, email string) int {
	t.Helper()
	_, n, err := env.Server.Flows.Throttle.Wait(t.Context(), throttle.IdentifierKey("login", config.DefaultDomain+"/"+email), limitsOf(env).Login)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// Attempts a busy network makes without solving its challenge never reach
// the account they name: neither in flight nor after, so nobody can crowd
// an account's free attempts, or push its window forward, for free.
func TestRefusedAttemptsLeaveTheAccountAlone(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db, behindProxy)
		signUp(t, env, "vic@example.com", goodPassword)
		makeBusy(t, env, "198.51.100.90")
		statuses := burst(60, func(int) *servertest.Response {
			r, _ := signInFrom(t, env, from("198.51.100.90", ""), "vic@example.com", "guess guess guess")
			return r
		})
		if statuses[429] != 60 {
			t.Fatalf("statuses %v: every unsolved attempt is challenged", statuses)
		}
		if n := loginCount(t, env, "vic@example.com"); n != 0 {
			t.Fatalf("the account counts %d attempts it never saw", n)
		}
		r, _ := signInFrom(t, env, from("192.0.2.90", ""), "vic@example.com", goodPassword)
		expectStatus(t, r, 200)
	})
}

// A success from a busy network whose wait is over gives its count back
// with the network's time: the next customer behind it is not challenged.
func TestSuccessDoesNotRearmABusyNetwork(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db, behindProxy)
		signUp(t, env, "ana@example.com", goodPassword)
		signUp(t, env, "ben@example.com", goodPassword)
		makeBusy(t, env, "198.51.100.91")
		env.Clock.Advance(time.Minute) // past the network's wait
		r, _ := signInFrom(t, env, from("198.51.100.91", ""), "ana@example.com", goodPassword)
		expectStatus(t, r, 200)
		r, _ = signInFrom(t, env, from("198.51.100.91", ""), "ben@example.com", goodPassword)
		expectStatus(t, r, 200)
	})
}

// A known device passes the account's limit, but within a limit of its
// own: a device id that leaked is worth a few guesses, not unlimited ones.
func TestKnownDeviceHasALimitOfItsOwn(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db, behindProxy)
		env.Clock.Stop() // its waits last while the test works, however loaded the machine
		signUpOn(t, env, "kim@example.com", from("192.0.2.30", "kim-laptop"))
		checked := 0
		for i := range 30 {
			// From many networks, so that no network limit is reached.
			r, _ := signInFrom(t, env, from(fmt.Sprintf("203.0.113.%d", i), "kim-laptop"), "kim@example.com", "guess guess guess")
			if r.StatusCode == 400 {
				checked++
			}
		}
		free := env.Config.Domains[config.DefaultDomain].Login.FreeFailures
		if checked != 2*free {
			t.Fatalf("%d guesses checked with a known device id, want %d (the account's and the device's free ones)", checked, 2*free)
		}
	})
}

// The second factor is asked of every device when its network is busy,
// the owner's own too: a known device answers the challenge like any
// other, and is then let through.
func TestKnownDeviceAnswersTheSecondFactorsChallenge(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db, behindProxy)
		const email = "kit@example.com"
		signedUp := signUpOn(t, env, email, from("192.0.2.40", "kit-laptop"))
		var setup api.TOTPSetup
		expectStatus(t, env.JSON(t, "POST", "/api/totp", signedUp.SessionToken, nil, &setup), 200)
		first, _ := pqtotp.GenerateCode(setup.Secret, env.Clock.Now())
		var codes api.RecoveryCodes
		expectStatus(t, env.JSON(t, "POST", "/api/totp/confirm", signedUp.SessionToken, map[string]any{"code": first}, &codes), 200)

		// Second factors failed from the network: it must wait (and the
		// clock stops, so that it does while the test works).
		const busy = "203.0.113.41"
		env.Clock.Stop()
		for range 8 {
			if err := env.Server.Flows.Throttle.Fail(t.Context(), throttle.NetworkKey("factor", busy), limitsOf(env).Login); err != nil {
				t.Fatal(err)
			}
		}
		var start, half api.FlowResponse
		env.JSONWith(t, "POST", "/api/login", from(busy, "kit-laptop"), nil, &start)
		expectStatus(t, env.JSONWith(t, "POST", "/api/login/"+start.Flow.ID, from(busy, "kit-laptop"),
			map[string]any{"identifier": email, "password": goodPassword}, &half), 200)
		if half.Flow.State != "second_factor" {
			t.Fatalf("sign-in did not ask for the second factor: %+v", half)
		}
		submit := func(h http.Header) (*servertest.Response, api.Problem) {
			var p api.Problem
			r := env.JSONWith(t, "POST", "/api/flows/"+start.Flow.ID+"/second-factor", h,
				map[string]any{"kind": "recovery_code", "code": codes.RecoveryCodes[0]}, &p)
			return r, p
		}
		r, p := submit(from(busy, "kit-laptop"))
		expectProblem(t, r, 429, "challenge-required")
		solved := from(busy, "kit-laptop")
		solved.Set("X-Foyer-Challenge", p.Challenge.Token)
		solved.Set("X-Foyer-Challenge-Solution", challenge.Solve(*p.Challenge))
		r, _ = submit(solved)
		expectStatus(t, r, 200)
	})
}

// Codes to one address from many networks do not lock its owner out on a
// new device: past the address's overall limit a request is asked for a
// challenge, which the owner's browser (or app) solves.
func TestManyNetworksChallengeCodesRatherThanRefuse(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db, behindProxy)
		signUp(t, env, "liv@example.com", goodPassword)
		requestCode := func(h map[string][]string) (*servertest.Response, api.Problem) {
			var start api.FlowResponse
			env.JSONWith(t, "POST", "/api/login", h, nil, &start)
			var p api.Problem
			r := env.JSONWith(t, "POST", "/api/login/"+start.Flow.ID, h, map[string]any{"identifier": "liv@example.com", "method": "code"}, &p)
			return r, p
		}
		for i := range 5 {
			for range 5 {
				requestCode(from(fmt.Sprintf("203.0.113.%d", 50+i), ""))
			}
		}
		before := queuedMail(t, db, "liv@example.com")
		r, p := requestCode(from("192.0.2.60", ""))
		expectProblem(t, r, 429, "challenge-required")
		solved := from("192.0.2.60", "")
		solved.Set("X-Foyer-Challenge", p.Challenge.Token)
		solved.Set("X-Foyer-Challenge-Solution", challenge.Solve(*p.Challenge))
		r, _ = requestCode(solved)
		expectStatus(t, r, 200)
		if got := queuedMail(t, db, "liv@example.com"); got != before+1 {
			t.Fatalf("%d mails after the solved request, want %d", got, before+1)
		}
		// Sub-addresses are the same mailbox, and count as one.
		for i := range 10 {
			var start api.FlowResponse
			env.JSONWith(t, "POST", "/api/registration", from("198.51.100.61", ""), nil, &start)
			env.JSONWith(t, "POST", "/api/registration/"+start.Flow.ID, from("198.51.100.61", ""),
				map[string]any{"traits": map[string]any{"email": fmt.Sprintf("zoe+%d@example.com", i)}, "password": goodPassword}, nil)
		}
		var sub int
		if err := db.QueryRow(t.Context(), `SELECT COUNT(*) FROM outbox WHERE recipient LIKE 'zoe+%'`).Scan(&sub); err != nil || sub != 5 {
			t.Fatalf("%d mails to one mailbox's sub-addresses, want 5 (%v)", sub, err)
		}
	})
}

// Wrong codes in sign-ups that can never complete (an account's address)
// are not the owner's: they do not slow the owner's own codes.
func TestCodesOfDeadSignUpsAreNotTheOwners(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db, behindProxy)
		signUp(t, env, "ola@example.com", goodPassword)
		for i := range 5 {
			ip := fmt.Sprintf("203.0.113.%d", 70+i)
			var start api.FlowResponse
			env.JSONWith(t, "POST", "/api/registration", from(ip, ""), nil, &start)
			env.JSONWith(t, "POST", "/api/registration/"+start.Flow.ID, from(ip, ""),
				map[string]any{"traits": map[string]any{"email": "ola@example.com"}, "method": "passkey"}, nil)
			for range 5 {
				env.JSONWith(t, "POST", "/api/flows/"+start.Flow.ID+"/code", from(ip, ""), map[string]any{"code": "000000"}, nil)
			}
		}
		var start api.FlowResponse
		env.JSONWith(t, "POST", "/api/login", from("192.0.2.80", ""), nil, &start)
		expectStatus(t, env.JSONWith(t, "POST", "/api/login/"+start.Flow.ID, from("192.0.2.80", ""),
			map[string]any{"identifier": "ola@example.com", "method": "code"}, nil), 200)
		code := servertest.CodeFrom(t, env.MailTo(t, "ola@example.com", 2))
		expectStatus(t, env.JSONWith(t, "POST", "/api/flows/"+start.Flow.ID+"/code", from("192.0.2.80", ""), map[string]any{"code": code}, nil), 200)
	})
}

// Challenges collected while a network asked little are no answer once
// it asks much more.
func TestHarvestedChallengesGoStale(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db, behindProxy)
		signUp(t, env, "ivy@example.com", goodPassword)
		makeBusy(t, env, "198.51.100.92")
		_, p := signInFrom(t, env, from("198.51.100.92", ""), "ivy@example.com", goodPassword)
		if p.Challenge == nil {
			t.Fatal("no challenge from a busy network")
		}
		early := *p.Challenge
		// The network fails hundreds of times more (with answers).
		key := throttle.NetworkKey("login", "198.51.100.92")
		for range 300 {
			if err := env.Server.Flows.Throttle.Fail(context.Background(), key, limitsOf(env).Login); err != nil {
				t.Fatal(err)
			}
		}
		h := from("198.51.100.92", "")
		h.Set("X-Foyer-Challenge", early.Token)
		h.Set("X-Foyer-Challenge-Solution", challenge.Solve(early))
		r, now := signInFrom(t, env, h, "ivy@example.com", goodPassword)
		expectProblem(t, r, 429, "challenge-required")
		if now.Challenge.Difficulty <= early.Difficulty+challenge.Slack {
			t.Fatalf("difficulty %d then %d", early.Difficulty, now.Challenge.Difficulty)
		}
	})
}

// The sign-in page carries a challenge when the network is busy with
// codes, for its "email me a code" button; a request refused for one
// comes back to a page that carries it.
func TestSignInPageCarriesTheCodeChallenge(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		signUp(t, env, "uma@example.com", goodPassword)
		// Wrong codes from this network, past its free ones.
		key := throttle.NetworkKey("code", "127.0.0.1")
		for range 25 {
			if err := env.Server.Flows.Throttle.Fail(context.Background(), key, limitsOf(env).Code); err != nil {
				t.Fatal(err)
			}
		}
		b := env.NewBrowser(t)
		page := b.Get("/login")
		if !strings.Contains(page.Body, `id="foyer-challenge"`) {
			t.Fatalf("the sign-in page of a network busy with codes carries no challenge:\n%s", page.Body)
		}
		loc := location(t, b.Post("/login", url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "email": {"uma@example.com"}, "method": {"code"}}))
		again := b.Get(loc)
		ch := challenge.Challenge{Token: attr(t, again.Body, "data-token"), Difficulty: atoi(attr(t, again.Body, "data-difficulty"))}
		next := location(t, b.Post(loc, url.Values{"csrf_token": {servertest.CSRF(t, again.Body)}, "email": {"uma@example.com"}, "method": {"code"},
			"challenge_token": {ch.Token}, "challenge_solution": {challenge.Solve(ch)}}))
		if codePage := b.Get(next); !strings.Contains(codePage.Body, `autocomplete="one-time-code"`) {
			t.Fatalf("after the solved request:\n%s", codePage.Body)
		}
	})
}

// Refusals that cost their sender nothing (a wait, a challenge, a bad
// client assertion) are recorded sampled: a flood from one address cannot
// fill the event log.
func TestRefusalFloodsAreSampled(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db, behindProxy, func(c *config.Config) {
			c.Domains[config.DefaultDomain].FlowsPerNetwork = 2
		})
		env.Clock.Stop() // its waits last while the test works, however loaded the machine
		statuses := burst(100, func(int) *servertest.Response {
			return env.JSONWith(t, "POST", "/api/login", from("198.51.100.95", ""), nil, nil)
		})
		if statuses[429] != 98 {
			t.Fatalf("statuses %v", statuses)
		}
		if n := countEvents(t, env, "login.started", "throttled", "too_many_flows"); n < 1 || n > 10 {
			t.Fatalf("%d refusals of one address recorded within a minute, want 1 to 10", n)
		}
		for range 50 {
			r, err := http.PostForm(env.URL+"/oauth/token", url.Values{"grant_type": {"client_credentials"},
				"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {"x"}})
			if err != nil {
				t.Fatal(err)
			}
			r.Body.Close()
		}
		if n := countEvents(t, env, "oauth.client_credentials", "failure", "invalid_client_assertion"); n < 1 || n > 10 {
			t.Fatalf("%d bad assertions of one address recorded within a minute, want 1 to 10", n)
		}
	})
}

// What a client sends that no row can hold (bytes that are not UTF-8 in a
// User-Agent, a NUL in a client id) is not a server error on either
// database.
func TestMalformedInputIsNoServerError(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		h := http.Header{"User-Agent": {"bad \xff\xfe agent"}}
		var start api.FlowResponse
		expectStatus(t, env.JSONWith(t, "POST", "/api/registration", h, nil, &start), 201)
		expectStatus(t, env.JSONWith(t, "POST", "/api/registration/"+start.Flow.ID, h,
			map[string]any{"traits": map[string]any{"email": "ux@example.com"}, "password": goodPassword}, nil), 200)
		code := servertest.CodeFrom(t, env.MailTo(t, "ux@example.com", 1))
		expectStatus(t, env.JSONWith(t, "POST", "/api/flows/"+start.Flow.ID+"/code", h, map[string]any{"code": code}, nil), 200)
		req, _ := http.NewRequest("POST", env.URL+"/oauth/token", strings.NewReader("grant_type=client_credentials"))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("a\x00b", "secret")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("a NUL in a client id: %d, want 401", resp.StatusCode)
		}
	})
}

// A page whose challenge expired asks GET /challenge for a new one, which
// answers a sign-in from the same network.
func TestFreshChallengeEndpoint(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		env.Clock.Stop() // its waits last while the test works, however loaded the machine
		signUp(t, env, "noa@example.com", goodPassword)
		b := env.NewBrowser(t)
		for i := range 8 {
			b.Submit("/login", url.Values{"email": {fmt.Sprintf("nobody%d@example.com", i)}, "password": {"wrong wrong wrong"}})
		}
		r := b.Get("/challenge")
		expectStatus(t, r, 200)
		if r.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("Cache-Control %q", r.Header.Get("Cache-Control"))
		}
		var ch challenge.Challenge
		if err := json.Unmarshal([]byte(r.Body), &ch); err != nil || ch.Token == "" || ch.Difficulty < 16 {
			t.Fatalf("GET /challenge: %s (%v)", r.Body, err)
		}
		page := b.Get("/login")
		done := b.Post("/login", url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "email": {"noa@example.com"}, "password": {goodPassword},
			"challenge_token": {ch.Token}, "challenge_solution": {challenge.Solve(ch)}})
		if got := location(t, done); got != "/account" {
			t.Fatalf("with the new challenge's answer: %q", got)
		}
	})
}

// limitsOf returns the rules the server counts under.
func limitsOf(env *servertest.Env) policy.Limits {
	return env.Server.Flows.Point.Policy.(policy.Limited).JourneyLimits()
}
