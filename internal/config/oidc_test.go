package config

import (
	"strings"
	"testing"
)

// Dynamic client registration is off unless the operator says token or
// open, in the file or the environment; anything else names the key.
func TestOIDCRegistration(t *testing.T) {
	c, err := Load(write(t, "dev: true\n"), nil)
	if err != nil || c.Finish() != nil || c.OIDC.Registration != RegistrationOff || c.OIDC.RegistrationsPerNetwork != 100 {
		t.Fatalf("default: %+v %v", c.OIDC, err)
	}
	c, err = Load(write(t, "dev: true\noidc:\n  registration: open\n  registrations_per_network: 7\n"), []string{"FOYER_OIDC_REGISTRATION=token"})
	if err != nil || c.Finish() != nil || c.OIDC.Registration != RegistrationToken || c.OIDC.RegistrationsPerNetwork != 7 {
		t.Fatalf("file and environment: %+v %v", c.OIDC, err)
	}
	for _, tt := range []struct{ file, key string }{
		{"dev: true\noidc: {registration: yes}\n", "oidc.registration"},
		{"dev: true\noidc: {registration: ''}\n", "oidc.registration"},
		{"dev: true\noidc: {registrations_per_network: 0}\n", "oidc.registrations_per_network"},
		{"dev: true\noidc: {registraton: open}\n", `unknown key "registraton"`},
	} {
		c, err := Load(write(t, tt.file), nil)
		if err == nil {
			err = c.Finish()
		}
		if err == nil || !strings.Contains(err.Error(), tt.key) {
			t.Errorf("%q: %v, want an error naming %s", tt.file, err, tt.key)
		}
	}
	// The example file documents the defaults.
	c, err = Load("../../foyer.example.yaml", nil)
	if err != nil || c.OIDC != Default().OIDC {
		t.Fatalf("example: %+v %v", c.OIDC, err)
	}
}
