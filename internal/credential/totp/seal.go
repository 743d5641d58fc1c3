package totp

import (
	"errors"

	"github.com/foyer-id/foyer/internal/secretbox"
)

// hkdfInfo separates the key that encrypts TOTP secrets from every other
// key Foyer derives from the server secret. Changing it makes every stored
// authenticator unreadable.
const hkdfInfo = "foyer totp secrets v1"

// ErrDecrypt means a stored TOTP secret could not be decrypted: the server
// secret is not the one it was encrypted with, or the row was altered or
// copied from another identity. The error never says more than that.
var ErrDecrypt = errors.New("totp: cannot decrypt the stored secret: the server secret differs from the one it was created with, or the row is corrupt")

// sealer encrypts TOTP secrets at rest, bound to their identity.
type sealer struct{ box *secretbox.Box }

func newSealer(secret []byte) (*sealer, error) {
	box, err := secretbox.New(secret, hkdfInfo)
	if err != nil {
		return nil, err
	}
	return &sealer{box: box}, nil
}

func (s *sealer) seal(identityID string, raw []byte) string { return s.box.Seal(identityID, raw) }

// open reverses seal; every failure is ErrDecrypt.
func (s *sealer) open(identityID, sealed string) ([]byte, error) {
	raw, err := s.box.Open(identityID, sealed)
	if err != nil {
		return nil, ErrDecrypt
	}
	return raw, nil
}
