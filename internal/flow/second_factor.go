package flow

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/foyer-id/foyer/internal/credential/passkey"
	"github.com/foyer-id/foyer/internal/credential/recovery"
	"github.com/foyer-id/foyer/internal/credential/totp"
	"github.com/foyer-id/foyer/internal/event"
	"github.com/foyer-id/foyer/internal/identity"
	"github.com/foyer-id/foyer/internal/policy"
	"github.com/foyer-id/foyer/internal/session"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/throttle"
)

// Second-factor kinds.
const (
	FactorTOTP     = "totp"
	FactorRecovery = "recovery_code"
)

// ErrFactorInvalid is what Factors.Verify returns for a wrong, reused or
// expired code.
var ErrFactorInvalid = errors.New("flow: second factor code not valid")

// checkFactor verifies a second-factor code with the same throttling as
// passwords (per network and per identity), asking the policy first; f is
// nil for a step-up of a live session.
func (s *Service) checkFactor(ctx context.Context, f *Flow, c Client, identityID, kind, code string) (err error) {
	if s.Factors == nil {
		return invalid("", "two_factor_disabled")
	}
	if kind == FactorTOTP {
		code = CleanCode(code)
	} else {
		code = strings.TrimSpace(code) // a recovery code's own form (credential/recovery)
	}
	if kind != FactorTOTP && kind != FactorRecovery {
		return invalid("kind", "factor_kind_invalid")
	}
	if code == "" || len(code) > 64 {
		return invalid("code", "second_factor_code_format")
	}
	if f == nil {
		// A step-up of a live session has no flow: an empty one holds
		// the step's decision until its event is written.
		f = &Flow{}
	}
	idKey := throttle.IdentifierKey("factor", identityID)
	g, err := s.reserve(ctx, c, policy.SecondFactorSubmit, idKey, identityID)
	if err != nil {
		return err
	}
	defer func() { g.end(ctx, err) }()
	if _, err := s.decideGuarded(ctx, g, f, c, policy.Input{Action: policy.SecondFactorSubmit, IdentityID: identityID}, event.SecondFactorSubmitted); err != nil {
		return err
	}
	if err := s.Factors.Verify(ctx, identityID, kind, code); err != nil {
		if !errors.Is(err, ErrFactorInvalid) {
			return err // the counts go back with the guard (end)
		}
		g.failed(ctx)
		s.emit(ctx, f, c, event.SecondFactorSubmitted, event.OutcomeFailure, kind+"_invalid", identityID, "")
		return &InvalidError{Messages: []Message{FactorInvalid(kind)}}
	}
	g.succeeded(ctx, idKey)
	s.emit(ctx, f, c, event.SecondFactorSubmitted, event.OutcomeSuccess, kind, identityID, "")
	return nil
}

// SubmitSecondFactor completes a sign-in waiting for its second factor.
func (s *Service) SubmitSecondFactor(ctx context.Context, f *Flow, c Client, kind, code string) (*Result, error) {
	if f.Type != TypeLogin || f.State != StateSecondFactor {
		return nil, ErrWrongState
	}
	if err := s.checkFactor(ctx, f, c, f.IdentityID, kind, code); err != nil {
		return nil, err
	}
	result := &Result{Flow: f}
	f.State, f.Data.Messages = StateDone, nil
	signedIn, err := s.signIn(ctx, f, c, append(f.Data.Methods, kind), f.Data.AuthenticatedAt, result)
	if err != nil {
		return nil, err
	}
	if err := s.finish(ctx, f, s.now(), signedIn); err != nil {
		return nil, err
	}
	return result, nil
}

// StepUp raises a live session to AAL2 with a second factor and rotates
// it: the returned token replaces the old one, which stops working.
func (s *Service) StepUp(ctx context.Context, c Client, token, kind, code string) (string, *session.Session, error) {
	sess, ident, err := s.Sessions.Whoami(ctx, token) // the identity, for the cool-off, in the same read
	if err != nil {
		return "", nil, ErrNoSession
	}
	sig, err := s.recoverySignals(ctx, ident, kind)
	if err != nil {
		return "", nil, err
	}
	if sig.RecentlyRecovered && !sig.OriginalFactor {
		// Asked before the code is checked, so that a refusal spends no
		// recovery code for nothing.
		if _, _, err := s.decideRecord(ctx, nil, c, policy.Input{Action: policy.SessionStepUp, IdentityID: sess.IdentityID, SessionID: sess.ID,
			Methods: append(slices.Clone(sess.Methods), kind), AAL: sess.AAL, AuthenticatedAt: sess.AuthenticatedAt, Signals: sig}, event.SessionSteppedUp); err != nil {
			return "", nil, restrictedRefusal(err)
		}
	}
	if err := s.checkFactor(ctx, nil, c, sess.IdentityID, kind, code); err != nil {
		return "", nil, err
	}
	_, rec, err := s.decideRecord(ctx, nil, c, policy.Input{Action: policy.SessionStepUp, IdentityID: sess.IdentityID, SessionID: sess.ID,
		Methods: append(slices.Clone(sess.Methods), kind), AAL: sess.AAL, AuthenticatedAt: sess.AuthenticatedAt, Signals: sig}, event.SessionSteppedUp)
	if err != nil {
		return "", nil, restrictedRefusal(err)
	}
	newToken, upgraded, err := s.Sessions.Upgrade(ctx, token, kind, session.AAL2)
	if errors.Is(err, session.ErrInvalid) {
		// Revoked or rotated meanwhile, by a step-up sent at the same
		// time: the token is no good any more.
		return "", nil, ErrNoSession
	} else if err != nil {
		return "", nil, err
	}
	s.emit(ctx, nil, c, event.SessionSteppedUp, event.OutcomeSuccess, kind, sess.IdentityID, upgraded.ID, rec)
	if sig.RecentlyRecovered && sig.OriginalFactor {
		// The owner's own factor: the cool-off has done its work.
		if err := s.Identities.Unrestrict(ctx, sess.IdentityID); err != nil {
			return "", nil, err
		}
	}
	return newToken, upgraded, nil
}

// recoverySignals says whether an identity is in the cool-off after a
// recovery and, if so, whether the factor of kind it just passed was set
// up before the recovery (only an authenticator app can be: recovery
// codes may be what recovered the account).
func (s *Service) recoverySignals(ctx context.Context, ident *identity.Identity, kind string) (policy.Signals, error) {
	sig := policy.Signals{RecentlyRecovered: ident.Restricted(s.now())}
	if sig.RecentlyRecovered {
		var err error
		if sig.OriginalFactor, err = s.setUpBeforeRecovery(ctx, ident, []string{kind}, time.Time{}); err != nil {
			return sig, err
		}
	}
	return sig, nil
}

// setUpBeforeRecovery reports whether the second factor among methods was
// set up before ident's last recovery: the authenticator app (when it was
// confirmed), or the passkey (added at passkeyAdded). Recovery codes never
// are: they may be what recovered the account.
func (s *Service) setUpBeforeRecovery(ctx context.Context, ident *identity.Identity, methods []string, passkeyAdded time.Time) (bool, error) {
	switch {
	case slices.Contains(methods, MethodPasskey):
		return !passkeyAdded.IsZero() && passkeyAdded.Before(ident.RecoveredAt), nil
	case slices.Contains(methods, FactorTOTP) && s.Factors != nil:
		at, err := s.Factors.TOTP.ConfirmedAt(ctx, ident.ID)
		if err != nil {
			return false, err
		}
		return !at.IsZero() && at.Before(ident.RecoveredAt), nil
	}
	return false, nil
}

// restrictedRefusal turns the policy's refusal of a step in the cool-off
// after a recovery into the refusal that says so (RecoveryRestricted).
func restrictedRefusal(err error) error {
	var denied *DeniedError
	if errors.As(err, &denied) && denied.Reason == "recently_recovered" {
		return &RefusedError{Message: RecoveryRestricted}
	}
	return err
}

// Factors checks the second factors Foyer offers: authenticator apps
// (TOTP) and recovery codes.
type Factors struct {
	TOTP     *totp.Store
	Recovery *recovery.Store
	// Passkeys, when on, can also raise a session to aal2 (a passkey
	// with user verification is two factors by itself).
	Passkeys *passkey.Service
}

// CanStepUp reports whether the identity has anything that raises a
// session to aal2: an authenticator app or a passkey.
func (f Factors) CanStepUp(ctx context.Context, identityID string) (bool, error) {
	if ok, err := f.TOTP.Enrolled(ctx, identityID); ok || err != nil {
		return ok, err
	}
	if f.Passkeys == nil {
		return false, nil
	}
	n, err := f.Passkeys.Count(ctx, identityID)
	return n > 0, err
}

// Enrolled reports whether the identity has a confirmed authenticator.
func (f Factors) Enrolled(ctx context.Context, identityID string) (bool, error) {
	return f.TOTP.Enrolled(ctx, identityID)
}

// Kinds are the ways in an identity has besides its password and address
// (policy.Input.Factors): FactorTOTP when an authenticator app is
// confirmed, "passkey", "recovery_code" while one is unused, "phone" for
// a verified number.
type Kinds []string

// TOTP reports whether the identity has a confirmed authenticator app:
// the second factor a sign-in asks for.
func (k Kinds) TOTP() bool { return slices.Contains(k, FactorTOTP) }

// kindsSQL lists an identity's Kinds (%s: an expression of its id), each
// an index lookup, in one statement.
const kindsSQL = `SELECT 'totp' FROM totp_credentials WHERE identity_id = %[1]s AND confirmed_at IS NOT NULL
	UNION ALL SELECT 'passkey' WHERE EXISTS (SELECT 1 FROM webauthn_credentials WHERE identity_id = %[1]s)
	UNION ALL SELECT 'recovery_code' WHERE EXISTS (SELECT 1 FROM recovery_codes WHERE identity_id = %[1]s AND used_at IS NULL)
	UNION ALL SELECT 'phone' WHERE EXISTS (SELECT 1 FROM identifiers WHERE identity_id = %[1]s AND kind = 'phone' AND verified_at IS NOT NULL)`

var (
	kindsByID         = fmt.Sprintf(kindsSQL, "$1")
	kindsByIdentifier = fmt.Sprintf(kindsSQL, "(SELECT identity_id FROM identifiers WHERE domain = $1 AND kind = $2 AND value = $3)")
)

func scanKinds(out *Kinds) func(store.Rows) error {
	return func(rows store.Rows) error {
		*out = (*out)[:0]
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				return err
			}
			*out = append(*out, k)
		}
		return nil
	}
}

// KindsIn adds to r the identity's Kinds.
func (f Factors) KindsIn(r *store.Reads, identityID string, out *Kinds) {
	r.Query(scanKinds(out), kindsByID, identityID)
}

// KindsByIdentifierIn adds to r the Kinds of the owner of an identifier
// (a sign-in's email address; none for an unknown one), read with the
// account before its id is known.
func (f Factors) KindsByIdentifierIn(r *store.Reads, domain, kind, value string, out *Kinds) {
	r.Query(scanKinds(out), kindsByIdentifier, domain, kind, value)
}

// Verify checks and consumes a code.
func (f Factors) Verify(ctx context.Context, identityID, kind, code string) error {
	var err error
	switch kind {
	case FactorTOTP:
		err = f.TOTP.Verify(ctx, identityID, code)
		if errors.Is(err, totp.ErrInvalidCode) || errors.Is(err, totp.ErrNotEnrolled) {
			return ErrFactorInvalid
		}
	case FactorRecovery:
		if ok, _ := f.CanStepUp(ctx, identityID); !ok {
			return ErrFactorInvalid // recovery codes stand in for a second factor only
		}
		err = f.Recovery.Use(ctx, identityID, code)
		if errors.Is(err, recovery.ErrInvalidCode) {
			return ErrFactorInvalid
		}
	default:
		return ErrFactorInvalid
	}
	return err
}
