package config

import (
	"fmt"
	"os"
	"regexp"
	"strings"
)

// Provider is an upstream identity provider customers may sign up and in
// with ("Continue with Google"), an entry of a domain's providers
// (docs/social.md). The redirect URI to register at the provider is
// {public_url}/providers/{id}/callback.
type Provider struct {
	// ID names the provider in URLs, links and events: lower-case
	// letters, digits, - and _. It must not change once customers have
	// linked accounts, which are kept under it.
	ID string `yaml:"id"`
	// Kind is oidc (any OpenID provider, by issuer discovery), github
	// (OAuth 2 with its user and email APIs), or a preset: google, apple,
	// microsoft.
	Kind string `yaml:"kind"`
	// Name is what the button says: "Continue with {name}". Presets
	// default to the provider's own name.
	Name string `yaml:"name"`
	// Issuer is the OpenID issuer (presets know theirs).
	Issuer       string `yaml:"issuer"`
	ClientID     string `yaml:"client_id"`
	ClientSecret string `yaml:"client_secret"`
	// ClientSecretFile is a file holding the client secret instead
	// (a mounted secret); its trailing newline is dropped.
	ClientSecretFile string `yaml:"client_secret_file"`
	// TokenEndpointAuthMethod is client_secret_basic (the default),
	// client_secret_post or private_key_jwt (PrivateKeyFile signs).
	TokenEndpointAuthMethod string `yaml:"token_endpoint_auth_method"`
	// PrivateKeyFile is a PEM private key (PKCS #8, or Apple's .p8) for
	// private_key_jwt, and for Apple's client secret; KeyID its key id.
	PrivateKeyFile string `yaml:"private_key_file"`
	KeyID          string `yaml:"key_id"`
	// TeamID is the Apple developer team that owns the key.
	TeamID string `yaml:"team_id"`
	// Tenant is Microsoft's tenant: common (the default), organizations,
	// consumers, or a tenant id.
	Tenant string `yaml:"tenant"`
	// Scopes asked for (presets and oidc default to openid email
	// profile, or what the provider needs).
	Scopes []string `yaml:"scopes"`
	// AuthURL, TokenURL and APIURL are GitHub's endpoints, for GitHub
	// Enterprise Server.
	AuthURL  string `yaml:"auth_url"`
	TokenURL string `yaml:"token_url"`
	APIURL   string `yaml:"api_url"`
	// Claims maps traits of the identity schema to the provider's claims
	// for a new account (name: name).
	Claims map[string]string `yaml:"claims"`
	// MFAValues are the provider's amr or acr values that count as two
	// factors (the customer used a second factor there); empty, a
	// provider's sign-in is one factor.
	MFAValues []string `yaml:"mfa_values"`
	// AppClientIDs are the client ids of the business's native apps at
	// the provider, whose ID tokens the API accepts too.
	AppClientIDs []string `yaml:"app_client_ids"`
}

var providerIDRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// ProviderKinds are the kinds a provider may be.
var ProviderKinds = []string{"oidc", "github", "google", "apple", "microsoft"}

// validateProviders checks a domain's providers, and reads each client
// secret file.
func validateProviders(prefix string, ps []Provider, bad func(key, format string, args ...any)) {
	seen := map[string]bool{}
	for i := range ps {
		p := &ps[i]
		key := fmt.Sprintf("%s.providers[%d]", prefix, i)
		if !providerIDRE.MatchString(p.ID) {
			bad(key+".id", "must be 1-63 lower-case letters, digits, - or _, starting with a letter or digit")
		} else if seen[p.ID] {
			bad(key+".id", "%q is used twice", p.ID)
		}
		seen[p.ID] = true
		known := false
		for _, k := range ProviderKinds {
			known = known || p.Kind == k
		}
		if !known {
			bad(key+".kind", "must be one of %s", strings.Join(ProviderKinds, ", "))
		}
		if p.ClientID == "" {
			bad(key+".client_id", "must not be empty")
		}
		if p.ClientSecret != "" && p.ClientSecretFile != "" {
			bad(key+".client_secret_file", "give client_secret or client_secret_file, not both")
		}
		if p.ClientSecretFile != "" {
			raw, err := os.ReadFile(p.ClientSecretFile)
			if err != nil {
				bad(key+".client_secret_file", "cannot be read: %v", err)
			} else {
				p.ClientSecret = strings.TrimRight(string(raw), "\r\n")
			}
		}
		if p.Kind == "oidc" && p.Issuer == "" {
			bad(key+".issuer", "must be set for kind oidc")
		}
	}
}
