package rules

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/foyer-id/foyer/internal/policy"
)

// A Case is one table test of a policy: a decision's input, and the
// outcome it must get (any of effect, reason, require, rule; what is left
// out is not checked).
type Case struct {
	Name   string
	Line   int
	Input  policy.Input
	Expect Expect
}

// Expect is a case's expected outcome.
type Expect struct {
	Effect   string        `yaml:"effect"`
	Reason   *string       `yaml:"reason"`
	Require  []string      `yaml:"require"`
	Rule     *string       `yaml:"rule"`
	Lifetime time.Duration `yaml:"lifetime"`
	Idle     time.Duration `yaml:"idle"`
	Notify   *bool         `yaml:"notify"`
}

// rawCase is a case as written.
type rawCase struct {
	Name   string         `yaml:"name"`
	Input  map[string]any `yaml:"input"`
	Expect Expect         `yaml:"expect"`
}

// strictFile is the cases file's whole shape, decoded once with unknown
// keys refused (a misspelt expectation would check nothing).
type strictFile struct {
	Settings settings  `yaml:"settings"`
	Cases    []rawCase `yaml:"cases"`
}

type settings struct {
	RequireVerifiedEmail bool          `yaml:"require_verified_email"`
	AllowClonedPasskeys  bool          `yaml:"allow_cloned_passkeys"`
	AppAAL               string        `yaml:"app_aal"`
	FreshFor             time.Duration `yaml:"fresh_for"`
	SpreadLimit          int           `yaml:"spread_limit"`
	MaxTravelKmh         float64       `yaml:"max_travel_kmh"`
	ChallengeBits        int           `yaml:"challenge_bits"`
}

// caseFile is the cases file's shape with each case's place.
type caseFile struct {
	Settings settings    `yaml:"settings"`
	Cases    []yaml.Node `yaml:"cases"`
}

// LoadCases reads a cases file: the domain settings the cases assume
// (`settings`, the defaults when left out) and the cases. An input is a
// recorded decision's input as GET /admin/decisions shows it, with its
// action (and, if it matters, time) beside it; a wait or an age may be
// written as a duration ("30s").
func LoadCases(path string) ([]Case, policy.Default, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, policy.Default{}, err
	}
	var strict strictFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&strict); err != nil {
		return nil, policy.Default{}, fmt.Errorf("%s: %w", path, err)
	}
	var f caseFile
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, policy.Default{}, fmt.Errorf("%s: %w", path, err)
	}
	s := f.Settings
	settings := policy.Default{RequireVerifiedEmail: s.RequireVerifiedEmail, AllowClonedPasskeys: s.AllowClonedPasskeys,
		AppAAL: s.AppAAL, FreshFor: s.FreshFor, SpreadLimit: s.SpreadLimit, MaxTravelKmh: s.MaxTravelKmh, ChallengeBits: s.ChallengeBits}
	var out []Case
	for _, n := range f.Cases {
		var raw rawCase
		if err := n.Decode(&raw); err != nil {
			return nil, settings, fmt.Errorf("%s:%d: %w", path, n.Line, err)
		}
		c := Case{Name: raw.Name, Line: n.Line, Expect: raw.Expect}
		if c.Name == "" {
			c.Name = fmt.Sprintf("case at line %d", n.Line)
		}
		if err := c.input(raw.Input); err != nil {
			return nil, settings, fmt.Errorf("%s:%d: %s: input: %w", path, n.Line, c.Name, err)
		}
		if e := c.Expect; e.Effect == "" && e.Reason == nil && e.Require == nil && e.Rule == nil && e.Lifetime == 0 && e.Idle == 0 && e.Notify == nil {
			return nil, settings, fmt.Errorf("%s:%d: %s: expect says nothing to check", path, n.Line, c.Name)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, settings, fmt.Errorf("%s: no cases", path)
	}
	return out, settings, nil
}

// input fills c.Input from a case's input map.
func (c *Case) input(m map[string]any) error {
	action, _ := m["action"].(string)
	if !slices.Contains(policy.Actions, policy.Action(action)) {
		return fmt.Errorf("action %q: want one of the actions in docs/policies.md", action)
	}
	c.Input.Action, c.Input.Domain = policy.Action(action), "customers"
	c.Input.Time = time.Now().UTC()
	if t, ok := m["time"]; ok {
		switch v := t.(type) {
		case time.Time:
			c.Input.Time = v
		case string:
			parsed, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return fmt.Errorf("time %q: want RFC 3339", v)
			}
			c.Input.Time = parsed
		}
	}
	rest := map[string]any{}
	for k, v := range m {
		if k != "action" && k != "time" {
			rest[k] = v
		}
	}
	if sig, ok := rest["signals"].(map[string]any); ok {
		for k, v := range sig {
			if s, ok := v.(string); ok {
				if d, err := time.ParseDuration(s); err == nil {
					sig[k] = int64(d)
				}
			}
		}
	}
	b, err := json.Marshal(rest)
	if err != nil {
		return err
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	return dec.Decode(&c.Input)
}

// Check returns what is wrong with p's decision of the case, "" for
// nothing.
func (c *Case) Check(p *Policy) string {
	d := p.Decide(context.Background(), c.Input)
	var wrong []string
	e := c.Expect
	got := string(d.Effect)
	switch {
	case d.Notify:
		got = EffectNotify
	case d.SessionLifetime > 0 || d.SessionIdle > 0:
		got = EffectSession
	}
	if e.Effect != "" && e.Effect != got && !(e.Effect == string(policy.Allow) && d.Effect == policy.Allow) {
		wrong = append(wrong, fmt.Sprintf("effect %s, want %s", got, e.Effect))
	}
	if e.Reason != nil && *e.Reason != d.Reason {
		wrong = append(wrong, fmt.Sprintf("reason %q, want %q", d.Reason, *e.Reason))
	}
	if e.Require != nil && !slices.Equal(e.Require, d.Require) {
		wrong = append(wrong, fmt.Sprintf("require %v, want %v", d.Require, e.Require))
	}
	if e.Rule != nil && *e.Rule != d.Rule {
		wrong = append(wrong, fmt.Sprintf("decided by rule %q, want %q", d.Rule, *e.Rule))
	}
	if e.Lifetime != 0 && e.Lifetime != d.SessionLifetime {
		wrong = append(wrong, fmt.Sprintf("session lifetime %s, want %s", d.SessionLifetime, e.Lifetime))
	}
	if e.Idle != 0 && e.Idle != d.SessionIdle {
		wrong = append(wrong, fmt.Sprintf("session idle timeout %s, want %s", d.SessionIdle, e.Idle))
	}
	if e.Notify != nil && *e.Notify != d.Notify {
		wrong = append(wrong, fmt.Sprintf("notify %v, want %v", d.Notify, *e.Notify))
	}
	return strings.Join(wrong, "; ")
}
