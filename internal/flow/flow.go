package flow

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/foyer-id/foyer/internal/challenge"
	"github.com/foyer-id/foyer/internal/decision"
	"github.com/foyer-id/foyer/internal/policy"
)

// Flow types.
const (
	TypeRegistration = "registration"
	TypeLogin        = "login"
	TypeVerification = "verification"
	TypeRecovery     = "recovery"
	// TypeEmailChange: a signed-in customer proves a new address before it
	// replaces the old one.
	TypeEmailChange = "email_change"
	// TypePhoneChange: a signed-in customer proves a phone number (a code
	// by text message) before it becomes the account's.
	TypePhoneChange = "phone_change"
)

// Channels.
const (
	ChannelBrowser = "browser"
	ChannelAPI     = "api"
)

// States. Every flow starts in StateForm.
const (
	StateForm   = "form"   // waiting for the first submit
	StateVerify = "verify" // a code was sent; waiting for it
	// StateSecondFactor: the first factor passed; waiting for the
	// authenticator app code or a recovery code.
	StateSecondFactor = "second_factor"
	// StatePasskey: a passwordless sign-up proved its email; waiting for
	// the customer's new passkey (or a password instead).
	StatePasskey = "passkey"
	// StatePassword: a recovery proved its channel, or a sign-in passed
	// with a breached password; waiting for the new password.
	StatePassword = "password"
	StateDone     = "done"   // finished; the flow cannot be submitted again
	StateFailed   = "failed" // attempts used up; start again
)

// transitions is each flow type's table of states: the states a flow may
// move to from each (staying is always allowed). Saving a flow checks its
// move against it (ErrTransition), so the journeys' code cannot take a
// flow where its type does not go.
var transitions = map[string]map[string][]string{
	TypeRegistration: {
		// A sign-up completes at once, or waits for its code; a
		// passwordless one then waits for its passkey.
		// The code step may go back to the form to fix the address.
		StateForm:    {StateVerify, StateDone, StateSecondFactor},
		StateVerify:  {StatePasskey, StateDone, StateSecondFactor, StateFailed, StateForm},
		StatePasskey: {StateDone},
	},
	TypeLogin: {
		// A sign-in may first verify the address, then ask for the
		// second factor, then for a new password (a breached one).
		// A sign-in that proved the account an upstream provider's
		// account would link to asks last to confirm the link.
		StateForm:         {StateVerify, StateSecondFactor, StatePassword, StateConfirmLink, StateDone},
		StateVerify:       {StateSecondFactor, StatePassword, StateConfirmLink, StateDone, StateFailed},
		StateSecondFactor: {StatePassword, StateConfirmLink, StateDone},
		StatePassword:     {StateConfirmLink, StateDone},
		StateConfirmLink:  {StateDone},
	},
	TypeUpstream: {
		// A round trip to a provider is used once.
		StateForm: {StateDone},
	},
	TypeVerification: {
		// The code of an unfinished sign-up leads to its password.
		StateForm:     {StateVerify},
		StateVerify:   {StateDone, StateFailed, StatePassword},
		StatePassword: {StateDone},
	},
	TypeEmailChange: {
		StateForm:   {StateVerify},
		StateVerify: {StateDone, StateFailed},
	},
	TypePhoneChange: {
		StateForm:   {StateVerify},
		StateVerify: {StateDone, StateFailed},
	},
	TypeRecovery: {
		// An address waits for its code; a recovery code proves the
		// account at once. Either way the new password comes last.
		StateForm:     {StateVerify, StatePassword},
		StateVerify:   {StatePassword, StateFailed},
		StatePassword: {StateDone},
	},
}

// stepStates maps each step a decision may require (policy.Step…) to the
// state that serves it: a flow waits there until the step is done. A
// sign-in again is served by a new sign-in, from its form.
var stepStates = map[string]string{
	policy.StepVerifyEmail:    StateVerify,
	policy.StepSecondFactor:   StateSecondFactor,
	policy.StepReauthenticate: StateForm,
	policy.StepEmailCode:      StateVerify,
	policy.StepNewPassword:    StatePassword,
}

// stateFor is the state that serves the first of the steps a decision
// requires, "" for none or one no journey serves.
func stateFor(require []string) string {
	if len(require) == 0 {
		return ""
	}
	return stepStates[require[0]]
}

// CheckSteps returns an error naming each step the policy may require
// that no journey serves (policy.Stepper): a configuration error, found
// when the server starts rather than met as a refusal.
func CheckSteps(p policy.Decider) error {
	st, ok := p.(policy.Stepper)
	if !ok {
		return nil
	}
	var unknown []string
	for _, step := range st.Steps() {
		if _, ok := stepStates[step]; !ok {
			unknown = append(unknown, step)
		}
	}
	if len(unknown) > 0 {
		return fmt.Errorf("flow: the policy may require steps no journey serves: %s", strings.Join(unknown, ", "))
	}
	return nil
}

// canMove reports whether a flow of typ may go from one state to another.
func canMove(typ, from, to string) bool {
	return from == to || slices.Contains(transitions[typ][from], to)
}

// ErrTransition is a save that would move a flow where its type does not
// go: a bug in a journey, refused rather than stored.
var ErrTransition = errors.New("flow: state change not in the flow type's table")

// Flow is one journey in progress.
type Flow struct {
	ID         string
	Domain     string
	Type       string
	Channel    string
	State      string
	Binding    string // hash of the browser binding; empty for API flows
	IdentityID string
	ReturnTo   string
	Data       Data
	Version    int
	CreatedAt  time.Time
	UpdatedAt  time.Time
	ExpiresAt  time.Time

	// decided are the step's decisions about the flow not written yet:
	// they go with the step's next write of an event or of the flow, in
	// its transaction (see Service.writeDecided).
	decided []decision.Record
	// saved is State as stored, which a save moves from (canMove).
	saved string
}

// Data is the journey's private working state. It never leaves the
// server as is: the View is what clients see.
type Data struct {
	// WaitUntil is when the form may be sent again after a throttled
	// submit (zero: now); the page counts down to it.
	WaitUntil time.Time `json:"wait_until,omitzero"`
	// Lang is the language the customer reads (Client.Lang of the latest
	// step): the journey's mail is worded in it.
	Lang string `json:"lang,omitempty"`
	// Email is the address the customer entered (normalised).
	Email string `json:"email,omitempty"`
	// Phone is the number the flow's codes go to by text message, instead
	// of Email (E.164).
	Phone string `json:"phone,omitempty"`
	// Traits entered at sign-up (validated), applied when sign-up
	// completes.
	Traits json.RawMessage `json:"traits,omitempty"`
	// PasswordHash chosen at sign-up, applied when sign-up completes, so
	// that only the person who reads the code sets the password.
	PasswordHash string `json:"password_hash,omitempty"`
	// Method is how a sign-up will sign in: MethodPassword (the default)
	// or MethodPasskey (passwordless).
	Method string `json:"method,omitempty"`
	// IdentifierID is the identifier the code proves.
	IdentifierID string `json:"identifier_id,omitempty"`
	// Dead is true when the code sent cannot complete the flow (the
	// address belongs to someone else, or to nobody); the customer sees
	// exactly what they would otherwise.
	Dead bool `json:"dead,omitempty"`
	// FinishSignUp is true when the flow's code finishes an unfinished
	// sign-up of the address (see finish.go): the right code leads to
	// StatePassword, whose password completes it.
	FinishSignUp bool `json:"finish_sign_up,omitempty"`
	// CodesSent counts codes sent in this flow (resends are limited).
	CodesSent int `json:"codes_sent,omitempty"`
	// LastSentAt is when the last code was sent.
	LastSentAt time.Time `json:"last_sent_at,omitzero"`
	// CodeTemplate is the mail template of the flow's codes (a sign-in
	// code or an address check), so that a resend sends the same kind.
	CodeTemplate string `json:"code_template,omitempty"`
	// CodeMailID is the outbox entry of the latest code's mail, given up
	// when a newer code replaces it before it left.
	CodeMailID string `json:"code_mail_id,omitempty"`
	// NoticeMailID is the outbox entry of the note a dead sign-up mails
	// to the address's owner instead of its code (see NoteDelivery).
	NoticeMailID string `json:"notice_mail_id,omitempty"`
	// Breached is true when a sign-in's password is on the breached and
	// common list: the session waits for a new one (policy.StepNewPassword).
	Breached bool `json:"breached,omitempty"`
	// Require are the steps a decision before the session asked for (a
	// policy rule's step_up at login.submit, say), served when the
	// session is about to be issued; RequireReason is why.
	Require       []string `json:"require,omitempty"`
	RequireReason string   `json:"require_reason,omitempty"`
	// FactorSetUpAt is when the passkey a sign-in used was added: in the
	// cool-off after a recovery only a factor from before it gives aal2.
	FactorSetUpAt time.Time `json:"factor_set_up_at,omitzero"`
	// SessionID is the session an email change was asked from: it must
	// still be live when the new address is proved.
	SessionID string `json:"session_id,omitempty"`
	// RecoveredWith is the channel a recovery proved (MethodEmailCode,
	// FactorRecovery), waiting for the new password.
	RecoveredWith string `json:"recovered_with,omitempty"`
	// Methods used so far (e.g. password), for the session.
	Methods []string `json:"methods,omitempty"`
	// AuthenticatedAt is when the first factor passed in a login flow that
	// still has steps to go.
	AuthenticatedAt time.Time `json:"authenticated_at,omitzero"`
	// Messages are the outcome of the last submit, for the hosted page.
	Messages []Message `json:"messages,omitempty"`
	// Values are non-secret values from the last submit, to refill the form.
	Values map[string]string `json:"values,omitempty"`
	// Upstream is the round trip to an upstream provider (TypeUpstream),
	// or the provider's account this journey signs in with or links
	// (see upstream.go).
	Upstream *Upstream `json:"upstream,omitempty"`
	// Challenge is the proof of work the last submit was refused for,
	// which the flow's page carries for the browser to solve.
	Challenge *challenge.Challenge `json:"challenge,omitempty"`
}

// codeTo is where f's codes go: its phone number, else its address.
func (f *Flow) codeTo() string { return cmp.Or(f.Data.Phone, f.Data.Email) }

// Message is a piece of feedback for the customer, tied to a form field
// ("" for the whole form). ID is stable: it is the message's id in the
// catalogues (internal/i18n), and one ID has one wording. Text is the
// English wording; Args are the values of its placeholders ({email}),
// with which a page or an app words it in another language.
type Message struct {
	Field string            `json:"field,omitempty"`
	ID    string            `json:"id"`
	Type  string            `json:"type"` // error | info
	Text  string            `json:"text"`
	Args  map[string]string `json:"args,omitempty"`
}

// Errors the journeys return. Transports map them to pages and problems.
var (
	ErrNotFound   = errors.New("flow: not found")
	ErrExpired    = errors.New("flow: expired")
	ErrWrongState = errors.New("flow: not in a state that accepts this")
	// ErrChanged: another request changed the flow since this one read
	// it (a double submit), so this one's update was not saved.
	ErrChanged   = errors.New("flow: changed by another request")
	ErrBinding   = errors.New("flow: started in another browser")
	ErrNoSession = errors.New("flow: sign in first")
)

// InvalidError carries field-level feedback for a submit that changed
// nothing.
type InvalidError struct {
	Messages []Message
}

func (e *InvalidError) Error() string {
	if len(e.Messages) > 0 {
		return "flow: invalid input: " + e.Messages[0].ID
	}
	return "flow: invalid input"
}

// ThrottledError says the policy asked the client to wait.
type ThrottledError struct {
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string { return "flow: throttled" }

// DeniedError says the policy refused the step. Message, when set, is
// what the policy wants the customer to read (a policy file's rule may
// say why, in words); otherwise pages and the API say it in general terms.
type DeniedError struct {
	Reason  string
	Message string
}

func (e *DeniedError) Error() string { return "flow: denied: " + e.Reason }

// denied is the error of a refusing decision d.
func denied(d policy.Decision) *DeniedError {
	return &DeniedError{Reason: d.Reason, Message: d.Message}
}

// View is the public face of a flow, the same for hosted pages and the
// JSON API.
type View struct {
	ID        string    `json:"id"`
	Type      string    `json:"type"`
	State     string    `json:"state"`
	Email     string    `json:"email,omitempty"`
	Phone     string    `json:"phone,omitempty"`
	ExpiresAt time.Time `json:"expires_at"`
	ReturnTo  string    `json:"return_to,omitempty"`
	Messages  []Message `json:"messages"`
}

// View returns what the client may see of f.
func (f *Flow) View() View {
	msgs := f.Data.Messages
	if msgs == nil {
		msgs = []Message{}
	}
	return View{ID: f.ID, Type: f.Type, State: f.State, Email: f.Data.Email, Phone: f.Data.Phone, ExpiresAt: f.ExpiresAt, ReturnTo: f.ReturnTo, Messages: msgs}
}
