// Command bench is Foyer's load tool. It drives the JSON API's journeys —
// sign-up, sign-in, whoami — and OAuth refresh-token rotation with a fixed
// number of concurrent clients and reports throughput, latency percentiles
// and errors by status. It also measures the machine's Argon2id ceiling,
// the yardstick for the journeys that hash a password. See bench/README.md;
// bench/run.sh runs the whole suite against a fresh server, with wrk for
// the endpoints a Go client cannot saturate (whoami, client_credentials,
// introspection).
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

const usage = `Foyer load tool.

Usage:
  go run ./bench [flags] <scenario> [flags]
  go run ./bench -scenario <scenario> [flags]

Scenarios:
  setup     create -n users (default 200) on a server with
            domains.customers.registration.require_verification: false and
            write their emails, passwords and session tokens to -users
  register  sign-ups: POST /api/registration, then POST /api/registration/{id}
            with a new address and a strong password (one Argon2id hash)
  login     sign-ins of the -users users: POST /api/login, then
            POST /api/login/{id} (one Argon2id verify, a new session)
  whoami    GET /sessions/whoami with the -users session tokens (light: for
            the real number use wrk and bench/wrk/whoami.lua)
  oauth-setup
            for -n customers (default 16), on the same kind of server as
            setup: sign up, run the authorization code flow with PKCE for
            the -client-id client as a browser would, and write the refresh
            and access tokens to -tokens, one chain per line
  refresh   refresh-token rotations: each worker holds its own chain of
            -tokens and POSTs /oauth/token grant_type=refresh_token with it,
            keeping the new refresh token; the newest tokens are written
            back to -tokens at the end
  report    go run ./bench report FILE.json...: a table of saved results
            (-json-out) checked against the targets of bench/README.md
  hash      Argon2id ceiling of this machine: the server's own hasher at the
            default parameters on every CPU, no server involved (run it while
            no server is busy)

One operation of register, login and setup is two HTTP requests; its latency
is the time of both. Throughput counts successful operations.

The OAuth scenarios authenticate as the client -client-id with -client-secret
(HTTP Basic); both default to FOYER_CLIENT_ID and FOYER_CLIENT_SECRET.

Flags:
`

// options are the command-line settings of one run.
type options struct {
	scenario    string
	url         string
	concurrency int
	duration    time.Duration
	count       int
	warmup      time.Duration
	usersPath   string
	json        bool
	jsonOut     string
	timeout     time.Duration
	runID       string
	ceiling     float64

	// OAuth scenarios.
	tokensPath   string
	clientID     string
	clientSecret string
	redirectURI  string
	scope        string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	go func() {
		// The first Ctrl-C ends the run gracefully; the next one kills.
		<-ctx.Done()
		stop()
	}()
	code := runMain(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// runMain parses args, runs one scenario and returns the exit code: 0 when
// every operation succeeded, 1 when some failed or the run could not start,
// 2 for a usage error.
func runMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "report" {
		return runReport(args[1:], stdout, stderr)
	}
	opt, err := parseFlags(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 2
	}
	res, err := runScenario(ctx, opt, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	if opt.json {
		err = res.writeJSON(stdout)
	} else {
		err = res.writeText(stdout)
	}
	if err == nil && opt.jsonOut != "" {
		err = res.writeJSONFile(opt.jsonOut)
	}
	if err != nil {
		fmt.Fprintln(stderr, "bench:", err)
		return 1
	}
	if res.Errors > 0 {
		return 1
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (*options, error) {
	opt := &options{}
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	fs.StringVar(&opt.scenario, "scenario", "", "scenario to run: setup, register, login, whoami, oauth-setup, refresh or hash (or give it as the first argument)")
	fs.StringVar(&opt.url, "url", "http://127.0.0.1:4455", "base URL of the Foyer server")
	fs.IntVar(&opt.concurrency, "c", 8, "concurrent clients, each with one operation in flight (hash: hashing goroutines, default the number of CPUs)")
	fs.DurationVar(&opt.duration, "d", 10*time.Second, "how long to start new operations; operations in flight then finish and count (0: no limit, needs -n)")
	fs.IntVar(&opt.count, "n", 0, "stop after this many operations (0: no limit; setup: the number of users, default 200; oauth-setup: the number of chains, default 16)")
	fs.DurationVar(&opt.warmup, "warmup", 0, "run the scenario this long first and discard the results")
	fs.StringVar(&opt.usersPath, "users", filepath.Join(os.TempDir(), "foyer-bench-users.jsonl"), "users file: written by setup, read by login and whoami (JSON lines: email, password, token)")
	fs.BoolVar(&opt.json, "json", false, "print the result as JSON")
	fs.StringVar(&opt.jsonOut, "json-out", "", "also write the result as JSON to this file (for bench report)")
	fs.DurationVar(&opt.timeout, "timeout", 30*time.Second, "timeout of one HTTP request")
	fs.StringVar(&opt.runID, "run", "", "run id in the addresses bench-<run>-<n>@example.com (default random)")
	fs.Float64Var(&opt.ceiling, "ceiling", 0, "Argon2id ceiling in hashes/s (from the hash scenario); register and login then also print their share of it")
	fs.StringVar(&opt.tokensPath, "tokens", filepath.Join(os.TempDir(), "foyer-bench-oauth.jsonl"), "OAuth tokens file: written by oauth-setup, read and updated by refresh (JSON lines: email, refresh_token, access_token)")
	// The environment is read after parsing, so that -h never prints a
	// secret as a default.
	fs.StringVar(&opt.clientID, "client-id", "", "OAuth client id for oauth-setup and refresh (default $FOYER_CLIENT_ID)")
	fs.StringVar(&opt.clientSecret, "client-secret", "", "its secret (default $FOYER_CLIENT_SECRET; the environment keeps it out of ps)")
	fs.StringVar(&opt.redirectURI, "redirect-uri", "http://127.0.0.1:9/callback", "oauth-setup: a redirect URI registered for the client (never contacted)")
	fs.StringVar(&opt.scope, "scope", "openid offline_access", "oauth-setup: the scopes to ask for; offline_access gets the refresh token")

	// The scenario may come first, before the flags.
	positional := ""
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		positional, args = args[0], args[1:]
	}
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if positional != "" {
		if opt.scenario != "" && opt.scenario != positional {
			return nil, fmt.Errorf("two scenarios: %q and -scenario %q", positional, opt.scenario)
		}
		opt.scenario = positional
	}
	if fs.NArg() == 1 && opt.scenario == "" {
		opt.scenario = fs.Arg(0)
	} else if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q: give one scenario, and flags before or after it", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	switch opt.scenario {
	case "setup", "register", "login", "whoami", "oauth-setup", "refresh", "hash":
	case "":
		fs.Usage()
		return nil, errors.New("name a scenario: setup, register, login, whoami, oauth-setup, refresh or hash")
	default:
		return nil, fmt.Errorf("unknown scenario %q: use setup, register, login, whoami, oauth-setup, refresh, hash or report", opt.scenario)
	}
	if opt.scenario == "setup" || opt.scenario == "oauth-setup" {
		what, n := "user", 200
		if opt.scenario == "oauth-setup" {
			what, n = "chain", 16
		}
		if !set["n"] {
			opt.count = n
		}
		if !set["d"] {
			opt.duration = 0 // setup creates exactly -n users or chains
		}
		if opt.count < 1 {
			return nil, fmt.Errorf("-n: %s needs at least one %s", opt.scenario, what)
		}
		if opt.warmup > 0 {
			return nil, fmt.Errorf("-warmup: %s creates %ss, it has nothing to warm up", opt.scenario, what)
		}
	}
	if opt.scenario == "oauth-setup" || opt.scenario == "refresh" {
		if opt.clientID == "" {
			opt.clientID = os.Getenv("FOYER_CLIENT_ID")
		}
		if opt.clientSecret == "" {
			opt.clientSecret = os.Getenv("FOYER_CLIENT_SECRET")
		}
		if opt.clientID == "" || opt.clientSecret == "" {
			return nil, fmt.Errorf("%s needs an OAuth client: give -client-id and -client-secret, or set FOYER_CLIENT_ID and FOYER_CLIENT_SECRET (see bench/README.md)", opt.scenario)
		}
		if opt.scenario == "oauth-setup" && !strings.Contains(" "+opt.scope+" ", " offline_access ") {
			return nil, errors.New("-scope: oauth-setup needs offline_access, or no refresh token is issued")
		}
	}
	if opt.scenario == "hash" && !set["c"] {
		opt.concurrency = 0 // the number of CPUs, decided when it runs
	}
	if opt.concurrency < 0 || (opt.concurrency == 0 && opt.scenario != "hash") {
		return nil, errors.New("-c must be at least 1")
	}
	if opt.duration < 0 || opt.count < 0 || opt.warmup < 0 || opt.timeout <= 0 || opt.ceiling < 0 {
		return nil, errors.New("-d, -n, -warmup and -ceiling must not be negative, -timeout must be positive")
	}
	if opt.duration == 0 && opt.count == 0 {
		return nil, errors.New("give -d or -n: otherwise the run never ends")
	}
	opt.url = strings.TrimRight(opt.url, "/")
	if !strings.HasPrefix(opt.url, "http://") && !strings.HasPrefix(opt.url, "https://") {
		return nil, fmt.Errorf("-url %q must start with http:// or https://", opt.url)
	}
	if opt.runID == "" {
		var b [4]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, err
		}
		opt.runID = hex.EncodeToString(b[:])
	}
	for _, r := range opt.runID {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return nil, fmt.Errorf("-run %q: use lower-case letters and digits only", opt.runID)
		}
	}
	return opt, nil
}

// runScenario prepares the operation of opt.scenario, runs it and returns
// the result.
func runScenario(ctx context.Context, opt *options, stderr io.Writer) (*Result, error) {
	if opt.scenario == "hash" {
		return runHash(ctx, opt)
	}
	c := newClient(opt.url, opt.concurrency, opt.timeout)
	if err := c.ping(ctx); err != nil {
		return nil, err
	}
	var users []*user
	var chains []*chain
	oc := &oauthClient{id: opt.clientID, secret: opt.clientSecret, redirectURI: opt.redirectURI, scope: opt.scope}
	switch opt.scenario {
	case "setup":
		users = make([]*user, opt.count)
	case "login", "whoami":
		var err error
		if users, err = readUsers(opt.usersPath); err != nil {
			return nil, err
		}
	case "oauth-setup":
		chains = make([]*chain, opt.count)
	case "refresh":
		var err error
		if chains, err = readChains(opt.tokensPath); err != nil {
			return nil, err
		}
		if len(chains) < opt.concurrency {
			return nil, fmt.Errorf("refresh: %s holds %d chains and each of the %d workers needs its own: run oauth-setup -n %d", opt.tokensPath, len(chains), opt.concurrency, opt.concurrency)
		}
	}
	// newOp returns the operation; runID keeps the addresses of a warm-up
	// apart from those of the measured run.
	newOp := func(runID string) operation {
		switch opt.scenario {
		case "register":
			return registerOp(c, runID)
		case "setup":
			return setupOp(c, runID, users)
		case "login":
			return loginOp(c, users)
		case "oauth-setup":
			return oauthSetupOp(c, oc, runID, chains)
		case "refresh":
			return refreshOp(c, oc, chains)
		default:
			return whoamiOp(c, users)
		}
	}
	if opt.warmup > 0 {
		fmt.Fprintf(stderr, "bench: warming up %s for %s\n", opt.scenario, opt.warmup)
		warm := *opt
		warm.duration, warm.count = opt.warmup, 0
		run(ctx, &warm, newOp(opt.runID+"w"))
	}
	res := run(ctx, opt, newOp(opt.runID))
	if opt.scenario == "setup" {
		n, err := writeUsers(opt.usersPath, users)
		if err != nil {
			return nil, err
		}
		res.Note = fmt.Sprintf("wrote %d users to %s", n, opt.usersPath)
	}
	if opt.scenario == "oauth-setup" || opt.scenario == "refresh" {
		// refresh writes back even after errors: the chains that rotated
		// must not be presented again in their old state, which Foyer
		// would take for reuse and answer by revoking them.
		if res.OK == 0 && opt.scenario == "oauth-setup" {
			// Keep the file of an earlier setup; the errors say why.
			res.Note = "no chain was created, " + opt.tokensPath + " left as it was"
			return res, nil
		}
		n, err := writeChains(opt.tokensPath, chains)
		if err != nil {
			return nil, err
		}
		verb := "wrote"
		if opt.scenario == "refresh" {
			verb = "updated"
		}
		res.Note = fmt.Sprintf("%s %d chains in %s", verb, n, opt.tokensPath)
	}
	return res, nil
}
