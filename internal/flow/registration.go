package flow

import (
	"context"
	"encoding/json"
	"errors"

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
			return nil, invalid("method", "method_disabled", "Signing up with a passkey is not available here.")
		}
		passwordless = true
	default:
		return nil, invalid("method", "method_invalid", `Choose "password" or "passkey".`)
	}
	traits := in.Traits
	if traits == nil {
		traits = map[string]any{}
	}
	ids, err := s.Schema.Validate(traits)
	if err != nil {
		var te *identity.TraitError
		if errors.As(err, &te) {
			return nil, invalid(te.Trait, "trait_invalid", traitText(te))
		}
		return nil, err
	}
	email := ids[0].Value
	personal := []string{email} // what the password must not resemble
	if name, ok := traits["name"].(string); ok {
		personal = append(personal, name)
	}
	if !passwordless {
		if err := s.checkPassword(in.Password, personal); err != nil {
			return nil, err
		}
	}
	wait, n, err := s.networkWait(ctx, "registration", c, s.Config.RegistrationThrottle)
	if err != nil {
		return nil, err
	}
	if _, err := s.decide(ctx, f, c, policy.Input{Action: policy.RegistrationSubmit,
		Signals: policy.Signals{NetworkWait: wait, NetworkFailures: n}}, event.RegistrationSubmitted); err != nil {
		return nil, err
	}
	// Hash before touching the database: a hash takes tens of
	// milliseconds and must never hold a transaction open.
	hash := ""
	if !passwordless {
		if hash, err = s.Hasher.Hash(ctx, in.Password); err != nil {
			return nil, err
		}
	}
	traitsJSON, err := json.Marshal(traits)
	if err != nil {
		return nil, err
	}
	now := s.now()
	ident := &identity.Identity{Domain: s.Config.Domain, SchemaID: s.Schema.ID, Traits: traitsJSON}
	for _, id := range ids {
		ident.Identifiers = append(ident.Identifiers, identity.Identifier{Kind: id.Kind, Value: id.Value})
	}
	f.Data.Email = email
	// No need to wait for the disk: this step ends with an ordinary commit
	// (the code and its mail, below), which makes this one durable too.
	// Should the database crash before it, the customer never hears that
	// the sign-up went through, and a pending identity left behind is
	// finished by whoever next signs up with the address.
	err = s.Flows.inAsyncTx(ctx, func(tx *store.Tx) error {
		return s.Identities.CreatePendingTx(ctx, tx, ident, now)
	})
	switch {
	case err == nil:
		f.IdentityID = ident.ID
		f.Data.IdentifierID = ident.Email().ID
	case isConflict(err):
		owner, ferr := s.Identities.FindByIdentifier(ctx, s.Config.Domain, identity.KindEmail, email)
		if ferr != nil {
			return nil, ferr
		}
		if owner.State == identity.StatePending {
			// An unfinished sign-up: whoever reads the code finishes it,
			// with the password chosen in their own flow.
			f.IdentityID = owner.ID
			f.Data.IdentifierID = owner.Email().ID
		} else {
			f.IdentityID = owner.ID
			f.Data.Dead = true
		}
	default:
		return nil, err
	}
	f.Data.Traits = traitsJSON
	f.Data.PasswordHash = hash
	f.Data.Method = MethodPassword
	if passwordless {
		f.Data.Method = MethodPasskey
	}
	f.Data.Values = map[string]string{"email": email}
	f.State = StateVerify
	result := &Result{Flow: f}
	var completed, signedIn write
	if !s.Config.RequireVerifiedEmail && !f.Data.Dead && !passwordless {
		// Sign-up completes at once; verification stays open. (A
		// passwordless sign-up always proves its email first: the
		// passkey is bound to the account only then.)
		if err := s.Identities.CompleteSignUp(ctx, f.IdentityID, "", traitsJSON, hash, now); err != nil {
			return nil, err
		}
		completed = s.record(f, c, event.RegistrationCompleted, event.OutcomeSuccess, "verification_optional", f.IdentityID, "")
		if signedIn, err = s.signIn(ctx, f, c, []string{"password"}, now, result); err != nil {
			return nil, err
		}
		f.Data.PasswordHash = ""
	}
	// The code, its mail (or the note to the address's owner), the flow,
	// the events and the sign-up's count against its network commit
	// together.
	var ws []write
	reason := ""
	if f.Data.Dead {
		reason = "identifier_taken"
		ws = append(ws, func(ctx context.Context, tx *store.Tx) error { return s.mailOwner(ctx, tx, f) })
	}
	ws = append(ws, s.record(f, c, event.RegistrationSubmitted, event.OutcomePending, reason, "", ""), completed, signedIn,
		// Every sign-up from one network updates this one row; queued
		// with the rest, its lock is held only while the server runs
		// the transaction, never across a round trip.
		func(ctx context.Context, tx *store.Tx) error {
			return s.Throttle.FailTx(ctx, tx, throttle.NetworkKey("registration", c.IP), s.Config.RegistrationThrottle)
		})
	msg := info("code_sent", "We sent a 6-digit code to "+email+". Enter it to finish signing up.")
	if err := s.saveWithCode(ctx, f, c, "verification_code", msg, ws...); err != nil {
		return nil, err
	}
	return result, nil
}

// mailOwner tells the owner of a taken address that someone tried to sign
// up with it. The flow goes on as if the address were free: its code is
// stored but never sent.
func (s *Service) mailOwner(ctx context.Context, tx *store.Tx, f *Flow) error {
	_, err := s.Mailer.EnqueueTx(ctx, tx, courier.Message{
		Domain:   s.Config.Domain,
		Template: "registration_existing",
		To:       f.Data.Email,
		Data: map[string]any{
			"ProductName": s.Config.ProductName,
			"LoginURL":    s.Config.PublicURL + "/login",
		},
	})
	return err
}

// checkPassword applies the password policy to a new password; context
// holds what the password must not resemble (email, name).
func (s *Service) checkPassword(pw string, context []string) error {
	if err := s.PasswordPolicy.Check(pw, context...); err != nil {
		var v *password.Violation
		if errors.As(err, &v) {
			return invalid("password", "password_"+v.Reason, v.Message())
		}
		return err
	}
	return nil
}

func traitText(te *identity.TraitError) string {
	label := te.Trait
	switch te.Trait {
	case "email":
		label = "Email address"
	case "name":
		label = "Name"
	}
	return label + " " + te.Message + "."
}
