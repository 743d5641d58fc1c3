package cli

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/foyer-id/foyer/internal/config"
	"github.com/foyer-id/foyer/internal/decision"
	"github.com/foyer-id/foyer/internal/policy"
	"github.com/foyer-id/foyer/internal/policy/rules"
	"github.com/foyer-id/foyer/internal/server"
)

const policyUsage = `Usage: foyer policy <command> [flags]

Checks, tests and replays policy files: ordered rules in CEL that decide
each step of the customers' journeys (docs/policies.md).

Commands:
  check    compile a policy file and report every fault as FILE:LINE:COL: message
  test     run a file of table tests (an input, the outcome it must get) against a policy
  replay   decide the recorded decisions again with a candidate policy, and report what changes

Run "foyer policy <command> --help" for a command's flags.
`

// policyCommand runs "foyer policy …".
func policyCommand(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, policyUsage)
		return errors.New("policy: missing command (check, test or replay)")
	}
	switch args[0] {
	case "check":
		return policyCheck(args[1:], stdout, stderr)
	case "test":
		return policyTest(args[1:], stdout, stderr)
	case "replay":
		return policyReplay(ctx, args[1:], environ, stdout, stderr)
	case "help", "--help", "-help", "-h":
		fmt.Fprint(stderr, policyUsage)
		return flag.ErrHelp
	}
	fmt.Fprint(stderr, policyUsage)
	return fmt.Errorf("policy: unknown command %q", args[0])
}

// errFaults is returned when faults were printed already: the command
// fails without saying more.
var errFaults = errors.New("policy: the file has faults")

// loadPolicy compiles a policy file with the domain's settings; its
// faults go to stderr, one per line.
func loadPolicy(path string, settings policy.Default, stderr io.Writer) (*rules.Policy, error) {
	return loadPolicyWith(path, rules.Options{Settings: settings}, stderr)
}

// loadPolicyWith is loadPolicy with all the options.
func loadPolicyWith(path string, opts rules.Options, stderr io.Writer) (*rules.Policy, error) {
	data, err := rules.ReadFile(path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return nil, errFaults
	}
	p, err := rules.Parse(path, data, opts)
	var es rules.Errors
	if errors.As(err, &es) {
		for _, e := range es {
			fmt.Fprintln(stderr, e)
		}
		return nil, errFaults
	}
	return p, err
}

func policyCheck(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("foyer policy check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: foyer policy check FILE...

Compiles each policy file and type-checks every rule. Each fault is printed
as FILE:LINE:COL: message, and the command exits 1 when there is one.
`)
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return errors.New("policy check: name a policy file")
	}
	failed := false
	for _, path := range fs.Args() {
		p, err := loadPolicy(path, policy.Default{}, stderr)
		if errors.Is(err, errFaults) {
			failed = true
			continue
		}
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: ok, %d rules, version %s, fallback %s\n", path, len(p.Rules()), p.Version, p.Fallback)
	}
	if failed {
		return errFaults
	}
	return nil
}

func policyTest(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("foyer policy test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	verbose := fs.Bool("v", false, "print every case, not only those that fail")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: foyer policy test [-v] FILE CASES.yaml

Runs table tests against a policy file: each case is a decision's input and
the outcome it must get. Exits 1, naming each case that failed and what it
got, when one does. The cases' format is in docs/policies.md.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 2 {
		fs.Usage()
		return errors.New("policy test: name a policy file and a cases file")
	}
	cases, settings, err := rules.LoadCases(fs.Arg(1))
	if err != nil {
		return err
	}
	// A rule that cannot be evaluated is skipped in production; in a test
	// it is a failure of the case.
	var evalErrs []string
	p, err := loadPolicyWith(fs.Arg(0), rules.Options{Settings: settings, OnError: func(rule string, err error) {
		evalErrs = append(evalErrs, fmt.Sprintf("rule %q could not be evaluated and was skipped: %v", rule, err))
	}}, stderr)
	if err != nil {
		return err
	}
	failed := 0
	for _, c := range cases {
		evalErrs = evalErrs[:0]
		msg := c.Check(p)
		if len(evalErrs) > 0 {
			msg = strings.Join(append([]string{msg}, evalErrs...), "; ")
			msg = strings.TrimPrefix(msg, "; ")
		}
		if msg != "" {
			failed++
			fmt.Fprintf(stdout, "FAIL %s:%d: %s: %s\n", fs.Arg(1), c.Line, c.Name, msg)
		} else if *verbose {
			fmt.Fprintf(stdout, "ok   %s\n", c.Name)
		}
	}
	if failed > 0 {
		fmt.Fprintf(stdout, "%d of %d cases failed\n", failed, len(cases))
		return fmt.Errorf("policy test: %d of %d cases failed", failed, len(cases))
	}
	fmt.Fprintf(stdout, "ok: %d cases pass against %s\n", len(cases), fs.Arg(0))
	return nil
}

func policyReplay(ctx context.Context, args, environ []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("foyer policy replay", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var c common
	c.register(fs)
	candidate := fs.String("policy", "", "the candidate policy file")
	shadow := fs.Bool("shadow", false, "report the shadow policy's recorded decisions against the live ones instead")
	since := fs.Duration("since", 168*time.Hour, "how far back the window of recorded decisions goes")
	action := fs.String("action", "", "replay only this action's decisions (login.submit, session.issue, …)")
	asJSON := fs.Bool("json", false, "print the report as JSON")
	fs.Usage = func() {
		fmt.Fprint(stderr, `Usage: foyer policy replay --policy CANDIDATE [flags]
       foyer policy replay --shadow [flags]

Decides every decision recorded in the window again with the candidate
policy, and reports per action how many change and from what to what, the
accounts affected, and the expected effect on completion (weighing each
step-up and challenge by the share of journeys that passed one in the same
window). Reads the database of a server (same --config, --data and --dsn as
serve); changes nothing.

With --shadow, compares instead what the shadow policy (policy.shadow)
decided beside the live one on the traffic it saw.

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("policy replay: unexpected argument %q", fs.Arg(0))
	}
	if (*candidate == "") == !*shadow {
		fs.Usage()
		return errors.New("policy replay: give --policy CANDIDATE, or --shadow")
	}
	if *since <= 0 {
		return errors.New("policy replay: --since must be positive")
	}
	if *action != "" && !slices.Contains(policy.Actions, policy.Action(*action)) {
		return fmt.Errorf("policy replay: unknown action %q", *action)
	}
	db, _, err := openServerDB(ctx, &c, environ)
	if err != nil {
		return err
	}
	defer db.Close()
	now := time.Now().UTC()
	q := decision.Query{Domain: config.DefaultDomain, From: now.Add(-*since), To: now, Action: policy.Action(*action)}
	log := decision.NewLog(db)
	var rep *decision.Report
	if *shadow {
		rep, err = log.ReplayShadow(ctx, q)
	} else {
		var p *rules.Policy
		if p, err = loadPolicy(*candidate, server.PolicySettings(c.loaded), stderr); err != nil {
			return err
		}
		rep, err = log.Replay(ctx, q, p, p.Name+"@"+p.Version)
	}
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, rep)
	}
	printReport(stdout, rep)
	return nil
}

// printReport writes a replay report for a person.
func printReport(w io.Writer, rep *decision.Report) {
	fmt.Fprintf(w, "Replay of %s, %s to %s\n", cmp.Or(rep.Policy, "the shadow policy"),
		rep.From.Format(time.RFC3339), rep.To.Format(time.RFC3339))
	pct := func(n, of int) string {
		if of == 0 {
			return "-"
		}
		return fmt.Sprintf("%.1f%%", 100*float64(n)/float64(of))
	}
	fmt.Fprintf(w, "%d decisions, %d change (%s), %d accounts affected, expected completions %+.1f\n\n",
		rep.Decisions, rep.Changed, pct(rep.Changed, rep.Decisions), rep.Identities, rep.CompletionDelta)
	if rep.Decisions == 0 {
		fmt.Fprintln(w, "No recorded decisions in the window.")
		return
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ACTION\tDECISIONS\tCHANGED\tACCOUNTS\tSTEP-UP PASS\tCHALLENGE PASS\tCOMPLETIONS\tTRANSITIONS")
	rateText := func(r *float64) string {
		if r == nil {
			return "-"
		}
		return fmt.Sprintf("%.0f%%", 100**r)
	}
	for _, a := range rep.Actions {
		var ts []string
		for t, n := range a.Transitions {
			ts = append(ts, fmt.Sprintf("%s %d", t, n))
		}
		for t, n := range a.StepChanges {
			ts = append(ts, fmt.Sprintf("%s %d", t, n))
		}
		sort.Strings(ts)
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%s\t%s\t%+.1f\t%s\n", a.Action, a.Decisions, a.Changed, a.Identities,
			rateText(a.StepUpPassRate), rateText(a.ChallengePassRate), a.CompletionDelta, strings.Join(ts, ", "))
	}
	_ = tw.Flush()
}
