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
	"github.com/foyer-id/foyer/internal/event"
	"github.com/foyer-id/foyer/internal/identity"
	"github.com/foyer-id/foyer/internal/policy"
	"github.com/foyer-id/foyer/internal/risk"
	"github.com/foyer-id/foyer/internal/session"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/throttle"
)

// Account recovery. A customer who lost the password proves one channel
// — a code mailed to the account's verified address, or one of the
// recovery codes kept from setting up a second factor — and then sets a
// new password (StatePassword). Completing it:
//
//   - signs out every session of the account and revokes every token its
//     apps hold, offline grants too: whoever had the old password is out;
//   - signs the customer in at aal1, whatever the channel: one channel
//     is one factor, and an emailed code twice is still one;
//   - restricts the account for the domain's cool-off
//     (Config.RecoveryCoolOff): the policy sees RecentlyRecovered, and
//     refuses what would lock the owner out for good if the channel was
//     an attacker's (changing the email, removing a factor);
//   - tells every verified address.
//
// What the customer sees does not depend on whether the address has an
// account: a dead flow stores a code it never sends (see sendCode), and
// a wrong recovery code reads the same for an account and for none.

// RecoveryRestricted is the message of a change refused in the cool-off
// after a recovery.
var RecoveryRestricted = errorMsg("", "recently_recovered")

// SubmitRecoveryEmail starts a recovery by email: a 6-digit code goes to
// the address if it is the verified address of an active account, and the
// flow waits for it (SubmitCode, then SubmitRecoveryPassword). Sends are
// limited as every emailed code's are.
func (s *Service) SubmitRecoveryEmail(ctx context.Context, f *Flow, c Client, address string) (*Result, error) {
	if f.Type != TypeRecovery || f.State != StateForm {
		return nil, ErrWrongState
	}
	email, err := identity.NormalizeEmail(address)
	if err != nil {
		return nil, invalid("email", "email_invalid")
	}
	g, err := s.codeRequest(ctx, f, c, identity.KindEmail, email, "email", event.RecoveryRequested)
	if err != nil {
		return nil, err
	}
	f.State = StateVerify
	msg := info("recovery_code_sent", "email", email)
	if err := s.saveWithCode(ctx, f, c, codeTemplate(f, "recovery_code"), msg, s.endOtherRecoveries(f),
		s.record(f, c, event.RecoveryRequested, event.OutcomePending, MethodEmailCode, "", "")); err != nil {
		g.cancel(ctx)
		return nil, err
	}
	return &Result{Flow: f}, nil
}

// nobody is an identity id no account has (ids are UUIDv7s).
const nobody = "00000000-0000-0000-0000-000000000000"

// justChanged reports whether a channel changed at (zero: never) is still
// in the cool-off.
func (s *Service) justChanged(at time.Time) bool {
	return !at.IsZero() && s.now().Sub(at) < s.Config.RecoveryCoolOff
}

// SubmitRecoveryCode starts a recovery with one of the account's recovery
// codes: right, the flow goes straight to the new password. Guesses are
// counted on the network and on the address as second factors are, also
// for an address with no account, and a wrong code reads the same either
// way.
func (s *Service) SubmitRecoveryCode(ctx context.Context, f *Flow, c Client, address, code string) (_ *Result, err error) {
	if f.Type != TypeRecovery || f.State != StateForm {
		return nil, ErrWrongState
	}
	if s.Factors == nil {
		return nil, invalid("", "recovery_codes_disabled")
	}
	email, err := identity.NormalizeEmail(address)
	if err != nil {
		return nil, invalid("email", "email_invalid")
	}
	code = strings.TrimSpace(code)
	if code == "" || len(code) > 64 {
		return nil, invalid("recovery_code", "recovery_code_format")
	}
	f.Data.Values = map[string]string{"email": email}
	cand, err := s.Identities.FindByIdentifier(ctx, s.Config.Domain, identity.KindEmail, email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	// An address with no account is counted under a key of its own: the
	// same limits, and nothing to tell the two apart.
	identityID, key := "", throttle.IdentifierKey("factor", "none/"+s.Config.Domain+"/"+email)
	if cand != nil {
		identityID, key = cand.ID, throttle.IdentifierKey("factor", cand.ID)
	}
	g, err := s.reserve(ctx, c, policy.SecondFactorSubmit, key, identityID)
	if err != nil {
		return nil, err
	}
	defer func() { g.end(ctx, err) }()
	if _, err := s.decideGuarded(ctx, g, f, c, policy.Input{Action: policy.SecondFactorSubmit, IdentityID: identityID}, event.RecoveryRequested); err != nil {
		return nil, err
	}
	// Checked against an id no account has when there is none: the same
	// reads, the same answer.
	err = s.Factors.Verify(ctx, cmp.Or(identityID, nobody), FactorRecovery, code)
	if err == nil && (cand == nil || cand.State != identity.StateActive) {
		err = ErrFactorInvalid
	}
	if err != nil {
		if !errors.Is(err, ErrFactorInvalid) {
			return nil, err // the counts go back with the guard (end)
		}
		g.failed(ctx)
		s.emit(ctx, f, c, event.RecoveryRequested, event.OutcomeFailure, "recovery_code_invalid", identityID, "")
		return nil, invalid("recovery_code", "recovery_code_invalid")
	}
	g.succeeded(ctx, key)
	f.IdentityID, f.Data.Email, f.Data.IdentifierID = cand.ID, email, cand.Email().ID
	s.emit(ctx, f, c, event.RecoveryRequested, event.OutcomeSuccess, FactorRecovery, cand.ID, "")
	return s.recoveryProven(ctx, f, FactorRecovery)
}

// recoveryProven moves a recovery whose channel (method) was proved to
// StatePassword. The proof was single-use: the flow is saved whatever
// concurrent submits did.
func (s *Service) recoveryProven(ctx context.Context, f *Flow, method string) (*Result, error) {
	if f.Data.Email == "" {
		// Proved by phone: the new password's page names the account by
		// its address (for password managers), now that it may.
		ident, err := s.Identities.Get(ctx, s.Config.Domain, f.IdentityID)
		if err != nil {
			return nil, err
		}
		f.Data.Email = ident.Email().Value
	}
	f.State = StatePassword
	f.Data.RecoveredWith = method
	f.Data.Messages = []Message{info("recovery_choose_password")}
	if err := s.finish(ctx, f, s.now(), s.endOtherRecoveries(f)); err != nil {
		return nil, err
	}
	return &Result{Flow: f}, nil
}

// endOtherRecoveries is a write that ends the recoveries of f's identity
// under way but f (see Store.endRecoveriesTx); nothing for a flow that can
// complete nothing.
func (s *Service) endOtherRecoveries(f *Flow) write {
	return func(ctx context.Context, tx *store.Tx) error {
		// A flow that can complete nothing runs the same statements for
		// nobody: its step costs what a real one does.
		identityID := f.IdentityID
		if identityID == "" || f.Data.Dead {
			identityID = nobody
		}
		return s.Flows.endRecoveriesTx(ctx, tx, identityID, f.ID, s.now())
	}
}

// SubmitRecoveryPassword completes a recovery in StatePassword: the new
// password replaces the old one, every other session and app token ends,
// the account is restricted for the cool-off, every verified address is
// told, and the customer is signed in (at aal1).
func (s *Service) SubmitRecoveryPassword(ctx context.Context, f *Flow, c Client, pw string) (*Result, error) {
	if f.Data.FinishSignUp {
		return s.FinishSignUp(ctx, f, c, pw)
	}
	if f.Type != TypeRecovery || f.State != StatePassword {
		return nil, ErrWrongState
	}
	ident, factors, history, err := s.account(ctx, f.IdentityID)
	if err != nil {
		return nil, err
	}
	if err := s.checkPassword(pw, passwordContext(ident)); err != nil {
		return nil, err
	}
	stepsUp := factors.TOTP()
	if !stepsUp && s.Passkeys != nil {
		n, err := s.Passkeys.Count(ctx, ident.ID)
		if err != nil {
			return nil, err
		}
		stepsUp = n > 0
	}
	method := f.Data.RecoveredWith
	sig := s.withRisk(c, history, policy.Signals{})
	if _, err := s.decide(ctx, f, c, policy.Input{Action: policy.RecoveryComplete, IdentityID: ident.ID, IdentityState: ident.State,
		EmailVerified: ident.Email().Verified, SecondFactor: stepsUp, Methods: []string{method}, Signals: sig}, event.RecoveryCompleted); err != nil {
		return nil, err
	}
	hash, err := s.Hasher.Hash(ctx, pw)
	if err != nil {
		return nil, err
	}
	now := s.now()
	until := now.Add(s.Config.RecoveryCoolOff)
	result := &Result{Flow: f, Identity: ident}
	// One channel is one factor: aal1, whatever the method's name says
	// elsewhere (a recovery code is a second factor only after a first).
	p := session.Params{Domain: s.Config.Domain, IdentityID: ident.ID, Methods: []string{method}, AAL: session.AAL1,
		DeviceID: c.DeviceID, IP: c.IP, UserAgent: c.UserAgent, AuthenticatedAt: now}
	device := risk.Device{IdentityID: ident.ID, DeviceID: c.DeviceID, LastSeen: now, UserAgent: risk.Family(c.UserAgent), Place: s.GeoIP.Lookup(c.IP)}
	change := courier.Text{ID: map[string]string{FactorRecovery: "notice.recovered_recovery_code", MethodSMSCode: "notice.recovered_sms_code"}[method]}
	if change.ID == "" {
		change.ID = "notice.recovered_email_code"
	}
	complete := func(ctx context.Context, tx *store.Tx) error {
		oldHash, err := s.Identities.PasswordHashTx(ctx, tx, ident.ID)
		if err != nil {
			return err
		}
		if err := s.Identities.RecoverTx(ctx, tx, ident.ID, hash, now, until); err != nil {
			return err
		}
		if err := s.Flows.endRecoveriesTx(ctx, tx, ident.ID, f.ID, now); err != nil {
			return err
		}
		if _, err := s.Sessions.RevokeOthersTx(ctx, tx, ident.ID, ""); err != nil {
			return err
		}
		if s.Grants != nil {
			if _, err := s.Grants.RevokeSubjectTx(ctx, tx, ident.ID); err != nil {
				return err
			}
		}
		token, sess, err := s.Sessions.IssueTx(ctx, tx, p)
		if err != nil {
			return err
		}
		if err := s.Devices.SeenTx(ctx, tx, device); err != nil {
			return err
		}
		if err := s.noticeTx(ctx, tx, ident, f.Data.Lang, change, RevertRecovery, oldHash, ""); err != nil {
			return err
		}
		result.Token, result.Session = token, sess
		return s.emitTx(ctx, tx, f, c, event.RecoveryCompleted, event.OutcomeSuccess, method, ident.ID, sess.ID)
	}
	f.State = StateDone
	f.Data.Messages = []Message{info("recovery_completed")}
	// Saved only over the flow as read: of two submits at once, one
	// completes and the other is told the flow moved on (ErrChanged).
	if err := s.save(ctx, f, now, complete); err != nil {
		return nil, err
	}
	ident.RecoveredAt, ident.RestrictedUntil = now, until
	return result, nil
}

// noticeTx queues, inside tx, a security notice of change to every
// verified address of ident (and to also, if set) and, by text message,
// to its verified phone: whoever made it may not be the owner. With kind, the notice carries a link that undoes the
// change, which replaced old (revertLinkTx). It speaks the account's
// saved language, else lang (the journey's).
func (s *Service) noticeTx(ctx context.Context, tx *store.Tx, ident *identity.Identity, lang string, change courier.Text, kind, old, also string) error {
	var saved struct {
		Locale string `json:"locale"`
	}
	if json.Unmarshal(ident.Traits, &saved) == nil && saved.Locale != "" {
		lang = saved.Locale
	}
	data := map[string]any{"Change": change, "AccountURL": s.Config.PublicURL + "/account", "ProductName": s.Config.ProductName}
	if kind != "" {
		link, err := s.revertLinkTx(ctx, tx, ident.ID, kind, old, s.now())
		if err != nil {
			return err
		}
		data["RevertURL"] = link
	}
	to := []string{}
	for _, x := range ident.Identifiers {
		if x.Kind == identity.KindEmail && x.Verified {
			to = append(to, x.Value)
		}
	}
	if also != "" && !slices.Contains(to, also) {
		to = append(to, also)
	}
	for _, addr := range to {
		if _, err := s.Mailer.EnqueueTx(ctx, tx, courier.Message{Domain: s.Config.Domain, Lang: lang, Template: "security_notice", To: addr, Data: data}); err != nil {
			return fmt.Errorf("flow: queue security notice: %w", err)
		}
	}
	// A verified phone is a channel too: it is told by text message —
	// without the link when the change replaces that very number: a lost
	// or recycled SIM must not be able to take the number back.
	if ph := ident.Phone(); ph.Verified && s.Config.SMS {
		sms := data
		if kind == RevertPhone {
			sms = maps.Clone(data)
			delete(sms, "RevertURL")
		}
		if _, err := s.Mailer.EnqueueTx(ctx, tx, courier.Message{Domain: s.Config.Domain, Lang: lang, Template: "security_notice_sms", To: ph.Value, Data: sms}); err != nil {
			return fmt.Errorf("flow: queue security notice: %w", err)
		}
	}
	return nil
}

// passwordContext is what a new password of ident must not resemble.
func passwordContext(ident *identity.Identity) []string {
	out := []string{}
	for _, x := range ident.Identifiers {
		out = append(out, x.Value)
	}
	var traits struct {
		Name string `json:"name"`
	}
	if json.Unmarshal(ident.Traits, &traits) == nil && traits.Name != "" {
		out = append(out, traits.Name)
	}
	return out
}
