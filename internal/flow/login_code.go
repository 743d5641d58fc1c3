package flow

import (
	"context"
	"fmt"

	"github.com/foyer-id/foyer/internal/event"
	"github.com/foyer-id/foyer/internal/identity"
	"github.com/foyer-id/foyer/internal/policy"
)

// MethodEmailCode is signing in (or proving the mailbox) with a code mailed
// to the address.
const MethodEmailCode = "email_code"

// MethodCode names sign-in with a one-time code mailed to the customer's
// verified address (no password).
const MethodCode = "code"

// codeRequest is the start of a step that mails (or texts) a code to an
// identifier of kind (value, normalised): the owner with what signing in
// needs of it, the network's code failures and the code counted against
// the identifier are read in one round trip, whether or not there is an
// owner; then the policy decides the send (verification.send), recorded
// as eventType. The flow is bound to the owner when the identifier may
// receive codes — the verified one of an active account, not changed in
// the cool-off (whoever changed it may not be the owner) — and is dead
// otherwise (the code is stored but never sent; the customer sees the
// same). The value refills the form's field. Cancel the guard if the step
// fails after.
func (s *Service) codeRequest(ctx context.Context, f *Flow, c Client, kind, value, field, eventType string) (*guard, error) {
	var cand *identity.LoginCandidate
	r := s.Flows.reads()
	net := s.codeNetworkIn(r, c)
	a := s.Throttle.BeginEachIn(r, s.codeSendItems(c, value)...)
	s.Identities.FindLoginIn(r, s.Config.Domain, kind, value, &cand)
	if err := r.Run(ctx); err != nil {
		return nil, fmt.Errorf("flow: code request reads: %w", err)
	}
	owner := ""
	if cand != nil {
		owner = cand.Identity.ID
	}
	wait, n := net()
	g, err := s.codeSendGuard(ctx, c, a, owner, wait, n)
	if err != nil {
		return nil, err
	}
	f.Data.Values = map[string]string{field: value}
	if _, err := s.decideGuarded(ctx, g, f, c, policy.Input{Action: policy.VerificationSend}, eventType); err != nil {
		return nil, err
	}
	if kind == identity.KindPhone {
		f.Data.Phone = value
	} else {
		f.Data.Email = value
	}
	switch {
	case cand != nil && cand.Identity.State == identity.StateActive && cand.Identifier.Verified && !s.justChanged(cand.Identity.ChangedAt(kind)):
		f.IdentityID, f.Data.IdentifierID = cand.Identity.ID, cand.Identifier.ID
	case cand != nil && kind == identity.KindEmail && finishPending(f, cand.Identity):
		// An unfinished sign-up: the code finishes it.
	default:
		f.Data.Dead = true
	}
	return g, nil
}

// RequestLoginCode starts a passwordless sign-in: a 6-digit code is mailed
// to the address if it belongs to an active account with that address
// verified, and the flow waits for it (SubmitCode signs the customer in).
// The answer is the same whether or not the address has an account.
// Sends are limited per address (so nobody can flood a mailbox) and per
// network.
func (s *Service) RequestLoginCode(ctx context.Context, f *Flow, c Client, identifier string) (*Result, error) {
	if f.Type != TypeLogin || f.State != StateForm {
		return nil, ErrWrongState
	}
	// A journey that links a provider's account proves the account its
	// verified address names: a code to that address always may.
	if !s.Config.EmailCodeLogin && f.Data.Upstream == nil {
		return nil, invalid("", "login_code_disabled")
	}
	email, err := identity.NormalizeEmail(identifier)
	if err != nil {
		return nil, invalid("identifier", "identifier_invalid")
	}
	if err := linkTarget(f, email); err != nil {
		return nil, err
	}
	g, err := s.codeRequest(ctx, f, c, identity.KindEmail, email, "identifier", event.LoginCodeRequested)
	if err != nil {
		return nil, err
	}
	f.State = StateVerify
	msg := info("login_code_sent", "email", email)
	if err := s.saveWithCode(ctx, f, c, codeTemplate(f, "login_code"), msg,
		s.record(f, c, event.LoginCodeRequested, event.OutcomePending, "", "", "")); err != nil {
		g.cancel(ctx)
		return nil, err
	}
	return &Result{Flow: f}, nil
}
