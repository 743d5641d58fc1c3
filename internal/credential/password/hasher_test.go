package password_test

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/foyer-id/foyer/internal/credential/password"
)

// cheap are fast parameters for tests; only TestDefaultParams and the
// benchmarks use the real ones.
var cheap = password.Params{Memory: 1024, Iterations: 1, Parallelism: 1, SaltLength: 16, KeyLength: 32}

var phcPattern = regexp.MustCompile(`^\$argon2id\$v=19\$m=1024,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)

// long300 is a 300-byte password; long300b differs from it only at byte 200.
var (
	long300  = strings.Repeat("abcdefghij", 30)
	long300b = long300[:200] + "X" + long300[201:]
)

func TestHashVerifyRoundTrip(t *testing.T) {
	h := password.NewHasher(cheap, 2)
	ctx := context.Background()
	tests := []struct {
		name     string
		password string
		wrong    []string
	}{
		{"ascii", "correct-horse-battery", []string{"correct-horse-batterY", "correct-horse-battery ", "", "Correct-horse-battery"}},
		{"unicode", "pässwörd-ünïcode-✓", []string{"passwörd-ünïcode-✓", "pässwörd-ünïcode-✗", "pässwörd-ünïcode"}},
		{"emoji", "🦊🌲🏔️🚲☕🎸🌊🦉", []string{"🦊🌲🏔️🚲☕🎸🌊", "🦉🌊🎸☕🚲🏔️🌲🦊"}},
		{"empty", "", []string{" ", "\x00"}},
		{"300 bytes", long300, []string{long300b, long300[:299], long300[:72], long300[:256], long300 + "a"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			encoded, err := h.Hash(ctx, tt.password)
			if err != nil {
				t.Fatalf("Hash: %v", err)
			}
			if !phcPattern.MatchString(encoded) {
				t.Fatalf("Hash = %q, not a PHC string at the test parameters", encoded)
			}
			ok, rehash, err := h.Verify(ctx, tt.password, encoded)
			if err != nil || !ok || rehash {
				t.Fatalf("Verify(right password) = %v, %v, %v; want true, false, nil", ok, rehash, err)
			}
			for _, w := range tt.wrong {
				ok, rehash, err := h.Verify(ctx, w, encoded)
				if err != nil || ok || rehash {
					t.Errorf("Verify(%q) = %v, %v, %v; want false, false, nil", w, ok, rehash, err)
				}
			}
		})
	}
}

func TestHashSalts(t *testing.T) {
	h := password.NewHasher(cheap, 1)
	a, err := h.Hash(context.Background(), "same password")
	if err != nil {
		t.Fatal(err)
	}
	b, err := h.Hash(context.Background(), "same password")
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatalf("two hashes of one password are equal: %q", a)
	}
}

func TestNoTruncation(t *testing.T) {
	if len(long300) != 300 || long300[200] == long300b[200] || long300[:200] != long300b[:200] || long300[201:] != long300b[201:] {
		t.Fatal("test passwords are not as described")
	}
	h := password.NewHasher(cheap, 1)
	ctx := context.Background()
	for _, pair := range [][2]string{{long300, long300b}, {long300b, long300}} {
		encoded, err := h.Hash(ctx, pair[0])
		if err != nil {
			t.Fatal(err)
		}
		if ok, _, err := h.Verify(ctx, pair[1], encoded); ok || err != nil {
			t.Errorf("a password differing at byte 200 verified: ok=%v err=%v", ok, err)
		}
	}
}

func TestNFKCEquivalence(t *testing.T) {
	h := password.NewHasher(cheap, 2)
	ctx := context.Background()
	tests := []struct {
		name, hashed, typed string
	}{
		{"ligature", "ﬁnancial-ﬁle-ﬁx", "financial-file-fix"},
		{"composed and decomposed", "caf\u00e9-cr\u00e8me-br\u00fbl\u00e9e", "cafe\u0301-cre\u0300me-bru\u0302le\u0301e"},
		{"full width", "ｆｕｌｌｗｉｄｔｈ２０２４", "fullwidth2024"},
		{"superscript", "x²+y²=z²", "x2+y2=z2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.hashed == tt.typed {
				t.Fatal("test strings are byte-equal")
			}
			if password.Normalize(tt.hashed) != password.Normalize(tt.typed) {
				t.Fatalf("Normalize(%q) = %q, Normalize(%q) = %q", tt.hashed, password.Normalize(tt.hashed), tt.typed, password.Normalize(tt.typed))
			}
			encoded, err := h.Hash(ctx, tt.hashed)
			if err != nil {
				t.Fatal(err)
			}
			if ok, _, err := h.Verify(ctx, tt.typed, encoded); !ok || err != nil {
				t.Errorf("Verify(%q) against Hash(%q) = %v, %v; want true", tt.typed, tt.hashed, ok, err)
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"plain", "plain"},
		{"ﬁ", "fi"},
		{"e\u0301", "\u00e9"},
		{"Ａ", "A"},
		{"Ⅻ", "XII"},
		{"CASE", "CASE"}, // NFKC keeps case
	}
	for _, tt := range tests {
		if got := password.Normalize(tt.in); got != tt.want {
			t.Errorf("Normalize(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestVerifyReferenceVector checks interoperability with the Argon2 reference
// implementation's test vector (password "password", salt "somesalt").
func TestVerifyReferenceVector(t *testing.T) {
	const ref = "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHQ$nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4"
	h := password.NewHasher(cheap, 1)
	ok, rehash, err := h.Verify(context.Background(), "password", ref)
	if err != nil || !ok || !rehash {
		t.Fatalf("Verify(reference) = %v, %v, %v; want true, true, nil", ok, rehash, err)
	}
	ok, rehash, err = h.Verify(context.Background(), "passwore", ref)
	if err != nil || ok || rehash {
		t.Fatalf("Verify(wrong, reference) = %v, %v, %v; want false, false, nil", ok, rehash, err)
	}
}

func TestVerifyMalformed(t *testing.T) {
	const (
		salt = "c29tZXNhbHQ"
		key  = "nf65EOgLrQMR/uIPnA4rEsF5h7TKyQwu9U1bMCHGi/4"
	)
	good := "$argon2id$v=19$m=256,t=2,p=1$" + salt + "$" + key
	tests := []struct{ name, encoded string }{
		{"empty", ""},
		{"garbage", "not a hash"},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"argon2i", "$argon2i$v=19$m=256,t=2,p=1$" + salt + "$" + key},
		{"argon2d", "$argon2d$v=19$m=256,t=2,p=1$" + salt + "$" + key},
		{"upper-case algorithm", "$ARGON2ID$v=19$m=256,t=2,p=1$" + salt + "$" + key},
		{"no leading dollar", good[1:]},
		{"trailing dollar", good + "$"},
		{"trailing newline", good + "\n"},
		{"missing version", "$argon2id$m=256,t=2,p=1$" + salt + "$" + key},
		{"version 16", "$argon2id$v=16$m=256,t=2,p=1$" + salt + "$" + key},
		{"version leading zero", "$argon2id$v=019$m=256,t=2,p=1$" + salt + "$" + key},
		{"params out of order", "$argon2id$v=19$t=2,m=256,p=1$" + salt + "$" + key},
		{"missing param", "$argon2id$v=19$m=256,t=2$" + salt + "$" + key},
		{"extra param", "$argon2id$v=19$m=256,t=2,p=1,keyid=abc$" + salt + "$" + key},
		{"space in params", "$argon2id$v=19$m=256, t=2,p=1$" + salt + "$" + key},
		{"leading zero", "$argon2id$v=19$m=0256,t=2,p=1$" + salt + "$" + key},
		{"plus sign", "$argon2id$v=19$m=+256,t=2,p=1$" + salt + "$" + key},
		{"negative", "$argon2id$v=19$m=256,t=-2,p=1$" + salt + "$" + key},
		{"hex", "$argon2id$v=19$m=0x100,t=2,p=1$" + salt + "$" + key},
		{"empty value", "$argon2id$v=19$m=,t=2,p=1$" + salt + "$" + key},
		{"memory overflows uint32", "$argon2id$v=19$m=4294967296,t=2,p=1$" + salt + "$" + key},
		{"memory above bound", "$argon2id$v=19$m=4294967295,t=2,p=1$" + salt + "$" + key},
		{"memory below 8 KiB per lane", "$argon2id$v=19$m=8,t=2,p=2$" + salt + "$" + key},
		{"zero iterations", "$argon2id$v=19$m=256,t=0,p=1$" + salt + "$" + key},
		{"too many iterations", "$argon2id$v=19$m=256,t=1000000,p=1$" + salt + "$" + key},
		{"zero parallelism", "$argon2id$v=19$m=256,t=2,p=0$" + salt + "$" + key},
		{"parallelism overflows uint8", "$argon2id$v=19$m=256,t=2,p=256$" + salt + "$" + key},
		{"padded salt", "$argon2id$v=19$m=256,t=2,p=1$" + salt + "=$" + key},
		{"url-safe alphabet", "$argon2id$v=19$m=256,t=2,p=1$" + salt + "$" + strings.ReplaceAll(key, "/", "_")},
		{"non-canonical trailing bits", "$argon2id$v=19$m=256,t=2,p=1$c29tZXNhbHR$" + key},
		{"newline inside key", "$argon2id$v=19$m=256,t=2,p=1$" + salt + "$" + key[:20] + "\n" + key[20:]},
		{"short salt", "$argon2id$v=19$m=256,t=2,p=1$c29tZQ$" + key},
		{"empty salt", "$argon2id$v=19$m=256,t=2,p=1$$" + key},
		{"short key", "$argon2id$v=19$m=256,t=2,p=1$" + salt + "$nf65EOgLrQMR"},
		{"empty key", "$argon2id$v=19$m=256,t=2,p=1$" + salt + "$"},
		{"long key", "$argon2id$v=19$m=256,t=2,p=1$" + salt + "$" + strings.Repeat("A", 100)},
	}
	h := password.NewHasher(cheap, 1)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, rehash, err := h.Verify(context.Background(), "password", tt.encoded)
			if !errors.Is(err, password.ErrMalformedHash) {
				t.Fatalf("Verify(%q) error = %v, want ErrMalformedHash", tt.encoded, err)
			}
			if ok || rehash {
				t.Fatalf("Verify(%q) = %v, %v with an error", tt.encoded, ok, rehash)
			}
			if strings.Contains(err.Error(), key) || strings.Contains(err.Error(), salt) {
				t.Fatalf("error %q quotes the hash", err)
			}
		})
	}
	// The untouched string verifies, so each case above fails for its change.
	if ok, _, err := h.Verify(context.Background(), "password", good); !ok || err != nil {
		t.Fatalf("Verify(good) = %v, %v", ok, err)
	}
}

func TestVerifyNeedsRehash(t *testing.T) {
	ctx := context.Background()
	with := func(f func(*password.Params)) password.Params {
		p := cheap
		f(&p)
		return p
	}
	tests := []struct {
		name   string
		stored password.Params
		want   bool
	}{
		{"same", cheap, false},
		{"memory", with(func(p *password.Params) { p.Memory = 2048 }), true},
		{"iterations", with(func(p *password.Params) { p.Iterations = 2 }), true},
		{"parallelism", with(func(p *password.Params) { p.Parallelism = 2 }), true},
		{"salt length", with(func(p *password.Params) { p.SaltLength = 24 }), true},
		{"key length", with(func(p *password.Params) { p.KeyLength = 48 }), true},
	}
	current := password.NewHasher(cheap, 2)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			encoded, err := password.NewHasher(tt.stored, 1).Hash(ctx, "rehash me please")
			if err != nil {
				t.Fatal(err)
			}
			ok, rehash, err := current.Verify(ctx, "rehash me please", encoded)
			if err != nil || !ok || rehash != tt.want {
				t.Fatalf("Verify = %v, %v, %v; want true, %v, nil", ok, rehash, err, tt.want)
			}
			// A wrong password never asks for a rehash.
			if ok, rehash, err := current.Verify(ctx, "wrong", encoded); ok || rehash || err != nil {
				t.Fatalf("Verify(wrong) = %v, %v, %v; want false, false, nil", ok, rehash, err)
			}
		})
	}
}

func TestCancelledContext(t *testing.T) {
	h := password.NewHasher(cheap, 1)
	encoded, err := h.Hash(context.Background(), "some password")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := h.Hash(ctx, "some password"); !errors.Is(err, context.Canceled) {
		t.Errorf("Hash with cancelled context: error = %v, want context.Canceled", err)
	}
	if ok, _, err := h.Verify(ctx, "some password", encoded); ok || !errors.Is(err, context.Canceled) {
		t.Errorf("Verify with cancelled context = %v, %v; want false, context.Canceled", ok, err)
	}
	h.VerifyDummy(ctx, "some password") // returns, doing no work
}

func TestHashInvalidParams(t *testing.T) {
	h := password.NewHasher(password.Params{}, 1)
	_, err := h.Hash(context.Background(), "some password")
	if err == nil || !strings.Contains(err.Error(), "memory") {
		t.Fatalf("Hash with zero Params: error = %v, want one about memory", err)
	}
	h.VerifyDummy(context.Background(), "some password") // must not panic
}

func TestVerifyDummy(t *testing.T) {
	h := password.NewHasher(cheap, 1)
	for _, pw := range []string{"", "password", long300} {
		h.VerifyDummy(context.Background(), pw) // no result; must not panic
	}
}

func BenchmarkHashDefault(b *testing.B) {
	h := password.NewHasher(password.DefaultParams(), 1)
	ctx := context.Background()
	for b.Loop() {
		if _, err := h.Hash(ctx, "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerifyDefault(b *testing.B) {
	h := password.NewHasher(password.DefaultParams(), 1)
	ctx := context.Background()
	encoded, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if ok, _, err := h.Verify(ctx, "correct horse battery staple", encoded); !ok || err != nil {
			b.Fatal(ok, err)
		}
	}
}
