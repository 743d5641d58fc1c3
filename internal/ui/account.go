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
	v := view{Title: "Your account", SignedIn: true, Identity: ident, Session: s, Messages: refusal(r), Extra: map[string]any{}}
	if p.OAuth != nil {
		consents, err := p.OAuth.Consents.List(r.Context(), s.IdentityID)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		v.Extra["Consents"] = consents
	}
	if codes := p.carriedCodes(w, r, s.IdentityID); codes != nil {
		v.Extra["Codes"] = codes
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

// GET /logout: a confirmation page (signing out changes state, so it
// needs a POST).
func (p *Pages) logoutPage(w http.ResponseWriter, r *http.Request) {
	v := view{Title: "Sign out", SignedIn: p.currentSession(r) != nil}
	if to, ok := p.postLogout(r.URL.Query()); ok {
		if !v.SignedIn {
			// Nothing to end here: go straight back to the app.
			http.Redirect(w, r, to, http.StatusSeeOther)
			return
		}
		v.Extra = map[string]any{"Continue": r.URL.Query().Get("post_logout_redirect_uri"), "Sig": r.URL.Query().Get("sig")}
	}
	p.render(w, r, http.StatusOK, "logout", v)
}

// postLogout returns the app's post-logout redirect handed over by the
// provider's end_session endpoint, if it carries a valid MAC.
func (p *Pages) postLogout(q url.Values) (string, bool) {
	if p.OAuth == nil {
		return "", false
	}
	return p.OAuth.Storage.LogoutRedirect(q.Get("post_logout_redirect_uri"), q.Get("sig"))
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
	if to, ok := p.postLogout(r.PostForm); ok {
		seeOther(w, r, to)
		return
	}
	seeOther(w, r, "/login")
}
