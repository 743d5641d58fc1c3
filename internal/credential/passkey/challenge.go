package passkey

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/foyer-id/foyer/internal/store"
)

// Ceremony kinds, as stored in webauthn_challenges.kind.
const (
	kindRegistration = "registration"
	kindLogin        = "login"
)

// saveChallenge stores the session data of a ceremony just begun and
// returns its new challenge id. identityID is "" for a sign-in.
func (s *Service) saveChallenge(ctx context.Context, kind, identityID string, session *webauthn.SessionData) (string, error) {
	data, err := json.Marshal(session)
	if err != nil {
		return "", err
	}
	id := rand.Text() // 128 random bits
	now := s.now()
	if _, err := s.db.Exec(ctx, `INSERT INTO webauthn_challenges (id, identity_id, kind, session_data, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6)`,
		id, identityID, kind, string(data), store.Micros(now), store.Micros(now.Add(ChallengeTTL))); err != nil {
		return "", err
	}
	return id, nil
}

// consumeChallenge deletes the challenge and returns its session data, in
// one statement: of any number of concurrent calls for one challenge, one
// gets it and the others ErrChallenge. An expired challenge is deleted
// too, and is ErrChallengeExpired.
func (s *Service) consumeChallenge(ctx context.Context, id, kind, identityID string) (*webauthn.SessionData, error) {
	var data string
	var expires int64
	err := s.db.WriteRow(ctx, `DELETE FROM webauthn_challenges WHERE id = $1 AND kind = $2 AND identity_id = $3
		RETURNING session_data, expires_at`, id, kind, identityID).Scan(&data, &expires)
	if err != nil {
		if err = store.Classify(err); errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("challenge: %w", ErrChallenge)
		}
		return nil, fmt.Errorf("challenge: %w", err)
	}
	if store.Micros(s.now()) >= expires {
		return nil, fmt.Errorf("challenge: %w", ErrChallengeExpired)
	}
	var session webauthn.SessionData
	if err := json.Unmarshal([]byte(data), &session); err != nil {
		return nil, fmt.Errorf("challenge: decode session data: %w", err)
	}
	return &session, nil
}

// Prune deletes challenges that expired unfinished and returns how many.
// Call it periodically.
func (s *Service) Prune(ctx context.Context) (int64, error) {
	n, err := s.db.DeleteInBatches(ctx, `DELETE FROM webauthn_challenges WHERE id IN
		(SELECT id FROM webauthn_challenges WHERE expires_at <= $2 LIMIT $1)`, store.Micros(s.now()))
	if err != nil {
		return n, fmt.Errorf("passkey: prune challenges: %w", err)
	}
	return n, nil
}
