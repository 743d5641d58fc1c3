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
	// KindPhone is a mobile number in E.164 form ("+447946000123"): a
	// channel for codes by text message once verified.
	KindPhone = "phone"
)

// ErrInvalidPhone is returned by NormalizePhone for anything that is not
// an international phone number.
var ErrInvalidPhone = errors.New("identity: invalid phone number")

// NormalizePhone returns a phone number in E.164 form: "+", the country
// code and the number, digits only. It takes the international form as
// people write it ("+44 20 7946 0958", "+1 (555) 010-4477", "0044…"); a
// national number without its country code is refused, since the same
// digits mean different lines in different countries.
func NormalizePhone(s string) (string, error) {
	s = strings.TrimSpace(norm.NFKC.String(s))
	// "+44 (0)20 …": the national trunk prefix in brackets is not dialled
	// from abroad.
	s = strings.Replace(s, "(0)", "", 1)
	if strings.HasPrefix(s, "00") {
		s = "+" + s[2:]
	}
	if !strings.HasPrefix(s, "+") {
		return "", ErrInvalidPhone
	}
	var b strings.Builder
	b.WriteByte('+')
	for _, r := range s[1:] {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r == ' ' || r == '-' || r == '.' || r == '(' || r == ')':
		default:
			return "", ErrInvalidPhone
		}
	}
	out := b.String()
	if len(out) < 9 || len(out) > 16 || out[1] == '0' {
		return "", ErrInvalidPhone
	}
	return out, nil
}

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
