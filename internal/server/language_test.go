package server_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/foyer-id/foyer/internal/config"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// A page speaks the language the request asks for: ui_locales (kept for
// the rest of the journey), else Accept-Language, else the domain's
// default; it says so in <html lang> and Content-Language. An operator's
// file adds a language or rewords a text.
func TestPageLanguage(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "nl.json", `{"login.title": "Inloggen", "login.submit": "Inloggen", "common.email_label": "E-mailadres"}`)
	writeFile(t, dir, "en.json", `{"login.forgot_password": "Lost your password?"}`)
	env := servertest.Start(t, storetest.NewSQLite(t), func(c *config.Config) {
		c.Languages.Dir = dir
	})

	get := func(b *servertest.Browser, path, accept string) *servertest.Response {
		t.Helper()
		if accept != "" {
			b.Header.Set("Accept-Language", accept)
		} else {
			b.Header.Del("Accept-Language")
		}
		return b.Get(path)
	}
	b := env.NewBrowser(t)
	r := get(b, "/login", "")
	if !strings.Contains(r.Body, `<html lang="en">`) || !strings.Contains(r.Body, "<h1>Sign in</h1>") || r.Header.Get("Content-Language") != "en" ||
		!strings.Contains(r.Body, "Lost your password?") {
		t.Fatalf("default page: %s\n%s", r.Header.Get("Content-Language"), r.Body)
	}
	r = get(b, "/login", "nl-BE, en;q=0.5")
	if !strings.Contains(r.Body, `<html lang="nl">`) || !strings.Contains(r.Body, "<h1>Inloggen</h1>") || !strings.Contains(r.Body, `<label for="email">E-mailadres</label>`) ||
		r.Header.Get("Content-Language") != "nl" || !strings.Contains(r.Body, `autocomplete="email"`) {
		t.Fatalf("Accept-Language nl: %s\n%s", r.Header.Get("Content-Language"), r.Body)
	}
	// ui_locales wins, and the browser keeps it.
	b2 := env.NewBrowser(t)
	if r := get(b2, "/login?ui_locales=xx+nl", "en"); !strings.Contains(r.Body, "<h1>Inloggen</h1>") {
		t.Fatalf("ui_locales nl: %s", r.Body)
	}
	if r := get(b2, "/login", "en"); !strings.Contains(r.Body, "<h1>Inloggen</h1>") {
		t.Fatalf("the journey forgot the language: %s", r.Body)
	}
	if r := get(b2, "/login?ui_locales=en", "nl"); !strings.Contains(r.Body, "<h1>Sign in</h1>") {
		t.Fatalf("ui_locales en: %s", r.Body)
	}

	// The domain's default, for a browser that asks for nothing known.
	nl := servertest.Start(t, storetest.NewSQLite(t), func(c *config.Config) {
		c.Languages.Dir = dir
		c.Domains[config.DefaultDomain].DefaultLanguage = "nl"
	})
	if r := get(nl.NewBrowser(t), "/login", "sw"); r.StatusCode != http.StatusOK || !strings.Contains(r.Body, "<h1>Inloggen</h1>") {
		t.Fatalf("domain default: %s", r.Body)
	}
}

// Every shipped language renders every page: a journey through sign-up,
// the code, the account and its settings, in each language, gets pages
// that say their language and show no text in English where the
// language has its own.
func TestEveryLanguageRendersEveryPage(t *testing.T) {
	env := servertest.Start(t, storetest.NewSQLite(t))
	for i, lang := range []string{"de", "fr", "es", "pt-BR", "ja"} {
		b := env.NewBrowser(t)
		b.Header.Set("Accept-Language", lang)
		email := "polyglot" + string(rune('a'+i)) + "@example.com"
		pages := []string{"/registration"}
		for _, path := range pages {
			if r := b.Get(path); !strings.Contains(r.Body, `<html lang="`+lang+`">`) || strings.Contains(r.Body, ">Create an account<") {
				t.Errorf("%s %s: not in %s", lang, path, lang)
			}
		}
		loc := location(t, b.Submit("/registration", url.Values{"email": {email}, "password": {goodPassword}}))
		pages = []string{loc}
		page := b.Get(loc)
		code := servertest.CodeFrom(t, env.MailTo(t, email, 1))
		if done := b.Post(loc, url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "code": {code}}); location(t, done) != "/account" {
			t.Fatalf("%s: sign-up did not finish", lang)
		}
		pages = append(pages, "/account", "/account/password", "/account/profile", "/account/email", "/account/two-factor", "/logout",
			"/login", "/verification", "/recovery", "/nope")
		for _, path := range pages {
			r := b.Get(path)
			if r.StatusCode != 200 && r.StatusCode != 404 {
				t.Errorf("%s %s: %d", lang, path, r.StatusCode)
				continue
			}
			if !strings.Contains(r.Body, `<html lang="`+lang+`">`) || r.Header.Get("Content-Language") != lang {
				t.Errorf("%s %s: not in %s (%s)", lang, path, lang, r.Header.Get("Content-Language"))
			}
			for _, english := range []string{">Sign in<", ">Create an account<", ">Email address<", ">Password<", ">Sign out<", ">Continue<"} {
				if strings.Contains(r.Body, english) {
					t.Errorf("%s %s: English %s", lang, path, english)
				}
			}
		}
	}
}

// A customer's saved language (the locale trait, where the schema has
// one) comes before the browser's, and after ui_locales.
func TestSavedLanguage(t *testing.T) {
	schema := writeFile(t, t.TempDir(), "schema.json", `{"type": "object", "properties": {
		"email": {"type": "string", "format": "email", "maxLength": 254, "x-foyer-identifier": "email"},
		"locale": {"type": "string", "maxLength": 35}}, "required": ["email"], "additionalProperties": false}`)
	env := servertest.Start(t, storetest.NewSQLite(t), func(c *config.Config) { c.Domains[config.DefaultDomain].IdentitySchema = schema })
	b := signUp(t, env, "lena@example.com", goodPassword)
	ident, err := env.Server.Flows.Identities.FindByIdentifier(t.Context(), config.DefaultDomain, "email", "lena@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Server.Flows.Identities.SetTraits(t.Context(), ident.ID, []byte(`{"email": "lena@example.com", "locale": "de"}`), env.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	b.Header.Set("Accept-Language", "en")
	if r := b.Get("/account"); !strings.Contains(r.Body, `<html lang="de">`) {
		t.Fatalf("saved language not used:\n%s", r.Body)
	}
	if r := b.Get("/account?ui_locales=ja"); !strings.Contains(r.Body, `<html lang="ja">`) {
		t.Fatalf("ui_locales does not come first:\n%s", r.Body)
	}
}

// A security notice speaks the language of the journey that made the
// change, the change itself included.
func TestSecurityNoticeInCustomersLanguage(t *testing.T) {
	env := servertest.Start(t, storetest.NewSQLite(t))
	b := env.NewBrowser(t)
	b.Header.Set("Accept-Language", "de-DE,de;q=0.9")
	loc := location(t, b.Submit("/registration", url.Values{"email": {"greta@example.com"}, "password": {goodPassword}}))
	page := b.Get(loc)
	code := servertest.CodeFrom(t, env.MailTo(t, "greta@example.com", 1))
	location(t, b.Post(loc, url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "code": {code}}))
	location(t, b.Submit("/account/password", url.Values{"current_password": {goodPassword}, "password": {"ein ganz neues Passwort"}}))
	m := env.MailTo(t, "greta@example.com", 2)
	if !strings.Contains(m.Text, "das Passwort wurde geändert; alle anderen Geräte wurden abgemeldet.") || m.Header.Get("Content-Language") != "de" {
		t.Fatalf("notice %q (%s):\n%s", m.Subject, m.Header.Get("Content-Language"), m.Text)
	}
}

// The profile page saves the customer's language, which the pages then
// speak whatever the browser asks; Automatic clears it. A language the
// catalogue lacks is refused and changes nothing.
func TestProfileLanguage(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		b := signUp(t, env, "hanna@example.com", goodPassword)
		b.Header.Set("Accept-Language", "en")
		page := b.Get("/account/profile")
		if !strings.Contains(page.Body, `<option value="de" lang="de">Deutsch</option>`) || !strings.Contains(page.Body, `<option value="ja" lang="ja">日本語</option>`) {
			t.Fatalf("profile without the languages:\n%s", page.Body)
		}
		bad := b.Post("/account/profile", url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "name": {"Hanna"}, "locale": {"xx"}})
		expectStatus(t, bad, 400)
		if !strings.Contains(bad.Body, `id="locale-error"`) {
			t.Fatalf("an unknown language was not refused:\n%s", bad.Body)
		}
		location(t, b.Post("/account/profile", url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "name": {"Hanna"}, "locale": {"de"}}))
		acct := b.Get("/account")
		if acct.Header.Get("Content-Language") != "de" {
			t.Fatalf("after saving German the account page is %s", acct.Header.Get("Content-Language"))
		}
		// Another browser, once signed in, speaks it too.
		other := env.NewBrowser(t)
		other.Header.Set("Accept-Language", "en")
		location(t, other.Submit("/login", url.Values{"email": {"hanna@example.com"}, "password": {goodPassword}}))
		if got := other.Get("/account").Header.Get("Content-Language"); got != "de" {
			t.Fatalf("the saved language in another browser: %s", got)
		}
		page = b.Get("/account/profile")
		if !strings.Contains(page.Body, `<option value="de" lang="de" selected>`) {
			t.Fatalf("the saved language is not selected:\n%s", page.Body)
		}
		location(t, b.Post("/account/profile", url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "name": {"Hanna"}, "locale": {""}}))
		if got := b.Get("/account").Header.Get("Content-Language"); got != "en" {
			t.Fatalf("after Automatic: %s", got)
		}
	})
}

// A security notice speaks the account's saved language, whatever the
// browser that made the change reads.
func TestSecurityNoticeInSavedLanguage(t *testing.T) {
	env := servertest.Start(t, storetest.NewSQLite(t))
	b := signUp(t, env, "ines@example.com", goodPassword)
	page := b.Get("/account/profile")
	location(t, b.Post("/account/profile", url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "locale": {"fr"}}))
	other := env.NewBrowser(t)
	other.Header.Set("Accept-Language", "en")
	location(t, other.Submit("/login", url.Values{"email": {"ines@example.com"}, "password": {goodPassword}}))
	location(t, other.Submit("/account/password", url.Values{"current_password": {goodPassword}, "password": {"un tout nouveau mot de passe"}}))
	m := env.LatestMail(t, "ines@example.com", "Modification de sécurité sur votre compte Foyer")
	if !strings.Contains(m.Text, "le mot de passe a été modifié") {
		t.Fatalf("notice:\n%s", m.Text)
	}
}
