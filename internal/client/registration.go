package client

import (
	"context"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/foyer-id/foyer/internal/store"
)

// Prefixes of dynamic registration's bearer tokens, so that secret
// scanners and people can tell them from each other and from client
// secrets.
const (
	// InitialTokenPrefix starts an initial access token (RFC 7591,
	// section 3): it lets its holder register clients.
	InitialTokenPrefix = "fit_"
	// RegistrationTokenPrefix starts a registration access token (RFC
	// 7592): it lets a client read, replace and delete its registration.
	RegistrationTokenPrefix = "frt_"
)

// ErrInvalidRegistrationToken means the registration access token is not
// the client's, or the client is unknown or did not register itself; the
// cases are not told apart.
var ErrInvalidRegistrationToken = errors.New("client: invalid registration access token")

// Registered is a client that registered itself, with what it is shown
// once: a client secret and a registration access token just issued.
type Registered struct {
	Client *Client
	// Secret is the client secret issued now, "" when none was (the client
	// has none, or keeps the one it had).
	Secret string
	// AccessToken is the registration access token issued now.
	AccessToken string
	// InitialToken is the id of the initial access token the registration
	// used, "" for none.
	InitialToken string
}

// registrationKey derives the key of the bearer tokens' hashes from the
// server secret, apart from the client secrets' key.
func registrationKey(serverSecret []byte) []byte {
	key, err := hkdf.Key(sha256.New, serverSecret, nil, "foyer registration tokens v1", 32)
	if err != nil {
		panic("client: derive registration token key: " + err.Error()) // only for impossible lengths
	}
	return key
}

// newToken returns a bearer token: 256 random bits, prefix + base64url.
func newToken(prefix string) string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return prefix + base64.RawURLEncoding.EncodeToString(b[:])
}

// Register creates a client that registers itself (dynamic client
// registration): it is third-party whatever spec says — its consent page
// is always shown — and gets a registration access token to manage its
// registration, returned once with its secret. With initialToken not "",
// one use of that initial access token of domain is taken in the same
// transaction: an unknown, expired, revoked or used-up token fails with
// ErrInvalidInitialToken, and nothing is created. spec is validated
// before the token is looked at, so a refused registration costs no use.
func (r *Registry) Register(ctx context.Context, domain string, spec Spec, initialToken string) (*Registered, error) {
	if domain == "" {
		return nil, errors.New("client: register: empty domain")
	}
	spec.FirstParty = new(false)
	c, err := spec.validate(nil)
	if err != nil {
		return nil, err
	}
	c.Domain, c.Dynamic, c.ID = domain, true, newID()
	c.CreatedAt = r.stamp()
	c.UpdatedAt = c.CreatedAt
	out := &Registered{Client: c, AccessToken: newToken(RegistrationTokenPrefix)}
	hash := ""
	if c.UsesSecret() {
		out.Secret = newSecret()
		hash = hashSecret(r.key, out.Secret)
	}
	c.HasSecret = hash != ""
	err = r.db.InTx(ctx, func(tx *store.Tx) error {
		if initialToken != "" {
			id, err := r.useInitialToken(ctx, tx, domain, initialToken)
			if err != nil {
				return err
			}
			out.InitialToken = id
		}
		return insertClient(ctx, tx, c, hash, hashSecret(r.tokenKey, out.AccessToken))
	})
	r.forget(c.ID)
	if err != nil {
		if errors.Is(err, ErrInvalidInitialToken) {
			return nil, ErrInvalidInitialToken
		}
		return nil, fmt.Errorf("client: register: %w", err)
	}
	return out, nil
}

// Registered returns the client with id if token is its registration
// access token, and ErrInvalidRegistrationToken otherwise (the client is
// unknown too). The comparison takes the same time whatever is wrong.
func (r *Registry) Registered(ctx context.Context, id, token string) (*Client, error) {
	stored := ""
	if plausibleID(id) {
		err := r.db.QueryRow(ctx, `SELECT registration_token_hash FROM oauth_clients WHERE id = $1`, id).Scan(&stored)
		if err = store.Classify(err); err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("client: registration of %s: %w", id, err)
		}
	}
	if !r.registrationToken(stored, token) {
		return nil, ErrInvalidRegistrationToken
	}
	c, err := r.Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, ErrInvalidRegistrationToken // deleted meanwhile
	}
	return c, err
}

// registrationToken reports whether token matches the stored hash, in
// constant time; an empty hash (no token) matches nothing.
func (r *Registry) registrationToken(stored, token string) bool {
	ok := checkSecret(r.tokenKey, r.tokenDummy, stored, token)
	return ok && strings.HasPrefix(token, RegistrationTokenPrefix)
}

// lockedRegistration reads, in tx, the registration access token hash of
// the client with id and locks its row until tx ends; it returns
// ErrInvalidRegistrationToken unless token matches it.
func (r *Registry) lockedRegistration(ctx context.Context, tx *store.Tx, id, token string) error {
	q := `SELECT registration_token_hash FROM oauth_clients WHERE id = $1`
	if tx.Dialect == store.Postgres {
		q += ` FOR UPDATE`
	}
	stored := ""
	if plausibleID(id) {
		err := store.Classify(tx.QueryRow(ctx, q, id).Scan(&stored))
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	if !r.registrationToken(stored, token) {
		return ErrInvalidRegistrationToken
	}
	return nil
}

// UpdateRegistered replaces the registration of the client with id, if
// token is its registration access token (ErrInvalidRegistrationToken
// otherwise), and gives it a new registration access token: the old one
// stops working (RFC 7592, section 2.2). Unset fields of spec keep their
// value, as in Update: a caller replacing every field sets them all. A
// client that now authenticates with a secret and had none gets one,
// returned once.
func (r *Registry) UpdateRegistered(ctx context.Context, id, token string, spec Spec) (*Registered, error) {
	out := &Registered{AccessToken: newToken(RegistrationTokenPrefix)}
	err := r.db.InTx(ctx, func(tx *store.Tx) error {
		if err := r.lockedRegistration(ctx, tx, id, token); err != nil {
			return err
		}
		old, hash, err := scanClient(tx.QueryRow(ctx, selectForUpdate(tx.Dialect), id))
		if err != nil {
			return err
		}
		c, err := spec.validate(old)
		if err != nil {
			return err
		}
		switch {
		case !c.UsesSecret():
			hash = ""
		case hash == "":
			out.Secret = newSecret()
			hash = hashSecret(r.key, out.Secret)
		}
		c.HasSecret = hash != ""
		c.UpdatedAt = r.stamp()
		out.Client = c
		if err := writeClient(ctx, tx, id, c, hash); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `UPDATE oauth_clients SET registration_token_hash = $1 WHERE id = $2`, hashSecret(r.tokenKey, out.AccessToken), id)
		return err
	})
	r.forget(id)
	if err != nil {
		var ve *ValidationError
		if errors.Is(err, ErrInvalidRegistrationToken) || errors.As(err, &ve) {
			return nil, err
		}
		return nil, fmt.Errorf("client: update registration of %s: %w", id, err)
	}
	return out, nil
}

// DeleteRegistered deletes the client with id, as Delete does, if token
// is its registration access token (ErrInvalidRegistrationToken
// otherwise).
func (r *Registry) DeleteRegistered(ctx context.Context, id, token string) error {
	err := r.db.InTx(ctx, func(tx *store.Tx) error {
		if err := r.lockedRegistration(ctx, tx, id, token); err != nil {
			return err
		}
		return deleteClient(ctx, tx, id)
	})
	r.forget(id)
	if errors.Is(err, ErrInvalidRegistrationToken) {
		return err
	}
	if err != nil {
		return fmt.Errorf("client: delete registration of %s: %w", id, err)
	}
	return nil
}
