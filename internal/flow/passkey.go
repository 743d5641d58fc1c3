package flow

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/foyer-id/foyer/internal/credential/passkey"
	"github.com/foyer-id/foyer/internal/event"
	"github.com/foyer-id/foyer/internal/i18n"
	"github.com/foyer-id/foyer/internal/identity"
	"github.com/foyer-id/foyer/internal/policy"
	"github.com/foyer-id/foyer/internal/risk"
	"github.com/foyer-id/foyer/internal/throttle"
)

// MethodPasskey names sign-in (and sign-up) with a passkey.
const MethodPasskey = "passkey"

// ErrPasskeyRefused is a passkey assertion that did not verify: wrong
// origin, RP ID or challenge, a replayed challenge, an unknown
// credential, or a signature that does not check out.
var ErrPasskeyRefused = errors.New("flow: passkey not accepted")

// AllowPasskeyChallenge counts a passkey challenge against the client's
// network, atomically (under the policy's Limits.PasskeyChallenge), and
// asks the policy (passkey.challenge) whether to make it; the decision is
// recorded.
func (s *Service) AllowPasskeyChallenge(ctx context.Context, c Client) error {
	st, err := s.Throttle.Reserve(ctx, s.limits().PasskeyChallenge, throttle.NetworkKey("passkey", c.IP))
	if err != nil {
		return err
	}
	var sig policy.Signals
	if !st[0].Taken {
		sig.NetworkWait, sig.NetworkFailures = max(st[0].Wait, time.Second), st[0].Failures
	}
	_, rec, err := s.decideRecord(ctx, nil, c, policy.Input{Action: policy.PasskeyChallenge, Signals: sig}, "passkey.challenge")
	if err != nil {
		return err
	}
	return s.Decisions.Append(ctx, rec)
}

// SignInWithPasskey checks the answer to a passkey sign-in challenge
// (passkey.Service.BeginLogin) and signs in the identity the passkey
// belongs to. A passkey with user verification is two factors by itself:
// the session is aal2.
//
// A refused assertion is ErrPasskeyRefused, logged and counted against the
// network like a wrong password. An authenticator whose signature counter
// went backwards is flagged (event passkey.cloned) and the policy decides
// the sign-in with Signals.ClonedAuthenticator set.
//
// With linking, a sign-in flow that proves an account for a provider's
// link (Data.Upstream), the passkey must be that account's: the flow then
// waits for the link's confirmation (StateConfirmLink) instead of a new
// flow signing in.
func (s *Service) SignInWithPasskey(ctx context.Context, c Client, challengeID string, response json.RawMessage, returnTo string, linking *Flow) (*Result, error) {
	if s.Passkeys == nil {
		return nil, ErrPasskeyRefused
	}
	if linking != nil && (linking.Type != TypeLogin || linking.State != StateForm || linking.Data.Upstream == nil) {
		return nil, ErrWrongState
	}
	identityID, cred, err := s.Passkeys.FinishLogin(ctx, challengeID, response)
	cloned := errors.Is(err, passkey.ErrCloned)
	if err != nil && !cloned {
		_ = s.Throttle.Fail(ctx, throttle.NetworkKey("login", c.IP), s.limits().Login)
		s.emit(ctx, nil, c, event.LoginSubmitted, event.OutcomeFailure, "passkey_invalid", identityID, "")
		s.Logger.DebugContext(ctx, "flow: passkey refused", "error", err)
		return nil, ErrPasskeyRefused
	}
	f := linking
	if f == nil {
		if f, err = s.Start(ctx, TypeLogin, c, returnTo); err != nil {
			return nil, err
		}
	} else if err := s.linkTargetIs(ctx, f, identityID); err != nil {
		return nil, err
	}
	f.IdentityID = identityID
	if cred != nil {
		f.Data.FactorSetUpAt = cred.CreatedAt
	}
	if cloned {
		s.emit(ctx, f, c, event.PasskeyCloned, event.OutcomeFailure, "counter_not_increased", identityID, "")
		s.Logger.WarnContext(ctx, "flow: passkey signature counter did not increase", "identity_id", identityID, "credential_id", cred.ID)
	}
	submitted := s.record(f, c, event.LoginSubmitted, event.OutcomeSuccess, MethodPasskey, identityID, "")
	result := &Result{Flow: f}
	f.State = StateDone
	signedIn, err := s.signInWith(ctx, f, c, []string{MethodPasskey}, s.now(), policy.Signals{ClonedAuthenticator: cloned}, result)
	if err != nil {
		return nil, err
	}
	if err := s.finish(ctx, f, s.now(), submitted, signedIn); err != nil {
		return nil, err
	}
	return result, nil
}

// awaitPasskey moves a passwordless sign-up whose code was right to
// StatePasskey: the email is proved, the customer now creates a passkey.
func (s *Service) awaitPasskey(ctx context.Context, f *Flow, c Client) (*Result, error) {
	ident, err := s.Identities.Get(ctx, s.Config.Domain, f.IdentityID)
	if err != nil {
		return nil, err
	}
	if ident.State != identity.StatePending {
		return s.alreadySignedUp(ctx, f)
	}
	s.emit(ctx, f, c, event.VerificationCompleted, event.OutcomeSuccess, "", f.IdentityID, "")
	f.State = StatePasskey
	f.Data.Messages = []Message{info("passkey_create")}
	// The code was ours (checkCode is single-use): save whatever
	// concurrent submits did.
	if err := s.Flows.Finish(ctx, f, s.now()); err != nil {
		return nil, err
	}
	return &Result{Flow: f}, nil
}

// BeginPasskeySignUp returns the WebAuthn creation options for the
// passkey of a passwordless sign-up in StatePasskey (see
// passkey.Service.BeginRegistration).
func (s *Service) BeginPasskeySignUp(ctx context.Context, f *Flow, c Client) (options json.RawMessage, challengeID string, err error) {
	if f.Type != TypeRegistration || f.State != StatePasskey || s.Passkeys == nil {
		return nil, "", ErrWrongState
	}
	if err := s.AllowPasskeyChallenge(ctx, c); err != nil {
		return nil, "", err
	}
	display := f.Data.Email
	if name := f.traitName(); name != "" {
		display = name
	}
	return s.Passkeys.BeginRegistration(ctx, f.IdentityID, f.Data.Email, display)
}

// FinishPasskeySignUp stores the passkey created for a passwordless
// sign-up, completes the sign-up (the email verified, no password) and
// signs the customer in at aal2 (email code, then a passkey with user
// verification). name names the passkey (PasskeyName, in English, when
// empty).
// A response that does not verify is an *InvalidError; the flow stays in
// StatePasskey so the customer can try again.
func (s *Service) FinishPasskeySignUp(ctx context.Context, f *Flow, c Client, challengeID, name string, response json.RawMessage) (*Result, error) {
	if f.Type != TypeRegistration || f.State != StatePasskey || s.Passkeys == nil {
		return nil, ErrWrongState
	}
	if name == "" {
		name = PasskeyName(i18n.English(), c.UserAgent, response)
	}
	cred, err := s.Passkeys.FinishRegistration(ctx, challengeID, f.IdentityID, name, response)
	if errors.Is(err, passkey.ErrInvalidName) {
		return nil, invalid("name", "name_invalid", "count", MaxPasskeyName)
	}
	if err != nil {
		s.emit(ctx, f, c, event.RegistrationCompleted, event.OutcomeFailure, "passkey_invalid", f.IdentityID, "")
		s.Logger.DebugContext(ctx, "flow: sign-up passkey refused", "error", err)
		return nil, invalid("", "passkey_invalid")
	}
	now := s.now()
	err = s.Identities.CompleteSignUp(ctx, f.IdentityID, f.Data.IdentifierID, f.Data.Traits, "", now)
	if errors.Is(err, identity.ErrNotPending) {
		// Completed by another flow meanwhile: this passkey was made
		// for a sign-up that is no more.
		if err := s.Passkeys.Delete(ctx, f.IdentityID, cred.ID); err != nil {
			return nil, err
		}
		return s.alreadySignedUp(ctx, f)
	}
	if err != nil {
		return nil, err
	}
	codes, err := s.firstFactorCodes(ctx, f.IdentityID)
	if err != nil {
		return nil, err
	}
	res, err := s.completed(ctx, f, c, MethodPasskey, []string{MethodEmailCode, MethodPasskey})
	if res != nil {
		res.RecoveryCodes = codes
	}
	return res, err
}

// ChoosePassword completes a passwordless sign-up in StatePasskey with a
// password instead, for a customer whose device cannot make a passkey.
func (s *Service) ChoosePassword(ctx context.Context, f *Flow, c Client, pw string) (*Result, error) {
	if f.Type != TypeRegistration || f.State != StatePasskey {
		return nil, ErrWrongState
	}
	context := []string{f.Data.Email}
	if name := f.traitName(); name != "" {
		context = append(context, name)
	}
	if err := s.checkPassword(pw, context); err != nil {
		return nil, err
	}
	hash, err := s.Hasher.Hash(ctx, pw)
	if err != nil {
		return nil, err
	}
	err = s.Identities.CompleteSignUp(ctx, f.IdentityID, f.Data.IdentifierID, f.Data.Traits, hash, s.now())
	if errors.Is(err, identity.ErrNotPending) {
		return s.alreadySignedUp(ctx, f)
	}
	if err != nil {
		return nil, err
	}
	return s.completed(ctx, f, c, MethodPassword, []string{MethodPassword, MethodEmailCode})
}

// completed signs in a customer whose sign-up just completed and ends the
// flow.
func (s *Service) completed(ctx context.Context, f *Flow, c Client, reason string, methods []string) (*Result, error) {
	completed := s.record(f, c, event.RegistrationCompleted, event.OutcomeSuccess, reason, f.IdentityID, "")
	f.State = StateDone
	f.Data.Messages = []Message{info("passkey_registration_completed")}
	result := &Result{Flow: f}
	signedIn, err := s.signIn(ctx, f, c, methods, s.now(), result)
	if err != nil {
		return nil, err
	}
	if err := s.finish(ctx, f, s.now(), completed, signedIn); err != nil {
		return nil, err
	}
	return result, nil
}

// traitName is the name the customer gave at sign-up, if any.
func (f *Flow) traitName() string {
	var traits struct {
		Name string `json:"name"`
	}
	_ = json.Unmarshal(f.Data.Traits, &traits)
	return traits.Name
}

// PasskeyName names a passkey its customer left unnamed, in loc's
// language: after its provider (passkey.ProviderOf, from the AAGUID in
// response) and the system of the device that made it (from userAgent),
// the words the devices list uses ("iCloud Keychain on iPhone", "Windows
// Hello", "Passkey on Android"); "Passkey" when neither is known. A list
// of "Passkey", "Passkey" would not say which one to remove when a phone
// is lost.
func PasskeyName(loc *i18n.Localizer, userAgent string, response []byte) string {
	device := deviceSystem(userAgent)
	prov, known := passkey.ProviderOf(passkey.ResponseAAGUID(response))
	switch {
	case known && prov.OnDevice && device != "":
		return loc.T("passkey_name.provider_on_device", "provider", prov.Name, "device", device)
	case known:
		return prov.Name
	case device != "":
		return loc.T("passkey_name.on_device", "device", device)
	}
	return loc.T("passkey_name.default")
}

// deviceSystem is the system a User-Agent names, as the devices list
// words it (risk.Family: "Chrome on macOS" → "macOS"); "" when it names
// none.
func deviceSystem(ua string) string {
	_, system, ok := strings.Cut(risk.Family(ua), " on ")
	if !ok {
		return ""
	}
	return system
}
