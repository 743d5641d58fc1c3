package ui

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/foyer-id/foyer/internal/credential/passkey"
	"github.com/foyer-id/foyer/internal/flow"
	"github.com/foyer-id/foyer/internal/i18n"
	"github.com/foyer-id/foyer/internal/identity"
	"github.com/foyer-id/foyer/internal/problem"
	"github.com/foyer-id/foyer/internal/session"
	"github.com/foyer-id/foyer/internal/store"
)

// Passkeys need the browser's WebAuthn API, so these endpoints are called
// by /assets/passkey.js from the hosted pages: JSON in and out, the CSRF
// token in an X-CSRF-Token header, the session in the cookie, and the
// page's language as Accept-Language, in which the answers' problems
// (which the script shows) are worded.

// jsonForm checks the CSRF header and decodes a JSON body.
func (p *Pages) jsonForm(w http.ResponseWriter, r *http.Request, dst any) bool {
	ck, err := r.Cookie(p.Cookies.CSRF())
	if err != nil || !validToken(r.Header.Get("X-CSRF-Token"), ck.Value) {
		p.sendProblem(w, r, http.StatusForbidden, "csrf", "passkey_problem.csrf_title", "passkey_problem.reload")
		return false
	}
	return problem.DecodeJSON(w, r, dst, 64<<10)
}

// jsonLocalizer is the language of a JSON answer to a page's script, as
// its Content-Language says.
func (p *Pages) jsonLocalizer(w http.ResponseWriter, r *http.Request) *i18n.Localizer {
	loc := p.localizer(w, r, "")
	w.Header().Set("Content-Language", loc.Lang())
	return loc
}

// sendProblem answers a problem of kind whose title and detail are
// message ids.
func (p *Pages) sendProblem(w http.ResponseWriter, r *http.Request, status int, kind, title, detail string) {
	loc := p.jsonLocalizer(w, r)
	problem.Send(w, status, kind, loc.T(title), loc.T(detail))
}

type passkeyOptions struct {
	Options     json.RawMessage `json:"options"`
	ChallengeID string          `json:"challenge_id"`
}

// passkeyCreated is what the script posts after the browser made a
// passkey: the ceremony's challenge, a name, and the credential.
type passkeyCreated struct {
	ChallengeID string          `json:"challenge_id"`
	Name        string          `json:"name"`
	Credential  json.RawMessage `json:"credential"`
}

// POST /passkeys/login/options: a challenge for signing in with any
// passkey of this site (discoverable credentials, no username).
func (p *Pages) passkeyLoginOptions(w http.ResponseWriter, r *http.Request) {
	var body struct{}
	if !p.jsonForm(w, r, &body) {
		return
	}
	if err := p.Flows.AllowPasskeyChallenge(r.Context(), p.client(w, r)); err != nil {
		p.jsonFail(w, r, err)
		return
	}
	opts, id, err := p.Passkeys.BeginLogin(r.Context())
	if err != nil {
		p.jsonFail(w, r, err)
		return
	}
	writeJSON(w, passkeyOptions{Options: opts, ChallengeID: id})
}

// POST /passkeys/login: check the assertion and sign in.
func (p *Pages) passkeyLogin(w http.ResponseWriter, r *http.Request) {
	var body struct {
		ChallengeID string          `json:"challenge_id"`
		Credential  json.RawMessage `json:"credential"`
		ReturnTo    string          `json:"return_to"`
		// Flow is the sign-in that proves an account for a provider's
		// link (see flow.Upstream), if any.
		Flow string `json:"flow"`
	}
	if !p.jsonForm(w, r, &body) {
		return
	}
	var linking *flow.Flow
	if body.Flow != "" {
		f, err := p.Flows.Load(r.Context(), body.Flow, flow.TypeLogin, p.client(w, r))
		if err != nil {
			p.jsonFail(w, r, err)
			return
		}
		linking = f
	}
	res, err := p.Flows.SignInWithPasskey(r.Context(), p.client(w, r), body.ChallengeID, body.Credential, safeReturnTo(body.ReturnTo), linking)
	if err != nil {
		p.jsonFail(w, r, err)
		return
	}
	if res.Token == "" { // the link to confirm
		writeJSON(w, map[string]string{"redirect": flowURL("/login", res.Flow)})
		return
	}
	p.startSession(w, r, res.Token, res.Session)
	to := res.Flow.ReturnTo
	if to == "" {
		to = "/account"
	}
	writeJSON(w, map[string]string{"redirect": to})
}

// POST /registration/passkey/options?flow=: a challenge to create the
// passkey of a passwordless sign-up whose email is verified.
func (p *Pages) passkeySignUpOptions(w http.ResponseWriter, r *http.Request) {
	var body struct{}
	if !p.jsonForm(w, r, &body) {
		return
	}
	f, ok := p.jsonFlow(w, r, flow.TypeRegistration)
	if !ok {
		return
	}
	opts, id, err := p.Flows.BeginPasskeySignUp(r.Context(), f, p.client(w, r))
	if err != nil {
		p.jsonFail(w, r, err)
		return
	}
	writeJSON(w, passkeyOptions{Options: opts, ChallengeID: id})
}

// POST /registration/passkey?flow=: store the passkey, finish the
// sign-up and sign in.
func (p *Pages) passkeySignUp(w http.ResponseWriter, r *http.Request) {
	var body passkeyCreated
	if !p.jsonForm(w, r, &body) {
		return
	}
	f, ok := p.jsonFlow(w, r, flow.TypeRegistration)
	if !ok {
		return
	}
	name := strings.TrimSpace(body.Name)
	if name == "" {
		name = p.passkeyName(w, r, body.Credential)
	}
	res, err := p.Flows.FinishPasskeySignUp(r.Context(), f, p.client(w, r), body.ChallengeID, name, body.Credential)
	if err != nil {
		p.jsonFail(w, r, err)
		return
	}
	to := flowURL("/registration", res.Flow)
	if res.Token != "" {
		p.startSession(w, r, res.Token, res.Session)
		p.carryCodes(w, res.Session.IdentityID, res.RecoveryCodes)
		if to = res.Flow.ReturnTo; to == "" {
			to = "/account"
		}
	}
	writeJSON(w, map[string]string{"redirect": to})
}

// jsonFlow loads the flow in ?flow= for the JSON endpoints.
func (p *Pages) jsonFlow(w http.ResponseWriter, r *http.Request, typ string) (*flow.Flow, bool) {
	f, note, err := p.loadFlow(w, r, typ)
	if err == nil && f == nil {
		err = flow.ErrNotFound
		if note != "" {
			err = flow.ErrExpired
		}
	}
	if err != nil {
		p.jsonFail(w, r, err)
		return nil, false
	}
	return f, true
}

// POST /account/passkeys/options: a challenge to add a passkey to the
// signed-in account (needs a recent sign-in).
func (p *Pages) passkeyAddOptions(w http.ResponseWriter, r *http.Request) {
	var body struct{}
	if !p.jsonForm(w, r, &body) {
		return
	}
	ident, ok := p.freshJSON(w, r)
	if !ok {
		return
	}
	email := ident.Email().Value
	opts, id, err := p.Passkeys.BeginRegistration(r.Context(), ident.ID, email, email)
	if err != nil {
		p.jsonFail(w, r, err)
		return
	}
	writeJSON(w, passkeyOptions{Options: opts, ChallengeID: id})
}

// POST /account/passkeys: store the new passkey.
func (p *Pages) passkeyAdd(w http.ResponseWriter, r *http.Request) {
	var body passkeyCreated
	if !p.jsonForm(w, r, &body) {
		return
	}
	ident, ok := p.freshJSON(w, r)
	if !ok {
		return
	}
	name := strings.TrimSpace(body.Name)
	if name == "" {
		name = p.passkeyName(w, r, body.Credential)
	}
	cred, err := p.Passkeys.FinishRegistration(r.Context(), body.ChallengeID, ident.ID, name, body.Credential)
	if err != nil {
		p.sendProblem(w, r, http.StatusBadRequest, "passkey-invalid", "passkey_problem.not_added_title", "passkey_problem.not_added")
		return
	}
	codes, err := p.Flows.PasskeyAdded(r.Context(), p.client(w, r), ident, cred.ID, cred.Name)
	if err != nil {
		p.jsonFail(w, r, err)
		return
	}
	p.carryCodes(w, ident.ID, codes)
	writeJSON(w, map[string]string{"id": cred.ID, "name": cred.Name})
}

// carryCodes hands new recovery codes to the account page, which the
// script goes to next and which shows them once: sealed for identityID in
// a cookie that lives five minutes and is cleared when read.
func (p *Pages) carryCodes(w http.ResponseWriter, identityID string, codes []string) {
	if len(codes) == 0 || p.Sealer == nil {
		return
	}
	p.Cookies.set(w, p.Cookies.Codes(), p.Sealer.Seal(identityID, []byte(strings.Join(codes, " "))), time.Now().Add(5*time.Minute))
}

// carriedCodes returns the recovery codes carried to this page for
// identityID, and clears the cookie.
func (p *Pages) carriedCodes(w http.ResponseWriter, r *http.Request, identityID string) []string {
	ck, err := r.Cookie(p.Cookies.Codes())
	if err != nil || p.Sealer == nil {
		return nil
	}
	p.Cookies.clear(w, p.Cookies.Codes())
	plain, err := p.Sealer.Open(identityID, ck.Value)
	if err != nil {
		return nil
	}
	return strings.Fields(string(plain))
}

// freshJSON is requireFresh for the JSON endpoints: instead of
// redirecting it answers 401 with the place to go.
func (p *Pages) freshJSON(w http.ResponseWriter, r *http.Request) (*identity.Identity, bool) {
	_, ident, to, err := p.freshness(w, r, twoFactorPath)
	switch {
	case err != nil:
		p.jsonFail(w, r, err)
		return nil, false
	case to != "":
		loc := p.jsonLocalizer(w, r)
		problem.Write(w, http.StatusUnauthorized, map[string]any{"type": problem.TypeBase + "reauthenticate", "title": loc.T("passkey_problem.reauthenticate_title"),
			"status": http.StatusUnauthorized, "detail": loc.T("passkey_problem.reauthenticate"), "location": to})
		return nil, false
	}
	return ident, true
}

// POST /account/passkeys/rename (a form).
func (p *Pages) passkeyRename(w http.ResponseWriter, r *http.Request) {
	s, ok := p.currentSession(w, r)
	if !ok {
		return
	}
	if s == nil {
		seeOther(w, r, "/login")
		return
	}
	if _, err := p.Passkeys.Rename(r.Context(), s.IdentityID, r.PostForm.Get("id"), r.PostForm.Get("name")); err != nil &&
		!errors.Is(err, store.ErrNotFound) && !errors.Is(err, passkey.ErrInvalidName) {
		p.fail(w, r, err)
		return
	}
	seeOther(w, r, "/account")
}

// GET /account/passkeys/delete?id=: asks before the passkey goes (see
// confirm.go), once the sign-in is fresh enough for it to go.
func (p *Pages) passkeyDeletePage(w http.ResponseWriter, r *http.Request) {
	s, ident, key, ok := p.passkeyToRemove(w, r, r.URL.Query().Get("id"))
	if !ok {
		return
	}
	p.confirm(w, r, s, ident, confirmation{Title: "confirm.passkey_title", Text: "confirm.passkey_text", Button: "confirm.passkey_button",
		Name: key.Name, Action: "/account/passkeys/delete", Fields: map[string]string{"id": key.ID}, Cancel: "/account#passkeys"})
}

// passkeyToRemove is the start of both steps of removing passkey id: a
// fresh enough sign-in, and the customer's passkey, which may be gone
// already (then the account page, and not ok).
func (p *Pages) passkeyToRemove(w http.ResponseWriter, r *http.Request, id string) (*session.Session, *identity.Identity, *passkey.Credential, bool) {
	s, ident, ok := p.requireFresh(w, r, "/account/passkeys/delete?"+url.Values{"id": {id}}.Encode())
	if !ok {
		return nil, nil, nil, false
	}
	key, err := p.passkeyOf(r, ident.ID, id)
	if err != nil {
		p.fail(w, r, err)
		return nil, nil, nil, false
	}
	if key == nil { // gone already
		seeOther(w, r, "/account#passkeys")
		return nil, nil, nil, false
	}
	return s, ident, key, true
}

// POST /account/passkeys/delete: remove the passkey; the account page
// then names it.
func (p *Pages) passkeyDelete(w http.ResponseWriter, r *http.Request) {
	id := r.PostForm.Get("id")
	_, ident, key, ok := p.passkeyToRemove(w, r, id)
	if !ok {
		return
	}
	err := p.Flows.RemovePasskey(r.Context(), p.client(w, r), ident, id)
	switch {
	case errors.Is(err, store.ErrNotFound): // gone meanwhile
		seeOther(w, r, "/account#passkeys")
	case err != nil:
		p.refused(w, r, "/account", err)
	default:
		seeOther(w, r, p.doneURL(ident.ID, "passkey_removed", key.Name, "passkeys"))
	}
}

// passkeyOf returns identityID's passkey id; nil when there is none such.
func (p *Pages) passkeyOf(r *http.Request, identityID, id string) (*passkey.Credential, error) {
	keys, err := p.Passkeys.List(r.Context(), identityID)
	if err != nil {
		return nil, err
	}
	for i := range keys {
		if keys[i].ID == id {
			return &keys[i], nil
		}
	}
	return nil, nil
}

// passkeyName names a passkey the customer left unnamed, in the page's
// language (flow.PasskeyName).
func (p *Pages) passkeyName(w http.ResponseWriter, r *http.Request, response []byte) string {
	return flow.PasskeyName(p.localizer(w, r, ""), r.UserAgent(), response)
}

// refused sends the browser back to the page at path, which shows why the
// change was refused; other errors fail as usual.
func (p *Pages) refused(w http.ResponseWriter, r *http.Request, path string, err error) {
	var ref *flow.RefusedError
	if !errors.As(err, &ref) {
		p.fail(w, r, err)
		return
	}
	seeOther(w, r, path+"?refused="+url.QueryEscape(ref.Message.ID))
}

// refusal is the message of a refusal named in ?refused=, if any.
func refusal(r *http.Request) []flow.Message {
	if m, ok := flow.Refusal(r.URL.Query().Get("refused")); ok {
		return []flow.Message{m}
	}
	return nil
}

// jsonFail maps journey errors for the JSON endpoints.
func (p *Pages) jsonFail(w http.ResponseWriter, r *http.Request, err error) {
	var throttled *flow.ThrottledError
	var denied *flow.DeniedError
	var inv *flow.InvalidError
	switch {
	case errors.As(err, &throttled):
		p.sendProblem(w, r, http.StatusTooManyRequests, "throttled", "passkey_problem.throttled_title", "passkey_problem.throttled")
	case errors.Is(err, flow.ErrPasskeyRefused):
		p.sendProblem(w, r, http.StatusBadRequest, "passkey-invalid", "passkey_problem.refused_title", "passkey_problem.refused")
	case errors.As(err, &inv):
		loc := p.jsonLocalizer(w, r)
		msgs := flow.Localize(loc, inv.Messages)
		problem.Write(w, http.StatusBadRequest, map[string]any{"type": problem.TypeBase + "invalid-input", "title": loc.T("passkey_problem.invalid_title"),
			"status": http.StatusBadRequest, "detail": msgs[0].Text, "errors": msgs})
	case errors.Is(err, flow.ErrWrongState), errors.Is(err, flow.ErrChanged), errors.Is(err, flow.ErrExpired), errors.Is(err, flow.ErrNotFound), errors.Is(err, flow.ErrBinding):
		p.sendProblem(w, r, http.StatusConflict, "flow-state", "passkey_problem.flow_state_title", "passkey_problem.reload")
	case errors.As(err, &denied):
		p.sendProblem(w, r, http.StatusForbidden, "denied", "passkey_problem.denied_title", "passkey_problem.denied")
	case errors.Is(r.Context().Err(), context.Canceled):
		p.Logger.DebugContext(r.Context(), "ui: client gone", "path", r.URL.Path, "error", err)
	case store.Unavailable(err):
		p.Logger.WarnContext(r.Context(), "ui: database unavailable", "path", r.URL.Path, "error", err)
		// problem.Unavailable, in the page's language.
		w.Header().Set("Retry-After", strconv.Itoa(problem.RetryAfter))
		p.sendProblem(w, r, http.StatusServiceUnavailable, "unavailable", "passkey_problem.unavailable_title", "passkey_problem.unavailable")
	default:
		p.Logger.ErrorContext(r.Context(), "ui: passkey request failed", "error", err)
		p.sendProblem(w, r, http.StatusInternalServerError, "internal", "passkey_problem.internal_title", "passkey_problem.internal")
	}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}
