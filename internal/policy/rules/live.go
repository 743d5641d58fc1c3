package rules

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/foyer-id/foyer/internal/policy"
)

// Live is the policy in force: a policy file, reloaded when it changes
// (Watch) or when asked (Reload), or the built-in policy when no file is
// configured. A reload compiles the file whole before it swaps it in, so a
// decision is made wholly by one version or wholly by the next; a file
// with faults never replaces the policy that runs.
type Live struct {
	// Path is the policy file, "" for the built-in policy.
	Path string

	opts   Options
	logger *slog.Logger
	cur    atomic.Pointer[loaded]
	mu     sync.Mutex // one reload at a time
	stamp  fileStamp  // of the file last read, under mu
	// lastFailure is when each rule's evaluation last failed (logged).
	lastFailure sync.Map
}

// loaded is one version in force.
type loaded struct {
	decider policy.Decider
	version string
	file    *Policy // nil for the built-in policy
}

// fileStamp tells whether a file changed since it was read.
type fileStamp struct {
	mod  time.Time
	size int64
}

// Load returns the policy of path (the built-in one, of opts.Settings,
// for ""), or the faults of the file.
func Load(path string, opts Options, logger *slog.Logger) (*Live, error) {
	if logger == nil {
		logger = slog.Default()
	}
	l := &Live{Path: path, opts: opts, logger: logger}
	if opts.OnError == nil {
		l.opts.OnError = l.ruleFailed
	}
	if path == "" {
		l.cur.Store(&loaded{decider: opts.Settings, version: "builtin"})
		return l, nil
	}
	if _, err := l.Reload(); err != nil {
		return nil, err
	}
	return l, nil
}

// ruleFailed logs a rule that could not be evaluated, at most once a
// minute per rule: a rule that fails fails on every request.
func (l *Live) ruleFailed(rule string, err error) {
	now := time.Now()
	if last, ok := l.lastFailure.Load(rule); ok && now.Sub(last.(time.Time)) < time.Minute {
		return
	}
	l.lastFailure.Store(rule, now)
	l.logger.Warn("policy: a rule could not be evaluated and was skipped", "policy", l.Path, "rule", rule, "error", err.Error())
}

// Reload reads the file again and, when it compiles, puts it in force.
// It returns the version in force, and the file's faults when it did not
// compile (the running policy stays).
func (l *Live) Reload() (string, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.reload()
}

func (l *Live) reload() (string, error) {
	if l.Path == "" {
		return l.Version(), nil
	}
	st, err := os.Stat(l.Path)
	if err != nil {
		return l.Version(), fmt.Errorf("policy: %w", err)
	}
	data, err := os.ReadFile(l.Path)
	if err != nil {
		return l.Version(), fmt.Errorf("policy: %w", err)
	}
	l.stamp = fileStamp{mod: st.ModTime(), size: st.Size()}
	p, err := Parse(l.Path, data, l.opts)
	if err != nil {
		return l.Version(), err
	}
	if old := l.cur.Load(); old != nil && old.version == p.Version {
		return p.Version, nil
	}
	l.cur.Store(&loaded{decider: p, version: p.Version, file: p})
	l.logger.Info("policy: in force", "policy", l.Path, "version", p.Version, "rules", len(p.rules), "fallback", p.Fallback)
	return p.Version, nil
}

// Watch reloads the file whenever it changes, checking every interval,
// until ctx ends. A change that does not compile is logged, with each
// fault, and leaves the running policy in force.
func (l *Live) Watch(ctx context.Context, interval time.Duration) {
	if l.Path == "" {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := l.Check(); err != nil {
			l.logger.Error("policy: the changed file was refused; the running policy stays", "policy", l.Path,
				"version", l.Version(), "error", err.Error())
		}
	}
}

// Check reloads the file if it changed (its modification time or size)
// since it was last read: what Watch does at each tick.
func (l *Live) Check() error {
	if l.Path == "" {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	st, err := os.Stat(l.Path)
	if err != nil || (st.ModTime() == l.stamp.mod && st.Size() == l.stamp.size) {
		return nil // a file gone for a moment (an editor's save) is not a change
	}
	_, err = l.reload()
	return err
}

// Decide implements policy.Decider with the version in force.
func (l *Live) Decide(ctx context.Context, in policy.Input) policy.Decision {
	return l.cur.Load().decider.Decide(ctx, in)
}

// Version names the version in force: the file's content hash, or
// "builtin".
func (l *Live) Version() string {
	if c := l.cur.Load(); c != nil {
		return c.version
	}
	return ""
}

// File returns the policy file in force, nil for the built-in policy.
func (l *Live) File() *Policy { return l.cur.Load().file }

// Steps implements policy.Stepper.
func (l *Live) Steps() []string { return l.opts.Settings.Steps() }

// JourneyLimits implements policy.Limited.
func (l *Live) JourneyLimits() policy.Limits { return l.opts.Settings.JourneyLimits() }
