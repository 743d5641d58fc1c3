package oidc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/foyer-id/foyer/internal/api"
	"github.com/foyer-id/foyer/internal/client"
	"github.com/foyer-id/foyer/internal/credential/passkey/passkeytest"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// A customer whose only stronger factor is a passkey steps up with it when
// an app asks for aal2.
func TestACRValuesStepUpWithPasskey(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db, servertest.Localhost())
		signUp(t, env, "wes@example.com")
		p := newRP(t, env, client.Spec{FirstParty: ptr(true)})
		ctx := context.Background()
		code, verifier, _ := p.authorize("wes@example.com") // signs the browser in at aal1
		if _, err := p.oauth.Exchange(ctx, code, oauth2.VerifierOption(verifier)); err != nil {
			t.Fatal(err)
		}
		// Add a passkey with the browser's session (the cookie is a session token).
		tok := p.browser.Cookie("foyer_session")
		auth := passkeytest.New(t, env.URL, "localhost")
		var opts api.PasskeyOptions
		env.JSON(t, "POST", "/api/passkeys/options", tok, nil, &opts)
		resp, soft := auth.Register(opts.Options)
		if r := env.JSON(t, "POST", "/api/passkeys", tok, map[string]any{"challenge_id": opts.ChallengeID, "credential": json.RawMessage(resp)}, nil); r.StatusCode != 201 {
			t.Fatalf("add passkey: %d %s", r.StatusCode, r.Body)
		}

		// The app asks for aal2: step-up, with the passkey, as the page's script would.
		verifier = oauth2.GenerateVerifier()
		r := p.browser.Get(strings.TrimPrefix(p.oauth.AuthCodeURL("s", oauth2.S256ChallengeOption(verifier), gooidc.Nonce("n"), oauth2.SetAuthURLParam("acr_values", "aal2")), env.URL))
		next := p.browser.Get(r.Header.Get("Location"))
		stepup := next.Header.Get("Location")
		if !strings.HasPrefix(stepup, "/stepup?") {
			t.Fatalf("no step-up: %q", stepup)
		}
		page := p.browser.Get(stepup)
		if !strings.Contains(page.Body, `id="passkey-login"`) {
			t.Fatalf("step-up page offers no passkey:\n%s", page.Body)
		}
		csrf := servertest.CSRF(t, page.Body)
		js := func(path string, body any, out any) {
			raw, _ := json.Marshal(body)
			req, _ := http.NewRequest("POST", env.URL+path, bytes.NewReader(raw))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-CSRF-Token", csrf)
			req.Header.Set("Origin", env.URL)
			req.Header.Set("Sec-Fetch-Site", "same-origin")
			res, err := p.browser.HTTP.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer res.Body.Close()
			if res.StatusCode != 200 {
				t.Fatalf("%s: %d", path, res.StatusCode)
			}
			_ = json.NewDecoder(res.Body).Decode(out)
		}
		var lo api.PasskeyOptions
		js("/passkeys/login/options", map[string]any{}, &lo)
		u, _ := url.Parse(stepup)
		var done struct{ Redirect string }
		js("/passkeys/login", map[string]any{"challenge_id": lo.ChallengeID, "credential": json.RawMessage(auth.Get(lo.Options, soft, passkeytest.Tamper{})),
			"return_to": u.Query().Get("return_to")}, &done)
		acr, amr := p.finishWithACR(done.Redirect, verifier)
		if acr != "aal2" || !slices.Contains(amr, "passkey") || !slices.Contains(amr, "mfa") {
			t.Fatalf("claims: acr %s amr %v", acr, amr)
		}
	})
}
