package decision

import (
	"cmp"
	"context"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/foyer-id/foyer/internal/policy"
)

// Report is what a candidate policy would have changed in a window of
// recorded decisions (Replay), or what the shadow policy would have
// (ReplayShadow).
type Report struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	// Policy names the candidate (for a shadow report, the shadow
	// policies seen).
	Policy string `json:"policy"`
	// Decisions counts the decisions compared, Changed those whose effect
	// the candidate changes; Transitions counts each change of effect
	// ("allow->step_up"), Identities the accounts with a changed decision.
	Decisions   int            `json:"decisions"`
	Changed     int            `json:"changed"`
	Transitions map[string]int `json:"transitions"`
	// StepChanges counts decisions whose effect stays but whose steps
	// change ("step_up(email_code)->step_up(second_factor)"); they count
	// in Changed too.
	StepChanges map[string]int `json:"step_changes"`
	// Identities counts the accounts (or, before an account is known, the
	// addresses tried) with a changed decision.
	Identities int `json:"identities_affected"`
	// CompletionDelta is the expected change in the number of decisions
	// that end in the action going ahead (see ActionReport).
	CompletionDelta float64 `json:"completion_delta"`
	// Actions breaks the report down by action, in the order of a
	// journey.
	Actions []*ActionReport `json:"actions"`
}

// ActionReport is a Report's part for one action.
//
// The expected effect on completion weighs each outcome by how often it
// lets the action go ahead, as observed in the same window: an allow
// always, a deny or a throttle never, a step-up or a challenge at its pass
// rate — the share of the journeys that met one at this action and were
// later allowed it. CompletionDelta is the sum, over the changed
// decisions, of the candidate's outcome's weight less the recorded one's.
type ActionReport struct {
	Action      policy.Action  `json:"action"`
	Decisions   int            `json:"decisions"`
	Changed     int            `json:"changed"`
	Transitions map[string]int `json:"transitions"`
	StepChanges map[string]int `json:"step_changes"`
	Identities  int            `json:"identities_affected"`
	// StepUpPassRate and ChallengePassRate are the observed rates; nil
	// when no journey met one at this action in the window (the weight is
	// then taken as 1/2).
	StepUpPassRate    *float64 `json:"step_up_pass_rate,omitempty"`
	ChallengePassRate *float64 `json:"challenge_pass_rate,omitempty"`
	CompletionDelta   float64  `json:"completion_delta"`

	identities map[string]bool
	// changes counts each (from, to) pair, for the completion delta.
	changes map[[2]policy.Effect]int
	// met and passed count journeys that met a step-up or challenge, and
	// those that went on to be allowed.
	met, passed map[policy.Effect]int
}

// Replay decides every decision recorded in q's window again with
// candidate and reports what changes. It reads the records in time order,
// and keeps per journey only what the pass rates need.
func (l *Log) Replay(ctx context.Context, q Query, candidate policy.Decider, name string) (*Report, error) {
	return l.replay(ctx, q, name, func(r *Record) (policy.Effect, []string, bool) {
		d := candidate.Decide(ctx, r.Input)
		return d.Effect, d.Require, true
	})
}

// ReplayShadow reports how the shadow policy's recorded decisions differ
// from the live ones, in q's window: the live comparison of shadow mode.
// Records made without a shadow policy are left out.
func (l *Log) ReplayShadow(ctx context.Context, q Query) (*Report, error) {
	return l.replay(ctx, q, "", func(r *Record) (policy.Effect, []string, bool) {
		if r.Shadow == nil {
			return "", nil, false
		}
		return r.Shadow.Effect, r.Shadow.Require, true
	})
}

func (l *Log) replay(ctx context.Context, q Query, name string, decide func(*Record) (policy.Effect, []string, bool)) (*Report, error) {
	rep := &Report{From: q.From, To: q.To, Policy: name, Transitions: map[string]int{}, StepChanges: map[string]int{}}
	actions := map[policy.Action]*ActionReport{}
	identities := map[string]bool{}
	// open holds the journeys waiting on a step-up or challenge at an
	// action: flow id and action → the effect met.
	type key struct {
		flow   string
		action policy.Action
	}
	open := map[key]policy.Effect{}
	shadows := map[string]bool{}
	// One query, streamed in time order: pages would sort the window
	// again for each.
	err := l.scan(ctx, q, math.MaxInt32, func(r *Record) error {
		a := actions[r.Action]
		if a == nil {
			a = &ActionReport{Action: r.Action, Transitions: map[string]int{}, StepChanges: map[string]int{}, identities: map[string]bool{},
				changes: map[[2]policy.Effect]int{}, met: map[policy.Effect]int{}, passed: map[policy.Effect]int{}}
			actions[r.Action] = a
		}
		if r.FlowID != "" {
			k := key{r.FlowID, r.Action}
			switch r.Effect {
			case policy.StepUp, policy.Challenge:
				if _, ok := open[k]; !ok {
					open[k] = r.Effect
					a.met[r.Effect]++
				}
			case policy.Allow:
				if e, ok := open[k]; ok {
					a.passed[e]++
					delete(open, k)
				}
			}
		}
		got, require, ok := decide(r)
		if !ok {
			return nil
		}
		if r.Shadow != nil && name == "" {
			shadows[r.Shadow.Policy] = true
		}
		rep.Decisions++
		a.Decisions++
		switch {
		case got != r.Effect:
			t := string(r.Effect) + "->" + string(got)
			rep.Transitions[t]++
			a.Transitions[t]++
			a.changes[[2]policy.Effect{r.Effect, got}]++
		case !slices.Equal(require, r.Require):
			// The same effect asking for other steps: a customer without
			// a second factor asked for one is refused.
			t := string(r.Effect) + "(" + strings.Join(r.Require, " ") + ")->" + string(got) + "(" + strings.Join(require, " ") + ")"
			rep.StepChanges[t]++
			a.StepChanges[t]++
		default:
			return nil
		}
		rep.Changed++
		a.Changed++
		// The account, or before it is known (a sign-in's password, a
		// sign-up) the address tried.
		if who := cmp.Or(r.IdentityID, addressKey(r.Input.Email)); who != "" {
			identities[who] = true
			a.identities[who] = true
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	rep.Identities = len(identities)
	if name == "" {
		for p := range shadows {
			if rep.Policy != "" {
				rep.Policy += ", "
			}
			rep.Policy += p
		}
	}
	for _, act := range policy.Actions {
		if a := actions[act]; a != nil {
			a.finish()
			rep.CompletionDelta += a.CompletionDelta
			rep.Actions = append(rep.Actions, a)
			delete(actions, act)
		}
	}
	// Actions this Foyer does not know (records of a newer one) last.
	var rest []*ActionReport
	for _, a := range actions {
		a.finish()
		rep.CompletionDelta += a.CompletionDelta
		rest = append(rest, a)
	}
	sort.Slice(rest, func(i, j int) bool { return rest[i].Action < rest[j].Action })
	rep.Actions = append(rep.Actions, rest...)
	return rep, nil
}

// addressKey names an address among the accounts a report counts.
func addressKey(email string) string {
	if email == "" {
		return ""
	}
	return "address:" + strings.ToLower(email)
}

// finish computes a's rates and expected effect on completion.
func (a *ActionReport) finish() {
	a.Identities = len(a.identities)
	rate := func(e policy.Effect) *float64 {
		if a.met[e] == 0 {
			return nil
		}
		r := float64(a.passed[e]) / float64(a.met[e])
		return &r
	}
	a.StepUpPassRate, a.ChallengePassRate = rate(policy.StepUp), rate(policy.Challenge)
	weight := func(e policy.Effect) float64 {
		var r *float64
		switch e {
		case policy.Allow:
			return 1
		case policy.StepUp:
			r = a.StepUpPassRate
		case policy.Challenge:
			r = a.ChallengePassRate
		default: // deny, throttle
			return 0
		}
		if r == nil {
			return 0.5
		}
		return *r
	}
	for c, n := range a.changes {
		a.CompletionDelta += float64(n) * (weight(c[1]) - weight(c[0]))
	}
}
