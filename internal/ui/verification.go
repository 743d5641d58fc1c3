package ui

import (
	"net/http"

	"github.com/foyer-id/foyer/internal/flow"
	"github.com/foyer-id/foyer/internal/policy"
)

// GET /verification: verify an email address on a later visit.
func (p *Pages) verificationPage(w http.ResponseWriter, r *http.Request) {
	f, note, err := p.loadFlow(w, r, flow.TypeVerification)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if f == nil {
		v := view{Title: "verification.title", Messages: notice(note), Action: "/verification"}
		p.challenge(w, r, &v, nil, policy.VerificationSend)
		s, ok := p.currentSession(w, r)
		if !ok {
			return
		}
		if s != nil {
			if ident, err := p.Identities.Get(r.Context(), p.Domain, s.IdentityID); err == nil {
				v.SignedIn, v.Identity = true, ident
			}
		}
		p.render(w, r, http.StatusOK, "verification", v)
		return
	}
	p.renderFlow(w, r, f, "/verification", "verification.title")
}

// POST /verification: ask for a code, or enter it.
func (p *Pages) verificationSubmit(w http.ResponseWriter, r *http.Request) {
	f, c, ok := p.submittedFlow(w, r, flow.TypeVerification, "/verification", "")
	if !ok {
		return
	}
	switch f.State {
	case flow.StateVerify:
		p.codeSubmit(w, r, f, c, "/verification")
		return
	case flow.StatePassword: // the code finished an unfinished sign-up
		res, err := p.Flows.FinishSignUp(r.Context(), f, c, r.PostForm.Get("password"))
		if err != nil {
			p.submitFailed(w, r, f, "/verification", err, nil)
			return
		}
		p.continueFlow(w, r, res, "/verification")
		return
	}
	if f.State != flow.StateForm {
		seeOther(w, r, flowURL("/verification", f))
		return
	}
	sess, ok := p.currentSession(w, r)
	if !ok {
		return
	}
	res, err := p.Flows.SubmitVerificationEmail(r.Context(), f, c, r.PostForm.Get("email"), sess)
	if err != nil {
		p.submitFailed(w, r, f, "/verification", err, map[string]string{"email": r.PostForm.Get("email")})
		return
	}
	seeOther(w, r, flowURL("/verification", res.Flow))
}
