package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/foyer-id/foyer/internal/client"
	"github.com/foyer-id/foyer/internal/config"
	"github.com/foyer-id/foyer/internal/store"
)

const clientsUsage = `Usage: foyer clients <command> [ID] [flags]

Manages the OAuth 2.1 / OpenID Connect clients (applications) of the
customers domain. Every command prints JSON. Works against the same
--data/--dsn while a server runs.

Commands:
  create            register a client; prints it with its secret (shown once)
  list              list the clients, oldest first
  get ID            show a client
  update ID         change the settings given as flags, keep the others
  delete ID         delete a client and revoke its tokens
  rotate-secret ID  replace a client's secret; prints the new one (shown once)
  initial-token     issue, list and revoke the initial access tokens that let
                    apps register themselves (dynamic client registration)

Examples:
  foyer clients create --name shop --redirect-uri https://shop.example/callback
  foyer clients create --name app --public --redirect-uri com.example.app:/callback
  foyer clients create --name batch --grant client_credentials
  foyer clients update ID --access-token opaque --first-party

Run "foyer clients <command> --help" for a command's flags.
`

// clientsCommand runs "foyer clients …".
func clientsCommand(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, clientsUsage)
		return errors.New("clients: name a command: create, list, get, update, delete, rotate-secret or initial-token")
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "help", "--help", "-help", "-h":
		fmt.Fprint(stderr, clientsUsage)
		return flag.ErrHelp
	case "initial-token":
		return initialTokenCommand(ctx, args, environ, stdout, stderr)
	case "create", "list", "get", "update", "delete", "rotate-secret":
	default:
		fmt.Fprint(stderr, clientsUsage)
		return fmt.Errorf("clients: unknown command %q", sub)
	}

	fs := flag.NewFlagSet("foyer clients "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs)
	var sf specFlags
	if sub == "create" || sub == "update" {
		sf.register(fs, sub == "update")
	}
	wantID := sub != "create" && sub != "list"
	fs.Usage = func() {
		fmt.Fprint(stderr, clientsHelp[sub])
		fmt.Fprint(stderr, "\nFlags:\n")
		fs.PrintDefaults()
	}
	id, err := parseClientArgs(fs, args, wantID)
	if err != nil {
		return err
	}
	var spec client.Spec
	if sub == "create" || sub == "update" {
		if spec, err = sf.spec(fs); err != nil {
			return fmt.Errorf("clients %s: %w", sub, err)
		}
	}

	reg, db, err := openClientRegistry(ctx, &c, environ)
	if err != nil {
		return err
	}
	defer db.Close()
	domain := config.DefaultDomain

	// inDomain loads the client named on the command line; clients of
	// other domains do not exist for this command.
	inDomain := func() (*client.Client, error) {
		cl, err := reg.Get(ctx, id)
		if err == nil && cl.Domain != domain {
			err = store.ErrNotFound
		}
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("clients %s: no client %q in domain %s", sub, id, domain)
		}
		return cl, err
	}

	switch sub {
	case "create":
		cl, secret, err := reg.Create(ctx, domain, spec)
		if err != nil {
			return fmt.Errorf("clients create: %w", flagHint(err))
		}
		if err := printJSON(stdout, withSecret{Client: cl, ClientSecret: secret}); err != nil {
			return err
		}
		if secret != "" {
			fmt.Fprint(stderr, secretNote(cl.ID))
		}
		return nil
	case "list":
		list, err := reg.List(ctx, domain)
		if err != nil {
			return err
		}
		return printJSON(stdout, list)
	case "get":
		cl, err := inDomain()
		if err != nil {
			return err
		}
		return printJSON(stdout, cl)
	case "update":
		if _, err := inDomain(); err != nil {
			return err
		}
		cl, err := reg.Update(ctx, id, spec)
		if err != nil {
			return fmt.Errorf("clients update: %w", flagHint(err))
		}
		if err := printJSON(stdout, cl); err != nil {
			return err
		}
		if cl.UsesSecret() && !cl.HasSecret {
			fmt.Fprintf(stderr, "The client has no secret yet: run `foyer clients rotate-secret %s` to issue one.\n", cl.ID)
		}
		return nil
	case "delete":
		cl, err := inDomain()
		if err != nil {
			return err
		}
		if err := reg.Delete(ctx, cl.ID); err != nil {
			return err
		}
		return printJSON(stdout, map[string]any{"client_id": cl.ID, "deleted": true})
	case "rotate-secret":
		cl, err := inDomain()
		if err != nil {
			return err
		}
		secret, err := reg.RotateSecret(ctx, cl.ID)
		if errors.Is(err, client.ErrNoSecret) {
			return fmt.Errorf("clients rotate-secret: client %s uses auth method %s, which has no secret", cl.ID, cl.AuthMethod)
		}
		if err != nil {
			return err
		}
		if err := printJSON(stdout, map[string]string{"client_id": cl.ID, "client_secret": secret}); err != nil {
			return err
		}
		fmt.Fprint(stderr, secretNote(cl.ID))
		return nil
	}
	return nil
}

var clientsHelp = map[string]string{
	"create": `Usage: foyer clients create --name NAME [flags]

Registers a client and prints it as JSON. A confidential client using
client_secret_basic or client_secret_post gets a secret, printed once in
"client_secret": store it now. Defaults: confidential, client_secret_basic,
grants authorization_code + refresh_token, scopes openid profile email
offline_access, JWT access tokens signed with ES256, access and ID tokens
10 minutes (client_credentials-only clients: 5), refresh tokens 30 days.
`,
	"list": `Usage: foyer clients list [flags]

Prints the clients of the customers domain as a JSON array, oldest first.
Secrets are never shown.
`,
	"get": `Usage: foyer clients get ID [flags]

Prints one client as JSON. Its secret is never shown.
`,
	"update": `Usage: foyer clients update ID [flags]

Changes the settings given as flags and keeps the others; the result is
checked as a whole. A list flag given replaces the whole list (give it as
--flag= to empty it). Turning --public on or off without --auth-method takes
the new kind's default method.
`,
	"delete": `Usage: foyer clients delete ID [flags]

Deletes a client, its pending authorizations and consents, and its tokens.
`,
	"rotate-secret": `Usage: foyer clients rotate-secret ID [flags]

Gives a client a new secret, printed once; the old secret stops working at
once.
`,
}

// parseClientArgs parses flags and the client id, which may come before
// or after the flags.
func parseClientArgs(fs *flag.FlagSet, args []string, wantID bool) (string, error) {
	var id string
	if wantID && len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		id, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return "", err
	}
	rest := fs.Args()
	if wantID && id == "" && len(rest) > 0 {
		id, rest = rest[0], rest[1:]
	}
	if len(rest) > 0 {
		return "", fmt.Errorf("%s: unexpected argument %q", fs.Name(), rest[0])
	}
	if wantID && id == "" {
		fs.Usage()
		return "", fmt.Errorf("%s: name the client id", fs.Name())
	}
	return id, nil
}

// listFlag is a repeatable flag; values may also be separated by spaces
// or commas. Given as --flag= it stands for an empty list.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, " ") }

func (l *listFlag) Set(v string) error {
	*l = append(*l, strings.FieldsFunc(v, func(r rune) bool { return r == ' ' || r == ',' })...)
	return nil
}

// uriFlag is a repeatable flag for URIs, one per use.
type uriFlag []string

func (l *uriFlag) String() string { return strings.Join(*l, " ") }

func (l *uriFlag) Set(v string) error {
	if v != "" {
		*l = append(*l, v)
	}
	return nil
}

// specFlags are the client settings of create and update.
type specFlags struct {
	name, authMethod, jwksFile, accessToken, alg, requireAAL string
	clientURI, logoURI, policyURI, tosURI                    string
	public, firstParty                                       bool
	redirectURIs, postLogoutURIs                             uriFlag
	grants, scopes, detailsTypes                             listFlag
	accessTTL, idTTL, refreshTTL                             time.Duration
}

func (f *specFlags) register(fs *flag.FlagSet, update bool) {
	fs.StringVar(&f.name, "name", "", "display name, 1 to 200 characters (required)")
	fs.Var(&f.redirectURIs, "redirect-uri", "redirect URI, exact; repeat for several (https, http only on loopback, com.example.app:/path for public native apps)")
	fs.Var(&f.postLogoutURIs, "post-logout-redirect-uri", "where logout may send the browser back to; repeat for several")
	fs.BoolVar(&f.public, "public", false, "public client (SPA or native app): no secret, auth method none, PKCE")
	fs.BoolVar(&f.firstParty, "first-party", false, "the domain's own app: skip the consent page")
	fs.Var(&f.grants, "grant", "grant type: authorization_code, refresh_token, client_credentials; repeat for several (default authorization_code and refresh_token)")
	fs.StringVar(&f.authMethod, "auth-method", "", "token endpoint authentication: client_secret_basic (default), client_secret_post, private_key_jwt, none (public)")
	fs.StringVar(&f.jwksFile, "jwks-file", "", "JSON Web Key Set file with the client's public keys, for private_key_jwt")
	fs.Var(&f.scopes, "scope", "allowed scope; repeat or separate with spaces (default openid profile email offline_access)")
	fs.Var(&f.detailsTypes, "authorization-details-type", "authorization details type (RFC 9396) the client may send; repeat or separate with spaces (default none)")
	fs.StringVar(&f.clientURI, "client-uri", "", "the app's website, linked from the consent page")
	fs.StringVar(&f.logoURI, "logo-uri", "", "the app's logo (https), shown when the app sends a customer")
	fs.StringVar(&f.policyURI, "policy-uri", "", "the app's privacy policy, linked from the consent page")
	fs.StringVar(&f.tosURI, "tos-uri", "", "the app's terms of service, linked from the consent page")
	fs.StringVar(&f.accessToken, "access-token", "", "access token format: jwt (default) or opaque")
	fs.StringVar(&f.alg, "alg", "", "signing algorithm for ID and JWT access tokens: RS256 (default, as OpenID Connect registration has it), ES256, EdDSA")
	fs.DurationVar(&f.accessTTL, "access-token-ttl", 0, "access token lifetime, 1m to 1h (default 10m; 5m for client_credentials-only clients)")
	fs.DurationVar(&f.idTTL, "id-token-ttl", 0, "ID token lifetime, 1m to 1h (default 10m)")
	fs.DurationVar(&f.refreshTTL, "refresh-token-ttl", 0, "absolute refresh token lifetime, 1h to 8760h (default 720h)")
	fs.StringVar(&f.requireAAL, "require-aal", "", "assurance level sign-ins for this client must reach: aal1 or aal2 (empty: the domain's policy)")
	if update {
		fs.Lookup("name").Usage = "display name, 1 to 200 characters"
		fs.Lookup("jwks-file").Usage += " (--jwks-file= removes the JWKS)"
	}
}

// spec turns the flags given on the command line into a Spec; flags not
// given stay unset.
func (f *specFlags) spec(fs *flag.FlagSet) (client.Spec, error) {
	var s client.Spec
	var err error
	fs.Visit(func(fl *flag.Flag) {
		switch fl.Name {
		case "name":
			s.Name = new(f.name)
		case "redirect-uri":
			s.RedirectURIs = new([]string(f.redirectURIs))
		case "post-logout-redirect-uri":
			s.PostLogoutRedirectURIs = new([]string(f.postLogoutURIs))
		case "public":
			s.Public = new(f.public)
		case "first-party":
			s.FirstParty = new(f.firstParty)
		case "grant":
			s.GrantTypes = new([]string(f.grants))
		case "auth-method":
			s.AuthMethod = new(f.authMethod)
		case "scope":
			s.Scopes = new([]string(f.scopes))
		case "authorization-details-type":
			s.AuthorizationDetailsTypes = new([]string(f.detailsTypes))
		case "client-uri":
			s.ClientURI = new(f.clientURI)
		case "logo-uri":
			s.LogoURI = new(f.logoURI)
		case "policy-uri":
			s.PolicyURI = new(f.policyURI)
		case "tos-uri":
			s.TosURI = new(f.tosURI)
		case "access-token":
			s.AccessTokenFormat = new(f.accessToken)
		case "alg":
			s.SigningAlg = new(f.alg)
		case "access-token-ttl":
			s.AccessTokenTTL = new(client.Duration(f.accessTTL))
		case "id-token-ttl":
			s.IDTokenTTL = new(client.Duration(f.idTTL))
		case "refresh-token-ttl":
			s.RefreshTokenTTL = new(client.Duration(f.refreshTTL))
		case "require-aal":
			s.RequireAAL = new(f.requireAAL)
		case "jwks-file":
			if f.jwksFile == "" {
				s.JWKS = json.RawMessage(`{"keys": []}`)
				return
			}
			var b []byte
			if b, err = os.ReadFile(f.jwksFile); err != nil {
				err = fmt.Errorf("--jwks-file: %w", err)
				return
			}
			if !json.Valid(b) {
				err = fmt.Errorf("--jwks-file: %s is not JSON", f.jwksFile)
				return
			}
			s.JWKS = b
		}
	})
	return s, err
}

// flagNames maps Spec fields to the flags that set them, for messages.
var flagNames = map[string]string{
	"name": "--name", "public": "--public", "first_party": "--first-party", "auth_method": "--auth-method",
	"redirect_uris": "--redirect-uri", "post_logout_redirect_uris": "--post-logout-redirect-uri",
	"grant_types": "--grant", "scopes": "--scope", "authorization_details_types": "--authorization-details-type",
	"client_uri": "--client-uri", "logo_uri": "--logo-uri", "policy_uri": "--policy-uri", "tos_uri": "--tos-uri", "jwks": "--jwks-file", "access_token_format": "--access-token",
	"signing_alg": "--alg", "access_token_ttl": "--access-token-ttl", "id_token_ttl": "--id-token-ttl",
	"refresh_token_ttl": "--refresh-token-ttl", "require_aal": "--require-aal",
}

// flagHint adds the flag's name to a validation error.
func flagHint(err error) error {
	var ve *client.ValidationError
	if !errors.As(err, &ve) {
		return err
	}
	base, _, _ := strings.Cut(ve.Field, "[")
	base, _, _ = strings.Cut(base, ".")
	if fl, ok := flagNames[base]; ok {
		return fmt.Errorf("%s (%s): %s", ve.Field, fl, ve.Message)
	}
	return err
}

// withSecret is a created client with its secret, shown once.
type withSecret struct {
	*client.Client
	ClientSecret string `json:"client_secret,omitempty"`
}

func secretNote(id string) string {
	return "The client secret above is shown only this once: store it now. Foyer keeps only a hash;\n" +
		"if it is lost, issue a new one with `foyer clients rotate-secret " + id + "`.\n"
}

// openClientRegistry opens the configured server's client registry.
func openClientRegistry(ctx context.Context, c *common, environ []string) (*client.Registry, *store.DB, error) {
	db, secret, err := openServerDB(ctx, c, environ)
	if err != nil {
		return nil, nil, err
	}
	return client.NewRegistry(db, secret, nil), db, nil
}
