package server_test

import (
	"context"
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/api"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

var sixDigits = regexp.MustCompile(`\b\d{6}\b`)

// BenchmarkRecoveryRequest times a recovery's first step — start, then
// the address — for an address with an account and one without, which
// must not be told apart by time: it reports account-ns/req and
// no_account-ns/req (docs/benchmarks.md records a run; ns/op includes the
// waits below and means nothing). Each iteration makes one request of
// each kind, in turns first, and waits for the account's mail to arrive
// before the next request: the courier's work after a request is not the
// request's time (an attacker spaces requests as they like), and each
// kind follows the wait as often as the other. Addresses rotate and the
// clock moves on, so that no limit is reached.
func BenchmarkRecoveryRequest(b *testing.B) {
	env := servertest.Start(b, storetest.NewSQLite(b))
	const n = 20
	mails := map[string]int{}
	for i := range n {
		email := fmt.Sprintf("known%d@example.com", i)
		var start api.FlowResponse
		env.JSON(b, "POST", "/api/registration", "", nil, &start)
		env.JSON(b, "POST", "/api/registration/"+start.Flow.ID, "", map[string]any{"traits": map[string]any{"email": email}, "password": goodPassword}, nil)
		stored := env.Outbox(b, email)
		code := sixDigits.FindString(stored[len(stored)-1].Text)
		if r := env.JSON(b, "POST", "/api/flows/"+start.Flow.ID+"/code", "", map[string]any{"code": code}, nil); r.StatusCode != 200 {
			b.Fatalf("sign-up: %d", r.StatusCode)
		}
		waitMail(b, env, email, mails) // before the clock moves on and expires it
	}
	request := func(email string) time.Duration {
		began := time.Now()
		var start api.FlowResponse
		env.JSON(b, "POST", "/api/recovery", "", nil, &start)
		if r := env.JSON(b, "POST", "/api/recovery/"+start.Flow.ID, "", map[string]any{"email": email}, nil); r.StatusCode != 200 {
			b.Fatalf("%s: %d %s", email, r.StatusCode, r.Body)
		}
		return time.Since(began)
	}
	var account, none time.Duration
	i := 0
	for b.Loop() {
		if i%(2*n) == 0 {
			env.Clock.Advance(2 * time.Hour)
		}
		known, unknown := fmt.Sprintf("known%d@example.com", i%n), fmt.Sprintf("unknown%d@example.com", i%n)
		if i%2 == 0 {
			account += request(known)
			waitMail(b, env, known, mails)
			none += request(unknown)
		} else {
			none += request(unknown)
			account += request(known)
			waitMail(b, env, known, mails)
		}
		i++
	}
	b.ReportMetric(float64(account.Nanoseconds())/float64(i), "account-ns/req")
	b.ReportMetric(float64(none.Nanoseconds())/float64(i), "no_account-ns/req")
}

// waitMail waits for the next mail to an account's address to arrive.
func waitMail(b *testing.B, env *servertest.Env, to string, mails map[string]int) {
	mails[to]++
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := env.SMTP.WaitForMessages(ctx, to, mails[to]); err != nil {
		b.Fatal(err)
	}
}
