package passkey

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/foyer-id/foyer/internal/store"
)

// credentialColumns is the column list scanCredential reads.
const credentialColumns = `id, identity_id, domain, name, public_key, sign_count, aaguid, transports,
	backup_eligible, backup_state, user_verified, created_at, last_used_at`

// scanCredential reads one row of credentialColumns.
func scanCredential(scan func(...any) error) (*Credential, error) {
	var c Credential
	var signCount, created int64
	var transports string
	var lastUsed sql.NullInt64
	if err := scan(&c.ID, &c.IdentityID, &c.Domain, &c.Name, &c.publicKey, &signCount, &c.AAGUID, &transports,
		&c.BackupEligible, &c.BackupState, &c.UserVerified, &created, &lastUsed); err != nil {
		return nil, store.Classify(err)
	}
	if err := json.Unmarshal([]byte(transports), &c.Transports); err != nil {
		return nil, fmt.Errorf("credential %s: transports: %w", c.ID, err)
	}
	if c.Transports == nil {
		c.Transports = []string{}
	}
	c.SignCount = uint32(signCount)
	c.CreatedAt = store.FromMicros(created)
	c.LastUsedAt = store.FromNullMicros(lastUsed)
	return &c, nil
}

// get returns the credential with id (base64url), or store.ErrNotFound.
func (s *Service) get(ctx context.Context, id string) (*Credential, error) {
	return scanCredential(s.db.QueryRow(ctx, `SELECT `+credentialColumns+` FROM webauthn_credentials WHERE id = $1`, id).Scan)
}

// List returns identityID's passkeys, oldest first; an empty slice when it
// has none.
func (s *Service) List(ctx context.Context, identityID string) ([]Credential, error) {
	rows, err := s.db.Query(ctx, `SELECT `+credentialColumns+` FROM webauthn_credentials
		WHERE identity_id = $1 ORDER BY created_at, id`, identityID)
	if err != nil {
		return nil, fmt.Errorf("passkey: list %s: %w", identityID, err)
	}
	defer rows.Close()
	out := []Credential{}
	for rows.Next() {
		c, err := scanCredential(rows.Scan)
		if err != nil {
			return nil, fmt.Errorf("passkey: list %s: %w", identityID, err)
		}
		out = append(out, *c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("passkey: list %s: %w", identityID, store.Classify(err))
	}
	return out, nil
}

// Count returns how many passkeys identityID has.
func (s *Service) Count(ctx context.Context, identityID string) (int, error) {
	var n int
	if err := s.db.QueryRow(ctx, `SELECT COUNT(*) FROM webauthn_credentials WHERE identity_id = $1`, identityID).Scan(&n); err != nil {
		return 0, fmt.Errorf("passkey: count %s: %w", identityID, store.Classify(err))
	}
	return n, nil
}

// Rename sets the name of identityID's passkey credID and returns the
// passkey. It returns ErrInvalidName for a bad or blank name and
// store.ErrNotFound if identityID has no such passkey.
func (s *Service) Rename(ctx context.Context, identityID, credID, name string) (*Credential, error) {
	if strings.TrimSpace(name) == "" {
		return nil, fmt.Errorf("passkey: rename %s: %w", credID, ErrInvalidName)
	}
	name, err := normalizeName(name)
	if err != nil {
		return nil, fmt.Errorf("passkey: rename %s: %w", credID, err)
	}
	c, err := scanCredential(s.db.WriteRow(ctx, `UPDATE webauthn_credentials SET name = $3 WHERE id = $1 AND identity_id = $2
		RETURNING `+credentialColumns, credID, identityID, name).Scan)
	if err != nil {
		return nil, fmt.Errorf("passkey: rename %s: %w", credID, err)
	}
	return c, nil
}

// Delete removes identityID's passkey credID; store.ErrNotFound if
// identityID has no such passkey. The passkey stays on the authenticator
// but no longer signs anyone in (FinishLogin returns
// ErrUnknownCredential).
func (s *Service) Delete(ctx context.Context, identityID, credID string) error {
	res, err := s.db.Exec(ctx, `DELETE FROM webauthn_credentials WHERE id = $1 AND identity_id = $2`, credID, identityID)
	if err != nil {
		return fmt.Errorf("passkey: delete %s: %w", credID, err)
	}
	return affectedOne(res, fmt.Sprintf("passkey: delete %s", credID))
}

// affectedOne turns "no row changed" into store.ErrNotFound.
func affectedOne(res sql.Result, op string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", op, store.ErrNotFound)
	}
	return nil
}

// encodeID is the stored and displayed form of a credential id.
func encodeID(raw []byte) string { return base64.RawURLEncoding.EncodeToString(raw) }

// decodeID reverses encodeID.
func decodeID(id string) ([]byte, error) {
	raw, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil || len(raw) == 0 {
		return nil, errors.New("credential id is not base64url")
	}
	return raw, nil
}
