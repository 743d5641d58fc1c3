package ui

import (
	"net/http"
	"net/url"

	"github.com/foyer-id/foyer/internal/flow"
	foidc "github.com/foyer-id/foyer/internal/oidc"
)

// GET /: the account page when signed in, else sign-in.
func (p *Pages) home(w http.ResponseWriter, r *http.Request) {
	s, ok := p.currentSession(w, r)
	if !ok {
		return
	}
	if s != nil {
		http.Redirect(w, r, "/account", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// GET /account: who is signed in.
func (p *Pages) accountPage(w http.ResponseWriter, r *http.Request) {
	s, ok := p.currentSession(w, r)
	if !ok {
		return
	}
	if s == nil {
		http.Redirect(w, r, "/login?return_to="+url.QueryEscape("/account"), http.StatusSeeOther)
		return
	}
	ident, err := p.Identities.Get(r.Context(), p.Domain, s.IdentityID)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	v := view{Title: "account.title", SignedIn: true, Identity: ident, Session: s, Messages: refusal(r), Extra: map[string]any{}}
	if m, ok := changedNotes[r.URL.Query().Get("changed")]; ok {
		v.Messages = append(v.Messages, m)
	}
	if m, ok := p.done(r, s.IdentityID); ok {
		v.Messages = append(v.Messages, m)
	}
	factors, err := p.Flows.TOTPState(r.Context(), s.IdentityID)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	v.Extra["TwoFactor"] = twoFactorState(factors)
	devices, err := p.Flows.SignedIn(r.Context(), s)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	v.Extra["Devices"] = devices
	activity, err := p.Flows.SecurityActivity(r.Context(), s.IdentityID)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	v.Extra["Activity"] = activity
	if v.Extra["Providers"], err = p.providerRows(r, s.IdentityID); err != nil {
		p.fail(w, r, err)
		return
	}
	v.Extra["Restricted"] = ident.Restricted(p.Flows.Now())
	v.Extra["Phones"] = p.Flows.PhonesOn()
	if p.OAuth != nil {
		consents, err := p.OAuth.Consents.List(r.Context(), s.IdentityID)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		v.Extra["Consents"] = consentRows(consents)
	}
	if codes := p.carriedCodes(w, r, s.IdentityID); codes != nil {
		v.Extra["Codes"], v.Extra["Made"] = codes, p.Flows.Now()
	}
	if p.Passkeys != nil {
		keys, err := p.Passkeys.List(r.Context(), s.IdentityID)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		v.Extra["Passkeys"], v.Extra["PasskeysOn"] = keys, true
	}
	p.render(w, r, http.StatusOK, "account", v)
}

// changedNotes are what the account page says after a change (?changed=).
var changedNotes = map[string]flow.Message{
	"password":              {ID: "password_changed", Type: "info", Text: "Your password is changed. Every other device was signed out."},
	"profile":               {ID: "profile_changed", Type: "info", Text: "Your profile is saved."},
	"devices":               {ID: "devices_signed_out", Type: "info", Text: "Signed out."},
	"authenticator_app_off": {ID: "authenticator_app_off", Type: "info", Text: "Your authenticator app is turned off: signing in no longer asks for its codes."},
}

// twoFactorState is the account page's two-factor row: what confirms it
// is the customer besides the password, as a message id.
func twoFactorState(s flow.TOTPState) string {
	switch {
	case s.Enrolled:
		return "account.two_factor_on_app"
	case s.SecondFactor:
		return "account.two_factor_on_passkey"
	}
	return "account.two_factor_off"
}

// A consentRow is an app the customer allowed, with what it may do in
// the consent page's words.
type consentRow struct {
	foidc.Consent
	Access []scopeText
}

func consentRows(consents []foidc.Consent) []consentRow {
	out := make([]consentRow, len(consents))
	for i, c := range consents {
		out[i] = consentRow{Consent: c, Access: scopeTexts(c.Scopes)}
	}
	return out
}

// GET /account/consents/remove?client_id=: asks before an app loses its
// access (see confirm.go).
func (p *Pages) consentRemovePage(w http.ResponseWriter, r *http.Request) {
	s, ident, ok := p.signedIn(w, r, r.URL.RequestURI())
	if !ok {
		return
	}
	c, err := p.consentOf(r, s.IdentityID, r.URL.Query().Get("client_id"))
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if c == nil { // removed already
		seeOther(w, r, "/account#apps")
		return
	}
	p.confirm(w, r, s, ident, confirmation{Title: "confirm.consent_title", Text: "confirm.consent_text", Button: "confirm.consent_button",
		Name: c.ClientName, Action: "/account/consents/remove", Fields: map[string]string{"client_id": c.ClientID}, Cancel: "/account#apps"})
}

// POST /account/consents/remove: withdraw the app's access and revoke its
// tokens, as POST /account/consents does; the account page then names the
// app.
func (p *Pages) consentRemove(w http.ResponseWriter, r *http.Request) {
	s, _, ok := p.signedIn(w, r, "/account")
	if !ok {
		return
	}
	c, err := p.consentOf(r, s.IdentityID, r.PostForm.Get("client_id"))
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if c == nil {
		seeOther(w, r, "/account#apps")
		return
	}
	if err := p.OAuth.RevokeConsent(r.Context(), s.IdentityID, c.ClientID); err != nil {
		p.fail(w, r, err)
		return
	}
	seeOther(w, r, p.doneURL(s.IdentityID, "consent_removed", c.ClientName, "apps"))
}

// consentOf returns what identityID allowed the app clientID; nil for
// nothing.
func (p *Pages) consentOf(r *http.Request, identityID, clientID string) (*foidc.Consent, error) {
	consents, err := p.OAuth.Consents.List(r.Context(), identityID)
	if err != nil {
		return nil, err
	}
	for i := range consents {
		if consents[i].ClientID == clientID {
			return &consents[i], nil
		}
	}
	return nil, nil
}

// GET /account/sessions/revoke?session_id=: asks before another device
// is signed out — or, without session_id, every other one (see
// confirm.go); the form posts to sessionsRevoke.
func (p *Pages) sessionRevokePage(w http.ResponseWriter, r *http.Request) {
	s, ident, ok := p.signedIn(w, r, r.URL.RequestURI())
	if !ok {
		return
	}
	devices, err := p.Flows.SignedIn(r.Context(), s)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	id := r.URL.Query().Get("session_id")
	for _, d := range devices {
		if id == "" && !d.Current {
			p.confirm(w, r, s, ident, confirmation{Title: "confirm.others_title", Text: "confirm.others_text", Button: "confirm.others_button",
				Action: "/account/sessions/revoke", Cancel: "/account#devices"})
			return
		}
		if d.SessionID == id && !d.Current {
			p.confirm(w, r, s, ident, confirmation{Title: "confirm.device_title", Text: "confirm.device_text", Button: "confirm.device_button",
				Name: d.Browser, Action: "/account/sessions/revoke", Fields: map[string]string{"session_id": d.SessionID}, Cancel: "/account#devices"})
			return
		}
	}
	// Signed out already, this device (signing it out is /logout), or no
	// other device to sign out.
	seeOther(w, r, "/account#devices")
}

// GET /logout: a confirmation page (signing out changes state, so it
// needs a POST). An app's logout (end_session) comes with its hand-over,
// which the form carries along.
func (p *Pages) logoutPage(w http.ResponseWriter, r *http.Request) {
	s, ok := p.currentSession(w, r)
	if !ok {
		return
	}
	v := view{Title: "logout.title", SignedIn: s != nil}
	if l, ok := p.appLogout(r.URL.Query()); ok {
		if !v.SignedIn && l.RedirectURI != "" {
			// Nothing to end here: go straight back to the app.
			http.Redirect(w, r, l.RedirectURI, http.StatusSeeOther)
			return
		}
		v.Extra = map[string]any{"Logout": p.OAuth.Storage.LogoutFields(l)}
		if l.ClientID != "" {
			// Name the app that asked, and offer to stay signed in.
			if c, err := p.OAuth.Storage.Clients.Get(r.Context(), l.ClientID); err == nil {
				v.Extra["App"], v.Extra["AppURI"] = c.Name, c.ClientURI
			}
		}
	}
	p.render(w, r, http.StatusOK, "logout", v)
}

// appLogout returns the app's logout handed over by the provider's
// end_session endpoint, if it carries a valid MAC.
func (p *Pages) appLogout(q url.Values) (foidc.Logout, bool) {
	if p.OAuth == nil {
		return foidc.Logout{}, false
	}
	return p.OAuth.Storage.LogoutFrom(q)
}

// POST /logout: revoke the session server-side and clear the cookie; for
// an app's logout, confirmed here, end the app's tokens of the customer
// signed in.
func (p *Pages) logoutSubmit(w http.ResponseWriter, r *http.Request) {
	sess, ok := p.currentSession(w, r)
	if !ok {
		return
	}
	if ck, err := r.Cookie(p.Cookies.Session()); err == nil {
		if err := p.Flows.Logout(r.Context(), ck.Value, p.client(w, r)); err != nil {
			p.fail(w, r, err)
			return
		}
	}
	p.Cookies.clear(w, p.Cookies.Session())
	if l, ok := p.appLogout(r.PostForm); ok {
		if sess != nil {
			if err := p.OAuth.Storage.EndLogout(r.Context(), l, sess.IdentityID); err != nil {
				p.fail(w, r, err)
				return
			}
		}
		if l.RedirectURI != "" {
			seeOther(w, r, l.RedirectURI)
			return
		}
	}
	seeOther(w, r, "/login?signed_out=1")
}
