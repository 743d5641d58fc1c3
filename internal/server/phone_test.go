package server_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/api"
	"github.com/foyer-id/foyer/internal/config"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// phoneSchema is an identity schema with an optional phone number.
const phoneSchema = `{
  "type": "object",
  "properties": {
    "email": {"type": "string", "format": "email", "x-foyer-identifier": "email"},
    "name": {"type": "string", "minLength": 1, "maxLength": 200},
    "phone": {"type": "string", "x-foyer-identifier": "phone"}
  },
  "required": ["email"],
  "additionalProperties": false
}`

// smsGateway is an operator's SMS webhook: it keeps what it is sent.
type smsGateway struct {
	mu      sync.Mutex
	sent    []map[string]string
	arrived chan struct{} // closed and replaced when a message arrives
}

func newSMSGateway() *smsGateway { return &smsGateway{arrived: make(chan struct{})} }

func (g *smsGateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var m map[string]string
	if json.Unmarshal(body, &m) != nil || !strings.HasPrefix(r.Header.Get("X-Foyer-Signature"), "sha256=") {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	g.mu.Lock()
	g.sent = append(g.sent, m)
	close(g.arrived)
	g.arrived = make(chan struct{})
	g.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
}

var smsCode = regexp.MustCompile(`^(\d{6}) is your`)

// wait returns the texts of the first n messages to a number that
// contain part, waiting (up to 20 s) for them, woken by each arrival.
func (g *smsGateway) wait(t *testing.T, to, part string, n int) []string {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		var got []string
		g.mu.Lock()
		for _, m := range g.sent {
			if m["to"] == to && strings.Contains(m["text"], part) {
				got = append(got, m["text"])
			}
		}
		arrived := g.arrived
		g.mu.Unlock()
		if len(got) >= n {
			return got[:n]
		}
		select {
		case <-arrived:
		case <-timeout:
			t.Fatalf("%d of %d text messages to %s saying %q", len(got), n, to, part)
		}
	}
}

// code waits for the n-th text message to a number and returns its code.
func (g *smsGateway) code(t *testing.T, to string, n int) string {
	t.Helper()
	text := g.wait(t, to, "", n)[n-1]
	c := smsCode.FindStringSubmatch(text)
	if c == nil || !strings.Contains(text, "#"+c[1]) {
		t.Fatalf("text message: %q", text)
	}
	return c[1]
}

// waitFor waits for a text message to a number that contains part.
func (g *smsGateway) waitFor(t *testing.T, to, part string) string {
	t.Helper()
	return g.wait(t, to, part, 1)[0]
}

func (g *smsGateway) count(to string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := 0
	for _, m := range g.sent {
		if m["to"] == to {
			n++
		}
	}
	return n
}

// withPhones gives the server a schema with a phone number and an SMS
// webhook.
func withPhones(t *testing.T, gw *smsGateway) servertest.Option {
	path := filepath.Join(t.TempDir(), "schema.json")
	if err := os.WriteFile(path, []byte(phoneSchema), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gw)
	t.Cleanup(srv.Close)
	return func(c *config.Config) {
		c.Domains[config.DefaultDomain].IdentitySchema = path
		c.SMS.WebhookURL, c.SMS.WebhookSecret = srv.URL, "gateway secret"
	}
}

// A customer adds a mobile number, proved by a code by text message
// through the operator's SMS webhook; the number then recovers the
// account — as an address does, without telling who has an account.
func TestPhoneAddAndRecovery(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		gw := newSMSGateway()
		env := servertest.Start(t, db, withPhones(t, gw))
		const email, phone = "pia.phone@example.com", "+447946000123"

		// Not at sign-up: a number is proved first.
		var reg api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/registration", "", nil, &reg), 201)
		p := expectProblem(t, env.JSON(t, "POST", "/api/registration/"+reg.Flow.ID, "", map[string]any{
			"traits": map[string]any{"email": "x@example.com", "phone": phone}, "password": goodPassword}, nil), 400, "invalid-input")
		if p.Errors[0].ID != "phone_after_sign_up" {
			t.Fatalf("phone at sign-up: %+v", p)
		}

		tok := signUpAPI(t, env, email).SessionToken
		expectProblem(t, env.JSON(t, "POST", "/api/settings/phone", tok, map[string]any{"phone": "07946 000123"}, nil), 400, "invalid-input")
		var started, done api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/settings/phone", tok, map[string]any{"phone": "+44 7946 000123"}, &started), 200)
		if started.Flow.Type != "phone_change" || started.Flow.State != "verify" || started.Flow.Phone != phone {
			t.Fatalf("phone change: %+v", started.Flow)
		}
		expectStatus(t, env.JSON(t, "POST", "/api/flows/"+started.Flow.ID+"/code", "", map[string]any{"code": gw.code(t, phone, 1)}, &done), 200)
		who, _ := whoami(t, env, tok)
		var ph struct{ Value string }
		for _, x := range who.Identity.Identifiers {
			if x.Kind == "phone" && x.Verified {
				ph.Value = x.Value
			}
		}
		if ph.Value != phone || !strings.Contains(string(who.Identity.Traits), phone) {
			t.Fatalf("after the code: %+v %s", who.Identity.Identifiers, who.Identity.Traits)
		}
		if m := env.LatestMail(t, email, "Security change on your Foyer account"); !strings.Contains(m.Text, "the phone number "+phone+" was added") || !revertLink.MatchString(m.Text) {
			t.Fatalf("notice:\n%s", m.Text)
		}

		// A number new in the cool-off recovers nothing yet.
		var early api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/recovery", "", nil, &early), 201)
		expectStatus(t, env.JSON(t, "POST", "/api/recovery/"+early.Flow.ID, "", map[string]any{"phone": phone}, nil), 200)
		if gw.count(phone) != 1 {
			t.Fatal("a number added in the cool-off got a recovery code")
		}
		env.Clock.Advance(73 * time.Hour)

		// Recovery by text message, answered alike for a number with no
		// account.
		answer := func(number string) (api.FlowResponse, string) {
			var start, sent api.FlowResponse
			expectStatus(t, env.JSON(t, "POST", "/api/recovery", "", nil, &start), 201)
			r := env.JSON(t, "POST", "/api/recovery/"+start.Flow.ID, "", map[string]any{"phone": number}, &sent)
			expectStatus(t, r, 200)
			return start, normalize(strings.ReplaceAll(r.Body, number, "<phone>"), "")
		}
		_, unknown := answer("+15550104477")
		start, known := answer(phone)
		if known != unknown {
			t.Fatalf("answers differ:\nknown   %s\nunknown %s", known, unknown)
		}
		if gw.count("+15550104477") != 0 {
			t.Fatal("a text message to a number with no account")
		}
		var proven, recovered api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/flows/"+start.Flow.ID+"/code", "", map[string]any{"code": gw.code(t, phone, 2)}, &proven), 200)
		if proven.Flow.State != "password" || proven.Flow.Email != email {
			t.Fatalf("after the text message's code: %+v", proven.Flow)
		}
		expectStatus(t, env.JSON(t, "POST", "/api/recovery/"+start.Flow.ID, "", map[string]any{"password": newPassword}, &recovered), 200)
		if recovered.Session.AAL != "aal1" || !slices.Equal(recovered.Session.Methods, []string{"sms_code"}) {
			t.Fatalf("session of a recovery by phone: %+v", recovered.Session)
		}
		if who, _ := whoami(t, env, recovered.SessionToken); !who.RecentlyRecovered {
			t.Fatal("a recovery by phone left the account unrestricted")
		}
		// Every verified channel is told: the phone by text message.
		if text := gw.waitFor(t, phone, "recovered with a code by text message"); !strings.Contains(text, "/revert?token=fyr_") {
			t.Fatalf("notice by text message: %q", text)
		}
		// In the cool-off the number does not change either.
		p = expectProblem(t, env.JSON(t, "POST", "/api/settings/phone", recovered.SessionToken, map[string]any{"phone": "+447946000999"}, nil), 409, "refused")
		if p.Errors[0].ID != "recently_recovered" {
			t.Fatalf("phone change in the cool-off: %+v", p)
		}
		// A later change of number: the replaced number is told, without
		// the link that would take it back.
		env.Clock.Advance(73 * time.Hour)
		var fresh, next api.FlowResponse
		expectStatus(t, signInAPI(t, env, email, newPassword, &fresh), 200)
		const other = "+447946000999"
		expectStatus(t, env.JSON(t, "POST", "/api/settings/phone", fresh.SessionToken, map[string]any{"phone": other}, &next), 200)
		expectStatus(t, env.JSON(t, "POST", "/api/flows/"+next.Flow.ID+"/code", "", map[string]any{"code": gw.code(t, other, 1)}, nil), 200)
		if text := gw.waitFor(t, phone, "was changed to "+other); strings.Contains(text, "/revert") {
			t.Fatalf("the replaced number got the revert link: %q", text)
		}
		if m := env.LatestMail(t, email, "Security change on your Foyer account"); !revertLink.MatchString(m.Text) {
			t.Fatalf("the address got no revert link:\n%s", m.Text)
		}
	})
}

// Without a phone trait in the schema, numbers are off.
func TestPhonesOffWithoutTrait(t *testing.T) {
	env := servertest.Start(t, storetest.NewSQLite(t))
	tok := signUpAPI(t, env, "nophone@example.com").SessionToken
	p := expectProblem(t, env.JSON(t, "POST", "/api/settings/phone", tok, map[string]any{"phone": "+447946000123"}, nil), 400, "invalid-input")
	if p.Errors[0].ID != "phones_off" {
		t.Fatalf("phones without a trait: %+v", p)
	}
	expectStatus(t, env.NewBrowser(t).Get("/account/phone"), 404)
}

// The hosted pages for phones, as a customer uses them: add a number on
// /account/phone (the code page, then done), then recover with it from
// "Use your phone number instead" on /recovery.
func TestPhoneHostedPages(t *testing.T) {
	gw := newSMSGateway()
	env := servertest.Start(t, storetest.NewSQLite(t), withPhones(t, gw))
	const email, phone = "hosted.phone@example.com", "+447946000444"
	signUpAPI(t, env, email)
	b := env.NewBrowser(t)
	signInBrowser(t, b, email, goodPassword)
	if acct := b.Get("/account"); !strings.Contains(acct.Body, `href="/account/phone"`) {
		t.Fatalf("the account page offers no phone:\n%s", acct.Body)
	}
	page := b.Get("/account/phone")
	if !strings.Contains(page.Body, `type="tel"`) || !strings.Contains(page.Body, `autocomplete="tel"`) {
		t.Fatalf("phone page:\n%s", page.Body)
	}
	loc := location(t, b.Post("/account/phone", url.Values{"csrf_token": {servertest.CSRF(t, page.Body)}, "phone": {"+44 7946 000444"}}))
	codePage := b.Get(loc)
	if !strings.Contains(codePage.Body, `autocomplete="one-time-code"`) || !strings.Contains(codePage.Body, "Check your phone") {
		t.Fatalf("code page:\n%s", codePage.Body)
	}
	done := b.Get(location(t, b.Post(loc, url.Values{"csrf_token": {servertest.CSRF(t, codePage.Body)}, "code": {gw.code(t, phone, 1)}})))
	if !strings.Contains(done.Body, `data-id="phone_changed"`) || !strings.Contains(done.Body, phone[1:]+".") {
		t.Fatalf("after the code:\n%s", done.Body)
	}

	env.Clock.Advance(73 * time.Hour) // a new number recovers nothing in the cool-off
	r := env.NewBrowser(t)
	rec := r.Get("/recovery")
	if !strings.Contains(rec.Body, "Use your phone number instead") {
		t.Fatalf("recovery page:\n%s", rec.Body)
	}
	loc = location(t, r.Post("/recovery", url.Values{"csrf_token": {servertest.CSRF(t, rec.Body)}, "method": {"phone"}, "phone": {phone}}))
	codePage = r.Get(loc)
	loc = location(t, r.Post(loc, url.Values{"csrf_token": {servertest.CSRF(t, codePage.Body)}, "code": {gw.code(t, phone, 2)}}))
	pwPage := r.Get(loc)
	if !strings.Contains(pwPage.Body, `autocomplete="new-password"`) || !strings.Contains(pwPage.Body, `value="`+email+`"`) {
		t.Fatalf("new password page:\n%s", pwPage.Body)
	}
	if got := location(t, r.Post(loc, url.Values{"csrf_token": {servertest.CSRF(t, pwPage.Body)}, "password": {newPassword}})); got != "/account" {
		t.Fatalf("after the new password: %q", got)
	}
}
