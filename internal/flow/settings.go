package flow

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/foyer-id/foyer/internal/courier"
	"github.com/foyer-id/foyer/internal/decision"
	"github.com/foyer-id/foyer/internal/event"
	"github.com/foyer-id/foyer/internal/i18n"
	"github.com/foyer-id/foyer/internal/identity"
	"github.com/foyer-id/foyer/internal/policy"
	"github.com/foyer-id/foyer/internal/risk"
	"github.com/foyer-id/foyer/internal/session"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/throttle"
)

// The customer's own settings: the password, the traits the schema
// allows (the name), and the devices signed in. Each change is an
// account.change decision (mayChange) and a settings.changed event; a new
// password also ends every other session and tells every verified
// address.

// ChangePassword sets a signed-in customer's new password. It needs the
// current password (checked, and counted as a sign-in attempt on the
// address) or a recent sign-in (a *ReauthError otherwise). Every other
// session of the account ends, with the apps' tokens issued to them.
func (s *Service) ChangePassword(ctx context.Context, c Client, sess *session.Session, current, next string) (err error) {
	ident, err := s.Identities.Get(ctx, s.Config.Domain, sess.IdentityID)
	if err != nil {
		return err
	}
	var methods []string
	if current != "" {
		if err := s.checkCurrentPassword(ctx, c, ident, current); err != nil {
			return err
		}
		methods = []string{MethodPassword}
	}
	if err := s.mayChange(ctx, c, ident, sess, policy.ChangePassword, methods); err != nil {
		return err
	}
	if err := s.checkPassword(next, passwordContext(ident)); err != nil {
		return err
	}
	hash, err := s.Hasher.Hash(ctx, next)
	if err != nil {
		return err
	}
	now := s.now()
	// A session that proved only the mailbox (signed in by an emailed
	// code) setting a password without the old one is a recovery by
	// another door: the account enters the cool-off as after one.
	mailboxOnly := current == "" && !slices.ContainsFunc(sess.Methods, func(m string) bool { return m != MethodEmailCode })
	err = s.Flows.db.InTx(ctx, func(tx *store.Tx) error {
		oldHash, err := s.Identities.PasswordHashTx(ctx, tx, ident.ID)
		if err != nil {
			return err
		}
		if mailboxOnly {
			err = s.Identities.RecoverTx(ctx, tx, ident.ID, hash, now, now.Add(s.Config.RecoveryCoolOff))
		} else {
			err = s.Identities.SetPasswordTx(ctx, tx, ident.ID, hash, now)
		}
		if err != nil {
			return err
		}
		if err := s.endOthersTx(ctx, tx, ident.ID, sess.ID); err != nil {
			return err
		}
		if err := s.noticeTx(ctx, tx, ident, c.Lang, courier.Text{ID: "notice.password_changed"}, RevertPassword, oldHash, ""); err != nil {
			return err
		}
		return s.emitTx(ctx, tx, nil, c, event.SettingsChanged, event.OutcomeSuccess, policy.ChangePassword, ident.ID, sess.ID)
	})
	if err != nil {
		return fmt.Errorf("flow: change password of %s: %w", ident.ID, err)
	}
	return nil
}

// checkCurrentPassword checks the password a customer typed to prove it
// is them: a wrong one counts as a failed sign-in on the address (so the
// settings page is no way around the sign-in limits).
func (s *Service) checkCurrentPassword(ctx context.Context, c Client, ident *identity.Identity, pw string) (err error) {
	key := throttle.IdentifierKey("login", s.Config.Domain+"/"+ident.Email().Value)
	g, err := s.reserve(ctx, c, policy.LoginSubmit, key, ident.ID)
	if err != nil {
		return err
	}
	defer func() { g.end(ctx, err) }()
	if _, err := s.decideGuarded(ctx, g, &Flow{}, c, policy.Input{Action: policy.LoginSubmit, IdentityID: ident.ID}, event.SettingsChanged); err != nil {
		return err
	}
	hash, err := s.Identities.PasswordHash(ctx, ident.ID)
	if err != nil {
		return err
	}
	ok := false
	if hash == "" {
		s.Hasher.VerifyDummy(ctx, pw)
	} else if ok, _, err = s.Hasher.Verify(ctx, pw, hash); err != nil {
		return err
	}
	if !ok {
		g.failed(ctx)
		s.emit(ctx, nil, c, event.SettingsChanged, event.OutcomeFailure, "current_password_invalid", ident.ID, "")
		return invalid("current_password", "current_password_invalid")
	}
	g.succeeded(ctx, key)
	return nil
}

// endOthersTx ends, inside tx, every session of an identity but keep, and
// the apps' tokens issued to them (offline grants too).
func (s *Service) endOthersTx(ctx context.Context, tx *store.Tx, identityID, keep string) error {
	if _, err := s.Sessions.RevokeOthersTx(ctx, tx, identityID, keep); err != nil {
		return err
	}
	if s.Grants == nil {
		return nil
	}
	_, err := s.Grants.RevokeOthersTx(ctx, tx, identityID, keep)
	return err
}

// ChangeTraits replaces the traits a customer may change (every trait the
// schema has but the email address, which changes with a check of the new
// address): traits holds the new values, and a trait left out keeps its
// value. It returns the identity as it now is.
func (s *Service) ChangeTraits(ctx context.Context, c Client, sess *session.Session, traits map[string]any) (*identity.Identity, error) {
	ident, err := s.Identities.Get(ctx, s.Config.Domain, sess.IdentityID)
	if err != nil {
		return nil, err
	}
	merged := map[string]any{}
	if err := json.Unmarshal(ident.Traits, &merged); err != nil {
		return nil, fmt.Errorf("flow: traits of %s: %w", ident.ID, err)
	}
	email, phone := merged["email"], merged[s.Schema.IdentifierTrait(identity.KindPhone)]
	maps.Copy(merged, traits)
	if v, ok := traits["email"]; ok && v != email {
		return nil, invalid("email", "email_change_separate")
	}
	if trait := s.Schema.IdentifierTrait(identity.KindPhone); trait != "" {
		if v, ok := traits[trait]; ok && v != phone {
			return nil, invalid(trait, "phone_change_separate")
		}
	}
	for k, v := range merged {
		if str, ok := v.(string); v == nil || ok && strings.TrimSpace(str) == "" {
			delete(merged, k) // a cleared trait is gone (the schema says whether it may be)
		}
	}
	if _, err := s.Schema.Validate(merged); err != nil {
		var te *identity.TraitError
		if errors.As(err, &te) {
			return nil, &InvalidError{Messages: []Message{traitMessage(te)}}
		}
		return nil, err
	}
	if err := s.mayChange(ctx, c, ident, sess, policy.ChangeTraits, nil); err != nil {
		return nil, err
	}
	raw, err := json.Marshal(merged)
	if err != nil {
		return nil, err
	}
	if err := s.Identities.SetTraits(ctx, ident.ID, raw, s.now()); err != nil {
		return nil, err
	}
	s.emit(ctx, nil, c, event.SettingsChanged, event.OutcomeSuccess, policy.ChangeTraits, ident.ID, sess.ID)
	ident.Traits = raw
	return ident, nil
}

// unknownDevice names a device whose user agent says nothing known.
const unknownDevice = "An app or device we could not identify"

// SignedInDevice is a session signed in to the account, as its settings show it.
type SignedInDevice struct {
	SessionID string    `json:"session_id"`
	Current   bool      `json:"current"`
	Browser   string    `json:"browser"`
	Network   string    `json:"network,omitempty"`
	Country   string    `json:"country,omitempty"`
	City      string    `json:"city,omitempty"`
	SignedIn  time.Time `json:"signed_in_at"`
	LastSeen  time.Time `json:"last_seen_at"`
	AAL       string    `json:"aal"`
	Methods   []string  `json:"methods"`
}

// SignedIn lists the sessions signed in to sess's account, the current one
// first: browser, place (from GeoIP, when there is a database) and when
// each was last used.
func (s *Service) SignedIn(ctx context.Context, sess *session.Session) ([]SignedInDevice, error) {
	list, err := s.Sessions.List(ctx, sess.IdentityID)
	if err != nil {
		return nil, err
	}
	out := make([]SignedInDevice, 0, len(list))
	for _, x := range list {
		place := s.GeoIP.Lookup(x.IP)
		d := SignedInDevice{SessionID: x.ID, Current: x.ID == sess.ID, Browser: cmp.Or(risk.Family(x.UserAgent), unknownDevice), Network: place.Network,
			Country: place.Country, City: place.City, SignedIn: x.AuthenticatedAt, LastSeen: x.SeenAt, AAL: x.AAL, Methods: x.Methods}
		if d.Current {
			out = append([]SignedInDevice{d}, out...)
		} else {
			out = append(out, d)
		}
	}
	return out, nil
}

// SignOutDevice ends one other session of sess's account
// (store.ErrNotFound for none such) with the apps' tokens issued to it;
// id "" ends every other one. The current session stays: signing it out
// is POST /logout.
func (s *Service) SignOutDevice(ctx context.Context, c Client, sess *session.Session, id string) error {
	if id == sess.ID {
		return invalid("session_id", "session_current")
	}
	// A sign-out like any other (logout), of the session id names, or of
	// every other one.
	_, rec, err := s.decideRecord(ctx, nil, c, policy.Input{Action: policy.Logout, IdentityID: sess.IdentityID, SessionID: cmp.Or(id, sess.ID)}, event.SessionsRevoked)
	if err != nil {
		return err
	}
	if id == "" {
		return s.Flows.db.InTx(ctx, func(tx *store.Tx) error {
			if err := s.endOthersTx(ctx, tx, sess.IdentityID, sess.ID); err != nil {
				return err
			}
			if err := decision.InsertAll(ctx, tx, []decision.Record{rec}); err != nil {
				return err
			}
			return s.emitTx(ctx, tx, nil, c, event.SessionsRevoked, event.OutcomeSuccess, "others", sess.IdentityID, sess.ID)
		})
	}
	ok, err := s.Sessions.RevokeID(ctx, sess.IdentityID, id)
	if err != nil {
		return err
	}
	if !ok { // nothing to sign out of: the decision is kept alone
		if err := s.Decisions.Append(ctx, rec); err != nil {
			s.Logger.WarnContext(ctx, "flow: sign-out decision not recorded", "error", err)
		}
		return store.ErrNotFound
	}
	if s.Grants != nil {
		if err := s.Grants.RevokeSession(ctx, sess.IdentityID, id); err != nil {
			return err
		}
	}
	s.emit(ctx, nil, c, event.SessionsRevoked, event.OutcomeSuccess, "one", sess.IdentityID, id, rec)
	return nil
}

// Activity is one entry of an account's recent security activity.
type Activity struct {
	// What happened, in words (English), and the id of those words in
	// the message catalogues, for a page in the customer's language.
	What    string    `json:"what"`
	ID      string    `json:"id"`
	Type    string    `json:"type"`
	Outcome string    `json:"outcome"`
	Reason  string    `json:"reason,omitempty"`
	Browser string    `json:"browser"`
	Network string    `json:"network,omitempty"`
	Country string    `json:"country,omitempty"`
	City    string    `json:"city,omitempty"`
	At      time.Time `json:"at"`
}

// activityWords is the message id (internal/i18n's activity.json) that
// says an event of the security activity in words, by type, then by
// reason ("" for any other); an event with none is left out.
var activityWords = map[string]map[string]string{
	event.LoginSucceeded: {"registration": "activity.signed_up", "": "activity.signed_in"},
	event.RecoveryCompleted: {FactorRecovery: "activity.recovered_recovery_code", MethodSMSCode: "activity.recovered_sms",
		"": "activity.recovered_email"},
	event.SettingsChanged: {policy.ChangePassword: "activity.password_changed", policy.ChangeTraits: "activity.profile_changed",
		policy.ChangeEmail: "activity.email_changed", policy.ChangePhone: "activity.phone_changed",
		"current_password_invalid": "activity.wrong_current_password", "password_breached": "activity.leaked_password_replaced"},
	event.ChangeReverted: {"": "activity.change_undone"},
	event.MethodsChanged: {"totp_enabled": "activity.totp_on", "totp_disabled": "activity.totp_off",
		"recovery_codes_regenerated": "activity.recovery_codes_new", "passkey_added": "activity.passkey_added", "passkey_removed": "activity.passkey_removed",
		"provider_linked": "activity.provider_linked", "provider_unlinked": "activity.provider_unlinked"},
	event.SessionsRevoked: {"one": "activity.device_signed_out", "others": "activity.others_signed_out"},
}

// SecurityActivity returns the last things that happened to an
// account's security, newest first: sign-ins, recoveries, changes of
// password, email, profile and factors, devices signed out — each with
// the browser and place it came from.
func (s *Service) SecurityActivity(ctx context.Context, identityID string) ([]Activity, error) {
	evs, err := s.Events.Activity(ctx, s.Config.Domain, identityID, 30)
	if err != nil {
		return nil, err
	}
	out := []Activity{}
	for _, e := range evs {
		if e.Type == event.LoginSucceeded && e.Outcome != event.OutcomeSuccess {
			continue // a step of a sign-in, not one
		}
		words := activityWords[e.Type]
		id, ok := words[e.Reason]
		if !ok {
			id = words[""]
		}
		if id == "" || len(out) == 20 {
			continue
		}
		place := s.GeoIP.Lookup(e.IP)
		out = append(out, Activity{What: i18n.English().T(id), ID: id, Type: e.Type, Outcome: e.Outcome, Reason: e.Reason,
			Browser: cmp.Or(risk.Family(e.UserAgent), unknownDevice),
			Network: place.Network, Country: place.Country, City: place.City, At: e.OccurredAt})
	}
	return out, nil
}

// SubmitNewPassword completes a sign-in waiting for a new password (the
// one it passed with is on the breached and common list): the new one
// replaces it, the account's other sessions and their apps' tokens end
// (whoever else tried the old password is out), every verified address
// is told with a link that undoes it, and the customer is signed in.
func (s *Service) SubmitNewPassword(ctx context.Context, f *Flow, c Client, pw string) (*Result, error) {
	if f.Data.FinishSignUp {
		return s.FinishSignUp(ctx, f, c, pw)
	}
	if f.Type != TypeLogin || f.State != StatePassword {
		return nil, ErrWrongState
	}
	ident, err := s.Identities.Get(ctx, s.Config.Domain, f.IdentityID)
	if err != nil {
		return nil, err
	}
	if err := s.checkPassword(pw, passwordContext(ident)); err != nil {
		return nil, err
	}
	hash, err := s.Hasher.Hash(ctx, pw)
	if err != nil {
		return nil, err
	}
	f.Data.Breached = false
	f.State, f.Data.Messages = StateDone, nil
	result := &Result{Flow: f}
	signedIn, err := s.signIn(ctx, f, c, f.Data.Methods, f.Data.AuthenticatedAt, result)
	if err != nil {
		return nil, err
	}
	now := s.now()
	replace := func(ctx context.Context, tx *store.Tx) error {
		old, err := s.Identities.PasswordHashTx(ctx, tx, ident.ID)
		if err != nil {
			return err
		}
		if err := s.Identities.SetPasswordTx(ctx, tx, ident.ID, hash, now); err != nil {
			return err
		}
		if err := s.endOthersTx(ctx, tx, ident.ID, ""); err != nil {
			return err
		}
		if err := s.noticeTx(ctx, tx, ident, f.Data.Lang, courier.Text{ID: "notice.password_breached"},
			RevertPassword, old, ""); err != nil {
			return err
		}
		return s.emitTx(ctx, tx, f, c, event.SettingsChanged, event.OutcomeSuccess, "password_breached", ident.ID, "")
	}
	if err := s.save(ctx, f, now, replace, signedIn); err != nil { // once: see SubmitRecoveryPassword
		return nil, err
	}
	return result, nil
}
