package ui

import (
	"errors"
	"net/http"
	"net/url"

	"github.com/foyer-id/foyer/internal/flow"
	"github.com/foyer-id/foyer/internal/identity"
	"github.com/foyer-id/foyer/internal/session"
	"github.com/foyer-id/foyer/internal/store"
)

// Signing in with an upstream provider ("Continue with Google"): a button
// per provider on the sign-in and sign-up pages, each a form that posts to
// /providers/{id} (no JavaScript needed); the provider sends the browser
// back to /providers/{id}/callback, whose answer goes on with the journey
// (flow.FinishUpstream). On the account page customers link and unlink
// providers.

// providerButton is a "Continue with …" button.
type providerButton struct{ ID, Name string }

// providerButtons are the domain's providers, for the pages' buttons.
func (p *Pages) providerButtons() []providerButton {
	var out []providerButton
	for _, pr := range p.Flows.Providers() {
		out = append(out, providerButton{ID: pr.ID(), Name: pr.Name()})
	}
	return out
}

// mountProviders registers the providers' pages. Unlinking stays when
// the configuration has none: a customer may have linked one since
// removed.
func (p *Pages) mountProviders(mux *http.ServeMux) {
	mux.HandleFunc("GET /account/providers/unlink", p.providerUnlinkPage)
	mux.Handle("POST /account/providers/unlink", p.form(p.providerUnlink))
	if len(p.Flows.Providers()) == 0 {
		return
	}
	mux.Handle("POST /providers/{id}", p.form(p.providerStart))
	mux.HandleFunc("GET /providers/{id}/callback", p.providerCallback)
	mux.HandleFunc("POST /providers/{id}/callback", p.providerFormPost)
	mux.Handle("POST /account/providers/link", p.form(p.providerLink))
}

// POST /providers/{id}: off to the provider to sign in or up.
func (p *Pages) providerStart(w http.ResponseWriter, r *http.Request) {
	to, err := p.Flows.BeginUpstream(r.Context(), p.client(w, r), r.PathValue("id"), safeReturnTo(r.PostForm.Get("return_to")), nil)
	if err != nil {
		p.providerFailed(w, r, err)
		return
	}
	seeOther(w, r, to)
}

// POST /providers/{id}/callback: a provider that answers with a form
// (response_mode=form_post, as Apple does). The browser posts it from the
// provider's site, so it carries none of Foyer's cookies (SameSite=Lax):
// the answer is sent on to the GET callback, a top-level navigation that
// does carry them, which checks it as any other.
func (p *Pages) providerFormPost(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		p.errorPage(w, r, http.StatusBadRequest, "error.bad_request_title", "form_unreadable")
		return
	}
	q := url.Values{}
	for _, k := range []string{"state", "code", "error", "user"} {
		if v := r.PostForm.Get(k); v != "" {
			q.Set(k, v)
		}
	}
	seeOther(w, r, "/providers/"+url.PathEscape(r.PathValue("id"))+"/callback?"+q.Encode())
}

// GET /providers/{id}/callback: the provider's answer.
func (p *Pages) providerCallback(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	form := url.Values{}
	if u := q.Get("user"); u != "" && len(u) <= 4096 {
		form.Set("user", u)
	}
	res, err := p.Flows.FinishUpstream(r.Context(), p.client(w, r), r.PathValue("id"),
		flow.Callback{State: q.Get("state"), Code: q.Get("code"), Error: q.Get("error"), Form: form})
	if err != nil {
		p.providerFailed(w, r, err)
		return
	}
	switch {
	case res.Linked != "":
		seeOther(w, r, p.doneURL(res.LinkedTo, "provider_linked", res.Linked, "providers"))
	case res.Token != "":
		p.continueFlow(w, r, &res.Result, "/login")
	case res.Flow.Type == flow.TypeRegistration:
		seeOther(w, r, flowURL("/registration", res.Flow))
	default:
		seeOther(w, r, flowURL("/login", res.Flow))
	}
}

// providerFailed shows why a round trip to a provider ended, with the way
// back to the sign-in page.
func (p *Pages) providerFailed(w http.ResponseWriter, r *http.Request, err error) {
	var ue *flow.UpstreamError
	switch {
	case errors.Is(err, flow.ErrNoProvider):
		p.ErrorPage(w, r, http.StatusNotFound)
	case errors.As(err, &ue):
		status := http.StatusBadRequest
		if ue.Reason == "provider_unavailable" {
			status = http.StatusBadGateway
		}
		p.render(w, r, status, "error", view{Title: "provider.failed_title", TitleArgs: []any{"provider", ue.Provider},
			Messages: []flow.Message{ue.Message()}, Extra: map[string]any{"Link": "/login", "LinkText": "common.sign_in_another_way"}})
	default:
		p.fail(w, r, err)
	}
}

// POST /account/providers/link: link an account of a provider to the
// signed-in customer's (a change of how they sign in: a fresh sign-in
// first).
func (p *Pages) providerLink(w http.ResponseWriter, r *http.Request) {
	s, _, ok := p.requireFresh(w, r, "/account#providers")
	if !ok {
		return
	}
	to, err := p.Flows.BeginUpstream(r.Context(), p.client(w, r), r.PostForm.Get("provider"), "/account", s)
	if err != nil {
		p.providerFailed(w, r, err)
		return
	}
	seeOther(w, r, to)
}

// GET /account/providers/unlink: asks before unlinking a provider.
func (p *Pages) providerUnlinkPage(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("provider")
	s, ident, link, ok := p.providerToUnlink(w, r, id)
	if !ok {
		return
	}
	p.confirm(w, r, s, ident, confirmation{Title: "confirm.provider_title", Text: "confirm.provider_text", Button: "confirm.provider_button",
		Name: p.linkName(link), Action: "/account/providers/unlink", Fields: map[string]string{"provider": id}, Cancel: "/account#providers"})
}

// POST /account/providers/unlink: unlink it.
func (p *Pages) providerUnlink(w http.ResponseWriter, r *http.Request) {
	id := r.PostForm.Get("provider")
	_, ident, link, ok := p.providerToUnlink(w, r, id)
	if !ok {
		return
	}
	err := p.Flows.Unlink(r.Context(), p.client(w, r), ident, id)
	switch {
	case errors.Is(err, store.ErrNotFound): // gone meanwhile
		seeOther(w, r, "/account#providers")
	case err != nil:
		p.refused(w, r, "/account", err)
	default:
		seeOther(w, r, p.doneURL(ident.ID, "provider_unlinked", p.linkName(link), "providers"))
	}
}

// providerToUnlink is the start of both steps of unlinking provider id: a
// fresh enough sign-in, and the customer's link, which may be gone
// already (then the account page, and not ok).
func (p *Pages) providerToUnlink(w http.ResponseWriter, r *http.Request, id string) (*session.Session, *identity.Identity, *identity.Link, bool) {
	s, ident, ok := p.requireFresh(w, r, "/account/providers/unlink?"+url.Values{"provider": {id}}.Encode())
	if !ok {
		return nil, nil, nil, false
	}
	links, err := p.Flows.Links.List(r.Context(), ident.ID)
	if err != nil {
		p.fail(w, r, err)
		return nil, nil, nil, false
	}
	for i := range links {
		if links[i].Provider == id {
			return s, ident, &links[i], true
		}
	}
	seeOther(w, r, "/account#providers")
	return nil, nil, nil, false
}

// linkName names a linked account: its provider, or the provider's id
// when it is no longer configured.
func (p *Pages) linkName(l *identity.Link) string {
	if name := p.Flows.ProviderName(l.Provider); name != "" {
		return name
	}
	return l.Provider
}

// providerRow is a provider on the account page: linked (with the
// address the provider gave) or not.
type providerRow struct {
	ID, Name, Email string
	Linked          bool
}

// providerRows are the account page's providers: every configured one,
// and any the customer linked that is configured no more.
func (p *Pages) providerRows(r *http.Request, identityID string) ([]providerRow, error) {
	links, err := p.Flows.Links.List(r.Context(), identityID)
	if err != nil {
		return nil, err
	}
	byID := map[string]identity.Link{}
	for _, l := range links {
		byID[l.Provider] = l
	}
	var rows []providerRow
	for _, b := range p.providerButtons() {
		l, linked := byID[b.ID]
		rows = append(rows, providerRow{ID: b.ID, Name: b.Name, Email: l.Email, Linked: linked})
		delete(byID, b.ID)
	}
	for _, l := range links {
		if _, left := byID[l.Provider]; left {
			rows = append(rows, providerRow{ID: l.Provider, Name: l.Provider, Email: l.Email, Linked: true})
		}
	}
	return rows, nil
}
