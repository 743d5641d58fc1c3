package ui

import (
	"errors"
	"net/http"

	"github.com/foyer-id/foyer/internal/flow"
	"github.com/foyer-id/foyer/internal/policy"
)

// GET /login: the sign-in form (or the code step of a sign-in that needs
// the email verified first).
func (p *Pages) loginPage(w http.ResponseWriter, r *http.Request) {
	f, note, err := p.loadFlow(w, r, flow.TypeLogin)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if f == nil {
		v := view{Title: "login.title", Messages: notice(note), ReturnTo: safeReturnTo(r.URL.Query().Get("return_to")), Action: "/login",
			Extra: p.loginOptions()}
		p.challenge(w, r, &v, nil, policy.LoginSubmit, policy.VerificationSend)
		if hint := r.URL.Query().Get("login_hint"); hint != "" && len(hint) <= 254 {
			v.Values = map[string]string{"email": hint}
		}
		if r.URL.Query().Get("signed_out") != "" && note == "" {
			v.Messages = []flow.Message{flow.InfoMessage("logout.signed_out")}
		}
		p.render(w, r, http.StatusOK, "login", v)
		return
	}
	p.renderFlow(w, r, f, "/login", "login.title")
}

// POST /login: check the email and password.
func (p *Pages) loginSubmit(w http.ResponseWriter, r *http.Request) {
	f, c, ok := p.submittedFlow(w, r, flow.TypeLogin, "/login", safeReturnTo(r.PostForm.Get("return_to")))
	if !ok {
		return
	}
	switch f.State {
	case flow.StateVerify:
		p.codeSubmit(w, r, f, c, "/login")
		return
	case flow.StateSecondFactor:
		p.factorSubmit(w, r, f, c, "/login")
		return
	case flow.StateConfirmLink: // link the provider's account, or not
		res, err := p.Flows.ConfirmLink(r.Context(), f, c, r.PostForm.Get("link") == "yes")
		var ue *flow.UpstreamError
		switch {
		case errors.As(err, &ue):
			p.providerFailed(w, r, err)
			return
		case err != nil:
			p.submitFailed(w, r, f, "/login", err, nil)
			return
		}
		p.continueFlow(w, r, res, "/login")
		return
	case flow.StatePassword: // the password was breached: a new one
		res, err := p.Flows.SubmitNewPassword(r.Context(), f, c, r.PostForm.Get("password"))
		if err != nil {
			p.submitFailed(w, r, f, "/login", err, nil)
			return
		}
		p.continueFlow(w, r, res, "/login")
		return
	}
	if f.State != flow.StateForm {
		seeOther(w, r, flowURL("/login", f))
		return
	}
	var (
		res *flow.Result
		err error
	)
	if r.PostForm.Get("method") == flow.MethodCode {
		res, err = p.Flows.RequestLoginCode(r.Context(), f, c, r.PostForm.Get("email"))
	} else {
		res, err = p.Flows.SubmitLogin(r.Context(), f, c, flow.LoginInput{Identifier: r.PostForm.Get("email"), Password: r.PostForm.Get("password")})
	}
	if err != nil {
		p.submitFailed(w, r, f, "/login", err, map[string]string{"email": r.PostForm.Get("email")})
		return
	}
	p.continueFlow(w, r, res, "/login")
}

// loginOptions tells the sign-in page which other ways in to offer.
func (p *Pages) loginOptions() map[string]any {
	return map[string]any{"EmailCode": p.Flows.Config.EmailCodeLogin, "Passkeys": p.Passkeys != nil, "Recovery": p.Flows.Config.Recovery,
		"Providers": p.providerButtons()}
}
