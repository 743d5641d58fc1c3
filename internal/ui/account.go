package ui

import (
	"net/http"
	"net/url"
)

// GET /: the account page when signed in, else sign-in.
func (p *Pages) home(w http.ResponseWriter, r *http.Request) {
	if p.currentSession(r) != nil {
		http.Redirect(w, r, "/account", http.StatusSeeOther)
		return
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// GET /account: who is signed in.
func (p *Pages) accountPage(w http.ResponseWriter, r *http.Request) {
	s := p.currentSession(r)
	if s == nil {
		http.Redirect(w, r, "/login?return_to="+url.QueryEscape("/account"), http.StatusSeeOther)
		return
	}
	ident, err := p.Identities.Get(r.Context(), p.Domain, s.IdentityID)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	p.render(w, r, http.StatusOK, "account", view{Title: "Your account", SignedIn: true, Identity: ident, Session: s})
}

// GET /logout: a confirmation page (signing out changes state, so it
// needs a POST).
func (p *Pages) logoutPage(w http.ResponseWriter, r *http.Request) {
	p.render(w, r, http.StatusOK, "logout", view{Title: "Sign out", SignedIn: p.currentSession(r) != nil})
}

// POST /logout: revoke the session server-side and clear the cookie.
func (p *Pages) logoutSubmit(w http.ResponseWriter, r *http.Request) {
	if ck, err := r.Cookie(p.Cookies.Session()); err == nil {
		if err := p.Flows.Logout(r.Context(), ck.Value, p.client(w, r)); err != nil {
			p.fail(w, r, err)
			return
		}
	}
	p.Cookies.clear(w, p.Cookies.Session())
	seeOther(w, r, "/login")
}
