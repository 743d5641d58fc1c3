package oidc

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/foyer-id/foyer/internal/client"
	"github.com/foyer-id/foyer/internal/decision"
	"github.com/foyer-id/foyer/internal/event"
	"github.com/foyer-id/foyer/internal/keys"
	"github.com/foyer-id/foyer/internal/policy"
	"github.com/foyer-id/foyer/internal/session"
	"github.com/foyer-id/foyer/internal/store"
)

// Step is what an authorization request needs next from the browser.
type Step int

// Steps of the hand-off.
const (
	StepLogin    Step = iota + 1 // sign in (again)
	StepRegister                 // prompt=create: sign up
	StepConsent                  // ask the customer to allow a third-party app
	StepStepUp                   // ask for the second factor (aal2)
	StepDone                     // answer the client
)

// promptCreate asks for sign-up (OpenID Connect "Initiating User
// Registration"); the library has no constant for it.
const promptCreate = "create"

// Pending is an authorization request waiting in the browser, with its
// client.
type Pending struct {
	Request *AuthRequest
	Client  *client.Client
}

// ErrForeignBrowser means the request was started in another browser.
var ErrForeignBrowser = errors.New("oidc: authorization request started in another browser")

// Pending loads the request id for the browser with the given binding.
func (p *Provider) Pending(ctx context.Context, id, binding string) (*Pending, error) {
	a, err := p.Storage.requests.get(ctx, id)
	if err != nil {
		return nil, err
	}
	if a.BrowserHash == "" || a.BrowserHash != binding {
		return nil, ErrForeignBrowser
	}
	c, err := p.Storage.clientOf(ctx, a.GetClientID())
	if err != nil {
		return nil, err
	}
	return &Pending{Request: a, Client: c}, nil
}

// Decision is the customer's answer on the consent page, if any.
type Decision int

// Decisions.
const (
	NoDecision Decision = iota // not an answer to the consent page
	Allow                      // the customer allows the app
	Deny                       // the customer refuses
)

// Continue moves an authorization request on for the browser's session
// (nil when signed out), and is the only way to answer one. It runs next,
// where every check lives — prompt, max_age, id_token_hint, the client's
// assurance requirement, policy — and answers the client when nothing is
// left to ask: with a code, or with an error. Then it returns StepDone;
// otherwise it writes nothing and returns the step the browser must take.
//
// d is the customer's answer on the consent page. It settles a consent
// step and nothing else: when the request needs a sign-in, a fresh
// sign-in or a second factor first, that step is returned as for any
// visit, and no code is issued. An error means nothing was written and
// the caller answers it.
func (p *Provider) Continue(w http.ResponseWriter, r *http.Request, pd *Pending, sess *session.Session, d Decision) (Step, error) {
	ctx := r.Context()
	step, rec, oerr := p.next(r, pd, sess)
	if oerr != nil {
		p.fail(w, r, pd, oerr)
		return StepDone, nil
	}
	if step == StepConsent || step == StepDone {
		// Everything but consent is settled.
		switch d {
		case Deny:
			p.Storage.record(ctx, *rec)
			p.fail(w, r, pd, oidc.ErrAccessDenied().WithDescription("the customer did not allow access"))
			return StepDone, nil
		case Allow:
			if step == StepConsent {
				if err := p.GrantConsent(ctx, sess.IdentityID, pd.Client.ID, pd.Request.GetScopes()); err != nil {
					return 0, err
				}
				step = StepDone
			}
		}
	}
	if step != StepDone {
		if rec != nil { // allowed, and the customer has a consent to give
			p.Storage.record(ctx, *rec)
		}
		return step, nil
	}
	p.finish(w, r, pd, sess, *rec)
	return StepDone, nil
}

// next decides what the request needs, given the browser's session (nil
// when signed out): prompt, max_age and id_token_hint (the protocol's
// rules), then the policy (oauth.authorize: the app's assurance
// requirement, and whatever else it weighs), then consent. prompt=none
// turns every interactive step into an error for the client. A signed-in
// customer's request is decided once a visit: a refusal or a step-up is
// recorded here; an allow comes back with its record, for the caller to
// write with what it does.
func (p *Provider) next(r *http.Request, pd *Pending, sess *session.Session) (Step, *decision.Record, *oidc.Error) {
	ctx, ip, userAgent := r.Context(), p.cfg.ClientIP(r), r.UserAgent()
	a, now := pd.Request, p.Storage.Now()
	prompts := a.Request.Prompt
	none := slices.Contains(prompts, oidc.PromptNone)
	fresh := sess != nil
	if sess != nil && a.Request.MaxAge != nil {
		// Signed in recently enough, or since this request started (so
		// that prompt=login and max_age=0 are satisfied by signing in
		// again, not by a loop).
		limit := now.Add(-time.Duration(*a.Request.MaxAge) * time.Second)
		fresh = !sess.AuthenticatedAt.Before(limit) || !sess.AuthenticatedAt.Before(a.CreatedAt)
	}
	if fresh && a.Request.IDTokenHint != "" && sess.AuthenticatedAt.Before(a.CreatedAt) {
		// The app names the customer it expects (the library verified the
		// hint when the request came in). A session of someone else, from
		// before this request, does not answer it; one signed in during
		// the request does, whoever it is: the customer chose.
		if sub := hintSubject(a.Request.IDTokenHint); sub != "" && sub != sess.IdentityID {
			fresh = false
		}
	}
	if !fresh {
		if none {
			return 0, nil, oidc.ErrLoginRequired()
		}
		if sess == nil && slices.Contains(prompts, promptCreate) {
			return StepRegister, nil, nil
		}
		return StepLogin, nil, nil
	}
	// The app's assurance requirement, and the request's wish for two
	// factors, are the policy's to weigh (policy.Default).
	enrolled := false
	if p.Storage.Factors != nil && sess.AAL != session.AAL2 {
		var err error
		if enrolled, err = p.Storage.Factors.CanStepUp(ctx, sess.IdentityID); err != nil {
			p.Storage.logInternal(ctx, "second factors", err)
			return 0, nil, oidc.ErrServerError()
		}
	}
	requested := ""
	if slices.Contains(a.Request.ACRValues, session.AAL2) {
		requested = session.AAL2
	}
	dec, rec := p.Storage.Point.Decide(ctx, policy.Input{Action: policy.AuthorizeApp, Time: now, FlowID: a.ID,
		IdentityID: sess.IdentityID, SessionID: sess.ID, ClientID: pd.Client.ID, FirstParty: pd.Client.FirstParty, ClientIP: ip, UserAgent: userAgent,
		Methods: sess.Methods, AAL: sess.AAL, AuthenticatedAt: sess.AuthenticatedAt, SecondFactor: enrolled,
		ClientAAL: pd.Client.RequireAAL, RequestedAAL: requested, Transaction: policy.TransactionOf(a.Details)})
	switch {
	case dec.Effect == policy.StepUp && slices.Equal(dec.Require, []string{policy.StepSecondFactor}):
		p.Storage.record(ctx, rec)
		if none {
			return 0, nil, oidc.ErrInteractionRequired().WithDescription("two-factor authentication is needed")
		}
		return StepStepUp, nil, nil
	case !dec.Allowed():
		p.Storage.emit(ctx, event.OAuthAuthorized, event.OutcomeDenied, dec.Reason, sess.IdentityID, pd.Client.ID, rec)
		if dec.Reason == "second_factor_not_set_up" {
			return 0, nil, oidc.ErrAccessDenied().WithDescription("this application requires two-factor authentication; set it up on your account page")
		}
		return 0, nil, oidc.ErrAccessDenied().WithDescription("%s", cmp.Or(dec.Message, "not allowed by policy"))
	}
	if !pd.Client.FirstParty {
		covered, err := p.Consents.Covers(ctx, sess.IdentityID, pd.Client.ID, a.GetScopes())
		if err != nil {
			p.Storage.logInternal(ctx, "consent", err)
			return 0, nil, oidc.ErrServerError()
		}
		// Authorization details are one transaction's: a consent given
		// before does not cover them.
		if !covered || slices.Contains(prompts, oidc.PromptConsent) || a.Details != nil {
			if none {
				p.Storage.record(ctx, rec)
				return 0, nil, &oidc.Error{ErrorType: "consent_required", Description: "the customer has not allowed this application"}
			}
			return StepConsent, &rec, nil
		}
	}
	return StepDone, &rec, nil
}

// hintSubject returns the sub of an id_token_hint the library has already
// verified (when the request arrived, before it was stored), or "".
func hintSubject(hint string) string {
	jws, err := jose.ParseSignedCompact(hint, idTokenAlgs)
	if err != nil {
		return ""
	}
	var claims struct {
		Subject string `json:"sub"`
	}
	if json.Unmarshal(jws.UnsafePayloadWithoutVerification(), &claims) != nil {
		return ""
	}
	return claims.Subject
}

// idTokenAlgs are the algorithms Foyer signs ID tokens with.
var idTokenAlgs = func() []jose.SignatureAlgorithm {
	var out []jose.SignatureAlgorithm
	for _, a := range keys.Algorithms() {
		out = append(out, jose.SignatureAlgorithm(a))
	}
	return out
}()

// finish records who signed in for the request and answers the client (a
// redirect with the code, or a form_post page), writing rec, the policy's
// allow, with the authorization's event. Only Continue calls it, once
// next has found nothing left to ask.
func (p *Provider) finish(w http.ResponseWriter, r *http.Request, pd *Pending, sess *session.Session, rec decision.Record) {
	ctx := r.Context()
	a := pd.Request
	a.Subject, a.SessionID, a.AuthTime, a.AMR, a.ACR = sess.IdentityID, sess.ID, sess.AuthenticatedAt, amrOf(sess.Methods), sess.AAL
	if err := p.Storage.requests.complete(ctx, a); errors.Is(err, store.ErrConflict) {
		p.fail(w, r, pd, oidc.ErrInvalidRequest().WithDescription("this authorization request was already answered"))
		return
	} else if err != nil {
		p.Storage.logInternal(ctx, "complete auth request", err)
		p.fail(w, r, pd, oidc.ErrServerError())
		return
	}
	p.Storage.emit(ctx, event.OAuthAuthorized, event.OutcomeSuccess, "", sess.IdentityID, pd.Client.ID, rec)
	resp, err := op.BuildAuthResponseCodeResponsePayload(op.ContextWithIssuer(ctx, p.cfg.Issuer), a, p.OP)
	if err != nil {
		p.Storage.logInternal(ctx, "issue code", err)
		p.fail(w, r, pd, oidc.ErrServerError().WithDescription("the code could not be issued"))
		return
	}
	p.answer(seeOtherAfterPost(w, r), r, a.GetRedirectURI(), a.GetResponseType(), a.GetResponseMode(), resp)
}

// fail answers the client with an error (to its redirect URI, which the
// library validated when the request was created).
// Cancel answers the app that the customer went back without signing in
// (access_denied) — the way back to the app the hosted pages offer — and
// ends the request, so it can be answered no other way.
func (p *Provider) Cancel(w http.ResponseWriter, r *http.Request, pd *Pending) error {
	if err := p.Storage.requests.end(r.Context(), pd.Request.ID); err != nil {
		return err
	}
	p.Storage.emit(r.Context(), event.OAuthAuthorized, event.OutcomeDenied, "customer_cancelled", "", pd.Client.ID)
	p.fail(w, r, pd, oidc.ErrAccessDenied().WithDescription("the customer went back to the application"))
	return nil
}

func (p *Provider) fail(w http.ResponseWriter, r *http.Request, pd *Pending, err *oidc.Error) {
	a := pd.Request
	err.State = a.GetState()
	p.answer(seeOtherAfterPost(w, r), r, a.GetRedirectURI(), a.GetResponseType(), a.GetResponseMode(), err)
}

// answer sends an authorization response (the code, or an error) to a
// registered redirect URI the way the request asked (respond). The
// library's own answers are not used: it redirects errors even for
// form_post, its form_post page has no error fields, no security headers,
// and breaks a custom-scheme redirect URI.
func (p *Provider) answer(w http.ResponseWriter, r *http.Request, redirectURI string, _ oidc.ResponseType, mode oidc.ResponseMode, response any) {
	params := url.Values{}
	if err := p.OP.Encoder().Encode(response, params); err != nil {
		http.Error(w, "the response could not be written", http.StatusInternalServerError)
		return
	}
	p.respond(w, r, redirectURI, mode, params)
}

// respond sends the parameters of an authorization response to a
// registered redirect URI, with the issuer (iss, RFC 9207: the app can
// tell which server answered, and a mix-up attack fails): a page that
// posts them for form_post (OAuth 2.0 Form Post Response Mode), else a
// redirect with them in the query (response_type=code is the only one
// served, whose default mode is the query).
func (p *Provider) respond(w http.ResponseWriter, r *http.Request, redirectURI string, mode oidc.ResponseMode, params url.Values) {
	params.Set("iss", p.cfg.Issuer)
	if mode == oidc.ResponseModeFormPost {
		formPost(w, redirectURI, params)
		return
	}
	u, err := url.Parse(redirectURI)
	if err != nil {
		http.Error(w, "the response could not be written", http.StatusInternalServerError)
		return
	}
	q := u.Query()
	for k, vs := range params {
		q[k] = vs
	}
	u.RawQuery = q.Encode()
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, u.String(), http.StatusFound)
}

// seeOtherAfterPost makes the library's redirects (302) that answer a form
// POST, such as the consent page's, a 303 See Other, as every hosted form
// POST answers.
func seeOtherAfterPost(w http.ResponseWriter, r *http.Request) http.ResponseWriter {
	if r.Method != http.MethodPost {
		return w
	}
	return seeOtherWriter{w}
}

type seeOtherWriter struct{ http.ResponseWriter }

func (w seeOtherWriter) WriteHeader(code int) {
	if code == http.StatusFound {
		code = http.StatusSeeOther
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w seeOtherWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// amrOf maps Foyer's method names to RFC 8176 values, adding "mfa" when
// more than one kind of factor was used.
func amrOf(methods []string) []string {
	var out []string
	add := func(v string) {
		if !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	for _, m := range methods {
		switch m {
		case "password":
			add("pwd")
		case "email_code", "totp", "recovery_code":
			add("otp")
		default:
			add(m)
		}
	}
	if policy.HasSecondFactor(methods) {
		add("mfa")
	}
	return out
}

// formPostScript submits the page's one form as soon as it loads; the page
// allows this script only, by its hash.
const formPostScript = `document.forms[0].submit()`

var (
	formPostPage = template.Must(template.New("form_post").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Returning to the app</title></head>
<body><form method="post" action="{{.Action}}">
{{range $name, $values := .Params}}{{range $values}}<input type="hidden" name="{{$name}}" value="{{.}}">
{{end}}{{end}}<noscript><button type="submit">Continue to the app</button></noscript>
</form><script>` + formPostScript + `</script></body></html>
`))
	formPostCSP = func() string {
		sum := sha256.Sum256([]byte(formPostScript))
		return "default-src 'none'; script-src 'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'; frame-ancestors 'none'; base-uri 'none'"
	}()
)

// formPost answers an authorization request in response_mode=form_post
// (OAuth 2.0 Form Post Response Mode): a page that posts params to the
// client's redirect URI, which is registered and so trusted as a URL
// whatever its scheme.
func formPost(w http.ResponseWriter, redirectURI string, params url.Values) {
	var buf bytes.Buffer
	if err := formPostPage.Execute(&buf, struct {
		Action template.URL
		Params url.Values
	}{template.URL(redirectURI), params}); err != nil {
		http.Error(w, "the response could not be written", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Security-Policy", formPostCSP)
	h.Set("Cache-Control", "no-store")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	_, _ = buf.WriteTo(w)
}
