// Package secretbox seals the small secrets Foyer must be able to read back
// — signing keys, authenticator-app secrets — before they are stored:
// AES-256-GCM under a key derived from the server secret with HKDF-SHA256
// and a purpose label (so each kind of secret has its own key), with the
// owning row's id as additional data (so a sealed value copied to another
// row does not open).
package secretbox

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
)

// ErrOpen means a sealed value could not be opened: the server secret is
// not the one it was sealed with, or the value was altered or moved. The
// error never says more than that.
var ErrOpen = errors.New("secretbox: cannot open the sealed value")

// Box seals and opens values for one purpose.
type Box struct{ aead cipher.AEAD }

// New returns a Box whose key is derived from the server secret and the
// purpose (e.g. "foyer signing keys v1"). Changing either makes every value
// sealed before unreadable.
func New(serverSecret []byte, purpose string) (*Box, error) {
	key, err := hkdf.Key(sha256.New, serverSecret, nil, purpose, 32)
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
	return &Box{aead: aead}, nil
}

// Seal returns base64(nonce || AES-GCM(plain)), bound to owner.
func (b *Box) Seal(owner string, plain []byte) string {
	nonce := make([]byte, b.aead.NonceSize(), b.aead.NonceSize()+len(plain)+b.aead.Overhead())
	_, _ = rand.Read(nonce) // never fails; see crypto/rand
	return base64.StdEncoding.EncodeToString(b.aead.Seal(nonce, nonce, plain, []byte(owner)))
}

// Open reverses Seal for the same owner; every failure is ErrOpen.
func (b *Box) Open(owner, sealed string) ([]byte, error) {
	raw, err := base64.StdEncoding.DecodeString(sealed)
	n := b.aead.NonceSize()
	if err != nil || len(raw) < n+b.aead.Overhead() {
		return nil, ErrOpen
	}
	plain, err := b.aead.Open(nil, raw[:n], raw[n:], []byte(owner))
	if err != nil {
		return nil, ErrOpen
	}
	return plain, nil
}
