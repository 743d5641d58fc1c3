package flow

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/policy"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// stepsPolicy is a policy that says it may require steps.
type stepsPolicy struct {
	policy.Default
	steps []string
}

func (p stepsPolicy) Steps() []string { return p.steps }

// A policy that may require a step no journey serves is refused at start,
// naming the step; every step of the built-in policy is served.
func TestCheckSteps(t *testing.T) {
	if err := CheckSteps(policy.Default{}); err != nil {
		t.Fatalf("built-in policy: %v", err)
	}
	err := CheckSteps(stepsPolicy{steps: []string{policy.StepSecondFactor, "confirm_link", "cool_off"}})
	if err == nil || !strings.Contains(err.Error(), "confirm_link, cool_off") {
		t.Fatalf("unknown steps: %v", err)
	}
	for _, step := range (policy.Default{}).Steps() {
		if stateFor([]string{step}) == "" {
			t.Errorf("step %s has no state", step)
		}
	}
	if stateFor([]string{"cool_off"}) != "" || stateFor(nil) != "" {
		t.Fatal("an unknown step has a state")
	}
}

// A save that moves a flow where its type does not go is refused and
// changes nothing.
func TestSaveFollowsTheStateTable(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		s := NewStore(db)
		now := time.Date(2026, 12, 5, 0, 0, 0, 0, time.UTC)
		f := &Flow{Domain: "customers", Type: TypeVerification, Channel: ChannelAPI, State: StateForm, CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := s.Create(ctx, f); err != nil {
			t.Fatal(err)
		}
		f.State = StateSecondFactor // an address check has no second factor
		if err := s.Update(ctx, f, now); !errors.Is(err, ErrTransition) {
			t.Fatalf("form → second_factor: %v", err)
		}
		f.State = StateDone // nor ends before its code
		if err := s.Finish(ctx, f, now); !errors.Is(err, ErrTransition) {
			t.Fatalf("form → done: %v", err)
		}
		if got, _ := s.Get(ctx, f.ID); got.State != StateForm {
			t.Fatalf("refused save stored %s", got.State)
		}
		f.State = StateVerify
		if err := s.Update(ctx, f, now); err != nil {
			t.Fatalf("form → verify: %v", err)
		}
		f.State = StateDone
		if err := s.Finish(ctx, f, now); err != nil {
			t.Fatalf("verify → done: %v", err)
		}
		f.State = StateVerify // done is final
		if err := s.Update(ctx, f, now); !errors.Is(err, ErrTransition) {
			t.Fatalf("done → verify: %v", err)
		}
	})
}
