package server_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/google/uuid"
	pqtotp "github.com/pquerna/otp/totp"

	"github.com/foyer-id/foyer/internal/api"
	"github.com/foyer-id/foyer/internal/client"
	"github.com/foyer-id/foyer/internal/config"
	"github.com/foyer-id/foyer/internal/credential/passkey/passkeytest"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// User-Agents of the browsers the tests pretend to be.
const (
	safariOnMac     = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15"
	chromeOnWindows = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
	chromeOnAndroid = "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36"
)

var (
	downloadRE  = regexp.MustCompile(`<a class="button-link" href="data:text/plain;charset=utf-8,([^"]*)" download="([^"]+)">`)
	keyGroupsRE = regexp.MustCompile(`<code class="key-groups">(.*?)</code>`)
	keyURIRE    = regexp.MustCompile(`<a href="(otpauth://[^"]+)" class="key-uri">`)
)

// acmeShop names the product "Acme Shop", which the recovery codes' file
// is named after.
func acmeShop(c *config.Config) { c.Domains[config.DefaultDomain].ProductName = "Acme Shop" }

// codesFile returns the text and name of the recovery codes' file a
// page's Download link carries.
func codesFile(t *testing.T, page string) (text, name string) {
	t.Helper()
	m := downloadRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no download link for the recovery codes:\n%s", page)
	}
	text, err := url.PathUnescape(html.UnescapeString(m[1]))
	if err != nil {
		t.Fatalf("download link %q: %v", m[1], err)
	}
	return text, m[2]
}

// expectCodesSheet checks what a page that shows new recovery codes
// offers: the codes, a file of them that needs no script, and the copy
// and print buttons, hidden until the script shows them.
func expectCodesSheet(t *testing.T, page, email string) {
	t.Helper()
	var codes []string
	for _, c := range recoveryRE.FindAllStringSubmatch(page, -1) {
		codes = append(codes, c[1])
	}
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes shown:\n%s", len(codes), page)
	}
	text, name := codesFile(t, page)
	if name != "acme-shop-recovery-codes.txt" {
		t.Errorf("the file is named %q", name)
	}
	lines := strings.Split(text, "\n")
	if lines[0] != "Acme Shop recovery codes" || lines[1] != "Account: "+email || !strings.HasPrefix(lines[2], "Made on ") {
		t.Errorf("the file's heading:\n%s", text)
	}
	for _, c := range codes {
		if !slices.Contains(lines, c) {
			t.Errorf("the file lacks the code %s:\n%s", c, text)
		}
	}
	for _, want := range []string{
		`data-copy="recovery-codes" data-status="codes-status"`, `id="codes-status" role="status"`,
		`data-print hidden>Print</button>`, `hidden>Copy codes</button>`,
		`<p class="print-only">Acme Shop recovery codes · ` + email + ` · `,
		`<script src="/assets/account.js" defer></script>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("the page lacks %s", want)
		}
	}
}

// The authenticator app's set-up shows the key in blocks to type and
// whole to copy, links the key URI for an app on the same device, and
// says the app is on once confirmed; the recovery codes then come with a
// file to download, and buttons to copy and print.
func TestAuthenticatorSetUpAndRecoveryCodesSheet(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db, acmeShop)
		const email = "ines@example.com"
		b := signUp(t, env, email, goodPassword)
		page := b.Get("/account")
		if !strings.Contains(page.Body, `<dd id="two-factor-state"><span class="badge">Off</span>`) {
			t.Fatalf("the two-factor row does not say it is off:\n%s", page.Body)
		}

		// No app yet: nothing to ask about turning off.
		if loc := location(t, b.Get("/account/two-factor/remove")); loc != "/account/two-factor" {
			t.Fatalf("asking to turn off an app never set up went to %q", loc)
		}

		location(t, b.Post("/account/two-factor/setup", url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}}))
		page = b.Get("/account/two-factor")
		secret := secretRE.FindStringSubmatch(page.Body)[1]
		groups := keyGroupsRE.FindStringSubmatch(page.Body)
		if groups == nil {
			t.Fatalf("no grouped key:\n%s", page.Body)
		}
		blocks := regexp.MustCompile(`<span>([A-Z2-7]+)</span>`).FindAllStringSubmatch(groups[1], -1)
		var whole string
		for i, g := range blocks {
			if len(g[1]) > 4 || (len(g[1]) < 4 && i < len(blocks)-1) {
				t.Errorf("block %d of the key is %q", i, g[1])
			}
			whole += g[1]
		}
		if whole != secret || len(blocks) < 4 {
			t.Fatalf("the blocks %q are not the key %s", blocks, secret)
		}
		m := keyURIRE.FindStringSubmatch(page.Body)
		if m == nil {
			t.Fatalf("no link to the key URI:\n%s", page.Body)
		}
		uri, err := url.Parse(html.UnescapeString(m[1]))
		if err != nil || uri.Scheme != "otpauth" || uri.Host != "totp" || uri.Query().Get("secret") != secret ||
			uri.Query().Get("issuer") != "Acme Shop" || !strings.Contains(uri.Path, email) {
			t.Fatalf("key URI %q (%v)", m[1], err)
		}
		if !strings.Contains(page.Body, `data-copy="totp-secret"`) || !strings.Contains(page.Body, `hidden>Copy key</button>`) {
			t.Fatalf("no copy button for the key:\n%s", page.Body)
		}

		code, _ := pqtotp.GenerateCode(secret, env.Clock.Now())
		done := b.Post("/account/two-factor/confirm", url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "code": {code}})
		expectStatus(t, done, 200)
		if !strings.Contains(done.Body, `role="status" data-id="two_factor_turned_on">Two-factor authentication is on`) {
			t.Fatalf("the page does not say two-factor authentication is on:\n%s", done.Body)
		}
		expectCodesSheet(t, done.Body, email)
		if page := b.Get("/account"); !strings.Contains(page.Body, `<dd id="two-factor-state"><span class="badge ok">On — authenticator app</span>`) {
			t.Fatalf("the two-factor row does not say the app is on:\n%s", page.Body)
		}

		// A new set later is no news about the app.
		stepUpWithApp(t, env, b, secret)
		page = b.Get("/account/two-factor")
		again := b.Post("/account/two-factor/recovery-codes", url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}})
		expectStatus(t, again, 200)
		if strings.Contains(again.Body, "two_factor_turned_on") {
			t.Fatalf("new codes say the app was turned on:\n%s", again.Body)
		}
		expectCodesSheet(t, again.Body, email)
	})
}

// stepUpWithApp raises b's session to aal2, freshly, with a code from the
// authenticator app of secret.
func stepUpWithApp(t *testing.T, env *servertest.Env, b *servertest.Browser, secret string) {
	t.Helper()
	env.Clock.Advance(30 * time.Second) // a code not used before
	page := b.Get("/stepup")
	code, _ := pqtotp.GenerateCode(secret, env.Clock.Now())
	location(t, b.Post("/stepup", url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "kind": {"totp"}, "code": {code}}))
}

// addHostedPasskey adds a passkey from the account page's script calls,
// as a browser with the given User-Agent and language, from an
// authenticator of the given AAGUID (all zeros: ""), and returns the
// name Foyer gave it.
func addHostedPasskey(t *testing.T, env *servertest.Env, b *servertest.Browser, auth *passkeytest.Authenticator, name, aaguid, userAgent, lang string) string {
	t.Helper()
	csrf := servertest.CSRF(t, b.Get("/account").Body)
	call := func(path string, body, out any) {
		t.Helper()
		raw, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", env.URL+path, bytes.NewReader(raw))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-CSRF-Token", csrf)
		req.Header.Set("Origin", env.URL)
		req.Header.Set("Sec-Fetch-Site", "same-origin")
		req.Header.Set("User-Agent", userAgent)
		if lang != "" {
			req.Header.Set("Accept-Language", lang)
		}
		resp, err := b.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		answer, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST %s: %d %s", path, resp.StatusCode, answer)
		}
		if err := json.Unmarshal(answer, out); err != nil {
			t.Fatalf("POST %s: %v: %s", path, err, answer)
		}
	}
	var opts struct {
		Options     json.RawMessage `json:"options"`
		ChallengeID string          `json:"challenge_id"`
	}
	call("/account/passkeys/options", map[string]any{}, &opts)
	resp, _ := auth.Register(opts.Options)
	if aaguid != "" {
		resp = withAAGUID(t, resp, aaguid)
	}
	var added struct{ ID, Name string }
	call("/account/passkeys", map[string]any{"challenge_id": opts.ChallengeID, "name": name, "credential": json.RawMessage(resp)}, &added)
	return added.Name
}

// withAAGUID returns a registration response of the software
// authenticator as if its authenticator had the given AAGUID (a "none"
// attestation signs nothing of it).
func withAAGUID(t *testing.T, response []byte, aaguid string) []byte {
	t.Helper()
	id := uuid.MustParse(aaguid)
	var msg map[string]any
	if err := json.Unmarshal(response, &msg); err != nil {
		t.Fatal(err)
	}
	r := msg["response"].(map[string]any)
	raw, err := base64.RawURLEncoding.DecodeString(r["attestationObject"].(string))
	if err != nil {
		t.Fatal(err)
	}
	var att map[string]any
	if err := cbor.Unmarshal(raw, &att); err != nil {
		t.Fatal(err)
	}
	authData := att["authData"].([]byte)
	copy(authData[37:53], id[:]) // after the RP id hash, flags and counter
	enc, _ := cbor.CTAP2EncOptions().EncMode()
	if raw, err = enc.Marshal(att); err != nil {
		t.Fatal(err)
	}
	r["attestationObject"], r["authenticatorData"] = base64.RawURLEncoding.EncodeToString(raw), base64.RawURLEncoding.EncodeToString(authData)
	out, _ := json.Marshal(msg)
	return out
}

// A passkey the customer does not name is named after its provider and
// the device it was made on, in the page's language; the first one comes
// with recovery codes to copy, download and print.
func TestPasskeyNamedAfterItsProvider(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db, servertest.Localhost(), acmeShop)
		const email = "noor@example.com"
		b := signUp(t, env, email, goodPassword)
		auth := passkeytest.New(t, env.URL, "localhost")
		if got := addHostedPasskey(t, env, b, auth, "", "fbfc3007-154e-4ecc-8c0b-6e020557d7bd", safariOnMac, ""); got != "iCloud Keychain on macOS" {
			t.Fatalf("passkey named %q", got)
		}
		page := b.Get("/account")
		if !strings.Contains(page.Body, "<strong>iCloud Keychain on macOS</strong>") {
			t.Fatalf("the account page does not list the passkey by its name:\n%s", page.Body)
		}
		if !strings.Contains(page.Body, `<span class="badge ok">On — passkey</span>`) {
			t.Fatalf("the two-factor row does not say a passkey is the second factor:\n%s", page.Body)
		}
		expectCodesSheet(t, page.Body, email)
	})

	// Every case on a new account: each is its first passkey.
	env := servertest.Start(t, storetest.NewSQLite(t), servertest.Localhost())
	for i, tc := range []struct{ aaguid, ua, lang, name, want string }{
		{"", chromeOnWindows, "", "", "Passkey on Windows"},
		{"", chromeOnWindows, "de", "", "Passkey auf Windows"},
		{"", "curl/8.5.0", "", "", "Passkey"},
		{"ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4", chromeOnAndroid, "", "", "Google Password Manager on Android"},
		{"ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4", chromeOnAndroid, "ja", "", "AndroidのGoogle Password Manager"},
		{"08987058-cadc-4b81-b6e1-30de50dcbe96", chromeOnWindows, "", "", "Windows Hello"},
		{"ee882879-721c-4913-9775-3dfcce97072a", safariOnMac, "", "", "YubiKey 5 Series"},
		{"ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4", chromeOnAndroid, "", " My phone ", "My phone"}, // the customer's name wins
	} {
		b := signUp(t, env, "naming"+string(rune('a'+i))+"@example.com", goodPassword)
		auth := passkeytest.New(t, env.URL, "localhost")
		if got := addHostedPasskey(t, env, b, auth, tc.name, tc.aaguid, tc.ua, tc.lang); got != tc.want {
			t.Errorf("AAGUID %q, %q, %q: named %q, want %q", tc.aaguid, tc.ua, tc.lang, got, tc.want)
		}
	}

	// An app's passkey, added through the JSON API without a name, is
	// named the same way (in English) from the app's User-Agent.
	for i, tc := range []struct{ aaguid, ua, want string }{
		{"ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4", chromeOnAndroid, "Google Password Manager on Android"},
		{"fbfc3007-154e-4ecc-8c0b-6e020557d7bd", "Shop/4.2 CFNetwork/1494.0.7 Darwin/23.4.0", "iCloud Keychain"},
		{"", "okhttp/4.12.0", "Passkey"},
	} {
		tok := signUpAPI(t, env, "app-naming"+string(rune('a'+i))+"@example.com").SessionToken
		h := http.Header{"Authorization": {"Bearer " + tok}, "User-Agent": {tc.ua}}
		var opts api.PasskeyOptions
		expectStatus(t, env.JSONWith(t, "POST", "/api/passkeys/options", h, nil, &opts), 200)
		resp, _ := passkeytest.New(t, env.URL, "localhost").Register(opts.Options)
		if tc.aaguid != "" {
			resp = withAAGUID(t, resp, tc.aaguid)
		}
		var added api.AddedPasskey
		expectStatus(t, env.JSONWith(t, "POST", "/api/passkeys", h, map[string]any{"challenge_id": opts.ChallengeID, "credential": json.RawMessage(resp)}, &added), 201)
		if added.Credential == nil || added.Name != tc.want {
			t.Errorf("API, AAGUID %q, %q: named %+v, want %q", tc.aaguid, tc.ua, added.Credential, tc.want)
		}
	}
}

// Removing a passkey, turning the authenticator app off, signing another
// device out and removing an app's access each ask first, on a page that
// needs no script; the account page then says what happened.
func TestRemovalsAskFirst(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db, servertest.Localhost())
		const email = "olga@example.com"
		b := signUp(t, env, email, goodPassword)
		var elsewhere api.FlowResponse
		expectStatus(t, signInAPI(t, env, email, goodPassword, &elsewhere), 200)
		secret, _ := enrolTOTP(t, env, b)
		stepUpWithApp(t, env, b, secret)
		auth := passkeytest.New(t, env.URL, "localhost")
		addHostedPasskey(t, env, b, auth, "Work laptop", "", safariOnMac, "")
		addHostedPasskey(t, env, b, auth, "Phone", "", chromeOnAndroid, "")
		tok := b.Cookie("foyer_session")
		who, _ := whoami(t, env, tok)

		// A passkey: the account page links to the question, which
		// changes nothing; its button removes the passkey.
		acct := b.Get("/account")
		m := regexp.MustCompile(`(?s)<strong>Work laptop</strong>.*?<a href="(/account/passkeys/delete\?id=[^"]+)" class="action"`).FindStringSubmatch(acct.Body)
		if m == nil || strings.Contains(acct.Body, `action="/account/passkeys/delete"`) {
			t.Fatalf("the account page does not link to the passkey's removal:\n%s", acct.Body)
		}
		ask := b.Get(html.UnescapeString(m[1]))
		expectStatus(t, ask, 200)
		expectQuestion(t, ask.Body, "Remove the passkey “Work laptop”?", "/account/passkeys/delete", "Remove passkey", "/account#passkeys")
		if !strings.Contains(b.Get("/account").Body, "<strong>Work laptop</strong>") {
			t.Fatal("asking removed the passkey")
		}
		fields := hiddenFields(ask.Body)
		forged := url.Values{"id": fields["id"]}
		expectStatus(t, b.Post("/account/passkeys/delete", forged), 403)
		loc := location(t, b.Post("/account/passkeys/delete", fields))
		if !strings.HasPrefix(loc, "/account?done=") || !strings.HasSuffix(loc, "#passkeys") {
			t.Fatalf("after removing the passkey: %q", loc)
		}
		acct = b.Get(strings.TrimSuffix(loc, "#passkeys"))
		if !strings.Contains(acct.Body, `data-id="passkey_removed">The passkey “Work laptop” is removed`) || strings.Contains(acct.Body, "<strong>Work laptop</strong>") {
			t.Fatalf("the account page after removing the passkey:\n%s", acct.Body)
		}
		// The note is sealed for its customer: altered, or someone
		// else's, it says nothing.
		other := signUp(t, env, "pavel@example.com", goodPassword)
		doneURL := strings.TrimSuffix(loc, "#passkeys")
		for _, p := range []struct {
			b   *servertest.Browser
			url string
		}{{other, doneURL}, {b, doneURL[:len(doneURL)-6] + "AAAA%3D"}, {b, "/account?done=eyJpZCI6InBhc3NrZXlfcmVtb3ZlZCJ9"}} {
			if page := p.b.Get(p.url); strings.Contains(page.Body, "passkey_removed") {
				t.Fatalf("%s shows a note it should not:\n%s", p.url, page.Body)
			}
		}

		// The authenticator app (a passkey stays beside it).
		page := b.Get("/account/two-factor")
		if !strings.Contains(page.Body, `<a href="/account/two-factor/remove">`) {
			t.Fatalf("the two-factor page does not link to turning the app off:\n%s", page.Body)
		}
		ask = b.Get("/account/two-factor/remove")
		expectStatus(t, ask, 200)
		expectQuestion(t, ask.Body, "Turn off your authenticator app?", "/account/two-factor/remove", "Turn off", "/account/two-factor")
		if loc := location(t, b.Post("/account/two-factor/remove", hiddenFields(ask.Body))); loc != "/account?changed=authenticator_app_off" {
			t.Fatalf("after turning the app off: %q", loc)
		}
		acct = b.Get("/account?changed=authenticator_app_off")
		if !strings.Contains(acct.Body, `data-id="authenticator_app_off">Your authenticator app is turned off`) ||
			!strings.Contains(acct.Body, `<span class="badge ok">On — passkey</span>`) {
			t.Fatalf("the account page after turning the app off:\n%s", acct.Body)
		}

		// Another device (signed in before the second factors came).
		acct = b.Get("/account")
		links := regexp.MustCompile(`<a href="(/account/sessions/revoke\?session_id=[^"]+)" class="action"`).FindAllStringSubmatch(acct.Body, -1)
		if len(links) == 0 || strings.Contains(acct.Body, `<input type="hidden" name="session_id"`) {
			t.Fatalf("the account page does not link to signing a device out:\n%s", acct.Body)
		}
		ask = b.Get(html.UnescapeString(links[0][1]))
		expectStatus(t, ask, 200)
		expectQuestion(t, ask.Body, "Sign out ", "/account/sessions/revoke", "Sign out device", "/account#devices")
		gone := hiddenFields(ask.Body).Get("session_id")
		if loc := location(t, b.Post("/account/sessions/revoke", hiddenFields(ask.Body))); loc != "/account?changed=devices#devices" {
			t.Fatalf("after signing the device out: %q", loc)
		}
		if strings.Contains(b.Get("/account").Body, gone) {
			t.Fatal("the device signed out is still listed")
		}
		if _, st := whoami(t, env, elsewhere.SessionToken); st != 401 {
			t.Fatalf("the device signed out still works: %d", st)
		}
		// This device is signed out with /logout, not asked about here.
		if loc := location(t, b.Get("/account/sessions/revoke?session_id="+url.QueryEscape(who.Session.ID))); loc != "/account#devices" {
			t.Fatalf("asking to sign out this device went to %q", loc)
		}

		// An app's access, listed in words.
		shop, _, err := env.Server.Clients.Create(t.Context(), config.DefaultDomain, client.Spec{Name: ptrTo("Shop"),
			RedirectURIs: &[]string{"https://shop.example/callback"}})
		if err != nil {
			t.Fatal(err)
		}
		if err := env.Server.OIDC.GrantConsent(t.Context(), who.Session.IdentityID, shop.ID, []string{"openid", "email", "offline_access", "orders:read"}); err != nil {
			t.Fatal(err)
		}
		acct = b.Get("/account")
		for _, want := range []string{"<li>Know who you are when you sign in</li>", "<li>See your email address</li>",
			"<li>Stay connected while you are away</li>", "<li>Access: orders:read</li>"} {
			if !strings.Contains(acct.Body, want) {
				t.Errorf("the account page does not list %s", want)
			}
		}
		if strings.Contains(acct.Body, "offline_access") {
			t.Errorf("the account page names a scope:\n%s", acct.Body)
		}
		ask = b.Get("/account/consents/remove?client_id=" + url.QueryEscape(shop.ID))
		expectStatus(t, ask, 200)
		expectQuestion(t, ask.Body, "Remove access for Shop?", "/account/consents/remove", "Remove access", "/account#apps")
		expectStatus(t, b.Post("/account/consents/remove", url.Values{"client_id": {shop.ID}}), 403)
		loc = location(t, b.Post("/account/consents/remove", hiddenFields(ask.Body)))
		if !strings.HasPrefix(loc, "/account?done=") || !strings.HasSuffix(loc, "#apps") {
			t.Fatalf("after removing the app's access: %q", loc)
		}
		acct = b.Get(strings.TrimSuffix(loc, "#apps"))
		if !strings.Contains(acct.Body, `data-id="consent_removed">Shop can no longer access your account.`) || strings.Contains(acct.Body, "<strong>Shop</strong>") {
			t.Fatalf("the account page after removing the app's access:\n%s", acct.Body)
		}
		if left, err := env.Server.OIDC.Consents.List(t.Context(), who.Session.IdentityID); err != nil || len(left) != 0 {
			t.Fatalf("consents left: %+v %v", left, err)
		}
	})
}

// expectQuestion checks a removal's confirmation page: its title, the
// form that does it (with its CSRF token) and the way back.
func expectQuestion(t *testing.T, page, title, action, button, cancel string) {
	t.Helper()
	for _, want := range []string{"<h1>" + title, `<form method="post" action="` + action + `" class="confirm">`,
		`<input type="hidden" name="csrf_token" value="`, `<button type="submit" class="danger">` + button + `</button>`,
		`<a href="` + cancel + `">Cancel</a>`} {
		if !strings.Contains(page, want) {
			t.Fatalf("the question lacks %s:\n%s", want, page)
		}
	}
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="([^"]+)" value="([^"]*)">`)

// hiddenFields are the hidden inputs of a page, as its form sends them.
func hiddenFields(page string) url.Values {
	v := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(page, -1) {
		v.Set(m[1], html.UnescapeString(m[2]))
	}
	return v
}
