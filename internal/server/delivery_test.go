package server_test

import (
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/api"
	"github.com/foyer-id/foyer/internal/courier"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

var messageIDRE = regexp.MustCompile(`data-id="([^"]+)"`)

// pageMessages lists the ids of the messages a hosted page shows.
func pageMessages(body string) []string {
	var ids []string
	for _, m := range messageIDRE.FindAllStringSubmatch(body, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

// flowMessages lists the ids of the messages of an API flow.
func flowMessages(t *testing.T, env *servertest.Env, id string) []string {
	t.Helper()
	var f api.FlowResponse
	expectStatus(t, env.JSON(t, "GET", "/api/flows/"+id, "", nil, &f), 200)
	var ids []string
	for _, m := range f.Flow.Messages {
		ids = append(ids, m.ID)
	}
	return ids
}

// failed waits for the latest mail to an address to be given up.
func failed(t *testing.T, env *servertest.Env, to string) {
	t.Helper()
	env.WaitForOutbox(t, to, func(l []courier.Entry) bool { return len(l) > 0 && l[len(l)-1].Status == courier.StatusFailed })
}

// When the mail server refuses a code for good (5xx), the code page stops
// saying the code was sent: it says the code could not be delivered and
// offers another way in, on the hosted page and in the API's flow view.
// A sign-up with the address of an account, which mails the owner a note
// instead, reads the same.
func TestUndeliverableCodeIsShown(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		signUp(t, env, "taken@example.com", goodPassword)
		for _, addr := range []string{"gone@example.com", "taken@example.com", "lost@example.com"} {
			env.SMTP.RejectRecipient(addr)
		}

		// The hosted pages: a new address, and an account's.
		pages := map[string]string{}
		for _, addr := range []string{"gone@example.com", "taken@example.com"} {
			b := env.NewBrowser(t)
			loc := location(t, b.Submit("/registration", url.Values{"email": {addr}, "password": {goodPassword}}))
			failed(t, env, addr)
			page := b.Get(loc)
			expectStatus(t, page, 200)
			if ids := pageMessages(page.Body); !slices.Equal(ids, []string{"code_undeliverable"}) {
				t.Fatalf("%s: the page shows %v, want code_undeliverable alone:\n%s", addr, ids, page.Body)
			}
			if !strings.Contains(page.Body, "We could not deliver the code to "+addr) || strings.Contains(page.Body, "We sent") ||
				!strings.Contains(page.Body, `<a href="/registration">Sign up with another email address</a>`) ||
				!strings.Contains(page.Body, "Send a new code") {
				t.Fatalf("%s: the page does not say the code could not be delivered, or offers no other way:\n%s", addr, page.Body)
			}
			pages[addr] = normalize(page.Body, addr)
		}
		if pages["gone@example.com"] != pages["taken@example.com"] {
			t.Errorf("a taken address reads differently:\n%s\n%s", pages["gone@example.com"], pages["taken@example.com"])
		}

		// The API: a sign-up, and a sign-in by code to an account.
		var start api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/registration", "", nil, &start), 201)
		expectStatus(t, env.JSON(t, "POST", "/api/registration/"+start.Flow.ID, "", map[string]any{
			"traits": map[string]any{"email": "lost@example.com"}, "password": goodPassword}, nil), 200)
		failed(t, env, "lost@example.com")
		if ids := flowMessages(t, env, start.Flow.ID); !slices.Equal(ids, []string{"code_undeliverable"}) {
			t.Fatalf("API sign-up flow messages %v, want code_undeliverable alone", ids)
		}
		var login api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/login", "", nil, &login), 201)
		before := len(env.Outbox(t, "taken@example.com"))
		expectStatus(t, env.JSON(t, "POST", "/api/login/"+login.Flow.ID, "", map[string]any{"identifier": "taken@example.com", "method": "code"}, nil), 200)
		if n := len(env.Outbox(t, "taken@example.com")); n != before+1 {
			t.Fatalf("%d mails stored for the sign-in code, want 1", n-before)
		}
		failed(t, env, "taken@example.com")
		if ids := flowMessages(t, env, login.Flow.ID); !slices.Equal(ids, []string{"login_code_undeliverable"}) {
			t.Fatalf("API sign-in flow messages %v, want login_code_undeliverable alone", ids)
		}
	})
}

// A code the mail server could not take while it lived (a long outage)
// reads as undeliverable too, for a new address and for an account's
// alike, and a code delivered in time does not.
func TestCodeNotDeliveredInTimeIsShown(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		signUp(t, env, "taken@example.com", goodPassword)
		delivered := env.NewBrowser(t)
		deliveredLoc := location(t, delivered.Submit("/registration", url.Values{"email": {"fine@example.com"}, "password": {goodPassword}}))
		env.MailTo(t, "fine@example.com", 1)
		// The mail server has the mail before the outbox records it sent.
		env.WaitForOutbox(t, "fine@example.com", func(l []courier.Entry) bool { return len(l) == 1 && l[0].Status == courier.StatusSent })

		env.SMTP.Close()
		addrs := []string{"new@example.com", "taken@example.com"}
		browsers, locs := map[string]*servertest.Browser{}, map[string]string{}
		for _, addr := range addrs {
			browsers[addr] = env.NewBrowser(t)
			locs[addr] = location(t, browsers[addr].Submit("/registration", url.Values{"email": {addr}, "password": {goodPassword}}))
			if ids := pageMessages(browsers[addr].Get(locs[addr]).Body); !slices.Equal(ids, []string{"code_sent"}) {
				t.Fatalf("%s: before the code expires the page shows %v, want code_sent", addr, ids)
			}
		}
		env.Clock.Advance(16 * time.Minute) // past the code's 15 minutes
		pages := map[string]string{}
		for _, addr := range addrs {
			page := browsers[addr].Get(locs[addr])
			if ids := pageMessages(page.Body); !slices.Equal(ids, []string{"code_undeliverable"}) {
				t.Errorf("%s: once the code expired undelivered the page shows %v, want code_undeliverable", addr, ids)
			}
			pages[addr] = normalize(page.Body, addr)
		}
		if pages[addrs[0]] != pages[addrs[1]] {
			t.Errorf("a taken address reads differently:\n%s\n%s", pages[addrs[0]], pages[addrs[1]])
		}
		if ids := pageMessages(delivered.Get(deliveredLoc).Body); !slices.Equal(ids, []string{"code_sent"}) {
			t.Errorf("a code delivered in time reads %v, want code_sent", ids)
		}
	})
}
