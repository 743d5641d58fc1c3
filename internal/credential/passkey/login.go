package passkey

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/foyer-id/foyer/internal/store"
)

// BeginLogin starts a sign-in with a passkey, for a customer not known
// yet. options is {"publicKey": PublicKeyCredentialRequestOptionsJSON}
// (challenge in base64url, rpId, timeout, userVerification "required",
// no allowCredentials), for
// PublicKeyCredential.parseRequestOptionsFromJSON; the page passes it to
// navigator.credentials.get either on a button press or with mediation
// "conditional" for autofill. challengeID identifies the ceremony for
// FinishLogin; it expires after ChallengeTTL.
//
// BeginLogin writes a row for anyone who asks: throttle it.
func (s *Service) BeginLogin(ctx context.Context) (options json.RawMessage, challengeID string, err error) {
	assertion, session, err := s.wa.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, "", fmt.Errorf("passkey: begin login: %w", err)
	}
	options, err = json.Marshal(assertion)
	if err != nil {
		return nil, "", fmt.Errorf("passkey: begin login: %w", err)
	}
	challengeID, err = s.saveChallenge(ctx, kindLogin, "", session)
	if err != nil {
		return nil, "", fmt.Errorf("passkey: begin login: %w", err)
	}
	return options, challengeID, nil
}

// FinishLogin verifies the browser's response to the sign-in ceremony
// challengeID began and returns whose passkey signed it. response is the
// JSON of the PublicKeyCredential navigator.credentials.get returned
// (credential.toJSON(), or the same shape built by hand); its
// response.userHandle must be present (it is, for discoverable
// credentials) and be the credential owner's.
//
// On success the stored signature counter, backup state and last use are
// updated. The challenge is used up by the first call for it, whatever the
// outcome. Errors: ErrChallenge, ErrInvalidResponse, ErrUnknownCredential,
// and ErrCloned, which alone comes with the identity id and the (not
// updated) credential, because the signature did verify.
//
// The identity may be disabled: the caller decides whether to sign it in.
func (s *Service) FinishLogin(ctx context.Context, challengeID string, response []byte) (identityID string, cred *Credential, err error) {
	const op = "finish login"
	session, err := s.consumeChallenge(ctx, challengeID, kindLogin, "")
	if err != nil {
		return "", nil, fmt.Errorf("passkey: %s: %w", op, err)
	}
	if len(response) > MaxResponseSize {
		return "", nil, fmt.Errorf("passkey: %s: response is %d bytes: %w", op, len(response), ErrInvalidResponse)
	}
	parsed, err := protocol.ParseCredentialRequestResponseBytes(response)
	if err != nil {
		return "", nil, invalid(op, err)
	}
	c, err := s.get(ctx, encodeID(parsed.RawID))
	if errors.Is(err, store.ErrNotFound) {
		return "", nil, fmt.Errorf("passkey: %s: credential %s: %w", op, encodeID(parsed.RawID), ErrUnknownCredential)
	}
	if err != nil {
		return "", nil, fmt.Errorf("passkey: %s: %w", op, err)
	}
	wc, err := c.record()
	if err != nil {
		return "", nil, fmt.Errorf("passkey: %s: credential %s: %w", op, c.ID, err)
	}
	// The library checks that the user handle is this user's and that the
	// credential is among this user's.
	owner := &user{id: c.IdentityID, creds: []webauthn.Credential{wc}}
	_, verified, err := s.wa.ValidatePasskeyLogin(func(_, _ []byte) (webauthn.User, error) { return owner, nil }, *session, parsed)
	if err != nil {
		return "", nil, invalid(op+": credential "+c.ID, err)
	}
	authData := parsed.Response.AuthenticatorData
	if !authData.Flags.HasUserVerified() {
		return "", nil, fmt.Errorf("passkey: %s: credential %s: user not verified: %w", op, c.ID, ErrInvalidResponse)
	}
	if verified.Authenticator.CloneWarning {
		return c.IdentityID, c, fmt.Errorf("passkey: %s: credential %s: counter %d after %d: %w", op, c.ID, authData.Counter, c.SignCount, ErrCloned)
	}

	// Conditional, so that of two sign-ins with the same counter only one
	// succeeds; both zero (no counter) is always fine.
	now := store.FromMicros(store.Micros(s.now()))
	backupState := authData.Flags.HasBackupState()
	res, err := s.db.Exec(ctx, `UPDATE webauthn_credentials SET sign_count = $2, backup_state = $3, last_used_at = $4
		WHERE id = $1 AND (sign_count < $2 OR (sign_count = 0 AND $2 = 0))`,
		c.ID, int64(authData.Counter), backupState, store.Micros(now))
	if err != nil {
		return "", nil, fmt.Errorf("passkey: %s: credential %s: %w", op, c.ID, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return "", nil, fmt.Errorf("passkey: %s: credential %s: %w", op, c.ID, err)
	} else if n == 0 {
		// Deleted meanwhile, or a concurrent sign-in stored a counter at
		// least as high.
		if _, err := s.get(ctx, c.ID); errors.Is(err, store.ErrNotFound) {
			return "", nil, fmt.Errorf("passkey: %s: credential %s: %w", op, c.ID, ErrUnknownCredential)
		}
		return c.IdentityID, c, fmt.Errorf("passkey: %s: credential %s: counter %d not above the stored one: %w", op, c.ID, authData.Counter, ErrCloned)
	}
	c.SignCount = authData.Counter
	c.BackupState = backupState
	c.LastUsedAt = now
	return c.IdentityID, c, nil
}
