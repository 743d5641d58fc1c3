package server_test

import (
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/api"
	"github.com/foyer-id/foyer/internal/config"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

var sixDigits = regexp.MustCompile(`\b\d{6}\b`)

// settle waits until the outbox sends nothing — and, whether or not
// there was anything to send, for a pause that outlasts the courier's
// handoff delay: both kinds of request then start from the same idle
// machine (a hot loop against one that idles between requests would
// measure the difference of the pauses).
func settle(b *testing.B, env *servertest.Env) {
	time.Sleep(40 * time.Millisecond)
	for {
		var n int
		if err := env.DB.QueryRow(b.Context(), `SELECT COUNT(*) FROM outbox WHERE status IN ('queued', 'sending')`).Scan(&n); err != nil {
			b.Fatal(err)
		}
		if n == 0 {
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// BenchmarkRecoveryRequest times a recovery's first step — start, then
// the address — for addresses of accounts and addresses of none: the two
// must not be told apart by time (compare their ns/op; docs/benchmarks.md
// records a run). Addresses rotate, and the clock moves on, so that no
// limit is reached.
func BenchmarkRecoveryRequest(b *testing.B) {
	env := servertest.Start(b, storetest.NewSQLite(b), func(c *config.Config) { c.SMTP.URL = "" })
	const n = 20
	for i := range n {
		email := fmt.Sprintf("known%d@example.com", i)
		var start api.FlowResponse
		env.JSON(b, "POST", "/api/registration", "", nil, &start)
		env.JSON(b, "POST", "/api/registration/"+start.Flow.ID, "", map[string]any{"traits": map[string]any{"email": email}, "password": goodPassword}, nil)
		mails := env.Outbox(b, email)
		code := sixDigits.FindString(mails[len(mails)-1].Text)
		if r := env.JSON(b, "POST", "/api/flows/"+start.Flow.ID+"/code", "", map[string]any{"code": code}, nil); r.StatusCode != 200 {
			b.Fatalf("sign-up: %d", r.StatusCode)
		}
	}
	for _, kind := range []string{"no_account", "account"} {
		b.Run(kind, func(b *testing.B) {
			i := 0
			for b.Loop() {
				// Timed alone: the mail of the request before has left (an
				// attacker spaces requests as they like, so the courier's
				// work after a request is not the request's time).
				b.StopTimer()
				if i%(2*n) == 0 {
					env.Clock.Advance(2 * time.Hour)
				}
				settle(b, env)
				b.StartTimer()
				email := fmt.Sprintf("known%d@example.com", i%n)
				if kind == "no_account" {
					email = fmt.Sprintf("unknown%d@example.com", i%n)
				}
				var start api.FlowResponse
				env.JSON(b, "POST", "/api/recovery", "", nil, &start)
				if r := env.JSON(b, "POST", "/api/recovery/"+start.Flow.ID, "", map[string]any{"email": email}, nil); r.StatusCode != 200 {
					b.Fatalf("%s: %d %s", email, r.StatusCode, r.Body)
				}
				i++
			}
		})
	}
}
