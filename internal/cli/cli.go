package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime/debug"
	"strings"

	"github.com/foyer-id/foyer/internal/config"
	"github.com/foyer-id/foyer/internal/server"
	"github.com/foyer-id/foyer/internal/store"
)

// Version is set at build time with -ldflags "-X github.com/foyer-id/foyer/internal/cli.Version=v1.2.3".
var Version = "dev"

const usage = `Foyer — customer identity server.

Usage:
  foyer <command> [flags]

Commands:
  serve     run the server (hosted pages, JSON API, mail delivery)
  migrate   apply database migrations
  clients   register and manage the apps that sign customers in (OAuth/OIDC clients)
  keys      list and rotate token-signing keys
  policy    check, test and replay policy files (docs/policies.md)
  version   print the version

Run "foyer <command> --help" for a command's flags.
`

// Main runs the command line and returns the exit code.
func Main(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = serve(ctx, args[1:], environ, stdout, stderr)
	case "migrate":
		err = migrate(ctx, args[1:], environ, stdout, stderr)
	case "keys":
		err = keysCommand(ctx, args[1:], environ, stdout, stderr)
	case "clients":
		err = clientsCommand(ctx, args[1:], environ, stdout, stderr)
	case "policy":
		err = policyCommand(ctx, args[1:], environ, stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "foyer", version())
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "foyer: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if errors.Is(err, errFaults) {
		return 1 // each fault is printed already
	}
	if err != nil {
		fmt.Fprintln(stderr, "foyer:", err)
		return 1
	}
	return 0
}

func version() string {
	if Version != "dev" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return Version
}

// common are the flags every command that touches the database shares.
type common struct {
	config, data, dsn string
	dev               bool
	devSet            bool
	// loaded is the configuration openServerDB read.
	loaded *config.Config
}

func (c *common) register(fs *flag.FlagSet) {
	fs.StringVar(&c.config, "config", "", "YAML configuration file (env FOYER_CONFIG)")
	fs.StringVar(&c.data, "data", "", "data folder for the embedded SQLite database (default ./data; env FOYER_DATA)")
	fs.StringVar(&c.dsn, "dsn", "", "database: postgres://… or a SQLite path (default <data>/foyer.db; env FOYER_DSN)")
	fs.BoolFunc("dev", "development mode: no TLS cookies, built-in mailbox, auto-migrate (env FOYER_DEV)", func(s string) error {
		c.devSet = true
		switch s {
		case "true":
			c.dev = true
		case "false":
			c.dev = false
		default:
			return errors.New("use --dev or --dev=false")
		}
		return nil
	})
}

// load builds the configuration: file, env, then flags.
func (c *common) load(environ []string, apply func(*config.Config)) (*config.Config, error) {
	path := c.config
	if path == "" {
		for _, kv := range environ {
			if v, ok := strings.CutPrefix(kv, "FOYER_CONFIG="); ok {
				path = v
			}
		}
	}
	cfg, err := config.Load(path, environ)
	if err != nil {
		return nil, err
	}
	if c.data != "" {
		cfg.Data = c.data
	}
	if c.dsn != "" {
		cfg.DSN = c.dsn
	}
	if c.devSet {
		cfg.Dev = c.dev
	}
	if apply != nil {
		apply(cfg)
	}
	if err := cfg.Finish(); err != nil {
		return nil, fmt.Errorf("configuration:\n%w", err)
	}
	return cfg, nil
}

func newLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func serve(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("foyer serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs)
	addr := fs.String("addr", "", "listen address (default 127.0.0.1:4455; env FOYER_ADDR)")
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: foyer serve [flags]\n\nRuns Foyer. With no configuration it starts in dev mode on an embedded SQLite\ndatabase in ./data, with mail shown at /dev/mailbox.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve: unexpected argument %q: serve takes only flags (see foyer serve --help)", fs.Arg(0))
	}
	implied := impliedDev(&c, environ)
	if implied {
		// No configuration at all: the newcomer's one command.
		c.dev, c.devSet = true, true
	}
	cfg, err := c.load(environ, func(cfg *config.Config) {
		if *addr != "" {
			cfg.Addr = *addr
		}
	})
	if err != nil {
		return err
	}
	logger := newLogger(cfg, stderr)
	// Libraries that log through the default logger (the OIDC protocol
	// library does) write the same JSON lines.
	slog.SetDefault(logger)
	setCollector(environ)
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", cfg.Addr, err)
	}
	if implied && !loopback(ln.Addr()) {
		// Dev mode nobody asked for must not open the mailbox, codes
		// and all, to the network.
		ln.Close()
		return fmt.Errorf("refusing to start in dev mode on %s, which other machines can reach: dev mode shows every mail, codes included, "+
			"to anyone at /dev/mailbox, and no configuration asked for it. Listen on this machine only (--addr 127.0.0.1:4455); "+
			"or configure a deployment (FOYER_PUBLIC_URL=https://…, FOYER_SECRET, FOYER_SMTP_URL, or --config); "+
			"or, if dev mode there is what you want, say so with --dev (FOYER_DEV=true, or dev: true in the configuration file)", describeAddr(ln.Addr()))
	}
	if cfg.Dev && strings.HasSuffix(cfg.Addr, ":0") {
		cfg.Addr = ln.Addr().String()
		cfg.PublicURL = ""
		if err := cfg.Finish(); err != nil {
			return err
		}
	}
	srv, err := server.New(ctx, cfg, server.Options{Logger: logger})
	if err != nil {
		ln.Close()
		return err
	}
	defer srv.Close()
	mode := "production"
	if cfg.Dev {
		mode = "dev"
	}
	logger.Info("foyer listening", "addr", ln.Addr().String(), "public_url", cfg.PublicURL, "mode", mode, "database", srv.DB.Dialect.String())
	fmt.Fprintf(stdout, "Foyer %s (%s mode) is running at %s\n", version(), mode, cfg.PublicURL)
	if cfg.Dev && cfg.SMTP.URL == "" {
		fmt.Fprintf(stdout, "  sign up:  %s/registration\n  mailbox:  %s/dev/mailbox\n", cfg.PublicURL, cfg.PublicURL)
		if !loopback(ln.Addr()) {
			logger.Warn("dev mode on a non-loopback address: anyone who can reach it reads every mail, codes included, at /dev/mailbox", "addr", ln.Addr().String())
		}
	}
	return srv.Run(ctx, ln)
}

// describeAddr names a listening address for a person: "every address of
// this machine, port 4455" rather than "[::]:4455".
func describeAddr(a net.Addr) string {
	if tcp, ok := a.(*net.TCPAddr); ok && tcp.IP.IsUnspecified() {
		return fmt.Sprintf("every address of this machine, port %d", tcp.Port)
	}
	return a.String()
}

// loopback reports whether a listener's address is reachable only from
// this machine.
func loopback(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// impliedDev reports whether the command runs in dev mode for want of any
// configuration: no --dev, no configuration file, and no https public URL
// in the environment. Only a real deployment has one (dev mode serves
// http), and one configured by environment variables alone must never get
// dev mode's open mailbox. A developer may still set a mail server or a
// secret for dev mode.
func impliedDev(c *common, environ []string) bool {
	if c.devSet || c.config != "" || hasEnv(environ, "FOYER_CONFIG") || hasEnv(environ, "FOYER_DEV") {
		return false
	}
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, "FOYER_PUBLIC_URL="); ok && strings.HasPrefix(strings.ToLower(strings.TrimSpace(v)), "https://") {
			return false
		}
	}
	return true
}

// gcPercent is the GOGC that foyer serve runs with. Every Argon2id hash
// allocates 19 MiB, so a loaded server's garbage is mostly hashes: at the
// default GOGC=100 the collector runs about once per hash. Measured under
// sign-up load (docs/benchmarks.md, 2026-12-06), GOGC=200 cost 1.2 ms of
// CPU per sign-up (some 4% of its throughput) and 400 half that, for a
// heap of up to five times what is live: the hashes running (at most
// password.max_concurrent) plus Foyer's own few tens of MiB.
const gcPercent = 400

// setCollector sets gcPercent unless the environment sets GOGC: an
// explicit GOGC wins.
func setCollector(environ []string) {
	if !hasEnv(environ, "GOGC") {
		debug.SetGCPercent(gcPercent)
	}
}

func hasEnv(environ []string, key string) bool {
	for _, kv := range environ {
		if strings.HasPrefix(kv, key+"=") {
			return true
		}
	}
	return false
}

func migrate(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("foyer migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs)
	fs.Usage = func() {
		fmt.Fprint(stderr, "Usage: foyer migrate [flags]\n\nApplies the embedded database migrations. Safe to run while servers run and\nfrom several machines at once.\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("migrate: unexpected argument %q", fs.Arg(0))
	}
	cfg, err := c.load(environ, func(cfg *config.Config) {
		// migrate needs only the database: do not insist on serving settings.
		cfg.Dev = true
	})
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, cfg.DSN)
	if err != nil {
		return err
	}
	defer db.Close()
	applied, err := db.Migrate(ctx)
	if err != nil {
		return err
	}
	v, _ := db.SchemaVersion(ctx)
	if len(applied) == 0 {
		fmt.Fprintf(stdout, "Database is up to date (schema version %d, %s).\n", v, db.Dialect)
		return nil
	}
	for _, m := range applied {
		fmt.Fprintln(stdout, "applied", m)
	}
	fmt.Fprintf(stdout, "Database migrated to schema version %d (%s).\n", v, db.Dialect)
	return nil
}

// openServerDB opens the database and secret of the configured server,
// for the commands that manage it while it runs (clients, keys). Like
// migrate it needs neither a public URL nor SMTP; like serve it runs in
// dev mode when nothing is configured at all, so it finds the secret a dev
// server keeps in <data>/secret. It refuses a missing SQLite file (which
// opening would create empty) and an unmigrated schema.
func openServerDB(ctx context.Context, c *common, environ []string) (*store.DB, []byte, error) {
	if impliedDev(c, environ) {
		c.dev, c.devSet = true, true
	}
	dev := false
	cfg, err := c.load(environ, func(cfg *config.Config) {
		// Validate as in dev mode, but remember the real mode: it decides
		// where the secret comes from.
		dev, cfg.Dev = cfg.Dev, true
	})
	if err != nil {
		return nil, nil, err
	}
	cfg.Dev = dev
	c.loaded = cfg
	// The database first: a mistyped --data must not get a secret of its
	// own.
	if !strings.HasPrefix(cfg.DSN, "postgres://") && !strings.HasPrefix(cfg.DSN, "postgresql://") {
		path := strings.TrimPrefix(strings.TrimPrefix(cfg.DSN, "sqlite://"), "sqlite:")
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return nil, nil, fmt.Errorf("no database at %s: pass the server's --data or --dsn, or run `foyer migrate` first", path)
		}
	}
	secret, err := cfg.LoadSecret()
	if err != nil {
		return nil, nil, err
	}
	db, err := store.Open(ctx, cfg.DSN)
	if err != nil {
		return nil, nil, err
	}
	all, err := store.Migrations(db.Dialect)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	if v, err := db.SchemaVersion(ctx); err != nil || v < len(all) {
		db.Close()
		return nil, nil, fmt.Errorf("database schema is at version %d, this Foyer needs %d: run `foyer migrate` first", v, len(all))
	}
	return db, secret, nil
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
