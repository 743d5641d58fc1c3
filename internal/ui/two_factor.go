package ui

import (
	"encoding/base64"
	"errors"
	"html/template"
	"net/http"
	"net/url"

	"github.com/foyer-id/foyer/internal/flow"
	"github.com/foyer-id/foyer/internal/identity"
	"github.com/foyer-id/foyer/internal/session"
)

const twoFactorPath = "/account/two-factor"

// freshness checks that the session may change how the customer signs
// in (flow.MethodsChangeNeeds). It returns where to send the browser when
// it may not yet ("" when it may): to sign in or step up, then back to
// the page back.
func (p *Pages) freshness(w http.ResponseWriter, r *http.Request, back string) (*session.Session, *identity.Identity, string, error) {
	s, err := p.currentSessionErr(r)
	if err != nil {
		return nil, nil, "", err
	}
	if s == nil {
		return nil, nil, "/login?" + url.Values{"return_to": {back}}.Encode(), nil
	}
	switch need, err := p.Flows.MethodsChangeNeeds(r.Context(), p.client(w, r), s); {
	case err != nil:
		return nil, nil, "", err
	case need == flow.ReauthStepUp:
		return nil, nil, "/stepup?" + url.Values{"return_to": {back}, "fresh": {"1"}}.Encode(), nil
	case need == flow.ReauthSignIn:
		return nil, nil, "/login?" + url.Values{"return_to": {back}}.Encode(), nil
	}
	ident, err := p.Identities.Get(r.Context(), p.Domain, s.IdentityID)
	if err != nil {
		return nil, nil, "", err
	}
	return s, ident, "", nil
}

// requireFresh is freshness for forms: it redirects the browser to sign in
// or step up, and reports whether the caller may go on.
func (p *Pages) requireFresh(w http.ResponseWriter, r *http.Request, back string) (*session.Session, *identity.Identity, bool) {
	s, ident, to, err := p.freshness(w, r, back)
	switch {
	case err != nil:
		p.fail(w, r, err)
		return nil, nil, false
	case to != "":
		http.Redirect(w, r, to, http.StatusSeeOther)
		return nil, nil, false
	}
	return s, ident, true
}

// GET /account/two-factor: set up, confirm or manage the authenticator app
// and recovery codes.
func (p *Pages) twoFactorPage(w http.ResponseWriter, r *http.Request) {
	s, ok := p.currentSession(w, r)
	if !ok {
		return
	}
	if s == nil {
		http.Redirect(w, r, "/login?"+url.Values{"return_to": {twoFactorPath}}.Encode(), http.StatusSeeOther)
		return
	}
	ident, err := p.Identities.Get(r.Context(), p.Domain, s.IdentityID)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	v := view{Title: "two_factor.title", SignedIn: true, Identity: ident, Session: s, Action: twoFactorPath, Messages: refusal(r),
		Extra: map[string]any{"Offered": p.Flows.Config.TOTPSetup}}
	state, err := p.Flows.TOTPState(r.Context(), s.IdentityID)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if state.SecondFactor {
		v.Extra["SecondFactor"], v.Extra["Remaining"] = true, state.RecoveryCodesRemaining
	}
	switch {
	case state.Enrolled:
		v.Extra["Enrolled"] = true
	default:
		e, err := p.Flows.PendingTOTP(r.Context(), ident)
		if err == nil {
			v.Extra["Pending"] = true
			v.Extra["Secret"], v.Extra["SecretGroups"] = e.Secret, keyGroups(e.Secret)
			v.Extra["QR"] = template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(e.QRPNG))
			// The same key URI as the QR code, for an app on this device:
			// a phone cannot scan its own screen.
			v.Extra["KeyURI"] = template.URL(e.URL)
		} else if !errors.Is(err, flow.ErrTOTPNotPending) && !errors.Is(err, flow.ErrTOTPEnrolled) {
			p.fail(w, r, err)
			return
		}
	}
	if r.URL.Query().Get("error") != "" {
		v.Messages = []flow.Message{flow.ErrorMessage("code", "totp_setup_code_invalid")} // flow.ConfirmTOTP's
	}
	p.render(w, r, http.StatusOK, "two_factor", v)
}

// POST /account/two-factor/setup: start setting up an authenticator app
// (flow.BeginTOTP); the page then shows the QR code and key.
func (p *Pages) twoFactorSetup(w http.ResponseWriter, r *http.Request) {
	if !p.Flows.Config.TOTPSetup {
		p.totpOff(w, r)
		return
	}
	_, ident, ok := p.requireFresh(w, r, twoFactorPath)
	if !ok {
		return
	}
	_, err := p.Flows.BeginTOTP(r.Context(), ident)
	switch {
	case errors.Is(err, flow.ErrTOTPOff):
		p.totpOff(w, r)
		return
	case err != nil && !errors.Is(err, flow.ErrTOTPEnrolled):
		p.fail(w, r, err)
		return
	}
	seeOther(w, r, twoFactorPath)
}

// totpOff answers a set-up where the domain offers no authenticator apps.
func (p *Pages) totpOff(w http.ResponseWriter, r *http.Request) {
	p.errorPage(w, r, http.StatusForbidden, "two_factor.not_available_title", "totp_not_offered")
}

// POST /account/two-factor/confirm: the first code turns the app on; the
// recovery codes are shown once, in this answer, and stored only hashed
// (flow.ConfirmTOTP).
func (p *Pages) twoFactorConfirm(w http.ResponseWriter, r *http.Request) {
	_, ident, ok := p.requireFresh(w, r, twoFactorPath)
	if !ok {
		return
	}
	codes, err := p.Flows.ConfirmTOTP(r.Context(), p.client(w, r), ident, r.PostForm.Get("code"))
	var inv *flow.InvalidError
	switch {
	case errors.As(err, &inv), errors.Is(err, flow.ErrTOTPNotPending):
		seeOther(w, r, twoFactorPath+"?error=code")
		return
	case errors.Is(err, flow.ErrTOTPEnrolled):
		seeOther(w, r, twoFactorPath) // confirmed already (a second submit)
		return
	case err != nil:
		p.fail(w, r, err)
		return
	}
	p.showRecoveryCodes(w, r, ident, codes, flow.InfoMessage("two_factor_turned_on"))
}

// keyGroups splits an authenticator key into blocks of four characters,
// as the set-up page shows it to be typed by hand; copying it gives the
// key whole.
func keyGroups(key string) []string {
	var out []string
	for len(key) > 4 {
		out = append(out, key[:4])
		key = key[4:]
	}
	return append(out, key)
}

// POST /account/two-factor/recovery-codes: a new set; the old one stops
// working (flow.RegenerateRecoveryCodes).
func (p *Pages) twoFactorRecoveryCodes(w http.ResponseWriter, r *http.Request) {
	_, ident, ok := p.requireFresh(w, r, twoFactorPath)
	if !ok {
		return
	}
	codes, err := p.Flows.RegenerateRecoveryCodes(r.Context(), p.client(w, r), ident)
	switch {
	case errors.Is(err, flow.ErrTOTPNotEnrolled):
		seeOther(w, r, twoFactorPath)
		return
	case err != nil:
		p.refused(w, r, twoFactorPath, err)
		return
	}
	p.showRecoveryCodes(w, r, ident, codes)
}

// showRecoveryCodes answers the request that made them with the codes —
// the only time they exist in clear — and msgs (what else happened). The
// page is not cached; it offers the codes to copy, download and print
// (recovery_codes.go).
func (p *Pages) showRecoveryCodes(w http.ResponseWriter, r *http.Request, ident *identity.Identity, codes []string, msgs ...flow.Message) {
	p.render(w, r, http.StatusOK, "recovery_codes", view{Title: "recovery_codes.title", SignedIn: true, Identity: ident, Messages: msgs,
		Extra: map[string]any{"Codes": codes, "Made": p.Flows.Now()}})
}

// GET /account/two-factor/remove: asks before the authenticator app is
// turned off (see confirm.go), once the sign-in is fresh enough for it.
func (p *Pages) twoFactorRemovePage(w http.ResponseWriter, r *http.Request) {
	s, ident, ok := p.requireFresh(w, r, twoFactorPath+"/remove")
	if !ok {
		return
	}
	state, err := p.Flows.TOTPState(r.Context(), ident.ID)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if !state.Enrolled { // nothing to turn off
		seeOther(w, r, twoFactorPath)
		return
	}
	p.confirm(w, r, s, ident, confirmation{Title: "confirm.two_factor_title", Text: "confirm.two_factor_text", Button: "confirm.two_factor_button",
		Action: twoFactorPath + "/remove", Cancel: twoFactorPath})
}

// POST /account/two-factor/remove: turn the authenticator app off, after
// a fresh step-up; the customer is told by mail, and the account page
// says so. It is refused while the app is the account's only second
// factor (flow.RemoveTOTP). A set-up not yet confirmed is dropped, back
// on the two-factor page.
func (p *Pages) twoFactorRemove(w http.ResponseWriter, r *http.Request) {
	_, ident, ok := p.requireFresh(w, r, twoFactorPath+"/remove")
	if !ok {
		return
	}
	state, err := p.Flows.TOTPState(r.Context(), ident.ID)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if err := p.Flows.RemoveTOTP(r.Context(), p.client(w, r), ident); err != nil {
		p.refused(w, r, twoFactorPath, err)
		return
	}
	if !state.Enrolled {
		seeOther(w, r, twoFactorPath)
		return
	}
	seeOther(w, r, "/account?changed=authenticator_app_off")
}
