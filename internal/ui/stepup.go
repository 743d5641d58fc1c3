package ui

import (
	"net/http"
	"net/url"

	"github.com/foyer-id/foyer/internal/flow"
	"github.com/foyer-id/foyer/internal/session"
)

// GET /stepup?return_to=: ask a signed-in customer for their second
// factor, to raise the session to AAL2 before a sensitive step or for an
// app that requires it.
func (p *Pages) stepUpPage(w http.ResponseWriter, r *http.Request) {
	returnTo := safeReturnTo(r.URL.Query().Get("return_to"))
	s := p.currentSession(r)
	if s == nil {
		http.Redirect(w, r, "/login?"+url.Values{"return_to": {"/stepup?return_to=" + url.QueryEscape(returnTo)}}.Encode(), http.StatusSeeOther)
		return
	}
	if s.AAL == session.AAL2 && returnTo != "" && r.URL.Query().Get("fresh") == "" {
		http.Redirect(w, r, returnTo, http.StatusSeeOther)
		return
	}
	v := view{Title: "Confirm it's you", SignedIn: true, ReturnTo: returnTo, Action: "/stepup?" + url.Values{"return_to": {returnTo}}.Encode(),
		Extra: map[string]any{}}
	if p.Passkeys != nil {
		if n, err := p.Passkeys.Count(r.Context(), s.IdentityID); err == nil && n > 0 {
			v.Extra["Passkeys"] = true
		}
	}
	if msg := r.URL.Query().Get("error"); msg != "" {
		v.Messages = []flow.Message{{Field: "code", ID: "code_invalid", Type: "error", Text: "That code is not right. Codes from your app change every 30 seconds; each works once."}}
	}
	p.render(w, r, http.StatusOK, "second_factor", v)
}

// POST /stepup: check the code and rotate the session.
func (p *Pages) stepUpSubmit(w http.ResponseWriter, r *http.Request) {
	returnTo := safeReturnTo(r.URL.Query().Get("return_to"))
	ck, err := r.Cookie(p.Cookies.Session())
	if err != nil {
		seeOther(w, r, "/login")
		return
	}
	token, s, err := p.Flows.StepUp(r.Context(), p.client(w, r), ck.Value, r.PostForm.Get("kind"), r.PostForm.Get("code"))
	if err != nil {
		if isInvalid(err) {
			seeOther(w, r, "/stepup?"+url.Values{"return_to": {returnTo}, "error": {"code"}, "fresh": {r.URL.Query().Get("fresh")}}.Encode())
			return
		}
		if err == flow.ErrNoSession {
			seeOther(w, r, "/login")
			return
		}
		p.fail(w, r, err)
		return
	}
	p.Cookies.set(w, p.Cookies.Session(), token, s.ExpiresAt)
	if returnTo == "" {
		returnTo = "/account"
	}
	seeOther(w, r, returnTo)
}
