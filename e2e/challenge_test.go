package e2e

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/event"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// A customer behind a busy address (someone there failed to sign in many
// times) signs in as usual: the sign-in page carries a proof-of-work
// challenge, the browser solves it while the customer types, and the form
// goes with the answer — even when the customer is quicker than the
// browser, whose form then waits for it.
func TestBrowserSolvesTheNetworkChallenge(t *testing.T) {
	requireChromium(t)
	env := servertest.Start(t, storetest.NewSQLite(t))
	ctx := newTab(t)
	const email = "nadia@example.com"
	signUp(t, ctx, env, email, passphrase)

	// Someone else at the same address fails eight times. (The clock
	// stops, so that the network's wait lasts while the browser works.)
	env.Clock.Stop()
	other := env.NewBrowser(t)
	for i := range 8 {
		other.Submit("/login", url.Values{"email": {fmt.Sprintf("nobody%d@example.com", i)}, "password": {"wrong wrong wrong"}})
	}

	challenged := func() int {
		evs, err := env.Server.Events.List(t.Context(), event.Query{Type: event.LoginSubmitted})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, e := range evs {
			if e.Outcome == event.OutcomeChallenged {
				n++
			}
		}
		return n
	}
	before := challenged()
	if before == 0 {
		t.Fatal("the failures did not make the network busy")
	}

	// Nadia, on a browser that has never signed in here.
	fresh := freshContext(t, ctx)
	open(t, fresh, env.URL+"/login")
	difficulty := eval[string](t, fresh, `document.getElementById('foyer-challenge').dataset.difficulty`)
	if difficulty == "" {
		t.Fatalf("the sign-in page carries no challenge:\n%s", pageText(fresh))
	}
	typeInto(t, fresh, emailField, email)
	typeInto(t, fresh, curPasswordField, passphrase)
	started := time.Now()
	resp := clickAndWait(t, fresh, signInButton)
	if resp.Status != http.StatusOK || location(t, fresh).Path != "/account" {
		t.Fatalf("after sign-in: %d %s\n%s", resp.Status, location(t, fresh), pageText(fresh))
	}
	t.Logf("difficulty %s: solved and signed in within %v", difficulty, time.Since(started).Round(time.Millisecond))
	// Her form carried the answer the first time.
	if n := challenged(); n != before {
		t.Fatalf("the form went without the answer %d times", n-before)
	}
	if text := eval[string](t, fresh, `document.body.innerText`); !strings.Contains(text, email) {
		t.Fatalf("account page:\n%s", text)
	}
}
