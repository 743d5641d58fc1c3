package ui

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/foyer-id/foyer/internal/flow"
	"github.com/foyer-id/foyer/internal/policy"
	"github.com/foyer-id/foyer/internal/session"
)

// GET /stepup?return_to=: ask a signed-in customer for their second
// factor, to raise the session to AAL2 before a sensitive step or for an
// app that requires it.
func (p *Pages) stepUpPage(w http.ResponseWriter, r *http.Request) {
	returnTo := safeReturnTo(r.URL.Query().Get("return_to"))
	s, ok := p.currentSession(w, r)
	if !ok {
		return
	}
	if s == nil {
		http.Redirect(w, r, "/login?"+url.Values{"return_to": {"/stepup?return_to=" + url.QueryEscape(returnTo)}}.Encode(), http.StatusSeeOther)
		return
	}
	q := r.URL.Query()
	failed := q.Get("error")
	if s.AAL == session.AAL2 && returnTo != "" && q.Get("fresh") == "" && failed == "" {
		http.Redirect(w, r, returnTo, http.StatusSeeOther)
		return
	}
	// The form posts back here with fresh kept: a wrong code must show
	// this page again, not the page it was to lead to.
	action := url.Values{"return_to": {returnTo}}
	if q.Get("fresh") != "" {
		action.Set("fresh", "1")
	}
	v := view{Title: "stepup.title", SignedIn: true, ReturnTo: returnTo, Action: "/stepup?" + action.Encode(),
		Extra: map[string]any{}}
	if p.Passkeys != nil {
		if n, err := p.Passkeys.Count(r.Context(), s.IdentityID); err == nil && n > 0 {
			v.Extra["Passkeys"] = true
		}
	}
	if f := p.Flows.Factors; f == nil {
		v.Extra["NoTOTP"] = true
	} else if on, err := f.Enrolled(r.Context(), s.IdentityID); err == nil && !on {
		v.Extra["NoTOTP"] = true
	}
	v.Messages = refusal(r)
	switch failed {
	case flow.FactorRecovery:
		m := flow.FactorInvalid(flow.FactorRecovery)
		m.Field = "recovery" // the page's field for recovery codes
		v.Messages = []flow.Message{m}
	case "":
	default:
		v.Messages = []flow.Message{flow.FactorInvalid(flow.FactorTOTP)}
	}
	p.challenge(w, r, &v, nil, policy.SecondFactorSubmit)
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
			back := url.Values{"return_to": {returnTo}, "error": {r.PostForm.Get("kind")}}
			if r.URL.Query().Get("fresh") != "" {
				back.Set("fresh", "1")
			}
			seeOther(w, r, "/stepup?"+back.Encode())
			return
		}
		var ref *flow.RefusedError
		if errors.As(err, &ref) { // in the cool-off after a recovery
			back := url.Values{"return_to": {returnTo}, "refused": {ref.Message.ID}}
			seeOther(w, r, "/stepup?"+back.Encode())
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
