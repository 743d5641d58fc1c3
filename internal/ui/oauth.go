package ui

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/zitadel/oidc/v3/pkg/oidc"

	foidc "github.com/foyer-id/foyer/internal/oidc"
)

// The hand-off between the OpenID provider and the hosted pages: the
// library sends the browser to GET /oauth/continue?id=…; this decides
// whether the customer must sign in (again), sign up, or consent, and
// when all is settled answers the app. The request must come from the
// browser that started it.

func (p *Pages) oauthPending(w http.ResponseWriter, r *http.Request) *foidc.Pending {
	id := r.URL.Query().Get("id")
	pd, err := p.OAuth.Pending(r.Context(), id, binding(p.Cookies.browserSecret(w, r)))
	switch {
	case err == nil:
		return pd
	case errors.Is(err, foidc.ErrForeignBrowser):
		p.errorPage(w, r, http.StatusForbidden, "oauth.foreign_browser_title", "oauth_foreign_browser")
	default:
		p.errorPage(w, r, http.StatusBadRequest, "oauth.request_invalid_title", "oauth_request_invalid")
	}
	return nil
}

// GET /oauth/continue?id=
func (p *Pages) oauthContinue(w http.ResponseWriter, r *http.Request) {
	p.oauthStep(w, r, foidc.NoDecision)
}

// POST /oauth/continue?id=: the consent answer. It passes the same checks
// as the GET (Provider.Continue): allowing an app answers the consent
// step only, never a sign-in or second factor the request still needs.
func (p *Pages) oauthConsent(w http.ResponseWriter, r *http.Request) {
	d := foidc.Deny
	if r.PostForm.Get("decision") == "allow" {
		d = foidc.Allow
	}
	p.oauthStep(w, r, d)
}

// oauthStep moves the request on and shows the browser its next step.
func (p *Pages) oauthStep(w http.ResponseWriter, r *http.Request, d foidc.Decision) {
	pd := p.oauthPending(w, r)
	if pd == nil {
		return
	}
	sess, ok := p.currentSession(w, r)
	if !ok {
		return
	}
	step, err := p.OAuth.Continue(w, r, pd, sess, d)
	if err != nil {
		p.fail(w, r, err)
		return
	}
	back := foidc.ContinuePath + "?id=" + url.QueryEscape(pd.Request.ID)
	switch step {
	case foidc.StepLogin:
		q := url.Values{"return_to": {back}}
		if hint := pd.Request.Request.LoginHint; hint != "" {
			q.Set("login_hint", hint)
		}
		http.Redirect(w, r, "/login?"+q.Encode(), http.StatusSeeOther)
	case foidc.StepStepUp:
		http.Redirect(w, r, "/stepup?"+url.Values{"return_to": {back}}.Encode(), http.StatusSeeOther)
	case foidc.StepRegister:
		http.Redirect(w, r, "/registration?"+url.Values{"return_to": {back}}.Encode(), http.StatusSeeOther)
	case foidc.StepConsent:
		// Who is signed in, with the way to be someone else: signing in
		// again during the request answers it for whoever signs in.
		email := ""
		if ident, err := p.Identities.Get(r.Context(), p.Domain, sess.IdentityID); err == nil {
			email = ident.Email().Value
		}
		c := pd.Client
		p.render(w, r, http.StatusOK, "consent", view{Title: "consent.title", TitleArgs: []any{"app", c.Name}, SignedIn: true, Action: back,
			Extra: map[string]any{"Client": c.Name, "Scopes": scopeTexts(pd.Request.GetScopes()), "Details": detailTexts(pd.Request.Details),
				"ConsentApp": &App{Name: c.Name, ClientURI: c.ClientURI, LogoURI: c.LogoURI, PolicyURI: c.PolicyURI, TosURI: c.TosURI},
				"Email":      email, "Switch": "/login?" + url.Values{"return_to": {back}}.Encode()}})
	}
}

// scopeText is what the consent page says of a scope: the catalogue
// message ID, whose placeholder {scope} is the scope's name.
type scopeText struct{ ID, Scope string }

// scopeTexts explains scopes in words.
func scopeTexts(scopes []string) []scopeText {
	var out []scopeText
	for _, s := range scopes {
		id := "consent.scope_other" // "Access: {scope}"
		switch s {
		case oidc.ScopeOpenID:
			id = "consent.scope_openid"
		case oidc.ScopeEmail:
			id = "consent.scope_email"
		case oidc.ScopeProfile:
			id = "consent.scope_profile"
		case oidc.ScopeOfflineAccess:
			id = "consent.scope_offline_access"
		case oidc.ScopePhone:
			id = "consent.scope_phone"
		case oidc.ScopeAddress:
			id = "consent.scope_address"
		}
		out = append(out, scopeText{ID: id, Scope: s})
	}
	return out
}

// detail is one authorization detail (RFC 9396) as the consent page shows
// it: its type, and each value it holds under its path
// (instructedAmount.currency: EUR).
type detail struct {
	Type   string
	Fields []detailField
}

// detailField is one value of a detail; None marks a null, which the page
// words (consent.detail_none).
type detailField struct {
	Name, Value string
	None        bool
}

// detailTexts turns a request's authorization details into what the
// consent page lists; nil for none.
func detailTexts(raw json.RawMessage) []detail {
	var list []map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // amounts as the app wrote them
	if raw == nil || dec.Decode(&list) != nil {
		return nil
	}
	out := make([]detail, 0, len(list))
	for _, d := range list {
		typ, _ := d["type"].(string)
		delete(d, "type")
		var fields []detailField
		flattenDetail("", d, &fields)
		out = append(out, detail{Type: typ, Fields: fields})
	}
	return out
}

// flattenDetail appends v's leaves to fields, named by their path, in
// key order; a list of plain values is one field.
func flattenDetail(path string, v any, fields *[]detailField) {
	join := func(k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	switch v := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) {
			flattenDetail(join(k), v[k], fields)
		}
	case []any:
		var plain []string
		for i, e := range v {
			switch e.(type) {
			case map[string]any, []any:
				flattenDetail(join(strconv.Itoa(i)), e, fields)
			default:
				plain = append(plain, fmt.Sprint(e))
			}
		}
		if plain != nil {
			*fields = append(*fields, detailField{Name: path, Value: strings.Join(plain, ", ")})
		}
	case nil:
		*fields = append(*fields, detailField{Name: path, None: true})
	default:
		*fields = append(*fields, detailField{Name: path, Value: fmt.Sprint(v)})
	}
}

// POST /account/consents: withdraw an app's access.
func (p *Pages) consentRevoke(w http.ResponseWriter, r *http.Request) {
	sess, ok := p.currentSession(w, r)
	if !ok {
		return
	}
	if sess == nil {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	if err := p.OAuth.RevokeConsent(r.Context(), sess.IdentityID, r.PostForm.Get("client_id")); err != nil {
		p.fail(w, r, err)
		return
	}
	seeOther(w, r, "/account")
}
