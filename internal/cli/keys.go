package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/foyer-id/foyer/internal/keys"
	"github.com/foyer-id/foyer/internal/store"
)

const keysUsage = `Usage: foyer keys <command> [flags]

Manages the keys that sign ID tokens and JWT access tokens, and that
relying parties fetch from the JWKS. Works against a running server's
database; servers pick up changes within 30 seconds.

Commands:
  list     list the signing keys and their states
  rotate   add a new signing key (published first, signing a day later)

Run "foyer keys <command> --help" for a command's flags.
`

// keysCommand runs "foyer keys …".
func keysCommand(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, keysUsage)
		return errors.New("keys: missing command (list or rotate)")
	}
	switch args[0] {
	case "list":
		return keysList(ctx, args[1:], environ, stdout, stderr)
	case "rotate":
		return keysRotate(ctx, args[1:], environ, stdout, stderr)
	case "help", "--help", "-help", "-h":
		fmt.Fprint(stderr, keysUsage)
		return flag.ErrHelp
	}
	fmt.Fprint(stderr, keysUsage)
	return fmt.Errorf("keys: unknown command %q", args[0])
}

func keysList(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("foyer keys list", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs)
	asJSON := fs.Bool("json", false, "print JSON instead of a table")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: foyer keys list [flags]

Lists the signing keys, newest first: pending keys are published in the JWKS
but do not sign yet, the active key of each algorithm signs, retired keys stay
published until they expire so that the tokens they signed still verify.
Private keys are never shown.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("keys list: unexpected argument %q", fs.Arg(0))
	}
	db, m, err := openKeys(ctx, &c, environ)
	if err != nil {
		return err
	}
	defer db.Close()
	list, err := m.List(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		if list == nil {
			list = []keys.Info{}
		}
		return printJSON(stdout, list)
	}
	if len(list) == 0 {
		fmt.Fprintln(stdout, "No signing keys yet: the server creates one when it starts.")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KID\tALG\tSTATE\tCREATED\tACTIVATED\tRETIRED\tEXPIRES")
	for _, k := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Algorithm, k.State,
			keysTime(k.CreatedAt), keysTime(k.ActivatedAt), keysTime(k.RetiredAt), keysTime(k.ExpiresAt))
	}
	return tw.Flush()
}

func keysRotate(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("foyer keys rotate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs)
	alg := fs.String("alg", keys.DefaultAlgorithm, "algorithm of the new key: "+strings.Join(keys.Algorithms(), ", "))
	immediate := fs.Bool("immediate", false, "emergency (compromised key): sign with the new key at once and retire the current one")
	asJSON := fs.Bool("json", false, "print the new key as JSON")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: foyer keys rotate [flags]

Adds a new signing key. It is published in the JWKS at once and starts signing
after the publish period (24h by default), when the servers' maintenance
promotes it; the current key is then retired and stays published until every
token it signed has expired. Relying parties never see an unknown key.

With --immediate the new key signs at once. Use it only when a key is
compromised: relying parties that cached the JWKS reject new tokens until they
fetch it again, and the retired key stays published for the retention period
(7 days by default).

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("keys rotate: unexpected argument %q", fs.Arg(0))
	}
	if !slices.Contains(keys.Algorithms(), *alg) {
		return fmt.Errorf("keys rotate: --alg %q: use one of %s", *alg, strings.Join(keys.Algorithms(), ", "))
	}
	db, m, err := openKeys(ctx, &c, environ)
	if err != nil {
		return err
	}
	defer db.Close()
	var opts []keys.RotateOption
	if *immediate {
		opts = append(opts, keys.Immediate)
	}
	k, err := m.Rotate(ctx, *alg, opts...)
	if err != nil {
		return err
	}
	info := k.Info()
	if *asJSON {
		return printJSON(stdout, info)
	}
	rot := m.Rotation()
	fmt.Fprintf(stdout, "Added %s key %s (%s).\n", info.Algorithm, info.ID, info.State)
	switch {
	case info.State == keys.Pending:
		fmt.Fprintf(stdout, "It is published in the JWKS now. It starts signing at the servers' first\nmaintenance after %s (with the default %s publish period),\nand the current %s key is then retired.\n",
			keysTime(info.CreatedAt.Add(rot.PublishBefore+rot.CacheFor)), keysDuration(rot.PublishBefore), info.Algorithm)
	case *immediate:
		fmt.Fprintf(stdout, "Servers sign with it within %s. Relying parties that cached the JWKS reject\nnew tokens until they fetch it again. The previous key is retired and stays\npublished for %s, so tokens it signed keep verifying.\n",
			keysDuration(rot.CacheFor), keysDuration(rot.RetainAfter))
	default:
		fmt.Fprintf(stdout, "There was no active %s key, so it signs at once.\n", info.Algorithm)
	}
	return nil
}

// openKeys opens the configured server's database and key manager.
func openKeys(ctx context.Context, c *common, environ []string) (*store.DB, *keys.Manager, error) {
	db, secret, err := openServerDB(ctx, c, environ)
	if err != nil {
		return nil, nil, err
	}
	m, err := keys.NewManager(db, secret, nil, keys.Rotation{})
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return db, m, nil
}

// keysTime formats a time for the key table; "-" when unset.
func keysTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

// keysDuration formats whole days and hours plainly ("7 days", "24h").
func keysDuration(d time.Duration) string {
	switch {
	case d >= 48*time.Hour && d%(24*time.Hour) == 0:
		return fmt.Sprintf("%d days", d/(24*time.Hour))
	case d >= time.Hour && d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	}
	return d.String()
}
