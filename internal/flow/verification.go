package flow

import (
	"context"
	"fmt"

	"github.com/foyer-id/foyer/internal/event"
	"github.com/foyer-id/foyer/internal/identity"
	"github.com/foyer-id/foyer/internal/policy"
	"github.com/foyer-id/foyer/internal/session"
)

// SubmitVerificationEmail starts verifying an address in a verification
// flow. A signed-in customer verifies their own address (email is
// ignored); otherwise the code goes to the address entered if it belongs
// to an account whose address is not yet verified — and the answer is the
// same whether it does or not.
func (s *Service) SubmitVerificationEmail(ctx context.Context, f *Flow, c Client, email string, sess *session.Session) (*Result, error) {
	if f.Type != TypeVerification || f.State != StateForm {
		return nil, ErrWrongState
	}
	var ident *identity.Identity
	r := s.Flows.reads()
	if sess != nil {
		var err error
		if ident, err = s.Identities.Get(ctx, s.Config.Domain, sess.IdentityID); err != nil {
			return nil, err
		}
		email = ident.Email().Value
	} else {
		var err error
		if email, err = identity.NormalizeEmail(email); err != nil {
			return nil, invalid("email", "email_invalid")
		}
		// The owner, if any, with the code-mail counts below, in one
		// round trip, read alike whether the address has an account.
		s.Identities.FindByIdentifierIn(r, s.Config.Domain, identity.KindEmail, email, &ident)
	}
	net := s.codeNetworkIn(r, c)
	a := s.Throttle.BeginEachIn(r, s.codeSendItems(c, email)...)
	if err := r.Run(ctx); err != nil {
		return nil, fmt.Errorf("flow: verification reads: %w", err)
	}
	owner := ""
	if ident != nil {
		owner = ident.ID
	}
	wait, n := net()
	g, err := s.codeSendGuard(ctx, c, a, owner, wait, n)
	if err != nil {
		return nil, err
	}
	if _, err := s.decideGuarded(ctx, g, f, c, policy.Input{Action: policy.VerificationSend}, event.VerificationSent); err != nil {
		return nil, err
	}
	f.Data.Email = email
	f.Data.Values = map[string]string{"email": email}
	if ident != nil && ident.State == identity.StateActive && !ident.Email().Verified {
		f.IdentityID = ident.ID
		f.Data.IdentifierID = ident.Email().ID
	} else if sess == nil && finishPending(f, ident) {
		// An unfinished sign-up: the code finishes it.
	} else {
		f.Data.Dead = true
		if sess != nil && ident != nil && ident.Email().Verified {
			g.cancel(ctx) // no code goes
			f.State = StateDone
			f.Data.Messages = []Message{info("email_already_verified")}
			if err := s.Flows.Update(ctx, f, s.now()); err != nil {
				return nil, err
			}
			return &Result{Flow: f}, nil
		}
	}
	f.State = StateVerify
	if err := s.saveWithCode(ctx, f, c, codeTemplate(f, "verification_code"), info("code_sent_if_known", "email", email)); err != nil {
		g.cancel(ctx)
		return nil, err
	}
	return &Result{Flow: f}, nil
}
