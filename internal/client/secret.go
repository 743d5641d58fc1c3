package client

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"strings"
)

// SecretPrefix starts every client secret Foyer issues, so secret
// scanners and people can recognise one.
const SecretPrefix = "fcs_"

// hashVersion prefixes stored hashes; a new key derivation would get v2.
const hashVersion = "v1:"

// idEncoding writes client ids: lower-case base32 without padding.
var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// newID returns a random, unguessable client id: 128 bits, 26 characters.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics instead)
	return idEncoding.EncodeToString(b[:])
}

// newSecret returns a client secret: 256 random bits, "fcs_" + base64url.
func newSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return SecretPrefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// secretKey derives the HMAC key for client secrets from the server
// secret, so that it is not reused for other MACs.
func secretKey(serverSecret []byte) []byte {
	key, err := hkdf.Key(sha256.New, serverSecret, nil, "foyer client secret v1", 32)
	if err != nil {
		panic("client: derive secret key: " + err.Error()) // only for impossible lengths
	}
	return key
}

// mac is HMAC-SHA256(key, secret).
func mac(key []byte, secret string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(secret))
	return h.Sum(nil)
}

// hashSecret returns the stored form of a client secret.
func hashSecret(key []byte, secret string) string {
	return hashVersion + base64.RawURLEncoding.EncodeToString(mac(key, secret))
}

// checkSecret compares secret with the stored hash in constant time. An
// empty or unreadable stored hash (no secret, unknown client) is compared
// against dummy so that the time taken does not tell the cases apart.
func checkSecret(key, dummy []byte, stored, secret string) bool {
	want, ok := dummy, false
	if enc, found := strings.CutPrefix(stored, hashVersion); found {
		if b, err := base64.RawURLEncoding.DecodeString(enc); err == nil && len(b) == sha256.Size {
			want, ok = b, true
		}
	}
	equal := hmac.Equal(mac(key, secret), want)
	return equal && ok
}
