package flow

import (
	"context"
	"errors"

	"github.com/foyer-id/foyer/internal/event"
	"github.com/foyer-id/foyer/internal/identity"
	"github.com/foyer-id/foyer/internal/policy"
	"github.com/foyer-id/foyer/internal/store"
)

// An unfinished sign-up is an address whose sign-up mailed its code and
// was left there: a pending identity, which cannot sign in. Left alone,
// its customer meets a dead end — the password they chose is refused, and
// no code comes. Instead, every way of asking for the account by its
// address finishes it:
//
//   - a sign-in by code, a recovery or a verification mails a "finish
//     signing up" code in place of theirs, to the code step the page
//     shows in any case;
//   - a sign-in with a password answers as for an unknown address, and
//     mails the code with a link to a page of its own (a flow that only
//     the mail names, bound to the browser that enters the code).
//
// The right code proves the mailbox; the customer then chooses a password
// (the one typed at sign-up lived in its flow, gone with it), and the
// account is active, its address verified, and signed in. Nobody but the
// mailbox learns that the address is known: every answer reads as it
// would for an unknown one, and the mail is counted against the address
// as every code mail is.

// finishTemplate is the mail of a code that finishes a sign-up.
const finishTemplate = "finish_sign_up"

// finishPending points f at the unfinished sign-up cand, if cand is one,
// so that its code finishes it; it reports whether it did.
func finishPending(f *Flow, cand *identity.Identity) bool {
	if cand == nil || cand.State != identity.StatePending {
		return false
	}
	f.IdentityID, f.Data.IdentifierID = cand.ID, cand.Email().ID
	f.Data.FinishSignUp = true
	return true
}

// codeTemplate is the mail template of f's code: usual, unless the code
// finishes a sign-up.
func codeTemplate(f *Flow, usual string) string {
	if f.Data.FinishSignUp {
		return finishTemplate
	}
	return usual
}

// mailFinishSignUp starts, for a sign-in with a password to the
// unfinished sign-up cand, a flow of its own (going to returnTo, in
// language lang) that waits for the code it mails with a link to it.
// Nothing of it shows in the sign-in's answer: it runs after it (Wait
// waits for it). It is best effort: an address past its share of code
// mails gets none, and a failure is logged, not shown.
func (s *Service) mailFinishSignUp(ctx context.Context, c Client, cand *identity.Identity, returnTo, lang string) {
	email := cand.Email().Value
	g, err := s.reserveCodeSend(ctx, c, email, cand.ID)
	if err != nil {
		return // held back: the address has had its share of codes
	}
	now := s.now()
	f := &Flow{
		Domain:    s.Config.Domain,
		Type:      TypeLogin,
		Channel:   ChannelBrowser, // the link opens in a browser, whichever asked
		State:     StateForm,
		ReturnTo:  returnTo,
		CreatedAt: now,
		UpdatedAt: now,
		ExpiresAt: now.Add(s.Config.FlowLifetime),
	}
	f.Data.Lang = lang
	f.Data.Email = email
	f.Data.Values = map[string]string{"identifier": email}
	finishPending(f, cand)
	if !s.mailAllowed(ctx, g, f, c) {
		return
	}
	err = s.Flows.inTx(ctx, func(tx *store.Tx) error {
		if err := s.Flows.CreateTx(ctx, tx, f); err != nil {
			return err
		}
		f.State = StateVerify
		f.Data.Messages = []Message{info("finish_sign_up_code_sent", "email", email)}
		if err := s.sendCode(ctx, tx, f, c, finishTemplate, true); err != nil {
			return err
		}
		if err := s.emitTx(ctx, tx, f, c, event.LoginCodeRequested, event.OutcomePending, "finish_sign_up", cand.ID, ""); err != nil {
			return err
		}
		if err := s.writeDecided(ctx, tx, f); err != nil {
			return err
		}
		return s.Flows.UpdateTx(ctx, tx, f, now)
	})
	if err != nil {
		g.cancel(ctx)
		s.Logger.ErrorContext(ctx, "flow: mail the code that finishes a sign-up", "flow_id", f.ID, "error", err)
	}
}

// finishProven moves a flow whose code finishes a sign-up on to the
// password step. A flow that only its mail named is bound now to the
// browser that entered the code: its next step is for that browser only.
func (s *Service) finishProven(ctx context.Context, f *Flow, c Client) (*Result, error) {
	f.State = StatePassword
	f.Data.Messages = []Message{info("finish_sign_up_choose_password")}
	var bind write
	if f.Channel == ChannelBrowser && f.Binding == "" {
		f.Binding = c.Binding
		bind = func(ctx context.Context, tx *store.Tx) error { return s.Flows.bindTx(ctx, tx, f.ID, c.Binding) }
	}
	if err := s.finish(ctx, f, s.now(), bind); err != nil {
		return nil, err
	}
	return &Result{Flow: f}, nil
}

// FinishSignUp completes, with the password the customer chooses now, the
// unfinished sign-up whose code f proved (StatePassword): the account is
// active with its address verified, and the customer signed in — as a
// sign-up that read its code at once would have been.
func (s *Service) FinishSignUp(ctx context.Context, f *Flow, c Client, pw string) (*Result, error) {
	if !f.Data.FinishSignUp || f.State != StatePassword {
		return nil, ErrWrongState
	}
	ident, err := s.Identities.Get(ctx, s.Config.Domain, f.IdentityID)
	if err != nil {
		return nil, err
	}
	if ident.State != identity.StatePending {
		return s.alreadySignedUp(ctx, f)
	}
	if err := s.checkPassword(pw, passwordContext(ident)); err != nil {
		return nil, err
	}
	hash, err := s.Hasher.Hash(ctx, pw)
	if err != nil {
		return nil, err
	}
	now := s.now()
	complete := func(ctx context.Context, tx *store.Tx) error {
		if err := s.Identities.CompleteSignUpTx(ctx, tx, ident.ID, f.Data.IdentifierID, ident.Traits, hash, now); err != nil {
			return err
		}
		return s.emitTx(ctx, tx, f, c, event.RegistrationCompleted, event.OutcomeSuccess, "finished_later", ident.ID, "")
	}
	ident.State = identity.StateActive
	for i := range ident.Identifiers {
		if ident.Identifiers[i].ID == f.Data.IdentifierID {
			ident.Identifiers[i].Verified, ident.Identifiers[i].VerifiedAt = true, now
		}
	}
	f.State = StateDone
	f.Data.Messages = []Message{info("finish_sign_up_completed")}
	result := &Result{Flow: f}
	signedIn, err := s.signInAs(ctx, f, c, ident, nil, []string{MethodPassword, MethodEmailCode}, now, s.withRisk(c, nil, policy.Signals{}), result)
	if err != nil {
		return nil, err
	}
	err = s.finish(ctx, f, now, complete, signedIn)
	if errors.Is(err, identity.ErrNotPending) {
		return s.alreadySignedUp(ctx, f) // finished meanwhile, by another of its codes
	}
	if err != nil {
		return nil, err
	}
	return result, nil
}
