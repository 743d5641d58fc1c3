package flow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/foyer-id/foyer/internal/courier"
	"github.com/foyer-id/foyer/internal/credential/password"
	"github.com/foyer-id/foyer/internal/event"
	"github.com/foyer-id/foyer/internal/identity"
	"github.com/foyer-id/foyer/internal/policy"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/throttle"
)

// MethodPassword names signing up or in with a password.
const MethodPassword = "password"

// RegistrationInput is what the customer submits to sign up.
type RegistrationInput struct {
	Traits map[string]any
	// Method is MethodPassword (the default, also for "") or
	// MethodPasskey: sign up without a password; once the email is
	// verified the customer creates a passkey (FinishPasskeySignUp).
	Method   string
	Password string
}

// SubmitRegistration validates the sign-up form, creates the pending
// identity and mails a verification code. For an address that already has
// an account it changes nothing, mails the owner instead, and answers
// exactly as for a new address: nobody learns from the response whether an
// address is registered.
func (s *Service) SubmitRegistration(ctx context.Context, f *Flow, c Client, in RegistrationInput) (*Result, error) {
	if f.Type != TypeRegistration || f.State != StateForm {
		return nil, ErrWrongState
	}
	passwordless := false
	switch in.Method {
	case "", MethodPassword:
	case MethodPasskey:
		if s.Passkeys == nil {
			return nil, invalid("method", "method_disabled")
		}
		passwordless = true
	default:
		return nil, invalid("method", "method_invalid")
	}
	traits := in.Traits
	if traits == nil {
		traits = map[string]any{}
	}
	// Every field's problem is reported at once, not one per submit.
	var problems []Message
	ids, err := s.Schema.Validate(traits)
	var personal []string // what the password must not resemble
	if err != nil {
		var te *identity.TraitError
		if !errors.As(err, &te) {
			return nil, err
		}
		problems = append(problems, traitMessage(te))
	} else {
		personal = append(personal, ids[0].Value)
		for _, id := range ids {
			if id.Kind == identity.KindPhone {
				// A number is proved by a code to it, from the account's
				// settings: not taken on trust at sign-up.
				problems = append(problems, errorMsg(s.Schema.IdentifierTrait(identity.KindPhone), "phone_after_sign_up"))
			}
		}
	}
	if name, ok := traits["name"].(string); ok {
		personal = append(personal, name)
	}
	if !passwordless {
		var inv *InvalidError
		if err := s.checkPassword(in.Password, personal); errors.As(err, &inv) {
			problems = append(problems, inv.Messages...)
		} else if err != nil {
			return nil, err
		}
	}
	if len(problems) > 0 {
		return nil, &InvalidError{Messages: problems}
	}
	email := ids[0].Value
	// The sign-up counts against its network before any work, atomically,
	// and stays counted: a network's sign-ups are what the rule limits.
	// So does its mail against the address (see reserveCodeSend) — a code,
	// or the note to the owner of a taken address. Both reservations, the
	// network's code failures and the address's owner, if it has one,
	// travel in one round trip, read alike whether the address is free or
	// taken. (A sign-up that completes at once mails only the owner of a
	// taken address: its mail is counted once the owner is known.)
	var owner *identity.Identity
	var mailItems []throttle.Item
	always := s.Config.RequireVerifiedEmail || passwordless
	if always {
		mailItems = s.codeSendItems(c, email)
	}
	r := s.Flows.reads()
	net := s.codeNetworkIn(r, c)
	g := s.reserveIn(r, c, policy.RegistrationSubmit, "", mailItems...)
	s.Identities.FindByIdentifierIn(r, s.Config.Domain, identity.KindEmail, email, &owner)
	if err := r.Run(ctx); err != nil {
		return nil, fmt.Errorf("flow: sign-up reads: %w", err)
	}
	if err := s.ready(ctx, c, g, ""); err != nil {
		return nil, err
	}
	if _, err := s.decideGuarded(ctx, g, f, c, policy.Input{Action: policy.RegistrationSubmit, Email: email, Traits: traits}, event.RegistrationSubmitted); err != nil {
		return nil, err
	}
	var mailGuard *guard
	ownerID := ""
	if owner != nil {
		ownerID = owner.ID
	}
	switch {
	case always:
		wait, n := net()
		mailGuard, err = s.codeSendGuard(ctx, c, g.attempts[0].Only(mailItems[0].Key, mailItems[1].Key), ownerID, wait, n)
	case owner != nil && owner.State != identity.StatePending:
		mailGuard, err = s.reserveCodeSend(ctx, c, email, ownerID)
	}
	if err != nil {
		return nil, err
	}
	// Hash before touching the database: a hash takes tens of
	// milliseconds and must never hold a transaction open.
	hash := ""
	if !passwordless {
		if hash, err = s.Hasher.Hash(ctx, in.Password); err != nil {
			mailGuard.cancel(ctx)
			return nil, err
		}
	}
	traitsJSON, err := json.Marshal(traits)
	if err != nil {
		return nil, err
	}
	now := s.now()
	f.Data.Email = email
	f.Data.Traits = traitsJSON
	f.Data.PasswordHash = hash
	f.Data.Method = MethodPassword
	if passwordless {
		f.Data.Method = MethodPasskey
	}
	f.Data.Values = map[string]string{"email": email}
	f.State = StateVerify

	result := &Result{Flow: f}
	// An address that has had its share of codes lately gets no more
	// mail for a while, the owner's note included, but the same answer: a
	// refusal would only tell a flooder to wait, and would set apart one
	// of many concurrent sign-ups of an address.
	mail := mailGuard != nil && s.mailAllowed(ctx, mailGuard, f, c)
	if !s.Config.RequireVerifiedEmail && !passwordless {
		// Sign-up completes at once, and the address is verified when the
		// customer chooses to (or a journey needs it): no code now. (A
		// passwordless sign-up always proves its email first: the
		// passkey is bound to the account only then.)
		res, err := s.signUpAtOnce(ctx, f, c, ids, owner, mail, result)
		if err != nil {
			mailGuard.cancel(ctx)
		}
		return res, err
	}
	// A free address gets its pending identity in the step's one
	// transaction, with the code and its mail.
	var create write
	if owner == nil {
		ident := s.newIdentity(ids, traitsJSON)
		f.IdentityID, f.Data.IdentifierID = ident.ID, ident.Email().ID
		create = func(ctx context.Context, tx *store.Tx) error {
			return s.Identities.CreatePendingTx(ctx, tx, ident, now)
		}
	} else {
		takenBy(f, owner)
	}
	if err := s.saveSignUp(ctx, f, c, mail, create); err != nil {
		mailGuard.cancel(ctx)
		return nil, err
	}
	return result, nil
}

// newIdentity makes a new identity of the domain's schema with the
// identifiers and traits of a sign-up.
func (s *Service) newIdentity(ids []identity.Identifier, traits json.RawMessage) *identity.Identity {
	ident := &identity.Identity{ID: identity.NewID(), Domain: s.Config.Domain, SchemaID: s.Schema.ID, Traits: traits}
	for _, id := range ids {
		ident.Identifiers = append(ident.Identifiers, identity.Identifier{ID: identity.NewID(), Kind: id.Kind, Value: id.Value})
	}
	return ident
}

// saveSignUp saves a sign-up that waits for its code: create (the pending
// identity of a free address, or nil), the code and its mail — or, for an
// address with an account, the note to its owner — the flow and the
// events, in one transaction. Should another sign-up take the address
// meanwhile, the identity's insert fails, and the step goes on as for any
// taken address, with the same answer.
func (s *Service) saveSignUp(ctx context.Context, f *Flow, c Client, mail bool, create write) error {
	now := s.now()
	save := func(create write) error {
		if create == nil && !f.Data.Dead {
			// An unfinished sign-up of the address, shared: kept from the
			// pruner for as long as this one may need it.
			create = func(ctx context.Context, tx *store.Tx) error {
				return s.Identities.KeepPendingTx(ctx, tx, f.IdentityID, now)
			}
		}
		ws := []write{create}
		reason := ""
		if f.Data.Dead {
			reason = "identifier_taken"
			if mail {
				ws = append(ws, func(ctx context.Context, tx *store.Tx) error { return s.mailOwner(ctx, tx, f, c) })
			}
		}
		ws = append(ws, s.record(f, c, event.RegistrationSubmitted, event.OutcomePending, reason, "", ""))
		msg := info("code_sent", "email", f.Data.Email)
		return s.saveWithCodeMailed(ctx, f, c, "verification_code", mail, msg, ws...)
	}
	before := *f
	err := save(create)
	if create != nil && isConflict(err) {
		*f = before
		if err = s.takenMeanwhile(ctx, f); err == nil {
			err = save(nil)
		}
	}
	return err
}

// signUpAtOnce finishes a sign-up that needs no proof of its address: a
// free address becomes an active account, signed in, in one transaction
// with the flow and its events; an unfinished sign-up of the address is
// completed with this one's password. An address with an account goes on
// as when verification is required — a code that completes nothing, and
// a note to its owner — since nobody may sign in to another's account.
func (s *Service) signUpAtOnce(ctx context.Context, f *Flow, c Client, ids []identity.Identifier, owner *identity.Identity, mail bool, result *Result) (*Result, error) {
	now := s.now()
	before := *f
	var (
		ident  *identity.Identity
		create write
	)
	if owner == nil {
		ident = s.newIdentity(ids, f.Data.Traits)
		f.IdentityID, f.Data.IdentifierID = ident.ID, ident.Email().ID
		hash := f.Data.PasswordHash
		create = func(ctx context.Context, tx *store.Tx) error {
			return s.Identities.CreateActiveTx(ctx, tx, ident, hash, now)
		}
	} else {
		takenBy(f, owner)
		if f.Data.Dead {
			return result, s.saveSignUp(ctx, f, c, mail, nil)
		}
		err := s.Identities.CompleteSignUp(ctx, f.IdentityID, "", f.Data.Traits, f.Data.PasswordHash, now)
		if errors.Is(err, identity.ErrNotPending) {
			// Finished by another sign-up meanwhile: an account now.
			*f = before
			if err = s.takenMeanwhile(ctx, f); err == nil {
				err = s.saveSignUp(ctx, f, c, mail, nil)
			}
			return result, err
		}
		if err != nil {
			return nil, err
		}
		ident = owner
	}
	ident.State = identity.StateActive
	f.State = StateDone // signIn may move it on to StateSecondFactor
	f.Data.PasswordHash = ""
	f.Data.Messages = []Message{info("registration_completed")}
	signedIn, err := s.signInAs(ctx, f, c, ident, nil, []string{"password"}, now, s.withRisk(c, nil, policy.Signals{}), result)
	if err != nil {
		return nil, err
	}
	err = s.save(ctx, f, now, create,
		s.record(f, c, event.RegistrationSubmitted, event.OutcomePending, "", "", ""),
		s.record(f, c, event.RegistrationCompleted, event.OutcomeSuccess, "verification_optional", f.IdentityID, ""),
		signedIn)
	if create != nil && isConflict(err) {
		// Another sign-up took the address since it was read: this one
		// goes on as for any taken address.
		*f, *result = before, Result{Flow: f}
		if err = s.takenMeanwhile(ctx, f); err == nil {
			err = s.saveSignUp(ctx, f, c, mail, nil)
		}
	}
	if err != nil {
		return nil, err
	}
	return result, nil
}

// takenBy points a sign-up flow at the owner of its address. An
// unfinished sign-up's identity is shared: whoever reads the code
// finishes it, with the password chosen in their own flow. An account's
// address makes the flow dead: it runs to the end as if the address were
// free, and its owner is told instead.
func takenBy(f *Flow, owner *identity.Identity) {
	f.IdentityID = owner.ID
	f.Data.IdentifierID = owner.Email().ID
	f.Data.Dead = owner.State != identity.StatePending
}

// takenMeanwhile reads the owner of a sign-up's address that another
// sign-up took since this one looked, and points f at it (takenBy).
func (s *Service) takenMeanwhile(ctx context.Context, f *Flow) error {
	owner, err := s.Identities.FindByIdentifier(ctx, s.Config.Domain, identity.KindEmail, f.Data.Email)
	if err != nil {
		return err
	}
	takenBy(f, owner)
	return nil
}

// mailOwner tells the owner of a taken address that someone tried to sign
// up with it. The flow goes on as if the address were free: its code is
// stored but never sent.
func (s *Service) mailOwner(ctx context.Context, tx *store.Tx, f *Flow, c Client) error {
	data := map[string]any{
		"ProductName": s.Config.ProductName,
		"LoginURL":    s.Config.PublicURL + "/login",
	}
	if s.Config.Recovery {
		data["RecoveryURL"] = s.Config.PublicURL + "/recovery"
	}
	var err error
	f.Data.NoticeMailID, err = s.Mailer.EnqueueTx(ctx, tx, courier.Message{
		Domain:   s.Config.Domain,
		Lang:     f.Data.Lang,
		Template: "registration_existing",
		To:       f.Data.Email,
		Data:     data,
		App:      c.App,
	})
	return err
}

// checkPassword applies the password policy to a new password; context
// holds what the password must not resemble (email, name).
func (s *Service) checkPassword(pw string, context []string) error {
	if err := s.PasswordPolicy.Check(pw, context...); err != nil {
		var v *password.Violation
		if errors.As(err, &v) {
			return &InvalidError{Messages: []Message{passwordMessage(v)}}
		}
		return err
	}
	return nil
}

// ChangeSignUpEmail takes a sign-up that waits for its code back to its
// form, so that the customer can fix a mistyped address: the code sent
// stops counting (the form must be sent again, which sends a new one), its
// mail is given up if it has not left, and the form is refilled with what
// was typed but the password, which the new submit asks again.
func (s *Service) ChangeSignUpEmail(ctx context.Context, f *Flow, c Client) (*Result, error) {
	if f.Type != TypeRegistration || f.State != StateVerify {
		return nil, ErrWrongState
	}
	values := map[string]string{"email": f.Data.Email}
	var traits map[string]any
	if json.Unmarshal(f.Data.Traits, &traits) == nil {
		if name, ok := traits["name"].(string); ok {
			values["name"] = name
		}
	}
	mailID := f.Data.CodeMailID
	codesSent, lastSent, lang := f.Data.CodesSent, f.Data.LastSentAt, f.Data.Lang
	// The flow starts over but for the codes it sent, which still count
	// against its share.
	f.Data = Data{CodesSent: codesSent, LastSentAt: lastSent, Lang: lang, Values: values}
	f.IdentityID = ""
	f.State = StateForm
	giveUp := func(ctx context.Context, tx *store.Tx) error {
		if mailID == "" {
			return nil
		}
		return s.Mailer.SupersedeTx(ctx, tx, mailID)
	}
	if err := s.save(ctx, f, s.now(), giveUp, s.record(f, c, event.RegistrationEmailChanged, event.OutcomeSuccess, "", "", "")); err != nil {
		return nil, err
	}
	return &Result{Flow: f}, nil
}
