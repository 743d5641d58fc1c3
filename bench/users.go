package main

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/foyer-id/foyer/internal/credential/password"
	"os"
)

// user is one line of the users file written by setup.
type user struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	Token    string `json:"token"`
	// Device is the id the user's app keeps (X-Foyer-Device): a sign-in
	// from it is a returning customer's, on a device the account knows.
	Device string `json:"device,omitempty"`
}

// newDevice returns a device id as an app makes one: 128 random bits in
// base64url.
func newDevice() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// newPassword returns a password for addr that the server's policy takes:
// 20 random ASCII letters (about 114 bits), never on a common-password
// list and without the address's number (no digits), drawn again in the
// rare case it contains a word of the address ("bench", spelt either way).
func newPassword(addr string) string {
	policy := password.DefaultPolicy()
	for {
		if pw := randomLetters(20); policy.Check(pw, addr) == nil {
			return pw
		}
	}
}

// randomLetters returns n random ASCII letters.
func randomLetters(n int) string {
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	b := make([]byte, n)
	for i := range b {
		var r [1]byte
		for {
			if _, err := rand.Read(r[:]); err != nil {
				panic(err) // crypto/rand does not fail
			}
			if int(r[0]) < 256-256%len(letters) { // no modulo bias
				break
			}
		}
		b[i] = letters[int(r[0])%len(letters)]
	}
	return string(b)
}

// writeUsers writes the created users as JSON lines, readable only by the
// owner (it holds passwords and session tokens), and returns how many.
func writeUsers(path string, users []*user) (int, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	n := 0
	for _, u := range users {
		if u == nil {
			continue // its sign-up failed
		}
		if err := enc.Encode(u); err != nil {
			return 0, err
		}
		n++
	}
	if n == 0 {
		return 0, errors.New("setup: no user was created, nothing written")
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		return 0, fmt.Errorf("setup: write users: %w", err)
	}
	return n, nil
}

// readUsers reads a users file written by setup.
func readUsers(path string) ([]*user, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("users: %w (run the setup scenario first)", err)
	}
	defer f.Close()
	var users []*user
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		if len(bytes.TrimSpace(sc.Bytes())) == 0 {
			continue
		}
		u := &user{}
		if err := json.Unmarshal(sc.Bytes(), u); err != nil {
			return nil, fmt.Errorf("users: %s:%d: %w", path, line, err)
		}
		if u.Email == "" || u.Password == "" || u.Token == "" {
			return nil, fmt.Errorf("users: %s:%d: email, password and token are all required", path, line)
		}
		users = append(users, u)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("users: %s: %w", path, err)
	}
	if len(users) == 0 {
		return nil, fmt.Errorf("users: %s holds no users (run the setup scenario first)", path)
	}
	return users, nil
}
