package identity

import (
	"errors"
	"net/mail"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/idna"
	"golang.org/x/text/unicode/norm"
)

// Identifier kinds.
const (
	KindEmail = "email"
)

// ErrInvalidEmail is returned by NormalizeEmail for anything that is not a
// plain, deliverable-looking address.
var ErrInvalidEmail = errors.New("identity: invalid email address")

// NormalizeEmail returns the canonical form of an email address used for
// lookups and uniqueness: Unicode NFKC, surrounding space trimmed, the
// local part and domain lower-cased, and the domain converted to its ASCII
// (punycode) form. It rejects display names, comments, and addresses over
// 254 octets.
func NormalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(norm.NFKC.String(s))
	if s == "" || len(s) > 254 || !utf8.ValidString(s) {
		return "", ErrInvalidEmail
	}
	for _, r := range s {
		if r < 0x21 || r == 0x7f || r == '<' || r == '>' || r == '(' || r == ')' || r == ',' || r == ';' || r == '"' || r == '\\' {
			return "", ErrInvalidEmail
		}
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || at > 64 {
		return "", ErrInvalidEmail
	}
	local, domain := strings.ToLower(s[:at]), strings.ToLower(s[at+1:])
	ascii, err := idna.Lookup.ToASCII(domain)
	if err != nil || !strings.Contains(ascii, ".") || strings.HasPrefix(ascii, ".") || strings.HasSuffix(ascii, ".") || strings.Contains(ascii, "..") {
		return "", ErrInvalidEmail
	}
	addr := local + "@" + ascii
	parsed, err := mail.ParseAddress(addr)
	if err != nil || parsed.Address != addr || parsed.Name != "" {
		return "", ErrInvalidEmail
	}
	return addr, nil
}
