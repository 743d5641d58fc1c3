package upstream

import (
	"cmp"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
)

// The kinds of provider. KindOIDC is any OpenID provider found by
// discovery; the others are presets with their defaults and quirks.
const (
	KindOIDC      = "oidc"
	KindGitHub    = "github"
	KindGoogle    = "google"
	KindApple     = "apple"
	KindMicrosoft = "microsoft"
)

// The ways Foyer authenticates itself at a token endpoint (Config.AuthMethod).
const (
	AuthSecretBasic   = "client_secret_basic"
	AuthSecretPost    = "client_secret_post"
	AuthPrivateKeyJWT = "private_key_jwt"
)

// Default endpoints of the presets.
const (
	googleIssuer    = "https://accounts.google.com"
	appleIssuer     = "https://appleid.apple.com"
	microsoftHost   = "https://login.microsoftonline.com"
	githubAuthURL   = "https://github.com/login/oauth/authorize"
	githubTokenURL  = "https://github.com/login/oauth/access_token"
	githubAPIURL    = "https://api.github.com"
	appleAudience   = "https://appleid.apple.com"
	msCommon        = "common"
	msOrganizations = "organizations"
	msConsumers     = "consumers"
)

// Config is one provider's settings, from the config file's `providers:`
// entries. Check fills in the defaults of its kind.
type Config struct {
	// ID names the provider in URLs and links; it never changes once
	// customers have linked accounts.
	ID string
	// Kind is one of the Kind constants.
	Kind string
	// Name is shown on the button ("Continue with Name"); the presets
	// default to the provider's name, a generic provider to its ID.
	Name string
	// Issuer is the OpenID issuer URL. The presets have defaults; tests
	// point it at a test server. Unused by GitHub.
	Issuer string
	// ClientID is Foyer's client id at the provider.
	ClientID string
	// ClientSecret is Foyer's client secret, already read from
	// client_secret_file by the caller.
	ClientSecret string
	// AuthMethod is how Foyer authenticates at the token endpoint:
	// AuthSecretBasic (the default when a secret is set), AuthSecretPost,
	// or AuthPrivateKeyJWT (the default when only PrivateKey is set):
	// PrivateKey signs a client assertion (RFC 7523) whose audience is the
	// token endpoint, RS256 for an RSA key, ES256 for a P-256 key. GitHub
	// defaults to AuthSecretPost; Apple has its own (see PrivateKey).
	AuthMethod string
	// PrivateKey signs client assertions (AuthPrivateKeyJWT) and Apple's
	// client secret (ES256, the .p8 key Apple issued).
	PrivateKey crypto.Signer
	// KeyID is the kid of PrivateKey.
	KeyID string
	// TeamID is, for Apple, the team that owns the key.
	TeamID string
	// Scopes are asked for; each kind has defaults. OpenID kinds must ask
	// for "openid".
	Scopes []string
	// AuthURL, TokenURL and APIURL are GitHub's endpoints (defaults
	// github.com and api.github.com); GitHub Enterprise or a test server
	// overrides them.
	AuthURL, TokenURL, APIURL string
	// Claims maps trait names to claim names (for example {"name":
	// "name", "login": "login"}); Claims.Traits gets the values found.
	Claims map[string]string
	// MFAValues are upstream amr or acr values that mean the customer used
	// two factors at the provider ("mfa", "hwk", "otp", or an acr URI).
	// Empty: an upstream sign-in never counts as two factors.
	MFAValues []string
	// AppClientIDs are further audiences accepted for ID tokens that
	// native apps obtained themselves (VerifyIDToken).
	AppClientIDs []string
	// Tenant is, for Microsoft only, "common" (the default),
	// "organizations", "consumers" or a tenant id (a GUID). For the first
	// three the issuer of a token is checked against the tenant of its
	// own tid claim.
	Tenant string
}

var (
	idPattern   = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	guidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
)

// Check fills in the defaults of the provider's kind and reports the first
// problem with its settings, naming the provider.
func (c *Config) Check() error {
	if !idPattern.MatchString(c.ID) {
		return fmt.Errorf("upstream: provider id %q: want 1 to 63 of a-z, 0-9, _ and -, starting with a letter or digit", c.ID)
	}
	if err := c.check(); err != nil {
		return fmt.Errorf("upstream: provider %q: %w", c.ID, err)
	}
	return nil
}

func (c *Config) check() error {
	switch c.Kind {
	case KindOIDC, KindGoogle, KindApple, KindMicrosoft, KindGitHub:
	case "":
		return fmt.Errorf("kind is missing")
	default:
		return fmt.Errorf("unknown kind %q (want oidc, google, apple, microsoft or github)", c.Kind)
	}
	c.fillDefaults()
	if c.ClientID == "" {
		return fmt.Errorf("client id is missing")
	}
	if c.Tenant != "" && c.Kind != KindMicrosoft {
		return fmt.Errorf("tenant is only for microsoft")
	}
	if err := c.checkEndpoints(); err != nil {
		return err
	}
	if err := c.checkClientAuth(); err != nil {
		return err
	}
	if c.Kind != KindGitHub && !slices.Contains(c.Scopes, "openid") {
		return fmt.Errorf("scopes must include openid")
	}
	for _, s := range c.Scopes {
		if s == "" || strings.ContainsAny(s, " \t\r\n\"\\") {
			return fmt.Errorf("scope %q is not a valid scope", s)
		}
	}
	for trait, claim := range c.Claims {
		if trait == "" || claim == "" {
			return fmt.Errorf("claims: empty trait or claim name (%q: %q)", trait, claim)
		}
	}
	if slices.Contains(c.MFAValues, "") {
		return fmt.Errorf("mfa values: empty value")
	}
	if slices.Contains(c.AppClientIDs, "") {
		return fmt.Errorf("app client ids: empty value")
	}
	if len(c.AppClientIDs) > 0 && c.Kind == KindGitHub {
		return fmt.Errorf("app client ids: github has no ID tokens")
	}
	return nil
}

// fillDefaults sets what the kind implies and the settings leave out.
func (c *Config) fillDefaults() {
	switch c.Kind {
	case KindGoogle:
		c.Name = cmp.Or(c.Name, "Google")
		c.Issuer = cmp.Or(c.Issuer, googleIssuer)
	case KindApple:
		c.Name = cmp.Or(c.Name, "Apple")
		c.Issuer = cmp.Or(c.Issuer, appleIssuer)
		c.AuthMethod = cmp.Or(c.AuthMethod, AuthSecretPost)
	case KindMicrosoft:
		c.Name = cmp.Or(c.Name, "Microsoft")
		c.Tenant = cmp.Or(c.Tenant, msCommon)
		c.Issuer = cmp.Or(c.Issuer, microsoftHost+"/"+c.Tenant+"/v2.0")
	case KindGitHub:
		c.Name = cmp.Or(c.Name, "GitHub")
		c.AuthURL = cmp.Or(c.AuthURL, githubAuthURL)
		c.TokenURL = cmp.Or(c.TokenURL, githubTokenURL)
		c.APIURL = cmp.Or(c.APIURL, githubAPIURL)
		c.AuthMethod = cmp.Or(c.AuthMethod, AuthSecretPost)
	default:
		c.Name = cmp.Or(c.Name, c.ID)
	}
	c.APIURL = strings.TrimSuffix(c.APIURL, "/")
	if len(c.Scopes) == 0 {
		switch c.Kind {
		case KindGitHub:
			c.Scopes = []string{"read:user", "user:email"}
		case KindApple:
			c.Scopes = []string{"openid", "email", "name"}
		default:
			c.Scopes = []string{"openid", "email", "profile"}
		}
	}
	if c.AuthMethod == "" {
		if c.ClientSecret == "" && c.PrivateKey != nil {
			c.AuthMethod = AuthPrivateKeyJWT
		} else {
			c.AuthMethod = AuthSecretBasic
		}
	}
}

func (c *Config) checkEndpoints() error {
	if c.Kind == KindGitHub {
		if c.Issuer != "" {
			return fmt.Errorf("issuer is not used by github (set auth_url, token_url and api_url)")
		}
		for _, e := range []struct{ name, url string }{{"auth url", c.AuthURL}, {"token url", c.TokenURL}, {"api url", c.APIURL}} {
			if err := checkURL(e.url); err != nil {
				return fmt.Errorf("%s: %w", e.name, err)
			}
		}
		return nil
	}
	if c.AuthURL != "" || c.TokenURL != "" || c.APIURL != "" {
		return fmt.Errorf("auth url, token url and api url are only for github (OpenID kinds use discovery)")
	}
	if c.Issuer == "" {
		return fmt.Errorf("issuer is missing")
	}
	if err := checkURL(c.Issuer); err != nil {
		return fmt.Errorf("issuer: %w", err)
	}
	if c.Kind == KindMicrosoft {
		if !multiTenant(c.Tenant) && !guidPattern.MatchString(c.Tenant) {
			return fmt.Errorf("tenant %q: want common, organizations, consumers or a tenant id (a GUID; a domain name does not match the issuer of its tokens)", c.Tenant)
		}
		if !strings.Contains(c.Issuer, "/"+c.Tenant+"/") {
			return fmt.Errorf("issuer %q does not name tenant %q", c.Issuer, c.Tenant)
		}
	}
	return nil
}

func (c *Config) checkClientAuth() error {
	if c.Kind == KindApple {
		if c.AuthMethod != AuthSecretPost {
			return fmt.Errorf("auth method: apple takes only its own client secret, sent as client_secret_post")
		}
		if c.ClientSecret != "" {
			return fmt.Errorf("client secret: apple's is made from the private key; leave it empty")
		}
		if c.TeamID == "" || c.KeyID == "" {
			return fmt.Errorf("apple needs a team id and a key id")
		}
		if !isP256(c.PrivateKey) {
			return fmt.Errorf("private key: apple needs its ECDSA P-256 key (the .p8 file)")
		}
		return nil
	}
	switch c.AuthMethod {
	case AuthSecretBasic, AuthSecretPost:
		if c.ClientSecret == "" {
			return fmt.Errorf("auth method %s needs a client secret", c.AuthMethod)
		}
	case AuthPrivateKeyJWT:
		if c.Kind == KindGitHub {
			return fmt.Errorf("auth method: github does not take private_key_jwt")
		}
		if c.PrivateKey == nil {
			return fmt.Errorf("auth method private_key_jwt needs a private key")
		}
		if _, err := signingAlg(c.PrivateKey); err != nil {
			return fmt.Errorf("private key: %w", err)
		}
	default:
		return fmt.Errorf("unknown auth method %q (want client_secret_basic, client_secret_post or private_key_jwt)", c.AuthMethod)
	}
	return nil
}

// checkURL accepts an absolute https URL, or http for a loopback host
// (tests and development), without a fragment.
func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return fmt.Errorf("%q is not an absolute URL", raw)
	}
	if u.Fragment != "" || u.User != nil {
		return fmt.Errorf("%q must have no fragment and no user", raw)
	}
	switch u.Scheme {
	case "https":
		return nil
	case "http":
		host := u.Hostname()
		if ip := net.ParseIP(host); host == "localhost" || (ip != nil && ip.IsLoopback()) {
			return nil
		}
		return fmt.Errorf("%q: http is only allowed for loopback hosts (127.0.0.1, localhost, ::1)", raw)
	default:
		return fmt.Errorf("%q: want an https URL", raw)
	}
}

// multiTenant reports whether a Microsoft tenant setting stands for many
// tenants, whose tokens each carry their own issuer.
func multiTenant(tenant string) bool {
	return tenant == msCommon || tenant == msOrganizations || tenant == msConsumers
}

func isP256(k crypto.Signer) bool {
	if k == nil {
		return false
	}
	pub, ok := k.Public().(*ecdsa.PublicKey)
	return ok && pub.Curve == elliptic.P256()
}

// signingAlg is the JWS algorithm Foyer signs with for key k.
func signingAlg(k crypto.Signer) (string, error) {
	switch pub := k.Public().(type) {
	case *rsa.PublicKey:
		if pub.N.BitLen() < 2048 {
			return "", fmt.Errorf("an RSA key needs at least 2048 bits")
		}
		return "RS256", nil
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() {
			return "", fmt.Errorf("an ECDSA key must be on P-256")
		}
		return "ES256", nil
	default:
		return "", fmt.Errorf("want an RSA or ECDSA P-256 key, got %T", pub)
	}
}
