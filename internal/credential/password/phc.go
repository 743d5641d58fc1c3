package password

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"
)

// ErrMalformedHash is wrapped by the error Verify returns when the stored hash
// is not an Argon2id PHC string this package accepts.
var ErrMalformedHash = errors.New("malformed hash")

// b64 is the PHC string format's Base64: standard alphabet, no padding.
var b64 = base64.RawStdEncoding.Strict()

// encodePHC formats a hash as a PHC string:
// $argon2id$v=19$m=<KiB>,t=<iterations>,p=<lanes>$<salt>$<key>.
func encodePHC(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Iterations, p.Parallelism,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

// decodePHC parses a PHC string written by encodePHC, or by another Argon2id
// implementation in the same format. It is strict: the algorithm must be
// argon2id, the version 19, the parameters exactly m, t and p in that order
// as canonical decimals, salt and key canonical unpadded Base64, and the
// parameters within Params.checkStored. Errors wrap ErrMalformedHash and never
// quote the salt or key.
func decodePHC(encoded string) (Params, []byte, []byte, error) {
	fail := func(what string) (Params, []byte, []byte, error) {
		return Params{}, nil, nil, fmt.Errorf("%w: %s", ErrMalformedHash, what)
	}
	fields := strings.Split(encoded, "$")
	if len(fields) != 6 || fields[0] != "" {
		return fail("want $argon2id$v=19$m=…,t=…,p=…$salt$key")
	}
	if fields[1] != "argon2id" {
		return fail("algorithm is not argon2id")
	}
	if fields[2] != "v="+strconv.Itoa(argon2.Version) {
		return fail("version is not v=19")
	}

	kv := strings.Split(fields[3], ",")
	if len(kv) != 3 {
		return fail("want parameters m, t and p")
	}
	m, err := decimal(kv[0], "m=", 32)
	if err != nil {
		return fail("memory: " + err.Error())
	}
	t, err := decimal(kv[1], "t=", 32)
	if err != nil {
		return fail("iterations: " + err.Error())
	}
	par, err := decimal(kv[2], "p=", 8)
	if err != nil {
		return fail("parallelism: " + err.Error())
	}

	salt, err := b64Field(fields[4])
	if err != nil {
		return fail("salt: " + err.Error())
	}
	key, err := b64Field(fields[5])
	if err != nil {
		return fail("key: " + err.Error())
	}

	p := Params{
		Memory:      uint32(m),
		Iterations:  uint32(t),
		Parallelism: uint8(par),
		SaltLength:  uint32(len(salt)),
		KeyLength:   uint32(len(key)),
	}
	if err := p.checkStored(); err != nil {
		return fail(err.Error())
	}
	return p, salt, key, nil
}

// decimal parses "<prefix><digits>" where digits is a canonical decimal (no
// sign, no leading zero) that fits in bits.
func decimal(s, prefix string, bits int) (uint64, error) {
	digits, ok := strings.CutPrefix(s, prefix)
	if !ok {
		return 0, fmt.Errorf("want %q", prefix)
	}
	if digits == "" || (len(digits) > 1 && digits[0] == '0') {
		return 0, errors.New("not a canonical decimal")
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, errors.New("not a canonical decimal")
		}
	}
	v, err := strconv.ParseUint(digits, 10, bits)
	if err != nil {
		return 0, errors.New("out of range")
	}
	return v, nil
}

// b64Field decodes canonical unpadded standard Base64. Re-encoding must give
// the input back, which also rejects the line breaks that encoding/base64
// otherwise skips.
func b64Field(s string) ([]byte, error) {
	b, err := b64.DecodeString(s)
	if err != nil || b64.EncodeToString(b) != s {
		return nil, errors.New("not canonical unpadded Base64")
	}
	return b, nil
}
