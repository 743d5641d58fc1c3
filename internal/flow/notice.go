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
				"Device":        describeDevice(c.UserAgent),
				"When":          at.UTC().Format("2 Jan 2006 15:04 MST"),
				"Network":       c.IP,
				"AccountURL":    s.Config.PublicURL + "/account",
				"ProductName":   s.Config.ProductName,
			}})
		return err
	}
}

// describeDevice names a browser and its system from a User-Agent in a
// few words ("Firefox on Linux"), for a customer reading a notice.
func describeDevice(ua string) string {
	if family := risk.Family(ua); family != "" {
		return family
	}
	// Nothing of a User-Agent that names no known browser goes into the
	// mail: it is the sender's free text.
	return "an app or device we could not identify"
}
