package keys

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"

	"github.com/foyer-id/foyer/internal/secretbox"
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

// sealer encrypts private keys at rest (see package secretbox).
type sealer struct{ box *secretbox.Box }

func newSealer(secret []byte) (*sealer, error) {
	box, err := secretbox.New(secret, hkdfInfo)
	if err != nil {
		return nil, err
	}
	return &sealer{box: box}, nil
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
	return s.box.Seal(kid, der), nil
}

// open reverses seal and checks that the private key belongs to alg and to
// the published public key pub.
func (s *sealer) open(kid, alg, sealed string, pub crypto.PublicKey) (crypto.Signer, error) {
	der, err := s.box.Open(kid, sealed)
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
