package courier

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// Mail is one rendered mail handed to a Sender.
type Mail struct {
	// From is the From header; empty means the Sender's default.
	From    string
	To      string
	Subject string
	Text    string
	HTML    string // optional; sent as the HTML alternative to Text
	// Lang is the language of the mail, a BCP 47 tag, for its
	// Content-Language header; "" sends none.
	Lang string
	// MessageID is the Message-ID without angle brackets. It stays the
	// same across retries so that receivers can drop duplicates. Without
	// an "@", SMTPSender completes it with the domain of the From address.
	MessageID string
	// Date is when the mail was written (queued), for its Date header
	// (RFC 5322, section 3.6.1): a mail delivered late does not pass for
	// the newest. Zero means now.
	Date time.Time
}

// Sender delivers one mail. An error means the mail was not delivered: the
// Worker tries again later, unless the error is permanent (see Permanent).
// A temporary error counts as a sign that the mail server cannot be
// reached or does not serve, unless it is Deferred: the Worker then makes
// the mail held back by such errors due at once when a delivery succeeds
// again.
type Sender interface {
	Send(ctx context.Context, m Mail) error
}

// A Prober is a Sender that can tell whether its server serves without
// sending mail (SMTPSender connects and greets it). After an outage the
// Worker probes it, so that mail held back by the outage leaves as soon
// as the server is back, even when no new mail comes to show it.
type Prober interface {
	Probe(ctx context.Context) error
}

// permanentError marks a failure that retrying cannot fix.
type permanentError struct{ err error }

func (e permanentError) Error() string { return e.err.Error() }
func (e permanentError) Unwrap() error { return e.err }

// Permanent wraps err to tell the Worker not to retry: the mail server
// rejected the recipient for good, for example. A nil err stays nil.
func Permanent(err error) error {
	if err == nil {
		return nil
	}
	return permanentError{err}
}

// IsPermanent reports whether err, or an error it wraps, was made by
// Permanent.
func IsPermanent(err error) bool {
	var p permanentError
	return errors.As(err, &p)
}

// deferredError marks a temporary failure of one mail only.
type deferredError struct{ err error }

func (e deferredError) Error() string { return e.err.Error() }
func (e deferredError) Unwrap() error { return e.err }

// Deferred wraps err to tell the Worker that the mail server works but put
// this mail off for now (a 4xx reply to its recipient, as greylisting
// gives): the mail is retried after its backoff as usual, but the failure
// says nothing of the server, so the next success does not make mail
// waiting for a retry due at once. A nil err stays nil.
func Deferred(err error) error {
	if err == nil {
		return nil
	}
	return deferredError{err}
}

// IsDeferred reports whether err, or an error it wraps, was made by
// Deferred.
func IsDeferred(err error) bool {
	var d deferredError
	return errors.As(err, &d)
}

// DevMailboxSender is the Sender for dev mode when no SMTP server is
// configured: it delivers nothing, so the mail is marked sent at once and
// stays readable in the dev mailbox (see DevMailbox). Pair it with an
// Outbox whose KeepBodies is set, or the bodies are erased on "delivery".
type DevMailboxSender struct {
	// Logger, when set, gets one line per mail with the path of the mail
	// in the dev mailbox. The address and bodies are not logged.
	Logger *slog.Logger
}

// Send accepts m without sending it anywhere.
func (s DevMailboxSender) Send(ctx context.Context, m Mail) error {
	if s.Logger != nil {
		s.Logger.LogAttrs(ctx, slog.LevelInfo, "courier: mail kept in the dev mailbox",
			slog.String("event", "mail_dev_mailbox"),
			slog.String("message_id", m.MessageID),
			slog.String("path", MailboxPath+"/"+m.MessageID))
	}
	return nil
}
