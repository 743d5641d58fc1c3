package challenge

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"math/bits"
	"strconv"
	"strings"
	"time"
)

// Algorithm names the proof of work, for clients that solve it.
const Algorithm = "sha256-leading-zero-bits"

// Lifetime is how long a challenge may be answered.
const Lifetime = 5 * time.Minute

// MaxDifficulty bounds what a challenge may ask, so a solver never loops
// for ever.
const MaxDifficulty = 32

// Slack is how many bits less than a network is asked now a challenge
// made for it earlier may have, and still answer: its difficulty may rise
// while a customer types, but challenges collected in bulk while it was
// low are no answer once it is higher.
const Slack = 1

// Challenge is what a client must solve.
type Challenge struct {
	// Token is the sealed challenge, sent back with the solution.
	Token string `json:"token"`
	// Algorithm is always "sha256-leading-zero-bits": find a nonce (a
	// decimal number) such that SHA-256(token + ":" + nonce) starts with
	// Difficulty zero bits.
	Algorithm  string    `json:"algorithm"`
	Difficulty int       `json:"difficulty"`
	ExpiresAt  time.Time `json:"expires_at"`
}

// Errors of Check. All mean "no valid proof": the caller asks again.
var (
	ErrInvalid = errors.New("challenge: not a valid proof")
	ErrExpired = errors.New("challenge: expired")
)

// Issuer makes and checks challenges under a key.
type Issuer struct {
	key []byte
	now func() time.Time
}

// NewIssuer returns an Issuer keyed with secret (the server secret; the
// key is derived from it for this use alone).
func NewIssuer(secret []byte, now func() time.Time) *Issuer {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("foyer challenge v1"))
	return &Issuer{key: m.Sum(nil), now: now}
}

// token layout, before base64url: version (1), id (16), expiry in Unix
// seconds (8), difficulty (1), then the MAC (32) over those and the scope.
const (
	idLen      = 16
	payloadLen = 1 + idLen + 8 + 1
	tokenLen   = payloadLen + sha256.Size
)

// New makes a challenge of difficulty for scope (which the answer must
// come from: a network).
func (i *Issuer) New(scope string, difficulty int) Challenge {
	difficulty = min(max(difficulty, 1), MaxDifficulty)
	exp := i.now().Add(Lifetime).Truncate(time.Second)
	b := make([]byte, payloadLen, tokenLen)
	b[0] = 1
	_, _ = rand.Read(b[1 : 1+idLen])
	binary.BigEndian.PutUint64(b[1+idLen:], uint64(exp.Unix()))
	b[payloadLen-1] = byte(difficulty)
	b = append(b, i.mac(b, scope)...)
	return Challenge{Token: base64.RawURLEncoding.EncodeToString(b), Algorithm: Algorithm, Difficulty: difficulty, ExpiresAt: exp.UTC()}
}

func (i *Issuer) mac(payload []byte, scope string) []byte {
	m := hmac.New(sha256.New, i.key)
	m.Write(payload)
	m.Write([]byte(scope))
	return m.Sum(nil)
}

// Proof is a solved challenge, as a client sends it.
type Proof struct {
	Token    string
	Solution string
}

// Check verifies that p solves a challenge this Issuer made for scope and
// that it has not expired. It returns the challenge's id (to spend once),
// the difficulty it was made with (for the caller to weigh against what it
// asks now, see Slack) and its expiry (after which the id may be
// forgotten).
func (i *Issuer) Check(scope string, p Proof) (id string, difficulty int, expires time.Time, err error) {
	if len(p.Token) > 2*tokenLen || len(p.Solution) == 0 || len(p.Solution) > 20 {
		return "", 0, time.Time{}, ErrInvalid
	}
	b, err := base64.RawURLEncoding.DecodeString(p.Token)
	if err != nil || len(b) != tokenLen || b[0] != 1 {
		return "", 0, time.Time{}, ErrInvalid
	}
	if !hmac.Equal(b[payloadLen:], i.mac(b[:payloadLen], scope)) {
		return "", 0, time.Time{}, ErrInvalid
	}
	expires = time.Unix(int64(binary.BigEndian.Uint64(b[1+idLen:])), 0).UTC()
	if !i.now().Before(expires) {
		return "", 0, time.Time{}, ErrExpired
	}
	if _, err := strconv.ParseUint(p.Solution, 10, 64); err != nil || !Solves(p.Token, p.Solution, int(b[payloadLen-1])) {
		return "", 0, time.Time{}, ErrInvalid
	}
	return base64.RawURLEncoding.EncodeToString(b[1 : 1+idLen]), int(b[payloadLen-1]), expires, nil
}

// Solves reports whether nonce solves token at difficulty.
func Solves(token, nonce string, difficulty int) bool {
	sum := sha256.Sum256([]byte(token + ":" + nonce))
	return leadingZeros(sum[:]) >= difficulty
}

func leadingZeros(b []byte) int {
	n := 0
	for _, c := range b {
		if c != 0 {
			return n + bits.LeadingZeros8(c)
		}
		n += 8
	}
	return n
}

// Solve finds a solution to c, as a client does (the hosted pages do the
// same in JavaScript). It takes about 2^Difficulty hashes.
func Solve(c Challenge) string {
	var sb strings.Builder
	for n := uint64(0); ; n++ {
		sb.Reset()
		sb.WriteString(strconv.FormatUint(n, 10))
		if Solves(c.Token, sb.String(), c.Difficulty) {
			return sb.String()
		}
	}
}
