package flow

import (
	"context"
	"time"

	"github.com/foyer-id/foyer/internal/courier"
	"github.com/foyer-id/foyer/internal/risk"
	"github.com/foyer-id/foyer/internal/store"
)

// signInNotice returns the write that mails the owner of f's address that
// someone signed in (byCode: with a code sent to it), on a device that had
// not signed in to the account before — or, with firstStep, got as far as
// the second factor; known says the device had (a policy asked for the
// notice). A code proves only the mailbox: should someone else read it,
// the owner learns of it, with what to do.
func (s *Service) signInNotice(f *Flow, c Client, at time.Time, byCode, firstStep, known bool) write {
	return func(ctx context.Context, tx *store.Tx) error {
		_, err := s.Mailer.EnqueueTx(ctx, tx, courier.Message{Domain: s.Config.Domain, Lang: f.Data.Lang, App: c.App, Template: "sign_in_notice", To: f.Data.Email,
			Data: map[string]any{
				"ByCode":        byCode,
				"FirstStepOnly": firstStep,
				"Known":         known,
				// The browser and its system in a few words ("Firefox
				// on Linux"); nothing of a User-Agent that names no
				// known browser, which is its sender's free text: the
				// mail then says it does not know the device.
				"Device":      risk.Family(c.UserAgent),
				"When":        at.UTC(),
				"Network":     c.IP,
				"AccountURL":  s.Config.PublicURL + "/account",
				"ProductName": s.Config.ProductName,
			}})
		return err
	}
}
