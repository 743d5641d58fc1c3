package ui

import (
	"net/http"

	"github.com/foyer-id/foyer/internal/flow"
)

// GET /recovery: recover an account whose password is lost.
func (p *Pages) recoveryPage(w http.ResponseWriter, r *http.Request) {
	f, note, err := p.loadFlow(w, r, flow.TypeRecovery)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if f == nil {
		v := view{Title: "recovery.title", Messages: notice(note), Action: "/recovery", Extra: p.recoveryOptions()}
		p.challenge(w, r, &v, nil, formActions[flow.TypeRecovery]...)
		p.render(w, r, http.StatusOK, "recovery", v)
		return
	}
	p.renderFlow(w, r, f, "/recovery", "recovery.title")
}

// recoveryOptions are the ways to recover the recovery page offers
// besides an emailed code.
func (p *Pages) recoveryOptions() map[string]any {
	return map[string]any{"RecoveryCodes": p.Flows.Factors != nil, "Passkeys": p.Passkeys != nil, "Phones": p.Flows.PhonesOn()}
}

// POST /recovery: the address (or a recovery code), then the code, then
// the new password.
func (p *Pages) recoverySubmit(w http.ResponseWriter, r *http.Request) {
	f, c, ok := p.submittedFlow(w, r, flow.TypeRecovery, "/recovery", "")
	if !ok {
		return
	}
	var (
		res *flow.Result
		err error
	)
	email := r.PostForm.Get("email")
	switch {
	case f.State == flow.StateVerify:
		p.codeSubmit(w, r, f, c, "/recovery")
		return
	case f.State == flow.StatePassword:
		res, err = p.Flows.SubmitRecoveryPassword(r.Context(), f, c, r.PostForm.Get("password"))
	case f.State != flow.StateForm:
		seeOther(w, r, flowURL("/recovery", f))
		return
	case r.PostForm.Get("method") == "phone":
		res, err = p.Flows.SubmitRecoveryPhone(r.Context(), f, c, r.PostForm.Get("phone"))
	case r.PostForm.Get("method") == "recovery_code":
		res, err = p.Flows.SubmitRecoveryCode(r.Context(), f, c, email, r.PostForm.Get("recovery_code"))
	default:
		res, err = p.Flows.SubmitRecoveryEmail(r.Context(), f, c, email)
	}
	if err != nil {
		p.submitFailed(w, r, f, "/recovery", err, map[string]string{"email": email, "phone": r.PostForm.Get("phone")})
		return
	}
	p.continueFlow(w, r, res, "/recovery")
}
