package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"

	"github.com/foyer-id/foyer/internal/store"
)

// Errors of the registry, besides store.ErrNotFound for unknown ids.
var (
	// ErrInvalidCredentials means the client id is unknown or the secret
	// is wrong; the two are not told apart.
	ErrInvalidCredentials = errors.New("client: invalid client credentials")
	// ErrNoSecret means the client does not authenticate with a secret
	// (public or private_key_jwt), so it has none to rotate.
	ErrNoSecret = errors.New("client: the client does not authenticate with a secret")
)

// Registry stores the clients of every policy domain.
type Registry struct {
	db    *store.DB
	key   []byte // HMAC key for client secrets
	dummy []byte // compared against when there is no stored hash
	// tokenKey keys the hashes of dynamic registration's bearer tokens
	// (initial and registration access tokens); tokenDummy is dummy's
	// counterpart.
	tokenKey, tokenDummy []byte
	now                  func() time.Time

	// cache holds clients read in the last CacheFor, by id: every token
	// request reads its client, often several thousand times a second.
	// Changes made through this Registry clear the entry at once; changes
	// made elsewhere (another node, the CLI) show within CacheFor.
	mu    sync.Mutex
	cache map[string]cachedClient
	// ticks is the clock of the cache's ages: time.Now, whatever now is
	// (the clock stored times come from); tests replace it.
	ticks func() time.Time
	// domains holds, by domain, what PublicOrigins and DetailsTypes
	// gathered in the last CacheFor; any change through this Registry
	// clears it.
	domains map[string]cachedDomain
}

// CacheFor is how long a client read from the database is reused. Short:
// under load a client is read ten times a second instead of thousands,
// and a change made elsewhere (a deletion with the CLI) shows before a
// person or a script can act on it.
const CacheFor = 100 * time.Millisecond

type cachedClient struct {
	c     Client
	hash  string
	until time.Time // wall clock, not the registry's (test) clock
}

type cachedDomain struct {
	origins      map[string]bool
	detailsTypes []string
	until        time.Time
}

// NewRegistry returns a Registry. secret is the server secret (at least
// 32 bytes; the configuration guarantees it); client secret hashes are
// keyed with a key derived from it, so changing it invalidates every
// client secret. now may be nil for time.Now.
func NewRegistry(db *store.DB, secret []byte, now func() time.Time) *Registry {
	if len(secret) < 32 {
		panic("client: NewRegistry needs a server secret of at least 32 bytes")
	}
	if now == nil {
		now = time.Now
	}
	key, tokenKey := secretKey(secret), registrationKey(secret)
	return &Registry{db: db, key: key, dummy: mac(key, "dummy"), tokenKey: tokenKey, tokenDummy: mac(tokenKey, "dummy"), now: now, ticks: time.Now,
		cache: map[string]cachedClient{}, domains: map[string]cachedDomain{}}
}

const clientColumns = `id, domain, name, public, first_party, secret_hash, auth_method, redirect_uris,
	post_logout_redirect_uris, grant_types, scopes, jwks, access_token_format, signing_alg,
	access_token_ttl, id_token_ttl, refresh_token_ttl, require_aal, created_at, updated_at, authorization_details_types,
	client_uri, logo_uri, policy_uri, tos_uri, contacts, application_type, dynamic, userinfo_signing_alg`

type scanner interface{ Scan(dest ...any) error }

// scanClient reads one row of clientColumns; it returns the secret hash
// apart so that it never travels inside a Client.
func scanClient(row scanner) (*Client, string, error) {
	var (
		c                            Client
		hash, redirects, postLogout  string
		grants, scopes, jwks         string
		detailsTypes, contacts       string
		accessTTL, idTTL, refreshTTL int64
		createdAt, updatedAt         int64
	)
	err := row.Scan(&c.ID, &c.Domain, &c.Name, &c.Public, &c.FirstParty, &hash, &c.AuthMethod, &redirects,
		&postLogout, &grants, &scopes, &jwks, &c.AccessTokenFormat, &c.SigningAlg,
		&accessTTL, &idTTL, &refreshTTL, &c.RequireAAL, &createdAt, &updatedAt, &detailsTypes,
		&c.ClientURI, &c.LogoURI, &c.PolicyURI, &c.TosURI, &contacts, &c.ApplicationType, &c.Dynamic, &c.UserinfoSigningAlg)
	if err != nil {
		return nil, "", store.Classify(err)
	}
	for _, l := range []struct {
		dst *[]string
		src string
	}{{&c.RedirectURIs, redirects}, {&c.PostLogoutRedirectURIs, postLogout}, {&c.GrantTypes, grants}, {&c.Scopes, scopes}, {&c.AuthorizationDetailsTypes, detailsTypes},
		{&c.Contacts, contacts}} {
		if err := json.Unmarshal([]byte(l.src), l.dst); err != nil {
			return nil, "", fmt.Errorf("client %s: stored list: %w", c.ID, err)
		}
		if *l.dst == nil {
			*l.dst = []string{}
		}
	}
	if jwks != "" {
		c.JWKS = &jose.JSONWebKeySet{}
		if err := json.Unmarshal([]byte(jwks), c.JWKS); err != nil {
			return nil, "", fmt.Errorf("client %s: stored jwks: %w", c.ID, err)
		}
	}
	c.AccessTokenTTL = Duration(time.Duration(accessTTL) * time.Microsecond)
	c.IDTokenTTL = Duration(time.Duration(idTTL) * time.Microsecond)
	c.RefreshTokenTTL = Duration(time.Duration(refreshTTL) * time.Microsecond)
	c.CreatedAt, c.UpdatedAt = store.FromMicros(createdAt), store.FromMicros(updatedAt)
	c.HasSecret = hash != ""
	return &c, hash, nil
}

// columns returns the stored form of c's columns after id, in the order
// of clientColumns (domain … updated_at).
func columns(c *Client, hash string) ([]any, error) {
	lists := make([]string, 6)
	for i, l := range [][]string{c.RedirectURIs, c.PostLogoutRedirectURIs, c.GrantTypes, c.Scopes, c.AuthorizationDetailsTypes, c.Contacts} {
		if l == nil {
			l = []string{}
		}
		b, err := json.Marshal(l)
		if err != nil {
			return nil, err
		}
		lists[i] = string(b)
	}
	jwks := ""
	if c.JWKS != nil && len(c.JWKS.Keys) > 0 {
		b, err := json.Marshal(c.JWKS)
		if err != nil {
			return nil, fmt.Errorf("encode jwks: %w", err)
		}
		jwks = string(b)
	}
	return []any{c.Domain, c.Name, c.Public, c.FirstParty, hash, c.AuthMethod, lists[0],
		lists[1], lists[2], lists[3], jwks, c.AccessTokenFormat, c.SigningAlg,
		c.AccessTokenTTL.D().Microseconds(), c.IDTokenTTL.D().Microseconds(), c.RefreshTokenTTL.D().Microseconds(),
		c.RequireAAL, store.Micros(c.CreatedAt), store.Micros(c.UpdatedAt), lists[4],
		c.ClientURI, c.LogoURI, c.PolicyURI, c.TosURI, lists[5], c.ApplicationType, c.Dynamic, c.UserinfoSigningAlg}, nil
}

// insertClient stores a new client c with its secret hash and the hash of
// its registration access token ("" for none).
func insertClient(ctx context.Context, ex store.Execer, c *Client, hash, registrationHash string) error {
	cols, err := columns(c, hash)
	if err != nil {
		return err
	}
	_, err = ex.Exec(ctx, `INSERT INTO oauth_clients (`+clientColumns+`, registration_token_hash)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25,
		$26, $27, $28, $29, $30)`, append(append([]any{c.ID}, cols...), registrationHash)...)
	return err
}

// writeClient stores c over the client with id, in tx.
func writeClient(ctx context.Context, tx *store.Tx, id string, c *Client, hash string) error {
	cols, err := columns(c, hash)
	if err != nil {
		return err
	}
	_, err = tx.Exec(ctx, `UPDATE oauth_clients SET domain = $1, name = $2, public = $3, first_party = $4,
		secret_hash = $5, auth_method = $6, redirect_uris = $7, post_logout_redirect_uris = $8, grant_types = $9,
		scopes = $10, jwks = $11, access_token_format = $12, signing_alg = $13, access_token_ttl = $14,
		id_token_ttl = $15, refresh_token_ttl = $16, require_aal = $17, created_at = $18, updated_at = $19,
		authorization_details_types = $20, client_uri = $21, logo_uri = $22, policy_uri = $23, tos_uri = $24,
		contacts = $25, application_type = $26, dynamic = $27, userinfo_signing_alg = $28
		WHERE id = $29`, append(cols, id)...)
	return err
}

// stamp is now at the stored precision (µs, UTC), so a returned client
// equals the one read back.
func (r *Registry) stamp() time.Time { return store.FromMicros(store.Micros(r.now())) }

// Create registers a client in domain. It returns the client and, when
// the client authenticates with a secret, that secret: it is not stored
// and cannot be shown again. Public and private_key_jwt clients get "".
func (r *Registry) Create(ctx context.Context, domain string, spec Spec) (*Client, string, error) {
	if domain == "" {
		return nil, "", errors.New("client: create: empty domain")
	}
	c, err := spec.validate(nil)
	if err != nil {
		return nil, "", err
	}
	c.Domain = domain
	c.CreatedAt = r.stamp()
	c.UpdatedAt = c.CreatedAt
	secret, hash := "", ""
	if c.UsesSecret() {
		secret = newSecret()
		hash = hashSecret(r.key, secret)
	}
	c.HasSecret = hash != ""
	for attempt := 0; ; attempt++ {
		c.ID = newID()
		err = insertClient(ctx, r.db, c, hash, "")
		// A duplicate of a 128-bit random id means a broken random source;
		// retry a little rather than fail on the impossible.
		if !errors.Is(err, store.ErrConflict) || attempt == 2 {
			break
		}
	}
	r.forget(c.ID)
	if err != nil {
		return nil, "", fmt.Errorf("client: create: %w", err)
	}
	return c, secret, nil
}

// Get returns the client with id, of any domain, or store.ErrNotFound. It
// runs on every token request, so it answers from a cache of at most
// CacheFor: an update or deletion made on another node (or with the CLI)
// takes effect there within that time, on this node at once.
func (r *Registry) Get(ctx context.Context, id string) (*Client, error) {
	c, _, err := r.get(ctx, id)
	if err != nil {
		return nil, fmt.Errorf("client: get %s: %w", id, err)
	}
	return c, nil
}

// get returns a copy of the client and its secret hash.
func (r *Registry) get(ctx context.Context, id string) (*Client, string, error) {
	now := r.ticks()
	r.mu.Lock()
	e, ok := r.cache[id]
	r.mu.Unlock()
	if ok && now.Before(e.until) {
		c := e.c
		return &c, e.hash, nil
	}
	if !plausibleID(id) {
		// Anyone may name a client: what no client can be called is no
		// client, not a query (PostgreSQL refuses NUL and invalid UTF-8).
		return nil, "", store.ErrNotFound
	}
	c, hash, err := scanClient(r.db.QueryRow(ctx, `SELECT `+clientColumns+` FROM oauth_clients WHERE id = $1`, id))
	if err != nil {
		return nil, "", err
	}
	r.mu.Lock()
	if len(r.cache) >= maxCached {
		clear(r.cache)
	}
	r.cache[id] = cachedClient{c: *c, hash: hash, until: now.Add(CacheFor)}
	r.mu.Unlock()
	return c, hash, nil
}

// plausibleID reports whether id could name a client: printable UTF-8 of
// at most 255 bytes.
func plausibleID(id string) bool {
	return id != "" && len(id) <= 255 && utf8.ValidString(id) && !strings.ContainsFunc(id, unicode.IsControl)
}

// maxCached bounds the cache (ids are tried by anyone who asks for a token;
// only existing clients are cached).
const maxCached = 10_000

// forget drops id from the cache after a change, and what was gathered
// of every domain (the change may add, move or remove an origin or a
// type).
func (r *Registry) forget(id string) {
	r.mu.Lock()
	delete(r.cache, id)
	clear(r.domains)
	r.mu.Unlock()
}

// PublicOrigins returns the origins (scheme://host[:port]) of the
// redirect URIs of domain's public clients: the browser apps that may call
// the token, revocation and userinfo endpoints from their own pages. Such
// calls ask for it every time, so it answers from a cache of at most
// CacheFor, like Get. The map is shared: do not change it.
func (r *Registry) PublicOrigins(ctx context.Context, domain string) (map[string]bool, error) {
	d, err := r.gather(ctx, domain)
	return d.origins, err
}

// DetailsTypes returns the authorization details types (RFC 9396) any of
// domain's clients may send, sorted: what the provider metadata
// advertises. It answers from the same cache as PublicOrigins. The slice
// is shared: do not change it.
func (r *Registry) DetailsTypes(ctx context.Context, domain string) ([]string, error) {
	d, err := r.gather(ctx, domain)
	return d.detailsTypes, err
}

// gather reads what PublicOrigins and DetailsTypes answer for domain,
// from the cache when it is fresh.
func (r *Registry) gather(ctx context.Context, domain string) (cachedDomain, error) {
	now := r.ticks()
	r.mu.Lock()
	e, ok := r.domains[domain]
	r.mu.Unlock()
	if ok && now.Before(e.until) {
		return e, nil
	}
	clients, err := r.List(ctx, domain)
	if err != nil {
		return cachedDomain{}, err
	}
	d := cachedDomain{origins: map[string]bool{}, detailsTypes: []string{}, until: now.Add(CacheFor)}
	for _, c := range clients {
		for _, t := range c.AuthorizationDetailsTypes {
			if !slices.Contains(d.detailsTypes, t) {
				d.detailsTypes = append(d.detailsTypes, t)
			}
		}
		if !c.Public {
			continue
		}
		for _, uri := range c.RedirectURIs {
			if u, err := url.Parse(uri); err == nil && u.Host != "" {
				d.origins[u.Scheme+"://"+u.Host] = true
			}
		}
	}
	slices.Sort(d.detailsTypes)
	r.mu.Lock()
	r.domains[domain] = d
	r.mu.Unlock()
	return d, nil
}

// List returns the clients of domain, oldest first.
func (r *Registry) List(ctx context.Context, domain string) ([]*Client, error) {
	rows, err := r.db.Query(ctx, `SELECT `+clientColumns+` FROM oauth_clients WHERE domain = $1 ORDER BY created_at, id`, domain)
	if err != nil {
		return nil, fmt.Errorf("client: list %s: %w", domain, err)
	}
	defer rows.Close()
	out := []*Client{}
	for rows.Next() {
		c, _, err := scanClient(rows)
		if err != nil {
			return nil, fmt.Errorf("client: list %s: %w", domain, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("client: list %s: %w", domain, store.Classify(err))
	}
	return out, nil
}

// selectForUpdate reads a client and locks its row until the transaction
// ends. SQLite has no FOR UPDATE: its write transactions (BEGIN
// IMMEDIATE) already exclude every other writer.
func selectForUpdate(d store.Dialect) string {
	if d == store.Postgres {
		return `SELECT ` + clientColumns + ` FROM oauth_clients WHERE id = $1 FOR UPDATE`
	}
	return `SELECT ` + clientColumns + ` FROM oauth_clients WHERE id = $1`
}

// Update applies spec to the client with id: set fields change, unset
// fields keep their value, and the result is validated as a whole.
// Switching to a method without a secret (public, private_key_jwt) drops
// the secret; switching to a secret method from one without leaves the
// client without a secret (HasSecret false) until RotateSecret.
func (r *Registry) Update(ctx context.Context, id string, spec Spec) (*Client, error) {
	var out *Client
	err := r.db.InTx(ctx, func(tx *store.Tx) error {
		old, hash, err := scanClient(tx.QueryRow(ctx, selectForUpdate(tx.Dialect), id))
		if err != nil {
			return err
		}
		c, err := spec.validate(old)
		if err != nil {
			return err
		}
		if !c.UsesSecret() {
			hash = ""
		}
		c.HasSecret = hash != ""
		c.UpdatedAt = r.stamp()
		out = c
		return writeClient(ctx, tx, id, c, hash)
	})
	r.forget(id)
	if err != nil {
		return nil, fmt.Errorf("client: update %s: %w", id, err)
	}
	return out, nil
}

// Delete removes the client with id, with its pending authorization
// requests and consents (by cascade) and its access and refresh tokens,
// so that a deleted client's tokens stop working at once.
func (r *Registry) Delete(ctx context.Context, id string) error {
	err := r.db.InTx(ctx, func(tx *store.Tx) error { return deleteClient(ctx, tx, id) })
	r.forget(id)
	if err != nil {
		return fmt.Errorf("client: delete %s: %w", id, err)
	}
	return nil
}

// deleteClient removes the client with id and its tokens in tx, or
// returns store.ErrNotFound.
func deleteClient(ctx context.Context, tx *store.Tx, id string) error {
	res, err := tx.Exec(ctx, `DELETE FROM oauth_clients WHERE id = $1`, id)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n == 0 {
		return store.ErrNotFound
	}
	_, err = tx.Exec(ctx, `DELETE FROM oauth_tokens WHERE client_id = $1`, id)
	return err
}

// RotateSecret gives the client a new secret and returns it; the old one
// stops working at once. It returns ErrNoSecret for clients that do not
// authenticate with a secret.
func (r *Registry) RotateSecret(ctx context.Context, id string) (string, error) {
	secret := newSecret()
	err := r.db.InTx(ctx, func(tx *store.Tx) error {
		c, _, err := scanClient(tx.QueryRow(ctx, selectForUpdate(tx.Dialect), id))
		if err != nil {
			return err
		}
		if !c.UsesSecret() {
			return ErrNoSecret
		}
		_, err = tx.Exec(ctx, `UPDATE oauth_clients SET secret_hash = $1, updated_at = $2 WHERE id = $3`,
			hashSecret(r.key, secret), store.Micros(r.stamp()), id)
		return err
	})
	r.forget(id)
	if err != nil {
		return "", fmt.Errorf("client: rotate secret of %s: %w", id, err)
	}
	return secret, nil
}

// VerifySecret authenticates a client by id and secret and returns it.
// Unknown ids, clients without a secret and wrong secrets all return
// ErrInvalidCredentials, after the same HMAC and constant-time compare.
// Other errors (the database is down) are returned as they are.
func (r *Registry) VerifySecret(ctx context.Context, id, secret string) (*Client, error) {
	c, hash, err := r.get(ctx, id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("client: verify secret of %s: %w", id, err)
	}
	if !checkSecret(r.key, r.dummy, hash, secret) || c == nil || !c.UsesSecret() {
		return nil, ErrInvalidCredentials
	}
	return c, nil
}
