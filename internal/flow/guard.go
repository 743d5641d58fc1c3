package flow

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/foyer-id/foyer/internal/challenge"
	"github.com/foyer-id/foyer/internal/policy"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/throttle"
)

// A guard holds what a step's throttles said before its work (a password
// hash, a code check, a code mailed): the attempt reserved on the
// client's network and on what it tries (an address, an account), and
// the signals the policy weighs. The reservation comes first and is
// atomic (throttle.Limiter.Reserve), so a burst of simultaneous attempts
// cannot all pass on the count from before the burst.
type guard struct {
	attempt *throttle.Attempt
	// scope is the network's key: a challenge is made for it, and only
	// a request from that network and for that action can answer it.
	scope string
	// identifier is true when the attempt counts an address or account
	// too, after the network.
	identifier bool
	signals    policy.Signals
}

// spentRule keeps a solved challenge's id for as long as the challenge
// lives, so that each one answers one attempt.
var spentRule = throttle.Rule{Free: 1, Base: challenge.Lifetime, Max: challenge.Lifetime, Window: challenge.Lifetime}

// networkLimit names the count a step of action keeps on the client's
// network, and its rule. Code sends and code entry share one: what a
// network does with codes.
func (s *Service) networkLimit(action policy.Action) (scope string, rule throttle.Rule) {
	switch action {
	case policy.LoginSubmit:
		return "login", s.Config.LoginThrottle
	case policy.SecondFactorSubmit:
		return "factor", s.Config.LoginThrottle
	case policy.RegistrationSubmit:
		return "registration", s.Config.RegistrationThrottle
	case policy.FlowStart:
		return "flow", s.Config.FlowStartThrottle
	}
	return "code", s.Config.CodeThrottle
}

// reserve reserves an attempt at action on the client's network and, under
// the same rule, on key when it is not "" (the address or account tried),
// and gathers the signals: the waits and counts, and, when something must
// wait, whether the device has held a session of ownerID (the account
// tried, "" for none: asked all the same, so a throttled answer takes as
// long whether or not an account exists) and whether the request solved
// the network's challenge. Extra counts the step keeps (a sign-up's mail)
// are reserved in the same statement, into the guard's attempt, for the
// step to settle apart (Attempt.Only).
func (s *Service) reserve(ctx context.Context, c Client, action policy.Action, key, ownerID string, extra ...throttle.Item) (*guard, error) {
	r := s.Flows.reads()
	g := s.reserveIn(r, c, action, key, extra...)
	if err := r.Run(ctx); err != nil {
		return nil, fmt.Errorf("flow: reserve: %w", err)
	}
	return g, s.ready(ctx, c, g, ownerID)
}

// reserveIn adds reserve's reservation to r, so that it travels with the
// step's reads; once r has run, ready completes the guard.
func (s *Service) reserveIn(r *store.Reads, c Client, action policy.Action, key string, extra ...throttle.Item) *guard {
	scope, rule := s.networkLimit(action)
	g := &guard{scope: throttle.NetworkKey(scope, c.IP), identifier: key != ""}
	items := []throttle.Item{{Key: g.scope, Rule: rule}}
	if key != "" {
		items = append(items, throttle.Item{Key: key, Rule: rule})
	}
	g.attempt = s.Throttle.BeginEachIn(r, append(items, extra...)...)
	return g
}

// ready completes a guard whose reservation has run: its signals, and the
// weighing of what matters only when something must wait (see weigh). On
// an error the counts are given back.
func (s *Service) ready(ctx context.Context, c Client, g *guard, ownerID string) error {
	st := g.attempt.States
	g.signals.NetworkWait, g.signals.NetworkFailures = st[0].Wait, st[0].Failures
	if g.identifier {
		g.signals.IdentifierWait, g.signals.IdentifierFailures = st[1].Wait, st[1].Failures
	}
	if err := s.weigh(ctx, c, g, ownerID); err != nil {
		g.cancel(ctx)
		return err
	}
	return nil
}

// weigh adds to g's signals what matters only when something must wait:
// whether the device is the owner's, and whether the request solved the
// network's challenge (spending it).
func (s *Service) weigh(ctx context.Context, c Client, g *guard, ownerID string) error {
	sig := &g.signals
	if sig.NetworkWait == 0 && sig.IdentifierWait == 0 {
		return nil
	}
	known, err := s.Sessions.KnownDevice(ctx, c.DeviceID, ownerID)
	if err != nil {
		return err
	}
	sig.KnownDevice = known
	if sig.NetworkWait > 0 && !known && c.Proof.Token != "" {
		solved, err := s.spendProof(ctx, g.scope, c.Proof)
		if err != nil {
			return err
		}
		sig.ChallengeSolved = solved
	}
	return nil
}

// spendProof checks a solved challenge for scope and uses it up: each
// answers one attempt.
func (s *Service) spendProof(ctx context.Context, scope string, p challenge.Proof) (bool, error) {
	if s.Challenges == nil {
		return false, nil
	}
	id, _, err := s.Challenges.Check(scope, p)
	if err != nil {
		return false, nil // not a proof: the client is asked again
	}
	st, err := s.Throttle.Reserve(ctx, spentRule, "challenge:"+id)
	if err != nil {
		return false, err
	}
	return st[0].Taken, nil
}

// decideGuarded asks the policy about a guarded step with the guard's
// signals (in.Signals adds to them). A refusal gives the reserved counts
// back — the attempt did not take place — and a challenge comes with one
// made for the client's network.
func (s *Service) decideGuarded(ctx context.Context, g *guard, f *Flow, c Client, in policy.Input, eventType string) (policy.Decision, error) {
	sig := g.signals
	sig.ClonedAuthenticator = in.Signals.ClonedAuthenticator
	in.Signals = sig
	d, err := s.decide(ctx, f, c, in, eventType)
	if err != nil {
		g.cancel(ctx)
		var ce *ChallengeError
		if errors.As(err, &ce) && s.Challenges != nil {
			ce.Challenge = s.Challenges.New(g.scope, d.Difficulty)
		}
	}
	return d, err
}

// failed settles g after a failed attempt: it counts on every key.
func (g *guard) failed(ctx context.Context) {
	_ = g.attempt.Failed(ctx) // a count lost to a database error is not worth failing the step
}

// succeeded settles g after a successful attempt: the counts are given
// back, and the keys in forget lose their failures.
func (g *guard) succeeded(ctx context.Context, forget ...string) {
	_ = g.attempt.Succeeded(ctx, forget...)
}

// succeededWrite is succeeded as a write of the step's transaction, which
// costs the step no round trip of its own; should the transaction not
// commit, the counts stay, as for a failure.
func (g *guard) succeededWrite(forget ...string) write {
	return func(ctx context.Context, tx *store.Tx) error {
		return g.attempt.SucceededTx(ctx, tx, forget...)
	}
}

// cancel gives the counts back: the attempt did not take place. A nil
// guard has nothing to give back.
func (g *guard) cancel(ctx context.Context) {
	if g != nil {
		_ = g.attempt.Cancel(ctx)
	}
}

// codeSendItems are the counts a code mailed to email is reserved on: the
// address as asked from the client's network, and the address from
// anywhere, under a looser rule. A network can so use up its own share of
// an address's codes and no one else's, while many networks together
// still cannot flood a mailbox.
func (s *Service) codeSendItems(c Client, email string) []throttle.Item {
	scope, _ := s.networkLimit(policy.VerificationSend)
	pair := throttle.IdentifierKey("code-mail-from", s.Config.Domain+"/"+email+"/"+throttle.NetworkKey(scope, c.IP))
	return []throttle.Item{{Key: pair, Rule: s.Config.CodeSendThrottle}, {Key: s.mailKey(email), Rule: s.Config.CodeSendAddressThrottle}}
}

// reserveCodeSend counts a code about to be mailed to email, before it is
// made (see codeSendItems), in one round trip with the read of the
// network's code-entry failures, which the policy weighs too. A device
// that has held a session of the address's owner (ownerID) passes both
// counts, and a code past a limit is not counted: asking again and again
// cannot keep an address at its limit.
func (s *Service) reserveCodeSend(ctx context.Context, c Client, email, ownerID string) (*guard, error) {
	r := s.Flows.reads()
	net := s.codeNetworkIn(r, c)
	a := s.Throttle.BeginEachIn(r, s.codeSendItems(c, email)...)
	if err := r.Run(ctx); err != nil {
		return nil, fmt.Errorf("flow: code send reservation: %w", err)
	}
	wait, n := net()
	return s.codeSendGuard(ctx, c, a, ownerID, wait, n)
}

// codeSendGuard is the guard of a code send reserved as a (see
// reserveCodeSend), for the network's code-entry failures netWait and
// netFailures.
func (s *Service) codeSendGuard(ctx context.Context, c Client, a *throttle.Attempt, ownerID string, netWait time.Duration, netFailures int) (*guard, error) {
	scope, _ := s.networkLimit(policy.VerificationSend)
	g := &guard{scope: throttle.NetworkKey(scope, c.IP), attempt: a}
	g.signals.NetworkWait, g.signals.NetworkFailures = netWait, netFailures
	for _, st := range a.States {
		g.signals.IdentifierFailures = max(g.signals.IdentifierFailures, st.Failures)
		g.signals.IdentifierWait = max(g.signals.IdentifierWait, st.Wait)
	}
	if err := s.weigh(ctx, c, g, ownerID); err != nil {
		g.cancel(ctx)
		return nil, err
	}
	return g, nil
}

// mailAllowed reports whether a code send that the step does not refuse
// (a sign-up answers alike either way) may go out: the address is within
// its limits, or the device is its owner's. A code held back is not
// counted.
func (g *guard) mailAllowed(ctx context.Context) bool {
	if g.signals.IdentifierWait == 0 || g.signals.KnownDevice {
		return true
	}
	g.cancel(ctx)
	return false
}

// ChallengeError says the policy asks the client to solve a proof-of-work
// challenge and try again (its network has made too many attempts). The
// answer goes with the next attempt (Client.Proof); without one the client
// may instead wait RetryAfter.
type ChallengeError struct {
	Challenge  challenge.Challenge
	Difficulty int
	RetryAfter time.Duration
}

func (e *ChallengeError) Error() string { return "flow: challenge required" }

// Challenge returns a challenge for the client's network when the policy
// would ask one of its next attempt at action, and nil when it would not:
// a page offers it up front, so that the browser solves it while the
// customer types. Showing a page is not a decision: nothing is recorded.
func (s *Service) Challenge(ctx context.Context, c Client, action policy.Action) (*challenge.Challenge, error) {
	if s.Challenges == nil {
		return nil, nil
	}
	scope, rule := s.networkLimit(action)
	key := throttle.NetworkKey(scope, c.IP)
	st, err := s.Throttle.Waits(ctx, rule, key)
	if err != nil {
		return nil, err
	}
	if st[0].Wait == 0 {
		return nil, nil
	}
	d := s.Policy.Decide(ctx, policy.Input{Domain: s.Config.Domain, Action: action, Time: s.now(), ClientIP: c.IP,
		Signals: policy.Signals{NetworkWait: st[0].Wait, NetworkFailures: st[0].Failures}})
	if d.Effect != policy.Challenge {
		return nil, nil
	}
	ch := s.Challenges.New(key, d.Difficulty)
	return &ch, nil
}
