package passkey

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/google/uuid"

	"github.com/foyer-id/foyer/internal/store"
)

// BeginRegistration starts adding a passkey to identityID, who must be
// signed in (recently, if the caller asks for that). email becomes
// user.name and displayName user.displayName (email when empty): what the
// authenticator shows in its account chooser. The user handle is the
// identity id.
//
// options is {"publicKey": PublicKeyCredentialCreationOptionsJSON}: binary
// members (challenge, user.id, excludeCredentials[].id) are base64url
// strings, for PublicKeyCredential.parseCreationOptionsFromJSON. It asks
// for a discoverable credential (residentKey "required") with user
// verification "required" and attestation "none", and excludes the
// identity's existing passkeys so an authenticator is not registered
// twice. challengeID identifies the ceremony for FinishRegistration; it
// expires after ChallengeTTL.
func (s *Service) BeginRegistration(ctx context.Context, identityID, email, displayName string) (options json.RawMessage, challengeID string, err error) {
	if identityID == "" || len(identityID) > maxUserHandle {
		return nil, "", fmt.Errorf("passkey: begin registration: identity id must be 1 to %d bytes", maxUserHandle)
	}
	if email == "" {
		return nil, "", fmt.Errorf("passkey: begin registration %s: email is empty", identityID)
	}
	if displayName == "" {
		displayName = email
	}
	existing, err := s.List(ctx, identityID)
	if err != nil {
		return nil, "", fmt.Errorf("passkey: begin registration: %w", err)
	}
	exclude := make([]protocol.CredentialDescriptor, 0, len(existing))
	for _, c := range existing {
		raw, err := decodeID(c.ID)
		if err != nil {
			return nil, "", fmt.Errorf("passkey: begin registration %s: credential %s: %w", identityID, c.ID, err)
		}
		d := protocol.CredentialDescriptor{Type: protocol.PublicKeyCredentialType, CredentialID: raw}
		for _, t := range c.Transports {
			d.Transport = append(d.Transport, protocol.AuthenticatorTransport(t))
		}
		exclude = append(exclude, d)
	}
	rk := true
	creation, session, err := s.wa.BeginRegistration(&user{id: identityID, name: email, displayName: displayName},
		webauthn.WithAuthenticatorSelection(protocol.AuthenticatorSelection{
			RequireResidentKey: &rk,
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			UserVerification:   protocol.VerificationRequired,
		}),
		webauthn.WithConveyancePreference(protocol.PreferNoAttestation),
		webauthn.WithExclusions(exclude),
	)
	if err != nil {
		return nil, "", fmt.Errorf("passkey: begin registration %s: %w", identityID, err)
	}
	options, err = json.Marshal(creation)
	if err != nil {
		return nil, "", fmt.Errorf("passkey: begin registration %s: %w", identityID, err)
	}
	challengeID, err = s.saveChallenge(ctx, kindRegistration, identityID, session)
	if err != nil {
		return nil, "", fmt.Errorf("passkey: begin registration %s: %w", identityID, err)
	}
	return options, challengeID, nil
}

// FinishRegistration verifies the browser's response to the ceremony
// challengeID began for identityID and stores the new passkey under name
// (trimmed; DefaultName when empty). response is the JSON of the
// PublicKeyCredential navigator.credentials.create returned
// (credential.toJSON(), or the same shape built by hand).
//
// The challenge is used up by the first call for it, whatever the outcome.
// Errors: ErrInvalidName (the challenge is kept), ErrChallenge,
// ErrInvalidResponse, ErrAlreadyRegistered, store.ErrNotFound (the
// identity is gone).
func (s *Service) FinishRegistration(ctx context.Context, challengeID, identityID, name string, response []byte) (*Credential, error) {
	name, err := normalizeName(name)
	if err != nil {
		return nil, fmt.Errorf("passkey: finish registration %s: %w", identityID, err)
	}
	session, err := s.consumeChallenge(ctx, challengeID, kindRegistration, identityID)
	if err != nil {
		return nil, fmt.Errorf("passkey: finish registration %s: %w", identityID, err)
	}
	op := "finish registration " + identityID
	if len(response) > MaxResponseSize {
		return nil, fmt.Errorf("passkey: %s: response is %d bytes: %w", op, len(response), ErrInvalidResponse)
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(response)
	if err != nil {
		return nil, invalid(op, err)
	}
	wc, err := s.wa.CreateCredential(&user{id: identityID}, *session, parsed)
	if err != nil {
		return nil, invalid(op, err)
	}
	// The library checks UV because the session requires it; so do we,
	// in case that ever changes.
	if !parsed.Response.AttestationObject.AuthData.Flags.HasUserVerified() {
		return nil, fmt.Errorf("passkey: %s: user not verified: %w", op, ErrInvalidResponse)
	}
	aaguid, err := uuid.FromBytes(wc.Authenticator.AAGUID)
	if err != nil {
		return nil, invalid(op, err)
	}
	c := &Credential{
		ID:             encodeID(wc.ID),
		IdentityID:     identityID,
		Name:           name,
		AAGUID:         aaguid.String(),
		Transports:     []string{},
		SignCount:      wc.Authenticator.SignCount,
		BackupEligible: wc.Flags.BackupEligible,
		BackupState:    wc.Flags.BackupState,
		UserVerified:   wc.Flags.UserVerified,
		CreatedAt:      store.FromMicros(store.Micros(s.now())),
		publicKey:      wc.PublicKey,
	}
	for _, t := range wc.Transport {
		c.Transports = append(c.Transports, string(t))
	}
	transports, err := json.Marshal(c.Transports)
	if err != nil {
		return nil, fmt.Errorf("passkey: %s: %w", op, err)
	}
	if err := s.db.QueryRow(ctx, `SELECT domain FROM identities WHERE id = $1`, identityID).Scan(&c.Domain); err != nil {
		return nil, fmt.Errorf("passkey: %s: identity: %w", op, store.Classify(err))
	}
	_, err = s.db.Exec(ctx, `INSERT INTO webauthn_credentials (id, identity_id, domain, name, public_key, sign_count, aaguid,
		transports, backup_eligible, backup_state, user_verified, created_at, last_used_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, NULL)`,
		c.ID, c.IdentityID, c.Domain, c.Name, c.publicKey, int64(c.SignCount), c.AAGUID,
		string(transports), c.BackupEligible, c.BackupState, c.UserVerified, store.Micros(c.CreatedAt))
	if errors.Is(err, store.ErrConflict) {
		return nil, fmt.Errorf("passkey: %s: credential %s: %w: %w", op, c.ID, ErrAlreadyRegistered, err)
	}
	if err != nil {
		return nil, fmt.Errorf("passkey: %s: credential %s: %w", op, c.ID, err)
	}
	return c, nil
}
