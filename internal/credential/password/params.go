package password

import "fmt"

// Params are the Argon2id cost parameters and sizes of a password hash.
type Params struct {
	// Memory is the memory cost in KiB.
	Memory uint32
	// Iterations is the number of passes over the memory (time cost).
	Iterations uint32
	// Parallelism is the number of lanes (threads) used per hash.
	Parallelism uint8
	// SaltLength is the length in bytes of the random salt.
	SaltLength uint32
	// KeyLength is the length in bytes of the derived key stored in the hash.
	KeyLength uint32
}

// Bounds checked by Params.Validate for parameters of new hashes.
const (
	minMemory     = 1024            // KiB
	maxMemory     = 2 * 1024 * 1024 // KiB (2 GiB, RFC 9106's first recommended option)
	maxIterations = 64
	minSaltLength = 16
	maxSaltLength = 64
	minKeyLength  = 16
	maxKeyLength  = 64
)

// Looser lower bounds accepted in stored hashes (see Params.checkStored).
const (
	minStoredSaltLength = 8  // Argon2's minimum
	minStoredKeyLength  = 12 // what the reference implementation decodes
)

// DefaultParams returns the OWASP Password Storage Cheat Sheet recommendation
// for Argon2id: 19 MiB of memory, 2 iterations, 1 lane, a 16-byte salt and a
// 32-byte key.
func DefaultParams() Params {
	return Params{
		Memory:      19 * 1024,
		Iterations:  2,
		Parallelism: 1,
		SaltLength:  16,
		KeyLength:   32,
	}
}

// Validate reports whether p is fit for new hashes. The error names the field
// and the bound it breaks.
func (p Params) Validate() error {
	switch {
	case p.Memory < minMemory:
		return fmt.Errorf("password: params: memory must be at least %d KiB, got %d", minMemory, p.Memory)
	case p.Memory > maxMemory:
		return fmt.Errorf("password: params: memory must be at most %d KiB, got %d", maxMemory, p.Memory)
	case p.Iterations < 1:
		return fmt.Errorf("password: params: iterations must be at least 1, got %d", p.Iterations)
	case p.Iterations > maxIterations:
		return fmt.Errorf("password: params: iterations must be at most %d, got %d", maxIterations, p.Iterations)
	case p.Parallelism < 1:
		return fmt.Errorf("password: params: parallelism must be at least 1, got %d", p.Parallelism)
	case p.Memory < 8*uint32(p.Parallelism):
		return fmt.Errorf("password: params: memory must be at least 8 KiB per lane (%d KiB for parallelism %d), got %d",
			8*uint32(p.Parallelism), p.Parallelism, p.Memory)
	case p.SaltLength < minSaltLength:
		return fmt.Errorf("password: params: salt length must be at least %d bytes, got %d", minSaltLength, p.SaltLength)
	case p.SaltLength > maxSaltLength:
		return fmt.Errorf("password: params: salt length must be at most %d bytes, got %d", maxSaltLength, p.SaltLength)
	case p.KeyLength < minKeyLength:
		return fmt.Errorf("password: params: key length must be at least %d bytes, got %d", minKeyLength, p.KeyLength)
	case p.KeyLength > maxKeyLength:
		return fmt.Errorf("password: params: key length must be at most %d bytes, got %d", maxKeyLength, p.KeyLength)
	}
	return nil
}

// checkStored reports whether the parameters read from a stored hash may be
// verified. The upper bounds are those of Validate, so that a forged or
// corrupted hash cannot make the server allocate gigabytes; the lower bounds
// are Argon2's own, so that weaker hashes imported from another system still
// verify (and are then reported as needing a rehash).
func (p Params) checkStored() error {
	switch {
	case p.Memory > maxMemory:
		return fmt.Errorf("memory above %d KiB", maxMemory)
	case p.Iterations < 1 || p.Iterations > maxIterations:
		return fmt.Errorf("iterations out of range 1..%d", maxIterations)
	case p.Parallelism < 1:
		return fmt.Errorf("parallelism below 1")
	case p.Memory < 8*uint32(p.Parallelism):
		return fmt.Errorf("memory below 8 KiB per lane")
	case p.SaltLength < minStoredSaltLength || p.SaltLength > maxSaltLength:
		return fmt.Errorf("salt length out of range %d..%d bytes", minStoredSaltLength, maxSaltLength)
	case p.KeyLength < minStoredKeyLength || p.KeyLength > maxKeyLength:
		return fmt.Errorf("key length out of range %d..%d bytes", minStoredKeyLength, maxKeyLength)
	}
	return nil
}
