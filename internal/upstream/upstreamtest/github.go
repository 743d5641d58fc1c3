package upstreamtest

import (
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/upstream"
)

// GitHubUser is the account a GitHub test server signs in.
type GitHubUser struct {
	ID    int64
	Login string
	Name  string
	// Email is the public address on the profile (/user), which Foyer
	// must not take for a verified one.
	Email string
}

// GitHubEmail is an address of /user/emails.
type GitHubEmail struct {
	Email             string
	Primary, Verified bool
}

// GitHubKnobs make a GitHub test server misbehave; the zero value
// behaves.
type GitHubKnobs struct {
	// User and Emails are the account signed in (NewGitHub sets a default
	// one, with a primary verified address).
	User   GitHubUser
	Emails []GitHubEmail
	// TokenError makes the token endpoint answer 200 with this error, as
	// GitHub does (bad_verification_code).
	TokenError string
	// Status makes every endpoint answer with this HTTP status.
	Status int
	// UserStatus and EmailsStatus make /user and /user/emails answer with
	// this HTTP status.
	UserStatus, EmailsStatus int
	// Delay makes every endpoint wait this long before it answers (less
	// when the client gives up).
	Delay time.Duration
}

// The GitHub endpoints, as counted by GitHub.Hits.
const (
	EndpointUser   = "user"
	EndpointEmails = "emails"
)

// GitHub is a running GitHub test server: OAuth 2 at /login/oauth/ and the
// REST API under /api.
type GitHub struct {
	// AuthURL, TokenURL and APIURL are its endpoints.
	AuthURL, TokenURL, APIURL string
	// ClientID and ClientSecret are the OAuth app it knows.
	ClientID, ClientSecret string

	server *httptest.Server

	mu       sync.Mutex
	knobs    GitHubKnobs
	grants   map[string]grant
	tokens   map[string]bool
	hits     map[string]int
	lastAuth string
}

// NewGitHub starts a GitHub test server, closed when the test ends.
func NewGitHub(t testing.TB) *GitHub {
	t.Helper()
	g := &GitHub{
		ClientID:     "Iv1.foyer",
		ClientSecret: "github-secret",
		grants:       map[string]grant{},
		tokens:       map[string]bool{},
		hits:         map[string]int{},
		knobs: GitHubKnobs{
			User:   GitHubUser{ID: 4242, Login: "ada-octo", Name: "Ada Octo", Email: "public@example.com"},
			Emails: []GitHubEmail{{Email: "Ada@Example.com", Primary: true, Verified: true}},
		},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login/oauth/authorize", g.handle(EndpointAuthorize, g.authorize))
	mux.HandleFunc("POST /login/oauth/access_token", g.handle(EndpointToken, g.token))
	mux.HandleFunc("GET /api/user", g.handle(EndpointUser, g.user))
	mux.HandleFunc("GET /api/user/emails", g.handle(EndpointEmails, g.emails))
	g.server = httptest.NewServer(mux)
	t.Cleanup(g.server.Close)
	g.AuthURL = g.server.URL + "/login/oauth/authorize"
	g.TokenURL = g.server.URL + "/login/oauth/access_token"
	g.APIURL = g.server.URL + "/api"
	return g
}

// URL is the server's base URL.
func (g *GitHub) URL() string { return g.server.URL }

// Client is an HTTP client for the server.
func (g *GitHub) Client() *http.Client { return g.server.Client() }

// Close stops the server now.
func (g *GitHub) Close() { g.server.Close() }

// Config is a provider configuration for the server.
func (g *GitHub) Config(id string) upstream.Config {
	return upstream.Config{
		ID: id, Kind: upstream.KindGitHub,
		ClientID: g.ClientID, ClientSecret: g.ClientSecret,
		AuthURL: g.AuthURL, TokenURL: g.TokenURL, APIURL: g.APIURL,
	}
}

// Update changes the knobs.
func (g *GitHub) Update(f func(*GitHubKnobs)) {
	g.mu.Lock()
	defer g.mu.Unlock()
	f(&g.knobs)
}

// Hits counts the requests an endpoint (EndpointToken, EndpointUser, …)
// received.
func (g *GitHub) Hits(endpoint string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.hits[endpoint]
}

// LastClientAuth is how the client authenticated at the last successful
// token request (AuthBasic or AuthPost).
func (g *GitHub) LastClientAuth() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.lastAuth
}

// Authorize follows an authorization request as a browser would and
// returns the callback's parameters (code and state).
func (g *GitHub) Authorize(authURL string) (url.Values, error) {
	return authorize(g.server.Client(), authURL)
}

func (g *GitHub) handle(endpoint string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		g.mu.Lock()
		g.hits[endpoint]++
		k := g.knobs
		g.mu.Unlock()
		if !wait(r, k.Delay) {
			return
		}
		if k.Status != 0 {
			http.Error(w, "test github failing", k.Status)
			return
		}
		h(w, r)
	}
}

func (g *GitHub) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	redirect, err := url.Parse(q.Get("redirect_uri"))
	if q.Get("client_id") != g.ClientID || err != nil || !redirect.IsAbs() {
		http.Error(w, "unknown client or bad redirect_uri", http.StatusBadRequest)
		return
	}
	rq := redirect.Query()
	rq.Set("state", q.Get("state"))
	if q.Get("code_challenge") == "" || q.Get("code_challenge_method") != "S256" {
		rq.Set("error", "invalid_request")
	} else {
		code := rand.Text()
		g.mu.Lock()
		g.grants[code] = grant{redirectURI: q.Get("redirect_uri"), challenge: q.Get("code_challenge")}
		g.mu.Unlock()
		rq.Set("code", code)
	}
	redirect.RawQuery = rq.Encode()
	http.Redirect(w, r, redirect.String(), http.StatusFound)
}

// token redeems a code as GitHub does: errors come with status 200, and
// the answer is JSON only when the client asks for it.
func (g *GitHub) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, "unreadable form", http.StatusBadRequest)
		return
	}
	answer := func(v map[string]string) {
		if strings.Contains(r.Header.Get("Accept"), "application/json") {
			writeJSON(w, http.StatusOK, v)
			return
		}
		form := url.Values{}
		for k, s := range v {
			form.Set(k, s)
		}
		w.Header().Set("Content-Type", "application/x-www-form-urlencoded")
		_, _ = w.Write([]byte(form.Encode()))
	}
	method, ok := g.clientAuth(r)
	if !ok {
		answer(oauthError("incorrect_client_credentials", "The client_id and/or client_secret passed are incorrect."))
		return
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.knobs.TokenError != "" {
		answer(oauthError(g.knobs.TokenError, "as the test asked"))
		return
	}
	code := r.PostForm.Get("code")
	gr, found := g.grants[code]
	delete(g.grants, code)
	redirect := r.PostForm.Get("redirect_uri")
	if !found || redirect != "" && redirect != gr.redirectURI || s256(r.PostForm.Get("code_verifier")) != gr.challenge {
		answer(oauthError("bad_verification_code", "The code passed is incorrect or expired."))
		return
	}
	g.lastAuth = method
	token := "gho_" + rand.Text()
	g.tokens[token] = true
	answer(map[string]string{"access_token": token, "token_type": "bearer", "scope": "read:user,user:email"})
}

func (g *GitHub) clientAuth(r *http.Request) (string, bool) {
	if id, secret, ok := r.BasicAuth(); ok {
		return AuthBasic, id == g.ClientID && equal(secret, g.ClientSecret) && r.PostForm.Get("client_secret") == ""
	}
	return AuthPost, r.PostForm.Get("client_id") == g.ClientID && equal(r.PostForm.Get("client_secret"), g.ClientSecret)
}

// api checks a REST API request: a token it issued, as a Bearer token, and
// GitHub's media type. It answers the failure itself.
func (g *GitHub) api(w http.ResponseWriter, r *http.Request, status int) bool {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	g.mu.Lock()
	known := g.tokens[token]
	g.mu.Unlock()
	switch {
	case !ok || !known:
		writeJSON(w, http.StatusUnauthorized, map[string]string{"message": "Bad credentials"})
		return false
	case r.Header.Get("Accept") != "application/vnd.github+json":
		writeJSON(w, http.StatusBadRequest, map[string]string{"message": "want Accept: application/vnd.github+json"})
		return false
	case status != 0:
		writeJSON(w, status, map[string]string{"message": http.StatusText(status)})
		return false
	}
	return true
}

func (g *GitHub) user(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	k := g.knobs
	g.mu.Unlock()
	if !g.api(w, r, k.UserStatus) {
		return
	}
	u := map[string]any{
		"id":         k.User.ID,
		"login":      k.User.Login,
		"avatar_url": "https://avatars.example.com/u/" + k.User.Login,
		"type":       "User",
	}
	u["name"], u["email"] = nil, nil
	if k.User.Name != "" {
		u["name"] = k.User.Name
	}
	if k.User.Email != "" {
		u["email"] = k.User.Email
	}
	writeJSON(w, http.StatusOK, u)
}

func (g *GitHub) emails(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	k := g.knobs
	k.Emails = slices.Clone(k.Emails)
	g.mu.Unlock()
	if !g.api(w, r, k.EmailsStatus) {
		return
	}
	list := []map[string]any{}
	for _, e := range k.Emails {
		list = append(list, map[string]any{"email": e.Email, "primary": e.Primary, "verified": e.Verified, "visibility": nil})
	}
	writeJSON(w, http.StatusOK, list)
}
