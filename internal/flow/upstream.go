package flow

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/foyer-id/foyer/internal/courier"
	"github.com/foyer-id/foyer/internal/event"
	"github.com/foyer-id/foyer/internal/identity"
	"github.com/foyer-id/foyer/internal/policy"
	"github.com/foyer-id/foyer/internal/session"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/throttle"
	"github.com/foyer-id/foyer/internal/upstream"
)

// Signing in with an upstream provider ("Continue with Google").
//
// A round trip to the provider is a flow of its own (TypeUpstream): it
// keeps the state, nonce and PKCE verifier of one authorization request,
// is bound to the browser that started it, and is used once — the
// callback ends it before it redeems the code, so a replayed callback
// finds it done. What the provider vouched for then decides the journey,
// which goes on in a flow of the usual kind:
//
//   - a provider account linked to an identity signs in to it (a sign-in
//     flow: the session decision, a second factor, as for any method);
//   - an address the provider marks verified that belongs to an account
//     never signs in to it and never links by itself: the customer proves
//     the account (its password, a passkey or a code mailed to it) and
//     then confirms the link (StateConfirmLink) — or declines it;
//   - an address the provider does not mark verified is never matched to
//     an account: with an account of that address the journey is refused;
//     without one it is a sign-up whose address a mailed code proves
//     first, like any;
//   - anything else is a sign-up: the account is created with the
//     provider's verified address and the traits it gave, and linked.
//
// A link is written with the session the journey issues (issueAs), in
// the same transaction: never without the sign-in that proved it.

// TypeUpstream is a round trip to an upstream provider.
const TypeUpstream = "provider"

// MethodProvider names signing in with an upstream provider's account;
// MethodProviderMFA is added when the provider says its sign-in used two
// factors (its amr or acr matched the provider's mfa_values).
const (
	MethodProvider    = "provider"
	MethodProviderMFA = "provider_mfa"
)

// StateConfirmLink: a sign-in proved the account that an upstream
// account's verified address belongs to; waiting for the customer to
// confirm (or decline) linking the two.
const StateConfirmLink = "confirm_link"

// Intents of a round trip.
const (
	intentSignIn = "sign_in"
	intentLink   = "link"
)

// Upstream is what a flow keeps of an upstream provider: in a round trip
// (TypeUpstream) the authorization request's secrets; in the journey that
// follows, the provider account to link once the sign-in is through.
type Upstream struct {
	Provider string `json:"provider"`
	// The round trip: the hash of the state's secret, the nonce and the
	// PKCE verifier, and what the customer set out to do (Intent…).
	StateHash string `json:"state_hash,omitempty"`
	Nonce     string `json:"nonce,omitempty"`
	Verifier  string `json:"verifier,omitempty"`
	Intent    string `json:"intent,omitempty"`
	// The provider's account, once it vouched for it.
	Subject string `json:"subject,omitempty"`
	Email   string `json:"email,omitempty"`
	MFA     bool   `json:"mfa,omitempty"`
	// Linked is true when the account is linked already (the sign-in
	// records its use); Confirmed when the customer agreed to link it (or
	// signed up with it): the session's write makes the link.
	Linked    bool `json:"linked,omitempty"`
	Confirmed bool `json:"confirmed,omitempty"`
}

// methods are what signing in with u's account proves: one factor, and a
// second when the provider said its sign-in had two (MFA).
func (u *Upstream) methods() []string {
	if u.MFA {
		return []string{MethodProvider, MethodProviderMFA}
	}
	return []string{MethodProvider}
}

// UpstreamError is a round trip that ended without signing in: Reason is
// the id of the message that says why, Provider the provider's name.
// Nothing changed.
type UpstreamError struct {
	Reason   string
	Provider string
	err      error
}

func (e *UpstreamError) Error() string {
	if e.err != nil {
		return "flow: provider: " + e.Reason + ": " + e.err.Error()
	}
	return "flow: provider: " + e.Reason
}

func (e *UpstreamError) Unwrap() error { return e.err }

// Message is the refusal in words, for a page.
func (e *UpstreamError) Message() Message { return errorMsg("", e.Reason, "provider", e.Provider) }

// Providers lists the domain's upstream providers, in the configuration's
// order.
func (s *Service) Providers() []*upstream.Provider { return s.Upstreams }

// provider returns the provider of id, nil for none.
func (s *Service) provider(id string) *upstream.Provider {
	for _, p := range s.Upstreams {
		if p.ID() == id {
			return p
		}
	}
	return nil
}

// ProviderName is the name customers know provider id by ("" for none).
func (s *Service) ProviderName(id string) string {
	if p := s.provider(id); p != nil {
		return p.Name()
	}
	return ""
}

// CallbackURL is the redirect URI to register at provider id.
func (s *Service) CallbackURL(id string) string {
	return s.Config.PublicURL + "/providers/" + id + "/callback"
}

// ErrNoProvider is a provider the domain does not have.
var ErrNoProvider = errors.New("flow: no such provider")

// BeginUpstream starts a round trip to provider id and returns where to
// send the browser. With link, a signed-in customer links an account of
// the provider to theirs (the caller has checked that the session may
// change sign-in methods now, MethodsChangeNeeds); without, the customer
// signs in or up, and returnTo is where the journey ends.
func (s *Service) BeginUpstream(ctx context.Context, c Client, id, returnTo string, link *session.Session) (string, error) {
	p := s.provider(id)
	if p == nil {
		return "", ErrNoProvider
	}
	f, err := s.Start(ctx, TypeUpstream, c, returnTo)
	if err != nil {
		return "", err
	}
	secret, nonce, verifier := randomToken(), randomToken(), randomToken()
	f.Data.Upstream = &Upstream{Provider: id, StateHash: hashToken(secret), Nonce: nonce, Verifier: verifier, Intent: intentSignIn}
	if link != nil {
		f.Data.Upstream.Intent = intentLink
		f.IdentityID, f.Data.SessionID = link.IdentityID, link.ID
	}
	to, err := p.AuthURL(ctx, s.CallbackURL(id), f.ID+"."+secret, nonce, verifier)
	if err != nil {
		s.Logger.WarnContext(ctx, "flow: provider not reached", "provider", id, "error", err)
		s.emit(ctx, f, c, event.ProviderCallback, event.OutcomeFailure, "provider_unavailable", "", "")
		return "", &UpstreamError{Reason: "provider_unavailable", Provider: p.Name(), err: err}
	}
	if err := s.Flows.Update(ctx, f, s.now()); err != nil {
		return "", err
	}
	return to, nil
}

// Callback is what the provider sent back to the callback URL.
type Callback struct {
	State string
	Code  string
	// Error is the provider's error (access_denied when the customer
	// cancelled).
	Error string
	// Form holds the other parameters (Apple's user, with the name).
	Form url.Values
}

// UpstreamResult is where a round trip's journey stands: a session
// (Result.Token), or a flow to continue on its page (Result.Flow, of
// TypeLogin or TypeRegistration), or, for a link, Linked.
type UpstreamResult struct {
	Result
	// Linked names the provider a signed-in customer just linked (or had
	// linked already) to identity LinkedTo.
	Linked, LinkedTo string
}

// FinishUpstream completes the round trip cb answers for provider id, in
// the browser c that started it, and goes on with the journey (see the
// comment at the top of this file). Any failure is an *UpstreamError
// that changed nothing but end the round trip.
func (s *Service) FinishUpstream(ctx context.Context, c Client, id string, cb Callback) (*UpstreamResult, error) {
	p := s.provider(id)
	if p == nil {
		return nil, ErrNoProvider
	}
	fail := func(f *Flow, reason string, err error) error {
		s.emit(ctx, f, c, event.ProviderCallback, event.OutcomeFailure, reason, "", "")
		return &UpstreamError{Reason: reason, Provider: p.Name(), err: err}
	}
	flowID, secret, ok := strings.Cut(cb.State, ".")
	if !ok || flowID == "" || len(cb.State) > 512 {
		return nil, fail(nil, "provider_state_invalid", nil)
	}
	f, err := s.Load(ctx, flowID, TypeUpstream, c)
	switch {
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrBinding), errors.Is(err, ErrExpired):
		return nil, fail(nil, "provider_state_invalid", err)
	case err != nil:
		return nil, err
	}
	u := f.Data.Upstream
	if u == nil || u.Provider != id || !constantEqual(u.StateHash, hashToken(secret)) {
		return nil, fail(f, "provider_state_invalid", nil)
	}
	if f.State != StateForm {
		return nil, fail(f, "provider_used", nil)
	}
	// Used once: the round trip ends before the code is redeemed, so a
	// second callback with the same state (a replay, a double click)
	// finds it over — or loses the race for it.
	f.State = StateDone
	if err := s.Flows.Update(ctx, f, s.now()); errors.Is(err, ErrChanged) {
		return nil, fail(f, "provider_used", err)
	} else if err != nil {
		return nil, err
	}
	if cb.Error != "" {
		reason := "provider_cancelled"
		if cb.Error != "access_denied" {
			reason = "provider_refused"
		}
		return nil, fail(f, reason, fmt.Errorf("provider answered %.64q", cb.Error))
	}
	claims, err := p.Exchange(ctx, s.CallbackURL(id), cb.Code, u.Verifier, u.Nonce, cb.Form)
	if err != nil {
		return nil, s.providerFailed(ctx, f, c, p, err)
	}
	if u.Intent == intentLink {
		return s.linkSignedIn(ctx, f, c, p, claims)
	}
	return s.upstreamJourney(ctx, f, c, p, claims)
}

// SignInWithIDToken signs in (or up) with an ID token an app obtained
// from provider id's own SDK (Sign in with Apple, Google's), for a sign-in
// flow f of the API in its form: the token must be the provider's, for
// the app (its audience one of the provider's client ids), and carry as
// nonce f's id — or its SHA-256 in hex, for SDKs that hash the nonce
// they are given — so that a token is good for one flow, which it ends.
// The journey then goes on as after a browser's round trip
// (FinishUpstream).
func (s *Service) SignInWithIDToken(ctx context.Context, f *Flow, c Client, id, rawIDToken string) (*UpstreamResult, error) {
	if f.Type != TypeLogin || f.State != StateForm || f.Channel != ChannelAPI {
		return nil, ErrWrongState
	}
	p := s.provider(id)
	if p == nil {
		return nil, ErrNoProvider
	}
	if rawIDToken == "" || len(rawIDToken) > 16<<10 {
		return nil, invalid("id_token", "id_token_invalid")
	}
	claims, err := p.VerifyIDToken(ctx, rawIDToken, "")
	if err == nil && claims.Nonce != f.ID && claims.Nonce != hashToken(f.ID) {
		err = fmt.Errorf("%w: the nonce is not the flow's", upstream.ErrRefused)
	}
	// The flow is used once, whatever the token.
	f.State = StateDone
	if uerr := s.Flows.Update(ctx, f, s.now()); uerr != nil {
		return nil, uerr
	}
	if err != nil {
		return nil, s.providerFailed(ctx, f, c, p, err)
	}
	return s.upstreamJourney(ctx, f, c, p, claims)
}

// providerFailed records and words p's failure to vouch for anyone: a
// provider out of reach, or an answer that does not verify — which counts
// against the network like a wrong password, for it may be someone trying
// forged ones.
func (s *Service) providerFailed(ctx context.Context, f *Flow, c Client, p *upstream.Provider, err error) error {
	reason := "provider_unavailable"
	if !errors.Is(err, upstream.ErrUnavailable) {
		reason = "provider_refused"
		_ = s.Throttle.Fail(ctx, throttle.NetworkKey("login", c.IP), s.limits().Login)
	}
	s.Logger.WarnContext(ctx, "flow: provider failed", "provider", p.ID(), "reason", reason, "error", err)
	s.emit(ctx, f, c, event.ProviderCallback, event.OutcomeFailure, reason, "", "")
	return &UpstreamError{Reason: reason, Provider: p.Name(), err: err}
}

// upstreamJourney goes on after a provider vouched for claims.
func (s *Service) upstreamJourney(ctx context.Context, rt *Flow, c Client, p *upstream.Provider, claims *upstream.Claims) (*UpstreamResult, error) {
	fail := func(reason string) error {
		s.emit(ctx, rt, c, event.ProviderCallback, event.OutcomeFailure, reason, "", "")
		return &UpstreamError{Reason: reason, Provider: p.Name()}
	}
	acct := &Upstream{Provider: p.ID(), Subject: claims.Subject, Email: claims.Email, MFA: claims.MFA}
	methods := acct.methods()
	// The provider's account's link, and the account of its address with
	// that account's links, in one round trip.
	email, _ := identity.NormalizeEmail(claims.Email) // "" for none, or one that is no address
	var (
		link, ownerLinks []identity.Link
		owner            *identity.Identity
	)
	r := s.Flows.reads()
	s.Links.FindLinkIn(r, s.Config.Domain, p.ID(), claims.Subject, &link)
	if email != "" {
		s.Identities.FindByIdentifierIn(r, s.Config.Domain, identity.KindEmail, email, &owner)
		s.Links.ListByIdentifierIn(r, s.Config.Domain, identity.KindEmail, email, &ownerLinks)
	}
	if err := r.Run(ctx); err != nil {
		return nil, fmt.Errorf("flow: provider's account reads: %w", err)
	}
	if len(link) > 0 {
		// A linked account: a sign-in like any other.
		f, err := s.Start(ctx, TypeLogin, c, rt.ReturnTo)
		if err != nil {
			return nil, err
		}
		acct.Linked, acct.Confirmed = true, true
		f.IdentityID, f.Data.Upstream = link[0].IdentityID, acct
		return s.upstreamSignIn(ctx, f, c, methods)
	}
	if email == "" {
		return nil, fail("provider_no_email")
	}
	if owner != nil && owner.State != identity.StatePending {
		if !claims.EmailVerified {
			// Never matched on an address the provider did not check.
			return nil, fail("provider_email_unverified")
		}
		if slices.ContainsFunc(ownerLinks, func(l identity.Link) bool { return l.Provider == p.ID() }) {
			// The account has another account of this provider: one
			// each, and which one is the owner's to choose.
			return nil, fail("provider_linked_other")
		}
		// The address's account must be proved, then the link confirmed.
		f, err := s.Start(ctx, TypeLogin, c, rt.ReturnTo)
		if err != nil {
			return nil, err
		}
		f.Data.Upstream, f.Data.Email = acct, email
		f.Data.Values = map[string]string{"email": email}
		f.Data.Messages = []Message{info("provider_link_prove", "provider", p.Name(), "email", email)}
		if err := s.save(ctx, f, s.now(), s.record(f, c, event.ProviderCallback, event.OutcomePending, "link_required", owner.ID, "")); err != nil {
			return nil, err
		}
		return &UpstreamResult{Result: Result{Flow: f}}, nil
	}
	return s.upstreamSignUp(ctx, rt, c, p, claims, email, owner, methods)
}

// upstreamSignIn signs in f's identity with methods and ends f.
func (s *Service) upstreamSignIn(ctx context.Context, f *Flow, c Client, methods []string) (*UpstreamResult, error) {
	submitted := s.record(f, c, event.LoginSubmitted, event.OutcomeSuccess, MethodProvider, f.IdentityID, "")
	answered := s.record(f, c, event.ProviderCallback, event.OutcomeSuccess, f.Data.Upstream.Provider, f.IdentityID, "")
	if _, err := s.decide(ctx, f, c, policy.Input{Action: policy.LoginSubmit, IdentityID: f.IdentityID, Methods: methods,
		Provider: f.Data.Upstream.Provider}, event.LoginSubmitted); err != nil {
		return nil, err
	}
	res := &UpstreamResult{Result: Result{Flow: f}}
	now := s.now()
	f.State = StateDone // signIn may move it on
	signedIn, err := s.signInWith(ctx, f, c, methods, now, policy.Signals{}, &res.Result)
	if err != nil {
		return nil, err
	}
	if err := s.save(ctx, f, now, answered, submitted, signedIn); err != nil {
		return nil, err
	}
	return res, nil
}

// upstreamSignUp creates the account of a provider's customer whose
// address has none (or only an unfinished sign-up), linked to the
// provider's account. A verified address signs in at once; one the
// provider did not verify waits, like any sign-up, for a mailed code.
func (s *Service) upstreamSignUp(ctx context.Context, rt *Flow, c Client, p *upstream.Provider, claims *upstream.Claims, email string, owner *identity.Identity, methods []string) (*UpstreamResult, error) {
	traits := s.providerTraits(claims, email)
	ids, err := s.Schema.Validate(traits)
	if err != nil {
		var te *identity.TraitError
		if errors.As(err, &te) {
			// The schema asks for what the provider did not give.
			s.emit(ctx, rt, c, event.ProviderCallback, event.OutcomeFailure, "traits_missing", "", "")
			return nil, &UpstreamError{Reason: "provider_traits_missing", Provider: p.Name(), err: err}
		}
		return nil, err
	}
	f, err := s.Start(ctx, TypeRegistration, c, rt.ReturnTo)
	if err != nil {
		return nil, err
	}
	g, err := s.reserve(ctx, c, policy.RegistrationSubmit, "", "")
	if err != nil {
		return nil, err
	}
	if _, err := s.decideGuarded(ctx, g, f, c, policy.Input{Action: policy.RegistrationSubmit, Email: email, Traits: traits,
		Methods: methods, Provider: p.ID()}, event.RegistrationSubmitted); err != nil {
		return nil, err
	}
	// A sign-up counts against its network, and stays counted.
	traitsJSON, err := json.Marshal(traits)
	if err != nil {
		return nil, err
	}
	now := s.now()
	f.Data.Email, f.Data.Traits, f.Data.Method = email, traitsJSON, MethodProvider
	f.Data.Upstream = &Upstream{Provider: p.ID(), Subject: claims.Subject, Email: email, MFA: claims.MFA, Confirmed: true}
	var create write
	if owner == nil {
		ident := s.newIdentity(ids, traitsJSON)
		f.IdentityID, f.Data.IdentifierID = ident.ID, ident.Email().ID
		if claims.EmailVerified {
			create = func(ctx context.Context, tx *store.Tx) error {
				if err := s.Identities.CreateActiveTx(ctx, tx, ident, "", now); err != nil {
					return err
				}
				return s.Identities.MarkVerifiedTx(ctx, tx, ident.ID, f.Data.IdentifierID, now)
			}
		} else {
			create = func(ctx context.Context, tx *store.Tx) error {
				return s.Identities.CreatePendingTx(ctx, tx, ident, now)
			}
		}
	} else {
		// An unfinished sign-up of the address: the provider's check of
		// the address finishes it, as its code would.
		takenBy(f, owner)
		if claims.EmailVerified {
			create = func(ctx context.Context, tx *store.Tx) error {
				return s.Identities.CompleteSignUpTx(ctx, tx, owner.ID, f.Data.IdentifierID, traitsJSON, "", now)
			}
		}
	}
	if !claims.EmailVerified {
		// The address is proved by a code first; the code's step makes
		// the account, and the link, as for a sign-up with a password.
		mailGuard, err := s.reserveCodeSend(ctx, c, email, f.IdentityID)
		if err != nil {
			return nil, err
		}
		f.State = StateVerify
		f.Data.Values = map[string]string{"email": email}
		if err := s.saveSignUp(ctx, f, c, s.mailAllowed(ctx, mailGuard, f, c), create); err != nil {
			mailGuard.cancel(ctx)
			return nil, err
		}
		return &UpstreamResult{Result: Result{Flow: f}}, nil
	}
	ident := &identity.Identity{ID: f.IdentityID, Domain: s.Config.Domain, State: identity.StateActive, Traits: traitsJSON, CreatedAt: now,
		Identifiers: []identity.Identifier{{ID: f.Data.IdentifierID, Kind: identity.KindEmail, Value: email, Verified: true, VerifiedAt: now}}}
	res := &UpstreamResult{Result: Result{Flow: f}}
	f.State = StateDone // signIn may move it on to StateSecondFactor
	f.Data.Messages = []Message{info("registration_completed")}
	signedIn, err := s.signInAs(ctx, f, c, ident, nil, methods, now, s.withRisk(c, nil, policy.Signals{}), &res.Result)
	if err != nil {
		return nil, err
	}
	err = s.save(ctx, f, now, create,
		s.record(f, c, event.ProviderCallback, event.OutcomeSuccess, p.ID(), f.IdentityID, ""),
		s.record(f, c, event.RegistrationSubmitted, event.OutcomePending, "", "", ""),
		s.record(f, c, event.RegistrationCompleted, event.OutcomeSuccess, MethodProvider, f.IdentityID, ""),
		signedIn)
	if isConflict(err) || errors.Is(err, identity.ErrNotPending) {
		// The address was taken meanwhile: the customer starts again,
		// and meets the account.
		return nil, &UpstreamError{Reason: "provider_try_again", Provider: p.Name(), err: err}
	}
	if err != nil {
		return nil, err
	}
	return res, nil
}

// providerTraits are a new account's traits from what the provider gave:
// the address, and each trait of the schema it has a value for.
func (s *Service) providerTraits(claims *upstream.Claims, email string) map[string]any {
	traits := map[string]any{}
	for name, v := range claims.Traits {
		if slices.Contains(s.Schema.Properties(), name) {
			traits[name] = v
		}
	}
	traits[s.Schema.IdentifierTrait(identity.KindEmail)] = email
	return traits
}

// linkSignedIn links the provider's account of claims to the signed-in
// customer who set out to (intent link).
func (s *Service) linkSignedIn(ctx context.Context, rt *Flow, c Client, p *upstream.Provider, claims *upstream.Claims) (*UpstreamResult, error) {
	fail := func(reason string, err error) error {
		s.emit(ctx, rt, c, event.ProviderLinked, event.OutcomeFailure, reason, rt.IdentityID, "")
		return &UpstreamError{Reason: reason, Provider: p.Name(), err: err}
	}
	live, err := s.Sessions.Live(ctx, rt.Data.SessionID)
	if err != nil {
		return nil, err
	}
	if !live {
		return nil, fail("provider_session_ended", nil)
	}
	var (
		link  []identity.Link
		ident *identity.Identity
	)
	r := s.Flows.reads()
	s.Links.FindLinkIn(r, s.Config.Domain, p.ID(), claims.Subject, &link)
	s.Identities.GetIn(r, s.Config.Domain, rt.IdentityID, &ident)
	if err := r.Run(ctx); err != nil {
		return nil, fmt.Errorf("flow: link reads: %w", err)
	}
	switch {
	case len(link) > 0 && link[0].IdentityID == rt.IdentityID:
		return &UpstreamResult{Linked: p.Name(), LinkedTo: rt.IdentityID}, nil // linked already: nothing to do
	case len(link) > 0:
		return nil, fail("provider_linked_elsewhere", nil)
	}
	now := s.now()
	email, _ := identity.NormalizeEmail(claims.Email)
	err = s.Flows.lockMethods(ctx, ident.ID, func() error {
		return s.Flows.db.InTx(ctx, func(tx *store.Tx) error {
			return s.Links.CreateTx(ctx, tx, identity.Link{Domain: s.Config.Domain, Provider: p.ID(), Subject: claims.Subject,
				IdentityID: ident.ID, Email: email, LinkedAt: now})
		})
	})
	if isConflict(err) {
		return nil, fail("provider_linked_other", err)
	}
	if err != nil {
		return nil, err
	}
	s.emit(ctx, rt, c, event.ProviderLinked, event.OutcomeSuccess, p.ID(), ident.ID, "")
	s.MethodsChanged(ctx, c, ident, "provider_linked", p.ID(), courier.Text{ID: "notice.provider_linked", Args: []any{"provider", p.Name()}})
	return &UpstreamResult{Linked: p.Name(), LinkedTo: ident.ID}, nil
}

// ConfirmLink answers the question of StateConfirmLink: with link, the
// provider's account is linked to the account the customer proved; either
// way the customer is signed in, as the proof already allowed.
func (s *Service) ConfirmLink(ctx context.Context, f *Flow, c Client, link bool) (*Result, error) {
	if f.Type != TypeLogin || f.State != StateConfirmLink || f.Data.Upstream == nil {
		return nil, ErrWrongState
	}
	methods := f.Data.Methods
	if link {
		f.Data.Upstream.Confirmed = true
		methods = slices.Concat(methods, f.Data.Upstream.methods())
	} else {
		s.emit(ctx, f, c, event.ProviderLinked, event.OutcomeFailure, "declined", f.IdentityID, "")
		f.Data.Upstream = nil
	}
	result := &Result{Flow: f}
	now := s.now()
	f.State = StateDone
	f.Data.Messages = nil
	signedIn, err := s.signInWith(ctx, f, c, methods, f.Data.AuthenticatedAt, policy.Signals{}, result)
	if err != nil {
		return nil, err
	}
	err = s.save(ctx, f, now, signedIn)
	if isConflict(err) {
		// The provider's account was linked elsewhere meanwhile (or
		// another of the provider's to this account): nothing changed,
		// and this journey is over.
		return nil, &UpstreamError{Reason: "provider_linked_elsewhere", Provider: s.ProviderName(f.Data.Upstream.Provider), err: err}
	}
	if err != nil {
		return nil, err
	}
	return result, nil
}

// linkWrite is the part of a session's write that concerns the provider
// account f carries: its use recorded, or the link made, with its event
// and a notice to the account's owner. When the customer has yet to
// confirm the link, ok is false: the flow waits in StateConfirmLink.
func (s *Service) linkWrite(f *Flow, c Client, ident *identity.Identity) (w write, ok bool) {
	u := f.Data.Upstream
	if u == nil || f.Type == TypeUpstream {
		return nil, true
	}
	now := s.now()
	switch {
	case u.Linked:
		return func(ctx context.Context, tx *store.Tx) error {
			return s.Links.UsedTx(ctx, tx, s.Config.Domain, u.Provider, u.Subject, now)
		}, true
	case !u.Confirmed:
		return nil, false
	}
	name := s.ProviderName(u.Provider)
	return func(ctx context.Context, tx *store.Tx) error {
		if err := s.Links.CreateTx(ctx, tx, identity.Link{Domain: s.Config.Domain, Provider: u.Provider, Subject: u.Subject,
			IdentityID: ident.ID, Email: u.Email, LinkedAt: now}); err != nil {
			return err
		}
		if err := s.emitTx(ctx, tx, f, c, event.ProviderLinked, event.OutcomeSuccess, u.Provider, ident.ID, ""); err != nil {
			return err
		}
		if f.Type == TypeRegistration {
			return nil // a new account: nothing to tell its owner
		}
		if err := s.Identities.MethodsChangedTx(ctx, tx, ident.ID, now); err != nil {
			return err
		}
		if err := s.emitTx(ctx, tx, f, c, event.MethodsChanged, event.OutcomeSuccess, "provider_linked", ident.ID, ""); err != nil {
			return err
		}
		return s.noticeTx(ctx, tx, ident, c.Lang, courier.Text{ID: "notice.provider_linked", Args: []any{"provider", name}},
			RevertFactor, "provider_linked:"+u.Provider, "")
	}, true
}

// Unlink removes the customer's link to provider id. An account keeps a
// way to sign in: the last one (no password, no passkey, no other
// provider) is refused with a *RefusedError. The caller has checked that
// the session may change sign-in methods now (MethodsChangeNeeds).
func (s *Service) Unlink(ctx context.Context, c Client, ident *identity.Identity, id string) error {
	err := s.Flows.lockMethods(ctx, ident.ID, func() error {
		m, err := s.methodsOf(ctx, ident.ID)
		if err != nil {
			return err
		}
		if !m.password && m.passkeys == 0 && m.links <= 1 {
			return &RefusedError{Message: refusedLastLink}
		}
		return s.Flows.db.InTx(ctx, func(tx *store.Tx) error { return s.Links.DeleteTx(ctx, tx, ident.ID, id) })
	})
	if err != nil {
		return err
	}
	s.emit(ctx, nil, c, event.ProviderUnlinked, event.OutcomeSuccess, id, ident.ID, "")
	name := s.ProviderName(id)
	if name == "" {
		name = id // a provider no longer configured
	}
	s.MethodsChanged(ctx, c, ident, "provider_unlinked", "", courier.Text{ID: "notice.provider_unlinked", Args: []any{"provider", name}})
	return nil
}

// linkTarget refuses a sign-in, in a journey that links a provider's
// account, to another account than the one its verified address names.
func linkTarget(f *Flow, email string) error {
	if f.Data.Upstream != nil && !f.Data.Upstream.Confirmed && email != f.Data.Email {
		return invalid("identifier", "provider_link_other_account", "email", f.Data.Email)
	}
	return nil
}

// linkTargetIs refuses a passkey of another account than the one f's
// link would join (linkTarget, for a sign-in by identity).
func (s *Service) linkTargetIs(ctx context.Context, f *Flow, identityID string) error {
	ident, err := s.Identities.Get(ctx, s.Config.Domain, identityID)
	if err != nil {
		return err
	}
	return linkTarget(f, ident.Email().Value)
}

// randomToken is 32 random bytes, base64url.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
