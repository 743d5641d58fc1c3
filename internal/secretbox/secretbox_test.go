package secretbox

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestSealOpen(t *testing.T) {
	secret := []byte(strings.Repeat("s", 32))
	b, _ := New(secret, "purpose one v1")
	sealed := b.Seal("row-1", []byte("hunter2"))
	if strings.Contains(sealed, "hunter2") || sealed == b.Seal("row-1", []byte("hunter2")) {
		t.Fatal("sealing is not randomised or leaks the plaintext")
	}
	got, err := b.Open("row-1", sealed)
	if err != nil || !bytes.Equal(got, []byte("hunter2")) {
		t.Fatalf("open: %q %v", got, err)
	}
	other, _ := New(secret, "purpose two v1")
	wrongSecret, _ := New([]byte(strings.Repeat("x", 32)), "purpose one v1")
	for name, open := range map[string]func() ([]byte, error){
		"other row":     func() ([]byte, error) { return b.Open("row-2", sealed) },
		"other purpose": func() ([]byte, error) { return other.Open("row-1", sealed) },
		"other secret":  func() ([]byte, error) { return wrongSecret.Open("row-1", sealed) },
		"garbage":       func() ([]byte, error) { return b.Open("row-1", "!!") },
		"truncated":     func() ([]byte, error) { return b.Open("row-1", sealed[:10]) },
	} {
		if _, err := open(); !errors.Is(err, ErrOpen) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
