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
