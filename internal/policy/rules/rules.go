package rules

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/common/ast"
	"cel.dev/cel-go/common/types"
	"cel.dev/cel-go/common/types/ref"
	"cel.dev/cel-go/ext"
	"go.yaml.in/yaml/v3"

	"github.com/foyer-id/foyer/internal/policy"
)

// The outcomes a rule may have beyond policy's effects: both allow the
// action, with something more.
const (
	// EffectSession allows, and sets the lifetime and idle timeout of the
	// session being created.
	EffectSession = "session"
	// EffectNotify allows, and mails the customer a security notice.
	EffectNotify = "notify"
)

// Fallbacks: what decides when no rule matches.
const (
	// FallbackBuiltin asks the built-in policy (policy.Default): a file
	// adds to its protections. The default.
	FallbackBuiltin = "builtin"
	// FallbackAllow allows: the file is the whole policy.
	FallbackAllow = "allow"
)

// Policy is a compiled policy file: ordered rules, the first that matches
// decides. It is immutable and safe for concurrent use.
type Policy struct {
	// Name is the file's base name, Version the first 8 bytes of the
	// SHA-256 of its content in hex: together they name the policy in
	// each decision it makes.
	Name, Version string
	// name is Name@Version, as each decision records it.
	name string
	// Fallback is what decides when no rule matches (Fallback…).
	Fallback string

	rules    []*rule
	byAction map[policy.Action][]*rule
	settings policy.Default
	// OnError is told of a rule whose condition or outcome failed to
	// evaluate (a trait missing from a map, say); the rule is then
	// skipped, as if it had not matched. Nil means nobody is told.
	onError func(rule string, err error)
}

// rule is one compiled rule.
type rule struct {
	name      string
	line, col int
	// actions are the actions the condition can match (from a top-level
	// `action == "…"` or `action in [...]`), nil for any.
	actions []policy.Action
	when    cel.Program
	then    outcome
}

// outcome is a rule's `then`: each value a literal, or a CEL expression
// evaluated when the rule matches.
type outcome struct {
	effect         string
	reason         string
	message        string
	require        []string
	requireExpr    cel.Program
	difficulty     int
	difficultyExpr cel.Program
	retryAfter     time.Duration
	retryExpr      cel.Program
	lifetime       time.Duration
	idle           time.Duration
}

// Options are what a policy file is compiled with.
type Options struct {
	// Settings are the domain's settings (the `domain` context, and the
	// built-in policy a file falls back to).
	Settings policy.Default
	// OnError: see Policy.
	OnError func(rule string, err error)
}

// Error is one fault in a policy file, at a position in it.
type Error struct {
	File      string
	Line, Col int
	Rule      string
	Msg       string
}

func (e *Error) Error() string {
	rule := ""
	if e.Rule != "" {
		rule = "rule " + strconv.Quote(e.Rule) + ": "
	}
	return fmt.Sprintf("%s:%d:%d: %s%s", e.File, e.Line, e.Col, rule, e.Msg)
}

// Errors are all the faults found in a file, in the order of the file.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// env is the CEL environment of conditions: every field of the context,
// typed, with the string, network and binding extensions.
var env = func() *cel.Env {
	opts := []cel.EnvOption{ext.Strings(), ext.Network(), ext.Bindings()}
	for _, f := range fields {
		opts = append(opts, cel.Variable(f.name, f.typ))
	}
	e, err := cel.NewEnv(opts...)
	if err != nil {
		panic(err)
	}
	return e
}()

// knownSteps are the steps a rule may require: those the journeys serve
// for the built-in policy (flow.CheckSteps holds them to it).
var knownSteps = policy.Default{}.Steps()

// costLimit bounds the work of one expression's evaluation: a rule is
// a few comparisons, and a runaway one (a comprehension over a huge
// trait) stops with an error rather than hold the request.
const costLimit = 100_000

// Parse compiles a policy file's content; name is the file's path, for
// errors and for the policy's name. A file with faults is refused whole,
// with every fault found (Errors).
func Parse(name string, data []byte, opts Options) (*Policy, error) {
	sum := sha256.Sum256(data)
	p := &Policy{Name: filepath.Base(name), Version: hex.EncodeToString(sum[:8]), Fallback: FallbackBuiltin,
		settings: opts.Settings.WithDefaults(), onError: opts.OnError}
	p.name = p.Name + "@" + p.Version
	c := &compiler{file: name, lines: bytes.Split(data, []byte("\n"))}
	if len(data) > MaxFileSize {
		return nil, Errors{{File: name, Line: 1, Col: 1, Msg: fmt.Sprintf("the file is %d bytes, more than a policy may be (%d)", len(data), MaxFileSize)}}
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, Errors{{File: name, Line: 1, Col: 1, Msg: "empty policy file: want version and rules"}}
		}
		return nil, Errors{c.yamlError(err)}
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		line := more.Line
		if err != nil || line == 0 {
			line = 1
		}
		return nil, Errors{{File: name, Line: line, Col: 1, Msg: "a policy file holds one YAML document; this is a second"}}
	}
	c.duplicates(&doc)
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, Errors{{File: name, Line: 1, Col: 1, Msg: "empty policy file: want version and rules"}}
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, Errors{c.at(root, "", "a policy is a mapping with version and rules")}
	}
	var version *yaml.Node
	for k, v := range pairs(root) {
		switch k.Value {
		case "version":
			version = v
			if v.Value != "1" {
				c.fail(v, "", "unknown version %q: this Foyer reads version 1", v.Value)
			}
		case "fallback":
			switch v.Value {
			case FallbackBuiltin, FallbackAllow:
				p.Fallback = v.Value
			default:
				c.fail(v, "", "fallback %q: want builtin or allow", v.Value)
			}
		case "description":
		case "rules":
			if v.Kind != yaml.SequenceNode {
				c.fail(v, "", "rules is a list")
				continue
			}
			seen := map[string]bool{}
			for _, rn := range v.Content {
				r := c.rule(rn)
				if r == nil {
					continue
				}
				if seen[r.name] {
					c.fail(rn, r.name, "a rule of this name comes earlier; names must be unique")
				}
				seen[r.name] = true
				p.rules = append(p.rules, r)
			}
		default:
			c.fail(k, "", "unknown key %q (want version, description, fallback, rules)", k.Value)
		}
	}
	if version == nil && len(c.errs) == 0 {
		c.fail(root, "", "version is missing: write version: 1")
	}
	if len(c.errs) > 0 {
		return nil, c.errs
	}
	p.byAction = map[policy.Action][]*rule{}
	for _, a := range policy.Actions {
		for _, r := range p.rules {
			if r.actions == nil || slices.Contains(r.actions, a) {
				p.byAction[a] = append(p.byAction[a], r)
			}
		}
	}
	return p, nil
}

// MaxFileSize is the largest policy file read: rules are a few lines
// each, and a file is compiled whole at each change.
const MaxFileSize = 1 << 20

// duplicates records a fault at each key a mapping repeats, anywhere in
// n: YAML would keep the last silently, and a repeated `when` or `effect`
// would turn a rule into another.
func (c *compiler) duplicates(n *yaml.Node) {
	if n.Kind == yaml.MappingNode {
		seen := map[string]bool{}
		for k := range pairs(n) {
			if seen[k.Value] {
				c.fail(k, "", "the key %q comes twice in this mapping", k.Value)
			}
			seen[k.Value] = true
		}
	}
	for _, child := range n.Content {
		c.duplicates(child)
	}
}

// pairs yields a mapping node's keys and values.
func pairs(n *yaml.Node) func(func(k, v *yaml.Node) bool) {
	return func(yield func(k, v *yaml.Node) bool) {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if !yield(n.Content[i], n.Content[i+1]) {
				return
			}
		}
	}
}

// compiler gathers a file's faults as it compiles it.
type compiler struct {
	file  string
	lines [][]byte
	errs  Errors
}

func (c *compiler) at(n *yaml.Node, rule, format string, args ...any) *Error {
	return &Error{File: c.file, Line: n.Line, Col: n.Column, Rule: rule, Msg: fmt.Sprintf(format, args...)}
}

func (c *compiler) fail(n *yaml.Node, rule, format string, args ...any) {
	c.errs = append(c.errs, c.at(n, rule, format, args...))
}

// yamlError turns the YAML parser's "yaml: line N: msg" into a position.
func (c *compiler) yamlError(err error) *Error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 1
	if rest, ok := strings.CutPrefix(msg, "line "); ok {
		if n, after, ok := strings.Cut(rest, ":"); ok {
			if v, err := strconv.Atoi(n); err == nil {
				line, msg = v, strings.TrimSpace(after)
			}
		}
	}
	return &Error{File: c.file, Line: line, Col: 1, Msg: msg}
}

// rule compiles one rule, nil when it has faults (recorded).
func (c *compiler) rule(n *yaml.Node) *rule {
	if n.Kind != yaml.MappingNode {
		c.fail(n, "", "a rule is a mapping with name, when and then")
		return nil
	}
	r := &rule{line: n.Line, col: n.Column}
	var when, then *yaml.Node
	for k, v := range pairs(n) {
		switch k.Value {
		case "name":
			r.name = strings.TrimSpace(v.Value)
		case "when":
			when = v
		case "then":
			then = v
		case "description":
		default:
			c.fail(k, "", "unknown key %q in a rule (want name, description, when, then)", k.Value)
		}
	}
	before := len(c.errs)
	if r.name == "" {
		c.fail(n, "", "a rule needs a name")
	}
	if when == nil {
		c.fail(n, r.name, "when is missing (write when: 'true' for a rule that always matches)")
	} else if prg, checked := c.expr(when, r.name, cel.BoolType, "when"); prg != nil {
		r.when = prg
		if acts, ok := actionsOf(checked.NativeRep().Expr()); ok {
			for _, a := range acts {
				if !slices.Contains(policy.Actions, policy.Action(a)) {
					c.fail(when, r.name, "unknown action %q (see the list of actions in docs/policies.md)", a)
				}
				r.actions = append(r.actions, policy.Action(a))
			}
			if r.actions == nil {
				r.actions = []policy.Action{} // matches none: a contradiction, but not an error
			}
		}
	}
	if then == nil {
		c.fail(n, r.name, "then is missing")
	} else {
		c.outcome(then, r)
		// Outcomes that only session.issue carries out.
		if (r.then.effect == EffectSession || r.then.effect == EffectNotify) && r.actions != nil &&
			!slices.Contains(r.actions, policy.SessionIssue) {
			c.fail(then, r.name, "effect %s is carried out at session.issue only; this rule's condition never matches it", r.then.effect)
		}
	}
	if len(c.errs) > before {
		return nil
	}
	return r
}

// outcome compiles a rule's `then`.
func (c *compiler) outcome(n *yaml.Node, r *rule) {
	if n.Kind != yaml.MappingNode {
		c.fail(n, r.name, "then is a mapping with an effect")
		return
	}
	o := &r.then
	var effect *yaml.Node
	set := map[string]*yaml.Node{}
	for k, v := range pairs(n) {
		switch k.Value {
		case "effect":
			effect = v
			o.effect = v.Value
		case "reason":
			o.reason = v.Value
			if !isCode(v.Value) {
				o.message = v.Value // words, for the customer
			}
		case "message":
			o.message = v.Value
		case "require":
			if v.Kind == yaml.SequenceNode {
				for _, s := range v.Content {
					if !slices.Contains(knownSteps, s.Value) {
						c.fail(s, r.name, "unknown step %q (want one of %s)", s.Value, strings.Join(knownSteps, ", "))
					}
					o.require = append(o.require, s.Value)
				}
			} else {
				o.requireExpr, _ = c.expr(v, r.name, cel.ListType(cel.StringType), "require")
			}
		case "aal":
			if v.Value != policy.AAL2 {
				c.fail(v, r.name, "aal %q: the level a step-up asks for is aal2", v.Value)
			}
			o.require = append(o.require, policy.StepSecondFactor)
		case "difficulty":
			if d, err := strconv.Atoi(v.Value); err == nil && v.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle) == 0 {
				if d < 1 || d > 32 {
					c.fail(v, r.name, "difficulty %d: want 1 to 32 leading zero bits", d)
				}
				o.difficulty = d
			} else {
				o.difficultyExpr, _ = c.expr(v, r.name, cel.IntType, "difficulty")
			}
		case "retry_after", "delay":
			o.retryAfter, o.retryExpr = c.durationOrExpr(v, r.name, k.Value)
		case "lifetime":
			o.lifetime = c.duration(v, r.name, k.Value)
		case "idle", "idle_timeout":
			o.idle = c.duration(v, r.name, k.Value)
		default:
			c.fail(k, r.name, "unknown key %q in then", k.Value)
			continue
		}
		set[k.Value] = v
	}
	if effect == nil {
		c.fail(n, r.name, "then needs an effect: allow, deny, step_up, challenge, throttle, session or notify")
		return
	}
	allowed := map[string][]string{
		string(policy.Allow):     {"reason"},
		string(policy.Deny):      {"reason", "message"},
		string(policy.StepUp):    {"reason", "require", "aal"},
		string(policy.Challenge): {"reason", "difficulty", "retry_after"},
		string(policy.Throttle):  {"reason", "retry_after", "delay"},
		EffectSession:            {"reason", "lifetime", "idle", "idle_timeout"},
		EffectNotify:             {"reason"},
	}
	keys, ok := allowed[o.effect]
	if !ok {
		c.fail(effect, r.name, "unknown effect %q: want allow, deny, step_up, challenge, throttle, session or notify", o.effect)
		return
	}
	for k, v := range set {
		if k != "effect" && !slices.Contains(keys, k) {
			c.fail(v, r.name, "%s does not go with effect %s", k, o.effect)
		}
	}
	switch o.effect {
	case string(policy.Deny):
		if o.reason == "" {
			c.fail(effect, r.name, "a deny needs a reason: the customer reads it")
		}
	case string(policy.StepUp):
		if set["require"] == nil && set["aal"] == nil {
			c.fail(effect, r.name, "a step_up needs require (a list of steps) or aal: aal2")
		}
	case string(policy.Challenge):
		if o.difficulty == 0 && o.difficultyExpr == nil {
			o.difficulty = 16
		}
	case string(policy.Throttle):
		if set["retry_after"] == nil && set["delay"] == nil {
			c.fail(effect, r.name, "a throttle needs retry_after (how long to wait)")
		}
	case EffectSession:
		if o.lifetime <= 0 && o.idle <= 0 {
			c.fail(effect, r.name, "a session outcome needs lifetime or idle")
		}
	}
}

// isCode reports whether a reason is a code (second_factor_enrolled)
// rather than words for the customer.
func isCode(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_' || r == '-' || r == '.') {
			return false
		}
	}
	return s != ""
}

// duration reads a literal duration ("30s", "8h").
func (c *compiler) duration(v *yaml.Node, rule, key string) time.Duration {
	d, err := time.ParseDuration(v.Value)
	if err != nil || d <= 0 {
		c.fail(v, rule, "%s %q: want a positive duration such as 30s, 15m or 8h", key, v.Value)
		return 0
	}
	return d
}

// durationOrExpr reads a literal duration, or else a CEL expression of
// type duration (`network.wait`).
func (c *compiler) durationOrExpr(v *yaml.Node, rule, key string) (time.Duration, cel.Program) {
	if d, err := time.ParseDuration(v.Value); err == nil {
		if d <= 0 {
			c.fail(v, rule, "%s %q: want a positive duration", key, v.Value)
		}
		return d, nil
	}
	prg, _ := c.expr(v, rule, cel.DurationType, key)
	return 0, prg
}

// expr compiles the CEL expression in n, of type want; faults are
// recorded at their place in the file.
func (c *compiler) expr(n *yaml.Node, rule string, want *cel.Type, what string) (cel.Program, *cel.Ast) {
	if n.Kind != yaml.ScalarNode {
		c.fail(n, rule, "%s is a CEL expression (a string)", what)
		return nil, nil
	}
	checked, iss := env.Compile(n.Value)
	if iss.Err() != nil {
		for _, e := range iss.Errors() {
			line, col := c.position(n, e.Location.Line(), e.Location.Column())
			c.errs = append(c.errs, &Error{File: c.file, Line: line, Col: col, Rule: rule, Msg: what + ": " + e.Message})
		}
		return nil, nil
	}
	if !checked.OutputType().IsExactType(want) && !(want.IsExactType(cel.BoolType) && checked.OutputType().IsExactType(cel.DynType)) {
		c.fail(n, rule, "%s is of type %s, want %s", what, checked.OutputType(), want)
		return nil, nil
	}
	prg, err := env.Program(checked, cel.EvalOptions(cel.OptOptimize), cel.CostLimit(costLimit))
	if err != nil {
		c.fail(n, rule, "%s: %v", what, err)
		return nil, nil
	}
	return prg, checked
}

// position maps a place in an expression (1-based line, 0-based column)
// to one in the file, through how the scalar holding it is written.
func (c *compiler) position(n *yaml.Node, line, col int) (int, int) {
	// The offset of the place in the scalar's value.
	offset, l := 0, 1
	for i, r := range n.Value {
		if l == line {
			offset = i
			break
		}
		if r == '\n' {
			l++
			offset = i + 1
		}
	}
	offset += col
	if ps := c.places(n); offset < len(ps) {
		return ps[offset].line, ps[offset].col
	}
	return n.Line, n.Column
}

// place is a byte's line and column (1-based) in the file.
type place struct{ line, col int }

// places returns where each byte of a scalar's value stands in the file,
// by reading its lines as YAML does: a block scalar's lines from its
// indentation, a flow scalar's continuation lines trimmed, joined by a
// space (or, in a literal block, a newline). Escapes in quoted scalars
// are not followed: a column after one is approximate.
func (c *compiler) places(n *yaml.Node) []place {
	line := func(i int) string { // 1-based
		if i-1 < len(c.lines) {
			return strings.TrimRight(string(c.lines[i-1]), "\r")
		}
		return ""
	}
	var out []place
	switch {
	case n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0:
		indent := -1
		for i := n.Line + 1; i <= len(c.lines); i++ {
			text := line(i)
			trimmed := strings.TrimLeft(text, " ")
			if trimmed == "" {
				out = append(out, place{i, 1}) // an empty line: a newline in the value
				continue
			}
			ind := len(text) - len(trimmed)
			if indent < 0 {
				indent = ind
			}
			if ind < indent {
				break
			}
			for j := indent; j < len(text); j++ {
				out = append(out, place{i, j + 1})
			}
			out = append(out, place{i, len(text) + 1}) // the newline or the folding space
		}
	default:
		start := n.Column
		if n.Style&(yaml.SingleQuotedStyle|yaml.DoubleQuotedStyle) != 0 {
			start++
		}
		for i := n.Line; i <= len(c.lines) && len(out) <= len(n.Value); i++ {
			text := line(i)
			from := start - 1
			if i > n.Line {
				from = len(text) - len(strings.TrimLeft(text, " \t"))
			}
			for j := from; j < len(text); j++ {
				out = append(out, place{i, j + 1})
			}
			out = append(out, place{i, len(text) + 1})
		}
	}
	return out
}

// actionsOf returns the actions an expression can be true for, from an
// `action == "…"` or `action in [...]` among its top-level conjuncts (or
// on every side of a disjunction); ok is false when it says nothing of
// the action.
func actionsOf(e ast.Expr) ([]string, bool) {
	if e.Kind() != ast.CallKind {
		return nil, false
	}
	call := e.AsCall()
	args := call.Args()
	switch call.FunctionName() {
	case "_&&_":
		l, lok := actionsOf(args[0])
		r, rok := actionsOf(args[1])
		switch {
		case lok && rok:
			var both []string
			for _, a := range l {
				if slices.Contains(r, a) {
					both = append(both, a)
				}
			}
			return both, true
		case lok:
			return l, true
		case rok:
			return r, true
		}
	case "_||_":
		l, lok := actionsOf(args[0])
		r, rok := actionsOf(args[1])
		if lok && rok {
			return append(l, r...), true
		}
	case "_==_":
		if s, ok := actionLiteral(args[0], args[1]); ok {
			return []string{s}, true
		}
		if s, ok := actionLiteral(args[1], args[0]); ok {
			return []string{s}, true
		}
	case "@in":
		if isAction(args[0]) && args[1].Kind() == ast.ListKind {
			var out []string
			for _, el := range args[1].AsList().Elements() {
				s, ok := stringLiteral(el)
				if !ok {
					return nil, false
				}
				out = append(out, s)
			}
			return out, true
		}
	}
	return nil, false
}

func isAction(e ast.Expr) bool { return e.Kind() == ast.IdentKind && e.AsIdent() == "action" }

func stringLiteral(e ast.Expr) (string, bool) {
	if e.Kind() != ast.LiteralKind {
		return "", false
	}
	s, ok := e.AsLiteral().(types.String)
	return string(s), ok
}

func actionLiteral(a, b ast.Expr) (string, bool) {
	if !isAction(a) {
		return "", false
	}
	return stringLiteral(b)
}

// Decide implements policy.Decider: the first rule that matches decides
// (Decision.Rule names it); when none does, the fallback.
//
// A session or notify rule does not decide: it adds its lifetimes, or its
// notice, to the allow of whatever decides after it (the first of each
// kind counts), so that it never skips a protection further down.
func (p *Policy) Decide(ctx context.Context, in policy.Input) policy.Decision {
	act := &activation{in: &in, set: &p.settings}
	var extra policy.Decision // lifetimes and notice of annotating rules
	d, rule, decided := policy.Decision{}, "", false
	for _, r := range p.byAction[in.Action] {
		annotates := r.then.effect == EffectSession || r.then.effect == EffectNotify
		if annotates && ((r.then.effect == EffectNotify && extra.Notify) ||
			(r.then.effect == EffectSession && (extra.SessionLifetime > 0 || extra.SessionIdle > 0))) {
			continue // one of its kind already counts
		}
		out, _, err := r.when.ContextEval(ctx, act)
		if err != nil {
			p.failed(r, err)
			continue
		}
		if out != types.True {
			continue
		}
		rd, err := r.then.decision(ctx, act)
		if err != nil {
			p.failed(r, err)
			continue
		}
		if annotates {
			extra.Notify = extra.Notify || rd.Notify
			if rd.SessionLifetime > 0 || rd.SessionIdle > 0 {
				extra.SessionLifetime, extra.SessionIdle = rd.SessionLifetime, rd.SessionIdle
			}
			continue
		}
		d, rule, decided = rd, r.name, true
		break
	}
	if !decided {
		if p.Fallback == FallbackBuiltin {
			d = p.settings.Decide(ctx, in)
		} else {
			d = policy.Decision{Effect: policy.Allow}
		}
	}
	if d.Effect == policy.Allow {
		d.Notify = d.Notify || extra.Notify
		if d.SessionLifetime == 0 && d.SessionIdle == 0 {
			d.SessionLifetime, d.SessionIdle = extra.SessionLifetime, extra.SessionIdle
		}
	}
	d.Policy, d.Rule = p.name, rule
	return d
}

func (p *Policy) failed(r *rule, err error) {
	if p.onError != nil {
		p.onError(r.name, err)
	}
}

// decision is the outcome for the context act.
func (o *outcome) decision(ctx context.Context, act *activation) (policy.Decision, error) {
	d := policy.Decision{Effect: policy.Effect(o.effect), Reason: o.reason, Message: o.message, Require: o.require,
		Difficulty: o.difficulty, RetryAfter: o.retryAfter}
	switch o.effect {
	case EffectSession:
		d.Effect, d.SessionLifetime, d.SessionIdle = policy.Allow, o.lifetime, o.idle
	case EffectNotify:
		d.Effect, d.Notify = policy.Allow, true
	}
	if o.requireExpr != nil {
		v, err := eval(ctx, o.requireExpr, act)
		if err != nil {
			return d, err
		}
		l, err := v.ConvertToNative(reflectStrings)
		if err != nil {
			return d, err
		}
		d.Require = l.([]string)
		for _, s := range d.Require {
			if !slices.Contains(knownSteps, s) {
				return d, fmt.Errorf("require: unknown step %q", s)
			}
		}
		if len(d.Require) == 0 {
			return d, errors.New("require: no step")
		}
	}
	if o.difficultyExpr != nil {
		v, err := eval(ctx, o.difficultyExpr, act)
		if err != nil {
			return d, err
		}
		d.Difficulty = int(min(max(v.(types.Int), 1), 32))
	}
	if o.retryExpr != nil {
		v, err := eval(ctx, o.retryExpr, act)
		if err != nil {
			return d, err
		}
		d.RetryAfter = max(v.(types.Duration).Duration, 0)
	}
	if d.Effect == policy.Throttle && d.RetryAfter <= 0 {
		return d, errors.New("retry_after: a throttle must last")
	}
	return d, nil
}

var reflectStrings = reflect.TypeOf([]string(nil))

func eval(ctx context.Context, prg cel.Program, act *activation) (ref.Val, error) {
	v, _, err := prg.ContextEval(ctx, act)
	return v, err
}

// Steps implements policy.Stepper: the steps a rule may require are those
// the built-in policy may (Parse refuses others).
func (p *Policy) Steps() []string { return p.settings.Steps() }

// JourneyLimits implements policy.Limited: the domain's limits, which a
// policy file does not change.
func (p *Policy) JourneyLimits() policy.Limits { return p.settings.JourneyLimits() }

// Rules returns the names of the policy's rules, in order.
func (p *Policy) Rules() []string {
	out := make([]string, len(p.rules))
	for i, r := range p.rules {
		out[i] = r.name
	}
	return out
}
