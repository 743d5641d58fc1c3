package rules

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
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
	// pending is the version of the content the last Check read, when
	// it differed from the policy in force (under mu).
	pending string
	// lastFailure is when each rule's evaluation last failed (logged).
	lastFailure sync.Map
}

// loaded is one version in force.
type loaded struct {
	decider policy.Decider
	version string
	file    *Policy // nil for the built-in policy
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
	data, err := ReadFile(l.Path)
	if err != nil {
		return l.Version(), err
	}
	return l.put(data)
}

// put compiles data and, when it compiles, puts it in force.
func (l *Live) put(data []byte) (string, error) {
	p, err := Parse(l.Path, data, l.opts)
	if err != nil {
		return l.Version(), err
	}
	l.pending = ""
	if old := l.cur.Load(); old != nil && old.version == p.Version {
		return p.Version, nil
	}
	l.cur.Store(&loaded{decider: p, version: p.Version, file: p})
	l.logger.Info("policy: in force", "policy", l.Path, "version", p.Version, "rules", len(p.rules), "fallback", p.Fallback)
	return p.Version, nil
}

// ReadFile reads a policy file: a regular file of at most MaxFileSize
// bytes. Anything else (a FIFO, a device, a directory) is refused without
// blocking on it.
func ReadFile(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("policy: %s is not a regular file", path)
	}
	if st.Size() > MaxFileSize {
		return nil, fmt.Errorf("policy: %s is %d bytes, more than a policy may be (%d)", path, st.Size(), MaxFileSize)
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("policy: %w", err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("policy: %s grew past %d bytes", path, MaxFileSize)
	}
	return data, nil
}

// Watch reloads the file whenever it changes, checking every interval,
// until ctx ends. A change that does not compile is logged once, with
// each fault, and leaves the running policy in force.
func (l *Live) Watch(ctx context.Context, interval time.Duration) {
	if l.Path == "" {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	last := ""
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		err := l.Check()
		switch {
		case err == nil:
			last = ""
		case err.Error() != last: // a file that stays broken is told of once
			last = err.Error()
			l.logger.Error("policy: the file cannot be put in force; the running policy stays", "policy", l.Path,
				"version", l.Version(), "error", last)
		}
	}
}

// Check is what Watch does at each tick: it reads the file and, when its
// content differs from the policy in force and has stayed the same since
// the check before (a file being written is not taken half-way), puts it
// in force. So a change takes effect at the second check after it.
func (l *Live) Check() error {
	if l.Path == "" {
		return nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	data, err := ReadFile(l.Path)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	version := hex.EncodeToString(sum[:8])
	if version == l.Version() {
		l.pending = ""
		return nil
	}
	if version != l.pending {
		l.pending = version // changed since the last check: wait for it to settle
		return nil
	}
	_, err = l.put(data)
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
