package ui

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/language"

	"github.com/foyer-id/foyer/internal/challenge"
	"github.com/foyer-id/foyer/internal/credential/passkey"
	"github.com/foyer-id/foyer/internal/credential/password"
	"github.com/foyer-id/foyer/internal/flow"
	"github.com/foyer-id/foyer/internal/i18n"
	"github.com/foyer-id/foyer/internal/identity"
	foidc "github.com/foyer-id/foyer/internal/oidc"
	"github.com/foyer-id/foyer/internal/policy"
	"github.com/foyer-id/foyer/internal/problem"
	"github.com/foyer-id/foyer/internal/secretbox"
	"github.com/foyer-id/foyer/internal/session"
	"github.com/foyer-id/foyer/internal/store"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Pages serves the hosted pages of one policy domain.
type Pages struct {
	Flows       *flow.Service
	Sessions    *session.Manager
	Identities  *identity.Store
	Cookies     Cookies
	ProductName string
	Domain      string
	Logger      *slog.Logger
	// Passkeys are the customers' WebAuthn credentials.
	Passkeys *passkey.Service
	// Sealer seals what a cookie carries for a moment (new recovery
	// codes on their way to the account page).
	Sealer *secretbox.Box
	// OAuth is the OpenID provider whose sign-ins these pages complete.
	OAuth *foidc.Provider
	// Catalog holds the pages' texts in every language, and
	// DefaultLanguage is the domain's (docs/languages.md).
	Catalog         *i18n.Catalog
	DefaultLanguage language.Tag
	// Brand is the domain's look and links (nil: Foyer's own).
	Brand *Brand

	tmpl map[string]*template.Template
}

// Init parses the templates — the built-in ones, or the operator's of
// the same name from the brand's template directory — and refuses, with
// the file and line, one that does not parse; call it once before Mount.
func (p *Pages) Init() error {
	p.tmpl = map[string]*template.Template{}
	if p.Brand == nil {
		p.Brand = &Brand{}
	}
	pages, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return err
	}
	source, err := p.templateSources(pages)
	if err != nil {
		return err
	}
	layout := source["layout"]
	for _, name := range pages {
		base := strings.TrimSuffix(strings.TrimPrefix(name, "templates/"), ".html")
		if base == "layout" {
			continue
		}
		t := template.New("layout.html").Funcs(template.FuncMap{
			"fieldError": fieldError,
			"focus":      focus,
			"methodName": methodName,
			"formError":  formMessages,
			"traits":     traitsOf,
			"countdown":  countdown,
		})
		if _, err := t.Parse(layout.text); err != nil {
			return fmt.Errorf("ui: template %s: %w", layout.file, err)
		}
		page := source[base]
		if _, err := t.New(base + ".html").Parse(page.text); err != nil {
			return fmt.Errorf("ui: template %s: %w", page.file, err)
		}
		p.tmpl[base] = t
	}
	return nil
}

type templateSource struct{ file, text string }

// templateSources reads every page template, from the operator's
// directory where it has the file; a file there that names no page is
// refused (a misspelt override would change nothing).
func (p *Pages) templateSources(pages []string) (map[string]templateSource, error) {
	out := map[string]templateSource{}
	for _, name := range pages {
		b, err := templateFS.ReadFile(name)
		if err != nil {
			return nil, err
		}
		out[strings.TrimSuffix(strings.TrimPrefix(name, "templates/"), ".html")] = templateSource{name, string(b)}
	}
	dir := p.Brand.templates
	if dir == "" {
		return out, nil
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.html"))
	if err != nil {
		return nil, err
	}
	for _, f := range files {
		base := strings.TrimSuffix(filepath.Base(f), ".html")
		if _, ok := out[base]; !ok {
			return nil, fmt.Errorf("ui: template %s: no built-in page %s.html to replace", f, base)
		}
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("ui: template: %w", err)
		}
		out[base] = templateSource{f, string(b)}
	}
	return out, nil
}

// Mount registers the hosted pages on mux.
func (p *Pages) Mount(mux *http.ServeMux) {
	mux.Handle("GET /assets/", http.StripPrefix("/", assetHandler()))
	p.Brand.mount(mux)
	mux.HandleFunc("GET /{$}", p.home)
	mux.HandleFunc("GET /favicon.ico", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=86400")
		w.WriteHeader(http.StatusNoContent) // no icon yet; spares browsers a 404
	})
	mux.HandleFunc("GET /registration", p.registrationPage)
	mux.Handle("POST /registration", p.form(p.registrationSubmit))
	mux.HandleFunc("GET /verification", p.verificationPage)
	mux.Handle("POST /verification", p.form(p.verificationSubmit))
	mux.HandleFunc("GET /login", p.loginPage)
	mux.Handle("POST /login", p.form(p.loginSubmit))
	if p.Flows.Config.Recovery {
		mux.HandleFunc("GET /recovery", p.recoveryPage)
		mux.Handle("POST /recovery", p.form(p.recoverySubmit))
	}
	mux.HandleFunc("GET /logout", p.logoutPage)
	mux.Handle("POST /logout", p.form(p.logoutSubmit))
	mux.HandleFunc("GET /account", p.accountPage)
	mux.HandleFunc("GET /account/password", p.passwordPage)
	mux.Handle("POST /account/password", p.form(p.passwordSubmit))
	mux.HandleFunc("GET /account/profile", p.profilePage)
	mux.Handle("POST /account/profile", p.form(p.profileSubmit))
	mux.Handle("POST /account/sessions/revoke", p.form(p.sessionsRevoke))
	mux.HandleFunc("GET /account/email", p.changePage(p.emailChange()))
	mux.Handle("POST /account/email", p.form(p.changeSubmit(p.emailChange())))
	if p.Flows.PhonesOn() {
		mux.HandleFunc("GET /account/phone", p.changePage(p.phoneChange()))
		mux.Handle("POST /account/phone", p.form(p.changeSubmit(p.phoneChange())))
	}
	mux.HandleFunc("GET /revert", p.revertPage)
	mux.Handle("POST /revert", p.form(p.revertSubmit))
	mux.HandleFunc("GET /stepup", p.stepUpPage)
	mux.HandleFunc("GET /challenge", p.freshChallenge)
	if p.Passkeys != nil {
		mux.HandleFunc("POST /passkeys/login/options", p.passkeyLoginOptions)
		mux.HandleFunc("POST /passkeys/login", p.passkeyLogin)
		mux.HandleFunc("POST /registration/passkey/options", p.passkeySignUpOptions)
		mux.HandleFunc("POST /registration/passkey", p.passkeySignUp)
		mux.HandleFunc("POST /account/passkeys/options", p.passkeyAddOptions)
		mux.HandleFunc("POST /account/passkeys", p.passkeyAdd)
		mux.Handle("POST /account/passkeys/rename", p.form(p.passkeyRename))
		mux.Handle("POST /account/passkeys/delete", p.form(p.passkeyDelete))
	}
	mux.HandleFunc("GET "+twoFactorPath, p.twoFactorPage)
	mux.Handle("POST "+twoFactorPath+"/setup", p.form(p.twoFactorSetup))
	mux.Handle("POST "+twoFactorPath+"/confirm", p.form(p.twoFactorConfirm))
	mux.Handle("POST "+twoFactorPath+"/recovery-codes", p.form(p.twoFactorRecoveryCodes))
	mux.Handle("POST "+twoFactorPath+"/remove", p.form(p.twoFactorRemove))
	mux.Handle("POST /stepup", p.form(p.stepUpSubmit))
	mux.Handle("POST /account/consents", p.form(p.consentRevoke))
	p.mountConfirmations(mux) // the removals' confirmation pages (confirm.go)
	p.mountProviders(mux)     // sign-in with upstream providers (providers.go)
	mux.HandleFunc("GET "+foidc.ContinuePath, p.oauthContinue)
	mux.Handle("POST "+foidc.ContinuePath, p.form(p.oauthConsent))
	mux.Handle("POST /oauth/cancel", p.form(p.oauthCancel))
}

func assetHandler() http.Handler {
	fsrv := http.FileServerFS(assetFS)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		fsrv.ServeHTTP(w, r)
	})
}

// SecurityHeaders sets the headers every hosted page carries.
func SecurityHeaders(h http.Header) {
	// No form-action: browsers apply it to every redirect that follows a
	// form submission, and signing in for an app ends in a redirect to
	// the app's own origin. Every form here posts to Foyer itself.
	// Scripts only from Foyer's own files (passkeys need the WebAuthn
	// API); no inline script or style anywhere.
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cache-Control", "no-store")
}

// view is what every template receives.
type view struct {
	// Title is a message id (login.title), or the title itself; TitleArgs
	// fill the message's placeholders.
	Title       string
	TitleArgs   []any
	ProductName string
	CSRF        string
	Flow        *flow.View
	Values      map[string]string
	Messages    []flow.Message
	SignedIn    bool
	Identity    *identity.Identity
	Session     *session.Session
	ReturnTo    string
	Action      string
	Extra       map[string]any
	// Password is the domain's password policy, for new-password fields'
	// bounds and hints.
	Password password.Policy
	// CodeMinutes is how long a mailed code lives, as the mail says it.
	CodeMinutes int
	// Challenge, when set, is the proof of work the page's forms must
	// carry: the browser solves it (assets/challenge.js). ChallengeWait is
	// how many minutes a browser without JavaScript waits instead.
	Challenge     *challenge.Challenge
	ChallengeWait int
	// Wait is how many seconds the page's form must wait before it is
	// sent again (0: none); assets/countdown.js counts them down.
	Wait int
	// Lang is the page's language (its lang attribute).
	Lang string
	// Brand is the domain's look: logo, stylesheet, footer links.
	Brand *Brand
	// App is the app the journey will go back to, if any (set from
	// ReturnTo when left nil).
	App *App
	loc *i18n.Localizer
	tz  *time.Location // the customer's time zone (dates.go)
}

// T returns message id in the page's language, its placeholders filled
// from args (name, value pairs): {{.T "login.title"}}.
func (v view) T(id string, args ...any) string { return v.loc.T(id, args...) }

func (p *Pages) render(w http.ResponseWriter, r *http.Request, status int, name string, v view) {
	t, ok := p.tmpl[name]
	if !ok {
		panic("ui: no template " + name)
	}
	v.ProductName = p.ProductName
	v.Brand = p.Brand
	if v.App == nil {
		v.App = p.appFor(w, r, v.ReturnTo)
	}
	// The app the page is about: the one the journey goes back to, or
	// the one the page answers (consent), which does not show the app's
	// context. Its languages (ui_locales) and its look, if it has one.
	about := v.App
	if about == nil {
		about = p.appFor(w, r, v.Action)
	}
	p.brandPage(r, &v, about) // brand.go
	appLocales := ""
	if about != nil {
		appLocales = about.UILocales
	}
	saved := ""
	if v.Identity != nil {
		var t struct {
			Locale string `json:"locale"`
		}
		_ = json.Unmarshal(v.Identity.Traits, &t)
		saved = t.Locale
	}
	v.loc = p.localizerFor(w, r, saved, appLocales)
	v.Lang = v.loc.Lang()
	v.tz = timeZone(r)
	if v.loc.Has(v.Title) {
		v.Title = v.loc.T(v.Title, v.TitleArgs...)
	}
	v.Messages = flow.Localize(v.loc, v.Messages)
	if v.Values["email"] == "" {
		if typed := p.typedEmail(w, r); typed != "" {
			if v.Values == nil {
				v.Values = map[string]string{}
			}
			v.Values["email"] = typed
		}
	}
	w.Header().Set("Content-Language", v.Lang)
	v.Password = p.Flows.PasswordPolicy
	v.CodeMinutes = int(p.Flows.Config.CodeLifetime.Minutes())
	v.CSRF = maskToken(p.Cookies.browserSecret(w, r))
	p.Cookies.deviceID(w, r) // set before any form is posted, so submits set no cookies
	var buf bytes.Buffer
	if err := t.Execute(&buf, v); err != nil {
		p.Logger.ErrorContext(r.Context(), "ui: render", "template", name, "error", err)
		http.Error(w, "Something went wrong on our side.", http.StatusInternalServerError)
		return
	}
	SecurityHeaders(w.Header())
	if v.App != nil && v.App.LogoURI != "" {
		allowImage(w.Header(), v.App.LogoURI)
	}
	if a, ok := v.Extra["ConsentApp"].(*App); ok && a.LogoURI != "" {
		allowImage(w.Header(), a.LogoURI)
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// ErrorPage answers a request the hosted pages cannot serve with the
// hosted error page for status, in fixed words: 404 and 405 for paths and
// methods Foyer does not have, 400 for a sign-in or sign-out request from
// an app that is not valid (an unknown app, an unregistered redirect).
func (p *Pages) ErrorPage(w http.ResponseWriter, r *http.Request, status int) {
	switch status {
	case http.StatusNotFound:
		p.errorPage(w, r, status, "error.not_found_title", "page_not_found")
	case http.StatusMethodNotAllowed:
		p.errorPage(w, r, status, "error.method_title", "method_not_allowed")
	default:
		p.errorPage(w, r, status, "error.request_invalid_title", "app_request_invalid")
	}
}

// Unavailable answers 503 with Retry-After and a page that asks the
// customer to try again shortly: Foyer cannot do the work now (its
// database did not answer in time, or cannot write), and the same step
// will likely work in a moment.
func (p *Pages) Unavailable(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Retry-After", strconv.Itoa(problem.RetryAfter))
	p.errorPage(w, r, http.StatusServiceUnavailable, "error.unavailable_title", "service_unavailable")
}

// CrossOriginRefused answers a form that another site made the browser
// send, which cross-origin protection stopped before any handler ran.
func (p *Pages) CrossOriginRefused(w http.ResponseWriter, r *http.Request) {
	p.errorPage(w, r, http.StatusForbidden, "error.cross_origin_title", "cross_origin_refused")
}

// errorPage shows a fixed, safe message; details go to the log only.
// title and id are catalogue ids: the page's title and its message.
func (p *Pages) errorPage(w http.ResponseWriter, r *http.Request, status int, title, id string) {
	p.render(w, r, status, "error", view{Title: title, Messages: []flow.Message{flow.ErrorMessage("", id)}})
}

// fail maps a journey error to what the customer sees.
func (p *Pages) fail(w http.ResponseWriter, r *http.Request, err error) {
	var throttled *flow.ThrottledError
	var challenged *flow.ChallengeError
	var denied *flow.DeniedError
	switch {
	case errors.As(err, &throttled):
		secs := int(throttled.RetryAfter.Seconds()) + 1
		w.Header().Set("Retry-After", fmt.Sprint(secs))
		// The sign-in page offers the other ways in (a code by email, a
		// passkey), which the text points to.
		p.render(w, r, http.StatusTooManyRequests, "error", view{Title: "error.throttled_title",
			Messages: []flow.Message{flow.ErrorMessage("", "too_many_attempts", "count", secs)},
			Extra:    map[string]any{"Link": loginLink(r), "LinkText": "common.sign_in_another_way"}})
	case errors.As(err, &challenged):
		// Only where a step has no page of its own to show the challenge
		// on (a step-up): the page it came from asks for one up front.
		secs := int(challenged.RetryAfter.Seconds()) + 1
		w.Header().Set("Retry-After", fmt.Sprint(secs))
		back := safeReturnTo(r.URL.RequestURI())
		p.render(w, r, http.StatusTooManyRequests, "error", view{Title: "error.challenge_title",
			Messages: []flow.Message{challengeMessage()},
			Extra:    map[string]any{"Link": back, "LinkText": "error.go_back"}})
	case errors.As(err, &denied) && denied.Message != "":
		// The policy's own words, which its author wrote in one language:
		// an id no catalogue has keeps them as they are.
		p.render(w, r, http.StatusForbidden, "error", view{Title: "error.denied_title",
			Messages: []flow.Message{{ID: "policy_denied", Type: "error", Text: denied.Message}}})
	case errors.As(err, &denied):
		p.errorPage(w, r, http.StatusForbidden, "error.denied_title", "action_denied")
	case errors.Is(err, flow.ErrChanged):
		p.errorPage(w, r, http.StatusConflict, "error.changed_title", "submitted_twice")
	case errors.Is(err, context.Canceled) || errors.Is(r.Context().Err(), context.Canceled):
		// The browser went away: nobody reads the answer, and it is no fault.
		p.Logger.DebugContext(r.Context(), "ui: client gone", "path", r.URL.Path, "error", err)
	case store.Unavailable(err):
		p.Logger.WarnContext(r.Context(), "ui: database unavailable", "path", r.URL.Path, "error", err)
		p.Unavailable(w, r)
	default:
		p.Logger.ErrorContext(r.Context(), "ui: journey failed", "path", r.URL.Path, "error", err)
		p.errorPage(w, r, http.StatusInternalServerError, "error.internal_title", "internal_error")
	}
}

// BrowserBinding returns the hash that binds flows and authorization
// requests to this browser, setting the cookie behind it when missing.
func (p *Pages) BrowserBinding(w http.ResponseWriter, r *http.Request) string {
	return binding(p.Cookies.browserSecret(w, r))
}

// client describes the browser making r, with the solved challenge its
// form carries, if any.
func (p *Pages) client(w http.ResponseWriter, r *http.Request) flow.Client {
	return flow.Client{
		Channel:   flow.ChannelBrowser,
		Binding:   binding(p.Cookies.browserSecret(w, r)),
		IP:        ClientIP(r),
		UserAgent: r.UserAgent(),
		DeviceID:  p.Cookies.deviceID(w, r),
		Lang:      p.localizer(w, r, "").Lang(),
		Proof:     challenge.Proof{Token: r.PostForm.Get("challenge_token"), Solution: r.PostForm.Get("challenge_solution")},
	}
}

// challengeMessage tells a customer why the page asks their browser for a
// moment of work.
func challengeMessage() flow.Message { return flow.ErrorMessage("", "challenge_required") }

// challenge sets v's challenge: the proof of work the client's network
// owes before its next attempt at any of actions, if any, for the page to
// carry — the one a submit of flow f was just refused for (still alive),
// or a new one when the network's counts call for it — and how long the
// network must otherwise wait, for a browser without JavaScript. A failure
// to read them is logged: the page shows without one, and the step asks.
func (p *Pages) challenge(w http.ResponseWriter, r *http.Request, v *view, f *flow.Flow, actions ...policy.Action) {
	ch, wait, err := p.Flows.Challenge(r.Context(), p.client(w, r), actions...)
	if err != nil && r.Context().Err() == nil { // not when the client is gone
		p.Logger.WarnContext(r.Context(), "ui: challenge not read", "error", err)
	}
	if f != nil && f.Data.Challenge != nil && p.Flows.Now().Before(f.Data.Challenge.ExpiresAt) {
		ch = f.Data.Challenge
	}
	v.Challenge, v.ChallengeWait = ch, int(wait.Minutes())+1
}

// ClientIP returns the address of the client: the TCP peer, which the
// server has already replaced with the X-Forwarded-For address when the
// peer is a trusted proxy (trusted_proxies).
func ClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

// form wraps a POST handler: it limits and parses the form and checks the
// CSRF token; a missing or wrong token is a 403 that changes nothing.
func (p *Pages) form(next http.HandlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			p.errorPage(w, r, http.StatusBadRequest, "error.bad_request_title", "form_unreadable")
			return
		}
		ck, err := r.Cookie(p.Cookies.CSRF())
		if err != nil || !validToken(r.PostForm.Get("csrf_token"), ck.Value) {
			p.errorPage(w, r, http.StatusForbidden, "error.csrf_title", "form_expired")
			return
		}
		next(w, r)
	})
}

// currentSessionErr is currentSession for a caller that maps errors itself.
func (p *Pages) currentSessionErr(r *http.Request) (*session.Session, error) {
	ck, err := r.Cookie(p.Cookies.Session())
	if err != nil {
		return nil, nil
	}
	s, err := p.Sessions.Authenticate(r.Context(), ck.Value)
	if errors.Is(err, session.ErrInvalid) {
		return nil, nil
	}
	return s, err
}

// currentSession returns the browser's live session, if any. When the
// database cannot say (an outage), it answers the "try again shortly"
// page itself and returns false: a signed-in customer must not be told
// they are signed out.
func (p *Pages) currentSession(w http.ResponseWriter, r *http.Request) (*session.Session, bool) {
	s, err := p.currentSessionErr(r)
	if err != nil {
		p.fail(w, r, err)
		return nil, false
	}
	return s, true
}

// startSession sets the session cookie, ending the browser's previous
// session so every sign-in gets a new session id (session.Replace).
func (p *Pages) startSession(w http.ResponseWriter, r *http.Request, token string, s *session.Session) {
	if ck, err := r.Cookie(p.Cookies.Session()); err == nil && ck.Value != token {
		_ = p.Sessions.Replace(r.Context(), ck.Value, s)
	}
	p.Cookies.set(w, p.Cookies.Session(), token, s.ExpiresAt)
}

// loginLink is the sign-in page, with the request's return_to (the app
// the customer came from) kept.
func loginLink(r *http.Request) string {
	if to := safeReturnTo(r.FormValue("return_to")); to != "" {
		return "/login?" + url.Values{"return_to": {to}}.Encode()
	}
	return "/login"
}

// safeReturnTo keeps only local paths, so return_to cannot redirect
// customers to another site.
func safeReturnTo(raw string) string {
	if raw == "" || len(raw) > 1024 {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil || u.IsAbs() || u.Host != "" || u.User != nil || !strings.HasPrefix(u.Path, "/") ||
		strings.HasPrefix(raw, "//") || strings.HasPrefix(raw, "/\\") || strings.ContainsAny(raw, "\\\r\n\t") {
		return ""
	}
	return u.RequestURI()
}

// seeOther answers a form POST.
func seeOther(w http.ResponseWriter, r *http.Request, to string) {
	http.Redirect(w, r, to, http.StatusSeeOther)
}

// countdown writes a wait of secs seconds as the page's timer shows it
// (m:ss), before its script takes over.
func countdown(secs int) string {
	return fmt.Sprintf("%d:%02d", secs/60, secs%60)
}

// methodName is the message id of a sign-in method (session.Methods) in
// words.
func methodName(m string) string {
	switch m {
	case "password", "email_code", "totp", "recovery_code", "passkey", "sms_code", "provider", "provider_mfa":
		return "method." + m
	}
	return "method.other"
}

// focus reports whether the form's field should take the focus: the
// first field with an error, or, when none has one, the first field
// (first is that field's name).
func focus(msgs []flow.Message, field, first string) bool {
	for _, m := range msgs {
		if m.ID == "credentials_invalid" {
			// The address is kept; the password is what to type again.
			return field == "password"
		}
		if m.Type == "error" && m.Field != "" {
			return m.Field == field
		}
	}
	return field == first
}

func fieldError(msgs []flow.Message, field string) string {
	for _, m := range msgs {
		if m.Field == field && m.Type == "error" {
			return m.Text
		}
	}
	return ""
}

func formMessages(msgs []flow.Message) []flow.Message {
	var out []flow.Message
	for _, m := range msgs {
		if m.Field == "" {
			out = append(out, m)
		}
	}
	return out
}

// loadFlow loads the flow named in ?flow= for this browser. A missing,
// foreign or expired flow gives a fresh page with a note, the id of a
// message for notice (it is not an error the customer can act on
// otherwise).
func (p *Pages) loadFlow(w http.ResponseWriter, r *http.Request, typ string) (*flow.Flow, string, error) {
	id := r.URL.Query().Get("flow")
	if id == "" {
		return nil, "", nil
	}
	f, err := p.Flows.Load(r.Context(), id, typ, p.client(w, r))
	switch {
	case err == nil:
		return f, "", nil
	case errors.Is(err, flow.ErrExpired):
		return nil, "flow_restart", nil
	case errors.Is(err, flow.ErrNotFound), errors.Is(err, flow.ErrBinding):
		return nil, "flow_link_invalid", nil
	}
	return nil, "", err
}

// notice is the message of loadFlow's note (a message id), if any.
func notice(note string) []flow.Message {
	if note == "" {
		return nil
	}
	return []flow.Message{flow.ErrorMessage("", note)}
}

// submitFailed stores the feedback of a rejected submit in the flow and
// sends the browser back to the flow's page (303).
func (p *Pages) submitFailed(w http.ResponseWriter, r *http.Request, f *flow.Flow, path string, err error, values map[string]string) {
	if errors.Is(err, flow.ErrWrongState) {
		// A form sent again after its step was done (back and resubmit,
		// or a code after the attempts ran out): the flow's page shows
		// where it stands now.
		seeOther(w, r, flowURL(path, f))
		return
	}
	var inv *flow.InvalidError
	var challenged *flow.ChallengeError
	var throttled *flow.ThrottledError
	f.Data.WaitUntil = time.Time{}
	switch {
	case errors.As(err, &throttled) && path == "/login" && f.State == flow.StateForm:
		// The sign-in form stays, with what was typed, answered at once
		// as 429 with Retry-After; the page counts down the wait and
		// lets the form go when it is over.
		secs := int(throttled.RetryAfter.Seconds()) + 1
		f.Data.Messages = []flow.Message{flow.ErrorMessage("", "too_many_attempts", "count", secs)}
		f.Data.WaitUntil = p.Flows.Now().Add(time.Duration(secs) * time.Second)
		f.Data.Challenge, f.Data.Values = nil, values
		if uerr := p.Flows.Flows.Update(r.Context(), f, p.Flows.Now()); uerr != nil {
			p.fail(w, r, uerr)
			return
		}
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		p.renderFlowStatus(w, r, f, path, "login.title", http.StatusTooManyRequests)
		return
	case errors.As(err, &challenged):
		// The flow's page carries the challenge, which the browser
		// solves; the customer sends the form again.
		f.Data.Messages = []flow.Message{challengeMessage()}
		f.Data.Challenge = &challenged.Challenge
	case errors.As(err, &inv):
		f.Data.Messages = inv.Messages
		f.Data.Challenge = nil
	default:
		p.fail(w, r, err)
		return
	}
	f.Data.Values = values
	if uerr := p.Flows.Flows.Update(r.Context(), f, p.Flows.Now()); uerr != nil {
		p.fail(w, r, uerr)
		return
	}
	seeOther(w, r, path+"?flow="+url.QueryEscape(f.ID))
}

func flowURL(path string, f *flow.Flow) string { return path + "?flow=" + url.QueryEscape(f.ID) }

func traitsOf(id *identity.Identity) map[string]any {
	m := map[string]any{}
	_ = json.Unmarshal(id.Traits, &m)
	return m
}

func isInvalid(err error) bool {
	var inv *flow.InvalidError
	return errors.As(err, &inv)
}
