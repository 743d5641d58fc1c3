package keys

import (
	"crypto"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"
)

// hkdfInfo separates the key-encryption key from every other key Foyer
// derives from the server secret. Changing it makes every stored key
// unreadable.
const hkdfInfo = "foyer signing keys v1"

// ErrDecrypt means a stored private key could not be decrypted: the server
// secret is not the one the key was encrypted with, or the row was
// altered. The error never says more than that.
var ErrDecrypt = errors.New("keys: cannot decrypt the private key: the server secret differs from the one it was created with, or the stored key is corrupt")

// sealer encrypts private keys at rest with AES-256-GCM under a key
// derived from the server secret with HKDF-SHA256.
type sealer struct{ aead cipher.AEAD }

func newSealer(secret []byte) (*sealer, error) {
	kek, err := hkdf.Key(sha256.New, secret, nil, hkdfInfo, 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealer{aead: aead}, nil
}

// seal returns base64(nonce || AES-GCM(PKCS#8 DER of priv)). The key id is
// the additional data, so a ciphertext moved to another row does not
// decrypt.
func (s *sealer) seal(kid string, priv crypto.Signer) (string, error) {
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return "", err
	}
	defer clear(der)
	nonce := make([]byte, s.aead.NonceSize(), s.aead.NonceSize()+len(der)+s.aead.Overhead())
	_, _ = rand.Read(nonce)
	return base64.StdEncoding.EncodeToString(s.aead.Seal(nonce, nonce, der, []byte(kid))), nil
}

// open reverses seal and checks that the private key belongs to alg and to
// the published public key pub.
func (s *sealer) open(kid, alg, sealed string, pub crypto.PublicKey) (crypto.Signer, error) {
	raw, err := base64.StdEncoding.DecodeString(sealed)
	if err != nil || len(raw) < s.aead.NonceSize()+s.aead.Overhead() {
		return nil, ErrDecrypt
	}
	n := s.aead.NonceSize()
	der, err := s.aead.Open(nil, raw[:n], raw[n:], []byte(kid))
	if err != nil {
		return nil, ErrDecrypt
	}
	defer clear(der)
	parsed, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, ErrDecrypt
	}
	priv, ok := parsed.(crypto.Signer)
	if !ok || !matches(alg, priv) {
		return nil, fmt.Errorf("keys: stored private key is not an %s key", alg)
	}
	if eq, ok := priv.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(pub) {
		return nil, errors.New("keys: stored private key does not match its public key")
	}
	return priv, nil
}

// marshalPublic returns the public JWK stored in clear.
func marshalPublic(kid, alg string, pub crypto.PublicKey) (string, error) {
	b, err := jose.JSONWebKey{Key: pub, KeyID: kid, Algorithm: alg, Use: Use}.MarshalJSON()
	return string(b), err
}

// parsePublic reads a stored public JWK and checks it against its row.
func parsePublic(kid, alg, stored string) (crypto.PublicKey, error) {
	var jwk jose.JSONWebKey
	if err := jwk.UnmarshalJSON([]byte(stored)); err != nil {
		return nil, fmt.Errorf("keys: stored public key: %w", err)
	}
	if jwk.KeyID != kid || jwk.Algorithm != alg || !jwk.IsPublic() || !jwk.Valid() {
		return nil, errors.New("keys: stored public key does not match its row")
	}
	return jwk.Key, nil
}
