package flow

import (
	"cmp"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"github.com/foyer-id/foyer/internal/challenge"
	"github.com/foyer-id/foyer/internal/courier"
	"github.com/foyer-id/foyer/internal/credential/passkey"
	"github.com/foyer-id/foyer/internal/credential/password"
	"github.com/foyer-id/foyer/internal/decision"
	"github.com/foyer-id/foyer/internal/event"
	"github.com/foyer-id/foyer/internal/identity"
	"github.com/foyer-id/foyer/internal/policy"
	"github.com/foyer-id/foyer/internal/risk"
	"github.com/foyer-id/foyer/internal/session"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/throttle"
	"github.com/foyer-id/foyer/internal/upstream"
)

// Mailer queues mail for delivery (courier.Outbox).
type Mailer interface {
	Enqueue(ctx context.Context, m courier.Message) (string, error)
	// EnqueueTx queues m inside tx: it leaves once tx commits.
	EnqueueTx(ctx context.Context, tx *store.Tx, m courier.Message) (string, error)
	// SupersedeTx gives up, inside tx, a mail that has not left.
	SupersedeTx(ctx context.Context, tx *store.Tx, id string) error
	// DecoyTx costs, inside tx, what EnqueueTx does, and sends nothing.
	DecoyTx(ctx context.Context, tx *store.Tx, m courier.Message) error
	// Fate tells what became of a mail (see NoteDelivery).
	Fate(ctx context.Context, id string) (courier.Fate, error)
}

// Config holds the journey settings of one policy domain.
type Config struct {
	Domain       string
	ProductName  string
	PublicURL    string // base URL for links in mail
	FlowLifetime time.Duration
	CodeLifetime time.Duration
	// RequireVerifiedEmail makes sign-up complete (and sign-in succeed)
	// only once the email is verified. With it off, sign-up signs the
	// customer in at once and verification is offered but optional.
	RequireVerifiedEmail bool
	// EmailCodeLogin turns on sign-in with a code mailed to the verified
	// address.
	EmailCodeLogin bool
	// TOTPSetup lets customers set up an authenticator app. Off, no new
	// set-ups begin; apps already set up keep protecting sign-in.
	TOTPSetup bool
	// SMS turns on phone numbers: codes by text message to a verified one
	// (the courier's SMS sender, or the dev mailbox).
	SMS bool
	// Recovery turns on account recovery (a code mailed to the verified
	// address, or a recovery code, then a new password); RecoveryCoolOff
	// is how long a recovered account stays restricted.
	Recovery        bool
	RecoveryCoolOff time.Duration
}

// Client describes who is making a request.
type Client struct {
	Channel   string // ChannelBrowser or ChannelAPI
	Binding   string // browser binding hash (empty for API)
	IP        string
	UserAgent string
	DeviceID  string
	// Lang is the language the customer reads (a catalogue's tag, see
	// i18n.Catalog.Choose): the journey's mail is worded in it.
	Lang string
	// App is the client id of the app the journey answers, when the
	// pages know it and the app has a look of its own: the step's mail
	// takes that look (courier.Message.App).
	App string
	// Proof is a solved challenge the request carries, if any (see
	// ChallengeError).
	Proof challenge.Proof
}

// Service runs the journeys.
type Service struct {
	Config Config
	Flows  *Store
	// Devices are the devices each identity signed in from, and GeoIP
	// where client addresses are (nil: networks only): the risk signals
	// of a sign-in (package risk).
	Devices *risk.Devices
	GeoIP   *risk.GeoIP
	// Velocity tells a spike of the site's sign-in failures (nil: none).
	Velocity       *risk.Velocity
	Identities     *identity.Store
	Schema         *identity.Schema
	Sessions       *session.Manager
	Hasher         *password.Hasher
	PasswordPolicy password.Policy
	// Point is where every decision of the journeys is made (the OpenID
	// provider shares it), and Decisions where each is recorded.
	Point     *decision.Point
	Decisions *decision.Log
	Events    *event.Log
	Throttle  *throttle.Limiter
	Mailer    Mailer
	// Factors holds the authenticator apps and recovery codes: checked at
	// sign-in and step-up, set up and managed by customers (BeginTOTP,
	// ConfirmTOTP, …); nil when the domain has none.
	Factors *Factors
	// Passkeys signs customers in (and up) with passkeys; nil when the
	// domain has them off.
	Passkeys *passkey.Service
	// Grants ends the tokens the apps hold for an identity when it is
	// recovered (the OpenID provider's; nil without one).
	Grants Grants
	// Upstreams are the upstream providers customers may sign in with
	// (see upstream.go), and Links the identities' accounts at them.
	Upstreams []*upstream.Provider
	Links     *identity.Links
	// Challenges makes and checks the proof-of-work challenges the
	// policy asks of busy networks; nil turns challenges into waits.
	Challenges *challenge.Issuer
	Secret     []byte // keys the code HMAC
	Logger     *slog.Logger
	Now        func() time.Time
	Random     io.Reader

	// background is the work a step leaves to run after its answer
	// (mailFinishSignUp); Wait waits for it.
	background sync.WaitGroup
}

// Wait waits for the work steps left to run after their answers: call it
// before closing the database.
func (s *Service) Wait() { s.background.Wait() }

// Grants are the OpenID provider's tokens of identities.
type Grants interface {
	// RevokeSubjectTx revokes, inside tx, every token held for an
	// identity, offline grants too.
	RevokeSubjectTx(ctx context.Context, tx *store.Tx, identityID string) (int, error)
	// RevokeOthersTx revokes, inside tx, those held through any session
	// of the identity but keep.
	RevokeOthersTx(ctx context.Context, tx *store.Tx, identityID, keep string) (int, error)
	// RevokeSession revokes those held through one session.
	RevokeSession(ctx context.Context, identityID, sessionID string) error
}

// Result is what a submit produced: the flow as it now stands, and a
// session when the journey signed the customer in.
type Result struct {
	Flow     *Flow
	Token    string
	Session  *session.Session
	Identity *identity.Identity
	// RecoveryCodes are new recovery codes to show the customer once
	// (a passwordless sign-up makes them with its passkey).
	RecoveryCodes []string
}

func (s *Service) now() time.Time { return s.Now().UTC() }

// limits are the policy's counts and code bounds (policy.Limited).
func (s *Service) limits() policy.Limits {
	if l, ok := s.Point.Policy.(policy.Limited); ok {
		return l.JourneyLimits()
	}
	return policy.DefaultLimits()
}

// Start creates a flow of the given type for a client.
func (s *Service) Start(ctx context.Context, typ string, c Client, returnTo string) (*Flow, error) {
	switch typ {
	case TypeRegistration, TypeLogin, TypeVerification, TypeEmailChange, TypePhoneChange, TypeUpstream:
	case TypeRecovery:
		if !s.Config.Recovery {
			return nil, ErrNotFound
		}
	default:
		return nil, fmt.Errorf("flow: unknown type %q", typ)
	}
	scope, rule := s.networkLimit(policy.FlowStart)
	count := throttle.Item{Key: throttle.NetworkKey(scope, c.IP), Rule: rule}
	now := s.now()
	f := &Flow{
		Domain:    s.Config.Domain,
		Type:      typ,
		Channel:   c.Channel,
		State:     StateForm,
		Binding:   c.Binding,
		ReturnTo:  returnTo,
		CreatedAt: now,
		UpdatedAt: now,
		ExpiresAt: now.Add(s.Config.FlowLifetime),
	}
	f.Data.Lang = c.Lang
	// Each journey is a stored row: a network's starts are counted, in the
	// transaction that stores it, which fails if the network must wait;
	// the policy is then asked again with how long, and that decision
	// stands in place of the first.
	if _, err := s.decide(ctx, f, c, policy.Input{Action: policy.FlowStart}, typ+".started"); err != nil {
		return nil, err
	}
	// A crash of the database may lose a journey just started: its next
	// step then asks the customer to start again.
	create := func(counted bool) error {
		return s.Flows.inAsyncTx(ctx, func(tx *store.Tx) error {
			if counted {
				if err := s.Throttle.TakeTx(ctx, tx, errNetworkBusy, count); err != nil {
					return err
				}
			}
			if err := s.Flows.CreateTx(ctx, tx, f); err != nil {
				return err
			}
			return s.emitTx(ctx, tx, f, c, typ+".started", event.OutcomeSuccess, "", "", "")
		})
	}
	err := create(true)
	if errors.Is(err, errNetworkBusy) {
		st, rerr := s.Throttle.Waits(ctx, rule, count.Key)
		if rerr != nil {
			return nil, rerr
		}
		sig := policy.Signals{NetworkWait: max(st[0].Wait, time.Second), NetworkFailures: st[0].Failures}
		f.decided = nil
		if _, err := s.decide(ctx, f, c, policy.Input{Action: policy.FlowStart, Signals: sig}, typ+".started"); err != nil {
			return nil, err
		}
		err = create(false) // let through all the same: not counted
	}
	if err != nil {
		return nil, err
	}
	return f, nil
}

// errNetworkBusy fails a journey's start whose network must wait.
var errNetworkBusy = errors.New("flow: the network has started its share of journeys")

// Load returns a flow the client may continue: it must exist, belong to
// the domain, come from the same channel and (for browsers) the same
// browser, and not have expired.
func (s *Service) Load(ctx context.Context, id, typ string, c Client) (*Flow, error) {
	f, err := s.Flows.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if f.Domain != s.Config.Domain || f.Type != typ || f.Channel != c.Channel {
		return nil, ErrNotFound
	}
	// A browser flow without a binding is one only its mail names (see
	// mailFinishSignUp): whoever opens the mail's link may enter its
	// code, and the browser that does is bound to it.
	if f.Channel == ChannelBrowser && f.Binding != "" && !constantEqual(f.Binding, c.Binding) {
		return nil, ErrBinding
	}
	if !s.now().Before(f.ExpiresAt) {
		return nil, ErrExpired
	}
	if c.Lang != "" {
		f.Data.Lang = c.Lang // the latest request's: mail from this step speaks it
	}
	return f, nil
}

// decide asks the decision point about in for the step of f and the
// client, and keeps the record on f, to be written with the step's next
// event or save of f, in its transaction: a step and the decision behind
// it are kept together or not at all. Throttle, challenge and deny
// answers become errors, recorded at once with their event.
func (s *Service) decide(ctx context.Context, f *Flow, c Client, in policy.Input, eventType string) (policy.Decision, error) {
	d, rec, err := s.decideRecord(ctx, f, c, in, eventType)
	if err == nil {
		f.decided = append(f.decided, rec)
		if d.Effect == policy.StepUp && beforeSession(in.Action) {
			// A step asked for before the customer is known is served
			// when the session is about to be issued (pending).
			for _, step := range d.Require {
				if !slices.Contains(f.Data.Require, step) {
					f.Data.Require = append(f.Data.Require, step)
				}
			}
			f.Data.RequireReason = cmp.Or(f.Data.RequireReason, d.Reason)
		}
	}
	return d, err
}

// beforeSession reports whether action is a step of a journey before its
// session: one whose step_up waits for the session.issue decision.
func beforeSession(a policy.Action) bool {
	switch a {
	case policy.FlowStart, policy.LoginSubmit, policy.RegistrationSubmit, policy.VerificationSend,
		policy.VerificationSubmit, policy.SecondFactorSubmit:
		return true
	}
	return false
}

// pending is the decision that serves the steps a decision before the
// session asked for (Data.Require) and that methods have not met yet,
// when d, the session.issue decision, allows: a step-up asking for them.
func pending(f *Flow, d policy.Decision, verified bool, methods []string) policy.Decision {
	if f == nil || d.Effect != policy.Allow || len(f.Data.Require) == 0 {
		return d
	}
	var left []string
	for _, step := range f.Data.Require {
		met := false
		switch step {
		case policy.StepSecondFactor:
			met = policy.HasSecondFactor(methods)
		case policy.StepEmailCode:
			met = policy.HasSecondFactor(methods) || slices.Contains(methods, MethodEmailCode)
		case policy.StepVerifyEmail:
			met = verified
		default: // reauthenticate: the sign-in itself; new_password: see SubmitLogin
			met = true
		}
		if !met {
			left = append(left, step)
		}
	}
	if len(left) == 0 {
		return d
	}
	return policy.Decision{Effect: policy.StepUp, Reason: f.Data.RequireReason, Require: left, Policy: d.Policy, Rule: d.Rule}
}

// decideRecord is decide for a step without a flow (f nil: signing out,
// changing sign-in methods), which writes rec itself (emit, or
// Decisions.Append) when the answer is not an error.
func (s *Service) decideRecord(ctx context.Context, f *Flow, c Client, in policy.Input, eventType string) (policy.Decision, decision.Record, error) {
	if f != nil {
		in.FlowID, in.FlowType = f.ID, f.Type
		in.Email = cmp.Or(in.Email, f.Data.Email)
	}
	in.ClientIP, in.UserAgent, in.DeviceID = c.IP, c.UserAgent, c.DeviceID
	d, rec := s.Point.Decide(ctx, in)
	// Waits and challenges come in floods that cost their sender nothing:
	// they are recorded sampled, their decision with their event
	// (event.Log.Sample).
	switch d.Effect {
	case policy.Throttle:
		s.emitSampled(ctx, f, c, rec, eventType, event.OutcomeThrottled, d.Reason, in.IdentityID)
		return d, rec, &ThrottledError{RetryAfter: d.RetryAfter}
	case policy.Challenge:
		s.emitSampled(ctx, f, c, rec, eventType, event.OutcomeChallenged, d.Reason, in.IdentityID)
		if s.Challenges == nil { // nobody to make one: the client waits
			return d, rec, &ThrottledError{RetryAfter: d.RetryAfter}
		}
		return d, rec, &ChallengeError{Difficulty: d.Difficulty, RetryAfter: d.RetryAfter}
	case policy.Deny:
		s.emit(ctx, f, c, eventType, event.OutcomeDenied, d.Reason, in.IdentityID, "", rec)
		return d, rec, denied(d)
	}
	return d, rec, nil
}

// emitSampled records a refusal that comes in floods, with its decision
// rec, if the event log samples it (event.Log.Sample).
func (s *Service) emitSampled(ctx context.Context, f *Flow, c Client, rec decision.Record, typ, outcome, reason, identityID string) {
	if e := s.event(f, c, typ, outcome, reason, identityID, ""); s.Events.Sample(ctx, e) {
		s.emit(ctx, f, c, typ, outcome, reason, identityID, "", rec)
	}
}

// emit records an event of f's step (f may be nil) with the decisions
// behind it — recs, and those f keeps — in one transaction. A failure is
// logged inside; a journey does not fail on it.
func (s *Service) emit(ctx context.Context, f *Flow, c Client, typ, outcome, reason, identityID, sessionID string, recs ...decision.Record) {
	e := s.event(f, c, typ, outcome, reason, identityID, sessionID)
	if len(recs) == 0 && (f == nil || len(f.decided) == 0) {
		_ = s.Events.Append(ctx, e)
		return
	}
	err := s.Flows.db.InTxBatched(ctx, func(tx *store.Tx) error {
		if err := s.writeDecided(ctx, tx, f, recs...); err != nil {
			return err
		}
		return s.Events.AppendTx(ctx, tx, e)
	})
	if err != nil {
		s.Logger.Log(ctx, store.LogLevel(ctx, err), "flow: event and its decisions not recorded", "event", typ, "error", err)
	}
}

// writeDecided writes recs and the decisions f keeps inside tx, and
// forgets f's unless tx rolls back.
func (s *Service) writeDecided(ctx context.Context, tx *store.Tx, f *Flow, recs ...decision.Record) error {
	if f != nil && len(f.decided) > 0 {
		kept := f.decided
		f.decided = nil
		tx.AfterRollback(func() { f.decided = append(kept, f.decided...) })
		for _, r := range kept {
			if r.FlowID == "" { // decided before the flow was stored
				r.FlowID, r.Input.FlowID = f.ID, f.ID
			}
			recs = append(recs, r)
		}
	}
	return decision.InsertAll(ctx, tx, recs)
}

// A write is part of a journey step that commits with the step's flow
// (see save and finish): the session a sign-in issues, the events the step
// records. One transaction instead of a commit per row: on PostgreSQL its
// statements travel together (see store.Tx).
type write func(ctx context.Context, tx *store.Tx) error

// record returns a write that appends an event.
func (s *Service) record(f *Flow, c Client, typ, outcome, reason, identityID, sessionID string) write {
	return func(ctx context.Context, tx *store.Tx) error {
		return s.emitTx(ctx, tx, f, c, typ, outcome, reason, identityID, sessionID)
	}
}

// save runs ws and updates f, unless someone else changed it since it was
// read (ErrChanged), in one transaction.
func (s *Service) save(ctx context.Context, f *Flow, now time.Time, ws ...write) error {
	return s.Flows.inTx(ctx, func(tx *store.Tx) error {
		if err := runWrites(ctx, tx, ws); err != nil {
			return err
		}
		if err := s.writeDecided(ctx, tx, f); err != nil {
			return err
		}
		return s.Flows.UpdateTx(ctx, tx, f, now)
	})
}

// finish runs ws and saves f in its final state whatever concurrent
// submits did to it (see Store.Finish), in one transaction.
func (s *Service) finish(ctx context.Context, f *Flow, now time.Time, ws ...write) error {
	return s.Flows.inTx(ctx, func(tx *store.Tx) error {
		if err := runWrites(ctx, tx, ws); err != nil {
			return err
		}
		if err := s.writeDecided(ctx, tx, f); err != nil {
			return err
		}
		return s.Flows.FinishTx(ctx, tx, f, now)
	})
}

func runWrites(ctx context.Context, tx *store.Tx, ws []write) error {
	for _, w := range ws {
		if w == nil {
			continue
		}
		if err := w(ctx, tx); err != nil {
			return err
		}
	}
	return nil
}

// emitTx appends the event inside tx, to be committed with the step it
// records.
func (s *Service) emitTx(ctx context.Context, tx *store.Tx, f *Flow, c Client, typ, outcome, reason, identityID, sessionID string) error {
	if err := s.writeDecided(ctx, tx, f); err != nil {
		return err
	}
	return s.Events.AppendTx(ctx, tx, s.event(f, c, typ, outcome, reason, identityID, sessionID))
}

func (s *Service) event(f *Flow, c Client, typ, outcome, reason, identityID, sessionID string) event.Event {
	e := event.Event{Domain: s.Config.Domain, Type: typ, Outcome: outcome, Reason: reason,
		IdentityID: identityID, SessionID: sessionID, IP: c.IP, UserAgent: c.UserAgent}
	if f != nil {
		e.FlowID = f.ID
		if e.IdentityID == "" {
			e.IdentityID = f.IdentityID
		}
	}
	return e
}

// codeNetworkIn adds to r the read of the client's network's code-entry
// failures, which the policy weighs before a code is mailed. Once r has
// run, the returned func gives their wait and count.
func (s *Service) codeNetworkIn(r *store.Reads, c Client) func() (time.Duration, int) {
	scope, rule := s.networkLimit(policy.VerificationSend)
	var net []throttle.State
	s.Throttle.WaitsIn(r, rule, &net, throttle.NetworkKey(scope, c.IP))
	return func() (time.Duration, int) { return net[0].Wait, net[0].Failures }
}

// newCode returns a random 6-digit code.
func (s *Service) newCode() (string, error) {
	r := s.Random
	if r == nil {
		r = rand.Reader
	}
	n, err := rand.Int(r, big.NewInt(1_000_000))
	if err != nil {
		return "", fmt.Errorf("flow: code: %w", err)
	}
	return fmt.Sprintf("%06d", n.Int64()), nil
}

// sendCode creates a new code for f and queues it, in tx, for the flow's
// email with the given template — unless the flow is dead, in which case
// the code is stored but never sent, so that checking it behaves exactly
// the same, or mail is false (the address had its share of codes). Use
// saveWithCode, which commits and wakes the courier.
func (s *Service) sendCode(ctx context.Context, tx *store.Tx, f *Flow, c Client, template string, mail bool) error {
	code, err := s.newCode()
	if err != nil {
		return err
	}
	now := s.now()
	// A flow's first code has no earlier ones to invalidate: codes and
	// the flow's count of them commit together.
	replace := f.Data.CodesSent > 0
	if err := s.Flows.saveCode(ctx, tx, f.ID, f.Type, codeHash(s.Secret, f.ID, code), replace, now, now.Add(s.Config.CodeLifetime)); err != nil {
		return err
	}
	f.Data.CodesSent++
	f.Data.LastSentAt = now
	f.Data.CodeTemplate = template
	// The previous code's mail, if it is still waiting (a mail server
	// was down), would arrive after this one's with a code that no longer
	// works: it is given up, whether or not this code is mailed.
	if replace && f.Data.CodeMailID != "" {
		if err := s.Mailer.SupersedeTx(ctx, tx, f.Data.CodeMailID); err != nil {
			return err
		}
		f.Data.CodeMailID = ""
	}
	// The code was counted against its address before (reserveCodeSend),
	// mailed or not (a dead flow's), so that the limit says nothing about
	// who has an account.
	sent, _ := codeEvents(f.Type)
	if !mail {
		return s.emitTx(ctx, tx, f, c, sent, event.OutcomeFailure, "address_limit", "", "")
	}
	data := map[string]any{
		"Code":             code,
		"ExpiresInMinutes": int(s.Config.CodeLifetime.Minutes()),
		"ProductName":      s.Config.ProductName,
	}
	if f.Data.FinishSignUp && f.Binding == "" && f.Channel == ChannelBrowser {
		// Only the mail names this flow: its link leads to the code step.
		data["Link"] = s.Config.PublicURL + "/login?flow=" + url.QueryEscape(f.ID)
	}
	if f.Data.Phone != "" {
		// "@host #code": the phone offers the code to this site's page
		// (origin-bound one-time codes).
		if u, err := url.Parse(s.Config.PublicURL); err == nil && u.Hostname() != "" {
			data["Host"] = u.Hostname()
		}
	}
	m := courier.Message{
		Domain:   s.Config.Domain,
		Lang:     f.Data.Lang,
		Template: template,
		To:       f.codeTo(),
		Data:     data,
		NotAfter: now.Add(s.Config.CodeLifetime), // a late code is no use
		App:      c.App,
	}
	if f.Data.Dead {
		// The code goes nowhere, at the cost of a code that goes: a decoy
		// mail, and the event (which says so).
		if err := s.Mailer.DecoyTx(ctx, tx, m); err != nil {
			return err
		}
		return s.emitTx(ctx, tx, f, c, sent, event.OutcomeFailure, "no_account", "", "")
	}
	f.Data.CodeMailID, err = s.Mailer.EnqueueTx(ctx, tx, m)
	if err != nil {
		return fmt.Errorf("flow: queue code mail: %w", err)
	}
	return s.emitTx(ctx, tx, f, c, sent, event.OutcomeSuccess, template, "", "")
}

// codeEvents are the event types of a flow type's codes: mailed, and
// entered.
func codeEvents(typ string) (sent, submitted string) {
	if typ == TypeRecovery {
		return event.RecoveryCodeSent, event.RecoveryCodeSubmitted
	}
	return event.VerificationSent, event.VerificationSubmitted
}

// saveWithCode sends f a new code (see sendCode), shows msg, and saves f
// with ws, whatever else the step writes, in one transaction (see save):
// no code leaves for a flow whose update lost a race (that request gets
// ErrChanged), and no flow waits for a code never queued.
func (s *Service) saveWithCode(ctx context.Context, f *Flow, c Client, template string, msg Message, ws ...write) error {
	return s.saveWithCodeMailed(ctx, f, c, template, true, msg, ws...)
}

// saveWithCodeMailed is saveWithCode that mails the code only if mail is
// true (see sendCode).
func (s *Service) saveWithCodeMailed(ctx context.Context, f *Flow, c Client, template string, mail bool, msg Message, ws ...write) error {
	f.Data.Messages = []Message{msg}
	code := func(ctx context.Context, tx *store.Tx) error { return s.sendCode(ctx, tx, f, c, template, mail) }
	return s.save(ctx, f, s.now(), append([]write{code}, ws...)...)
}

// Resend sends a fresh code for a flow waiting for one. The old code stops
// working. It is limited per flow and spaced out.
// ResendWait is how long f's customer waits before Resend sends another
// code (0: now, or never again — the flow sent its last).
func (s *Service) ResendWait(f *Flow) time.Duration {
	if f.State != StateVerify || f.Data.CodesSent >= s.limits().MaxCodesPerFlow || f.Data.LastSentAt.IsZero() {
		return 0
	}
	return max(0, s.limits().ResendAfter-s.now().Sub(f.Data.LastSentAt))
}

func (s *Service) Resend(ctx context.Context, f *Flow, c Client) (*Flow, error) {
	if f.State != StateVerify {
		return nil, ErrWrongState
	}
	if f.Data.CodesSent >= s.limits().MaxCodesPerFlow {
		return nil, invalid("", "code_resend_limit")
	}
	if since, after := s.now().Sub(f.Data.LastSentAt), s.limits().ResendAfter; since < after {
		return nil, invalid("", "code_resend_too_soon", "count", int((after-since).Seconds())+1)
	}
	g, err := s.reserveCodeSend(ctx, c, f.codeTo(), f.IdentityID)
	if err != nil {
		return nil, err
	}
	sent, _ := codeEvents(f.Type)
	if _, err := s.decideGuarded(ctx, g, f, c, policy.Input{Action: policy.VerificationSend, IdentityID: f.IdentityID}, sent); err != nil {
		return nil, err
	}
	template := cmp.Or(f.Data.CodeTemplate, "verification_code") // flows from before CodeTemplate
	if err := s.saveWithCode(ctx, f, c, template, info("code_resent")); err != nil {
		g.cancel(ctx)
		return nil, err
	}
	return f, nil
}

// fewAttemptsLeft is when a wrong code's answer says how many tries the
// code has left.
const fewAttemptsLeft = 2

// SubmitCode checks a code for a flow in StateVerify and, when it is right,
// finishes what the flow was waiting for: completing sign-up, signing in,
// or marking the address verified.
func (s *Service) SubmitCode(ctx context.Context, f *Flow, c Client, code string) (_ *Result, err error) {
	if f.State != StateVerify {
		return nil, ErrWrongState
	}
	code = CleanCode(code)
	if !validCodeShape(code) {
		return nil, invalid("code", "code_format")
	}
	// Counted on the network, and on the address: wrong codes in a row
	// for one address, across its flows, slow down (NIST SP 800-63B
	// 5.2.2), never lock; a right one forgets them.
	// A flow that can complete nothing (a sign-up with an account's
	// address) counts apart: its codes are not the owner's, and nobody
	// should spend the owner's tries through it.
	scope := "code"
	if f.Data.Dead {
		scope = "code-dead"
	}
	addrKey := throttle.IdentifierKey(scope, s.Config.Domain+"/"+f.codeTo())
	_, submitted := codeEvents(f.Type)
	g, err := s.reserve(ctx, c, policy.VerificationSubmit, addrKey, f.IdentityID)
	if err != nil {
		return nil, err
	}
	defer func() { g.end(ctx, err) }()
	if _, err := s.decideGuarded(ctx, g, f, c, policy.Input{Action: policy.VerificationSubmit, IdentityID: f.IdentityID}, submitted); err != nil {
		return nil, err
	}
	res, left, err := s.Flows.checkCode(ctx, s.Secret, f.ID, code, s.limits().MaxCodeAttempts, s.now())
	if err != nil {
		return nil, err // the counts go back with the guard (end)
	}
	if res == CodeOK && f.Data.Dead {
		res = CodeWrong // a code that cannot complete anything is simply wrong
	}
	switch res {
	case CodeOK:
	case CodeSpent:
		g.cancel(ctx)
		// Submitted twice at once (or again after it was used): the flow
		// has moved on.
		return nil, ErrWrongState
	case CodeWrong, CodeMissing:
		g.failed(ctx)
		s.emit(ctx, f, c, submitted, event.OutcomeFailure, "code_invalid", "", "")
		id := "code_invalid"
		if f.Data.Phone != "" {
			id = "sms_code_invalid"
		}
		if left > 0 && left <= fewAttemptsLeft {
			// Few tries left: the customer is told before the last.
			return nil, invalid("code", id+"_left", "count", left)
		}
		return nil, invalid("code", id)
	case CodeExpired:
		g.cancel(ctx)
		s.emit(ctx, f, c, submitted, event.OutcomeFailure, "code_expired", "", "")
		return nil, invalid("code", "code_expired")
	default: // attempts used up: this flow is over
		g.failed(ctx)
		f.Data.PasswordHash = ""
		f.Data.Messages = []Message{errorMsg("", "code_attempts_exhausted")}
		if err := s.Flows.Fail(ctx, f, s.now()); err != nil {
			return nil, err
		}
		s.emit(ctx, f, c, submitted, event.OutcomeFailure, "code_attempts_exhausted", "", "")
		return &Result{Flow: f}, nil
	}
	s.emit(ctx, f, c, submitted, event.OutcomeSuccess, "", "", "")
	// The right code gives the counts back and forgets the address's
	// wrong ones, with the step's writes.
	settled := g.succeededWrite(addrKey)
	if f.Type == TypeRegistration && f.Data.Method == MethodPasskey {
		g.succeeded(ctx, addrKey)
		return s.awaitPasskey(ctx, f, c)
	}
	if f.Data.FinishSignUp {
		g.succeeded(ctx, addrKey)
		return s.finishProven(ctx, f, c)
	}
	if f.Type == TypeRecovery {
		g.succeeded(ctx, addrKey)
		method := MethodEmailCode
		if f.Data.Phone != "" {
			method = MethodSMSCode
		}
		return s.recoveryProven(ctx, f, method)
	}
	if f.Type == TypeEmailChange || f.Type == TypePhoneChange {
		g.succeeded(ctx, addrKey)
		return s.completeChange(ctx, f, c)
	}
	now := s.now()
	// What the code completes commits with the step: the account's
	// sign-up, or the address's verification.
	var (
		methods  []string
		complete write
	)
	switch f.Type {
	case TypeRegistration:
		hash := f.Data.PasswordHash // the flow forgets it below
		complete = func(ctx context.Context, tx *store.Tx) error {
			if err := s.Identities.CompleteSignUpTx(ctx, tx, f.IdentityID, f.Data.IdentifierID, f.Data.Traits, hash, now); err != nil {
				return err
			}
			return s.emitTx(ctx, tx, f, c, event.RegistrationCompleted, event.OutcomeSuccess, "", f.IdentityID, "")
		}
		methods = []string{MethodPassword, MethodEmailCode}
		if f.Data.Method == MethodProvider {
			methods = []string{MethodProvider, MethodEmailCode}
		}
	case TypeLogin:
		methods = append(f.Data.Methods, MethodEmailCode)
		fallthrough
	default:
		complete = func(ctx context.Context, tx *store.Tx) error {
			return s.Identities.MarkVerifiedTx(ctx, tx, f.IdentityID, f.Data.IdentifierID, now)
		}
	}
	verified := s.record(f, c, event.VerificationCompleted, event.OutcomeSuccess, "", f.IdentityID, "")
	f.State = StateDone // signIn may move it on to StateSecondFactor
	f.Data.PasswordHash = ""
	f.Data.Messages = []Message{info("email_verified")}
	result := &Result{Flow: f}
	var signedIn, notice write
	if methods != nil {
		// The account as it will be once this step commits, whether the
		// device has signed in to it before, in one round trip.
		ident, factors, history, err := s.account(ctx, f.IdentityID)
		if err != nil {
			return nil, err
		}
		if f.Type == TypeRegistration {
			ident.State, ident.Traits = identity.StateActive, f.Data.Traits
		}
		for i := range ident.Identifiers {
			if ident.Identifiers[i].ID == f.Data.IdentifierID && !ident.Identifiers[i].Verified {
				ident.Identifiers[i].Verified, ident.Identifiers[i].VerifiedAt = true, now
			}
		}
		sig := s.withRisk(c, history, policy.Signals{BreachedPassword: f.Data.Breached})
		if signedIn, err = s.signInAs(ctx, f, c, ident, factors, methods, f.Data.AuthenticatedAt, sig, result); err != nil {
			return nil, err
		}
		if f.Type == TypeLogin && !sig.KnownDevice {
			// A code proves only the mailbox: its use on a device new to
			// the account is announced to the address — also when the
			// sign-in still waits for the second factor. (It ends no
			// other session: a customer signing in on a second device
			// keeps the first.)
			notice = s.signInNotice(f, c, now, true, f.State == StateSecondFactor, false)
		}
	}
	err = s.finish(ctx, f, now, complete, verified, signedIn, notice, settled)
	if errors.Is(err, identity.ErrNotPending) {
		// Another flow of the address completed the sign-up first (the
		// same inbox answered two codes).
		g.succeeded(ctx, addrKey)
		return s.alreadySignedUp(ctx, f)
	}
	if err != nil {
		return nil, err
	}
	return result, nil
}

// alreadySignedUp ends a sign-up whose identity was completed by another
// flow meanwhile (the same inbox answered two codes).
func (s *Service) alreadySignedUp(ctx context.Context, f *Flow) (*Result, error) {
	f.State = StateDone
	f.Data.PasswordHash = ""
	f.Data.Messages = []Message{info("registration_already_completed")}
	if err := s.Flows.Finish(ctx, f, s.now()); err != nil {
		return nil, err
	}
	return &Result{Flow: f}, nil
}

// signIn asks the policy whether the identity may have a session and
// returns the write that issues one, to commit with the flow: out gets the
// session once it has run. When the policy asks for the second factor the
// customer set up, the flow moves to StateSecondFactor instead and out
// gets no session.
func (s *Service) signIn(ctx context.Context, f *Flow, c Client, methods []string, authAt time.Time, out *Result) (write, error) {
	return s.signInWith(ctx, f, c, methods, authAt, policy.Signals{}, out)
}

// signInWith is signIn with signals for the policy (a passkey's), to
// which the identity's devices add theirs (withRisk): the identity, its
// second factor and its devices are read in one round trip.
func (s *Service) signInWith(ctx context.Context, f *Flow, c Client, methods []string, authAt time.Time, sig policy.Signals, out *Result) (write, error) {
	ident, factors, history, err := s.account(ctx, f.IdentityID)
	if err != nil {
		return nil, err
	}
	sig.BreachedPassword = sig.BreachedPassword || f.Data.Breached
	return s.signInAs(ctx, f, c, ident, factors, methods, authAt, s.withRisk(c, history, sig), out)
}

// account reads, in one round trip, what a session decision needs of an
// identity: the identity, its factors, and its devices (most recent
// first).
func (s *Service) account(ctx context.Context, identityID string) (ident *identity.Identity, factors Kinds, history []risk.Device, err error) {
	r := s.Flows.reads()
	s.Identities.GetIn(r, s.Config.Domain, identityID, &ident)
	if s.Factors != nil {
		s.Factors.KindsIn(r, identityID, &factors)
	}
	s.Devices.HistoryIn(r, identityID, &history)
	if err := r.Run(ctx); err != nil {
		return nil, nil, nil, fmt.Errorf("flow: read account %s: %w", identityID, err)
	}
	return ident, factors, history, nil
}

// signInAs is signInWith for an identity already read, with its factors
// and the signals with their risk (withRisk).
func (s *Service) signInAs(ctx context.Context, f *Flow, c Client, ident *identity.Identity, factors Kinds, methods []string, authAt time.Time, sig policy.Signals, out *Result) (write, error) {
	d, err := s.decideSession(ctx, f, c, ident, factors, methods, sig)
	if err != nil {
		return nil, err
	}
	return s.issueAs(ctx, f, c, d, ident, factors.TOTP(), methods, authAt, sig, out)
}

// withRisk adds to sig what an identity's devices (history, most recent
// first) say of a sign-in from c: a known device, a new country or
// network, the speed of travel since the last sign-in (risk.Assess), with
// the client's country and autonomous system when a GeoIP database
// knows them.
func (s *Service) withRisk(c Client, history []risk.Device, sig policy.Signals) policy.Signals {
	here := s.GeoIP.Lookup(c.IP)
	a := risk.Assess(history, c.DeviceID, here, s.now())
	sig.KnownDevice, sig.NewCountry, sig.NewNetwork, sig.FirstDevice, sig.TravelKmh = a.KnownDevice, a.NewCountry, a.NewNetwork, a.FirstDevice, a.TravelKmh
	sig.Country, sig.ASN = here.Country, here.ASN
	if len(history) > 0 {
		sig.SinceLastSignIn = s.now().Sub(history[0].LastSeen)
	}
	for _, d := range history {
		if c.DeviceID != "" && d.DeviceID == c.DeviceID {
			sig.DeviceAge = s.now().Sub(d.FirstSeen)
			break
		}
	}
	return sig
}

// decideSession asks whether ident, with an authenticator app if
// enrolled, may have a session after methods.
func (s *Service) decideSession(ctx context.Context, f *Flow, c Client, ident *identity.Identity, factors Kinds, methods []string, sig policy.Signals) (policy.Decision, error) {
	if !ident.CreatedAt.IsZero() {
		sig.AccountAge = s.now().Sub(ident.CreatedAt)
	}
	if !ident.MethodsChangedAt.IsZero() {
		sig.SinceMethodsChange = s.now().Sub(ident.MethodsChangedAt)
	}
	if !ident.EmailChangedAt.IsZero() {
		sig.SinceEmailChange = s.now().Sub(ident.EmailChangedAt)
	}
	sig.Protected = !ident.ProtectedAt.IsZero()
	provider := ""
	if f != nil && f.Data.Upstream != nil && (f.Data.Upstream.Linked || f.Data.Upstream.Confirmed) {
		provider = f.Data.Upstream.Provider
	}
	d, err := s.decide(ctx, f, c, policy.Input{Action: policy.SessionIssue, IdentityID: ident.ID, Email: ident.Email().Value,
		IdentityState: ident.State, EmailVerified: ident.Email().Verified, SecondFactor: factors.TOTP(), Factors: factors, Methods: methods,
		Provider: provider, Signals: sig}, event.LoginSucceeded)
	if err != nil {
		return d, err
	}
	return pending(f, d, ident.Email().Verified, methods), nil
}

// issueAs carries out d, a session.issue decision about ident (see
// signInAs).
//
// A session's device is recorded as the identity's, at the client's
// place; a sign-in from a device new to the account is announced to the
// customer (a code sign-in announces itself, see SubmitCode).
func (s *Service) issueAs(ctx context.Context, f *Flow, c Client, d policy.Decision, ident *identity.Identity, enrolled bool, methods []string, authAt time.Time, sig policy.Signals, out *Result) (write, error) {
	if d.Effect == policy.StepUp && stateFor(d.Require) == StatePassword && f.Type == TypeLogin {
		// A breached password: a new one before the session
		// (SubmitNewPassword).
		f.State = StatePassword
		f.Data.Methods, f.Data.AuthenticatedAt = methods, authAt
		f.Data.Messages = []Message{info("password_breached")}
		return s.record(f, c, event.LoginSucceeded, event.OutcomePending, d.Reason, ident.ID, ""), nil
	}
	if d.Effect == policy.StepUp {
		// The step the policy requires, served from its state (stepStates);
		// the sign-ins that come here serve the second factor. (A password
		// sign-in serves email verification before, in SubmitLogin.)
		if stateFor(d.Require) != StateSecondFactor || !enrolled {
			s.emit(ctx, f, c, event.LoginSucceeded, event.OutcomeDenied, d.Reason, ident.ID, "")
			return nil, denied(d)
		}
		f.State = StateSecondFactor
		f.Data.Methods, f.Data.AuthenticatedAt = methods, authAt
		f.Data.Messages = []Message{info("second_factor_required")}
		return s.record(f, c, event.LoginSucceeded, event.OutcomePending, d.Reason, ident.ID, ""), nil
	}
	linked, confirmed := s.linkWrite(f, c, ident)
	if !confirmed {
		// The account is proved: the customer now confirms the link to
		// the provider's account (ConfirmLink).
		f.State = StateConfirmLink
		f.Data.Methods, f.Data.AuthenticatedAt = methods, authAt
		f.Data.Messages = []Message{info("provider_link_confirm", "provider", s.ProviderName(f.Data.Upstream.Provider), "email", ident.Email().Value)}
		return s.record(f, c, event.LoginSucceeded, event.OutcomePending, "link_confirm", ident.ID, ""), nil
	}
	aal, lift, err := s.assurance(ctx, f, ident, methods)
	if err != nil {
		return nil, err
	}
	// A policy's session outcome sets this session's lifetimes.
	p := session.Params{Domain: s.Config.Domain, IdentityID: ident.ID, Methods: methods, AAL: aal,
		DeviceID: c.DeviceID, IP: c.IP, UserAgent: c.UserAgent, AuthenticatedAt: authAt,
		Lifetime: d.SessionLifetime, Idle: d.SessionIdle}
	now := s.now()
	device := risk.Device{IdentityID: ident.ID, DeviceID: c.DeviceID, LastSeen: now, UserAgent: risk.Family(c.UserAgent), Place: s.GeoIP.Lookup(c.IP)}
	var notice write
	// A sign-in on a device new to the account is announced to its
	// owner, and so is any the policy asks to (notify).
	// (A code sign-in on a new device is announced by SubmitCode.)
	byCodeOnNewDevice := slices.Contains(methods, MethodEmailCode) && !sig.KnownDevice
	if (f.Type == TypeLogin && !sig.KnownDevice && !byCodeOnNewDevice) || (d.Notify && !byCodeOnNewDevice) {
		f.Data.Email = cmp.Or(f.Data.Email, ident.Email().Value)
		notice = s.signInNotice(f, c, now, false, false, sig.KnownDevice)
	}
	// The owner's own channel (the mailbox's code, a second factor, a
	// passkey) ends the protection a "this wasn't me" link put on.
	unprotect := !ident.ProtectedAt.IsZero() && (policy.HasSecondFactor(methods) || slices.Contains(methods, MethodEmailCode))
	return func(ctx context.Context, tx *store.Tx) error {
		token, sess, err := s.Sessions.IssueTx(ctx, tx, p)
		if err != nil {
			return err
		}
		if err := s.Devices.SeenTx(ctx, tx, device); err != nil {
			return err
		}
		if unprotect {
			if err := s.Identities.UnprotectTx(ctx, tx, ident.ID); err != nil {
				return err
			}
		}
		if lift {
			if err := s.Identities.UnrestrictTx(ctx, tx, ident.ID); err != nil {
				return err
			}
		}
		if notice != nil {
			if err := notice(ctx, tx); err != nil {
				return err
			}
		}
		if linked != nil {
			if err := linked(ctx, tx); err != nil {
				return err
			}
		}
		out.Token, out.Session, out.Identity = token, sess, ident
		return s.emitTx(ctx, tx, f, c, event.LoginSucceeded, event.OutcomeSuccess, f.Type, ident.ID, sess.ID)
	}, nil
}

// assurance is the level of a session of ident after methods: aal2 with a
// second factor — but in the cool-off after a recovery only with one set
// up before it (the owner's: the factor that recovered the account, or
// one added since, may be an intruder's), which also ends the cool-off
// (lift: to write with the session).
func (s *Service) assurance(ctx context.Context, f *Flow, ident *identity.Identity, methods []string) (aal string, lift bool, err error) {
	if !policy.HasSecondFactor(methods) {
		return session.AAL1, false, nil
	}
	if !ident.Restricted(s.now()) {
		return session.AAL2, false, nil
	}
	original, err := s.setUpBeforeRecovery(ctx, ident, methods, f.Data.FactorSetUpAt)
	if err != nil || !original {
		return session.AAL1, false, err
	}
	return session.AAL2, true, nil
}

// Logout revokes the session holding token.
func (s *Service) Logout(ctx context.Context, token string, c Client) error {
	_, rec, err := s.decideRecord(ctx, nil, c, policy.Input{Action: policy.Logout}, event.Logout)
	if err != nil {
		return err
	}
	sess, err := s.Sessions.Revoke(ctx, token)
	if err != nil {
		return err
	}
	if sess == nil { // nothing to sign out of: the decision is kept alone
		if err := s.Decisions.Append(ctx, rec); err != nil {
			s.Logger.WarnContext(ctx, "flow: sign-out decision not recorded", "error", err)
		}
		return nil
	}
	rec.IdentityID, rec.Input.IdentityID, rec.Input.SessionID = sess.IdentityID, sess.IdentityID, sess.ID
	s.emit(ctx, nil, c, event.Logout, event.OutcomeSuccess, "", sess.IdentityID, sess.ID, rec)
	return nil
}

// CleanCode takes out of a typed or pasted code what is not part of it —
// spaces (non-breaking and thin ones too), dashes, dots — and reads
// full-width digits (a Japanese keyboard's) as digits: "123 456",
// "123-456" and "１２３４５６" are all 123456. Letters stay, for recovery
// codes.
func CleanCode(code string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case unicode.IsSpace(r), r == '-', r == '.', r == '\u2010', r == '\u2011', r == '\u2012', r == '\u2013', r == '\u2212':
			return -1
		case r >= '\uff10' && r <= '\uff19':
			return '0' + (r - '\uff10')
		}
		return r
	}, code)
}

func validCodeShape(code string) bool {
	if len(code) != 6 {
		return false
	}
	for i := range len(code) {
		if code[i] < '0' || code[i] > '9' {
			return false
		}
	}
	return true
}

func constantEqual(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	var v byte
	for i := range len(a) {
		v |= a[i] ^ b[i]
	}
	return v == 0
}

// isConflict reports a store conflict.
func isConflict(err error) bool { return errors.Is(err, store.ErrConflict) }
