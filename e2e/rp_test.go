package e2e

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/foyer-id/foyer/internal/client"
	"github.com/foyer-id/foyer/internal/server/servertest"
)

// relyingParty is a small web app that signs its visitors in with Foyer
// the way a real one does: go-oidc for discovery and ID token
// verification, x/oauth2 for the code flow with PKCE. GET /login starts a
// sign-in; GET /callback finishes it and shows who signed in. It keeps
// what each sign-in obtained in memory for the test.
type relyingParty struct {
	URL      string // http://127.0.0.1:PORT
	Client   *client.Client
	Secret   string
	OAuth    oauth2.Config
	Provider *oidc.Provider
	Verifier *oidc.IDTokenVerifier
	// Issuer is the discovered issuer, against which ID tokens verify.
	Issuer string
	// issParam is whether the provider promises the iss parameter of RFC
	// 9207 on its authorization responses, which the app then requires.
	issParam bool
	// ACRValues, when set, is sent as acr_values with every sign-in.
	ACRValues string
	// AuthorizationDetails, when set, is sent as authorization_details
	// (RFC 9396) with every sign-in.
	AuthorizationDetails string
	// ResponseMode, when set, is sent as response_mode: "form_post" has
	// the answer posted to /callback.
	ResponseMode string

	mu       sync.Mutex
	pending  map[string]rpAuthorization // by the rpCookie value
	sessions []*rpSession
}

// rpCookie binds a sign-in to the browser that started it. Cookies ignore
// ports, and the app and Foyer both run on 127.0.0.1, so it must not use
// one of Foyer's names.
const rpCookie = "shop_login"

// rpAuthorization is what the app remembers between /login and /callback.
type rpAuthorization struct{ state, nonce, verifier string }

// rpSession is what the app obtained from one sign-in.
type rpSession struct {
	Token    *oauth2.Token
	IDToken  *oidc.IDToken
	Claims   rpClaims
	UserInfo *oidc.UserInfo
}

// rpClaims are the ID token claims the app reads.
type rpClaims struct {
	Email         string   `json:"email"`
	EmailVerified bool     `json:"email_verified"`
	Nonce         string   `json:"nonce"`
	AuthTime      int64    `json:"auth_time"`
	ACR           string   `json:"acr"`
	AMR           []string `json:"amr"`
}

// startRP registers a client called name with Foyer, with the app's
// callback as its redirect URI, and runs the app until the test ends.
func startRP(t *testing.T, env *servertest.Env, name string, firstParty bool) *relyingParty {
	t.Helper()
	ctx := context.Background()
	// The listener exists before the server starts, so the client can be
	// registered with the callback URL first.
	srv := httptest.NewUnstartedServer(nil)
	rp := &relyingParty{URL: "http://" + srv.Listener.Addr().String(), pending: map[string]rpAuthorization{}}
	if !strings.HasPrefix(rp.URL, "http://127.0.0.1:") {
		srv.Close()
		t.Fatalf("relying party on %s, want 127.0.0.1", rp.URL)
	}
	c, secret, err := env.Server.Clients.Create(ctx, "customers", client.Spec{
		Name: &name, RedirectURIs: &[]string{rp.URL + "/callback"}, FirstParty: &firstParty})
	if err != nil {
		srv.Close()
		t.Fatalf("register client %s: %v", name, err)
	}
	provider, err := oidc.NewProvider(ctx, env.URL)
	if err != nil {
		srv.Close()
		t.Fatalf("discovery at %s: %v", env.URL, err)
	}
	var meta struct {
		Issuer   string `json:"issuer"`
		IssParam bool   `json:"authorization_response_iss_parameter_supported"`
	}
	if err := provider.Claims(&meta); err != nil {
		srv.Close()
		t.Fatalf("discovery document: %v", err)
	}
	rp.Client, rp.Secret, rp.Provider, rp.Issuer, rp.issParam = c, secret, provider, meta.Issuer, meta.IssParam
	rp.Verifier = provider.Verifier(&oidc.Config{ClientID: c.ID})
	rp.OAuth = oauth2.Config{
		ClientID: c.ID, ClientSecret: secret, Endpoint: provider.Endpoint(), RedirectURL: rp.URL + "/callback",
		Scopes: []string{oidc.ScopeOpenID, "email", "profile", oidc.ScopeOfflineAccess},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", rp.login)
	mux.HandleFunc("GET /callback", rp.callback)
	mux.HandleFunc("POST /callback", rp.callback)
	srv.Config.Handler = mux
	srv.Start()
	t.Cleanup(srv.Close)
	return rp
}

func randomString() string {
	var b [24]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// GET /login: remember state, nonce and PKCE verifier for this browser,
// and send it to Foyer.
func (rp *relyingParty) login(w http.ResponseWriter, r *http.Request) {
	a := rpAuthorization{state: randomString(), nonce: randomString(), verifier: oauth2.GenerateVerifier()}
	id := randomString()
	rp.mu.Lock()
	rp.pending[id] = a
	rp.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: rpCookie, Value: id, Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode})
	opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(a.verifier), oidc.Nonce(a.nonce)}
	if rp.ACRValues != "" {
		opts = append(opts, oauth2.SetAuthURLParam("acr_values", rp.ACRValues))
	}
	if rp.ResponseMode != "" {
		opts = append(opts, oauth2.SetAuthURLParam("response_mode", rp.ResponseMode))
	}
	if rp.AuthorizationDetails != "" {
		opts = append(opts, oauth2.SetAuthURLParam("authorization_details", rp.AuthorizationDetails))
	}
	http.Redirect(w, r, rp.OAuth.AuthCodeURL(a.state, opts...), http.StatusFound)
}

// GET /callback: check the answer belongs to this browser's sign-in,
// redeem the code, verify the ID token and its nonce, ask for userinfo,
// and show who signed in.
func (rp *relyingParty) callback(w http.ResponseWriter, r *http.Request) {
	s, err := rp.finish(r)
	if err != nil {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(http.StatusBadRequest)
		_ = rpErrorPage.Execute(w, err.Error())
		return
	}
	rp.mu.Lock()
	rp.sessions = append(rp.sessions, s)
	rp.mu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = rpWelcomePage.Execute(w, s)
}

func (rp *relyingParty) finish(r *http.Request) (*rpSession, error) {
	c, err := r.Cookie(rpCookie)
	if err != nil {
		return nil, errors.New("no sign-in in progress in this browser")
	}
	rp.mu.Lock()
	a, ok := rp.pending[c.Value]
	delete(rp.pending, c.Value) // one answer per sign-in
	rp.mu.Unlock()
	// The answer is in the query, or with form_post in the body.
	if err := r.ParseForm(); err != nil {
		return nil, fmt.Errorf("read the answer: %w", err)
	}
	q := r.Form
	switch {
	case !ok:
		return nil, errors.New("unknown sign-in")
	case q.Get("state") != a.state:
		return nil, fmt.Errorf("state %q does not match", q.Get("state"))
	case q.Get("error") != "":
		return nil, fmt.Errorf("the provider answered %s: %s", q.Get("error"), q.Get("error_description"))
	case (rp.issParam || q.Has("iss")) && q.Get("iss") != rp.Issuer:
		return nil, fmt.Errorf("iss %q, want %q", q.Get("iss"), rp.Issuer)
	}
	ctx := r.Context()
	tok, err := rp.OAuth.Exchange(ctx, q.Get("code"), oauth2.VerifierOption(a.verifier))
	if err != nil {
		return nil, fmt.Errorf("exchange the code: %w", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, errors.New("no id_token in the token response")
	}
	idt, err := rp.Verifier.Verify(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("verify the ID token: %w", err)
	}
	s := &rpSession{Token: tok, IDToken: idt}
	if err := idt.Claims(&s.Claims); err != nil {
		return nil, fmt.Errorf("ID token claims: %w", err)
	}
	if s.Claims.Nonce != a.nonce {
		return nil, fmt.Errorf("ID token nonce %q does not match", s.Claims.Nonce)
	}
	if s.UserInfo, err = rp.Provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err != nil {
		return nil, fmt.Errorf("userinfo: %w", err)
	}
	if s.UserInfo.Subject != idt.Subject {
		return nil, fmt.Errorf("userinfo is about %q, the ID token about %q", s.UserInfo.Subject, idt.Subject)
	}
	return s, nil
}

// signIns is how many sign-ins the app completed.
func (rp *relyingParty) signIns() int {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return len(rp.sessions)
}

// session returns what the n-th (1-based) sign-in obtained.
func (rp *relyingParty) session(t *testing.T, n int) *rpSession {
	t.Helper()
	rp.mu.Lock()
	defer rp.mu.Unlock()
	if len(rp.sessions) < n {
		t.Fatalf("the app completed %d sign-ins, want at least %d", len(rp.sessions), n)
	}
	return rp.sessions[n-1]
}

var rpWelcomePage = template.Must(template.New("welcome").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Shop</title></head><body>
<h1>Welcome</h1>
<p id="verified">ID token verified: issued by {{.IDToken.Issuer}} for {{index .IDToken.Audience 0}}.</p>
<dl>
<dt>Email (ID token)</dt><dd id="id-token-email">{{.Claims.Email}}</dd>
<dt>Email (userinfo)</dt><dd id="userinfo-email">{{.UserInfo.Email}}</dd>
</dl>
</body></html>`))

var rpErrorPage = template.Must(template.New("error").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Shop: sign-in failed</title></head><body>
<h1>Sign-in failed</h1>
<p id="rp-error">{{.}}</p>
</body></html>`))

// expectWelcome checks that the browser is on the app's callback page
// after a sign-in, showing email from both the ID token and userinfo, and
// returns what the app obtained from that (the n-th) sign-in.
func expectWelcome(t *testing.T, ctx context.Context, rp *relyingParty, status int64, n int, email string) *rpSession {
	t.Helper()
	u := location(t, ctx)
	if status != http.StatusOK || u.Scheme+"://"+u.Host != rp.URL || u.Path != "/callback" {
		t.Fatalf("want the app's callback page, got %d %s\n%s", status, u, pageText(ctx))
	}
	do(t, ctx, "wait for the app's welcome", chromedp.WaitVisible(chromedp.ID("verified")))
	for _, id := range []string{"id-token-email", "userinfo-email"} {
		if got := eval[string](t, ctx, `document.getElementById("`+id+`").textContent`); got != email {
			t.Errorf("app page #%s = %q, want %q\n%s", id, got, email, pageText(ctx))
		}
	}
	return rp.session(t, n)
}

// freshContext returns a tab in a new browser context of the same
// Chromium: no cookies, no storage, as a browser that has never visited
// Foyer or the app. It is closed when the test ends. Every document in it
// records its Content-Security-Policy violations in window.cspViolations,
// for submitAndWait's messages.
func freshContext(t *testing.T, ctx context.Context) context.Context {
	t.Helper()
	fresh, cancel := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	if err := chromedp.Do(fresh); err != nil {
		t.Fatalf("new browser context: %v", err)
	}
	if _, err := chromedp.Call(fresh, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{
		Source: `window.cspViolations = [];
document.addEventListener('securitypolicyviolation', e => window.cspViolations.push(e.violatedDirective + ' (blocked ' + e.blockedURI + ')'));`,
	}); err != nil {
		t.Fatalf("record CSP violations: %v", err)
	}
	return fresh
}

// submitAndWait is clickAndWait for a button whose form submission ends
// at the app, through Foyer's redirects. When the navigation fails it
// says which Content-Security-Policy directives the page enforced
// against it: a form-action violation means the browser refused to
// follow the redirect to the app.
func submitAndWait[S chromedp.Selectable](t *testing.T, ctx context.Context, sel S) *network.Response {
	t.Helper()
	from := location(t, ctx)
	resp, err := chromedp.RunResponse(ctx, chromedp.WaitVisible(sel), chromedp.Click(sel))
	if err != nil {
		// Chromium may report the violation just after the navigation
		// fails: on this failure path only, give it up to a second.
		violations, _ := chromedp.Run(ctx, chromedp.Evaluate[[]string](`new Promise(resolve => {
	const v = window.cspViolations || [];
	if (v.length) return resolve(v);
	document.addEventListener('securitypolicyviolation', () => setTimeout(() => resolve(v)), {once: true});
	setTimeout(() => resolve(v), 1000);
})`, chromedp.EvalAwaitPromise))
		t.Fatalf("submit %v on %s: %v\nCSP violations on the page: %q\nnow on %s, page: %s", sel, from, err, violations, location(t, ctx), pageText(ctx))
	}
	return resp
}

// postAsClient posts a form to Foyer with HTTP Basic client
// authentication (RFC 6749 section 2.3.1: both parts form-encoded) and
// decodes the JSON answer.
func postAsClient(t *testing.T, env *servertest.Env, rp *relyingParty, path string, form url.Values) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, env.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(rp.Client.ID), url.QueryEscape(rp.Secret))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	var out map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("POST %s: %d, not JSON: %q", path, resp.StatusCode, raw)
		}
	}
	return resp.StatusCode, out
}
