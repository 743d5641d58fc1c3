package flow

import (
	"context"
	"fmt"

	"github.com/foyer-id/foyer/internal/credential/password"
	"github.com/foyer-id/foyer/internal/event"
	"github.com/foyer-id/foyer/internal/identity"
	"github.com/foyer-id/foyer/internal/policy"
	"github.com/foyer-id/foyer/internal/risk"
	"github.com/foyer-id/foyer/internal/throttle"
)

// LoginInput is what the customer submits to sign in with a password.
type LoginInput struct {
	Identifier string
	Password   string
}

var errCredentials = invalid("", "credentials_invalid")

// SubmitLogin checks an identifier and password. Unknown identifiers cost
// the same hash as known ones and give the same answer. Failures are
// counted per network and per identifier, never locked out: past its
// free failures an address waits, and a network is challenged (see
// policy.Default), so one failing customer behind a shared address does
// not refuse the others' right passwords; a device the customer signed in
// from before is held back by neither.
func (s *Service) SubmitLogin(ctx context.Context, f *Flow, c Client, in LoginInput) (_ *Result, err error) {
	if f.Type != TypeLogin || f.State != StateForm {
		return nil, ErrWrongState
	}
	email, err := identity.NormalizeEmail(in.Identifier)
	if err != nil {
		return nil, invalid("identifier", "identifier_invalid")
	}
	if err := linkTarget(f, email); err != nil {
		return nil, err
	}
	if in.Password == "" {
		return nil, invalid("password", "password_required")
	}
	if len(in.Password) > 4096 {
		return nil, errCredentials
	}
	idKey := throttle.IdentifierKey("login", s.Config.Domain+"/"+email)
	// The account, with what signing in needs of it, in one round trip,
	// read whether or not the identifier is known.
	var (
		cand    *identity.LoginCandidate
		factors Kinds
		history []risk.Device
	)
	// The attempt is counted on the network and the address before the
	// hash, atomically, and given back if it succeeds; the reservation
	// travels with the reads.
	r := s.Flows.reads()
	g := s.reserveIn(r, c, policy.LoginSubmit, idKey)
	defer func() { g.end(ctx, err) }()
	s.Identities.FindLoginIn(r, s.Config.Domain, identity.KindEmail, email, &cand)
	if s.Factors != nil {
		s.Factors.KindsByIdentifierIn(r, s.Config.Domain, identity.KindEmail, email, &factors)
	}
	s.Devices.HistoryByIdentifierIn(r, s.Config.Domain, identity.KindEmail, email, &history)
	if err := r.Run(ctx); err != nil {
		return nil, fmt.Errorf("flow: sign-in reads: %w", err)
	}
	owner := ""
	if cand != nil {
		owner = cand.Identity.ID
	}
	known := risk.KnownIn(history, c.DeviceID) // read with the account: weigh reads no more
	g.known = &known
	if err := s.ready(ctx, c, g, owner); err != nil {
		return nil, err
	}
	f.Data.Values = map[string]string{"identifier": email}
	if _, err := s.decideGuarded(ctx, g, f, c, policy.Input{Action: policy.LoginSubmit, Email: email}, event.LoginSubmitted); err != nil {
		return nil, err
	}
	ok := false
	if cand == nil || cand.Identity.State != identity.StateActive || cand.PasswordHash == "" {
		s.Hasher.VerifyDummy(ctx, in.Password)
	} else {
		var rehash bool
		ok, rehash, err = s.Hasher.Verify(ctx, in.Password, cand.PasswordHash)
		if err != nil {
			s.Logger.ErrorContext(ctx, "flow: stored password hash unreadable", "identity_id", cand.Identity.ID, "error", err)
			ok = false
		}
		if ok && rehash {
			if h, err := s.Hasher.Hash(ctx, in.Password); err == nil {
				_ = s.Identities.SetPassword(ctx, cand.Identity.ID, h, s.now())
			}
		}
	}
	if !ok {
		g.failed(ctx)
		s.emit(ctx, f, c, event.LoginSubmitted, event.OutcomeFailure, "invalid_credentials", "", "")
		if cand != nil && cand.Identity.State == identity.StatePending {
			// After the answer, so that it takes no longer than for
			// an unknown address.
			ident, returnTo, lang := cand.Identity, f.ReturnTo, f.Data.Lang
			s.background.Go(func() { s.mailFinishSignUp(context.WithoutCancel(ctx), c, ident, returnTo, lang) })
		}
		return nil, errCredentials
	}
	// The counts are given back, and the address's failures forgotten,
	// with the step's writes.
	settled := g.succeededWrite(idKey)
	now := s.now()
	f.IdentityID = cand.Identity.ID
	f.Data.IdentifierID = cand.Identifier.ID
	f.Data.Email = email
	f.Data.Methods = []string{"password"}
	f.Data.AuthenticatedAt = now
	submitted := s.record(f, c, event.LoginSubmitted, event.OutcomeSuccess, "", cand.Identity.ID, "")

	// Asked once: the answer either sends a code to verify the address
	// first, or is carried out by issueAs.
	// The account's recent failures (from the reservation) go with it:
	// the right password right after wrong ones, on a new device, may be
	// a guess that hit.
	f.Data.Breached = password.IsCommon(in.Password)
	sig := s.withRisk(c, history, policy.Signals{BreachedPassword: f.Data.Breached,
		IdentifierFailures: g.signals.IdentifierFailures})
	d, err := s.decideSession(ctx, f, c, cand.Identity, factors, f.Data.Methods, sig)
	if err != nil {
		return nil, err
	}
	if d.Effect == policy.StepUp && stateFor(d.Require) == StateVerify {
		// An address to verify, or a sign-in unlike the customer's that
		// a code from the mailbox must confirm: both are served by a code.
		f.State = StateVerify
		template, msg := "verification_code", info("verify_email_to_continue", "email", email)
		if d.Require[0] == policy.StepEmailCode {
			template, msg = "login_code", info("confirm_sign_in", "email", email)
		}
		// Past the address's share of code mails the code is made but not
		// mailed, as at sign-up (this read is off the usual path: only
		// unverified accounts and unusual sign-ins come here).
		mailGuard, err := s.reserveCodeSend(ctx, c, email, cand.Identity.ID)
		if err != nil {
			return nil, err
		}
		if err := s.saveWithCodeMailed(ctx, f, c, template, s.mailAllowed(ctx, mailGuard, f, c), msg, submitted, settled,
			s.record(f, c, event.LoginSucceeded, event.OutcomePending, d.Reason, cand.Identity.ID, "")); err != nil {
			mailGuard.cancel(ctx)
			return nil, err
		}
		return &Result{Flow: f}, nil
	}
	result := &Result{Flow: f}
	f.State = StateDone // signIn may move it on to StateSecondFactor
	f.Data.Messages = nil
	signedIn, err := s.issueAs(ctx, f, c, d, cand.Identity, factors.TOTP(), f.Data.Methods, now, sig, result)
	if err != nil {
		return nil, err
	}
	if err := s.save(ctx, f, now, submitted, signedIn, settled); err != nil {
		return nil, err
	}
	return result, nil
}
