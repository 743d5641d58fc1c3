package event

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/foyer-id/foyer/internal/store"
)

// Event types. The prefix names the journey, the suffix the step.
const (
	RegistrationStarted   = "registration.started"
	RegistrationSubmitted = "registration.submitted"
	RegistrationCompleted = "registration.completed"
	VerificationSent      = "verification.code_sent"
	VerificationSubmitted = "verification.submitted"
	VerificationCompleted = "verification.completed"
	LoginStarted          = "login.started"
	LoginSubmitted        = "login.submitted"
	LoginSucceeded        = "login.succeeded"
	LoginCodeRequested    = "login.code_requested"
	SecondFactorSubmitted = "second_factor.submitted"
	SessionSteppedUp      = "session.stepped_up"
	MethodsChanged        = "methods.changed"
	// PasskeyCloned flags a passkey whose signature verified but whose
	// signature counter did not go up (a copied authenticator?); the
	// policy then decides the sign-in.
	PasskeyCloned = "passkey.cloned"
	// FailureSpike: sign-in failures across the site rose far above
	// their recent rate (credential stuffing from many sources); the
	// reason gives the rates.
	FailureSpike = "risk.failure_spike"
	// Recovery: started; an address (or a recovery code) submitted; a
	// code mailed; a code checked (success, or failure by reason); and
	// completed with a new password (the reason names the channel).
	RecoveryStarted       = "recovery.started"
	RecoveryRequested     = "recovery.requested"
	RecoveryCodeSent      = "recovery.code_sent"
	RecoveryCodeSubmitted = "recovery.code_submitted"
	RecoveryCompleted     = "recovery.completed"
	// SettingsChanged: a signed-in customer changed the password, the
	// traits or the email address (the reason says which).
	SettingsChanged = "settings.changed"
	// ChangeReverted: the owner used a "this wasn't me" link (the reason
	// names what it undid: recovery, password, email).
	ChangeReverted = "settings.reverted"
	// AccountReleased: an operator ended an account's protected state
	// and cool-off (admin API).
	AccountReleased = "settings.released"
	// SessionsRevoked: a customer signed out another device, or every
	// other one.
	SessionsRevoked = "session.revoked"
	Logout          = "session.logout"
	OAuthAuthorized = "oauth.authorized"
)

// RegistrationEmailChanged: a sign-up went back from its code step to its
// form, to fix the address.
const RegistrationEmailChanged = "registration.email_changed"

// Upstream providers: a round trip to one started (provider.started),
// its callback (success, pending when the customer must prove the
// account first, or failure by reason), a provider's account linked to an
// identity or unlinked from it (the reason names the provider).
const (
	ProviderStarted  = "provider.started"
	ProviderCallback = "provider.callback"
	ProviderLinked   = "provider.linked"
	ProviderUnlinked = "provider.unlinked"
)

// Outcomes of a step.
const (
	OutcomeSuccess   = "success"
	OutcomeFailure   = "failure"
	OutcomeDenied    = "denied"
	OutcomeThrottled = "throttled"
	// OutcomeChallenged: the client was asked to solve a proof-of-work
	// challenge first (its network made too many attempts).
	OutcomeChallenged = "challenged"
	OutcomePending    = "pending"
)

// Event is one step of a journey.
type Event struct {
	Seq        int64     `json:"seq"`
	ID         string    `json:"id"`
	Domain     string    `json:"domain"`
	Type       string    `json:"type"`
	Outcome    string    `json:"outcome"`
	Reason     string    `json:"reason,omitempty"`
	FlowID     string    `json:"flow_id,omitempty"`
	IdentityID string    `json:"identity_id,omitempty"`
	SessionID  string    `json:"session_id,omitempty"`
	ClientID   string    `json:"client_id,omitempty"`
	IP         string    `json:"ip,omitempty"`
	UserAgent  string    `json:"user_agent,omitempty"`
	OccurredAt time.Time `json:"occurred_at"`
}

// Log appends events to the database and mirrors them to the structured
// log with stable field names.
type Log struct {
	db      *store.DB
	logger  *slog.Logger
	now     func() time.Time
	sampled sampler

	// Observe, when set, hears of every event that happened: once it is
	// recorded (an event of a transaction once the transaction commits),
	// and at once when sampling leaves it out (see AppendSampled), so
	// that it counts floods the table keeps only a sample of. The
	// metrics count journey steps with it. It runs on the caller's
	// goroutine: keep it quick. Set it before use.
	Observe func(Event)
}

// NewLog returns a Log.
func NewLog(db *store.DB, logger *slog.Logger, now func() time.Time) *Log {
	return &Log{db: db, logger: logger, now: now}
}

// Append records e, filling in its id and time. A failure to record is
// logged and returned; journeys do not fail because of it.
func (l *Log) Append(ctx context.Context, e Event) error {
	e = l.complete(e)
	// Group-committed with other writes: events are many and independent.
	err := l.db.ExecBatched(ctx, insertEvent, e.args()...)
	return l.logged(ctx, e, err)
}

// AppendTx appends e inside tx, so that it is committed (or not) with the
// rest of tx's work: one commit instead of two for a write and its event.
// It reaches the log only once tx commits: an event that a failed
// transaction took back, such as the losing one of two concurrent submits
// of a flow, must not be seen there either.
func (l *Log) AppendTx(ctx context.Context, tx *store.Tx, e Event) error {
	e = l.complete(e)
	if _, err := tx.Exec(ctx, insertEvent, e.args()...); err != nil {
		return l.logged(ctx, e, err)
	}
	tx.AfterCommit(func() { l.logged(ctx, e, nil) })
	return nil
}

const insertEvent = `INSERT INTO events (id, domain, type, outcome, reason, flow_id, identity_id, session_id, client_id, ip, user_agent, occurred_at)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`

// complete fills in the id and time, and trims what may be too long.
func (l *Log) complete(e Event) Event {
	if e.ID == "" {
		e.ID = uuid.Must(uuid.NewV7()).String()
	}
	if e.OccurredAt.IsZero() {
		e.OccurredAt = l.now()
	}
	// A header is the sender's bytes: PostgreSQL takes valid UTF-8 only.
	e.UserAgent = strings.ToValidUTF8(e.UserAgent, "\uFFFD")
	if len(e.UserAgent) > 512 {
		e.UserAgent = strings.ToValidUTF8(e.UserAgent[:512], "")
	}
	return e
}

func (e Event) args() []any {
	return []any{e.ID, e.Domain, e.Type, e.Outcome, e.Reason, e.FlowID, e.IdentityID, e.SessionID, e.ClientID, e.IP, e.UserAgent, store.Micros(e.OccurredAt)}
}

// logged mirrors e to the log. The events table is the record; the log
// mirrors refusals and failures (WARN) and, at debug level, everything —
// machine tokens alone can be thousands a second.
func (l *Log) logged(ctx context.Context, e Event, err error) error {
	if err == nil && l.Observe != nil {
		l.Observe(e)
	}
	level := slog.LevelDebug
	if e.Outcome != OutcomeSuccess && e.Outcome != OutcomePending {
		level = slog.LevelWarn
	}
	if l.logger.Enabled(ctx, level) {
		l.logger.LogAttrs(ctx, level, "journey event",
			slog.String("event", e.Type), slog.String("outcome", e.Outcome), slog.String("reason", e.Reason),
			slog.String("domain", e.Domain), slog.String("flow_id", e.FlowID), slog.String("identity_id", e.IdentityID),
			slog.String("session_id", e.SessionID), slog.String("client_id", e.ClientID), slog.String("client_ip", e.IP))
	}
	if err != nil {
		l.logger.LogAttrs(ctx, store.LogLevel(ctx, err), "event: append failed", slog.String("event", e.Type), slog.Any("error", err))
		return fmt.Errorf("event: append %s: %w", e.Type, err)
	}
	return nil
}

// Query selects events by time range [From, To) and optionally type and
// identity, oldest first.
type Query struct {
	Domain     string
	From, To   time.Time
	Type       string
	IdentityID string
	FlowID     string
	Limit      int
}

// eventColumns are what scanEvents reads.
const eventColumns = `seq, id, domain, type, outcome, reason, flow_id, identity_id, session_id, client_id, ip, user_agent, occurred_at`

// securityTypes are the types of a customer's security activity; the
// list is the partial index's (migration 0018), which the query must
// repeat word for word to use it.
const securityTypes = `('login.succeeded', 'recovery.completed', 'settings.changed', 'settings.reverted', 'methods.changed', 'session.revoked')`

// Activity returns an identity's recent security activity, newest first
// (at most limit): its sign-ins, recoveries, and the changes to its
// password, email, traits, factors and devices signed in.
func (l *Log) Activity(ctx context.Context, domain, identityID string, limit int) ([]Event, error) {
	rows, err := l.db.Query(ctx, `SELECT `+eventColumns+` FROM events
		WHERE identity_id = $1 AND type IN `+securityTypes+` AND domain = $2
		ORDER BY occurred_at DESC, seq DESC LIMIT $3`, identityID, domain, limit)
	if err != nil {
		return nil, fmt.Errorf("event: activity of %s: %w", identityID, err)
	}
	out, err := scanEvents(rows)
	if err != nil {
		return nil, fmt.Errorf("event: activity of %s: %w", identityID, err)
	}
	return out, nil
}

// List returns the events matching q, oldest first (at most q.Limit,
// default 1000).
func (l *Log) List(ctx context.Context, q Query) ([]Event, error) {
	if q.Limit <= 0 || q.Limit > 10000 {
		q.Limit = 1000
	}
	to := q.To
	if to.IsZero() {
		to = time.Unix(1<<40, 0)
	}
	rows, err := l.db.Query(ctx, `SELECT `+eventColumns+` FROM events
		WHERE occurred_at >= $1 AND occurred_at < $2
		  AND ($3 = '' OR domain = $3) AND ($4 = '' OR type = $4)
		  AND ($5 = '' OR identity_id = $5) AND ($6 = '' OR flow_id = $6)
		ORDER BY occurred_at, seq LIMIT $7`,
		store.Micros(q.From), store.Micros(to), q.Domain, q.Type, q.IdentityID, q.FlowID, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("event: list: %w", err)
	}
	out, err := scanEvents(rows)
	if err != nil {
		return nil, fmt.Errorf("event: list: %w", err)
	}
	return out, nil
}

// scanEvents reads the rows of a query of eventColumns, and closes them.
func scanEvents(rows *sql.Rows) ([]Event, error) {
	defer rows.Close()
	var out []Event
	for rows.Next() {
		var (
			e  Event
			at int64
		)
		if err := rows.Scan(&e.Seq, &e.ID, &e.Domain, &e.Type, &e.Outcome, &e.Reason, &e.FlowID, &e.IdentityID, &e.SessionID, &e.ClientID, &e.IP, &e.UserAgent, &at); err != nil {
			return nil, err
		}
		e.OccurredAt = store.FromMicros(at)
		out = append(out, e)
	}
	return out, rows.Err()
}

// Prune deletes the events that occurred before cutoff, in batches.
func (l *Log) Prune(ctx context.Context, cutoff time.Time) (int64, error) {
	n, err := l.db.DeleteInBatches(ctx, `DELETE FROM events WHERE seq IN
		(SELECT seq FROM events WHERE occurred_at < $2 ORDER BY occurred_at LIMIT $1)`, store.Micros(cutoff))
	if err != nil {
		return n, fmt.Errorf("event: prune: %w", err)
	}
	return n, nil
}
