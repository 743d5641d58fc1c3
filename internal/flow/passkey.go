package flow

import (
	"context"
	"time"

	"github.com/foyer-id/foyer/internal/event"
	"github.com/foyer-id/foyer/internal/throttle"
)

// MethodPasskey names sign-in with a passkey.
const MethodPasskey = "passkey"

// PasskeyChallengeRule limits passkey challenges per network (each is a
// stored row).
var PasskeyChallengeRule = throttle.Rule{Free: 120, Base: time.Second, Max: time.Minute, Window: 10 * time.Minute}

// AllowPasskeyChallenge reports whether the client's network may get
// another passkey challenge, and counts it.
func (s *Service) AllowPasskeyChallenge(ctx context.Context, c Client) error {
	key := throttle.NetworkKey("passkey", c.IP)
	wait, _, err := s.Throttle.Wait(ctx, key, PasskeyChallengeRule)
	if err != nil {
		return err
	}
	if wait > 0 {
		return &ThrottledError{RetryAfter: wait}
	}
	return s.Throttle.Fail(ctx, key, PasskeyChallengeRule)
}

// SignInWithPasskey signs in the identity a verified passkey assertion
// belongs to. A passkey with user verification is two factors by itself:
// the session is aal2. The policy decides as for any sign-in.
func (s *Service) SignInWithPasskey(ctx context.Context, c Client, identityID, returnTo string) (*Result, error) {
	f, err := s.Start(ctx, TypeLogin, c, returnTo)
	if err != nil {
		return nil, err
	}
	f.IdentityID = identityID
	s.emit(ctx, f, c, event.LoginSubmitted, event.OutcomeSuccess, MethodPasskey, identityID, "")
	result := &Result{Flow: f}
	f.State = StateDone
	if err := s.signIn(ctx, f, c, []string{MethodPasskey}, s.now(), result); err != nil {
		return nil, err
	}
	if err := s.Flows.Finish(ctx, f, s.now()); err != nil {
		return nil, err
	}
	return result, nil
}

// PasskeyFailed records a refused passkey sign-in (wrong, unknown or
// cloned authenticator) and counts it against the network.
func (s *Service) PasskeyFailed(ctx context.Context, c Client, identityID, reason string) {
	_ = s.Throttle.Fail(ctx, throttle.NetworkKey("login", c.IP), s.Config.LoginThrottle)
	s.emit(ctx, nil, c, event.LoginSubmitted, event.OutcomeFailure, reason, identityID, "")
}
