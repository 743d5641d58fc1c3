package totp

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/binary"
	"time"
)

// The parameters every authenticator app supports (RFC 6238's defaults).
const (
	// Period is the time step: a code changes every 30 seconds.
	Period = 30 * time.Second
	// Digits is the length of a code.
	Digits = 6
	// Skew is how many steps before and after the current one are
	// accepted, for clock drift and typing time.
	Skew = 1
	// SecretSize is the length of a shared secret in bytes: 160 bits, the
	// HMAC-SHA1 block-size recommendation of RFC 4226.
	SecretSize = 20
)

// step returns the RFC 6238 time step T for t: whole periods since the
// Unix epoch.
func step(t time.Time) int64 {
	return t.Unix() / int64(Period/time.Second)
}

// hotp returns the RFC 4226 code for counter as Digits ASCII digits.
func hotp(key []byte, counter uint64) [Digits]byte {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	mac := hmac.New(sha1.New, key)
	mac.Write(msg[:])
	sum := mac.Sum(nil)
	off := sum[len(sum)-1] & 0x0f
	v := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	var code [Digits]byte
	for i := Digits - 1; i >= 0; i-- {
		code[i] = '0' + byte(v%10)
		v /= 10
	}
	return code
}

// normalize strips the spaces some apps show in the middle of a code
// ("123 456") and reports whether what is left is Digits ASCII digits.
func normalize(code string) ([Digits]byte, bool) {
	var out [Digits]byte
	n := 0
	for i := 0; i < len(code); i++ {
		c := code[i]
		switch {
		case c == ' ' || c == '\t':
			continue
		case c < '0' || c > '9' || n == Digits:
			return out, false
		}
		out[n] = c
		n++
	}
	return out, n == Digits
}

// match returns the step within Skew of now whose code equals code, and
// whether there is one. Every candidate is computed and compared in
// constant time, with no early exit, so timing says nothing about how
// much of a code was right or which step matched. Should two steps give
// the same code, the latest wins.
func match(key []byte, code [Digits]byte, now time.Time) (int64, bool) {
	cur := step(now)
	found, ok := int64(0), false
	for s := max(cur-Skew, 0); s <= cur+Skew; s++ {
		want := hotp(key, uint64(s))
		if subtle.ConstantTimeCompare(want[:], code[:]) == 1 {
			found, ok = s, true
		}
	}
	return found, ok
}
