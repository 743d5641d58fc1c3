package flow

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/foyer-id/foyer/internal/courier"
	"github.com/foyer-id/foyer/internal/event"
	"github.com/foyer-id/foyer/internal/identity"
	"github.com/foyer-id/foyer/internal/policy"
	"github.com/foyer-id/foyer/internal/session"
	"github.com/foyer-id/foyer/internal/store"
)

// Changing the email address or the phone number: the channels that
// recover the account. The policy decides first (account.change: refused
// in the cool-off after a recovery; a recent sign-in, at aal2 when the
// account has a second factor). A code then goes to the new address or
// number, which must be proved (SubmitCode) before it replaces the old
// one. One another account has gets the same answer, and no code: the
// code simply never works. Once changed, the verified channels are told
// with a link that undoes it, and the new one recovers nothing in the
// cool-off.

// channelChange is what changing one kind of channel takes.
type channelChange struct {
	kind     string // identity.KindEmail or KindPhone
	flowType string
	change   string // policy.Change…
	template string // of the code
	sent     func(value string) Message
}

var (
	emailChange = channelChange{kind: identity.KindEmail, flowType: TypeEmailChange, change: policy.ChangeEmail, template: "verification_code",
		sent: func(v string) Message {
			return info("email_change_code_sent", "email", v)
		}}
	phoneChange = channelChange{kind: identity.KindPhone, flowType: TypePhoneChange, change: policy.ChangePhone, template: smsTemplate,
		sent: func(v string) Message {
			return info("phone_code_sent", "phone", v)
		}}
)

// StartEmailChange begins changing the address of sess's account to
// address (see channelChange).
func (s *Service) StartEmailChange(ctx context.Context, c Client, sess *session.Session, address string) (*Result, error) {
	ident, err := s.Identities.Get(ctx, s.Config.Domain, sess.IdentityID)
	if err != nil {
		return nil, err
	}
	email, err := identity.NormalizeEmail(address)
	if err != nil {
		return nil, invalid("email", "email_invalid")
	}
	if email == ident.Email().Value {
		return nil, invalid("email", "email_unchanged")
	}
	return s.startChange(ctx, c, sess, ident, emailChange, email)
}

// startChange begins proving value as ident's new channel of ch's kind.
func (s *Service) startChange(ctx context.Context, c Client, sess *session.Session, ident *identity.Identity, ch channelChange, value string) (*Result, error) {
	if err := s.mayChange(ctx, c, ident, sess, ch.change, nil); err != nil {
		return nil, err
	}
	f, err := s.Start(ctx, ch.flowType, c, "")
	if err != nil {
		return nil, err
	}
	var owner *identity.Identity
	r := s.Flows.reads()
	net := s.codeNetworkIn(r, c)
	a := s.Throttle.BeginEachIn(r, s.codeSendItems(c, value)...)
	s.Identities.FindByIdentifierIn(r, s.Config.Domain, ch.kind, value, &owner)
	if err := r.Run(ctx); err != nil {
		return nil, fmt.Errorf("flow: %s reads: %w", ch.flowType, err)
	}
	wait, n := net()
	g, err := s.codeSendGuard(ctx, c, a, ident.ID, wait, n)
	if err != nil {
		return nil, err
	}
	if _, err := s.decideGuarded(ctx, g, f, c, policy.Input{Action: policy.VerificationSend, IdentityID: ident.ID}, event.VerificationSent); err != nil {
		return nil, err
	}
	f.IdentityID, f.Data.SessionID = ident.ID, sess.ID
	if ch.kind == identity.KindPhone {
		f.Data.Phone = value
	} else {
		f.Data.Email = value
	}
	f.Data.Values = map[string]string{ch.kind: value}
	f.Data.Dead = owner != nil && owner.ID != ident.ID
	f.State = StateVerify
	if err := s.saveWithCode(ctx, f, c, ch.template, ch.sent(value)); err != nil {
		g.cancel(ctx)
		return nil, err
	}
	return &Result{Flow: f}, nil
}

// completeChange makes a change's new address or number, just proved,
// the account's: the verified channels get a notice with the link that
// undoes it (for an address, the new one too), and the change is an
// event. The session that asked must still be live: signing out
// everywhere stops a change under way.
func (s *Service) completeChange(ctx context.Context, f *Flow, c Client) (*Result, error) {
	now := s.now()
	live, err := s.Sessions.Live(ctx, f.Data.SessionID)
	if err != nil {
		return nil, err
	}
	if !live {
		f.State = StateFailed
		f.Data.Messages = []Message{errorMsg("", "session_ended")}
		if err := s.Flows.Finish(ctx, f, now); err != nil {
			return nil, err
		}
		return &Result{Flow: f}, nil
	}
	ident, err := s.Identities.Get(ctx, s.Config.Domain, f.IdentityID)
	if err != nil {
		return nil, err
	}
	var apply write
	if f.Type == TypePhoneChange {
		apply = s.applyPhone(f, c, ident, now)
	} else {
		apply = s.applyEmail(f, c, ident, now)
	}
	f.State = StateDone
	err = s.finish(ctx, f, now, apply)
	if errors.Is(err, store.ErrConflict) {
		// Another account took it meanwhile.
		return nil, invalid("code", "channel_taken")
	}
	if err != nil {
		return nil, err
	}
	return &Result{Flow: f}, nil
}

// applyEmail is the write of a proved email change.
func (s *Service) applyEmail(f *Flow, c Client, ident *identity.Identity, now time.Time) write {
	f.Data.Messages = []Message{info("email_changed", "email", f.Data.Email)}
	old := ident.Email().Value
	return func(ctx context.Context, tx *store.Tx) error {
		traits, err := withEmail(ident.Traits, f.Data.Email)
		if err != nil {
			return err
		}
		if err := s.Identities.ChangeEmailTx(ctx, tx, ident.ID, f.Data.Email, traits, now, true); err != nil {
			return err
		}
		if err := s.noticeTx(ctx, tx, ident, f.Data.Lang, courier.Text{ID: "notice.email_changed", Args: []any{"email", f.Data.Email}}, RevertEmail, old, f.Data.Email); err != nil {
			return err
		}
		return s.emitTx(ctx, tx, f, c, event.SettingsChanged, event.OutcomeSuccess, policy.ChangeEmail, ident.ID, f.Data.SessionID)
	}
}
