package flow

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/foyer-id/foyer/internal/credential/totp"
	"github.com/foyer-id/foyer/internal/decision"
	"github.com/foyer-id/foyer/internal/event"
	"github.com/foyer-id/foyer/internal/identity"
	"github.com/foyer-id/foyer/internal/policy"
	"github.com/foyer-id/foyer/internal/store"
)

// "This wasn't me". Every recovery and every change of the email address
// or the password mails the account's verified addresses a security
// notice with a link, valid RevertLifetime, that undoes the change: the
// old address comes back (or the old password), every session and app
// token of the account ends, and the account is protected — a password
// alone no longer signs it in (policy.Signals.Protected) until a sign-in
// passes with the owner's own channel (the code mailed to the address,
// or a second factor). Each link works once; only its hash is stored.

// Kinds of change a revert link undoes.
const (
	RevertRecovery = "recovery" // old_value: the password hash before
	RevertPassword = "password" // old_value: the password hash before
	RevertEmail    = "email"    // old_value: the address before
	RevertPhone    = "phone"    // old_value: the verified number before, "" for none
	// RevertFactor: old_value is the change (MethodsChanged's reason,
	// with ":" and the passkey's id for one added). An authenticator app
	// turned on, or a passkey added, is taken away again; a factor removed
	// cannot come back, but the rest of the revert still holds.
	RevertFactor = "factor"
)

// RevertLifetime is how long a revert link works.
const RevertLifetime = 7 * 24 * time.Hour

// revertPrefix marks a revert link's token.
const revertPrefix = "fyr_"

// ErrRevertInvalid is a revert link that is unknown, used or expired.
var ErrRevertInvalid = errors.New("flow: this link is not valid any more")

// hashToken is what is stored of a token (a revert link's, a provider
// round trip's state): its SHA-256, in hex.
func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// revertLinkTx stores, inside tx, a revert link for a change of kind to
// identityID that replaced old, and returns its URL.
func (s *Service) revertLinkTx(ctx context.Context, tx *store.Tx, identityID, kind, old string, now time.Time) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	token := revertPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	if _, err := tx.Exec(ctx, `INSERT INTO reverts (id, identity_id, kind, token_hash, old_value, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		identity.NewID(), identityID, kind, hashToken(token), old, store.Micros(now), store.Micros(now.Add(RevertLifetime))); err != nil {
		return "", fmt.Errorf("flow: store revert link: %w", err)
	}
	return s.Config.PublicURL + "/revert?token=" + token, nil
}

// RevertKind tells what a revert link would undo, without using it (the
// page that asks to confirm); ErrRevertInvalid when it cannot.
func (s *Service) RevertKind(ctx context.Context, token string) (string, error) {
	_, kind, err := s.revertOf(ctx, token)
	return kind, err
}

// revertOf reads the account and kind of a live revert link.
func (s *Service) revertOf(ctx context.Context, token string) (identityID, kind string, err error) {
	if !strings.HasPrefix(token, revertPrefix) || len(token) > 100 {
		return "", "", ErrRevertInvalid
	}
	err = s.Flows.db.QueryRow(ctx, `SELECT identity_id, kind FROM reverts WHERE token_hash = $1 AND used_at IS NULL AND expires_at > $2`,
		hashToken(token), store.Micros(s.now())).Scan(&identityID, &kind)
	if errors.Is(err, sql.ErrNoRows) {
		return "", "", ErrRevertInvalid
	}
	if err != nil {
		return "", "", fmt.Errorf("flow: revert link: %w", err)
	}
	return identityID, kind, nil
}

// Revert uses a revert link: the policy decides (account.revert), then it
// undoes the change, ends every session and app token of the account, and
// protects the account, in one transaction with the decision and its
// event. A link works once; ErrRevertInvalid when it cannot.
func (s *Service) Revert(ctx context.Context, c Client, token string) error {
	identityID, kind, err := s.revertOf(ctx, token)
	if err != nil {
		return err
	}
	_, rec, err := s.decideRecord(ctx, nil, c, policy.Input{Action: policy.AccountRevert, IdentityID: identityID, Change: kind}, event.ChangeReverted)
	if err != nil {
		return err
	}
	now := s.now()
	var old string
	err = s.Flows.db.InTx(ctx, func(tx *store.Tx) error {
		// Used here, once: of two uses at once, one finds it spent.
		err := tx.QueryRow(ctx, `UPDATE reverts SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL AND expires_at > $1
			RETURNING old_value`, store.Micros(now), hashToken(token)).Scan(&old)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrRevertInvalid
		}
		if err != nil {
			return err
		}
		switch kind {
		case RevertEmail:
			err = s.restoreEmailTx(ctx, tx, identityID, old, now)
		case RevertPhone:
			err = s.restorePhoneTx(ctx, tx, identityID, old, now)
		case RevertPassword, RevertRecovery:
			err = s.Identities.RestorePasswordTx(ctx, tx, identityID, old, now)
		}
		if err != nil {
			return err
		}
		if _, err := s.Sessions.RevokeOthersTx(ctx, tx, identityID, ""); err != nil {
			return err
		}
		if s.Grants != nil {
			if _, err := s.Grants.RevokeSubjectTx(ctx, tx, identityID); err != nil {
				return err
			}
		}
		// The other links of the account stay: each undoes its own change.
		if err := s.Identities.ProtectTx(ctx, tx, identityID, now); err != nil {
			return err
		}
		if err := decision.InsertAll(ctx, tx, []decision.Record{rec}); err != nil {
			return err
		}
		return s.emitTx(ctx, tx, nil, c, event.ChangeReverted, event.OutcomeSuccess, kind, identityID, "")
	})
	if errors.Is(err, ErrRevertInvalid) {
		return err
	}
	if err != nil {
		return fmt.Errorf("flow: revert: %w", err)
	}
	if kind == RevertFactor {
		// After the commit: the factors' stores write on their own, and
		// what matters most — every device out, the account protected —
		// is done.
		return s.undoFactor(ctx, identityID, old)
	}
	return nil
}

// undoFactor takes away a factor an unwanted change added (see
// RevertFactor); one already gone is fine.
func (s *Service) undoFactor(ctx context.Context, identityID, change string) error {
	reason, credID, _ := strings.Cut(change, ":")
	var err error
	switch {
	case reason == "totp_enabled" && s.Factors != nil:
		err = s.Factors.TOTP.Remove(ctx, identityID)
		if errors.Is(err, totp.ErrNotEnrolled) {
			err = nil
		}
	case reason == "provider_linked" && s.Links != nil && credID != "":
		err = s.Flows.db.InTx(ctx, func(tx *store.Tx) error { return s.Links.DeleteTx(ctx, tx, identityID, credID) })
		if errors.Is(err, store.ErrNotFound) {
			err = nil
		}
	case reason == "passkey_added" && s.Passkeys != nil && credID != "":
		err = s.Passkeys.Delete(ctx, identityID, credID)
		if errors.Is(err, store.ErrNotFound) {
			err = nil
		}
	}
	if err != nil {
		return fmt.Errorf("flow: revert %s: %w", reason, err)
	}
	return nil
}

// restorePhoneTx puts an identity's old number back inside tx ("" removes
// the one added). A number another account took meanwhile is not taken
// back: the account is left with none.
func (s *Service) restorePhoneTx(ctx context.Context, tx *store.Tx, identityID, old string, now time.Time) error {
	ident, err := s.Identities.Get(ctx, s.Config.Domain, identityID)
	if err != nil {
		return err
	}
	if old != "" {
		holder, err := s.Identities.FindByIdentifier(ctx, s.Config.Domain, identity.KindPhone, old)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if holder != nil && holder.ID != identityID {
			old = ""
		}
	}
	return s.setPhoneTx(ctx, tx, ident, old, now)
}

// restoreEmailTx puts an identity's old address back inside tx. An
// unfinished sign-up holding it meanwhile (anyone can start one) gives it
// up: the address's owner is taking it back. An account holding it keeps
// it, and the revert does the rest without it: every session ends, the
// account is protected, and the (intruder's) new address is no longer
// verified, so that no code to it signs in or recovers.
func (s *Service) restoreEmailTx(ctx context.Context, tx *store.Tx, identityID, old string, now time.Time) error {
	holder, err := s.Identities.FindByIdentifier(ctx, s.Config.Domain, identity.KindEmail, old)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return err
	case holder.ID == identityID:
		return nil
	case holder.State == identity.StatePending:
		if err := s.Identities.DeletePendingTx(ctx, tx, holder.ID); err != nil {
			return err
		}
	default:
		s.Logger.WarnContext(ctx, "flow: revert: the old address belongs to another account now; it stays there", "identity_id", identityID)
		return s.Identities.UnverifyEmailTx(ctx, tx, identityID)
	}
	ident, err := s.Identities.Get(ctx, s.Config.Domain, identityID)
	if err != nil {
		return err
	}
	traits, err := withEmail(ident.Traits, old)
	if err != nil {
		return err
	}
	return s.Identities.ChangeEmailTx(ctx, tx, identityID, old, traits, now, false)
}

// PruneReverts deletes the revert links that expired before cutoff (used
// or not): a link past its lifetime undoes nothing.
func (s *Service) PruneReverts(ctx context.Context, cutoff time.Time) (int64, error) {
	n, err := s.Flows.db.DeleteInBatches(ctx, `DELETE FROM reverts WHERE id IN
		(SELECT id FROM reverts WHERE expires_at < $2 LIMIT $1)`, store.Micros(cutoff))
	if err != nil {
		return n, fmt.Errorf("flow: prune revert links: %w", err)
	}
	return n, nil
}

// withEmail returns traits with the email trait set to email.
func withEmail(traits []byte, email string) ([]byte, error) {
	m := map[string]any{}
	if err := json.Unmarshal(traits, &m); err != nil {
		return nil, err
	}
	m["email"] = email
	return json.Marshal(m)
}
