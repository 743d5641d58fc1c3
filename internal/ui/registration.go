package ui

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/foyer-id/foyer/internal/flow"
	"github.com/foyer-id/foyer/internal/policy"
)

// GET /registration: the sign-up form, or the code form of a sign-up in
// progress (?flow=).
func (p *Pages) registrationPage(w http.ResponseWriter, r *http.Request) {
	f, note, err := p.loadFlow(w, r, flow.TypeRegistration)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	if f == nil {
		s, ok := p.currentSession(w, r)
		if !ok {
			return
		}
		if s != nil && note == "" {
			http.Redirect(w, r, "/account", http.StatusSeeOther)
			return
		}
		v := view{Title: "registration.title", Messages: notice(note),
			ReturnTo: safeReturnTo(r.URL.Query().Get("return_to")), Action: "/registration", Extra: p.loginOptions()}
		p.challenge(w, r, &v, nil, policy.RegistrationSubmit)
		p.render(w, r, http.StatusOK, "registration", v)
		return
	}
	p.renderFlow(w, r, f, "/registration", "registration.title")
}

// renderFlow shows a flow's current step on its page; title (a message
// id, or the title itself) is the title of its first form and its end.
func (p *Pages) renderFlow(w http.ResponseWriter, r *http.Request, f *flow.Flow, path, title string) {
	p.renderFlowStatus(w, r, f, path, title, http.StatusOK)
}

// renderFlowStatus is renderFlow answering with status.
func (p *Pages) renderFlowStatus(w http.ResponseWriter, r *http.Request, f *flow.Flow, path, title string, status int) {
	p.Flows.NoteDelivery(r.Context(), f) // a code that will not arrive says so
	v := f.View()
	data := view{Title: title, Flow: &v, Messages: v.Messages, Values: f.Data.Values, Action: flowURL(path, f), ReturnTo: f.ReturnTo}
	if wait := f.Data.WaitUntil.Sub(p.Flows.Now()); wait > 0 {
		data.Wait = int(wait.Seconds()) + 1
	}
	switch f.State {
	case flow.StateVerify:
		data.Title = "code.title_email"
		if f.Data.Phone != "" {
			data.Title = "code.title_phone"
		}
		p.challenge(w, r, &data, f, policy.VerificationSubmit, policy.VerificationSend)
		if wait := p.Flows.ResendWait(f); wait > 0 {
			// "Send a new code" shows when it may be asked, not an error.
			data.Extra = map[string]any{"ResendWait": int(wait.Seconds()) + 1}
		}
		p.render(w, r, status, "code", data)
	case flow.StateSecondFactor:
		data.Title = "second_factor.title"
		p.challenge(w, r, &data, f, policy.SecondFactorSubmit)
		p.render(w, r, status, "second_factor", data)
	case flow.StatePassword:
		data.Title = "recovery_password.title"
		if f.Data.FinishSignUp {
			data.Title = "finish_sign_up.title"
			data.Extra = map[string]any{"Finish": true}
		}
		p.render(w, r, status, "recovery_password", data)
	case flow.StatePasskey:
		data.Title = "passkey_signup.title"
		data.Extra = map[string]any{"Flow": f.ID}
		p.render(w, r, status, "passkey_signup", data)
	case flow.StateConfirmLink:
		data.Title = "provider.link_title"
		name := p.Flows.ProviderName(f.Data.Upstream.Provider)
		data.TitleArgs, data.Extra = []any{"provider", name}, map[string]any{"Provider": name}
		p.render(w, r, status, "link", data)
	case flow.StateDone, flow.StateFailed:
		p.render(w, r, status, "done", data)
	default:
		data.Extra = p.loginOptions()
		if f.Data.Upstream != nil {
			// Proving the account a provider's account would link to:
			// its address is fixed, and a code to it always may.
			data.Extra["Link"], data.Extra["EmailCode"], data.Extra["Providers"] = true, true, nil
		}
		if f.Type == flow.TypeRecovery {
			data.Extra = p.recoveryOptions()
		}
		p.challenge(w, r, &data, f, formActions[f.Type]...)
		p.render(w, r, status, strings.TrimPrefix(path, "/"), data)
	}
}

// formActions are the decisions a flow's first form leads to.
var formActions = map[string][]policy.Action{
	flow.TypeLogin:        {policy.LoginSubmit, policy.VerificationSend},
	flow.TypeRegistration: {policy.RegistrationSubmit},
	flow.TypeVerification: {policy.VerificationSend},
	flow.TypeRecovery:     {policy.VerificationSend, policy.SecondFactorSubmit},
}

// POST /registration: submit the sign-up form, or the code.
func (p *Pages) registrationSubmit(w http.ResponseWriter, r *http.Request) {
	f, c, ok := p.submittedFlow(w, r, flow.TypeRegistration, "/registration", safeReturnTo(r.PostForm.Get("return_to")))
	if !ok {
		return
	}
	switch f.State {
	case flow.StateVerify:
		if r.PostForm.Get("change_email") != "" { // a mistyped address, to fix
			if _, err := p.Flows.ChangeSignUpEmail(r.Context(), f, c); err != nil {
				p.submitFailed(w, r, f, "/registration", err, nil)
				return
			}
			seeOther(w, r, flowURL("/registration", f))
			return
		}
		p.codeSubmit(w, r, f, c, "/registration")
		return
	case flow.StatePasskey: // a password instead of the passkey
		res, err := p.Flows.ChoosePassword(r.Context(), f, c, r.PostForm.Get("password"))
		if err != nil {
			p.submitFailed(w, r, f, "/registration", err, nil)
			return
		}
		p.continueFlow(w, r, res, "/registration")
		return
	}
	traits := map[string]any{"email": r.PostForm.Get("email")}
	if name := strings.TrimSpace(r.PostForm.Get("name")); name != "" {
		traits["name"] = name
	}
	res, err := p.Flows.SubmitRegistration(r.Context(), f, c, flow.RegistrationInput{Traits: traits,
		Method: r.PostForm.Get("method"), Password: r.PostForm.Get("password")})
	if err != nil {
		p.submitFailed(w, r, f, "/registration", err, map[string]string{"email": r.PostForm.Get("email"), "name": r.PostForm.Get("name")})
		return
	}
	// Signed in at once (verification optional): on to the account or
	// the app; otherwise to the code step.
	p.continueFlow(w, r, res, "/registration")
}

// codeSubmit handles the code step of any flow: a code, or a request for a
// new one (resend=1).
func (p *Pages) codeSubmit(w http.ResponseWriter, r *http.Request, f *flow.Flow, c flow.Client, path string) {
	if r.PostForm.Get("resend") != "" {
		if _, err := p.Flows.Resend(r.Context(), f, c); err != nil {
			p.submitFailed(w, r, f, path, err, nil)
			return
		}
		seeOther(w, r, flowURL(path, f))
		return
	}
	res, err := p.Flows.SubmitCode(r.Context(), f, c, strings.TrimSpace(r.PostForm.Get("code")))
	if err != nil {
		p.submitFailed(w, r, f, path, err, nil)
		return
	}
	p.continueFlow(w, r, res, path)
}

// factorSubmit handles the second-factor step of a sign-in.
func (p *Pages) factorSubmit(w http.ResponseWriter, r *http.Request, f *flow.Flow, c flow.Client, path string) {
	kind := r.PostForm.Get("kind")
	res, err := p.Flows.SubmitSecondFactor(r.Context(), f, c, kind, r.PostForm.Get("code"))
	var inv *flow.InvalidError
	if errors.As(err, &inv) && kind == flow.FactorRecovery {
		// The page has a field of its own for recovery codes.
		for i := range inv.Messages {
			if inv.Messages[i].Field == "code" {
				inv.Messages[i].Field = "recovery"
			}
		}
	}
	if err != nil {
		p.submitFailed(w, r, f, path, err, nil)
		return
	}
	p.continueFlow(w, r, res, path)
}

// submittedFlow is the start of every journey POST: the flow named in
// ?flow= for this browser (a stale one sends the browser back to its page,
// which says so), or a new one on the first submit.
func (p *Pages) submittedFlow(w http.ResponseWriter, r *http.Request, typ, path, returnTo string) (*flow.Flow, flow.Client, bool) {
	c := p.client(w, r)
	f, note, err := p.loadFlow(w, r, typ)
	if err != nil {
		p.fail(w, r, err)
		return nil, c, false
	}
	if note != "" {
		// The page says the form expired; the address typed into it is
		// kept for the form it shows (keepTypedEmail).
		p.keepTypedEmail(w, r.PostForm.Get("email"))
		seeOther(w, r, path+"?flow="+url.QueryEscape(r.URL.Query().Get("flow")))
		return nil, c, false
	}
	if f == nil {
		if f, err = p.Flows.Start(r.Context(), typ, c, returnTo); err != nil {
			p.fail(w, r, err)
			return nil, c, false
		}
	}
	c.App = p.mailApp(w, r, f.ReturnTo) // the step's mail takes the app's look (brand.go)
	return f, c, true
}

// continueFlow sends the browser on after a submit: with a session, to
// where the journey was going (the account page by default); without
// one, back to the flow's page at path, which shows its next step.
func (p *Pages) continueFlow(w http.ResponseWriter, r *http.Request, res *flow.Result, path string) {
	if res.Token == "" {
		seeOther(w, r, flowURL(path, res.Flow))
		return
	}
	p.startSession(w, r, res.Token, res.Session)
	to := res.Flow.ReturnTo
	if to == "" {
		to = "/account"
	}
	seeOther(w, r, to)
}
