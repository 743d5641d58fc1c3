package flow

import (
	"context"
	"encoding/json"
	"time"

	"github.com/foyer-id/foyer/internal/courier"
	"github.com/foyer-id/foyer/internal/event"
	"github.com/foyer-id/foyer/internal/identity"
	"github.com/foyer-id/foyer/internal/policy"
	"github.com/foyer-id/foyer/internal/session"
	"github.com/foyer-id/foyer/internal/store"
)

// Phone numbers. Where the identity schema has a phone trait (marked
// "x-foyer-identifier": "phone") and text messages can leave (Config.SMS),
// a signed-in customer adds or changes the account's mobile number,
// proved by a code sent to it by text message (TypePhoneChange); once
// verified, it recovers the account like the verified address
// (SubmitRecoveryPhone). Its changes follow the address's rules: the
// policy decides them (account.change "phone"), refused in the cool-off
// after a recovery; the verified addresses are told, with a link that
// undoes the change; and a number changed in the cool-off recovers
// nothing.

// smsTemplate is the text message of every code to a phone.
const smsTemplate = "sms_code"

// phoneTrait is the schema's phone trait, "" when phone numbers are off.
func (s *Service) phoneTrait() string {
	if !s.Config.SMS || s.Schema == nil {
		return ""
	}
	return s.Schema.IdentifierTrait(identity.KindPhone)
}

// PhonesOn reports whether customers can add a phone number.
func (s *Service) PhonesOn() bool { return s.phoneTrait() != "" }

var errPhonesOff = invalid("phone", "phones_off")

// phoneInvalid is the refusal of a number that is not one.
func phoneInvalid() *InvalidError {
	return invalid("phone", "phone_invalid")
}

// StartPhoneChange begins adding (or changing) the phone number of sess's
// account: like StartEmailChange, for a number, by text message.
func (s *Service) StartPhoneChange(ctx context.Context, c Client, sess *session.Session, number string) (*Result, error) {
	if !s.PhonesOn() {
		return nil, errPhonesOff
	}
	ident, err := s.Identities.Get(ctx, s.Config.Domain, sess.IdentityID)
	if err != nil {
		return nil, err
	}
	phone, err := identity.NormalizePhone(number)
	if err != nil {
		return nil, phoneInvalid()
	}
	if cur := ident.Phone(); cur.Value == phone && cur.Verified {
		return nil, invalid("phone", "phone_unchanged")
	}
	return s.startChange(ctx, c, sess, ident, phoneChange, phone)
}

// applyPhone is the write of a proved phone change (see completeChange).
func (s *Service) applyPhone(f *Flow, c Client, ident *identity.Identity, now time.Time) write {
	f.Data.Messages = []Message{info("phone_changed", "phone", f.Data.Phone)}
	old := ident.Phone()
	if !old.Verified {
		old.Value = "" // an unverified number is nothing to go back to
	}
	return func(ctx context.Context, tx *store.Tx) error {
		if err := s.setPhoneTx(ctx, tx, ident, f.Data.Phone, now); err != nil {
			return err
		}
		what := courier.Text{ID: "notice.phone_added", Args: []any{"phone", f.Data.Phone}}
		if old.Value != "" {
			what.ID = "notice.phone_changed"
		}
		if err := s.noticeTx(ctx, tx, ident, f.Data.Lang, what, RevertPhone, old.Value, ""); err != nil {
			return err
		}
		return s.emitTx(ctx, tx, f, c, event.SettingsChanged, event.OutcomeSuccess, policy.ChangePhone, ident.ID, f.Data.SessionID)
	}
}

// setPhoneTx sets (or, for "", removes) ident's phone number and its
// trait inside tx; the change is noted (Identity.PhoneChangedAt), so that
// the new number recovers nothing in the cool-off.
func (s *Service) setPhoneTx(ctx context.Context, tx *store.Tx, ident *identity.Identity, phone string, now time.Time) error {
	traits := map[string]any{}
	if err := json.Unmarshal(ident.Traits, &traits); err != nil {
		return err
	}
	if trait := s.Schema.IdentifierTrait(identity.KindPhone); trait != "" {
		if phone == "" {
			delete(traits, trait)
		} else {
			traits[trait] = phone
		}
	}
	raw, err := json.Marshal(traits)
	if err != nil {
		return err
	}
	return s.Identities.SetPhoneTx(ctx, tx, s.Config.Domain, ident.ID, phone, raw, now)
}

// SubmitRecoveryPhone starts a recovery by text message: a 6-digit code
// goes to the number if it is the verified phone of an active account
// (not changed in the cool-off), and the flow waits for it, as
// SubmitRecoveryEmail does for an address.
func (s *Service) SubmitRecoveryPhone(ctx context.Context, f *Flow, c Client, number string) (*Result, error) {
	if f.Type != TypeRecovery || f.State != StateForm {
		return nil, ErrWrongState
	}
	if !s.PhonesOn() {
		return nil, errPhonesOff
	}
	phone, err := identity.NormalizePhone(number)
	if err != nil {
		return nil, phoneInvalid()
	}
	g, err := s.codeRequest(ctx, f, c, identity.KindPhone, phone, "phone", event.RecoveryRequested)
	if err != nil {
		return nil, err
	}
	f.State = StateVerify
	msg := info("recovery_sms_code_sent", "phone", phone)
	if err := s.saveWithCode(ctx, f, c, smsTemplate, msg, s.endOtherRecoveries(f),
		s.record(f, c, event.RecoveryRequested, event.OutcomePending, MethodSMSCode, "", "")); err != nil {
		g.cancel(ctx)
		return nil, err
	}
	return &Result{Flow: f}, nil
}

// MethodSMSCode is proving a phone with a code sent to it by text
// message.
const MethodSMSCode = "sms_code"
