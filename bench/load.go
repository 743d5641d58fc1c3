package main

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// operation is one unit of work of a scenario (a sign-up, a sign-in, a
// whoami). seq numbers the operations of a run from 0, across workers; t
// is the calling worker's tally, for step latencies and request counts.
type operation func(ctx context.Context, seq int, t *tally) error

// tally is what one worker measured. Workers never share one, so it needs
// no lock; run merges them at the end.
type tally struct {
	// worker is the index of the worker that owns the tally, 0 to c-1:
	// scenarios that keep state per worker (refresh-token chains) key on it.
	worker    int
	latencies []time.Duration // of whole operations, failed ones included
	steps     map[string][]time.Duration
	stepOrder []string // steps in the order first seen
	requests  int
	ok        int
	failures  map[string]int
	samples   map[string]string // one description per failure key
}

func newTally() *tally {
	return &tally{steps: map[string][]time.Duration{}, failures: map[string]int{}, samples: map[string]string{}}
}

// step records the latency of one request of an operation.
func (t *tally) step(name string, d time.Duration) {
	if _, ok := t.steps[name]; !ok {
		t.stepOrder = append(t.stepOrder, name)
	}
	t.steps[name] = append(t.steps[name], d)
}

func (t *tally) fail(err error) {
	var f *failure
	key, sample := "error", err.Error()
	if errors.As(err, &f) {
		key, sample = f.key(), f.sample
	}
	t.failures[key]++
	if _, ok := t.samples[key]; !ok {
		t.samples[key] = sample
	}
}

// run drives op with opt.concurrency workers, each with one operation in
// flight, until opt.duration has passed or opt.count operations have
// started, then waits for the operations in flight and summarises. When ctx
// ends (Ctrl-C) no new operation starts; those in flight finish under their
// own request timeout and count.
func run(ctx context.Context, opt *options, op operation) *Result {
	var (
		next     atomic.Int64
		wg       sync.WaitGroup
		tallies  = make([]*tally, opt.concurrency)
		start    = time.Now()
		deadline = start.Add(opt.duration)
		opCtx    = context.WithoutCancel(ctx)
	)
	for w := range opt.concurrency {
		t := newTally()
		t.worker = w
		tallies[w] = t
		wg.Go(func() {
			for {
				if ctx.Err() != nil || (opt.duration > 0 && !time.Now().Before(deadline)) {
					return
				}
				seq := next.Add(1) - 1
				if opt.count > 0 && seq >= int64(opt.count) {
					return
				}
				began := time.Now()
				err := op(opCtx, int(seq), t)
				t.latencies = append(t.latencies, time.Since(began))
				if err != nil {
					t.fail(err)
				} else {
					t.ok++
				}
			}
		})
	}
	wg.Wait()
	return summarise(opt, time.Since(start), tallies)
}
