package flow

import (
	"context"
	"time"

	"github.com/foyer-id/foyer/internal/courier"
	"github.com/foyer-id/foyer/internal/event"
	"github.com/foyer-id/foyer/internal/identity"
	"github.com/foyer-id/foyer/internal/policy"
	"github.com/foyer-id/foyer/internal/session"
)

// FreshFor is how recent a sign-in must be to change how the customer
// signs in (authenticator apps, recovery codes, passkeys).
const FreshFor = 10 * time.Minute

// Reauth is what a session lacks before it may change sign-in methods.
type Reauth int

// What a session may need first.
const (
	ReauthNone   Reauth = iota // go ahead
	ReauthSignIn               // sign in again
	ReauthStepUp               // step up with the second factor
)

// MethodsChangeNeeds tells whether sess may change sign-in methods now:
// signed in within FreshFor, and at aal2 when a second factor is set up.
// The policy is asked too; a refusal is a *DeniedError. The hosted pages
// and the JSON API both decide through it.
func (s *Service) MethodsChangeNeeds(ctx context.Context, c Client, sess *session.Session) (Reauth, error) {
	enrolled := false
	if s.SecondFactors != nil {
		var err error
		if enrolled, err = s.SecondFactors.Enrolled(ctx, sess.IdentityID); err != nil {
			return 0, err
		}
	}
	stale := s.now().Sub(sess.AuthenticatedAt) > FreshFor
	switch {
	case enrolled && (sess.AAL != session.AAL2 || stale):
		return ReauthStepUp, nil
	case stale:
		return ReauthSignIn, nil
	}
	if _, err := s.decide(ctx, nil, c, policy.Input{Action: policy.MethodsChange, IdentityID: sess.IdentityID,
		SecondFactor: enrolled, Methods: sess.Methods}, event.MethodsChanged); err != nil {
		return 0, err
	}
	return ReauthNone, nil
}

// MethodsChanged records a change to how the customer signs in (reason:
// totp_enabled, passkey_added, …) as an event and mails the customer a
// notice, so an intruder's change does not go unnoticed. A mail that
// cannot be queued is logged, not fatal.
func (s *Service) MethodsChanged(ctx context.Context, c Client, ident *identity.Identity, reason, notice string) {
	s.emit(ctx, nil, c, event.MethodsChanged, event.OutcomeSuccess, reason, ident.ID, "")
	_, err := s.Mailer.Enqueue(ctx, courier.Message{Domain: s.Config.Domain, Template: "security_notice", To: ident.Email().Value,
		Data: map[string]any{"Change": notice, "AccountURL": s.Config.PublicURL + "/account", "ProductName": s.Config.ProductName}})
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

// Refusals of CheckRemoval.
var (
	refusedLastMethod = Message{ID: "last_sign_in_method", Type: "error",
		Text: "This passkey is your only way to sign in. Add another passkey before removing this one."}
	refusedLastFactor = Message{ID: "last_second_factor", Type: "error",
		Text: "This is your only second factor. Add a passkey or set up an authenticator app before removing it."}
)

// Refusal returns the message of a refusal by its ID, for a page that
// shows it after a redirect.
func Refusal(id string) (Message, bool) {
	for _, m := range []Message{refusedLastMethod, refusedLastFactor} {
		if m.ID == id {
			return m, true
		}
	}
	return Message{}, false
}

// CheckRemoval tells whether identityID may remove one of its sign-in
// methods: what (MethodPasskey or FactorTOTP). An account must keep a way
// to sign in (a password or a passkey), and an account that has a second
// factor (an authenticator app or a passkey) keeps at least one, so that
// it never falls back to a password alone. A refusal is a *RefusedError.
// Check it right before removing: it reads the methods as they stand.
func (s *Service) CheckRemoval(ctx context.Context, identityID, what string) error {
	password, err := s.Identities.HasPassword(ctx, identityID)
	if err != nil {
		return err
	}
	passkeys := 0
	if s.Passkeys != nil {
		if passkeys, err = s.Passkeys.Count(ctx, identityID); err != nil {
			return err
		}
	}
	totp := false
	if s.SecondFactors != nil {
		if totp, err = s.SecondFactors.Enrolled(ctx, identityID); err != nil {
			return err
		}
	}
	switch what {
	case MethodPasskey:
		if passkeys == 0 {
			return nil // nothing to remove; the caller reports not found
		}
		switch {
		case passkeys == 1 && !password:
			return &RefusedError{Message: refusedLastMethod}
		case passkeys == 1 && !totp:
			return &RefusedError{Message: refusedLastFactor}
		}
	case FactorTOTP:
		if totp && passkeys == 0 {
			return &RefusedError{Message: refusedLastFactor}
		}
	}
	return nil
}
