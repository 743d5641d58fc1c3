package flow

import (
	"context"
	"errors"
	"fmt"

	"github.com/foyer-id/foyer/internal/event"
	"github.com/foyer-id/foyer/internal/identity"
	"github.com/foyer-id/foyer/internal/policy"
	"github.com/foyer-id/foyer/internal/session"
	"github.com/foyer-id/foyer/internal/store"
)

// StartEmailChange begins changing the address of sess's account to
// address. The policy decides first (account.change "email": refused in
// the cool-off after a recovery; a recent sign-in, at aal2 when the
// account has a second factor). A code then goes to the new address,
// which must be proved (SubmitCode) before it replaces the old one. An
// address another account has gets the same answer, and no code: the
// code simply never works.
func (s *Service) StartEmailChange(ctx context.Context, c Client, sess *session.Session, address string) (*Result, error) {
	ident, err := s.Identities.Get(ctx, s.Config.Domain, sess.IdentityID)
	if err != nil {
		return nil, err
	}
	email, err := identity.NormalizeEmail(address)
	if err != nil {
		return nil, invalid("email", "email_invalid", "Enter a valid email address.")
	}
	if email == ident.Email().Value {
		return nil, invalid("email", "email_unchanged", "That is already your email address.")
	}
	if err := s.mayChange(ctx, c, ident, sess, policy.ChangeEmail, nil); err != nil {
		return nil, err
	}
	f, err := s.Start(ctx, TypeEmailChange, c, "")
	if err != nil {
		return nil, err
	}
	var owner *identity.Identity
	r := s.Flows.reads()
	net := s.codeNetworkIn(r, c)
	a := s.Throttle.BeginEachIn(r, s.codeSendItems(c, email)...)
	s.Identities.FindByIdentifierIn(r, s.Config.Domain, identity.KindEmail, email, &owner)
	if err := r.Run(ctx); err != nil {
		return nil, fmt.Errorf("flow: email change reads: %w", err)
	}
	wait, n := net()
	g, err := s.codeSendGuard(ctx, c, a, ident.ID, wait, n)
	if err != nil {
		return nil, err
	}
	if _, err := s.decideGuarded(ctx, g, f, c, policy.Input{Action: policy.VerificationSend, IdentityID: ident.ID}, event.VerificationSent); err != nil {
		return nil, err
	}
	f.IdentityID, f.Data.Email, f.Data.SessionID = ident.ID, email, sess.ID
	f.Data.Values = map[string]string{"email": email}
	f.Data.Dead = owner != nil
	f.State = StateVerify
	msg := info("email_change_code_sent", "We sent a 6-digit code to "+email+". Enter it to make it your address.")
	if err := s.saveWithCode(ctx, f, c, "verification_code", msg); err != nil {
		g.cancel(ctx)
		return nil, err
	}
	return &Result{Flow: f}, nil
}

// completeEmailChange makes an email change's new address, just proved,
// the account's: the old address gets a notice with the link that undoes
// it (so does the new one), and the change is an event. The session that
// asked must still be live: signing out everywhere stops a change under
// way.
func (s *Service) completeEmailChange(ctx context.Context, f *Flow, c Client) (*Result, error) {
	now := s.now()
	live, err := s.Sessions.Live(ctx, f.Data.SessionID)
	if err != nil {
		return nil, err
	}
	if !live {
		f.State = StateFailed
		f.Data.Messages = []Message{errorMsg("", "session_ended", "You were signed out meanwhile. Sign in and change your email address again.")}
		if err := s.Flows.Finish(ctx, f, now); err != nil {
			return nil, err
		}
		return &Result{Flow: f}, nil
	}
	ident, err := s.Identities.Get(ctx, s.Config.Domain, f.IdentityID)
	if err != nil {
		return nil, err
	}
	traits, err := withEmail(ident.Traits, f.Data.Email)
	if err != nil {
		return nil, err
	}
	old := ident.Email().Value
	change := func(ctx context.Context, tx *store.Tx) error {
		if err := s.Identities.ChangeEmailTx(ctx, tx, ident.ID, f.Data.Email, traits, now, true); err != nil {
			return err
		}
		if err := s.noticeTx(ctx, tx, ident, "the email address was changed to "+f.Data.Email, RevertEmail, old, f.Data.Email); err != nil {
			return err
		}
		return s.emitTx(ctx, tx, f, c, event.SettingsChanged, event.OutcomeSuccess, policy.ChangeEmail, ident.ID, f.Data.SessionID)
	}
	f.State = StateDone
	f.Data.Messages = []Message{info("email_changed", "Your email address is now "+f.Data.Email+".")}
	err = s.finish(ctx, f, now, change)
	if errors.Is(err, store.ErrConflict) {
		// Another account took the address meanwhile.
		return nil, invalid("code", "email_taken", "That address now belongs to another account.")
	}
	if err != nil {
		return nil, err
	}
	return &Result{Flow: f}, nil
}
