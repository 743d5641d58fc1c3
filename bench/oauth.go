package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"strings"
	"time"
)

// oauthClient is the registered OAuth client the OAuth scenarios act as
// (created with `foyer clients create`).
type oauthClient struct {
	id, secret  string
	redirectURI string
	scope       string
}

// chain is one refresh-token chain of the tokens file written by
// oauth-setup: the customer it belongs to, the newest refresh token and
// the access token issued with it. The refresh scenario rotates it and
// writes it back.
type chain struct {
	Email        string `json:"email"`
	RefreshToken string `json:"refresh_token"`
	AccessToken  string `json:"access_token"`
}

// tokenResponse is the part of a token endpoint answer the tool reads.
type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	TokenType    string `json:"token_type"`
}

// oauthError is an OAuth error answer (RFC 6749 §5.2).
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

// postToken sends one token request with HTTP Basic client authentication
// (client_secret_basic: id and secret form-encoded first, RFC 6749
// §2.3.1), records its latency under step and decodes a 200 answer.
func (c *client) postToken(ctx context.Context, t *tally, step string, oc *oauthClient, form url.Values) (*tokenResponse, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+"/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(url.QueryEscape(oc.id), url.QueryEscape(oc.secret))
	start := time.Now()
	t.requests++
	res, err := c.http.Do(req)
	if err != nil {
		t.step(step, time.Since(start))
		return nil, transportFailure(step, err)
	}
	raw, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	res.Body.Close()
	t.step(step, time.Since(start))
	if err != nil {
		return nil, transportFailure(step, err)
	}
	if res.StatusCode != http.StatusOK {
		return nil, oauthFailure(step, res.StatusCode, raw)
	}
	var tr tokenResponse
	if err := json.Unmarshal(raw, &tr); err != nil {
		return nil, &failure{step: step, status: res.StatusCode, reason: "bad-json", sample: err.Error()}
	}
	if tr.AccessToken == "" {
		return nil, &failure{step: step, status: res.StatusCode, reason: "no-access-token", sample: truncate(string(raw), 160)}
	}
	return &tr, nil
}

// oauthFailure classifies an OAuth error answer by its error code:
// "refresh 400 invalid_grant".
func oauthFailure(step string, status int, raw []byte) *failure {
	var e oauthError
	if err := json.Unmarshal(raw, &e); err != nil || e.Error == "" {
		return &failure{step: step, status: status, sample: describeProblem(raw)}
	}
	f := &failure{step: step, status: status, reason: e.Error, sample: truncate(e.Error+": "+e.Description, 160)}
	if e.Error == "invalid_client" {
		f.sample += " (check -client-id and -client-secret, or FOYER_CLIENT_ID and FOYER_CLIENT_SECRET)"
	}
	return f
}

// randomString returns n random bytes, base64url-encoded.
func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// sessionCookie is the name of Foyer's session cookie at base: plain in
// dev mode (http), with the __Host- prefix otherwise (https).
func sessionCookie(base string) string {
	if strings.HasPrefix(base, "https://") {
		return "__Host-foyer_session"
	}
	return "foyer_session"
}

// authorize runs the authorization code flow with PKCE for a customer who
// is already signed in, as a browser holding the session would, and
// returns the code and its verifier. The hops:
//
//	GET /authorize?…            302 to /oauth/continue?id=…, sets foyer_csrf
//	GET /oauth/continue?id=…    with foyer_csrf and the session cookie:
//	                            302/303 to the redirect URI with the code
//
// The cookie jar keeps foyer_csrf between the hops: Foyer binds the
// request to the browser that started it. The session cookie holds the
// JSON API's session token, which is the same kind of token.
func (c *client) authorize(ctx context.Context, t *tally, oc *oauthClient, sessionToken string) (code, verifier string, err error) {
	base, err := url.Parse(c.base)
	if err != nil {
		return "", "", err
	}
	jar, err := cookiejar.New(nil)
	if err != nil {
		return "", "", err
	}
	jar.SetCookies(base, []*http.Cookie{{Name: sessionCookie(c.base), Value: sessionToken, Path: "/"}})
	browser := &http.Client{
		Transport:     c.http.Transport,
		Timeout:       c.http.Timeout,
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	state := randomString(16)
	verifier = randomString(32)
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"client_id":             {oc.id},
		"redirect_uri":          {oc.redirectURI},
		"response_type":         {"code"},
		"scope":                 {oc.scope},
		"state":                 {state},
		"nonce":                 {randomString(16)},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"},
	}
	next := base.ResolveReference(&url.URL{Path: "/authorize", RawQuery: q.Encode()})

	// hop: GET it, expect a redirect, and return where it leads.
	hop := func(step string, u *url.URL) (*url.URL, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
		if err != nil {
			return nil, err
		}
		start := time.Now()
		t.requests++
		res, err := browser.Do(req)
		if err != nil {
			t.step(step, time.Since(start))
			return nil, transportFailure(step, err)
		}
		raw, _ := io.ReadAll(io.LimitReader(res.Body, 1<<20))
		res.Body.Close()
		t.step(step, time.Since(start))
		if res.StatusCode != http.StatusFound && res.StatusCode != http.StatusSeeOther {
			f := &failure{step: step, status: res.StatusCode, sample: pageSample(raw)}
			if step == "continue" && res.StatusCode == http.StatusOK {
				f.reason, f.sample = "consent", "Foyer shows the consent page: create the client with --first-party"
			}
			return nil, f
		}
		loc, err := res.Location()
		if err != nil {
			return nil, &failure{step: step, status: res.StatusCode, reason: "no-location", sample: err.Error()}
		}
		if e := loc.Query().Get("error"); e != "" {
			return nil, &failure{step: step, status: res.StatusCode, reason: e, sample: truncate(e+": "+loc.Query().Get("error_description"), 160)}
		}
		return loc, nil
	}

	cont, err := hop("authorize", next)
	if err != nil {
		return "", "", err
	}
	if cont.Host != base.Host || cont.Path != "/oauth/continue" {
		return "", "", &failure{step: "authorize", status: http.StatusFound, reason: "unexpected-redirect", sample: truncate("redirected to "+cont.Redacted(), 160)}
	}
	back, err := hop("continue", cont)
	if err != nil {
		return "", "", err
	}
	if back.Host == base.Host && back.Path == "/login" {
		return "", "", &failure{step: "continue", status: http.StatusSeeOther, reason: "login",
			sample: "Foyer asks the browser to sign in: the session token was not accepted as the " + sessionCookie(c.base) + " cookie"}
	}
	if got := back.Query().Get("state"); got != state {
		return "", "", &failure{step: "continue", status: http.StatusFound, reason: "state", sample: fmt.Sprintf("state %q in the redirect, want %q", got, state)}
	}
	code = back.Query().Get("code")
	if code == "" {
		return "", "", &failure{step: "continue", status: http.StatusFound, reason: "no-code", sample: truncate("no code in the redirect to "+back.Scheme+"://"+back.Host+back.Path, 160)}
	}
	return code, verifier, nil
}

// pageSample is a short sample of an HTML or JSON answer: its <title>,
// or its start.
func pageSample(raw []byte) string {
	if i := bytes.Index(raw, []byte("<title>")); i >= 0 {
		rest := raw[i+len("<title>"):]
		if j := bytes.Index(rest, []byte("</title>")); j >= 0 {
			return truncate(strings.TrimSpace(string(rest[:j])), 160)
		}
	}
	return describeProblem(raw)
}

// oauthSetupOp signs up a customer (on a server that signs in at sign-up),
// takes them through the authorization code flow and keeps the refresh and
// access tokens as chains[seq].
func oauthSetupOp(c *client, oc *oauthClient, runID string, chains []*chain) operation {
	return func(ctx context.Context, seq int, t *tally) error {
		addr := email(runID, seq)
		fr, err := c.register(ctx, t, addr, newPassword(addr), newDevice())
		if err != nil {
			return err
		}
		if fr.SessionToken == "" {
			return &failure{step: "submit", status: http.StatusOK, reason: "no-session",
				sample: "sign-up did not sign in: start the server with domains.customers.registration.require_verification: false (see bench/README.md)"}
		}
		code, verifier, err := c.authorize(ctx, t, oc, fr.SessionToken)
		if err != nil {
			return err
		}
		tr, err := c.postToken(ctx, t, "exchange", oc, url.Values{
			"grant_type":    {"authorization_code"},
			"code":          {code},
			"redirect_uri":  {oc.redirectURI},
			"code_verifier": {verifier},
		})
		if err != nil {
			return err
		}
		if tr.RefreshToken == "" {
			return &failure{step: "exchange", status: http.StatusOK, reason: "no-refresh-token",
				sample: "no refresh token: the client needs the refresh_token grant and the offline_access scope, and -scope must ask for it"}
		}
		chains[seq] = &chain{Email: addr, RefreshToken: tr.RefreshToken, AccessToken: tr.AccessToken}
		return nil
	}
}

// refreshOp rotates the calling worker's own chain: it presents the
// chain's refresh token and keeps the new one. Workers never share a
// chain, so rotations never race. After a failure the chain keeps its old
// token: if the answer was lost after the server rotated, presenting it
// again within Foyer's grace period (10 s) still works.
func refreshOp(c *client, oc *oauthClient, chains []*chain) operation {
	return func(ctx context.Context, seq int, t *tally) error {
		ch := chains[t.worker]
		tr, err := c.postToken(ctx, t, "refresh", oc, url.Values{
			"grant_type":    {"refresh_token"},
			"refresh_token": {ch.RefreshToken},
		})
		if err != nil {
			return err
		}
		if tr.RefreshToken == "" || tr.RefreshToken == ch.RefreshToken {
			return &failure{step: "refresh", status: http.StatusOK, reason: "no-rotation", sample: "the answer carries no new refresh token"}
		}
		ch.RefreshToken, ch.AccessToken = tr.RefreshToken, tr.AccessToken
		return nil
	}
}

// writeChains writes the chains as JSON lines, readable only by the owner
// (they hold live tokens), and returns how many.
func writeChains(path string, chains []*chain) (int, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	n := 0
	for _, ch := range chains {
		if ch == nil {
			continue // its setup failed
		}
		if err := enc.Encode(ch); err != nil {
			return 0, err
		}
		n++
	}
	if n == 0 {
		return 0, errors.New("tokens: no chain, nothing written")
	}
	// Write a new file and rename it, so that an interrupted write never
	// leaves a file of half the chains.
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, buf.Bytes(), 0o600); err != nil {
		return 0, fmt.Errorf("tokens: write: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return 0, fmt.Errorf("tokens: write: %w", err)
	}
	return n, nil
}

// readChains reads a tokens file written by oauth-setup (or updated by
// refresh).
func readChains(path string) ([]*chain, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tokens: %w (run the oauth-setup scenario first)", err)
	}
	defer f.Close()
	var chains []*chain
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		ch := &chain{}
		if err := json.Unmarshal(sc.Bytes(), ch); err != nil {
			return nil, fmt.Errorf("tokens: %s:%d: %w", path, line, err)
		}
		if ch.RefreshToken == "" {
			return nil, fmt.Errorf("tokens: %s:%d: no refresh_token", path, line)
		}
		chains = append(chains, ch)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("tokens: %s: %w", path, err)
	}
	if len(chains) == 0 {
		return nil, fmt.Errorf("tokens: %s holds no chains (run the oauth-setup scenario first)", path)
	}
	return chains, nil
}
