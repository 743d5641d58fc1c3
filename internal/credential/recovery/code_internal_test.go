package recovery

import (
	"regexp"
	"testing"
)

func TestNewCodeShape(t *testing.T) {
	shape := regexp.MustCompile(`^[0-9a-hjkmnp-tv-z]{5}-[0-9a-hjkmnp-tv-z]{5}$`)
	for range 1000 {
		c := newCode()
		if !shape.MatchString(c) {
			t.Fatalf("code %q has the wrong shape", c)
		}
		if n, ok := normalize(c); !ok || len(n) != CodeLength {
			t.Fatalf("normalize(%q) = %q, %v", c, n, ok)
		}
	}
}

func TestNormalize(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"7hk2m-x9q4d", "7hk2mx9q4d", true},
		{"7HK2M-X9Q4D", "7hk2mx9q4d", true},
		{" 7hk2m x9q4d ", "7hk2mx9q4d", true},
		{"7hk2mx9q4d", "7hk2mx9q4d", true},
		{"7h-k2-mx-9q-4d", "7hk2mx9q4d", true},
		{"Oo1Il-abcde", "00111abcde", true}, // o→0, i and l→1
		{"7hk2m-x9q4", "", false},           // too short
		{"7hk2m-x9q4dd", "", false},         // too long
		{"7hk2m-x9q4u", "", false},          // u is not in the alphabet
		{"7hk2m_x9q4d", "", false},
		{"7hk2m-x9q4é", "", false},
		{"", "", false},
	} {
		got, ok := normalize(tc.in)
		if ok != tc.ok || ok && got != tc.want {
			t.Errorf("normalize(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
