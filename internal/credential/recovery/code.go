package recovery

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// alphabet is Crockford's base32 in lower case: digits and letters
// without i, l, o and u. normalize reads i and l as 1 and o as 0, so the
// characters people confuse when copying a code by hand still match.
const alphabet = "0123456789abcdefghjkmnpqrstvwxyz"

// Code shape: CodeLength characters of alphabet (5 bits each, 50 bits in
// all), shown as two groups of five joined by a dash: "7hk2m-x9q4d".
const (
	CodeLength = 10
	groupSize  = 5
)

// newCode returns a random code in display form.
func newCode() string {
	var b [CodeLength]byte
	_, _ = rand.Read(b[:]) // never fails; see crypto/rand
	var out strings.Builder
	out.Grow(CodeLength + 1)
	for i, c := range b {
		if i == groupSize {
			out.WriteByte('-')
		}
		out.WriteByte(alphabet[c&31]) // 256 is a multiple of 32: uniform
	}
	return out.String()
}

// normalize returns the canonical form of a code as typed: lower case,
// without spaces or dashes, with i and l read as 1 and o as 0. ok is false
// when the result is not CodeLength characters of alphabet.
func normalize(code string) (string, bool) {
	var b strings.Builder
	b.Grow(CodeLength)
	for _, r := range code {
		switch {
		case r == ' ' || r == '-' || r == '\t':
			continue
		case r >= 'A' && r <= 'Z':
			r += 'a' - 'A'
		}
		switch r {
		case 'i', 'l':
			r = '1'
		case 'o':
			r = '0'
		}
		if r > 0x7f || !strings.ContainsRune(alphabet, r) || b.Len() == CodeLength {
			return "", false
		}
		b.WriteRune(r)
	}
	return b.String(), b.Len() == CodeLength
}

// hash returns the stored form of a normalised code: hex HMAC-SHA256 under
// the derived key, over the identity id and the code, so that equal codes
// of two identities (or a code moved to another identity) do not match.
func hash(key []byte, identityID, code string) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(identityID))
	mac.Write([]byte{0})
	mac.Write([]byte(code))
	return hex.EncodeToString(mac.Sum(nil))
}
