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
type Sender interface {
	Send(ctx context.Context, m Mail) error
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
