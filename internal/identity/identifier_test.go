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

func TestNormalizePhone(t *testing.T) {
	for in, want := range map[string]string{
		"+44 7946 000123":     "+447946000123",
		"0044 7946-000123":    "+447946000123",
		"+44 (0)20 7946 0958": "+442079460958",
		"+1 (555) 010-4477":   "+15550104477",
		"+４４７９４６０００１２３":       "+447946000123",
		"07946 000123":        "",
		"+0 7946 000123":      "",
		"+44 7946 000123 x12": "",
		"+1234567":            "",
		"+1234567890123456":   "",
	} {
		got, err := NormalizePhone(in)
		if want == "" {
			if err == nil {
				t.Errorf("NormalizePhone(%q) = %q, want an error", in, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("NormalizePhone(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
