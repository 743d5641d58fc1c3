package server

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/foyer-id/foyer/internal/problem"
	"github.com/foyer-id/foyer/internal/store"
)

// checkEvery is how often at most readiness checks the database: health
// checks of a load balancer or an orchestrator, several a second across
// them, get the last result in between.
const checkEvery = 5 * time.Second

// checkTimeout bounds one check.
const checkTimeout = 2 * time.Second

// health serves the liveness and readiness probes, and knows whether the
// store works: it answers and can commit a write.
type health struct {
	db     *store.DB
	now    func() time.Time
	logger *slog.Logger

	mu      sync.Mutex
	checked time.Time // when the last check ran; zero: never
	err     error     // its result
	reason  string    // what it found wrong, for the answer
}

// Mount registers GET /health/alive and GET /health/ready.
func (h *health) Mount(mux *http.ServeMux) {
	mux.HandleFunc("GET /health/alive", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
	mux.HandleFunc("GET /health/ready", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		if reason, err := h.check(r.Context()); err != nil {
			w.Header().Set("Retry-After", strconv.Itoa(problem.RetryAfter))
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"status":"unavailable","database":"` + reason + `"}` + "\n"))
			return
		}
		_, _ = w.Write([]byte(`{"status":"ok"}` + "\n"))
	})
}

// check reports whether the store answers and can commit a write: the
// readers' ping ("unreachable" when it fails), then store.DB.CheckWrite
// through the one writer ("cannot write": a full disk, a database that
// takes no writes, a stuck SQLite writer). It checks at most every
// checkEvery, whoever asks; in between it returns the last result.
func (h *health) check(ctx context.Context) (reason string, err error) {
	return h.fresh(ctx, checkEvery)
}

// fresh is check with a result at most maxAge old.
func (h *health) fresh(ctx context.Context, maxAge time.Duration) (reason string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.checked.IsZero() && h.now().Sub(h.checked) < maxAge {
		return h.reason, h.err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), checkTimeout)
	defer cancel()
	var said string // what the log says of the database
	if err = h.db.Ping(ctx); err != nil {
		reason, said = "unreachable", "is unreachable"
	} else if err = h.db.CheckWrite(ctx); err != nil {
		reason, said = "cannot write", "cannot write"
	}
	switch {
	case err != nil && (h.err == nil || h.checked.IsZero()):
		h.logger.WarnContext(ctx, "not ready: the database "+said, "error", err)
	case err == nil && h.err != nil:
		h.logger.InfoContext(ctx, "ready again: the database answers and writes")
	}
	h.checked, h.err, h.reason = h.now(), err, reason
	return reason, err
}
