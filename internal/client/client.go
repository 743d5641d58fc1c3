package client

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Token endpoint authentication methods.
const (
	AuthMethodBasic         = "client_secret_basic" // default for confidential clients
	AuthMethodPost          = "client_secret_post"
	AuthMethodPrivateKeyJWT = "private_key_jwt"
	AuthMethodNone          = "none" // public clients
)

// Grant types a client may use.
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
)

// Access token formats.
const (
	AccessTokenJWT    = "jwt" // self-contained, signed (default)
	AccessTokenOpaque = "opaque"
)

// Signing algorithms for ID tokens and JWT access tokens.
const (
	// RS256 is the default: OpenID Connect Registration makes it the
	// id_token_signed_response_alg of a client that says nothing, and
	// relying parties that follow it refuse anything else.
	AlgRS256 = "RS256"
	AlgES256 = "ES256"
	AlgEdDSA = "EdDSA"
)

// Application types (OpenID Connect Dynamic Client Registration 1.0,
// section 2): what kind of redirect URIs the client registered.
const (
	ApplicationWeb    = "web"    // https redirect URIs on the Internet
	ApplicationNative = "native" // private-use schemes or loopback http
)

// Authenticator assurance levels a client may require (NIST SP 800-63B).
const (
	AAL1 = "aal1"
	AAL2 = "aal2"
)

// Defaults applied by Create to unset fields.
var (
	DefaultScopes     = []string{"openid", "profile", "email", "phone", "address", "offline_access"}
	DefaultGrantTypes = []string{GrantAuthorizationCode, GrantRefreshToken}
)

// Default lifetimes.
const (
	DefaultAccessTokenTTL                  = 10 * time.Minute
	DefaultClientCredentialsAccessTokenTTL = 5 * time.Minute
	DefaultIDTokenTTL                      = 10 * time.Minute
	DefaultRefreshTokenTTL                 = 30 * 24 * time.Hour
)

// Client is a registered OAuth 2.1 / OpenID Connect client. Its secret
// hash is never part of it: see Registry.VerifySecret.
type Client struct {
	ID     string `json:"client_id"`
	Domain string `json:"domain"`
	Name   string `json:"name"`
	// Public clients (SPAs, native apps) cannot keep a secret: they use
	// auth method none and PKCE, and may not use client_credentials.
	Public bool `json:"public"`
	// FirstParty clients are the domain's own apps: the consent page is
	// skipped for them.
	FirstParty bool `json:"first_party"`
	// AuthMethod is how the client authenticates at the token endpoint.
	AuthMethod string `json:"auth_method"`
	// RedirectURIs and PostLogoutRedirectURIs are matched exactly.
	RedirectURIs           []string `json:"redirect_uris"`
	PostLogoutRedirectURIs []string `json:"post_logout_redirect_uris"`
	GrantTypes             []string `json:"grant_types"`
	// Scopes are the scopes the client may ask for.
	Scopes []string `json:"scopes"`
	// AuthorizationDetailsTypes are the authorization details types (RFC
	// 9396) the client may send with an authorization request; details of
	// any other type are refused. Empty: the client sends none.
	AuthorizationDetailsTypes []string `json:"authorization_details_types"`
	// ClientURI (the app's website), LogoURI, PolicyURI (privacy) and
	// TosURI (terms) are what the hosted pages show of the app when it
	// sends a customer (OpenID Connect Dynamic Client Registration names).
	ClientURI string `json:"client_uri"`
	LogoURI   string `json:"logo_uri"`
	PolicyURI string `json:"policy_uri"`
	TosURI    string `json:"tos_uri"`
	// Contacts are addresses of the people responsible for the client
	// (RFC 7591), for the operator; no page shows them.
	Contacts []string `json:"contacts"`
	// ApplicationType is web or native as the client registered it; ""
	// for a client the operator registered without saying.
	ApplicationType string `json:"application_type"`
	// Dynamic clients registered themselves (oidc.registration): they
	// are third-party apps, never first-party, and manage their own
	// registration with a registration access token.
	Dynamic bool `json:"dynamic"`
	// UserinfoSigningAlg, when set (RS256, ES256, EdDSA), makes UserInfo
	// answer the client with a signed JWT instead of plain JSON
	// (userinfo_signed_response_alg).
	UserinfoSigningAlg string `json:"userinfo_signing_alg"`
	// JWKS holds the client's public keys, for private_key_jwt.
	JWKS              *jose.JSONWebKeySet `json:"jwks,omitempty"`
	AccessTokenFormat string              `json:"access_token_format"`
	SigningAlg        string              `json:"signing_alg"`
	AccessTokenTTL    Duration            `json:"access_token_ttl"`
	IDTokenTTL        Duration            `json:"id_token_ttl"`
	// RefreshTokenTTL is the absolute lifetime of a refresh token family:
	// rotation does not extend it.
	RefreshTokenTTL Duration `json:"refresh_token_ttl"`
	// RequireAAL is the assurance level the client's sign-ins must reach
	// ("" for the domain's policy, aal1 or aal2).
	RequireAAL string `json:"require_aal"`
	// HasSecret tells whether a secret is set (it is shown only once).
	HasSecret bool      `json:"has_secret"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// HasGrant reports whether the client may use grant type g.
func (c *Client) HasGrant(g string) bool { return slices.Contains(c.GrantTypes, g) }

// UsesSecret reports whether the client authenticates with a client
// secret (client_secret_basic or client_secret_post).
func (c *Client) UsesSecret() bool { return usesSecret(c.AuthMethod) }

func usesSecret(method string) bool {
	return method == AuthMethodBasic || method == AuthMethodPost
}

// Duration is a token lifetime. In JSON it is written as a whole number of
// seconds; it reads a number of seconds or a Go duration string ("10m").
type Duration time.Duration

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// MarshalJSON writes whole seconds.
func (d Duration) MarshalJSON() ([]byte, error) {
	return strconv.AppendInt(nil, int64(time.Duration(d)/time.Second), 10), nil
}

// UnmarshalJSON reads whole seconds (600) or a duration string ("10m").
func (d *Duration) UnmarshalJSON(b []byte) error {
	wrong := &json.UnmarshalTypeError{Value: "value", Type: reflect.TypeFor[Duration]()}
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return wrong
		}
		v, err := time.ParseDuration(s)
		if err != nil {
			return wrong
		}
		*d = Duration(v)
		return nil
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil || n < 0 || n > int64(1<<62)/int64(time.Second) {
		return wrong
	}
	*d = Duration(time.Duration(n) * time.Second)
	return nil
}

// String formats the duration like time.Duration.
func (d Duration) String() string { return time.Duration(d).String() }

// ValidationError says which field of a Spec is wrong and why.
type ValidationError struct {
	Field   string // JSON name, with an index for list items: redirect_uris[0]
	Message string
}

// Error formats the problem as "field: message".
func (e *ValidationError) Error() string {
	if e.Field == "" {
		return e.Message
	}
	return e.Field + ": " + e.Message
}

func invalid(field, format string, args ...any) *ValidationError {
	return &ValidationError{Field: field, Message: fmt.Sprintf(format, args...)}
}

func indexed(field string, i int) string { return field + "[" + strconv.Itoa(i) + "]" }

// joinSpace is for messages listing allowed values.
func joinSpace(vs ...string) string { return strings.Join(vs, ", ") }
