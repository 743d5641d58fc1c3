package totp

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
)

// hkdfInfo separates the key that encrypts TOTP secrets from every other
// key Foyer derives from the server secret. Changing it makes every stored
// authenticator unreadable.
const hkdfInfo = "foyer totp secrets v1"

// ErrDecrypt means a stored TOTP secret could not be decrypted: the server
// secret is not the one it was encrypted with, or the row was altered or
// copied from another identity. The error never says more than that.
var ErrDecrypt = errors.New("totp: cannot decrypt the stored secret: the server secret differs from the one it was created with, or the row is corrupt")

// sealer encrypts TOTP secrets at rest with AES-256-GCM under a key derived
// from the server secret with HKDF-SHA256.
type sealer struct{ aead cipher.AEAD }

func newSealer(secret []byte) (*sealer, error) {
	key, err := hkdf.Key(sha256.New, secret, nil, hkdfInfo, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

// seal returns base64(nonce || AES-GCM(raw)). The identity id is the
// additional data, so a ciphertext copied to another identity's row does
// not decrypt.
func (s *sealer) seal(identityID string, raw []byte) string {
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(raw)+s.aead.Overhead())
	_, _ = rand.Read(nonce) // never fails; see crypto/rand
	return base64.StdEncoding.EncodeToString(s.aead.Seal(nonce, nonce, raw, []byte(identityID)))
}

// open reverses seal; every failure is ErrDecrypt.
func (s *sealer) open(identityID, sealed string) ([]byte, error) {
	b, err := base64.StdEncoding.DecodeString(sealed)
	n := s.aead.NonceSize()
	if err != nil || len(b) < n+s.aead.Overhead() {
		return nil, ErrDecrypt
	}
	raw, err := s.aead.Open(nil, b[:n], b[n:], []byte(identityID))
	if err != nil {
		return nil, ErrDecrypt
	}
	return raw, nil
}
