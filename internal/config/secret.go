package config

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// LoadSecret returns the server secret: the configured one, or in dev mode
// the one kept in <data>/secret, created on first use. Every command that
// needs it (serve, clients, keys) reads it the same way, so they agree.
func (c *Config) LoadSecret() ([]byte, error) {
	if c.Secret != "" {
		return []byte(c.Secret), nil
	}
	if !c.Dev {
		return nil, errors.New("secret: must be set outside dev mode (FOYER_SECRET)")
	}
	path := filepath.Join(c.Data, "secret")
	for range 2 {
		if b, err := os.ReadFile(path); err == nil {
			if s := strings.TrimSpace(string(b)); len(s) >= 32 {
				return []byte(s), nil
			}
			return nil, fmt.Errorf("secret: %s holds fewer than 32 characters", path)
		}
		var raw [32]byte
		if _, err := rand.Read(raw[:]); err != nil {
			return nil, err
		}
		s := base64.RawURLEncoding.EncodeToString(raw[:])
		if err := os.MkdirAll(c.Data, 0o700); err != nil {
			return nil, fmt.Errorf("data: %w", err)
		}
		// O_EXCL: when two processes start at once, one writes and the
		// other reads what it wrote.
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("data: write dev secret: %w", err)
		}
		_, werr := f.WriteString(s + "\n")
		if err := errors.Join(werr, f.Close()); err != nil {
			return nil, fmt.Errorf("data: write dev secret: %w", err)
		}
		return []byte(s), nil
	}
	return nil, fmt.Errorf("secret: could not read %s", path)
}
