package ui

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"

	"github.com/foyer-id/foyer/internal/flow"
	"github.com/foyer-id/foyer/internal/identity"
	"github.com/foyer-id/foyer/internal/session"
	"github.com/foyer-id/foyer/internal/store"
)

// signedIn returns the session of a request for a settings page, or sends
// the browser to sign in first (and reports false).
func (p *Pages) signedIn(w http.ResponseWriter, r *http.Request, path string) (*session.Session, *identity.Identity, bool) {
	s, ok := p.currentSession(w, r)
	if !ok {
		return nil, nil, false
	}
	if s == nil {
		http.Redirect(w, r, "/login?"+url.Values{"return_to": {path}}.Encode(), http.StatusSeeOther)
		return nil, nil, false
	}
	ident, err := p.Identities.Get(r.Context(), p.Domain, s.IdentityID)
	if err != nil {
		p.fail(w, r, err)
		return nil, nil, false
	}
	return s, ident, true
}

// GET /account/password: change the password.
func (p *Pages) passwordPage(w http.ResponseWriter, r *http.Request) {
	s, ident, ok := p.signedIn(w, r, "/account/password")
	if !ok {
		return
	}
	v := view{Title: "password.title", SignedIn: true, Identity: ident, Session: s, Action: "/account/password"}
	if r.URL.Query().Get("error") == "current_password_invalid" {
		v.Messages = []flow.Message{flow.ErrorMessage("current_password", "current_password_invalid")} // flow.ChangePassword's
	}
	p.render(w, r, http.StatusOK, "password", v)
}

// POST /account/password: set the new password; every other device is
// signed out.
func (p *Pages) passwordSubmit(w http.ResponseWriter, r *http.Request) {
	s, ident, ok := p.signedIn(w, r, "/account/password")
	if !ok {
		return
	}
	err := p.Flows.ChangePassword(r.Context(), p.client(w, r), s, r.PostForm.Get("current_password"), r.PostForm.Get("password"))
	if err == nil {
		seeOther(w, r, "/account?changed=password")
		return
	}
	var inv *flow.InvalidError
	if errors.As(err, &inv) {
		p.render(w, r, http.StatusBadRequest, "password", view{Title: "password.title", SignedIn: true, Identity: ident, Session: s,
			Action: "/account/password", Messages: inv.Messages})
		return
	}
	p.settingsFailed(w, r, "/account/password", err)
}

// GET /account/profile: change the name (and the other traits the
// schema has, but the email address).
func (p *Pages) profilePage(w http.ResponseWriter, r *http.Request) {
	s, ident, ok := p.signedIn(w, r, "/account/profile")
	if !ok {
		return
	}
	values := map[string]string{}
	traits := traitsOf(ident)
	for _, k := range []string{"name", "locale"} {
		if v, ok := traits[k].(string); ok {
			values[k] = v
		}
	}
	p.render(w, r, http.StatusOK, "profile", view{Title: "profile.title", SignedIn: true, Identity: ident, Session: s, Action: "/account/profile", Values: values,
		Extra: p.profileOptions()})
}

// profileOptions are the profile form's choices: the languages a
// customer may save as theirs, when the identity schema keeps one (the
// locale trait).
func (p *Pages) profileOptions() map[string]any {
	if !slices.Contains(p.Flows.Schema.Properties(), "locale") {
		return nil
	}
	return map[string]any{"Languages": p.Catalog.Languages()}
}

// savedLanguage checks the language a customer chose to save: "" (none:
// the browser's) or one of the catalogue's.
func (p *Pages) savedLanguage(locale string) (string, bool) {
	if locale == "" {
		return "", true
	}
	for _, l := range p.Catalog.Languages() {
		if l.Tag == locale {
			return locale, true
		}
	}
	return "", false
}

// POST /account/profile
func (p *Pages) profileSubmit(w http.ResponseWriter, r *http.Request) {
	s, ident, ok := p.signedIn(w, r, "/account/profile")
	if !ok {
		return
	}
	name, locale := r.PostForm.Get("name"), r.PostForm.Get("locale")
	traits := map[string]any{"name": name}
	opts := p.profileOptions()
	var err error
	if opts != nil {
		if locale, ok = p.savedLanguage(locale); ok {
			traits["locale"] = locale // "" clears it
		} else {
			err = flow.Invalid("locale", "locale_invalid")
		}
	}
	if err == nil {
		_, err = p.Flows.ChangeTraits(r.Context(), p.client(w, r), s, traits)
	}
	if err == nil {
		// The choice applies at once, in this browser too: it replaces a
		// language asked for before (ui_locales), which would outrank it.
		if opts != nil && locale != "" {
			p.keepLanguage(w, locale)
		} else if opts != nil {
			p.Cookies.clear(w, p.Cookies.Language())
		}
		seeOther(w, r, "/account?changed=profile")
		return
	}
	var inv *flow.InvalidError
	if errors.As(err, &inv) {
		p.render(w, r, http.StatusBadRequest, "profile", view{Title: "profile.title", SignedIn: true, Identity: ident, Session: s,
			Action: "/account/profile", Values: map[string]string{"name": name, "locale": r.PostForm.Get("locale")}, Messages: inv.Messages, Extra: opts})
		return
	}
	p.settingsFailed(w, r, "/account/profile", err)
}

// POST /account/sessions/revoke: sign out another device (id), or every
// other one (no id).
func (p *Pages) sessionsRevoke(w http.ResponseWriter, r *http.Request) {
	s, _, ok := p.signedIn(w, r, "/account")
	if !ok {
		return
	}
	err := p.Flows.SignOutDevice(r.Context(), p.client(w, r), s, r.PostForm.Get("session_id"))
	if err != nil && !errors.Is(err, store.ErrNotFound) { // gone already: nothing to do
		p.settingsFailed(w, r, "/account", err)
		return
	}
	seeOther(w, r, "/account?changed=devices#devices")
}

// settingsFailed sends the browser to sign in again or step up when a
// change needs a fresher sign-in, back to path with the refusal when the
// change is refused, or to the error page.
func (p *Pages) settingsFailed(w http.ResponseWriter, r *http.Request, path string, err error) {
	var reauth *flow.ReauthError
	if errors.As(err, &reauth) {
		if reauth.Need == flow.ReauthStepUp {
			seeOther(w, r, "/stepup?"+url.Values{"return_to": {path}, "fresh": {"1"}}.Encode())
			return
		}
		seeOther(w, r, "/login?"+url.Values{"return_to": {path}}.Encode())
		return
	}
	p.refused(w, r, path, err)
}

// An identifierChange is the page of an address or number the customer
// changes, proved by a code to it first: the form, then the code.
type identifierChange struct {
	typ, path, title, template, field string
	start                             func(ctx context.Context, c flow.Client, s *session.Session, value string) (*flow.Result, error)
}

func (p *Pages) emailChange() identifierChange {
	return identifierChange{typ: flow.TypeEmailChange, path: "/account/email", title: "email.title", template: "email",
		field: "email", start: p.Flows.StartEmailChange}
}

func (p *Pages) phoneChange() identifierChange {
	return identifierChange{typ: flow.TypePhoneChange, path: "/account/phone", title: "phone.title", template: "phone",
		field: "phone", start: p.Flows.StartPhoneChange}
}

// changePage serves GET of an identifierChange: the form, or the code
// step of a change under way (?flow=).
func (p *Pages) changePage(ch identifierChange) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f, note, err := p.loadFlow(w, r, ch.typ)
		if err != nil {
			p.fail(w, r, err)
			return
		}
		if f != nil {
			p.renderFlow(w, r, f, ch.path, ch.title)
			return
		}
		s, ident, ok := p.signedIn(w, r, ch.path)
		if !ok {
			return
		}
		v := view{Title: ch.title, SignedIn: true, Identity: ident, Session: s, Action: ch.path,
			Messages: append(notice(note), refusal(r)...)}
		p.render(w, r, http.StatusOK, ch.template, v)
	}
}

// changeSubmit serves POST of an identifierChange: the new value (a code
// goes to it), then the code.
func (p *Pages) changeSubmit(ch identifierChange) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c := p.client(w, r)
		f, note, err := p.loadFlow(w, r, ch.typ)
		switch {
		case err != nil:
			p.fail(w, r, err)
			return
		case note != "":
			seeOther(w, r, ch.path)
			return
		case f != nil && f.State == flow.StateVerify:
			p.codeSubmit(w, r, f, c, ch.path)
			return
		case f != nil:
			seeOther(w, r, flowURL(ch.path, f))
			return
		}
		s, ident, ok := p.signedIn(w, r, ch.path)
		if !ok {
			return
		}
		value := r.PostForm.Get(ch.field)
		res, err := ch.start(r.Context(), c, s, value)
		var inv *flow.InvalidError
		if errors.As(err, &inv) {
			p.render(w, r, http.StatusBadRequest, ch.template, view{Title: ch.title, SignedIn: true, Identity: ident, Session: s,
				Action: ch.path, Values: map[string]string{ch.field: value}, Messages: inv.Messages})
			return
		}
		if err != nil {
			p.settingsFailed(w, r, ch.path, err)
			return
		}
		seeOther(w, r, flowURL(ch.path, res.Flow))
	}
}

// GET /revert?token=: what a "this wasn't me" link would undo, with the
// button that does it. (Mail scanners open links: nothing happens on
// GET.)
func (p *Pages) revertPage(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	kind, err := p.Flows.RevertKind(r.Context(), token)
	if errors.Is(err, flow.ErrRevertInvalid) {
		p.errorPage(w, r, http.StatusGone, "revert.link_invalid_title", "revert_link_invalid")
		return
	}
	if err != nil {
		p.fail(w, r, err)
		return
	}
	p.render(w, r, http.StatusOK, "revert", view{Title: "revert.title", Action: "/revert", Values: map[string]string{"token": token},
		Extra: map[string]any{"Kind": kind}})
}

// POST /revert: undo the change, sign out every device, protect the
// account.
func (p *Pages) revertSubmit(w http.ResponseWriter, r *http.Request) {
	err := p.Flows.Revert(r.Context(), p.client(w, r), r.PostForm.Get("token"))
	if errors.Is(err, flow.ErrRevertInvalid) {
		p.errorPage(w, r, http.StatusGone, "revert.link_invalid_title", "revert_link_invalid")
		return
	}
	if err != nil {
		p.fail(w, r, err)
		return
	}
	p.Cookies.clear(w, p.Cookies.Session())
	p.render(w, r, http.StatusOK, "reverted", view{Title: "reverted.title"})
}
