package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/api"
	"github.com/foyer-id/foyer/internal/config"
	"github.com/foyer-id/foyer/internal/courier"
	"github.com/foyer-id/foyer/internal/courier/smtptest"
	"github.com/foyer-id/foyer/internal/decision"
	"github.com/foyer-id/foyer/internal/policy"
	"github.com/foyer-id/foyer/internal/risk/risktest"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// The places of the tests' GeoIP databases.
const (
	parisIP = "203.0.113.7"
	lyonIP  = "198.51.100.9"
	tokyoIP = "192.0.2.44"
)

// withGeoIP configures a City and an ASN database the test writes, and
// believes X-Forwarded-For from the loopback proxy.
func withGeoIP(t *testing.T) servertest.Option {
	city := risktest.WriteCity(t,
		risktest.City{Network: "203.0.113.0/24", Country: "FR", City: "Paris", Lat: 48.86, Lon: 2.35},
		risktest.City{Network: "198.51.100.0/24", Country: "FR", City: "Lyon", Lat: 45.76, Lon: 4.84},
		risktest.City{Network: "192.0.2.0/24", Country: "JP", City: "Tokyo", Lat: 35.68, Lon: 139.69})
	asn := risktest.WriteASN(t, risktest.ASN{Network: "203.0.113.0/24", Number: 64500, Org: "Example Telecom"})
	return func(c *config.Config) {
		c.GeoIP.Database = city + ", " + asn
		behindProxy(c)
	}
}

// sessionDecisions returns the session.issue decisions about an identity,
// oldest first.
func sessionDecisions(t *testing.T, env *servertest.Env, identityID string) []decision.Record {
	t.Helper()
	recs, err := env.Server.Decisions.List(t.Context(), sessionQuery(identityID))
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// noticesTo counts the new-device notices stored for an address.
func noticesTo(t *testing.T, env *servertest.Env, to string) int {
	n := 0
	for _, m := range env.Outbox(t, to) {
		if m.Template == "sign_in_notice" {
			n++
		}
	}
	return n
}

// Each signal comes from a sign-in the test drives: the device (known or
// new), the place through a trusted proxy's X-Forwarded-For and the GeoIP
// databases, and travel over a controlled clock. A known device signs in
// without friction; a new one in a known country is let in and announced;
// a new one that would have flown from France to Japan within the hour
// must confirm with a code from the mailbox. Every decision keeps what it
// saw.
func TestRiskSignals(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db, withGeoIP(t))
		const email = "risk@example.com"
		owner := signUpOn(t, env, email, from(parisIP, "laptop"))
		id := owner.Identity.ID

		// The laptop again, at home: nothing odd.
		env.Clock.Advance(time.Hour)
		r, p := signInFrom(t, env, from(parisIP, "laptop"), email, goodPassword)
		expectStatus(t, r, 200)
		recs := sessionDecisions(t, env, id)
		last := recs[len(recs)-1]
		if last.Effect != policy.Allow || !last.Input.Signals.KnownDevice || last.Input.Signals.Country != "FR" ||
			last.Input.Signals.ASN != 64500 || last.Input.Signals.NewCountry || last.Input.Signals.TravelKmh != 0 {
			t.Fatalf("known device at home: %+v (%+v)", last, p)
		}
		if n := noticesTo(t, env, email); n != 0 {
			t.Fatalf("%d notices for the known device", n)
		}
		if sig := last.Input.Signals; sig.SinceLastSignIn < time.Hour || sig.SinceLastSignIn > time.Hour+time.Minute ||
			sig.AccountAge < time.Hour || sig.AccountAge > time.Hour+time.Minute {
			t.Fatalf("an hour after sign-up: since last sign-in %v, account age %v", sig.SinceLastSignIn, sig.AccountAge)
		}

		// A new phone in Lyon an hour later: same country, a plausible
		// trip; let in, and the customer is told.
		env.Clock.Advance(time.Hour)
		r, _ = signInFrom(t, env, from(lyonIP, "phone"), email, goodPassword)
		expectStatus(t, r, 200)
		recs = sessionDecisions(t, env, id)
		sig := recs[len(recs)-1].Input.Signals
		if recs[len(recs)-1].Effect != policy.Allow || sig.KnownDevice || sig.NewCountry || !sig.NewNetwork || sig.TravelKmh < 300 || sig.TravelKmh > 500 {
			t.Fatalf("new device in Lyon: %+v", recs[len(recs)-1])
		}
		if n := noticesTo(t, env, email); n != 1 {
			t.Fatalf("%d notices after a new device", n)
		}

		// A new device in Tokyo an hour after Lyon: impossible travel, and
		// a new country. No second factor: a code from the mailbox.
		env.Clock.Advance(time.Hour)
		var start, step api.FlowResponse
		env.JSONWith(t, "POST", "/api/login", from(tokyoIP, "tablet"), nil, &start)
		expectStatus(t, env.JSONWith(t, "POST", "/api/login/"+start.Flow.ID, from(tokyoIP, "tablet"),
			map[string]any{"identifier": email, "password": goodPassword}, &step), 200)
		if step.SessionToken != "" || step.Flow.State != "verify" || len(step.Flow.Messages) == 0 || step.Flow.Messages[0].ID != "confirm_sign_in" {
			t.Fatalf("impossible travel let in: %+v", step)
		}
		recs = sessionDecisions(t, env, id)
		if d := recs[len(recs)-1]; d.Effect != policy.StepUp || d.Reason != "impossible_travel" || d.Require[0] != policy.StepEmailCode ||
			!d.Input.Signals.NewCountry || d.Input.Signals.Country != "JP" {
			t.Fatalf("Tokyo decision: %+v", d)
		}
		// The code goes as a sign-in code (read from the outbox: the
		// notices before it may still be on their way).
		out := env.Outbox(t, email)
		confirm := out[len(out)-1]
		if confirm.Template != "login_code" {
			t.Fatalf("the confirmation went as %s", confirm.Template)
		}
		mail := smtptest.Message{Text: confirm.Text}
		var done api.FlowResponse
		expectStatus(t, env.JSONWith(t, "POST", "/api/flows/"+start.Flow.ID+"/code", from(tokyoIP, "tablet"),
			map[string]any{"code": servertest.CodeFrom(t, mail)}, &done), 200)
		if done.SessionToken == "" {
			t.Fatalf("after the code: %+v", done)
		}
		recs = sessionDecisions(t, env, id)
		if d := recs[len(recs)-1]; d.Effect != policy.Allow || !strings.Contains(strings.Join(d.Input.Methods, " "), "email_code") {
			t.Fatalf("after the code: %+v", d)
		}
		// The code sign-in announced itself; the tablet is known now.
		env.WaitForOutbox(t, email, func(m []courier.Entry) bool { return noticesTo(t, env, email) == 2 })
		env.Clock.Advance(time.Hour)
		r, _ = signInFrom(t, env, from(tokyoIP, "tablet"), email, goodPassword)
		expectStatus(t, r, 200)
	})
}

// Forwarded addresses from a peer that is not a trusted proxy are ignored:
// a client cannot claim to be somewhere else (or at home).
func TestRiskIgnoresForwardedFromUntrustedPeers(t *testing.T) {
	geo := withGeoIP(t)
	env := servertest.Start(t, storetest.NewSQLite(t), func(c *config.Config) {
		geo(c)
		c.TrustedProxies = nil
	})
	owner := signUpOn(t, env, "far@example.com", from(parisIP, "laptop"))
	env.Clock.Advance(time.Minute)
	r, _ := signInFrom(t, env, from(tokyoIP, "tablet"), "far@example.com", goodPassword)
	expectStatus(t, r, 200)
	recs := sessionDecisions(t, env, owner.Identity.ID)
	for _, d := range recs {
		if d.Input.ClientIP != "127.0.0.1" || d.Input.Signals.Country != "" || d.Input.Signals.TravelKmh != 0 {
			t.Fatalf("a forwarded address was believed: %+v", d)
		}
	}
}

// In a browser the device is its long-lived cookie: the same browser is
// known at its next sign-in, a new browser is not, and its sign-in is
// announced.
func TestBrowserDeviceCookie(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		const email = "cookie@example.com"
		b := signUp(t, env, email, goodPassword)
		signIn := func(b *servertest.Browser) {
			t.Helper()
			if got := location(t, b.Submit("/login", url.Values{"email": {email}, "password": {goodPassword}})); got != "/account" {
				t.Fatalf("after sign-in: %q", got)
			}
		}
		signIn(b)
		if n := noticesTo(t, env, email); n != 0 {
			t.Fatalf("the same browser was announced (%d notices)", n)
		}
		other := env.NewBrowser(t)
		signIn(other)
		if n := noticesTo(t, env, email); n != 1 {
			t.Fatalf("a new browser: %d notices", n)
		}
		if b.Cookie("foyer_device") == other.Cookie("foyer_device") || other.Cookie("foyer_device") == "" {
			t.Fatal("two browsers share a device id")
		}
		// A device cookie is signed: a browser that sends the known
		// device's id without its signature (or with another) is a new
		// device, and gets an id of its own.
		id, _, _ := strings.Cut(b.Cookie("foyer_device"), ".")
		u, _ := url.Parse(env.URL)
		for i, forged := range []string{id, id + ".AAAAAAAAAAAAAAAAAAAAAA", id + "."} {
			fake := env.NewBrowser(t)
			fake.HTTP.Jar.SetCookies(u, []*http.Cookie{{Name: "foyer_device", Value: forged, Path: "/"}})
			signIn(fake)
			if n := noticesTo(t, env, email); n != 2+i {
				t.Fatalf("a forged device cookie %q passed for the known device (%d notices)", forged, n)
			}
			if got, _, _ := strings.Cut(fake.Cookie("foyer_device"), "."); got == id {
				t.Fatal("the forged id was kept")
			}
		}
	})
}

// A password on the breached and common list, passed at sign-in (an
// account from before the list, or imported), is a signal the decision
// records, and the policy has it replaced before the session: the new
// one must pass the password rules, the old one stops working, other
// sessions end, and the address is told.
func TestBreachedPasswordAtSignIn(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		owner := signUpOn(t, env, "old@example.com", from("", "laptop"))
		hash, err := env.Server.Flows.Hasher.Hash(t.Context(), "password123")
		if err != nil {
			t.Fatal(err)
		}
		if err := env.Server.Flows.Identities.SetPassword(t.Context(), owner.Identity.ID, hash, env.Clock.Now()); err != nil {
			t.Fatal(err)
		}
		r, _ := signInFrom(t, env, from("", "laptop"), "old@example.com", goodPassword)
		expectStatus(t, r, 400) // the old password no longer works
		var start, half, in api.FlowResponse
		env.JSONWith(t, "POST", "/api/login", from("", "laptop"), nil, &start)
		expectStatus(t, env.JSONWith(t, "POST", "/api/login/"+start.Flow.ID, from("", "laptop"),
			map[string]any{"identifier": "old@example.com", "password": "password123"}, &half), 200)
		if half.Flow.State != "password" || half.SessionToken != "" || half.Flow.Messages[0].ID != "password_breached" {
			t.Fatalf("a breached password signed in: %+v", half.Flow)
		}
		recs := sessionDecisions(t, env, owner.Identity.ID)
		if last := recs[len(recs)-1]; !last.Input.Signals.BreachedPassword || last.Effect != "step_up" || last.Reason != "breached_password" {
			t.Fatalf("a breached password was not flagged: %+v", last)
		}
		// A new password the rules refuse changes nothing; a good one signs in.
		p := expectProblem(t, env.JSONWith(t, "POST", "/api/login/"+start.Flow.ID, from("", "laptop"), map[string]any{"password": "password1"}, nil), 400, "invalid-input")
		if p.Errors[0].Field != "password" {
			t.Fatalf("a common new password: %+v", p)
		}
		expectStatus(t, env.JSONWith(t, "POST", "/api/login/"+start.Flow.ID, from("", "laptop"), map[string]any{"password": goodPassword}, &in), 200)
		if in.SessionToken == "" || in.Flow.State != "done" {
			t.Fatalf("after the new password: %+v", in.Flow)
		}
		if _, st := whoami(t, env, owner.SessionToken); st != 401 {
			t.Fatal("the sign-up's session outlived the breached password")
		}
		if m := env.LatestMail(t, "old@example.com", "Security change on your Foyer account"); !strings.Contains(m.Text, "lists of leaked passwords") || !revertLink.MatchString(m.Text) {
			t.Fatalf("notice:\n%s", m.Text)
		}
		r, _ = signInFrom(t, env, from("", "laptop"), "old@example.com", "password123")
		expectStatus(t, r, 400)
		r, _ = signInFrom(t, env, from("", "laptop"), "old@example.com", goodPassword)
		expectStatus(t, r, 200)
		recs = sessionDecisions(t, env, owner.Identity.ID)
		if recs[len(recs)-1].Input.Signals.BreachedPassword {
			t.Fatal("a strong password was flagged")
		}
	})
}

// The right password right after wrong ones, on a device new to the
// account, may be a guess that hit: it is confirmed with a code from the
// mailbox. The owner's known device goes through.
func TestRightPasswordAfterFailuresOnANewDevice(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		env.Clock.Stop()
		const email = "guess@example.com"
		signUpOn(t, env, email, from("", "laptop"))
		for range 3 {
			r, _ := signInFrom(t, env, from("", "burner"), email, "wrong password 1!")
			expectStatus(t, r, 400)
		}
		var start, step api.FlowResponse
		env.JSONWith(t, "POST", "/api/login", from("", "burner"), nil, &start)
		expectStatus(t, env.JSONWith(t, "POST", "/api/login/"+start.Flow.ID, from("", "burner"),
			map[string]any{"identifier": email, "password": goodPassword}, &step), 200)
		if step.SessionToken != "" || step.Flow.State != "verify" {
			t.Fatalf("a guess that hit was let in: %+v", step)
		}
		r, p := signInFrom(t, env, from("", "laptop"), email, goodPassword)
		if r.StatusCode != 200 {
			t.Fatalf("the owner's laptop: %d %+v", r.StatusCode, p)
		}
	})
}

// sessionQuery selects an identity's session decisions.
func sessionQuery(identityID string) decision.Query {
	return decision.Query{IdentityID: identityID, Action: policy.SessionIssue}
}

// A recent change of how the account signs in is a signal of the next
// sign-in.
func TestMethodsChangeSignal(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		owner := signUpOn(t, env, "changed@example.com", from("", "laptop"))
		r, _ := signInFrom(t, env, from("", "laptop"), "changed@example.com", goodPassword)
		expectStatus(t, r, 200)
		recs := sessionDecisions(t, env, owner.Identity.ID)
		if got := recs[len(recs)-1].Input.Signals.SinceMethodsChange; got != 0 {
			t.Fatalf("no change yet, signal %v", got)
		}
		if err := env.Server.Flows.Identities.MethodsChanged(t.Context(), owner.Identity.ID, env.Clock.Now().Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
		r, _ = signInFrom(t, env, from("", "laptop"), "changed@example.com", goodPassword)
		expectStatus(t, r, 200)
		recs = sessionDecisions(t, env, owner.Identity.ID)
		if got := recs[len(recs)-1].Input.Signals.SinceMethodsChange; got < time.Hour || got > time.Hour+time.Minute {
			t.Fatalf("an hour after a change, signal %v", got)
		}
	})
}

// On the hosted sign-in page, a breached password leads to the new
// password's form, and the new one signs in.
func TestBreachedPasswordHostedPage(t *testing.T) {
	env := servertest.Start(t, storetest.NewSQLite(t))
	owner := signUpOn(t, env, "old.hosted@example.com", from("", "laptop"))
	hash, err := env.Server.Flows.Hasher.Hash(t.Context(), "password123")
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Server.Flows.Identities.SetPassword(t.Context(), owner.Identity.ID, hash, env.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	b := env.NewBrowser(t)
	page := b.Get("/login")
	loc := location(t, b.Post("/login", url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "email": {"old.hosted@example.com"}, "password": {"password123"}}))
	pw := b.Get(loc)
	if !strings.Contains(pw.Body, `data-id="password_breached"`) || !strings.Contains(pw.Body, `autocomplete="new-password"`) {
		t.Fatalf("after a breached password:\n%s", pw.Body)
	}
	expectStatus(t, b.Get("/sessions/whoami"), 401)
	if got := location(t, b.Post(loc, url.Values{"csrf_token": {servertest.CSRF(t, pw.Body)}, "password": {goodPassword}})); got != "/account" {
		t.Fatalf("after the new password: %q", got)
	}
	expectStatus(t, b.Get("/sessions/whoami"), 200)
}
