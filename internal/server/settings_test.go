package server_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	pqtotp "github.com/pquerna/otp/totp"

	"github.com/foyer-id/foyer/internal/api"
	"github.com/foyer-id/foyer/internal/config"
	"github.com/foyer-id/foyer/internal/decision"
	"github.com/foyer-id/foyer/internal/event"
	"github.com/foyer-id/foyer/internal/policy"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// A customer changes the password: with a recent sign-in, or else with
// the current password (a wrong one counts as a failed sign-in). Every
// other session ends, the address is told, and the change is an event.
func TestChangePassword(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		const email = "paz@example.com"
		tok := signUpAPI(t, env, email).SessionToken
		var other api.FlowResponse
		expectStatus(t, signInAPI(t, env, email, goodPassword, &other), 200)

		env.Clock.Advance(11 * time.Minute) // the sign-in is no longer fresh
		change := func(current, next string) *servertest.Response {
			return env.JSON(t, "POST", "/api/settings/password", tok, map[string]any{"current_password": current, "password": next}, nil)
		}
		expectProblem(t, change("", newPassword), 401, "reauthenticate")
		p := expectProblem(t, change("not my password", newPassword), 400, "invalid-input")
		if p.Errors[0].ID != "current_password_invalid" {
			t.Fatalf("wrong current password: %+v", p)
		}
		p = expectProblem(t, change(goodPassword, "short"), 400, "invalid-input")
		if p.Errors[0].Field != "password" {
			t.Fatalf("short new password: %+v", p)
		}
		if _, st := whoami(t, env, other.SessionToken); st != 200 {
			t.Fatal("a refused change ended a session")
		}
		expectStatus(t, change(goodPassword, newPassword), 204)

		if _, st := whoami(t, env, other.SessionToken); st != 401 {
			t.Fatal("the other session outlived the password change")
		}
		if _, st := whoami(t, env, tok); st != 200 {
			t.Fatal("the session that changed the password was signed out")
		}
		expectStatus(t, signInAPI(t, env, email, goodPassword), 400)
		expectStatus(t, signInAPI(t, env, email, newPassword), 200)
		if m := env.LatestMail(t, email, "Security change on your Foyer account"); !strings.Contains(m.Text, "the password was changed") {
			t.Fatalf("notice:\n%s", m.Text)
		}
		evs, err := env.Server.Events.List(t.Context(), event.Query{Type: event.SettingsChanged})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, e := range evs {
			got = append(got, e.Outcome+":"+e.Reason)
		}
		if strings.Join(got, " ") != "failure:current_password_invalid success:password" {
			t.Fatalf("settings events: %v", got)
		}

		// The account's security activity tells it, newest first.
		var act api.ActivityList
		r := env.JSON(t, "GET", "/api/activity", tok, nil, &act)
		expectStatus(t, r, 200)
		var whats, ids []string
		for _, a := range act.Activity {
			whats, ids = append(whats, a.What), append(ids, a.ID)
		}
		if got := strings.Join(whats, "; "); got != "Signed in; Password changed; Wrong current password entered; Signed in; Signed up" ||
			r.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("activity: %s", got)
		}
		if got := strings.Join(ids, " "); got != "activity.signed_in activity.password_changed activity.wrong_current_password activity.signed_in activity.signed_up" {
			t.Fatalf("activity ids: %s", got)
		}
		b := env.NewBrowser(t)
		signInBrowser(t, b, email, newPassword)
		if acct := b.Get("/account"); !strings.Contains(acct.Body, "Recent security activity") || !strings.Contains(acct.Body, "<strong>Password changed</strong>") {
			t.Fatalf("account page activity:\n%s", acct.Body)
		}
		// In the customer's language, as the rest of the page.
		b.Header.Set("Accept-Language", "de")
		if acct := b.Get("/account"); !strings.Contains(acct.Body, "Letzte Sicherheitsaktivitäten") || !strings.Contains(acct.Body, "<strong>Passwort geändert</strong>") ||
			!strings.Contains(acct.Body, "<strong>Falsches aktuelles Passwort eingegeben</strong>") || strings.Contains(acct.Body, "Password changed") {
			t.Fatalf("account page activity in German:\n%s", acct.Body)
		}
	})
}

// The name changes through the API and the hosted page; the email address
// does not change that way, and a trait the schema refuses changes nothing.
func TestChangeTraits(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		const email = "tia@example.com"
		tok := signUpAPI(t, env, email).SessionToken
		var ident struct {
			Traits map[string]any `json:"traits"`
		}
		expectStatus(t, env.JSON(t, "PATCH", "/api/settings/traits", tok, map[string]any{"traits": map[string]any{"name": "Tia Kovač"}}, &ident), 200)
		if ident.Traits["name"] != "Tia Kovač" || ident.Traits["email"] != email {
			t.Fatalf("traits: %+v", ident.Traits)
		}
		p := expectProblem(t, env.JSON(t, "PATCH", "/api/settings/traits", tok, map[string]any{"traits": map[string]any{"email": "other@example.com"}}, nil), 400, "invalid-input")
		if p.Errors[0].ID != "email_change_separate" {
			t.Fatalf("email through traits: %+v", p)
		}
		expectProblem(t, env.JSON(t, "PATCH", "/api/settings/traits", tok, map[string]any{"traits": map[string]any{"name": strings.Repeat("x", 300)}}, nil), 400, "invalid-input")
		expectProblem(t, env.JSON(t, "PATCH", "/api/settings/traits", "", map[string]any{"traits": map[string]any{"name": "x"}}, nil), 401, "unauthenticated")
		if who, _ := whoami(t, env, tok); !strings.Contains(string(who.Identity.Traits), "Tia Kovač") {
			t.Fatalf("after refused changes: %s", who.Identity.Traits)
		}

		// Hosted: the account page links to the profile, which saves.
		b := env.NewBrowser(t)
		signInBrowser(t, b, email, goodPassword)
		if acct := b.Get("/account"); !strings.Contains(acct.Body, `href="/account/profile"`) || !strings.Contains(acct.Body, `href="/account/password"`) {
			t.Fatalf("account page lacks the settings:\n%s", acct.Body)
		}
		page := b.Get("/account/profile")
		if !strings.Contains(page.Body, `autocomplete="name"`) {
			t.Fatalf("profile page:\n%s", page.Body)
		}
		if got := location(t, b.Post("/account/profile", url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "name": {"Tia K."}})); got != "/account?changed=profile" {
			t.Fatalf("after saving: %q", got)
		}
		if acct := b.Get("/account?changed=profile"); !strings.Contains(acct.Body, "Tia K.") || !strings.Contains(acct.Body, "Your profile is saved.") {
			t.Fatalf("account page after saving:\n%s", acct.Body)
		}
	})
}

// signInBrowser signs a browser in with a password on the hosted page.
func signInBrowser(t *testing.T, b *servertest.Browser, email, pw string) {
	t.Helper()
	page := b.Get("/login")
	if got := location(t, b.Post("/login", url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "email": {email}, "password": {pw}})); got != "/account" {
		t.Fatalf("sign-in went to %q", got)
	}
}

// A customer sees the devices signed in and signs one out, or every
// other one; the current one is kept (signing it out is /logout).
func TestSignOutOtherDevices(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		const email = "ola@example.com"
		tok := signUpAPI(t, env, email).SessionToken
		var second, third api.FlowResponse
		expectStatus(t, signInAPI(t, env, email, goodPassword, &second), 200)
		expectStatus(t, signInAPI(t, env, email, goodPassword, &third), 200)

		var list api.SessionList
		r := env.JSON(t, "GET", "/api/sessions", tok, nil, &list)
		expectStatus(t, r, 200)
		if len(list.Sessions) != 3 || !list.Sessions[0].Current || list.Sessions[1].Current || list.Sessions[0].Network != "127.0.0.0/24" {
			t.Fatalf("sessions: %+v", list.Sessions)
		}
		expectProblem(t, env.JSON(t, "DELETE", "/api/sessions/"+list.Sessions[0].SessionID, tok, nil, nil), 400, "invalid-input")
		expectProblem(t, env.JSON(t, "DELETE", "/api/sessions/nope", tok, nil, nil), 404, "session-not-found")
		expectStatus(t, env.JSON(t, "DELETE", "/api/sessions/"+second.Session.ID, tok, nil, nil), 204)
		if _, st := whoami(t, env, second.SessionToken); st != 401 {
			t.Fatal("the device signed out still works")
		}
		if _, st := whoami(t, env, third.SessionToken); st != 200 {
			t.Fatal("another device was signed out too")
		}
		// Another account's session is not this one's to end.
		stranger := signUpAPI(t, env, "stranger@example.com")
		expectProblem(t, env.JSON(t, "DELETE", "/api/sessions/"+stranger.Session.ID, tok, nil, nil), 404, "session-not-found")
		expectStatus(t, env.JSON(t, "DELETE", "/api/sessions", tok, nil, nil), 204)
		if _, st := whoami(t, env, third.SessionToken); st != 401 {
			t.Fatal("sign out everywhere else left a device")
		}
		if _, st := whoami(t, env, tok); st != 200 {
			t.Fatal("sign out everywhere else signed this device out")
		}
		if _, st := whoami(t, env, stranger.SessionToken); st != 200 {
			t.Fatal("another account was signed out")
		}
		// Each sign-out of a device went through the decision point: an
		// unknown id, the second device, the stranger's, every other.
		who, _ := whoami(t, env, tok)
		recs, err := env.Server.Decisions.List(t.Context(), decision.Query{Action: policy.Logout, IdentityID: who.Session.IdentityID})
		if err != nil || len(recs) != 4 {
			t.Fatalf("logout decisions: %d %v", len(recs), err)
		}

		// Hosted: the account page lists the devices, with a button each.
		b := env.NewBrowser(t)
		signInBrowser(t, b, email, goodPassword)
		acct := b.Get("/account")
		if strings.Count(acct.Body, "Sign out this device") != 1 || !strings.Contains(acct.Body, "this device") {
			t.Fatalf("account page devices:\n%s", acct.Body)
		}
		// "Sign out every other device" asks first: a form that only
		// fetches the question, which carries the form that does it.
		if !strings.Contains(acct.Body, `<form method="get" action="/account/sessions/revoke">`) {
			t.Fatalf("account page: no button for the other devices:\n%s", acct.Body)
		}
		ask := b.Get("/account/sessions/revoke")
		expectStatus(t, ask, 200)
		expectQuestion(t, ask.Body, "Sign out every other device?", "/account/sessions/revoke", "Sign out other devices", "/account#devices")
		if _, st := whoami(t, env, tok); st != 200 {
			t.Fatal("asking signed a device out")
		}
		if got := location(t, b.Post("/account/sessions/revoke", hiddenFields(ask.Body))); got != "/account?changed=devices#devices" {
			t.Fatalf("after signing out the others: %q", got)
		}
		if _, st := whoami(t, env, tok); st != 401 {
			t.Fatal("the API session outlived sign out everywhere else")
		}
		// With no other device left, there is nothing to ask about.
		if loc := location(t, b.Get("/account/sessions/revoke")); loc != "/account#devices" {
			t.Fatalf("asking with no other device went to %q", loc)
		}
	})
}

var revertLink = regexp.MustCompile(`https?://\S+/revert\?token=(fyr_[A-Za-z0-9_-]+)`)

// A customer changes the email address: the new one is proved by a code
// before it takes effect, the old one gets a link that undoes the change,
// and the new one cannot recover the account in the cool-off. The link
// puts the old address back, signs every device out, protects the account
// (a password alone then asks for the mailbox's code), and works once.
func TestEmailChangeAndRevert(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		const old, next = "kai@example.com", "kai.new@example.com"
		tok := signUpAPI(t, env, old).SessionToken

		expectProblem(t, env.JSON(t, "POST", "/api/settings/email", tok, map[string]any{"email": old}, nil), 400, "invalid-input")
		var started, done api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/settings/email", tok, map[string]any{"email": next}, &started), 200)
		if started.Flow.Type != "email_change" || started.Flow.State != "verify" {
			t.Fatalf("email change: %+v", started.Flow)
		}
		if who, _ := whoami(t, env, tok); who.Identity.Email().Value != old {
			t.Fatal("the address changed before the new one was proved")
		}
		code := servertest.CodeFrom(t, env.LatestMail(t, next, "Your Foyer verification code"))
		expectStatus(t, env.JSON(t, "POST", "/api/flows/"+started.Flow.ID+"/code", "", map[string]any{"code": code}, &done), 200)
		if done.Flow.State != "done" {
			t.Fatalf("after the code: %+v", done.Flow)
		}
		who, _ := whoami(t, env, tok)
		if e := who.Identity.Email(); e.Value != next || !e.Verified || !strings.Contains(string(who.Identity.Traits), next) {
			t.Fatalf("after the change: %+v %s", e, who.Identity.Traits)
		}
		notice := env.LatestMail(t, old, "Security change on your Foyer account")
		link := revertLink.FindStringSubmatch(notice.Text)
		if link == nil || !strings.Contains(notice.Text, "changed to "+next) {
			t.Fatalf("notice to the old address:\n%s", notice.Text)
		}
		var second api.FlowResponse
		expectStatus(t, signInAPI(t, env, next, goodPassword, &second), 200)
		if recs := sessionDecisions(t, env, second.Session.IdentityID); recs[len(recs)-1].Input.Signals.SinceEmailChange <= 0 {
			t.Fatalf("the email change is not a signal of the next sign-in: %+v", recs[len(recs)-1].Input.Signals)
		}

		// The new address does not recover the account in the cool-off.
		var rec api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/recovery", "", nil, &rec), 201)
		expectStatus(t, env.JSON(t, "POST", "/api/recovery/"+rec.Flow.ID, "", map[string]any{"email": next}, nil), 200)
		for _, m := range env.Outbox(t, next) {
			if m.Template == "recovery_code" {
				t.Fatal("a recovery code went to an address changed in the cool-off")
			}
		}

		// Someone holds the old address with a sign-up never finished: the
		// revert takes it back all the same.
		expectStatus(t, registerAPI(t, env, old), 200)

		// "This wasn't me", from the old address: a page first (nothing
		// happens on GET), then the button.
		b := env.NewBrowser(t)
		page := b.Get("/revert?token=" + link[1])
		expectStatus(t, page, 200)
		if !strings.Contains(page.Body, "puts your old email address back") {
			t.Fatalf("revert page:\n%s", page.Body)
		}
		if _, st := whoami(t, env, tok); st != 200 {
			t.Fatal("opening the link changed something")
		}
		done2 := b.Post("/revert", url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "token": {link[1]}})
		expectStatus(t, done2, 200)
		for _, s := range []string{tok, second.SessionToken} {
			if _, st := whoami(t, env, s); st != 401 {
				t.Fatal("a session outlived the revert")
			}
		}
		// Once only.
		expectStatus(t, b.Post("/revert", url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "token": {link[1]}}), 410)
		expectStatus(t, b.Get("/revert?token="+link[1]), 410)

		// The old address is back; the account is protected: the password
		// alone asks for a code from the mailbox, which lifts it.
		expectStatus(t, signInAPI(t, env, next, goodPassword), 400)
		var start, half, in api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/login", "", nil, &start), 201)
		expectStatus(t, env.JSON(t, "POST", "/api/login/"+start.Flow.ID, "", map[string]any{"identifier": old, "password": goodPassword}, &half), 200)
		if half.Flow.State != "verify" || half.SessionToken != "" {
			t.Fatalf("a protected account signed in with its password alone: %+v", half.Flow)
		}
		c := servertest.CodeFrom(t, env.LatestMail(t, old, "Your Foyer sign-in code"))
		expectStatus(t, env.JSON(t, "POST", "/api/flows/"+start.Flow.ID+"/code", "", map[string]any{"code": c}, &in), 200)
		if in.SessionToken == "" {
			t.Fatalf("the mailbox's code did not sign in: %+v", in.Flow)
		}
		var again api.FlowResponse
		expectStatus(t, signInAPI(t, env, old, goodPassword, &again), 200)
		if again.SessionToken == "" {
			t.Fatalf("still protected after the owner's code: %+v", again.Flow)
		}
		evs, err := env.Server.Events.List(t.Context(), event.Query{Type: event.ChangeReverted})
		if err != nil || len(evs) != 1 || evs[0].Reason != "email" {
			t.Fatalf("revert events: %+v %v", evs, err)
		}
		if recs, err := env.Server.Decisions.List(t.Context(), decision.Query{Action: policy.AccountRevert}); err != nil || len(recs) != 1 ||
			recs[0].Input.Change != "email" || recs[0].Effect != "allow" {
			t.Fatalf("revert decisions: %+v %v", recs, err)
		}
		// Links past their week are pruned, used or not.
		count := func() (n int) {
			if err := db.QueryRow(t.Context(), `SELECT COUNT(*) FROM reverts`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		if count() == 0 {
			t.Fatal("no revert links stored")
		}
		env.Clock.Advance(8 * 24 * time.Hour)
		env.Server.PruneOnce(t.Context())
		if n := count(); n != 0 {
			t.Fatalf("%d revert links left after their lifetime", n)
		}
	})
}

// In the cool-off after a recovery the email address does not change,
// through the API or the hosted page; after it, it does.
func TestRecoveredAccountKeepsItsEmail(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		const email = "noor@example.com"
		signUpAPI(t, env, email)
		id := recoverByEmail(t, env, email)
		var done api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/recovery/"+id, "", map[string]any{"password": newPassword}, &done), 200)
		p := expectProblem(t, env.JSON(t, "POST", "/api/settings/email", done.SessionToken, map[string]any{"email": "noor.other@example.com"}, nil), 409, "refused")
		if p.Errors[0].ID != "recently_recovered" {
			t.Fatalf("email change in the cool-off: %+v", p)
		}
		// A new password is allowed: it is what recovery is for.
		expectStatus(t, env.JSON(t, "POST", "/api/settings/password", done.SessionToken, map[string]any{"password": goodPassword}, nil), 204)

		b := env.NewBrowser(t)
		signInBrowser(t, b, email, goodPassword)
		page := b.Get("/account/email")
		loc := location(t, b.Post("/account/email", url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "email": {"noor.other@example.com"}}))
		if refused := b.Get(loc); !strings.Contains(refused.Body, "Your account was recovered recently.") {
			t.Fatalf("hosted email change in the cool-off (%s):\n%s", loc, refused.Body)
		}

		env.Clock.Advance(73 * time.Hour)
		var fresh api.FlowResponse
		expectStatus(t, signInAPI(t, env, email, goodPassword, &fresh), 200)
		expectStatus(t, env.JSON(t, "POST", "/api/settings/email", fresh.SessionToken, map[string]any{"email": "noor.other@example.com"}, nil), 200)
	})
}

// An authenticator app turned on by someone else comes off again with the
// notice's link, which also signs every device out.
func TestRevertAFactorAdded(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		const email = "ivo@example.com"
		tok := signUpAPI(t, env, email).SessionToken
		var setup api.TOTPSetup
		expectStatus(t, env.JSON(t, "POST", "/api/totp", tok, nil, &setup), 200)
		first, _ := pqtotp.GenerateCode(setup.Secret, env.Clock.Now())
		expectStatus(t, env.JSON(t, "POST", "/api/totp/confirm", tok, map[string]any{"code": first}, nil), 200)
		notice := env.LatestMail(t, email, "Security change on your Foyer account")
		link := revertLink.FindStringSubmatch(notice.Text)
		if link == nil || !strings.Contains(notice.Text, "two-factor authentication was turned on") {
			t.Fatalf("notice:\n%s", notice.Text)
		}
		b := env.NewBrowser(t)
		page := b.Get("/revert?token=" + link[1])
		if !strings.Contains(page.Body, "takes away an authenticator app or passkey") {
			t.Fatalf("revert page:\n%s", page.Body)
		}
		expectStatus(t, b.Post("/revert", url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "token": {link[1]}}), 200)
		if _, st := whoami(t, env, tok); st != 401 {
			t.Fatal("the session outlived the revert")
		}
		on, err := env.Server.Flows.Factors.Enrolled(t.Context(), signedUpID(t, env, email))
		if err != nil || on {
			t.Fatalf("the authenticator app is still on after the revert: %v %v", on, err)
		}
	})
}

// signedUpID is the identity id of an address's account.
func signedUpID(t *testing.T, env *servertest.Env, email string) string {
	t.Helper()
	ident, err := env.Server.Flows.Identities.FindByIdentifier(t.Context(), "customers", "email", email)
	if err != nil {
		t.Fatal(err)
	}
	return ident.ID
}

// An operator who has checked who the customer is releases an account
// from the protected state; until then a password alone does not sign in.
func TestOperatorReleasesProtection(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		const adminToken = "operator-token-of-forty-characters-xxxxx"
		env := servertest.Start(t, db, func(c *config.Config) { c.Admin.Token = adminToken })
		const email = "uma@example.com"
		tok := signUpAPI(t, env, email).SessionToken
		expectStatus(t, env.JSON(t, "POST", "/api/settings/password", tok, map[string]any{"password": newPassword}, nil), 204)
		link := revertLink.FindStringSubmatch(env.LatestMail(t, email, "Security change on your Foyer account").Text)
		if link == nil {
			t.Fatal("no revert link")
		}
		b := env.NewBrowser(t)
		page := b.Get("/revert?token=" + link[1])
		expectStatus(t, b.Post("/revert", url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "token": {link[1]}}), 200)
		// The old password is back, and alone it no longer signs in.
		var half api.FlowResponse
		expectStatus(t, signInAPI(t, env, email, goodPassword, &half), 200)
		if half.Flow.State != "verify" {
			t.Fatalf("a protected account signed in with its password alone: %+v", half.Flow)
		}
		id := signedUpID(t, env, email)
		admin := func(token, identityID string) *servertest.Response {
			return env.JSONWith(t, "POST", "/admin/identities/"+identityID+"/release", http.Header{"Authorization": {"Bearer " + token}}, nil, nil)
		}
		expectStatus(t, admin("wrong", id), 401)
		expectStatus(t, admin(adminToken, "no-such-identity"), 404)
		expectStatus(t, admin(adminToken, id), 204)
		if evs, err := env.Server.Events.List(t.Context(), event.Query{Type: event.AccountReleased, IdentityID: id}); err != nil || len(evs) != 1 {
			t.Fatalf("release events: %+v %v", evs, err)
		}
		var in api.FlowResponse
		expectStatus(t, signInAPI(t, env, email, goodPassword, &in), 200)
		if in.SessionToken == "" {
			t.Fatalf("still protected after the operator's release: %+v", in.Flow)
		}
	})
}
