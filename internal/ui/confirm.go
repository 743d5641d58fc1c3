package ui

import (
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/foyer-id/foyer/internal/flow"
	"github.com/foyer-id/foyer/internal/identity"
	"github.com/foyer-id/foyer/internal/session"
)

// Removing something from an account — a passkey, the authenticator app,
// an app's access, another device's session — asks first. The page that
// asks is the GET of the removal's own path, as /logout and /revert are:
// it says what will happen, with the button that does it (a form, CSRF
// token and all) and a way back, and needs no JavaScript. After the
// removal the account page says what happened.

// A confirmation is what a removal's page says and sends.
type confirmation struct {
	// Title, Text and Button are message ids; Name fills their {name}.
	Title, Text, Button, Name string
	// Action is where the form posts, with Fields as hidden inputs.
	Action string
	Fields map[string]string
	// Cancel is where "Cancel" leads: the page the customer came from.
	Cancel string
}

// mountConfirmations registers the removals' confirmation pages, and the
// removal of an app's access that says afterwards which app it was.
func (p *Pages) mountConfirmations(mux *http.ServeMux) {
	if p.Passkeys != nil {
		mux.HandleFunc("GET /account/passkeys/delete", p.passkeyDeletePage)
	}
	mux.HandleFunc("GET "+twoFactorPath+"/remove", p.twoFactorRemovePage)
	mux.HandleFunc("GET /account/sessions/revoke", p.sessionRevokePage)
	if p.OAuth != nil {
		mux.HandleFunc("GET /account/consents/remove", p.consentRemovePage)
		mux.Handle("POST /account/consents/remove", p.form(p.consentRemove))
	}
}

// confirm shows c's page.
func (p *Pages) confirm(w http.ResponseWriter, r *http.Request, s *session.Session, ident *identity.Identity, c confirmation) {
	p.render(w, r, http.StatusOK, "confirm", view{Title: c.Title, TitleArgs: []any{"name", c.Name}, SignedIn: true,
		Identity: ident, Session: s, Extra: map[string]any{"Confirm": c}})
}

// doneParam carries what the account page says after a removal that
// names what went ("The passkey "Work laptop" is removed."). It is sealed
// for the customer: a link someone else made cannot make the page claim
// a removal that never happened, nor put their words on it.
const doneParam = "done"

// doneNotes are the messages doneParam may carry; each names what went
// in {name}.
var doneNotes = map[string]bool{"passkey_removed": true, "consent_removed": true, "provider_linked": true, "provider_unlinked": true}

// doneNote is sealed in doneParam.
type doneNote struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// doneURL is the account page (at fragment, "" for its top) saying
// message id of a removal, naming what went. Without a sealer it says
// nothing.
func (p *Pages) doneURL(identityID, id, name, fragment string) string {
	to := "/account"
	if p.Sealer != nil && doneNotes[id] {
		b, _ := json.Marshal(doneNote{ID: id, Name: name}) // strings only: cannot fail
		to += "?" + url.Values{doneParam: {p.Sealer.Seal(doneOwner(identityID), b)}}.Encode()
	}
	if fragment != "" {
		to += "#" + fragment
	}
	return to
}

// done returns the message doneParam carries for identityID, if any.
func (p *Pages) done(r *http.Request, identityID string) (flow.Message, bool) {
	sealed := r.URL.Query().Get(doneParam)
	if sealed == "" || p.Sealer == nil {
		return flow.Message{}, false
	}
	b, err := p.Sealer.Open(doneOwner(identityID), sealed)
	var n doneNote
	if err != nil || json.Unmarshal(b, &n) != nil || !doneNotes[n.ID] {
		return flow.Message{}, false
	}
	return flow.InfoMessage(n.ID, "name", n.Name), true
}

// doneOwner binds a sealed note to its customer, apart from the other
// values the page sealer seals for them (the recovery codes' cookie).
func doneOwner(identityID string) string { return "done " + identityID }
