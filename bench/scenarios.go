package main

import (
	"context"
	"fmt"
	"net/http"
	"runtime"

	"github.com/foyer-id/foyer/internal/credential/password"
)

// email is the unique address of operation seq of a run: a mailbox of its
// own (not a sub-address: Foyer counts codes per mailbox, and would hold
// back most of the run's mail).
func email(runID string, seq int) string {
	return fmt.Sprintf("bench-%s-%d@example.com", runID, seq)
}

// registerOp signs up a new address with a new strong password. The submit
// must answer state "verify" (the code is mailed); a server with
// require_verification off also signs the customer in, which is fine too.
func registerOp(c *client, runID string) operation {
	return func(ctx context.Context, seq int, t *tally) error {
		fr, err := c.register(ctx, t, email(runID, seq), newPassword(email(runID, seq)), newDevice())
		if err != nil {
			return err
		}
		if fr.Flow.State != "verify" {
			return &failure{step: "submit", status: http.StatusOK, reason: "state=" + fr.Flow.State, sample: "expected state verify after the sign-up form"}
		}
		return nil
	}
}

// setupOp signs up users[seq] and keeps its session token. The server must
// not require verification, or sign-up does not sign in.
func setupOp(c *client, runID string, users []*user) operation {
	return func(ctx context.Context, seq int, t *tally) error {
		u := &user{Email: email(runID, seq), Device: newDevice()}
		u.Password = newPassword(u.Email)
		fr, err := c.register(ctx, t, u.Email, u.Password, u.Device)
		if err != nil {
			return err
		}
		if fr.SessionToken == "" {
			return &failure{step: "submit", status: http.StatusOK, reason: "no-session",
				sample: "sign-up did not sign in: start the server with domains.customers.registration.require_verification: false (see bench/README.md)"}
		}
		u.Token = fr.SessionToken
		users[seq] = u
		return nil
	}
}

// loginOp signs in the users in turn, each from the device it signed up
// on (a returning customer); each sign-in makes a new session.
func loginOp(c *client, users []*user) operation {
	return func(ctx context.Context, seq int, t *tally) error {
		u := users[seq%len(users)]
		_, err := c.login(ctx, t, u.Email, u.Password, u.Device)
		return err
	}
}

// whoamiOp asks whoami with the users' tokens in turn.
func whoamiOp(c *client, users []*user) operation {
	return func(ctx context.Context, seq int, t *tally) error {
		return c.whoami(ctx, t, users[seq%len(users)].Token)
	}
}

// runHash measures the Argon2id ceiling: the server's own hasher at the
// default parameters, one hash per operation, as many at once as CPUs
// (the server's default cap). No server is involved.
func runHash(ctx context.Context, opt *options) (*Result, error) {
	if opt.concurrency == 0 {
		opt.concurrency = runtime.NumCPU()
	}
	h := password.NewHasher(password.DefaultParams(), opt.concurrency)
	pw := randomLetters(20)
	op := func(ctx context.Context, seq int, t *tally) error {
		_, err := h.Hash(ctx, pw)
		return err
	}
	if opt.warmup > 0 {
		warm := *opt
		warm.duration, warm.count = opt.warmup, 0
		run(ctx, &warm, op)
	}
	return run(ctx, opt, op), nil
}
