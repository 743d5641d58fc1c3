package courier

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
)

// Text messages (SMS) go through the same outbox as mail: a template of
// the catalog marked sms renders for a phone number in E.164 form
// ("+447946000123"), its text body is the message, and a Router hands it
// to an SMSSender instead of the mail server. Retries, expiry and the dev
// mailbox work for both alike.

// SMS is one rendered text message handed to an SMSSender.
type SMS struct {
	// ID stays the same across retries (the outbox entry's message id):
	// receivers can drop duplicates.
	ID   string
	To   string // E.164, "+447946000123"
	Text string
}

// SMSSender delivers one text message. Errors are as a Sender's: a
// Permanent one is not retried.
type SMSSender interface {
	SendSMS(ctx context.Context, m SMS) error
}

var e164 = regexp.MustCompile(`^\+[1-9][0-9]{7,14}$`)

// IsPhone reports whether to is a phone number in E.164 form: the
// recipient of a text message.
func IsPhone(to string) bool { return e164.MatchString(to) }

// Router is a Sender that sends mail through Mail and text messages
// (recipients that are phone numbers) through SMS.
type Router struct {
	Mail Sender
	SMS  SMSSender
}

// Send implements Sender. A text message that fails for now is Deferred:
// the SMS gateway's trouble says nothing of the mail server's.
func (r Router) Send(ctx context.Context, m Mail) error {
	if !IsPhone(m.To) {
		return r.Mail.Send(ctx, m)
	}
	if r.SMS == nil {
		return Permanent(errors.New("courier: no SMS sender for a text message"))
	}
	err := r.SMS.SendSMS(ctx, SMS{ID: m.MessageID, To: m.To, Text: m.Text})
	if err != nil && !IsPermanent(err) {
		return Deferred(err)
	}
	return err
}

// Probe implements Prober for the mail server, when Mail is one.
func (r Router) Probe(ctx context.Context) error {
	if p, ok := r.Mail.(Prober); ok {
		return p.Probe(ctx)
	}
	return nil
}

// WebhookSMS sends each text message as an HTTP POST to URL with the JSON
// body {"id", "to", "text"}, for a gateway of the operator's (or a small
// adapter to a provider's API). With a Secret, the request carries
// X-Foyer-Signature: sha256=<hex HMAC-SHA256 of the body>, which the
// receiver checks. A 2xx answer is delivered; 429 and 5xx (or no answer)
// are retried; any other 4xx is permanent.
type WebhookSMS struct {
	URL    string
	Secret []byte
	Client *http.Client // nil: http.DefaultClient (the Worker's SendTimeout bounds each attempt)
}

// SendSMS implements SMSSender.
func (w *WebhookSMS) SendSMS(ctx context.Context, m SMS) error {
	body, err := json.Marshal(map[string]string{"id": m.ID, "to": m.To, "text": m.Text})
	if err != nil {
		return Permanent(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return Permanent(fmt.Errorf("courier: sms webhook: %w", err))
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", m.ID)
	if len(w.Secret) > 0 {
		mac := hmac.New(sha256.New, w.Secret)
		mac.Write(body)
		req.Header.Set("X-Foyer-Signature", "sha256="+hex.EncodeToString(mac.Sum(nil)))
	}
	client := w.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("courier: sms webhook: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return nil
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode >= 500:
		return fmt.Errorf("courier: sms webhook answered %d", resp.StatusCode)
	}
	return Permanent(fmt.Errorf("courier: sms webhook refused the message: %d", resp.StatusCode))
}

// DevSMS keeps text messages in the dev mailbox (MailboxPath), like
// DevMailboxSender: nothing is sent.
type DevSMS struct {
	Logger *slog.Logger
}

// SendSMS implements SMSSender.
func (s DevSMS) SendSMS(ctx context.Context, m SMS) error {
	if s.Logger != nil {
		s.Logger.LogAttrs(ctx, slog.LevelInfo, "courier: text message kept in the dev mailbox",
			slog.String("event", "sms_dev_mailbox"), slog.String("path", MailboxPath+"/"+m.ID))
	}
	return nil
}
