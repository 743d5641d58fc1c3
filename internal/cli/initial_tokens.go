package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/foyer-id/foyer/internal/client"
	"github.com/foyer-id/foyer/internal/config"
	"github.com/foyer-id/foyer/internal/store"
)

const initialTokenUsage = `Usage: foyer clients initial-token <command> [ID] [flags]

Manages the initial access tokens of dynamic client registration
(docs/oidc.md, "Dynamic client registration"): with oidc.registration set to
token, registering a client at /oauth/register needs one, sent as
Authorization: Bearer <token>. Every command prints JSON.

Commands:
  create     issue a token; prints it (shown once)
  list       list the tokens, oldest first, with their uses left
  revoke ID  delete a token: it registers nothing more (its clients stay)

Examples:
  foyer clients initial-token create --note "Partner Ltd" --expires 72h
  foyer clients initial-token create --note "OpenID conformance suite" --uses 200
  foyer clients initial-token revoke ID
`

var initialTokenHelp = map[string]string{
	"create": `Usage: foyer clients initial-token create [flags]

Issues an initial access token and prints it as JSON, its value in "token":
store it now, it is not shown again (Foyer keeps only a hash). It registers
up to --uses clients before --expires passes.
`,
	"list": `Usage: foyer clients initial-token list [flags]

Prints the initial access tokens as a JSON array, oldest first, expired and
used-up ones too, with their uses left. Tokens themselves are never shown.
`,
	"revoke": `Usage: foyer clients initial-token revoke ID [flags]

Deletes an initial access token: it registers no more clients. The clients
it registered stay; delete them with foyer clients delete.
`,
}

// initialTokenCommand runs "foyer clients initial-token …".
func initialTokenCommand(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, initialTokenUsage)
		return errors.New("clients initial-token: name a command: create, list or revoke")
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "help", "--help", "-help", "-h":
		fmt.Fprint(stderr, initialTokenUsage)
		return flag.ErrHelp
	case "create", "list", "revoke":
	default:
		fmt.Fprint(stderr, initialTokenUsage)
		return fmt.Errorf("clients initial-token: unknown command %q", sub)
	}
	fs := flag.NewFlagSet("foyer clients initial-token "+sub, flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs)
	expires, uses, note := client.DefaultInitialTokenTTL, 1, ""
	if sub == "create" {
		fs.DurationVar(&expires, "expires", expires, "how long the token works, 1m to 8760h")
		fs.IntVar(&uses, "uses", uses, "how many clients the token may register")
		fs.StringVar(&note, "note", "", "what the token is for (who got it), shown by list")
	}
	fs.Usage = func() {
		fmt.Fprint(stderr, initialTokenHelp[sub])
		fmt.Fprint(stderr, "\nFlags:\n")
		fs.PrintDefaults()
	}
	id, err := parseClientArgs(fs, args, sub == "revoke")
	if err != nil {
		return err
	}

	reg, db, err := openClientRegistry(ctx, &c, environ)
	if err != nil {
		return err
	}
	defer db.Close()
	domain := config.DefaultDomain

	switch sub {
	case "create":
		t, token, err := reg.CreateInitialToken(ctx, domain, expires, uses, note)
		if err != nil {
			return fmt.Errorf("clients initial-token create: %w", initialTokenHint(err))
		}
		if err := printJSON(stdout, withToken{InitialToken: t, Token: token}); err != nil {
			return err
		}
		fmt.Fprint(stderr, "The token above is shown only this once: hand it over now. Foyer keeps only a hash.\n")
		if mode := c.loaded.OIDC.Registration; mode != config.RegistrationToken {
			fmt.Fprintf(stderr, "Note: oidc.registration is %q here; the server asks for initial access tokens only with token (FOYER_OIDC_REGISTRATION=token).\n", mode)
		}
		return nil
	case "list":
		list, err := reg.InitialTokens(ctx, domain)
		if err != nil {
			return err
		}
		return printJSON(stdout, list)
	case "revoke":
		err := reg.RevokeInitialToken(ctx, domain, id)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("clients initial-token revoke: no initial access token %q in domain %s", id, domain)
		}
		if err != nil {
			return err
		}
		return printJSON(stdout, map[string]any{"id": id, "revoked": true})
	}
	return nil
}

// withToken is a new initial access token with its value, shown once.
type withToken struct {
	*client.InitialToken
	Token string `json:"token"`
}

// initialTokenHint names the flag of a problem with a new token.
func initialTokenHint(err error) error {
	var ve *client.ValidationError
	if errors.As(err, &ve) {
		return fmt.Errorf("--%s: %s", ve.Field, ve.Message)
	}
	return err
}
