package server_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/api"
	"github.com/foyer-id/foyer/internal/challenge"
	"github.com/foyer-id/foyer/internal/config"
	"github.com/foyer-id/foyer/internal/event"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// behindProxy makes the test client a trusted proxy, so that each request
// names its client's network in X-Forwarded-For.
func behindProxy(c *config.Config) { c.TrustedProxies = []string{"127.0.0.1"} }

// from returns request headers for a client at ip, with the device id of
// the device named when device is not "".
func from(ip, device string) http.Header {
	h := http.Header{"X-Forwarded-For": {ip}}
	if device != "" {
		h.Set("X-Foyer-Device", deviceID(device))
	}
	return h
}

// signUpOn signs up email over the API and enters its code with headers
// h (a network, a device): that device then holds a session of the
// account, and is the owner's known device. It returns the code step's
// answer.
func signUpOn(t *testing.T, env *servertest.Env, email string, h http.Header) api.FlowResponse {
	t.Helper()
	id, code := startAPIRegistration(t, env, email)
	var done api.FlowResponse
	expectStatus(t, env.JSONWith(t, "POST", "/api/flows/"+id+"/code", h, map[string]any{"code": code}, &done), 200)
	return done
}

// deviceID is a well-formed device id (22+ base64url characters) for a
// device name.
func deviceID(name string) string { return name + "-device-id-0123456789" }

// burst sends n requests at once, released together at a barrier, and
// returns how many answered each status.
func burst(n int, send func(i int) *servertest.Response) map[int]int {
	start := make(chan struct{})
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		statuses = map[int]int{}
	)
	for i := range n {
		wg.Go(func() {
			<-start
			r := send(i)
			mu.Lock()
			statuses[r.StatusCode]++
			mu.Unlock()
		})
	}
	close(start)
	wg.Wait()
	return statuses
}

// startFlows starts n API flows of typ ("login", "registration") from ip.
func startFlows(t *testing.T, env *servertest.Env, typ, ip string, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range ids {
		var start api.FlowResponse
		expectStatus(t, env.JSONWith(t, "POST", "/api/"+typ, from(ip, ""), nil, &start), 201)
		ids[i] = start.Flow.ID
	}
	return ids
}

// countEvents counts events of a type, outcome and reason.
func countEvents(t *testing.T, env *servertest.Env, typ, outcome, reason string) int {
	t.Helper()
	evs, err := env.Server.Events.List(t.Context(), event.Query{Type: typ})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range evs {
		if e.Outcome == outcome && e.Reason == reason {
			n++
		}
	}
	return n
}

// A burst of simultaneous wrong passwords for one account gets no more
// password checks than the account's free attempts: each attempt is
// counted before its hash, atomically, so the burst does not all read the
// count from before it.
func TestBurstOfWrongPasswordsIsCountedBeforeTheHash(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db, behindProxy)
		env.Clock.Stop() // its waits last while the test works, however loaded the machine
		signUp(t, env, "rosa@example.com", goodPassword)
		flows := startFlows(t, env, "login", "198.51.100.20", 60)
		statuses := burst(len(flows), func(i int) *servertest.Response {
			return env.JSONWith(t, "POST", "/api/login/"+flows[i], from("198.51.100.20", ""),
				map[string]any{"identifier": "rosa@example.com", "password": "not her password"}, nil)
		})
		// An account has two places for attempts under way, and counts
		// each failure as it ends: the burst gets at most one check past
		// the free ones.
		free := env.Config.Domains[config.DefaultDomain].Login.FreeFailures
		if statuses[400] < 1 || statuses[400] > free+1 || statuses[400]+statuses[429] != len(flows) {
			t.Fatalf("statuses %v: want 1 to %d checked (400) and the rest 429", statuses, free+1)
		}
		if n := countEvents(t, env, event.LoginSubmitted, event.OutcomeFailure, "invalid_credentials"); n != statuses[400] {
			t.Fatalf("%d passwords checked, %d answered as checked", n, statuses[400])
		}
	})
}

// A burst of sign-ups with one address mails it no more codes than its
// limit; every sign-up answers alike.
func TestBurstOfSignUpsMailsAnAddressItsShare(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db, behindProxy)
		flows := startFlows(t, env, "registration", "198.51.100.30", 40)
		statuses := burst(len(flows), func(i int) *servertest.Response {
			return env.JSONWith(t, "POST", "/api/registration/"+flows[i], from("198.51.100.30", ""),
				map[string]any{"traits": map[string]any{"email": "sami@example.com"}, "password": goodPassword}, nil)
		})
		if statuses[200] != len(flows) {
			t.Fatalf("statuses %v: every sign-up answers alike", statuses)
		}
		if n := queuedMail(t, db, "sami@example.com"); n != 5 {
			t.Fatalf("%d mails queued for one address, want 5", n)
		}
	})
}

// A burst of sign-ups from one network passes no more than the network's
// limit: the rest are asked for a challenge.
func TestBurstOfSignUpsFromOneNetworkKeepsToItsLimit(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db, behindProxy, func(c *config.Config) {
			c.Domains[config.DefaultDomain].Registration.PerNetwork = 5
		})
		env.Clock.Stop() // its waits last while the test works, however loaded the machine
		flows := startFlows(t, env, "registration", "198.51.100.31", 20)
		statuses := burst(len(flows), func(i int) *servertest.Response {
			return env.JSONWith(t, "POST", "/api/registration/"+flows[i], from("198.51.100.31", ""),
				map[string]any{"traits": map[string]any{"email": fmt.Sprintf("n%02d@example.com", i)}, "password": goodPassword}, nil)
		})
		if statuses[200] != 5 || statuses[429] != 15 {
			t.Fatalf("statuses %v: want five sign-ups and 15 challenges", statuses)
		}
		if n := countIdentities(t, db); n != 5 {
			t.Fatalf("%d identities, want 5", n)
		}
	})
}

// Nobody can keep an address from getting codes by signing up with it
// over and over: each network has its own share of the address's codes,
// a sign-up past it is not counted, and the owner's device passes even
// the address's overall limit.
func TestSignUpsCannotLockAnAddressOutOfCodes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db, behindProxy)
		const victim = "vera@example.com"
		// Vera's account, signed up and in over the API from her phone.
		done := signUpOn(t, env, victim, from("192.0.2.10", "vera-phone"))
		expectStatus(t, env.JSON(t, "POST", "/api/logout", done.SessionToken, map[string]any{}, nil), 204)

		signUpFrom := func(ip string) {
			t.Helper()
			var start api.FlowResponse
			env.JSONWith(t, "POST", "/api/registration", from(ip, ""), nil, &start)
			expectStatus(t, env.JSONWith(t, "POST", "/api/registration/"+start.Flow.ID, from(ip, ""),
				map[string]any{"traits": map[string]any{"email": victim}, "password": goodPassword}, nil), 200)
		}
		requestCode := func(ip, device string) *servertest.Response {
			t.Helper()
			var start api.FlowResponse
			env.JSONWith(t, "POST", "/api/login", from(ip, device), nil, &start)
			return env.JSONWith(t, "POST", "/api/login/"+start.Flow.ID, from(ip, device),
				map[string]any{"identifier": victim, "method": "code"}, nil)
		}
		// Ten sign-ups from one network, and one more every few minutes:
		// that network's share is used up, and stays at five.
		for range 10 {
			signUpFrom("203.0.113.66")
		}
		for range 4 {
			env.Clock.Advance(14 * time.Minute)
			signUpFrom("203.0.113.66")
		}
		mails := queuedMail(t, db, victim)
		// Vera, from anywhere else, still gets her sign-in code.
		expectStatus(t, requestCode("192.0.2.10", ""), 200)
		if got := queuedMail(t, db, victim); got != mails+1 {
			t.Fatalf("vera's code: %d mails queued, want %d", got, mails+1)
		}
		// Many networks together reach the address's overall limit; her
		// own phone still gets a code, a stranger's device does not.
		for i := range 5 {
			for range 5 {
				signUpFrom(fmt.Sprintf("203.0.113.%d", 100+i))
			}
		}
		expectStatus(t, requestCode("192.0.2.99", ""), 429)
		before := queuedMail(t, db, victim)
		expectStatus(t, requestCode("192.0.2.10", "vera-phone"), 200)
		if got := queuedMail(t, db, victim); got != before+1 {
			t.Fatalf("vera's phone: %d mails queued, want %d", got, before+1)
		}
	})
}

// Failures from one network do not refuse the right passwords of other
// customers behind the same address: they are asked to solve a challenge,
// which a browser does by itself, and then sign in. A device that signed
// in before is not even asked. A solved challenge answers one attempt.
func TestBusyNetworkChallengesInsteadOfRefusing(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db, behindProxy)
		const office = "198.51.100.77"
		// Omar signs up from the office, on his laptop.
		signUpOn(t, env, "omar@example.com", from(office, "omar-laptop"))
		signUp(t, env, "lena@example.com", goodPassword)

		// Someone at the office fails eight times, with made-up accounts
		// (and the clock stops, so that the office's wait lasts while the
		// test works).
		env.Clock.Stop()
		for i := range 8 {
			var start api.FlowResponse
			env.JSONWith(t, "POST", "/api/login", from(office, ""), nil, &start)
			env.JSONWith(t, "POST", "/api/login/"+start.Flow.ID, from(office, ""),
				map[string]any{"identifier": fmt.Sprintf("nobody%d@example.com", i), "password": "wrong wrong wrong"}, nil)
		}
		signIn := func(email, password string, h http.Header) (*servertest.Response, api.Problem) {
			t.Helper()
			var start api.FlowResponse
			env.JSONWith(t, "POST", "/api/login", h, nil, &start)
			var p api.Problem
			r := env.JSONWith(t, "POST", "/api/login/"+start.Flow.ID, h, map[string]any{"identifier": email, "password": password}, &p)
			return r, p
		}
		// Lena, at the office on a new device, is asked for a challenge.
		r, p := signIn("lena@example.com", goodPassword, from(office, ""))
		expectProblem(t, r, 429, "challenge-required")
		if p.Challenge == nil || p.Challenge.Algorithm != challenge.Algorithm || p.Challenge.Difficulty < 16 || r.Header.Get("Retry-After") == "" {
			t.Fatalf("challenge: %+v, Retry-After %q", p.Challenge, r.Header.Get("Retry-After"))
		}
		// Solved, her right password signs her in.
		solved := from(office, "")
		solved.Set("X-Foyer-Challenge", p.Challenge.Token)
		solved.Set("X-Foyer-Challenge-Solution", challenge.Solve(*p.Challenge))
		r, _ = signIn("lena@example.com", goodPassword, solved)
		expectStatus(t, r, 200)
		// The same answer does not serve twice.
		r, _ = signIn("lena@example.com", goodPassword, solved)
		expectProblem(t, r, 429, "challenge-required")
		// Omar's laptop has held his session: no challenge.
		r, _ = signIn("omar@example.com", goodPassword, from(office, "omar-laptop"))
		expectStatus(t, r, 200)
		// A wrong password with a solved challenge is checked, and counted.
		_, p = signIn("lena@example.com", "wrong wrong wrong", from(office, ""))
		wrong := from(office, "")
		wrong.Set("X-Foyer-Challenge", p.Challenge.Token)
		wrong.Set("X-Foyer-Challenge-Solution", challenge.Solve(*p.Challenge))
		r, _ = signIn("lena@example.com", "wrong wrong wrong", wrong)
		expectProblem(t, r, 400, "invalid-input")
		// Another network is not held back at all.
		r, _ = signIn("lena@example.com", goodPassword, from("192.0.2.50", ""))
		expectStatus(t, r, 200)
		if n := countEvents(t, env, event.LoginSubmitted, event.OutcomeChallenged, "network_busy"); n < 3 {
			t.Fatalf("%d challenges recorded, want at least 3", n)
		}
	})
}

// The hosted sign-in page carries the challenge for its network, and a
// form sent with the answer signs in; without one, the page asks again.
func TestSignInPageCarriesTheChallenge(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		env.Clock.Stop() // its waits last while the test works, however loaded the machine
		signUp(t, env, "ines@example.com", goodPassword)
		stranger := env.NewBrowser(t)
		for i := range 8 {
			stranger.Submit("/login", url.Values{"email": {fmt.Sprintf("nobody%d@example.com", i)}, "password": {"wrong wrong wrong"}})
		}
		b := env.NewBrowser(t)
		page := b.Get("/login")
		expectStatus(t, page, 200)
		if !strings.Contains(page.Body, `id="foyer-challenge"`) || !strings.Contains(page.Body, `src="/assets/challenge.js"`) {
			t.Fatalf("sign-in page lacks the challenge:\n%s", page.Body)
		}
		// Sent without the answer (no JavaScript): back to the page, which
		// says why.
		loc := location(t, b.Post("/login", url.Values{"csrf_token": {servertest.CSRF(t, page.Body)},
			"email": {"ines@example.com"}, "password": {goodPassword}}))
		again := b.Get(loc)
		if !strings.Contains(again.Body, `data-id="challenge_required"`) || !strings.Contains(again.Body, `id="foyer-challenge"`) {
			t.Fatalf("page after a form without the answer:\n%s", again.Body)
		}
		ch := challenge.Challenge{Token: attr(t, again.Body, "data-token"), Difficulty: atoi(attr(t, again.Body, "data-difficulty"))}
		done := b.Post(loc, url.Values{"csrf_token": {servertest.CSRF(t, again.Body)}, "email": {"ines@example.com"}, "password": {goodPassword},
			"challenge_token": {ch.Token}, "challenge_solution": {challenge.Solve(ch)}})
		if got := location(t, done); got != "/account" {
			t.Fatalf("with the answer: Location %q", got)
		}
	})
}

// attr returns the value of the first attribute name="…" on a page.
func attr(t *testing.T, page, name string) string {
	t.Helper()
	_, rest, ok := strings.Cut(page, name+`="`)
	if !ok {
		t.Fatalf("no %s on the page", name)
	}
	v, _, _ := strings.Cut(rest, `"`)
	return v
}

// Wrong codes for one address in a row, across its flows and networks,
// slow down (NIST SP 800-63B 5.2.2) — never lock: once the wait is over
// the right code works, and forgets them.
func TestWrongCodesForOneAddressSlowDown(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db, behindProxy)
		const addr = "ugo@example.com"
		var flows []string
		var last string
		for i := range 5 {
			var start api.FlowResponse
			ip := fmt.Sprintf("192.0.2.%d", 20+i)
			env.JSONWith(t, "POST", "/api/registration", from(ip, ""), nil, &start)
			expectStatus(t, env.JSONWith(t, "POST", "/api/registration/"+start.Flow.ID, from(ip, ""),
				map[string]any{"traits": map[string]any{"email": addr}, "password": goodPassword}, nil), 200)
			flows = append(flows, start.Flow.ID)
			last = servertest.CodeFrom(t, env.MailTo(t, addr, i+1))
		}
		// Four flows' worth of wrong codes, from four networks: 20 in a row
		// (the clock stops, so that the wait they earn lasts while the
		// test works).
		env.Clock.Stop()
		for i, id := range flows[:4] {
			for range 5 {
				env.JSONWith(t, "POST", "/api/flows/"+id+"/code", from(fmt.Sprintf("192.0.2.%d", 20+i), ""), map[string]any{"code": wrongCode(last)}, nil)
			}
		}
		// The next, even the right one from a fifth network, waits.
		r := env.JSONWith(t, "POST", "/api/flows/"+flows[4]+"/code", from("192.0.2.24", ""), map[string]any{"code": last}, nil)
		expectProblem(t, r, 429, "throttled")
		env.Clock.Advance(2 * time.Second)
		expectStatus(t, env.JSONWith(t, "POST", "/api/flows/"+flows[4]+"/code", from("192.0.2.24", ""), map[string]any{"code": last}, nil), 200)
	})
}
