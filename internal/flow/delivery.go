package flow

import (
	"context"
	"errors"
	"log/slog"

	"github.com/foyer-id/foyer/internal/courier"
	"github.com/foyer-id/foyer/internal/store"
)

// MsgCodeUndeliverable is the message of a flow whose code's mail was given
// up: the customer is told, and offered a new code or another way in — a
// sign-up's; a sign-in's is MsgLoginCodeUndeliverable, and other journeys'
// (verification, recovery, changes) MsgCodeUndeliverableLater.
const (
	MsgCodeUndeliverable      = "code_undeliverable"
	MsgLoginCodeUndeliverable = "login_code_undeliverable"
	MsgCodeUndeliverableLater = "code_undeliverable_later"
)

// sentMessages are the messages that say a code was mailed; a flow's page
// shows one of them until the mail is given up.
var sentMessages = map[string]bool{
	"code_sent":          true,
	"login_code_sent":    true,
	"code_sent_if_known": true,
	"code_resent":        true,
}

// NoteDelivery tells the customer when the mail of the code a flow waits
// for will never arrive: refused for good by the mail server (a 5xx
// answer), or not delivered while the code lived (a long outage of the
// mail server). The message saying the code was sent then gives way to
// MsgCodeUndeliverable, which offers a new code or another way in. Pages
// and the API call it before they show a flow; it changes f in memory
// only, and leaves it as it is when it cannot tell (the outbox does not
// answer, or the mail was pruned).
//
// The answer depends on the address and the mail server, not on whether
// the address has an account: a sign-up with the address of an account
// mails the owner a note instead of the code, and the note's fate counts
// alike, against the same deadline. A journey that mails only known
// addresses (sign-in by code, verification) mails nothing to an unknown
// one, whose page keeps saying what it says (see docs/security.md).
func (s *Service) NoteDelivery(ctx context.Context, f *Flow) {
	if f.State != StateVerify {
		return
	}
	id := f.Data.CodeMailID
	if id == "" {
		id = f.Data.NoticeMailID
	}
	if id == "" {
		return
	}
	fate, err := s.Mailer.Fate(ctx, id)
	if err != nil {
		if !errors.Is(err, store.ErrNotFound) && s.Logger != nil {
			s.Logger.WarnContext(ctx, "flow: read what became of a code mail", slog.String("flow_id", f.ID), slog.String("error", err.Error()))
		}
		return
	}
	// The code's mail is given up once the code expires; the note to an
	// account's owner, which does not expire, is judged by the same
	// deadline, so that both read alike.
	deadline := f.Data.LastSentAt.Add(s.Config.CodeLifetime)
	undelivered := fate.GivenUp
	switch fate.Status {
	case courier.StatusSent:
		undelivered = !fate.SentAt.Before(deadline)
	case courier.StatusQueued, courier.StatusSending:
		undelivered = !s.now().Before(deadline)
	}
	if !undelivered {
		return
	}
	msgs := []Message{}
	for _, m := range f.Data.Messages {
		if !sentMessages[m.ID] {
			msgs = append(msgs, m)
		}
	}
	f.Data.Messages = append(msgs, undeliverable(f))
}
