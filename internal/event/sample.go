package event

import (
	"context"
	"log/slog"
	"sync"
)

// SampledPerMinute is how many events of one kind (type, outcome, reason)
// from one client address AppendSampled records a minute on a node.
const SampledPerMinute = 10

// sampledKeys bounds how many kinds-and-addresses a node tracks a minute;
// past it (a flood from many addresses), further sampled events are not
// recorded until the minute turns.
const sampledKeys = 10_000

// sampler counts the sampled events of the current minute.
type sampler struct {
	mu     sync.Mutex
	minute int64
	counts map[string]int
}

// AppendSampled is Append for refusals that come in floods — a throttled
// or challenged request, a client's failed authentication — which cost
// their sender nothing: at most SampledPerMinute of one kind from one
// address are recorded a minute on each node, so a flood cannot fill the
// database or the log. The first of a minute say what the rest would.
func (l *Log) AppendSampled(ctx context.Context, e Event) error {
	if !l.Sample(ctx, e) {
		return nil
	}
	return l.Append(ctx, e)
}

// Sample reports whether an event that comes in floods is to be recorded
// (see AppendSampled), for a caller that records it with more (its
// decision) in one transaction. An event left out is logged at debug.
func (l *Log) Sample(ctx context.Context, e Event) bool {
	if l.sample(e) {
		return true
	}
	if l.Observe != nil {
		l.Observe(e)
	}
	l.logger.LogAttrs(ctx, slog.LevelDebug, "journey event not recorded (sampled)",
		slog.String("event", e.Type), slog.String("outcome", e.Outcome), slog.String("reason", e.Reason), slog.String("client_ip", e.IP))
	return false
}

func (l *Log) sample(e Event) bool {
	minute := l.now().Unix() / 60
	key := e.Type + "\x00" + e.Outcome + "\x00" + e.Reason + "\x00" + e.IP
	s := &l.sampled
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.minute != minute || s.counts == nil {
		s.minute, s.counts = minute, map[string]int{}
	}
	n, seen := s.counts[key]
	if !seen && len(s.counts) >= sampledKeys || n >= SampledPerMinute {
		return false
	}
	s.counts[key] = n + 1
	return true
}
