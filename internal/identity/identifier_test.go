package identity

import "testing"

func TestNormalizeEmail(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"alice@example.com", "alice@example.com", true},
		{"  Alice@Example.COM ", "alice@example.com", true},
		{"ＡＬＩＣＥ@example.com", "alice@example.com", true}, // fullwidth → NFKC
		{"bob@bücher.de", "bob@xn--bcher-kva.de", true},
		{"bob@BÜCHER.de", "bob@xn--bcher-kva.de", true},
		{"first.last+tag@sub.example.org", "first.last+tag@sub.example.org", true},
		{"", "", false},
		{"alice", "", false},
		{"alice@", "", false},
		{"@example.com", "", false},
		{"alice@localhost", "", false},
		{"Alice <alice@example.com>", "", false},
		{"alice@example..com", "", false},
		{"ali ce@example.com", "", false},
		{"alice@exa mple.com", "", false},
		{"a\"b@example.com", "", false},
		{string(make([]byte, 300)) + "@example.com", "", false},
	}
	for _, tt := range tests {
		got, err := NormalizeEmail(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("NormalizeEmail(%q) = %q, %v; want %q ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}
