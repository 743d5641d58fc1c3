package server_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/foyer-id/foyer/internal/flow"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// The round trips to PostgreSQL of each step of the journeys that are
// measured under load (docs/benchmarks.md), counted: a change that adds
// one is a change that costs every sign-in or sign-up some throughput, and
// should be made on purpose. Preparing a statement (once per connection)
// is not counted; group-committed events are not either (they share a
// commit with other requests' events).
func TestRoundTripsPerJourney(t *testing.T) {
	env := servertest.Start(t, storetest.NewPostgres(t))
	flows := env.Server.Flows
	c := flow.Client{Channel: flow.ChannelAPI, IP: "192.0.2.7", UserAgent: "round-trips"}
	type step struct {
		name string
		max  int64
		run  func(ctx context.Context) error
	}
	journey := func(email string) []step {
		var f *flow.Flow
		var token string
		return []step{
			{"sign-up: start", 1, func(ctx context.Context) (err error) {
				f, err = flows.Start(ctx, flow.TypeRegistration, c, "")
				return err
			}},
			{"sign-up: submit", 2, func(ctx context.Context) error {
				_, err := flows.SubmitRegistration(ctx, f, c, flow.RegistrationInput{Traits: map[string]any{"email": email}, Password: goodPassword})
				return err
			}},
			// The throttle reservation with its reads, the code's check and
			// use, the account with what signing in needs, the commit.
			{"sign-up: code", 6, func(ctx context.Context) error {
				code := servertest.CodeFrom(t, env.MailTo(t, email, 1))
				_, err := flows.SubmitCode(ctx, f, c, code)
				return err
			}},
			{"sign-in: start", 1, func(ctx context.Context) (err error) {
				f, err = flows.Start(ctx, flow.TypeLogin, c, "")
				return err
			}},
			{"sign-in: submit", 2, func(ctx context.Context) error {
				res, err := flows.SubmitLogin(ctx, f, c, flow.LoginInput{Identifier: email, Password: goodPassword})
				if err == nil {
					token = res.Token
				}
				return err
			}},
			{"whoami", 1, func(ctx context.Context) error {
				_, _, err := flows.Sessions.Whoami(ctx, token)
				return err
			}},
		}
	}
	for i := range 3 { // the first runs prepare statements on a few connections
		for _, s := range journey(fmt.Sprintf("warm%d@example.com", i)) {
			if err := s.run(t.Context()); err != nil {
				t.Fatalf("%s: %v", s.name, err)
			}
		}
	}
	for _, s := range journey("counted@example.com") {
		var rt store.RoundTrips
		if err := s.run(store.CountRoundTrips(t.Context(), &rt)); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		t.Logf("%-16s %d round trips (%d statements prepared)", s.name, rt.Exchanges(), rt.Prepares())
		if rt.Exchanges() > s.max {
			t.Errorf("%s: %d round trips, at most %d expected", s.name, rt.Exchanges(), s.max)
		}
	}
}
