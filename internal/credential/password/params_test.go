package password_test

import (
	"strings"
	"testing"

	"github.com/foyer-id/foyer/internal/credential/password"
)

func TestDefaultParams(t *testing.T) {
	want := password.Params{Memory: 19456, Iterations: 2, Parallelism: 1, SaltLength: 16, KeyLength: 32}
	if got := password.DefaultParams(); got != want {
		t.Fatalf("DefaultParams() = %+v, want %+v", got, want)
	}
	if err := want.Validate(); err != nil {
		t.Fatalf("DefaultParams().Validate() = %v", err)
	}
	if got := password.NewHasher(want, 0).Params(); got != want {
		t.Fatalf("Hasher.Params() = %+v, want %+v", got, want)
	}
}

func TestParamsValidate(t *testing.T) {
	with := func(f func(*password.Params)) password.Params {
		p := password.DefaultParams()
		f(&p)
		return p
	}
	tests := []struct {
		name    string
		params  password.Params
		wantErr string // substring; "" for valid
	}{
		{"default", password.DefaultParams(), ""},
		{"test params", cheap, ""},
		{"RFC 9106 second option", with(func(p *password.Params) { p.Memory = 64 * 1024; p.Iterations = 3; p.Parallelism = 4 }), ""},
		{"zero", password.Params{}, "memory must be at least 1024 KiB"},
		{"memory too low", with(func(p *password.Params) { p.Memory = 1023 }), "memory must be at least 1024 KiB"},
		{"memory in bytes by mistake", with(func(p *password.Params) { p.Memory = 19456 * 1024 }), "memory must be at most"},
		{"zero iterations", with(func(p *password.Params) { p.Iterations = 0 }), "iterations must be at least 1"},
		{"too many iterations", with(func(p *password.Params) { p.Iterations = 65 }), "iterations must be at most 64"},
		{"zero parallelism", with(func(p *password.Params) { p.Parallelism = 0 }), "parallelism must be at least 1"},
		{"too many lanes for memory", with(func(p *password.Params) { p.Memory = 1024; p.Parallelism = 255 }), "8 KiB per lane"},
		{"short salt", with(func(p *password.Params) { p.SaltLength = 8 }), "salt length must be at least 16"},
		{"long salt", with(func(p *password.Params) { p.SaltLength = 65 }), "salt length must be at most 64"},
		{"short key", with(func(p *password.Params) { p.KeyLength = 15 }), "key length must be at least 16"},
		{"long key", with(func(p *password.Params) { p.KeyLength = 65 }), "key length must be at most 64"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.params.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Validate() = %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}
