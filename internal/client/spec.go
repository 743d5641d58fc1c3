package client

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"encoding/json"
	"net/mail"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-jose/go-jose/v4"
)

// Limits on a registration.
const (
	maxNameLength = 200
	maxURIs       = 50
	maxURILength  = 2000
	maxScopes     = 100
	maxScopeLen   = 128
	maxKeys       = 20
	// maxDetailsTypes bounds authorization_details_types.
	maxDetailsTypes = 20
	maxContacts     = 20
	maxAddressLen   = 254 // RFC 5321's limit on a forward path, less its brackets
)

// Spec is the input of Create and Update. Nil fields are unset: Create
// fills in the defaults, Update keeps the current value. In JSON, an
// absent field and null are both unset; send [] to empty a list, "" to
// clear require_aal and {"keys": []} to remove the JWKS.
type Spec struct {
	Name                   *string   `json:"name,omitempty"`
	Public                 *bool     `json:"public,omitempty"`
	FirstParty             *bool     `json:"first_party,omitempty"`
	AuthMethod             *string   `json:"auth_method,omitempty"`
	RedirectURIs           *[]string `json:"redirect_uris,omitempty"`
	PostLogoutRedirectURIs *[]string `json:"post_logout_redirect_uris,omitempty"`
	GrantTypes             *[]string `json:"grant_types,omitempty"`
	Scopes                 *[]string `json:"scopes,omitempty"`
	// AuthorizationDetailsTypes are the RFC 9396 types the client may
	// send (none by default).
	AuthorizationDetailsTypes *[]string `json:"authorization_details_types,omitempty"`
	ClientURI                 *string   `json:"client_uri,omitempty"`
	LogoURI                   *string   `json:"logo_uri,omitempty"`
	PolicyURI                 *string   `json:"policy_uri,omitempty"`
	TosURI                    *string   `json:"tos_uri,omitempty"`
	// Contacts are email addresses of the people responsible for the
	// client (none by default).
	Contacts *[]string `json:"contacts,omitempty"`
	// ApplicationType is web or native ("" by default: not said).
	ApplicationType *string `json:"application_type,omitempty"`
	// UserinfoSigningAlg asks for UserInfo as a JWT signed with RS256,
	// ES256 or EdDSA ("" by default: plain JSON).
	UserinfoSigningAlg *string `json:"userinfo_signing_alg,omitempty"`
	// JWKS is a JSON Web Key Set of public keys ({"keys": [...]}).
	JWKS              json.RawMessage `json:"jwks,omitempty"`
	AccessTokenFormat *string         `json:"access_token_format,omitempty"`
	SigningAlg        *string         `json:"signing_alg,omitempty"`
	AccessTokenTTL    *Duration       `json:"access_token_ttl,omitempty"`
	IDTokenTTL        *Duration       `json:"id_token_ttl,omitempty"`
	RefreshTokenTTL   *Duration       `json:"refresh_token_ttl,omitempty"`
	RequireAAL        *string         `json:"require_aal,omitempty"`
}

// validate applies s to base (nil when creating: unset fields get their
// defaults) and checks the result as a whole. It returns the new client
// without id, domain or times.
func (s Spec) validate(base *Client) (*Client, error) {
	var c Client
	if base != nil {
		c = *base
		c.RedirectURIs = slices.Clone(base.RedirectURIs)
		c.PostLogoutRedirectURIs = slices.Clone(base.PostLogoutRedirectURIs)
		c.GrantTypes = slices.Clone(base.GrantTypes)
		c.Scopes = slices.Clone(base.Scopes)
		c.AuthorizationDetailsTypes = slices.Clone(base.AuthorizationDetailsTypes)
		c.Contacts = slices.Clone(base.Contacts)
	}
	if s.Name != nil {
		c.Name = strings.TrimSpace(*s.Name)
	} else if base == nil {
		return nil, invalid("name", "is required")
	}
	if s.Public != nil {
		if base != nil && *s.Public != base.Public && s.AuthMethod == nil {
			// Switching kind without naming a method: take the new
			// kind's default rather than fail on the old method.
			c.AuthMethod = defaultAuthMethod(*s.Public)
		}
		c.Public = *s.Public
	}
	if s.FirstParty != nil {
		c.FirstParty = *s.FirstParty
	}
	if s.AuthMethod != nil {
		c.AuthMethod = *s.AuthMethod
	} else if base == nil {
		c.AuthMethod = defaultAuthMethod(c.Public)
	}
	setList(&c.RedirectURIs, s.RedirectURIs, nil, base == nil)
	setList(&c.PostLogoutRedirectURIs, s.PostLogoutRedirectURIs, nil, base == nil)
	setList(&c.GrantTypes, s.GrantTypes, DefaultGrantTypes, base == nil)
	setList(&c.Scopes, s.Scopes, DefaultScopes, base == nil)
	setList(&c.AuthorizationDetailsTypes, s.AuthorizationDetailsTypes, nil, base == nil)
	setList(&c.Contacts, s.Contacts, nil, base == nil)
	if len(s.JWKS) > 0 && !bytes.Equal(bytes.TrimSpace(s.JWKS), []byte("null")) {
		set, err := parseJWKS(s.JWKS)
		if err != nil {
			return nil, err
		}
		c.JWKS = set
	}
	setString(&c.AccessTokenFormat, s.AccessTokenFormat, AccessTokenJWT, base == nil)
	setString(&c.SigningAlg, s.SigningAlg, AlgRS256, base == nil)
	setString(&c.RequireAAL, s.RequireAAL, "", base == nil)
	setString(&c.ClientURI, s.ClientURI, "", base == nil)
	setString(&c.LogoURI, s.LogoURI, "", base == nil)
	setString(&c.PolicyURI, s.PolicyURI, "", base == nil)
	setString(&c.TosURI, s.TosURI, "", base == nil)
	setString(&c.ApplicationType, s.ApplicationType, "", base == nil)
	setString(&c.UserinfoSigningAlg, s.UserinfoSigningAlg, "", base == nil)
	accessDefault := DefaultAccessTokenTTL
	if len(c.GrantTypes) == 1 && c.GrantTypes[0] == GrantClientCredentials {
		accessDefault = DefaultClientCredentialsAccessTokenTTL
	}
	setDuration(&c.AccessTokenTTL, s.AccessTokenTTL, accessDefault, base == nil)
	setDuration(&c.IDTokenTTL, s.IDTokenTTL, DefaultIDTokenTTL, base == nil)
	setDuration(&c.RefreshTokenTTL, s.RefreshTokenTTL, DefaultRefreshTokenTTL, base == nil)
	if err := c.check(); err != nil {
		return nil, err
	}
	return &c, nil
}

// webURL reports whether raw is a page or image the hosted pages may
// link to or show: https, or http on loopback; no credentials, no
// fragment.
func webURL(raw string) bool {
	if len(raw) > maxURILength || strings.ContainsFunc(raw, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return false
	}
	u, err := url.Parse(raw)
	if err != nil || u.User != nil || u.Fragment != "" || u.Opaque != "" || u.Hostname() == "" {
		return false
	}
	switch u.Scheme {
	case "https":
		return true
	case "http":
		h := u.Hostname()
		return h == "localhost" || h == "127.0.0.1" || h == "::1"
	}
	return false
}

// emailAddress reports whether s is a bare email address (no display
// name, no comments) of reasonable length.
func emailAddress(s string) bool {
	if len(s) > maxAddressLen || strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return false
	}
	a, err := mail.ParseAddress(s)
	return err == nil && a.Name == "" && a.Address == s
}

// checkNames checks a list of names a protocol sends as tokens (scopes,
// authorization details types): at most max, each valid once.
func checkNames(field, what string, names []string, max int) error {
	if len(names) > max {
		return invalid(field, "must list at most %d %s", max, what)
	}
	for i, n := range names {
		if !validScope(n) {
			return invalid(indexed(field, i), "must be 1 to %d printable ASCII characters without spaces, quotes or backslashes", maxScopeLen)
		}
		if slices.Index(names, n) != i {
			return invalid(indexed(field, i), "%s is listed twice", n)
		}
	}
	return nil
}

func defaultAuthMethod(public bool) string {
	if public {
		return AuthMethodNone
	}
	return AuthMethodBasic
}

func setList(dst *[]string, v *[]string, def []string, creating bool) {
	switch {
	case v != nil:
		*dst = slices.Clone(*v)
	case creating:
		*dst = slices.Clone(def)
	}
	if *dst == nil {
		*dst = []string{}
	}
}

func setString(dst *string, v *string, def string, creating bool) {
	switch {
	case v != nil:
		*dst = *v
	case creating:
		*dst = def
	}
}

func setDuration(dst *Duration, v *Duration, def time.Duration, creating bool) {
	switch {
	case v != nil:
		*dst = *v
	case creating:
		*dst = Duration(def)
	}
}

// check validates a whole client, field by field in declaration order,
// and returns the first problem.
func (c *Client) check() error {
	if n := utf8.RuneCountInString(c.Name); n < 1 || n > maxNameLength {
		return invalid("name", "must be 1 to %d characters", maxNameLength)
	}
	if strings.ContainsFunc(c.Name, unicode.IsControl) {
		return invalid("name", "must not contain control characters")
	}
	if c.Dynamic && c.FirstParty {
		return invalid("first_party", "a client that registered itself is a third-party app: its consent page is always shown")
	}

	switch c.AuthMethod {
	case AuthMethodBasic, AuthMethodPost, AuthMethodPrivateKeyJWT, AuthMethodNone:
	default:
		return invalid("auth_method", "must be one of %s", joinSpace(AuthMethodBasic, AuthMethodPost, AuthMethodPrivateKeyJWT, AuthMethodNone))
	}
	if c.Public && c.AuthMethod != AuthMethodNone {
		return invalid("auth_method", "a public client has no credentials and must use none")
	}
	if !c.Public && c.AuthMethod == AuthMethodNone {
		return invalid("auth_method", "a confidential client must authenticate: use %s", joinSpace(AuthMethodBasic, AuthMethodPost, AuthMethodPrivateKeyJWT))
	}

	if len(c.GrantTypes) == 0 {
		return invalid("grant_types", "must list at least one grant type")
	}
	for i, g := range c.GrantTypes {
		switch g {
		case GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials:
		default:
			return invalid(indexed("grant_types", i), "must be one of %s", joinSpace(GrantAuthorizationCode, GrantRefreshToken, GrantClientCredentials))
		}
		if slices.Index(c.GrantTypes, g) != i {
			return invalid(indexed("grant_types", i), "%s is listed twice", g)
		}
	}
	if c.Public && c.HasGrant(GrantClientCredentials) {
		return invalid("grant_types", "a public client cannot use client_credentials")
	}
	if c.HasGrant(GrantRefreshToken) && !c.HasGrant(GrantAuthorizationCode) {
		return invalid("grant_types", "refresh_token needs authorization_code (client_credentials clients get no refresh tokens)")
	}

	if c.HasGrant(GrantAuthorizationCode) && len(c.RedirectURIs) == 0 {
		return invalid("redirect_uris", "authorization_code needs at least one redirect URI")
	}
	if err := checkURIs("redirect_uris", c.RedirectURIs, c.Public); err != nil {
		return err
	}
	if err := checkURIs("post_logout_redirect_uris", c.PostLogoutRedirectURIs, c.Public); err != nil {
		return err
	}

	if err := checkNames("scopes", "scopes", c.Scopes, maxScopes); err != nil {
		return err
	}
	if err := checkNames("authorization_details_types", "types", c.AuthorizationDetailsTypes, maxDetailsTypes); err != nil {
		return err
	}
	if len(c.AuthorizationDetailsTypes) > 0 && !c.HasGrant(GrantAuthorizationCode) {
		return invalid("authorization_details_types", "authorization details come with authorization requests: add the authorization_code grant")
	}

	for _, u := range []struct{ field, v string }{
		{"client_uri", c.ClientURI}, {"logo_uri", c.LogoURI}, {"policy_uri", c.PolicyURI}, {"tos_uri", c.TosURI},
	} {
		if u.v != "" && !webURL(u.v) {
			return invalid(u.field, "must be an absolute https URL (http only for localhost and 127.0.0.1) of at most %d characters", maxURILength)
		}
	}

	if len(c.Contacts) > maxContacts {
		return invalid("contacts", "must list at most %d addresses", maxContacts)
	}
	for i, a := range c.Contacts {
		if !emailAddress(a) {
			return invalid(indexed("contacts", i), "must be an email address such as ops@example.com")
		}
		if slices.Index(c.Contacts, a) != i {
			return invalid(indexed("contacts", i), "is listed twice")
		}
	}
	switch c.ApplicationType {
	case "", ApplicationWeb, ApplicationNative:
	default:
		return invalid("application_type", "must be %s or %s", ApplicationWeb, ApplicationNative)
	}

	if c.AuthMethod == AuthMethodPrivateKeyJWT && signingKeys(c.JWKS) == 0 {
		return invalid("jwks", "private_key_jwt needs a JWKS with at least one public signing key")
	}

	switch c.AccessTokenFormat {
	case AccessTokenJWT, AccessTokenOpaque:
	default:
		return invalid("access_token_format", "must be %s or %s", AccessTokenJWT, AccessTokenOpaque)
	}
	switch c.SigningAlg {
	case AlgES256, AlgRS256, AlgEdDSA:
	default:
		return invalid("signing_alg", "must be one of %s", joinSpace(AlgES256, AlgRS256, AlgEdDSA))
	}
	switch c.UserinfoSigningAlg {
	case "", AlgES256, AlgRS256, AlgEdDSA:
	default:
		return invalid("userinfo_signing_alg", "must be one of %s, or empty", joinSpace(AlgES256, AlgRS256, AlgEdDSA))
	}

	for _, ttl := range []struct {
		field    string
		v        Duration
		min, max time.Duration
		bounds   string
	}{
		{"access_token_ttl", c.AccessTokenTTL, time.Minute, time.Hour, "1 minute and 1 hour"},
		{"id_token_ttl", c.IDTokenTTL, time.Minute, time.Hour, "1 minute and 1 hour"},
		{"refresh_token_ttl", c.RefreshTokenTTL, time.Hour, 365 * 24 * time.Hour, "1 hour and 365 days"},
	} {
		if ttl.v.D() < ttl.min || ttl.v.D() > ttl.max {
			return invalid(ttl.field, "must be between %s (%d to %d seconds)", ttl.bounds, int64(ttl.min/time.Second), int64(ttl.max/time.Second))
		}
		if ttl.v.D()%time.Second != 0 {
			return invalid(ttl.field, "must be a whole number of seconds")
		}
	}

	switch c.RequireAAL {
	case "", AAL1, AAL2:
	default:
		return invalid("require_aal", `must be empty, %s or %s`, AAL1, AAL2)
	}
	return nil
}

// checkURIs validates redirect or post-logout redirect URIs: exact,
// absolute URIs that OAuth 2.1 and RFC 8252 allow.
func checkURIs(field string, uris []string, public bool) error {
	if len(uris) > maxURIs {
		return invalid(field, "must list at most %d URIs", maxURIs)
	}
	for i, raw := range uris {
		if msg := checkRedirectURI(raw, public); msg != "" {
			return invalid(indexed(field, i), "%s", msg)
		}
		if slices.Index(uris, raw) != i {
			return invalid(indexed(field, i), "is listed twice")
		}
	}
	return nil
}

// checkRedirectURI returns what is wrong with raw, or "".
func checkRedirectURI(raw string, public bool) string {
	general := "must be an absolute https URL without fragment (http is allowed for localhost, 127.0.0.1 and [::1] loopback)"
	if public {
		general += "; native apps may also use a private-use scheme such as com.example.app:/callback"
	}
	switch {
	case raw == "":
		return general
	case len(raw) > maxURILength:
		return "must be at most 2000 characters"
	case strings.Contains(raw, "*"):
		return "must not contain wildcards: list each URI exactly"
	case strings.Contains(raw, "#"):
		return general
	case strings.ContainsFunc(raw, func(r rune) bool { return r <= ' ' || r == 0x7f }):
		return "must not contain spaces or control characters"
	}
	u, err := url.Parse(raw)
	if err != nil || u.User != nil {
		return general
	}
	switch u.Scheme {
	case "https":
		if u.Opaque != "" || u.Hostname() == "" {
			return general
		}
		return ""
	case "http":
		switch u.Hostname() {
		case "localhost", "127.0.0.1", "::1":
			if u.Opaque == "" {
				return ""
			}
		}
		return general
	case "":
		return general
	}
	// A private-use scheme (RFC 8252 section 7.1): native apps only, and
	// named after a domain the app's author controls, which also rules
	// out javascript:, data: and the like.
	if !public {
		return general + "; private-use schemes such as com.example.app:/callback are for public (native) clients only"
	}
	if !strings.Contains(u.Scheme, ".") {
		return "a private-use scheme must be a reversed domain name such as com.example.app (RFC 8252)"
	}
	if u.Host == "" && u.Path == "" && u.Opaque == "" {
		return general
	}
	return ""
}

// validScope follows RFC 6749 section 3.3: scope-token = 1*NQCHAR.
func validScope(s string) bool {
	if s == "" || len(s) > maxScopeLen {
		return false
	}
	for i := range len(s) {
		b := s[i]
		if b < 0x21 || b > 0x7e || b == '"' || b == '\\' {
			return false
		}
	}
	return true
}

// privateMembers are the JWK members that carry secret key material.
var privateMembers = []string{"d", "p", "q", "dp", "dq", "qi", "oth", "k", "priv"}

// parseJWKS parses a JSON Web Key Set of public keys. Private and
// symmetric keys are refused: a client only ever shares public keys, and
// storing a private one would leak it to every admin. An empty set means
// no JWKS (nil).
func parseJWKS(raw json.RawMessage) (*jose.JSONWebKeySet, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&set); err != nil || set.Keys == nil {
		return nil, invalid("jwks", `must be a JSON Web Key Set: {"keys": [...]}`)
	}
	if len(set.Keys) == 0 {
		return nil, nil
	}
	if len(set.Keys) > maxKeys {
		return nil, invalid("jwks.keys", "must hold at most %d keys", maxKeys)
	}
	out := &jose.JSONWebKeySet{}
	for i, kr := range set.Keys {
		field := indexed("jwks.keys", i)
		var members map[string]json.RawMessage
		if err := json.Unmarshal(kr, &members); err != nil {
			return nil, invalid(field, "must be a JSON Web Key object")
		}
		for _, m := range privateMembers {
			if _, ok := members[m]; ok {
				return nil, invalid(field, "must be a public key: it holds private or symmetric key material (%q); never share a private key", m)
			}
		}
		var k jose.JSONWebKey
		if err := k.UnmarshalJSON(kr); err != nil {
			return nil, invalid(field, "is not a valid public key (supported: RSA of 2048 bits or more, EC P-256/P-384/P-521, OKP Ed25519)")
		}
		switch pub := k.Key.(type) {
		case *rsa.PublicKey:
			if pub.N.BitLen() < 2048 {
				return nil, invalid(field, "RSA keys must have at least 2048 bits")
			}
		case *ecdsa.PublicKey, ed25519.PublicKey:
		default:
			return nil, invalid(field, "is not a supported public key (supported: RSA, EC P-256/P-384/P-521, OKP Ed25519)")
		}
		if !k.Valid() {
			return nil, invalid(field, "is not a valid public key")
		}
		if k.Use != "" && k.Use != "sig" && k.Use != "enc" {
			return nil, invalid(field, `"use" must be sig or enc`)
		}
		if k.KeyID != "" && len(out.Key(k.KeyID)) > 0 {
			return nil, invalid(field, "key id %q is used twice", k.KeyID)
		}
		out.Keys = append(out.Keys, k)
	}
	return out, nil
}

// signingKeys counts the public keys usable to verify signatures.
func signingKeys(set *jose.JSONWebKeySet) int {
	if set == nil {
		return 0
	}
	n := 0
	for i := range set.Keys {
		if k := &set.Keys[i]; k.IsPublic() && (k.Use == "" || k.Use == "sig") {
			n++
		}
	}
	return n
}
