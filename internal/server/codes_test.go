package server_test

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/api"
	"github.com/foyer-id/foyer/internal/config"
	"github.com/foyer-id/foyer/internal/courier"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// startAPIRegistration submits a registration and returns the flow id and
// the mailed code.
func startAPIRegistration(t *testing.T, env *servertest.Env, email string) (string, string) {
	t.Helper()
	before := env.MailCount(email)
	var start api.FlowResponse
	expectStatus(t, env.JSON(t, "POST", "/api/registration", "", nil, &start), 201)
	expectStatus(t, env.JSON(t, "POST", "/api/registration/"+start.Flow.ID, "", map[string]any{
		"traits": map[string]any{"email": email}, "password": goodPassword}, nil), 200)
	return start.Flow.ID, servertest.CodeFrom(t, env.MailTo(t, email, before+1))
}

func wrongCode(code string) string {
	return fmt.Sprintf("%06d", (atoi(code)+1)%1_000_000)
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}

func TestCodeAttemptsAreLimited(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		id, code := startAPIRegistration(t, env, "frank@example.com")
		for i := range 4 {
			var p api.Problem
			expectStatus(t, env.JSON(t, "POST", "/api/flows/"+id+"/code", "", map[string]any{"code": wrongCode(code)}, &p), 400)
			// The last two tries before the end say how many are left.
			want, left := "code_invalid", 4-i
			if left <= 2 {
				want = "code_invalid_left"
			}
			if len(p.Errors) != 1 || p.Errors[0].ID != want || (left <= 2 && p.Errors[0].Args["count"] != strconv.Itoa(left)) {
				t.Fatalf("attempt %d: %+v", i+1, p)
			}
		}
		// The fifth wrong attempt ends the flow; even the right code is
		// refused after that.
		var res api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/flows/"+id+"/code", "", map[string]any{"code": wrongCode(code)}, &res), 200)
		if res.Flow.State != "failed" || res.SessionToken != "" {
			t.Fatalf("after 5 wrong codes: %+v", res)
		}
		expectStatus(t, env.JSON(t, "POST", "/api/flows/"+id+"/code", "", map[string]any{"code": code}, nil), 409)
		if countIdentities(t, db) != 1 {
			t.Fatal("identity missing")
		}
		// Malformed codes do not spend attempts but are refused.
		id2, code2 := startAPIRegistration(t, env, "grace@example.com")
		for _, bad := range []string{"", "12345", "1234567", "abcdef", " 12 34"} {
			expectStatus(t, env.JSON(t, "POST", "/api/flows/"+id2+"/code", "", map[string]any{"code": bad}, nil), 400)
		}
		expectStatus(t, env.JSON(t, "POST", "/api/flows/"+id2+"/code", "", map[string]any{"code": code2}, nil), 200)
	})
}

func TestCodeExpiresAndResend(t *testing.T) {
	env := servertest.Start(t, storetest.NewSQLite(t))
	id, code := startAPIRegistration(t, env, "heidi@example.com")
	// Too soon to resend.
	var p api.Problem
	expectStatus(t, env.JSON(t, "POST", "/api/flows/"+id+"/resend", "", nil, &p), 400)
	if p.Errors[0].ID != "code_resend_too_soon" {
		t.Fatalf("resend: %+v", p)
	}
	env.Clock.Advance(16 * time.Minute)
	expectStatus(t, env.JSON(t, "POST", "/api/flows/"+id+"/code", "", map[string]any{"code": code}, &p), 400)
	if p.Errors[0].ID != "code_expired" {
		t.Fatalf("expired code: %+v", p)
	}
	expectStatus(t, env.JSON(t, "POST", "/api/flows/"+id+"/resend", "", nil, nil), 200)
	fresh := servertest.CodeFrom(t, env.MailTo(t, "heidi@example.com", 2))
	if fresh != code {
		// The old code is dead even if not expired.
		expectStatus(t, env.JSON(t, "POST", "/api/flows/"+id+"/code", "", map[string]any{"code": code}, nil), 400)
	}
	var done api.FlowResponse
	expectStatus(t, env.JSON(t, "POST", "/api/flows/"+id+"/code", "", map[string]any{"code": fresh}, &done), 200)
	if done.SessionToken == "" {
		t.Fatal("no session after the resent code")
	}
}

// Parallel resends of one flow send one code. Each saves its code, its
// mail and the flow in one transaction: those that lose the race for the
// flow leave nothing behind and are told the flow changed (409); those
// that read it after the winner are told to wait (400), and those past
// the address's share of codes too (429).
func TestParallelResendsSendOneCode(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		const email = "olga@example.com"
		id, _ := startAPIRegistration(t, env, email)
		env.Clock.Advance(time.Minute) // past the resend spacing
		var wg sync.WaitGroup
		var mu sync.Mutex
		outcomes := map[string]int{}
		for range 8 {
			wg.Go(func() {
				var p api.Problem
				r := env.JSON(t, "POST", "/api/flows/"+id+"/resend", "", nil, &p)
				outcome := fmt.Sprint(r.StatusCode)
				switch {
				case r.StatusCode == 409:
					outcome += " " + p.Type
				case r.StatusCode == 400 && len(p.Errors) == 1:
					outcome += " " + p.Errors[0].ID
				}
				mu.Lock()
				outcomes[outcome]++
				mu.Unlock()
			})
		}
		wg.Wait()
		// Each resend reserves its code against the address first: past
		// the address's share (the sign-up's code was one), the others
		// wait (429) instead.
		lost, late, held := outcomes["409 https://foyer.dev/problems/flow-state"], outcomes["400 code_resend_too_soon"], outcomes["429"]
		if outcomes["200"] != 1 || 1+lost+late+held != 8 || held > 4 {
			t.Fatalf("outcomes %v: want one 200, the rest 409 flow-state, 400 code_resend_too_soon or (at most 4) 429", outcomes)
		}
		var mails, codes, live int
		ctx := context.Background()
		if err := db.QueryRow(ctx, `SELECT COUNT(*) FROM outbox WHERE recipient = $1`, email).Scan(&mails); err != nil {
			t.Fatal(err)
		}
		if err := db.QueryRow(ctx, `SELECT COUNT(*), COUNT(CASE WHEN used_at IS NULL THEN 1 END) FROM codes WHERE flow_id = $1`, id).Scan(&codes, &live); err != nil {
			t.Fatal(err)
		}
		if mails != 2 || codes != 2 || live != 1 {
			t.Fatalf("after one resend: %d mails, %d codes (%d live); want 2, 2 (1 live)", mails, codes, live)
		}
		// The code in the second mail finishes the sign-up.
		fresh := servertest.CodeFrom(t, env.MailTo(t, email, 2))
		var done api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/flows/"+id+"/code", "", map[string]any{"code": fresh}, &done), 200)
		if done.SessionToken == "" {
			t.Fatal("no session after the resent code")
		}
	})
}

// Of 20 parallel submissions of one valid code, exactly one succeeds.
func TestCodeIsSingleUseUnderConcurrency(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		id, code := startAPIRegistration(t, env, "ivan@example.com")
		var wg sync.WaitGroup
		var mu sync.Mutex
		tokens := 0
		statuses := map[int]int{}
		for range 20 {
			wg.Go(func() {
				var res api.FlowResponse
				r := env.JSON(t, "POST", "/api/flows/"+id+"/code", "", map[string]any{"code": code}, &res)
				mu.Lock()
				if res.SessionToken != "" {
					tokens++
				}
				statuses[r.StatusCode]++
				mu.Unlock()
			})
		}
		wg.Wait()
		if tokens != 1 {
			t.Fatalf("%d sessions from one code", tokens)
		}
		// The others were told the step was done (409), or, past the five
		// checks a code gets, that the attempts ran out, or to wait a
		// moment (429: two submits of an address's codes run at once);
		// never that the right code was wrong. The flow ends done all the
		// same.
		if statuses[200]+statuses[409]+statuses[429] != 20 {
			t.Fatalf("statuses %v, want 200s, 409s and 429s only", statuses)
		}
		var f api.FlowResponse
		env.JSON(t, "GET", "/api/flows/"+id, "", nil, &f)
		if f.Flow.State != "done" {
			t.Fatalf("flow ended %s", f.Flow.State)
		}
	})
}

// A sign-up that is not finished cannot be hijacked: a second sign-up for
// the same address takes over only with its own code, and the first code
// then completes nothing twice.
func TestPendingSignUpTakeover(t *testing.T) {
	env := servertest.Start(t, storetest.NewSQLite(t))
	id1, code1 := startAPIRegistration(t, env, "judy@example.com")
	id2, code2 := startAPIRegistration(t, env, "judy@example.com")
	var done api.FlowResponse
	expectStatus(t, env.JSON(t, "POST", "/api/flows/"+id2+"/code", "", map[string]any{"code": code2}, &done), 200)
	if done.SessionToken == "" {
		t.Fatal("second sign-up did not complete")
	}
	var again api.FlowResponse
	expectStatus(t, env.JSON(t, "POST", "/api/flows/"+id1+"/code", "", map[string]any{"code": code1}, &again), 200)
	if again.SessionToken != "" || again.Flow.Messages[0].ID != "registration_already_completed" {
		t.Fatalf("first flow after completion: %+v", again)
	}
	if countIdentities(t, env.DB) != 1 {
		t.Fatal("more than one identity")
	}
}

func TestLoginThrottleWithoutLockout(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		owner := signUp(t, env, "kate@example.com", goodPassword) // this browser is the owner's known device
		env.Clock.Stop()                                          // the waits last while the test works
		attacker := env.NewBrowser(t)
		var last *servertest.Response
		for range 8 {
			last = attacker.Submit("/login", url.Values{"email": {"kate@example.com"}, "password": {"guess guess guess"}})
			if last.StatusCode == 429 {
				break
			}
		}
		expectStatus(t, last, 429)
		// The sign-in form stays, with the address, and counts the wait down.
		if last.Header.Get("Retry-After") == "" || !strings.Contains(last.Body, "too many attempts") || !strings.Contains(last.Body, `value="kate@example.com"`) ||
			!strings.Contains(last.Body, "data-countdown=") {
			t.Fatalf("throttle page: %v\n%s", last.Header, last.Body)
		}
		// The API says the same with a problem.
		var start api.FlowResponse
		env.JSON(t, "POST", "/api/login", "", nil, &start)
		var p api.Problem
		r := env.JSON(t, "POST", "/api/login/"+start.Flow.ID, "", map[string]any{"identifier": "kate@example.com", "password": goodPassword}, &p)
		expectStatus(t, r, 429)
		if p.RetryAfter < 1 || r.Header.Get("Retry-After") == "" {
			t.Fatalf("API throttle: %+v", p)
		}
		// The owner, from her usual device, still signs in: no lockout.
		owner.Submit("/logout", url.Values{})
		if got := location(t, owner.Submit("/login", url.Values{"email": {"kate@example.com"}, "password": {goodPassword}})); got != "/account" {
			t.Fatalf("owner locked out: %q", got)
		}
		// And once the delay is over, anyone may try again.
		env.Clock.Advance(10 * time.Minute)
		expectStatus(t, env.JSON(t, "POST", "/api/login/"+start.Flow.ID, "", map[string]any{"identifier": "kate@example.com", "password": goodPassword}, nil), 200)
	})
}

func TestSessionLifetimes(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		id, code := startAPIRegistration(t, env, "leo@example.com")
		var done api.FlowResponse
		env.JSON(t, "POST", "/api/flows/"+id+"/code", "", map[string]any{"code": code}, &done)
		tok := done.SessionToken
		// Use keeps it alive past the idle timeout (7 days by default)...
		for range 4 {
			env.Clock.Advance(6 * 24 * time.Hour)
			expectStatus(t, env.JSON(t, "GET", "/sessions/whoami", tok, nil, nil), 200)
		}
		// ...but not past the absolute lifetime (30 days).
		env.Clock.Advance(6 * 24 * time.Hour)
		expectStatus(t, env.JSON(t, "GET", "/sessions/whoami", tok, nil, nil), 401)

		// Idle too long.
		var start api.FlowResponse
		env.JSON(t, "POST", "/api/login", "", nil, &start)
		var in api.FlowResponse
		env.JSON(t, "POST", "/api/login/"+start.Flow.ID, "", map[string]any{"identifier": "leo@example.com", "password": goodPassword}, &in)
		env.Clock.Advance(8 * 24 * time.Hour)
		expectStatus(t, env.JSON(t, "GET", "/sessions/whoami", in.SessionToken, nil, nil), 401)
		// Garbage tokens.
		for _, bad := range []string{"x", "fys_" + strings.Repeat("A", 43), strings.Repeat("a", 5000)} {
			expectStatus(t, env.JSON(t, "GET", "/sessions/whoami", bad, nil, nil), 401)
		}
		expectStatus(t, env.JSON(t, "GET", "/sessions/whoami", "", nil, nil), 401)
	})
}

// queuedMail counts the mails queued for an address (sent or not yet):
// unlike the SMTP capture it is exact the moment a request returns.
func queuedMail(t *testing.T, db *store.DB, to string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(t.Context(), `SELECT count(*) FROM outbox WHERE recipient = $1 AND last_error <> 'decoy: not sent'`, to).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// Nobody can flood a mailbox with codes: an address gets 5 codes in a
// row, whatever the journey, then more wait. Sign-ups still answer alike,
// for free and taken addresses: only the mail does not go.
func TestCodeMailsPerAddressAreLimited(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		id, code := startAPIRegistration(t, env, "pia@example.com") // her first code
		expectStatus(t, env.JSON(t, "POST", "/api/flows/"+id+"/code", "", map[string]any{"code": code}, nil), 200)

		signUp := func(email string) (string, string) {
			var start api.FlowResponse
			env.JSON(t, "POST", "/api/registration", "", nil, &start)
			r := env.JSON(t, "POST", "/api/registration/"+start.Flow.ID, "", map[string]any{
				"traits": map[string]any{"email": email}, "password": goodPassword}, nil)
			expectStatus(t, r, 200)
			return start.Flow.ID, r.Status + normalize(r.Body, email)
		}
		var answers []string
		var quinnFlow string
		for range 7 {
			_, taken := signUp("pia@example.com")
			flowID, free := signUp("quinn@example.com")
			answers = append(answers, taken, free)
			quinnFlow = flowID
		}
		for _, a := range answers[1:] {
			if a != answers[0] {
				t.Fatalf("sign-up answers differ:\n%s\n%s", answers[0], a)
			}
		}
		// Pia: her own code and four notes; Quinn: five codes.
		if p, q := queuedMail(t, db, "pia@example.com"), queuedMail(t, db, "quinn@example.com"); p != 5 || q != 5 {
			t.Fatalf("mails queued: pia %d, quinn %d; want 5 each", p, q)
		}
		// A resend waits too, saying for how long.
		env.Clock.Advance(31 * time.Second)
		r := env.JSON(t, "POST", "/api/flows/"+quinnFlow+"/resend", "", map[string]any{}, nil)
		expectProblem(t, r, 429, "throttled")
		if r.Header.Get("Retry-After") == "" {
			t.Fatal("429 without Retry-After")
		}
		// Later the address gets codes again.
		env.Clock.Advance(time.Hour)
		signUp("quinn@example.com")
		if q := queuedMail(t, db, "quinn@example.com"); q != 6 {
			t.Fatalf("an hour later: %d mails queued for quinn, want 6", q)
		}
	})
}

// A resent code is the same kind of mail as the first: a sign-in code
// stays a sign-in code, with its warning, not an address check.
func TestResendKeepsTheMailKind(t *testing.T) {
	env := servertest.Start(t, storetest.NewSQLite(t))
	id, code := startAPIRegistration(t, env, "rosa@example.com")
	expectStatus(t, env.JSON(t, "POST", "/api/flows/"+id+"/code", "", map[string]any{"code": code}, nil), 200)
	signUpMail := env.MailTo(t, "rosa@example.com", 1)

	var start api.FlowResponse
	env.JSON(t, "POST", "/api/login", "", nil, &start)
	expectStatus(t, env.JSON(t, "POST", "/api/login/"+start.Flow.ID, "", map[string]any{"identifier": "rosa@example.com", "method": "code"}, nil), 200)
	first := env.MailTo(t, "rosa@example.com", 2)
	env.Clock.Advance(31 * time.Second)
	expectStatus(t, env.JSON(t, "POST", "/api/flows/"+start.Flow.ID+"/resend", "", map[string]any{}, nil), 200)
	resent := env.MailTo(t, "rosa@example.com", 3)
	if first.Subject == signUpMail.Subject || resent.Subject != first.Subject {
		t.Fatalf("subjects: sign-up %q, sign-in code %q, resent %q", signUpMail.Subject, first.Subject, resent.Subject)
	}
	var in api.FlowResponse
	expectStatus(t, env.JSON(t, "POST", "/api/flows/"+start.Flow.ID+"/code", "", map[string]any{"code": servertest.CodeFrom(t, resent)}, &in), 200)
	if in.SessionToken == "" {
		t.Fatalf("the resent sign-in code did not sign in: %+v", in)
	}
}

// A code mail still waiting for a mail server that was down is given up
// when a new code replaces it: otherwise it would arrive after the new
// one, the newest mail in the inbox, with a code that no longer works.
func TestReplacedCodeMailIsGivenUp(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		env.SMTP.FailNext(1) // the first code's first attempt
		var start api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/registration", "", nil, &start), 201)
		expectStatus(t, env.JSON(t, "POST", "/api/registration/"+start.Flow.ID, "", map[string]any{
			"traits": map[string]any{"email": "yves@example.com"}, "password": goodPassword}, nil), 200)
		entries := func() []courier.Entry {
			t.Helper()
			list, err := env.Server.Outbox.List(t.Context(), 10)
			if err != nil {
				t.Fatal(err)
			}
			return list
		}
		// Wait for the failed attempt: the mail waits for its retry.
		deadline := time.Now().Add(10 * time.Second)
		for {
			if l := entries(); len(l) == 1 && l[0].Status == courier.StatusQueued && l[0].Attempts == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the first code mail did not fail once: %+v", entries())
			}
			time.Sleep(10 * time.Millisecond)
		}
		env.Clock.Advance(31 * time.Second)
		expectStatus(t, env.JSON(t, "POST", "/api/flows/"+start.Flow.ID+"/resend", "", map[string]any{}, nil), 200)
		second := env.MailTo(t, "yves@example.com", 1)
		l := entries()
		if len(l) != 2 || l[1].Status != courier.StatusFailed || !strings.Contains(l[1].LastError, "superseded") {
			t.Fatalf("the replaced mail: %+v", l)
		}
		// Only the new code was delivered, and it works.
		if n := env.MailCount("yves@example.com"); n != 1 {
			t.Fatalf("%d mails delivered", n)
		}
		expectStatus(t, env.JSON(t, "POST", "/api/flows/"+start.Flow.ID+"/code", "", map[string]any{"code": servertest.CodeFrom(t, second)}, nil), 200)
	})
}

// A password sign-in of an account whose address is not verified mails a
// code, within the address's share of code mails like every other.
func TestUnverifiedSignInCodesAreLimited(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		// Signed up while the domain did not ask for verification...
		no := false
		secret := func(c *config.Config) { c.Secret = strings.Repeat("k", 40) } // one server secret for both servers
		before := servertest.Start(t, db, secret, func(c *config.Config) { c.Domains[config.DefaultDomain].Registration.RequireVerification = &no })
		var start, signedUp api.FlowResponse
		expectStatus(t, before.JSON(t, "POST", "/api/registration", "", nil, &start), 201)
		expectStatus(t, before.JSON(t, "POST", "/api/registration/"+start.Flow.ID, "", map[string]any{
			"traits": map[string]any{"email": "rhea@example.com"}, "password": goodPassword}, &signedUp), 200)
		// (which signs her in at once, and mails nothing: she verifies
		// her address when she chooses)
		if signedUp.Flow.State != "done" || signedUp.SessionToken == "" || queuedMail(t, db, "rhea@example.com") != 0 {
			t.Fatalf("sign-up without verification: %+v, %d mails", signedUp.Flow, queuedMail(t, db, "rhea@example.com"))
		}
		// ...and signing in now that it does: each sign-in asks for a code.
		env := servertest.Start(t, db, secret)
		for range 8 {
			var in, out api.FlowResponse
			expectStatus(t, env.JSON(t, "POST", "/api/login", "", nil, &in), 201)
			expectStatus(t, env.JSON(t, "POST", "/api/login/"+in.Flow.ID, "", map[string]any{"identifier": "rhea@example.com", "password": goodPassword}, &out), 200)
			if out.Flow.State != "verify" {
				t.Fatalf("sign-in of an unverified account: %+v", out.Flow)
			}
		}
		if n := queuedMail(t, db, "rhea@example.com"); n != 5 {
			t.Fatalf("%d code mails for eight sign-ins, want 5", n)
		}
	})
}
