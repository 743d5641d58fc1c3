package totp

import (
	"testing"
	"time"
)

// RFC 6238 Appendix B, SHA-1 rows, truncated to 6 digits (the last six of
// the RFC's 8-digit values).
func TestHOTPVectors(t *testing.T) {
	key := []byte("12345678901234567890")
	for _, tc := range []struct {
		unix int64
		want string
	}{
		{59, "287082"},
		{1111111109, "081804"},
		{1111111111, "050471"},
		{1234567890, "005924"},
		{2000000000, "279037"},
		{20000000000, "353130"},
	} {
		got := hotp(key, uint64(step(time.Unix(tc.unix, 0))))
		if string(got[:]) != tc.want {
			t.Errorf("T=%d: got %s, want %s", tc.unix, got, tc.want)
		}
	}
}

func TestNormalize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string
		ok   bool
	}{
		{"123456", "123456", true},
		{" 123 456 ", "123456", true},
		{"12345", "", false},
		{"1234567", "", false},
		{"12345a", "", false},
		{"１２３４５６", "", false}, // full-width digits are not ASCII
		{"", "", false},
	} {
		got, ok := normalize(tc.in)
		if ok != tc.ok || ok && string(got[:]) != tc.want {
			t.Errorf("normalize(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestMatchWindow(t *testing.T) {
	key := []byte("12345678901234567890")
	now := time.Unix(1_700_000_000, 0)
	cur := step(now)
	for d := int64(-3); d <= 3; d++ {
		code := hotp(key, uint64(cur+d))
		st, ok := match(key, code, now)
		wantOK := d >= -Skew && d <= Skew
		if ok != wantOK || ok && st != cur+d {
			t.Errorf("offset %d: got step %d, %v; want %d, %v", d, st, ok, cur+d, wantOK)
		}
	}
}
