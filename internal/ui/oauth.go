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
		p.errorPage(w, r, http.StatusForbidden, "Sign-in link not valid here",
			"This sign-in was started in another browser. Go back to the app and start again from this browser.")
	default:
		p.errorPage(w, r, http.StatusBadRequest, "Sign-in request not valid",
			"This sign-in request is unknown or has expired. Go back to the app and start again.")
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
		p.render(w, r, http.StatusOK, "consent", view{Title: "Allow " + pd.Client.Name + "?", SignedIn: true, Action: back,
			Extra: map[string]any{"Client": pd.Client.Name, "Scopes": scopeTexts(pd.Request.GetScopes()), "Details": detailTexts(pd.Request.Details)}})
	}
}

// scopeTexts explains scopes in words.
func scopeTexts(scopes []string) []string {
	var out []string
	for _, s := range scopes {
		switch s {
		case oidc.ScopeOpenID:
			out = append(out, "Know who you are when you sign in")
		case oidc.ScopeEmail:
			out = append(out, "See your email address")
		case oidc.ScopeProfile:
			out = append(out, "See your name")
		case oidc.ScopeOfflineAccess:
			out = append(out, "Stay connected while you are away")
		default:
			out = append(out, "Access: "+s)
		}
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

type detailField struct{ Name, Value string }

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
			*fields = append(*fields, detailField{path, strings.Join(plain, ", ")})
		}
	case nil:
		*fields = append(*fields, detailField{path, "none"})
	default:
		*fields = append(*fields, detailField{path, fmt.Sprint(v)})
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
