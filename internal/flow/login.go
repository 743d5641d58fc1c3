package flow

import (
	"context"
	"fmt"

	"github.com/foyer-id/foyer/internal/event"
	"github.com/foyer-id/foyer/internal/identity"
	"github.com/foyer-id/foyer/internal/policy"
	"github.com/foyer-id/foyer/internal/throttle"
)

// LoginInput is what the customer submits to sign in with a password.
type LoginInput struct {
	Identifier string
	Password   string
}

var errCredentials = invalid("", "credentials_invalid", "The email address or password is not correct.")

// SubmitLogin checks an identifier and password. Unknown identifiers cost
// the same hash as known ones and give the same answer. Failures are
// throttled per network and per identifier, never locked out; a device the
// customer signed in from before is not held back by the per-identifier
// delay.
func (s *Service) SubmitLogin(ctx context.Context, f *Flow, c Client, in LoginInput) (*Result, error) {
	if f.Type != TypeLogin || f.State != StateForm {
		return nil, ErrWrongState
	}
	email, err := identity.NormalizeEmail(in.Identifier)
	if err != nil {
		return nil, invalid("identifier", "identifier_invalid", "Enter a valid email address.")
	}
	if in.Password == "" {
		return nil, invalid("password", "password_required", "Enter your password.")
	}
	if len(in.Password) > 4096 {
		return nil, errCredentials
	}
	netKey, idKey := throttle.NetworkKey("login", c.IP), throttle.IdentifierKey("login", s.Config.Domain+"/"+email)
	// The throttles and the account, with what signing in needs of it,
	// in one round trip: all are read whether or not the identifier is
	// known.
	var (
		st       []throttle.State
		cand     *identity.LoginCandidate
		enrolled bool
	)
	r := s.Flows.reads()
	s.Throttle.WaitsIn(r, s.Config.LoginThrottle, &st, netKey, idKey)
	s.Identities.FindLoginIn(r, s.Config.Domain, identity.KindEmail, email, &cand)
	if s.Factors != nil {
		s.Factors.EnrolledByIdentifierIn(r, s.Config.Domain, identity.KindEmail, email, &enrolled)
	}
	if err := r.Run(ctx); err != nil {
		return nil, fmt.Errorf("flow: sign-in reads: %w", err)
	}
	netWait, netFails, idWait, idFails := st[0].Wait, st[0].Failures, st[1].Wait, st[1].Failures
	known := false
	if idWait > 0 || netWait > 0 {
		// Asked for an unknown address too (of no identity), so that a
		// throttled answer takes as long whether or not the account exists.
		id := ""
		if cand != nil {
			id = cand.Identity.ID
		}
		if known, err = s.Sessions.KnownDevice(ctx, c.DeviceID, id); err != nil {
			return nil, err
		}
	}
	f.Data.Values = map[string]string{"identifier": email}
	if _, err := s.decide(ctx, f, c, policy.Input{Action: policy.LoginSubmit, Signals: policy.Signals{
		NetworkWait: netWait, IdentifierWait: idWait, NetworkFailures: netFails, IdentifierFailures: idFails, KnownDevice: known,
	}}, event.LoginSubmitted); err != nil {
		return nil, err
	}
	ok := false
	if cand == nil || cand.Identity.State != identity.StateActive || cand.PasswordHash == "" {
		s.Hasher.VerifyDummy(ctx, in.Password)
	} else {
		var rehash bool
		ok, rehash, err = s.Hasher.Verify(ctx, in.Password, cand.PasswordHash)
		if err != nil {
			s.Logger.ErrorContext(ctx, "flow: stored password hash unreadable", "identity_id", cand.Identity.ID, "error", err)
			ok = false
		}
		if ok && rehash {
			if h, err := s.Hasher.Hash(ctx, in.Password); err == nil {
				_ = s.Identities.SetPassword(ctx, cand.Identity.ID, h, s.now())
			}
		}
	}
	if !ok {
		_ = s.Throttle.Fail(ctx, netKey, s.Config.LoginThrottle)
		_ = s.Throttle.Fail(ctx, idKey, s.Config.LoginThrottle)
		s.emit(ctx, f, c, event.LoginSubmitted, event.OutcomeFailure, "invalid_credentials", "", "")
		return nil, errCredentials
	}
	if idFails > 0 {
		_ = s.Throttle.Reset(ctx, idKey)
	}
	now := s.now()
	f.IdentityID = cand.Identity.ID
	f.Data.IdentifierID = cand.Identifier.ID
	f.Data.Email = email
	f.Data.Methods = []string{"password"}
	f.Data.AuthenticatedAt = now
	submitted := s.record(f, c, event.LoginSubmitted, event.OutcomeSuccess, "", cand.Identity.ID, "")

	d := s.Policy.Decide(ctx, policy.Input{Domain: s.Config.Domain, Action: policy.SessionIssue, Time: now, FlowID: f.ID,
		ClientIP: c.IP, UserAgent: c.UserAgent, DeviceID: c.DeviceID,
		IdentityID: cand.Identity.ID, IdentityState: cand.Identity.State, EmailVerified: cand.Identifier.Verified})
	if d.Effect == policy.StepUp && len(d.Require) == 1 && d.Require[0] == policy.StepVerifyEmail {
		f.State = StateVerify
		msg := info("verify_email_to_continue", "Please verify your email address: we sent a 6-digit code to "+email+".")
		// Past the address's share of code mails the code is made but not
		// mailed, as at sign-up (this read is off the usual path: only
		// unverified accounts come here).
		signals, err := s.codeSendSignals(ctx, c, email)
		if err != nil {
			return nil, err
		}
		if err := s.saveWithCodeMailed(ctx, f, c, "verification_code", signals.IdentifierWait == 0, msg, submitted,
			s.record(f, c, event.LoginSucceeded, event.OutcomePending, d.Reason, cand.Identity.ID, "")); err != nil {
			return nil, err
		}
		return &Result{Flow: f}, nil
	}
	result := &Result{Flow: f}
	f.State = StateDone // signIn may move it on to StateSecondFactor
	f.Data.Messages = nil
	signedIn, err := s.signInAs(ctx, f, c, cand.Identity, enrolled, f.Data.Methods, now, policy.Signals{}, result)
	if err != nil {
		return nil, err
	}
	if err := s.save(ctx, f, now, submitted, signedIn); err != nil {
		return nil, err
	}
	return result, nil
}
