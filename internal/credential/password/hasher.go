package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"fmt"
	"io"
	"runtime"
	"sync"

	"golang.org/x/crypto/argon2"
)

// Hasher hashes and verifies passwords with Argon2id. Each hash holds
// Params.Memory KiB for its duration, so a Hasher runs at most a fixed number
// of them at once; callers beyond that wait, or give up when their context
// ends. A Hasher is safe for concurrent use.
type Hasher struct {
	params    Params
	paramsErr error         // params.Validate(), reported by Hash
	sem       chan struct{} // one token per running hash

	// derive computes the Argon2id key; tests replace it to observe calls.
	derive func(password, salt []byte, p Params) []byte
	// rand is the source of salts.
	rand io.Reader

	dummyOnce sync.Once
	dummy     string // PHC string at params with a random salt and key
}

// NewHasher returns a Hasher that makes new hashes with p and runs at most
// maxConcurrent hashes at once; maxConcurrent <= 0 means runtime.NumCPU().
// p should have passed Params.Validate; if it has not, Hash returns that
// error.
func NewHasher(p Params, maxConcurrent int) *Hasher {
	if maxConcurrent <= 0 {
		maxConcurrent = runtime.NumCPU()
	}
	return &Hasher{
		params:    p,
		paramsErr: p.Validate(),
		sem:       make(chan struct{}, maxConcurrent),
		derive:    deriveArgon2id,
		rand:      rand.Reader,
	}
}

func deriveArgon2id(password, salt []byte, p Params) []byte {
	return argon2.IDKey(password, salt, p.Iterations, p.Memory, p.Parallelism, p.KeyLength)
}

// Params returns the parameters h uses for new hashes.
func (h *Hasher) Params() Params {
	return h.params
}

// Hash returns the Argon2id hash of the NFKC form of password as a PHC string
// with a fresh random salt, such as $argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>
// for DefaultParams. The whole password is hashed, whatever its length. Hash
// fails if ctx ends while it waits for a free slot.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if h.paramsErr != nil {
		return "", fmt.Errorf("password: hash: %w", h.paramsErr)
	}
	salt := make([]byte, h.params.SaltLength)
	if _, err := io.ReadFull(h.rand, salt); err != nil {
		return "", fmt.Errorf("password: hash: read salt: %w", err)
	}
	key, err := h.compute(ctx, password, salt, h.params)
	if err != nil {
		return "", fmt.Errorf("password: hash: %w", err)
	}
	return encodePHC(h.params, salt, key), nil
}

// Verify reports whether password matches encoded, a PHC string made by Hash
// (or by another Argon2id implementation in the same format). It recomputes
// the key with the parameters stored in encoded and compares in constant
// time. needsRehash is true when the password matches but the stored
// parameters differ from h's: the caller should then store a fresh Hash of
// the password. A malformed encoded gives an error wrapping ErrMalformedHash;
// a context that ends while Verify waits for a free slot gives ctx's error.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (ok, needsRehash bool, err error) {
	p, salt, want, err := decodePHC(encoded)
	if err != nil {
		return false, false, fmt.Errorf("password: verify: %w", err)
	}
	got, err := h.compute(ctx, password, salt, p)
	if err != nil {
		return false, false, fmt.Errorf("password: verify: %w", err)
	}
	if subtle.ConstantTimeCompare(got, want) != 1 {
		return false, false, nil
	}
	return true, p != h.params, nil
}

// VerifyDummy does the work of a Verify at h's parameters and throws the
// result away. Call it when a sign-in names an account that does not exist, so
// that the response takes as long as for a wrong password and does not tell
// whether the account exists. The dummy hash is made on first use, from random
// bytes: no password matches it.
func (h *Hasher) VerifyDummy(ctx context.Context, password string) {
	if h.paramsErr != nil {
		return // Hash fails too: the configuration must be fixed
	}
	h.dummyOnce.Do(func() {
		p := h.params
		salt := make([]byte, p.SaltLength)
		key := make([]byte, p.KeyLength)
		// crypto/rand does not fail; should an injected source fail, the
		// zero bytes left in salt and key still make a hash of the same cost.
		io.ReadFull(h.rand, salt)
		io.ReadFull(h.rand, key)
		h.dummy = encodePHC(p, salt, key)
	})
	h.Verify(ctx, password, h.dummy)
}

// compute derives the key for the NFKC form of password once a hashing slot
// is free, or fails with ctx's error if ctx ends first.
func (h *Hasher) compute(ctx context.Context, password string, salt []byte, p Params) ([]byte, error) {
	pw := []byte(Normalize(password))
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case h.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-h.sem }()
	return h.derive(pw, salt, p), nil
}
