package flow

import (
	"context"

	"github.com/foyer-id/foyer/internal/courier"
	"github.com/foyer-id/foyer/internal/event"
	"github.com/foyer-id/foyer/internal/identity"
	"github.com/foyer-id/foyer/internal/policy"
	"github.com/foyer-id/foyer/internal/session"
	"github.com/foyer-id/foyer/internal/store"
)

// Reauth is what a session lacks before it may change sign-in methods.
type Reauth int

// What a session may need first.
const (
	ReauthNone   Reauth = iota // go ahead
	ReauthSignIn               // sign in again
	ReauthStepUp               // step up with the second factor
)

// MethodsChangeNeeds tells whether sess may change sign-in methods now,
// as the policy decides methods.change (policy.Default: signed in
// recently, and at aal2 when the account has anything that raises a
// session to aal2 — an authenticator app or a passkey; otherwise a
// password or an emailed code alone could replace the account's
// passkeys, or make recovery codes and step up with them). A refusal is
// a *DeniedError. The hosted pages and the JSON API both decide through
// it; the decision is recorded.
func (s *Service) MethodsChangeNeeds(ctx context.Context, c Client, sess *session.Session) (Reauth, error) {
	enrolled := false
	if s.Factors != nil {
		var err error
		if enrolled, err = s.Factors.CanStepUp(ctx, sess.IdentityID); err != nil {
			return 0, err
		}
	}
	d, rec, err := s.decideRecord(ctx, nil, c, policy.Input{Action: policy.MethodsChange, IdentityID: sess.IdentityID,
		SessionID: sess.ID, SecondFactor: enrolled, Methods: sess.Methods, AAL: sess.AAL, AuthenticatedAt: sess.AuthenticatedAt}, event.MethodsChanged)
	if err != nil {
		return 0, err
	}
	if err := s.Decisions.Append(ctx, rec); err != nil {
		return 0, err
	}
	if d.Effect != policy.StepUp {
		return ReauthNone, nil
	}
	switch stateFor(d.Require) {
	case StateSecondFactor:
		return ReauthStepUp, nil
	case StateForm: // a new sign-in
		return ReauthSignIn, nil
	}
	return 0, denied(d)
}

// mayChange asks the policy whether ident may make change now
// (account.change, policy.Change…), with the session that asks if there
// is one: in the cool-off after a recovery (identity.Restricted) what
// would lock the owner out is refused with a *RefusedError saying so; a
// change that needs a fresher sign-in is a *ReauthError. The decision is
// recorded.
func (s *Service) mayChange(ctx context.Context, c Client, ident *identity.Identity, sess *session.Session, change string, methods []string) error {
	in := policy.Input{Action: policy.AccountChange, IdentityID: ident.ID, Change: change, Methods: methods,
		Signals: policy.Signals{RecentlyRecovered: ident.Restricted(s.now())}}
	if sess != nil {
		in.SessionID, in.AAL, in.AuthenticatedAt = sess.ID, sess.AAL, sess.AuthenticatedAt
		if s.Factors != nil && change == policy.ChangeEmail {
			var err error
			if in.SecondFactor, err = s.Factors.CanStepUp(ctx, ident.ID); err != nil {
				return err
			}
		}
	}
	d, rec, err := s.decideRecord(ctx, nil, c, in, event.SettingsChanged)
	if err != nil {
		return restrictedRefusal(err)
	}
	if err := s.Decisions.Append(ctx, rec); err != nil {
		return err
	}
	if d.Effect == policy.StepUp {
		return &ReauthError{Need: reauthFor(d.Require)}
	}
	return nil
}

// ReauthError says a change needs the session to sign in again, or step
// up, first (Need). Nothing changed.
type ReauthError struct {
	Need Reauth
}

func (e *ReauthError) Error() string { return "flow: sign in again first" }

// reauthFor is what a session does to serve the steps a decision
// requires.
func reauthFor(require []string) Reauth {
	if stateFor(require) == StateSecondFactor {
		return ReauthStepUp
	}
	return ReauthSignIn
}

// MethodsChanged records a change to how the customer signs in (reason:
// totp_enabled, passkey_added, …) as an event and mails every verified
// address a notice with a link that undoes it (see Revert; for a passkey
// added, credID names it), so an intruder's change does not go
// unnoticed. A notice that cannot be queued is logged, not fatal.
func (s *Service) MethodsChanged(ctx context.Context, c Client, ident *identity.Identity, reason, credID string, notice courier.Text) {
	s.emit(ctx, nil, c, event.MethodsChanged, event.OutcomeSuccess, reason, ident.ID, "")
	if err := s.Identities.MethodsChanged(ctx, ident.ID, s.now()); err != nil {
		s.Logger.ErrorContext(ctx, "flow: methods change not noted for the risk signals", "identity_id", ident.ID, "error", err)
	}
	change := reason
	if credID != "" {
		change += ":" + credID
	}
	err := s.Flows.db.InTx(ctx, func(tx *store.Tx) error {
		return s.noticeTx(ctx, tx, ident, c.Lang, notice, RevertFactor, change, "")
	})
	if err != nil {
		s.Logger.ErrorContext(ctx, "flow: security notice not queued", "identity_id", ident.ID, "error", err)
	}
}

// RefusedError says a change was refused because of what it would leave
// behind; Message says why and what to do instead. Nothing changed.
type RefusedError struct {
	Message Message
}

func (e *RefusedError) Error() string { return "flow: refused: " + e.Message.ID }

// Refusals of RemovePasskey and RemoveTOTP.
var (
	refusedLastMethod = errorMsg("", "last_sign_in_method")
	refusedLastFactor = errorMsg("", "last_second_factor")
	// refusedLastLink: Unlink's, of a provider's account that is the
	// account's only way in.
	refusedLastLink = errorMsg("", "last_sign_in_link")
)

// Refusal returns the message of a refusal by its ID, for a page that
// shows it after a redirect.
func Refusal(id string) (Message, bool) {
	for _, m := range []Message{refusedLastMethod, refusedLastFactor, refusedLastLink, RecoveryRestricted} {
		if m.ID == id {
			return m, true
		}
	}
	return Message{}, false
}

// An account must keep a way to sign in (a password or a passkey), and
// an account that has a second factor (an authenticator app or a passkey)
// keeps at least one, so that it never falls back to a password alone.
// RemovePasskey and RemoveTOTP refuse what would break that with a
// *RefusedError.

// checkTOTPRemoval refuses turning off the authenticator app while it is
// the account's only second factor.
func (s *Service) checkTOTPRemoval(ctx context.Context, identityID string) error {
	m, err := s.methodsOf(ctx, identityID)
	if err != nil {
		return err
	}
	if m.totp && m.passkeys == 0 {
		return &RefusedError{Message: refusedLastFactor}
	}
	return nil
}

// RemovePasskey removes ident's passkey credID (store.ErrNotFound if it
// has none such) and tells the customer. The check and the removal run
// under the account's methods lock, so removals at once (of two
// passkeys, or of a passkey and the authenticator app) cannot together
// leave what none alone may.
func (s *Service) RemovePasskey(ctx context.Context, c Client, ident *identity.Identity, credID string) error {
	if s.Passkeys == nil {
		return store.ErrNotFound
	}
	if err := s.mayChange(ctx, c, ident, nil, policy.ChangeRemoveFactor, nil); err != nil {
		return err
	}
	err := s.Flows.lockMethods(ctx, ident.ID, func() error {
		m, err := s.methodsOf(ctx, ident.ID)
		if err != nil {
			return err
		}
		if refusal := m.lastPasskeyRefusal(); refusal != nil && m.passkeys == 1 {
			list, err := s.Passkeys.List(ctx, ident.ID)
			if err != nil {
				return err
			}
			if len(list) == 1 && list[0].ID == credID {
				return &RefusedError{Message: *refusal}
			}
		}
		return s.Passkeys.Delete(ctx, ident.ID, credID)
	})
	if err != nil {
		return err
	}
	s.MethodsChanged(ctx, c, ident, "passkey_removed", "", courier.Text{ID: "notice.passkey_removed"})
	return nil
}

// methods is what an account signs in with.
type methods struct {
	password bool
	passkeys int
	totp     bool
	links    int // upstream providers' accounts
}

func (s *Service) methodsOf(ctx context.Context, identityID string) (methods, error) {
	var m methods
	var err error
	if m.password, err = s.Identities.HasPassword(ctx, identityID); err != nil {
		return m, err
	}
	if s.Passkeys != nil {
		if m.passkeys, err = s.Passkeys.Count(ctx, identityID); err != nil {
			return m, err
		}
	}
	if s.Factors != nil {
		if m.totp, err = s.Factors.Enrolled(ctx, identityID); err != nil {
			return m, err
		}
	}
	if s.Links != nil {
		links, err := s.Links.List(ctx, identityID)
		if err != nil {
			return m, err
		}
		m.links = len(links)
	}
	return m, nil
}

// secondFactor reports whether the account has one: the authenticator
// app or a passkey.
func (m methods) secondFactor() bool { return m.totp || m.passkeys > 0 }

// lastPasskeyRefusal says why the account's last passkey must stay, or
// nil when it may go: it is the only way in without a password, or the
// only second factor without an authenticator app.
func (m methods) lastPasskeyRefusal() *Message {
	switch {
	case !m.password && m.links == 0:
		return &refusedLastMethod
	case !m.totp:
		return &refusedLastFactor
	}
	return nil
}
