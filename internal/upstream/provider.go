package upstream

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Errors of a round trip to a provider. They are wrapped with detail for
// the logs; callers choose what to show with errors.Is.
var (
	// ErrUnavailable is a provider that could not be used: a network
	// error, a time-out, a 5xx answer, a discovery or key fetch that
	// failed.
	ErrUnavailable = errors.New("upstream: provider unavailable")
	// ErrRefused is an answer Foyer does not accept: an error from the
	// token endpoint (invalid_grant and the like), an ID token with a bad
	// signature, an unknown key, the wrong issuer, audience or nonce, an
	// expired one, one without a subject, a GitHub API that refuses the
	// access token.
	ErrRefused = errors.New("upstream: provider's answer refused")
)

const (
	// defaultTimeout bounds each request when the caller's client has no
	// time-out of its own.
	defaultTimeout = 10 * time.Second
	// maxBody is the largest answer read from a provider.
	maxBody = 1 << 20
)

// Provider talks to one upstream provider. It is safe for concurrent use;
// it fetches the provider's discovery document and keys on first use and
// keeps them.
type Provider struct {
	cfg    Config
	client *http.Client
	now    func() time.Time

	// metaLock is a one-slot lock held while meta is read or fetched.
	metaLock chan struct{}
	meta     *metadata

	// keyLock is a one-slot lock held while keys is read or fetched.
	keyLock chan struct{}
	keys    []jose.JSONWebKey
	keysAt  time.Time // when keys were fetched; zero: never
}

// New makes a provider from cfg, which it checks (Config.Check). It does
// not touch the network: discovery happens on first use. client makes
// the requests (nil: a new one); without a time-out of its own, each
// request is bounded to 10 seconds.
func New(cfg Config, client *http.Client) (*Provider, error) {
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	cfg.Scopes = slices.Clone(cfg.Scopes)
	cfg.MFAValues = slices.Clone(cfg.MFAValues)
	cfg.AppClientIDs = slices.Clone(cfg.AppClientIDs)
	cfg.Claims = maps.Clone(cfg.Claims)
	if client == nil {
		client = &http.Client{}
	}
	if client.Timeout == 0 {
		c := *client
		c.Timeout = defaultTimeout
		client = &c
	}
	return &Provider{
		cfg:      cfg,
		client:   client,
		now:      time.Now,
		metaLock: make(chan struct{}, 1),
		keyLock:  make(chan struct{}, 1),
	}, nil
}

// ID is the provider's id from the configuration.
func (p *Provider) ID() string { return p.cfg.ID }

// Name is the provider's display name.
func (p *Provider) Name() string { return p.cfg.Name }

// Kind is the provider's kind, one of the Kind constants.
func (p *Provider) Kind() string { return p.cfg.Kind }

// FormPost reports whether the provider answers with
// response_mode=form_post (Apple, when it asks for the name or the
// address): the callback then arrives as a POST.
func (p *Provider) FormPost() bool {
	return p.cfg.Kind == KindApple && (slices.Contains(p.cfg.Scopes, "name") || slices.Contains(p.cfg.Scopes, "email"))
}

// openID reports whether the provider speaks OpenID Connect (all kinds
// but GitHub).
func (p *Provider) openID() bool { return p.cfg.Kind != KindGitHub }

// verifierPattern is a PKCE code verifier (RFC 7636, section 4.1).
var verifierPattern = regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`)

// AuthURL is where to send the browser to sign in at the provider: an
// authorization request (response_type=code) for redirectURI, carrying
// state, nonce (OpenID kinds, where it is required) and the PKCE S256
// challenge of verifier (43 to 128 characters, RFC 7636), and
// response_mode=form_post for Apple. OpenID kinds discover the
// authorization endpoint first, so AuthURL may fail with ErrUnavailable.
func (p *Provider) AuthURL(ctx context.Context, redirectURI, state, nonce, verifier string) (string, error) {
	if redirectURI == "" || state == "" {
		return "", fmt.Errorf("upstream: %s: auth url: redirect uri and state are required", p.cfg.ID)
	}
	if !verifierPattern.MatchString(verifier) {
		return "", fmt.Errorf("upstream: %s: auth url: the PKCE verifier must be 43 to 128 unreserved characters", p.cfg.ID)
	}
	endpoint := p.cfg.AuthURL
	if p.openID() {
		if nonce == "" {
			return "", fmt.Errorf("upstream: %s: auth url: a nonce is required", p.cfg.ID)
		}
		m, err := p.metadata(ctx)
		if err != nil {
			return "", err
		}
		endpoint = m.AuthorizationEndpoint
	}
	u, err := url.Parse(endpoint)
	if err != nil {
		return "", p.unavailable("authorization endpoint %q: %w", endpoint, err)
	}
	q := u.Query()
	q.Set("response_type", "code")
	q.Set("client_id", p.cfg.ClientID)
	q.Set("redirect_uri", redirectURI)
	q.Set("scope", strings.Join(p.cfg.Scopes, " "))
	q.Set("state", state)
	q.Set("code_challenge", pkceChallenge(verifier))
	q.Set("code_challenge_method", "S256")
	if p.openID() {
		q.Set("nonce", nonce)
	}
	if p.FormPost() {
		q.Set("response_mode", "form_post")
	}
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// Exchange redeems the authorization code of a callback for redirectURI,
// sending the PKCE verifier, and returns what the provider vouches for.
// For OpenID kinds it verifies the ID token: its signature with the
// provider's keys, the issuer, the audience (ClientID), the expiry, the
// nonce (which must equal nonce exactly) and azp when present. For GitHub
// it reads the user and the addresses from GitHub's API. form holds the
// callback's other parameters: Apple's "user", with the name on the first
// sign-in, is read from it.
func (p *Provider) Exchange(ctx context.Context, redirectURI, code, verifier, nonce string, form url.Values) (*Claims, error) {
	if code == "" {
		return nil, p.refused("the callback has no code")
	}
	if !p.openID() {
		return p.exchangeGitHub(ctx, redirectURI, code, verifier)
	}
	if nonce == "" {
		return nil, fmt.Errorf("upstream: %s: exchange: a nonce is required", p.cfg.ID)
	}
	m, err := p.metadata(ctx)
	if err != nil {
		return nil, err
	}
	tok, err := p.redeem(ctx, m.TokenEndpoint, redirectURI, code, verifier)
	if err != nil {
		return nil, err
	}
	if tok.IDToken == "" {
		return nil, p.refused("the token endpoint returned no ID token")
	}
	c, all, err := p.verifyIDToken(ctx, m, tok.IDToken, nonce, []string{p.cfg.ClientID})
	if err != nil {
		return nil, err
	}
	if p.cfg.Kind == KindApple {
		appleName(all, form.Get("user"))
	}
	return p.claims(c, all), nil
}

// VerifyIDToken verifies an ID token that a native app obtained from the
// provider's own SDK: like Exchange, but the audience may be ClientID or
// one of AppClientIDs (and so may azp), and the nonce is checked only when
// nonce is not empty. GitHub has no ID tokens: ErrRefused.
func (p *Provider) VerifyIDToken(ctx context.Context, rawIDToken, nonce string) (*Claims, error) {
	if !p.openID() {
		return nil, p.refused("github has no ID tokens")
	}
	if rawIDToken == "" {
		return nil, p.refused("empty ID token")
	}
	m, err := p.metadata(ctx)
	if err != nil {
		return nil, err
	}
	audiences := append([]string{p.cfg.ClientID}, p.cfg.AppClientIDs...)
	c, all, err := p.verifyIDToken(ctx, m, rawIDToken, nonce, audiences)
	if err != nil {
		return nil, err
	}
	return p.claims(c, all), nil
}

// unavailable wraps ErrUnavailable with the provider's id and detail.
func (p *Provider) unavailable(format string, args ...any) error {
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, p.cfg.ID, fmt.Errorf(format, args...))
}

// refused wraps ErrRefused with the provider's id and detail.
func (p *Provider) refused(format string, args ...any) error {
	return fmt.Errorf("%w: %s: %w", ErrRefused, p.cfg.ID, fmt.Errorf(format, args...))
}

// lock takes a one-slot lock, or gives up when ctx ends.
func lock(ctx context.Context, l chan struct{}) error {
	select {
	case l <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func unlock(l chan struct{}) { <-l }
