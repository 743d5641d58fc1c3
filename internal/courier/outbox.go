package courier

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/foyer-id/foyer/internal/i18n"
	"github.com/foyer-id/foyer/internal/store"
)

// Status is where an outbox entry is in its delivery.
type Status string

// The statuses of an outbox entry. An entry moves queued → sending → sent,
// or back to queued for a retry, or to failed when the worker gives up.
const (
	// StatusQueued waits for its next attempt (NextAttemptAt).
	StatusQueued Status = "queued"
	// StatusSending is claimed by a worker until NextAttemptAt (the
	// lease); after that another worker may claim it again.
	StatusSending Status = "sending"
	// StatusSent was accepted by the mail server.
	StatusSent Status = "sent"
	// StatusFailed will not be tried again.
	StatusFailed Status = "failed"
)

// Entry is one stored mail in the outbox.
type Entry struct {
	ID       string
	Domain   string
	Template string
	To       string
	Subject  string
	// Text and HTML are the rendered bodies; both are empty once the mail
	// is sent or failed, unless the Outbox keeps bodies (dev mode).
	Text string
	HTML string
	// Lang is the language the mail is worded in, a BCP 47 tag ("en").
	Lang string
	// App is the client id of the app whose journey the mail is part of
	// (Message.App), "" for none; Claim leaves it out, as delivery needs
	// none of it (the bodies carry the app's look already).
	App string

	Status Status
	// Attempts counts delivery attempts started so far. For an entry
	// returned by Claim it is the number of the attempt being made, which
	// MarkSent, MarkRetry and MarkFailed take back as proof of the claim.
	Attempts      int
	NextAttemptAt time.Time
	// LastError is the error of the last failed attempt.
	LastError string
	CreatedAt time.Time
	SentAt    time.Time // zero until sent
	// NotAfter is when the mail stops being worth sending (zero: never).
	NotAfter time.Time
}

// Outbox stores rendered mail until a Worker delivers it. Enqueueing a mail
// is a database write, so a mail is never lost to a flaky or restarting
// mail server: the worker retries it. Several Foyer nodes may share one
// database; each entry is claimed by one worker at a time.
type Outbox struct {
	db  *store.DB
	now func() time.Time
	// wake carries "new mail" from Enqueue to a Worker running on this
	// Outbox, so the mail leaves at once instead of at the next poll.
	wake chan struct{}

	mu   sync.Mutex
	hand *handoff // the running Worker's, if any (see Worker.Run)

	// Node names this process among those sharing the database. Mail
	// this Outbox claims, or hands over to its Worker, is marked with it,
	// so that a process started again under the same name takes that
	// mail back at once (see Reclaim) instead of waiting for the lease.
	// Give each process its own name that survives a restart (the server
	// derives it from the data folder, or takes it from the
	// configuration); NewOutbox sets a random one, which no later process
	// will have. Set it before use.
	Node string

	// Catalog words the mail, in the language each Message asks for (see
	// Message.Lang); nil means the built-in catalogue. The server gives
	// it the one with the operator's texts (i18n.Load). Set it before
	// use.
	Catalog *i18n.Catalog
	// Brand is the domain's look in mail (nil: Foyer's own), and
	// AppBrands the looks of apps that have their own, by client id: the
	// mail of an app's journey (Message.App) takes the app's. Set them
	// before use.
	Brand     *Brand
	AppBrands map[string]*Brand

	// KeepBodies keeps the bodies of sent and failed mail so the dev
	// mailbox can show them. Set it in dev mode only: outside dev mode
	// the bodies hold one-time codes, and they are erased as soon as the
	// mail is sent (or given up on) so that no code stays at rest.
	KeepBodies bool
}

// NewOutbox returns an Outbox on db that reads the time from now. Bodies
// are erased after delivery; set KeepBodies in dev mode.
func NewOutbox(db *store.DB, now func() time.Time) *Outbox {
	return &Outbox{db: db, now: now, wake: make(chan struct{}, 1), Node: "process-" + uuid.NewString()}
}

// notify wakes a Worker running on this Outbox so it looks for due mail
// now. It never blocks.
func (o *Outbox) notify() {
	select {
	case o.wake <- struct{}{}:
	default:
	}
}

// A handoff passes mail from the transactions that enqueue it straight to
// the Worker running on the same Outbox. Such mail is stored already
// claimed for that worker (sending, attempt 1, leased), and goes to it
// once the transaction commits, so that it leaves without a claim of its
// own: one statement less and one round trip less per mail, on the path
// of every verification code. Should the process die before the mail
// leaves, its lease runs out and any worker claims it, as when a worker
// dies mid-delivery.
//
// There are only so many slots: each mail holds one from its enqueue
// until the worker is done with it (or its transaction rolls back). With
// none free, as when the mail server is slow, mail is queued the usual
// way, so that any worker may take it.
type handoff struct {
	lease time.Duration
	slots chan struct{} // one token per mail handed over and not yet done
	mail  chan Entry    // committed mail, for the worker
}

func newHandoff(n int, lease time.Duration) *handoff {
	return &handoff{lease: lease, slots: make(chan struct{}, n), mail: make(chan Entry, n)}
}

func (h *handoff) reserve() bool {
	select {
	case h.slots <- struct{}{}:
		return true
	default:
		return false
	}
}

func (h *handoff) release() { <-h.slots }

// openHandoff starts handing mail over to the caller, a Worker with
// lease, with room for n mails at once. It returns nil if another Worker
// takes the handoff already.
func (o *Outbox) openHandoff(n int, lease time.Duration) *handoff {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.hand != nil {
		return nil
	}
	o.hand = newHandoff(n, lease)
	return o.hand
}

// closeHandoff stops handing mail over to h: mail enqueued from now on is
// queued.
func (o *Outbox) closeHandoff(h *handoff) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.hand == h {
		o.hand = nil
	}
}

// reserve returns the open handoff with a slot taken, or nil.
func (o *Outbox) reserve() *handoff {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.hand != nil && o.hand.reserve() {
		return o.hand
	}
	return nil
}

// Enqueue renders m, stores it as due now, wakes the worker and returns
// the new entry's id. Rendering errors (unknown template, missing Data,
// bad recipient) are returned before anything is stored.
func (o *Outbox) Enqueue(ctx context.Context, m Message) (string, error) {
	var id string
	err := o.db.InTx(ctx, func(tx *store.Tx) error {
		var err error
		id, err = o.EnqueueTx(ctx, tx, m)
		return err
	})
	return id, err
}

// EnqueueTx is Enqueue inside tx, so the mail is stored only if the rest of
// tx commits (for example with the identity it is about). Once tx commits,
// a Worker running on this Outbox delivers it at once.
func (o *Outbox) EnqueueTx(ctx context.Context, tx *store.Tx, m Message) (string, error) {
	h := o.reserve()
	e, err := o.insert(ctx, tx, m, h)
	if err != nil {
		if h != nil {
			h.release()
		}
		return "", err
	}
	if h == nil {
		tx.AfterCommit(o.notify)
		return e.ID, nil
	}
	tx.AfterCommit(func() { h.mail <- e }) // never blocks: e holds a slot
	tx.AfterRollback(h.release)
	return e.ID, nil
}

// DecoyTx does inside tx what EnqueueTx does for m — renders it and
// writes an outbox entry — but the entry is given up at once, without its
// bodies: it never leaves. A journey step that must not tell whether an
// address has an account (a code "sent" to one that has none) costs the
// same with it as the step that mails.
func (o *Outbox) DecoyTx(ctx context.Context, tx *store.Tx, m Message) error {
	r, err := RenderWith(o.Catalog, o.branded(m))
	if err != nil {
		return err
	}
	now := o.now()
	// Blank bodies of the mail's size: the same bytes to write, none of
	// its words kept.
	_, err = tx.Exec(ctx, `INSERT INTO outbox
		(id, domain, template, recipient, subject, body_text, body_html, lang, app, status, attempts, next_attempt_at, last_error, created_at, not_after, claimed_by)
		VALUES ($1, $2, $3, $4, '', $5, $6, $9, $10, 'failed', 0, $7, $8, $7, NULL, '')`,
		uuid.NewString(), m.Domain, m.Template, m.To, strings.Repeat(" ", len(r.Text)), strings.Repeat(" ", len(r.HTML)), store.Micros(now), decoyMark, r.Lang, m.App)
	if err != nil {
		return fmt.Errorf("courier: decoy %s: %w", m.Template, err)
	}
	return nil
}

// branded returns m with its brand in its data (.Brand) — its app's, or
// else the domain's — and the app's product name in place of the
// domain's, leaving the caller's map as it was.
func (o *Outbox) branded(m Message) Message {
	brand := o.Brand
	if b := o.AppBrands[m.App]; b != nil {
		brand = b
	}
	if brand == nil {
		return m
	}
	data := make(map[string]any, len(m.Data)+1)
	for k, v := range m.Data {
		data[k] = v
	}
	data["Brand"] = brand
	if brand.ProductName != "" {
		data["ProductName"] = brand.ProductName
	}
	m.Data = data
	return m
}

// decoyMark is the last error of a decoy entry (DecoyTx), which List
// leaves out: it was never mail.
const decoyMark = "decoy: not sent"

// insert stores m, rendered: queued and due now, or, with h, claimed for
// h's worker.
func (o *Outbox) insert(ctx context.Context, tx *store.Tx, m Message, h *handoff) (Entry, error) {
	if m.Domain == "" {
		return Entry{}, fmt.Errorf("courier: enqueue %s: no domain", m.Template)
	}
	r, err := RenderWith(o.Catalog, o.branded(m))
	if err != nil {
		return Entry{}, err
	}
	now := o.now()
	e := Entry{ID: uuid.NewString(), Domain: m.Domain, Template: m.Template, To: m.To,
		Subject: r.Subject, Text: r.Text, HTML: r.HTML, Lang: r.Lang, App: m.App,
		Status: StatusQueued, NextAttemptAt: now, CreatedAt: now}
	claimedBy := ""
	if h != nil {
		e.Status, e.Attempts, e.NextAttemptAt = StatusSending, 1, now.Add(h.lease)
		claimedBy = o.Node
	}
	notAfter := store.NullMicros(m.NotAfter)
	e.NotAfter = store.FromNullMicros(notAfter)
	_, err = tx.Exec(ctx, `INSERT INTO outbox
		(id, domain, template, recipient, subject, body_text, body_html, lang, app, status, attempts, next_attempt_at, last_error, created_at, not_after, claimed_by)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $14, $15, $8, $9, $10, '', $11, $12, $13)`,
		e.ID, e.Domain, e.Template, e.To, e.Subject, e.Text, e.HTML, string(e.Status), e.Attempts,
		store.Micros(e.NextAttemptAt), store.Micros(e.CreatedAt), notAfter, claimedBy, e.Lang, e.App)
	if err != nil {
		return Entry{}, fmt.Errorf("courier: enqueue %s: %w", m.Template, err)
	}
	// As read back from the database, to the microsecond.
	e.NextAttemptAt = store.FromMicros(store.Micros(e.NextAttemptAt))
	e.CreatedAt = store.FromMicros(store.Micros(e.CreatedAt))
	return e, nil
}

// release gives the worker's claim on entry id (attempt number attempt,
// not started) back: the entry is queued again and due now, as if never
// claimed.
func (o *Outbox) release(ctx context.Context, id string, attempt int) error {
	err := o.finish(ctx, id, `UPDATE outbox SET status = 'queued', attempts = attempts - 1, next_attempt_at = $1, sending_until = NULL
		WHERE id = $2 AND status = 'sending' AND attempts = $3`,
		store.Micros(o.now()), id, attempt)
	if err != nil {
		return fmt.Errorf("courier: release %s: %w", id, err)
	}
	return nil
}

// Claim marks up to n due entries as sending, leased to the caller (this
// Outbox's Node) until now+lease, and returns them with Attempts counting
// this attempt. Due
// entries are queued ones whose next attempt has come, and sending ones
// whose lease has run out (their worker died). Entries claimed by one
// caller are not returned to another until the lease runs out, whatever
// the number of nodes sharing the database.
func (o *Outbox) Claim(ctx context.Context, n int, lease time.Duration) ([]Entry, error) {
	if n <= 0 {
		return nil, nil
	}
	now := o.now()
	var query string
	switch o.db.Dialect {
	case store.Postgres:
		// SKIP LOCKED: concurrent claimers on other nodes take other rows
		// instead of waiting for, or taking, these.
		query = `UPDATE outbox
			SET status = 'sending', attempts = attempts + 1, next_attempt_at = $1, claimed_by = $4
			WHERE id IN (
				SELECT id FROM outbox
				WHERE status IN ('queued', 'sending') AND next_attempt_at <= $2 AND (not_after IS NULL OR not_after > $2)
				ORDER BY next_attempt_at
				LIMIT $3
				FOR UPDATE SKIP LOCKED)
			RETURNING id, domain, template, recipient, subject, body_text, body_html, lang, attempts, created_at, not_after`
	default:
		// SQLite has one writer: the statement holds it, so its select
		// and its update see and change the same rows.
		query = `UPDATE outbox
			SET status = 'sending', attempts = attempts + 1, next_attempt_at = $1, claimed_by = $4
			WHERE id IN (
				SELECT id FROM outbox
				WHERE status IN ('queued', 'sending') AND next_attempt_at <= $2 AND (not_after IS NULL OR not_after > $2)
				ORDER BY next_attempt_at
				LIMIT $3)
			RETURNING id, domain, template, recipient, subject, body_text, body_html, lang, attempts, created_at, not_after`
	}
	// One statement, so no transaction: it claims its rows atomically. It
	// commits asynchronously (store.DB.Async): should a crash of the
	// database server lose the claim, the mail is simply due again.
	rows, err := o.db.Async().WriteQuery(ctx, query, store.Micros(now.Add(lease)), store.Micros(now), n, o.Node)
	if err != nil {
		return nil, fmt.Errorf("courier: claim: %w", err)
	}
	defer rows.Close()
	var claimed []Entry
	for rows.Next() {
		e := Entry{Status: StatusSending, NextAttemptAt: store.FromMicros(store.Micros(now.Add(lease)))}
		var created int64
		var notAfter sql.NullInt64
		if err := rows.Scan(&e.ID, &e.Domain, &e.Template, &e.To, &e.Subject, &e.Text, &e.HTML, &e.Lang, &e.Attempts, &created, &notAfter); err != nil {
			return nil, fmt.Errorf("courier: claim: %w", err)
		}
		e.CreatedAt, e.NotAfter = store.FromMicros(created), store.FromNullMicros(notAfter)
		claimed = append(claimed, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("courier: claim: %w", err)
	}
	return claimed, nil
}

// MarkSent records that attempt number attempt of entry id was accepted by
// the mail server, and erases the bodies unless KeepBodies is set. It
// returns store.ErrConflict when the claim was lost: the lease ran out and
// another worker claimed the entry again, or the mail was given up
// meanwhile (replaced by a newer one, or expired; the error then also
// matches errGivenUp).
func (o *Outbox) MarkSent(ctx context.Context, id string, attempt int) error {
	query := `UPDATE outbox SET status = 'sent', sent_at = $1, last_error = '', body_text = '', body_html = '', sending_until = NULL
		WHERE id = $2 AND status = 'sending' AND attempts = $3`
	if o.KeepBodies {
		query = `UPDATE outbox SET status = 'sent', sent_at = $1, last_error = '', sending_until = NULL
			WHERE id = $2 AND status = 'sending' AND attempts = $3`
	}
	if err := o.finish(ctx, id, query, store.Micros(o.now()), id, attempt); err != nil {
		return fmt.Errorf("courier: mark %s sent: %w", id, err)
	}
	return nil
}

// MarkRetry records that attempt number attempt of entry id failed with
// cause and queues the entry again for at. It returns store.ErrConflict
// when the claim was lost.
func (o *Outbox) MarkRetry(ctx context.Context, id string, attempt int, cause error, at time.Time) error {
	err := o.finish(ctx, id, `UPDATE outbox SET status = 'queued', next_attempt_at = $1, last_error = $4, sending_until = NULL
		WHERE id = $2 AND status = 'sending' AND attempts = $3`,
		store.Micros(at), id, attempt, errorText(cause))
	if err != nil {
		return fmt.Errorf("courier: mark %s for retry: %w", id, err)
	}
	return nil
}

// MarkFailed records that attempt number attempt of entry id failed with
// cause and that no other attempt will be made. The bodies are erased
// unless KeepBodies is set. It returns store.ErrConflict when the claim
// was lost.
func (o *Outbox) MarkFailed(ctx context.Context, id string, attempt int, cause error) error {
	query := `UPDATE outbox SET status = 'failed', next_attempt_at = $1, last_error = $4, body_text = '', body_html = '', sending_until = NULL
		WHERE id = $2 AND status = 'sending' AND attempts = $3`
	if o.KeepBodies {
		query = `UPDATE outbox SET status = 'failed', next_attempt_at = $1, last_error = $4, sending_until = NULL
			WHERE id = $2 AND status = 'sending' AND attempts = $3`
	}
	if err := o.finish(ctx, id, query, store.Micros(o.now()), id, attempt, errorText(cause)); err != nil {
		return fmt.Errorf("courier: mark %s failed: %w", id, err)
	}
	return nil
}

// SupersedeTx gives up, in tx, the mail id unless it is sent already or
// given up: a newer mail replaces it, such as a new code that makes the
// old one useless. That holds for a mail a worker holds too (claimed, or
// handed over to it): the worker checks that its mail is still wanted
// just before it sends it (see Worker), and sends nothing to the address
// while an attempt of the old mail may still be on the wire, so the old
// mail never arrives after the newer one. Nothing to give up is not an
// error.
func (o *Outbox) SupersedeTx(ctx context.Context, tx *store.Tx, id string) error {
	query := `UPDATE outbox SET status = 'failed', last_error = $2, body_text = '', body_html = ''
		WHERE id = $1 AND status IN ('queued', 'sending')`
	if o.KeepBodies {
		query = `UPDATE outbox SET status = 'failed', last_error = $2 WHERE id = $1 AND status IN ('queued', 'sending')`
	}
	if _, err := tx.Exec(ctx, query, id, errSuperseded.Error()); err != nil {
		return fmt.Errorf("courier: supersede %s: %w", id, err)
	}
	return nil
}

// errSuperseded is the last error of mail given up for a newer one.
var errSuperseded = errors.New("superseded by a newer mail")

// errGivenUp is matched, with store.ErrConflict, by the result of an
// attempt whose mail was given up while the attempt ran: superseded or
// expired. Its worker did nothing wrong.
var errGivenUp = errors.New("the mail was given up meanwhile")

// finish runs an update guarded by the claim (id, status sending, attempt)
// and turns "no row changed" into ErrConflict, or ErrNotFound when the
// entry does not exist at all. It commits asynchronously (store.DB.Async):
// should a crash of the database server lose the
// update, the lease runs out and the mail goes again, as it would had the
// worker died; delivery is at least once either way.
func (o *Outbox) finish(ctx context.Context, id, query string, args ...any) error {
	res, err := o.db.Async().Exec(ctx, query, args...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n == 1 {
		return nil
	}
	var status, lastError string
	err = o.db.QueryRow(ctx, `SELECT status, last_error FROM outbox WHERE id = $1`, id).Scan(&status, &lastError)
	if err != nil {
		return store.Classify(err)
	}
	if Status(status) == StatusFailed && (lastError == errSuperseded.Error() || lastError == errExpired.Error()) {
		return fmt.Errorf("%w: %w (%s)", store.ErrConflict, errGivenUp, lastError)
	}
	return fmt.Errorf("%w: the claim was lost (lease ran out)", store.ErrConflict)
}

// An attempt's start, as begin tells it.
type start int

const (
	// started: the attempt is under way until its deadline; send.
	started start = iota
	// unwanted: the mail was given up (superseded, expired) or the claim
	// lost; send nothing.
	unwanted
	// held: an attempt of another mail to the same address may be on
	// the wire; the mail is queued again for after it.
	held
)

// recheckHeld is how soon mail held back behind another mail's attempt
// (see begin) is looked at again, at the latest.
const recheckHeld = time.Second

// errHeld is the last error of mail held back behind an earlier mail's
// attempt.
var errHeld = errors.New("waiting for an earlier mail to the same address")

// begin checks, just before attempt e.Attempts of e is made, that the
// mail is still wanted and still claimed by the caller, and that no
// attempt of another mail to the same address is under way; if so it
// records the attempt as under way until deadline (no later attempt to
// the address starts before then, unless this one ends first). Mail that
// must wait for another's attempt is queued again, not counting this
// attempt, to be looked at again within recheckHeld or when the other
// attempt's deadline passes, whichever comes first.
func (o *Outbox) begin(ctx context.Context, e Entry, deadline time.Time) (start, error) {
	now := o.now()
	res, err := o.db.Async().Exec(ctx, `UPDATE outbox SET sending_until = $1
		WHERE id = $2 AND status = 'sending' AND attempts = $3
		AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.recipient = $4 AND o.sending_until > $5 AND o.id <> $2)`,
		store.Micros(deadline), e.ID, e.Attempts, e.To, store.Micros(now))
	if err != nil {
		return unwanted, fmt.Errorf("courier: begin %s: %w", e.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return unwanted, fmt.Errorf("courier: begin %s: %w", e.ID, err)
	} else if n == 1 {
		return started, nil
	}
	// Not wanted any more, or held back: which?
	var (
		status   string
		attempts int
		busy     sql.NullInt64
	)
	err = o.db.QueryRow(ctx, `SELECT status, attempts,
		(SELECT max(o.sending_until) FROM outbox o WHERE o.recipient = outbox.recipient AND o.sending_until > $2 AND o.id <> outbox.id)
		FROM outbox WHERE id = $1`, e.ID, store.Micros(now)).Scan(&status, &attempts, &busy)
	if errors.Is(err, sql.ErrNoRows) {
		return unwanted, nil
	}
	if err != nil {
		return unwanted, fmt.Errorf("courier: begin %s: %w", e.ID, err)
	}
	if Status(status) != StatusSending || attempts != e.Attempts {
		return unwanted, nil
	}
	at := now.Add(recheckHeld)
	if busy.Valid && store.FromMicros(busy.Int64).Before(at) {
		at = store.FromMicros(busy.Int64)
	}
	err = o.finish(ctx, e.ID, `UPDATE outbox SET status = 'queued', attempts = attempts - 1, next_attempt_at = $1, last_error = $4
		WHERE id = $2 AND status = 'sending' AND attempts = $3`,
		store.Micros(at), e.ID, e.Attempts, errHeld.Error())
	switch {
	case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrNotFound):
		return unwanted, nil
	case err != nil:
		return unwanted, fmt.Errorf("courier: hold %s: %w", e.ID, err)
	}
	return held, nil
}

// endAttempt records that attempt number attempt of entry id is no longer
// under way, when its result could not be recorded (the mail was given up
// meanwhile): mail to the same address need not wait for its deadline.
func (o *Outbox) endAttempt(ctx context.Context, id string, attempt int) error {
	if _, err := o.db.Async().Exec(ctx, `UPDATE outbox SET sending_until = NULL
		WHERE id = $1 AND attempts = $2 AND sending_until IS NOT NULL`, id, attempt); err != nil {
		return fmt.Errorf("courier: end attempt %s: %w", id, err)
	}
	return nil
}

// Reclaim takes back the mail a former process under this Outbox's Node
// claimed or was handed, and could not finish: a worker calls it as it
// starts, so that mail held by the process it replaces leaves at once
// instead of when the lease runs out. It ends the lease of that mail: now
// for mail not yet tried, and when the attempt's deadline has passed for
// mail whose attempt was under way, so that it is not sent twice should
// that process still be running. The next claim counts a new attempt, so
// a former holder that still runs sends none of it (begin sees its claim
// lost): two running processes under one Node move mail between them
// without sending it twice, but each Node should be one process. It
// returns how many mails it took back.
func (o *Outbox) Reclaim(ctx context.Context) (int64, error) {
	now := store.Micros(o.now())
	res, err := o.db.Exec(ctx, `UPDATE outbox
		SET next_attempt_at = CASE WHEN sending_until IS NULL OR sending_until < $1 THEN $1 ELSE sending_until END
		WHERE status = 'sending' AND claimed_by = $2`, now, o.Node)
	if err != nil {
		return 0, fmt.Errorf("courier: reclaim: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("courier: reclaim: %w", err)
	}
	return n, nil
}

// resume makes the mail waiting for a retry after a failed attempt due
// now: delivery works again, so the backoff that spaced out its attempts
// has no reason left. It returns how many mails it made due.
func (o *Outbox) resume(ctx context.Context) (int64, error) {
	now := store.Micros(o.now())
	res, err := o.db.Async().Exec(ctx, `UPDATE outbox SET next_attempt_at = $1
		WHERE status = 'queued' AND next_attempt_at > $1 AND last_error <> ''`, now)
	if err != nil {
		return 0, fmt.Errorf("courier: resume: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("courier: resume: %w", err)
	}
	return n, nil
}

// Fate is what became of a mail, without its content.
type Fate struct {
	Status Status
	// SentAt is when the mail server accepted the mail; zero until then.
	SentAt time.Time
	// GivenUp is true when the mail will never be delivered: refused for
	// good, out of attempts, or expired. A mail replaced by a newer one
	// (SupersedeTx) is failed but not given up in this sense.
	GivenUp bool
}

// Fate returns what became of mail id, or store.ErrNotFound (never
// stored, or pruned).
func (o *Outbox) Fate(ctx context.Context, id string) (Fate, error) {
	var (
		status, lastError string
		sent              sql.NullInt64
	)
	err := o.db.QueryRow(ctx, `SELECT status, last_error, sent_at FROM outbox WHERE id = $1`, id).Scan(&status, &lastError, &sent)
	if err != nil {
		return Fate{}, fmt.Errorf("courier: fate of %s: %w", id, store.Classify(err))
	}
	f := Fate{Status: Status(status), SentAt: store.FromNullMicros(sent)}
	f.GivenUp = f.Status == StatusFailed && lastError != errSuperseded.Error()
	return f, nil
}

// maxErrorText bounds the stored last_error.
const maxErrorText = 1000

func errorText(err error) string {
	if err == nil {
		return ""
	}
	s := strings.ReplaceAll(err.Error(), "\x00", "")
	if len(s) > maxErrorText {
		s = s[:maxErrorText]
	}
	// PostgreSQL refuses invalid UTF-8, as a cut rune would be.
	return strings.ToValidUTF8(s, "")
}

const entryColumns = `id, domain, template, recipient, subject, body_text, body_html, lang, app, status,
	attempts, next_attempt_at, last_error, created_at, sent_at, not_after`

func scanEntry(row interface{ Scan(...any) error }) (Entry, error) {
	var (
		e              Entry
		status         string
		next, created  int64
		sent, notAfter sql.NullInt64
	)
	err := row.Scan(&e.ID, &e.Domain, &e.Template, &e.To, &e.Subject, &e.Text, &e.HTML, &e.Lang, &e.App, &status,
		&e.Attempts, &next, &e.LastError, &created, &sent, &notAfter)
	if err != nil {
		return Entry{}, err
	}
	e.Status = Status(status)
	e.NextAttemptAt = store.FromMicros(next)
	e.CreatedAt = store.FromMicros(created)
	e.SentAt = store.FromNullMicros(sent)
	e.NotAfter = store.FromNullMicros(notAfter)
	return e, nil
}

// Get returns the entry with id, or store.ErrNotFound.
func (o *Outbox) Get(ctx context.Context, id string) (Entry, error) {
	e, err := scanEntry(o.db.QueryRow(ctx, `SELECT `+entryColumns+` FROM outbox WHERE id = $1`, id))
	if err != nil {
		return Entry{}, fmt.Errorf("courier: get %s: %w", id, store.Classify(err))
	}
	return e, nil
}

// List returns up to limit entries, newest first; decoys (DecoyTx) are
// not mail and are left out.
func (o *Outbox) List(ctx context.Context, limit int) ([]Entry, error) {
	rows, err := o.db.Query(ctx, `SELECT `+entryColumns+` FROM outbox WHERE last_error <> $2
		ORDER BY created_at DESC, id DESC LIMIT $1`, limit, decoyMark)
	if err != nil {
		return nil, fmt.Errorf("courier: list: %w", err)
	}
	defer rows.Close()
	var out []Entry
	for rows.Next() {
		e, err := scanEntry(rows)
		if err != nil {
			return nil, fmt.Errorf("courier: list: %w", err)
		}
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("courier: list: %w", err)
	}
	return out, nil
}

// Depth is the mail waiting in the outbox, whichever node holds it.
type Depth struct {
	// Due is queued mail whose attempt is due; Retry, queued mail whose
	// next attempt comes later (after a failed one, or behind an earlier
	// mail to its address); Sending, mail a worker holds.
	Due, Retry, Sending int64
	// Oldest is when the oldest mail still waiting was stored; zero when
	// none waits.
	Oldest time.Time
}

// Depth counts the mail waiting to leave, for the metrics. It reads the
// partial index of waiting mail only (outbox_due): what has left or
// been given up is not counted, so it costs the same however much
// mail the outbox keeps.
func (o *Outbox) Depth(ctx context.Context) (Depth, error) {
	rows, err := o.db.Query(ctx, `SELECT CASE WHEN status = 'sending' THEN 'sending' WHEN next_attempt_at <= $1 THEN 'due' ELSE 'retry' END,
		COUNT(*), MIN(created_at)
		FROM outbox WHERE status IN ('queued', 'sending') GROUP BY 1`, store.Micros(o.now()))
	if err != nil {
		return Depth{}, fmt.Errorf("courier: depth: %w", err)
	}
	defer rows.Close()
	var d Depth
	for rows.Next() {
		var (
			state  string
			n      int64
			oldest int64
		)
		if err := rows.Scan(&state, &n, &oldest); err != nil {
			return Depth{}, fmt.Errorf("courier: depth: %w", err)
		}
		switch state {
		case "due":
			d.Due = n
		case "retry":
			d.Retry = n
		case "sending":
			d.Sending = n
		}
		if at := store.FromMicros(oldest); d.Oldest.IsZero() || at.Before(d.Oldest) {
			d.Oldest = at
		}
	}
	if err := rows.Err(); err != nil {
		return Depth{}, fmt.Errorf("courier: depth: %w", err)
	}
	return d, nil
}

// Expire gives up mail whose NotAfter has passed while it was queued or
// being sent (Claim no longer hands it out): it is marked failed and its
// bodies, which hold a code that no longer works, are erased unless
// KeepBodies. It returns how many it gave up.
func (o *Outbox) Expire(ctx context.Context) (int64, error) {
	query := `UPDATE outbox SET status = 'failed', last_error = $2, body_text = '', body_html = ''
		WHERE status IN ('queued', 'sending') AND not_after <= $1`
	if o.KeepBodies {
		query = `UPDATE outbox SET status = 'failed', last_error = $2
		WHERE status IN ('queued', 'sending') AND not_after <= $1`
	}
	res, err := o.db.Exec(ctx, query, store.Micros(o.now()), errExpired.Error())
	if err != nil {
		return 0, fmt.Errorf("courier: expire: %w", err)
	}
	return res.RowsAffected()
}

// Prune deletes sent and failed entries created more than olderThan ago
// and returns how many it deleted. Queued and sending entries are kept
// whatever their age.
func (o *Outbox) Prune(ctx context.Context, olderThan time.Duration) (int64, error) {
	n, err := o.db.DeleteInBatches(ctx, `DELETE FROM outbox WHERE id IN
		(SELECT id FROM outbox WHERE status IN ('sent', 'failed') AND created_at < $2 LIMIT $1)`,
		store.Micros(o.now().Add(-olderThan)))
	if err != nil {
		return n, fmt.Errorf("courier: prune: %w", err)
	}
	return n, nil
}
