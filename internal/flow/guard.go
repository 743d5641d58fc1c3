package flow

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/foyer-id/foyer/internal/challenge"
	"github.com/foyer-id/foyer/internal/policy"
	"github.com/foyer-id/foyer/internal/risk"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/throttle"
)

// A guard holds what a step's throttles said before its work (a password
// hash, a code check, a code mailed): the attempt reserved on the
// client's network and on what it tries (an address, an account), and
// the signals the policy weighs. The reservation comes first and is
// atomic (throttle.Limiter.Reserve), so a burst of simultaneous attempts
// cannot all pass on the count from before the burst; the account's
// count is taken only if the network lets the attempt through
// (throttle.Item.Gated, or behind a watched network, throttle.Item.Watch),
// so attempts refused at the network never touch it.
type guard struct {
	attempts []*throttle.Attempt
	action   policy.Action
	// rule is the action's rule, for the keys weigh may reserve later.
	rule throttle.Rule
	// key is the address's or account's count, "" for none.
	key     string
	signals policy.Signals
	// settled is set once the counts are settled by failed, succeeded or
	// cancel (not by succeededWrite, whose transaction may not commit).
	settled bool
	// velocity counts the site's failed passwords.
	velocity *risk.Velocity
	// spread is the client network's count of accounts that began failing
	// from it (a sign-in's), read with the reservation, and limiter where
	// a failure adds to it; nil for other steps.
	spread     []throttle.State
	spreadItem throttle.Item
	limiter    *throttle.Limiter
	// known, when not nil, says whether the device is the owner's, from
	// the devices the step read already (a sign-in's): weigh then reads
	// nothing more.
	known *bool
}

// How many attempts (passwords, codes) may be under way at once: on a
// network, where many customers may sign in together (a carrier NAT, an
// office), on each node; and on an account, an address or a device, where
// two are a double submit. A burst of failures thus gets at most this
// many checks past a key's free ones before the key's count stops it.
const (
	networkInFlight    = 64
	identifierInFlight = 2
)

// spentRule keeps a solved challenge's id for as long as the challenge
// lives, so that each one answers one attempt.
var spentRule = throttle.Rule{Free: 1, Base: challenge.Lifetime, Max: challenge.Lifetime, Window: challenge.Lifetime}

// networkLimit names the count a step of action keeps on the client's
// network, and its rule. Code sends and code entry share one: what a
// network does with codes.
func (s *Service) networkLimit(action policy.Action) (scope string, rule throttle.Rule) {
	switch action {
	case policy.LoginSubmit:
		return "login", s.limits().Login
	case policy.SecondFactorSubmit:
		return "factor", s.limits().Login
	case policy.RegistrationSubmit:
		return "registration", s.limits().Registration
	case policy.FlowStart:
		return "flow", s.limits().FlowStart
	}
	return "code", s.limits().Code
}

// challengeScope is what a challenge is made for: the client's network,
// whatever the step. A solved one answers one request from it.
func challengeScope(c Client) string { return throttle.NetworkKey("challenge", c.IP) }

// reserve reserves an attempt at action on the client's network and, under
// the same rule, on key when it is not "" (the address or account tried,
// counted only if the network lets the attempt through), and gathers the
// signals: the waits and counts, and, when something must wait, whether
// the device has held a session of ownerID (the account tried, "" for
// none: asked all the same, so a throttled answer takes as long whether
// or not an account exists) and whether the request solved a challenge.
// Extra counts the step keeps (a sign-up's mail) are reserved in the same
// statement, into the guard's first attempt, for the step to settle apart
// (Attempt.Only).
func (s *Service) reserve(ctx context.Context, c Client, action policy.Action, key, ownerID string, extra ...throttle.Item) (*guard, error) {
	r := s.Flows.reads()
	g := s.reserveIn(r, c, action, key, extra...)
	if err := r.Run(ctx); err != nil {
		g.end(ctx, err)
		return nil, fmt.Errorf("flow: reserve: %w", err)
	}
	return g, s.ready(ctx, c, g, ownerID)
}

// reserveIn adds reserve's reservation to r, so that it travels with the
// step's reads; once r has run, ready completes the guard.
func (s *Service) reserveIn(r *store.Reads, c Client, action policy.Action, key string, extra ...throttle.Item) *guard {
	scope, rule := s.networkLimit(action)
	keyRule := rule
	network := throttle.Item{Key: throttle.NetworkKey(scope, c.IP), Rule: rule}
	switch action {
	case policy.LoginSubmit, policy.SecondFactorSubmit, policy.VerificationSubmit:
		// Attempts whose failures count (a password, a code): each key
		// holds a place while one runs, and counts it only if it fails.
		// The network is watched: its places are kept in this node's
		// memory and its row written only by a failure, so that a crowd
		// signing in behind one address shares no row.
		keyRule.InFlight = identifierInFlight
		network.Rule.InFlight, network.Watch = networkInFlight, true
	}
	g := &guard{action: action, rule: keyRule, key: key, velocity: s.Velocity}
	if action == policy.LoginSubmit {
		// Window and all, the spread counts under the sign-in's rule,
		// without its waits: the policy weighs the count itself.
		g.spreadItem = throttle.Item{Key: throttle.NetworkKey("login-spread", c.IP), Rule: throttle.Rule{Free: 1 << 30, Window: rule.Window}}
		g.limiter = s.Throttle
		s.Throttle.StatesIn(r, &g.spread, g.spreadItem)
	}
	items := []throttle.Item{network}
	if key != "" {
		items = append(items, throttle.Item{Key: key, Rule: keyRule, Gated: true})
	}
	g.attempts = []*throttle.Attempt{s.Throttle.BeginEachIn(r, append(items, extra...)...)}
	return g
}

// ready completes a guard whose reservation has run: its signals, and the
// weighing of what matters only when something must wait (see weigh). On
// an error the counts are given back.
func (s *Service) ready(ctx context.Context, c Client, g *guard, ownerID string) error {
	if err := g.attempts[0].Explain(ctx); err != nil {
		g.cancel(ctx)
		return err
	}
	st := g.attempts[0].States
	g.signals.NetworkWait, g.signals.NetworkFailures = st[0].Wait, st[0].Failures
	if g.key != "" {
		g.signals.IdentifierWait, g.signals.IdentifierFailures = st[1].Wait, st[1].Failures
	}
	if g.action == policy.LoginSubmit {
		g.signals.SiteSpike, g.signals.SiteFailures = s.Velocity.Spike()
		g.signals.NetworkSpread = g.spread[0].Failures
	}
	if err := s.weigh(ctx, c, g, ownerID); err != nil {
		g.cancel(ctx)
		return err
	}
	return nil
}

// weigh adds to g's signals what matters only when something must wait.
// A device that has held a session of ownerID passes the limits, but
// counts on a key of its own (so a leaked device id is worth a few
// attempts, not unlimited ones). Otherwise a solved challenge is checked
// and spent; the account's count, which a busy network kept closed, is
// then reserved for the attempt it lets through.
func (s *Service) weigh(ctx context.Context, c Client, g *guard, ownerID string) error {
	sig := &g.signals
	// What a solved challenge answers: a busy network or address, a site
	// under attack, a network spraying accounts — or, since a policy
	// file's rule may ask for one anywhere, whatever the policy would
	// challenge, asked only of a request that carries a proof.
	challengeable := sig.NetworkWait > 0 || sig.IdentifierWideWait > 0 || sig.SiteSpike || s.spreading(ctx, sig) ||
		(c.Proof.Token != "" && s.difficulty(ctx, c, g.action, *sig) > 0)
	if !challengeable && sig.IdentifierWait == 0 {
		return nil
	}
	var known bool
	if g.known != nil {
		known = *g.known
	} else {
		var err error
		if known, err = s.Devices.Known(ctx, c.DeviceID, ownerID); err != nil {
			return err
		}
	}
	sig.KnownDevice = known
	// Not for the second factor, which stands between a stolen password
	// and the account on any device (policy.Default): there a known
	// device answers the challenge like any other.
	if known && g.action != policy.SecondFactorSubmit {
		key := throttle.IdentifierKey("device", string(g.action)+"/"+ownerID+"/"+c.DeviceID)
		return s.reserveMore(ctx, g, key, &sig.DeviceWait)
	}
	if c.Proof.Token == "" || !challengeable {
		return nil
	}
	var err error
	if sig.ChallengeSolved, err = s.spendProof(ctx, c, g); err != nil || !sig.ChallengeSolved {
		return err
	}
	if g.key != "" && !g.attempts[0].States[1].Taken && sig.IdentifierWait == 0 {
		return s.reserveMore(ctx, g, g.key, &sig.IdentifierWait)
	}
	return nil
}

// spreading reports whether the policy would challenge the network for
// the spread of its failures over accounts (policy.Signals.NetworkSpread),
// as if nothing else were odd: then, as for a wait, whether the device is
// known and whether the request solved a challenge matter.
func (s *Service) spreading(ctx context.Context, sig *policy.Signals) bool {
	if sig.NetworkSpread == 0 {
		return false
	}
	probe := policy.Signals{NetworkSpread: sig.NetworkSpread}
	d := s.Point.Policy.Decide(ctx, policy.Input{Domain: s.Config.Domain, Action: policy.LoginSubmit, Signals: probe})
	return d.Effect == policy.Challenge
}

// reserveMore reserves key under g's rule for g's attempt, and sets *wait
// to how long it must wait when it is refused.
func (s *Service) reserveMore(ctx context.Context, g *guard, key string, wait *time.Duration) error {
	a, err := s.Throttle.Begin(ctx, g.rule, key)
	if err != nil {
		return err
	}
	g.attempts = append(g.attempts, a)
	*wait = a.States[0].Wait
	return nil
}

// spendProof checks a solved challenge made for the client's network and
// uses it up: each answers one request. A challenge made when the network
// asked much less than it asks now (collected in bulk early) is no answer.
func (s *Service) spendProof(ctx context.Context, c Client, g *guard) (bool, error) {
	if s.Challenges == nil {
		return false, nil
	}
	id, difficulty, _, err := s.Challenges.Check(challengeScope(c), c.Proof)
	if err != nil {
		return false, nil // not a proof: the client is asked again
	}
	if asked := s.difficulty(ctx, c, g.action, g.signals); difficulty < asked-challenge.Slack {
		return false, nil
	}
	st, err := s.Throttle.Reserve(ctx, spentRule, "challenge:"+id)
	if err != nil {
		return false, err
	}
	return st[0].Taken, nil
}

// difficulty is what the policy would ask of a challenge for action with
// signals, unsolved; 0 when it would ask none. The policy is pure: asking
// it records nothing.
func (s *Service) difficulty(ctx context.Context, c Client, action policy.Action, sig policy.Signals) int {
	sig.ChallengeSolved, sig.KnownDevice = false, false
	d := s.Point.Policy.Decide(ctx, policy.Input{Domain: s.Config.Domain, Action: action, Time: s.now(), ClientIP: c.IP, Signals: sig})
	if d.Effect != policy.Challenge {
		return 0
	}
	return d.Difficulty
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
			ce.Challenge = s.Challenges.New(challengeScope(c), d.Difficulty)
		}
	}
	return d, err
}

// failed settles g after a failed attempt: it counts on every key, and a
// failed password on the site's failure rate (risk.Velocity) and, when
// its account had not failed lately, on its network's spread.
func (g *guard) failed(ctx context.Context) {
	g.settled = true
	if g.action == policy.LoginSubmit {
		g.velocity.Failed()
		if g.signals.IdentifierFailures == 0 && g.limiter != nil {
			// An account that had not failed lately begins failing from
			// this network: one more in its spread.
			_ = g.limiter.Fail(ctx, g.spreadItem.Key, g.spreadItem.Rule)
		}
	}
	for _, a := range g.attempts {
		_ = a.Failed(ctx) // a count lost to a database error is not worth failing the step
	}
}

// succeeded settles g after a successful attempt: the counts are given
// back, and the keys in forget lose their failures.
func (g *guard) succeeded(ctx context.Context, forget ...string) {
	g.settled = true
	for _, a := range g.attempts {
		_ = a.Succeeded(ctx, forget...)
	}
}

// succeededWrite is succeeded as a write of the step's transaction, which
// costs the step no round trip of its own; should the transaction not
// commit, the step ends on its error and end gives the counts back. Only the account's or
// address's row is written: the network is watched (see reserveIn), so a
// crowd signing in behind one address holds no shared lock until its
// commits reach the disk.
func (g *guard) succeededWrite(forget ...string) write {
	return func(ctx context.Context, tx *store.Tx) error {
		for _, a := range g.attempts {
			if err := a.SucceededTx(ctx, tx, forget...); err != nil {
				return err
			}
		}
		return nil
	}
}

// end closes the guard of a step that ended with err: a step that
// reserved defers it. Its attempts end on this node (see
// throttle.Attempt.End); and if the step failed on an error before its
// counts were settled (a save that lost a race, a read that failed), they
// are given back — the attempt did not complete, and its places must not
// wait to lapse.
func (g *guard) end(ctx context.Context, err error) {
	if err != nil && !g.settled {
		g.cancel(context.WithoutCancel(ctx))
	}
	for _, a := range g.attempts {
		a.End()
	}
}

// cancel gives the counts back: the attempt did not take place. A nil
// guard has nothing to give back.
func (g *guard) cancel(ctx context.Context) {
	if g == nil {
		return
	}
	g.settled = true
	for _, a := range g.attempts {
		_ = a.Cancel(ctx)
	}
}

// codeSendItems are the counts a code mailed to email is reserved on: the
// address as asked from the client's network, and — only if that one lets
// it through — the address from anywhere, under a looser rule. A network
// can so use up its own share of an address's codes and no one else's,
// while many networks together still cannot flood a mailbox. The address
// is counted without a sub-address ("+tag"), which mail servers deliver
// to the same mailbox.
func (s *Service) codeSendItems(c Client, email string) []throttle.Item {
	scope, _ := s.networkLimit(policy.VerificationSend)
	box := mailbox(email)
	pair := throttle.IdentifierKey("code-mail-from", s.Config.Domain+"/"+box+"/"+throttle.NetworkKey(scope, c.IP))
	return []throttle.Item{{Key: pair, Rule: s.limits().CodeSend},
		{Key: throttle.IdentifierKey("code-mail", s.Config.Domain+"/"+box), Rule: s.limits().CodeSendAddress, Gated: true}}
}

// reserveCodeSend counts a code about to be mailed to email, before it is
// made (see codeSendItems), in one round trip with the read of the
// network's code-entry failures, which the policy weighs too. A device
// that has held a session of the address's owner (ownerID) passes both
// counts within its own, and a code past a limit is not counted: asking
// again and again cannot keep an address at its limit.
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
// netFailures. The address counted from its network is a limit that
// waits; counted from everywhere, one that asks for a challenge.
func (s *Service) codeSendGuard(ctx context.Context, c Client, a *throttle.Attempt, ownerID string, netWait time.Duration, netFailures int) (*guard, error) {
	g := &guard{action: policy.VerificationSend, rule: s.limits().CodeSend, attempts: []*throttle.Attempt{a}}
	if err := a.Explain(ctx); err != nil {
		g.cancel(ctx)
		return nil, err
	}
	g.signals.NetworkWait, g.signals.NetworkFailures = netWait, netFailures
	pair, wide := a.States[0], a.States[1]
	g.signals.IdentifierWait, g.signals.IdentifierFailures = pair.Wait, max(pair.Failures, wide.Failures)
	if pair.Taken {
		g.signals.IdentifierWideWait = wide.Wait
	}
	if err := s.weigh(ctx, c, g, ownerID); err != nil {
		g.cancel(ctx)
		return nil, err
	}
	return g, nil
}

// mailAllowed reports whether a code send of f's step that the step does
// not refuse (a sign-up answers alike either way) may go out, as the
// policy decides a code request: the address is within its limits, or
// the device is its owner's, or the request solved a challenge. The
// decision is recorded with the step; a code held back is not counted.
func (s *Service) mailAllowed(ctx context.Context, g *guard, f *Flow, c Client) bool {
	d, rec := s.Point.Decide(ctx, policy.Input{Action: policy.VerificationSend, FlowID: f.ID, IdentityID: f.IdentityID,
		ClientIP: c.IP, UserAgent: c.UserAgent, DeviceID: c.DeviceID, Signals: g.signals})
	f.decided = append(f.decided, rec)
	if d.Allowed() {
		return true
	}
	g.cancel(ctx)
	return false
}

// ChallengeError says the policy asks the client to solve a proof-of-work
// challenge and try again (its network, or many networks together, made
// too many attempts). The answer goes with the next request
// (Client.Proof); without one the client may instead wait RetryAfter.
type ChallengeError struct {
	Challenge  challenge.Challenge
	Difficulty int
	RetryAfter time.Duration
}

func (e *ChallengeError) Error() string { return "flow: challenge required" }

// Challenge returns a challenge for the client's network when the policy
// would ask one of its next attempt at any of actions, with how long the
// network must otherwise wait, and nil when it would not: a page offers it
// up front, so that the browser solves it while the customer types.
// Showing a page is not a decision: nothing is recorded.
func (s *Service) Challenge(ctx context.Context, c Client, actions ...policy.Action) (*challenge.Challenge, time.Duration, error) {
	if s.Challenges == nil {
		return nil, 0, nil
	}
	difficulty, wait, err := s.networkDifficulty(ctx, c, actions...)
	if err != nil || difficulty == 0 {
		return nil, 0, err
	}
	ch := s.Challenges.New(challengeScope(c), difficulty)
	return &ch, wait, nil
}

// FreshChallenge returns a new challenge for the client's network, for a
// page whose challenge expired before its form was sent (GET /challenge):
// as hard as the network's busiest count asks, and at least the first
// difficulty. Making one stores nothing.
func (s *Service) FreshChallenge(ctx context.Context, c Client) (*challenge.Challenge, error) {
	if s.Challenges == nil {
		return nil, nil
	}
	actions := []policy.Action{policy.LoginSubmit, policy.RegistrationSubmit, policy.VerificationSubmit, policy.SecondFactorSubmit}
	difficulty, _, err := s.networkDifficulty(ctx, c, actions...)
	if err != nil {
		return nil, err
	}
	difficulty = max(difficulty, s.difficulty(ctx, c, policy.LoginSubmit, policy.Signals{NetworkWait: time.Second}))
	ch := s.Challenges.New(challengeScope(c), difficulty)
	return &ch, nil
}

// networkDifficulty is what the policy would ask of the client's network
// for the busiest of actions, and how long that network must otherwise
// wait; 0 when it would ask nothing.
func (s *Service) networkDifficulty(ctx context.Context, c Client, actions ...policy.Action) (int, time.Duration, error) {
	var items []throttle.Item
	for _, action := range actions {
		scope, rule := s.networkLimit(action)
		items = append(items, throttle.Item{Key: throttle.NetworkKey(scope, c.IP), Rule: rule})
	}
	var st []throttle.State
	r := s.Flows.reads()
	s.Throttle.StatesIn(r, &st, items...)
	if err := r.Run(ctx); err != nil {
		return 0, 0, err
	}
	// The policy is asked even of a network that need not wait: a policy
	// file's rule may ask every attempt for a proof of work.
	difficulty, wait := 0, time.Duration(0)
	for i, action := range actions {
		if d := s.difficulty(ctx, c, action, policy.Signals{NetworkWait: st[i].Wait, NetworkFailures: st[i].Failures}); d > 0 {
			difficulty = max(difficulty, d)
			wait = max(wait, st[i].Wait)
		}
	}
	return difficulty, wait, nil
}

// mailbox is an address as its mailbox: without a sub-address ("+tag" in
// the local part), which mail servers deliver to the same mailbox.
func mailbox(email string) string {
	local, domain, ok := strings.Cut(email, "@")
	if !ok {
		return email
	}
	if base, _, tagged := strings.Cut(local, "+"); tagged && base != "" {
		local = base
	}
	return local + "@" + domain
}
