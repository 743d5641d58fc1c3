package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/foyer-id/foyer/internal/config"
	"github.com/foyer-id/foyer/internal/courier"
	"github.com/foyer-id/foyer/internal/decision"
	"github.com/foyer-id/foyer/internal/event"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/telemetry"
)

// watch is what operators watch a server with (docs/operations.md): its
// metrics and where they are served, and its traces.
type watch struct {
	logger *slog.Logger
	// metrics is nil when they are served nowhere: then nothing counts.
	metrics *telemetry.Metrics
	// tracer makes the spans; nil: tracing is off, and nothing traces.
	tracer trace.TracerProvider
	// token guards /metrics on the main listener; onMain says whether it
	// is served there at all.
	token  string
	onMain bool
	// ln is metrics.addr's listener, opened by newWatch so that a port
	// in use stops the start; nil without one.
	ln net.Listener
	// shutdown sends the spans the tracer provider holds and stops it
	// (nil when the tracer came from Options).
	shutdown func(context.Context) error
}

// newWatch sets up the metrics (when configured: metrics.addr,
// metrics.token, or dev mode) and the traces (tracing.enabled, or
// Options.TracerProvider) of a server on db and outbox.
func newWatch(ctx context.Context, cfg *config.Config, opt Options, logger *slog.Logger, db *store.DB, outbox *courier.Outbox, now func() time.Time) (*watch, error) {
	w := &watch{logger: logger, token: cfg.Metrics.Token, onMain: cfg.MetricsOnMain(), tracer: opt.TracerProvider}
	if cfg.MetricsOn() {
		w.metrics = telemetry.NewMetrics(telemetry.Sources{Pools: db, Outbox: outbox, Now: now})
	}
	if w.tracer == nil && cfg.Tracing.Enabled {
		tp, err := telemetry.NewTracerProvider(ctx)
		if err != nil {
			return nil, fmt.Errorf("tracing.enabled: %w", err)
		}
		if tp != nil {
			w.tracer, w.shutdown = tp, tp.Shutdown
			// The OpenID library makes spans of its own with the
			// global provider: they join the requests'.
			otel.SetTracerProvider(tp)
			otel.SetErrorHandler(otel.ErrorHandlerFunc(func(err error) {
				logger.Warn("tracing: spans not exported", "error", err)
			}))
		}
	}
	if w.tracer != nil {
		db.Trace(w.tracer)
	}
	if cfg.Metrics.Addr != "" {
		ln, err := net.Listen("tcp", cfg.Metrics.Addr)
		if err != nil {
			w.close()
			return nil, fmt.Errorf("metrics.addr: %w", err)
		}
		w.ln = ln
	}
	return w, nil
}

// hook has the event log, the decision point and the courier worker
// tell the metrics of what happens.
func (w *watch) hook(events *event.Log, point *decision.Point, worker *courier.Worker) {
	if w.metrics == nil {
		return
	}
	events.Observe = w.metrics.Event
	point.Observe = w.metrics.Decision
	worker.Observe = w.metrics.Delivery
}

// mount serves GET /metrics on the main listener when it is to be:
// behind metrics.token, or without one in dev mode.
func (w *watch) mount(mux *http.ServeMux) {
	if w.metrics == nil || !w.onMain {
		return
	}
	h := w.metrics.Handler(w.logger)
	if w.token != "" {
		h = telemetry.RequireToken(w.token, h)
	}
	mux.Handle("GET /metrics", h)
}

// routes wraps the mux so that requests count by route (telemetry.Routes).
func (w *watch) routes(mux http.Handler) http.Handler {
	if w.metrics == nil && w.tracer == nil {
		return mux
	}
	return telemetry.Routes(mux)
}

// wrap measures and traces every request to next, the server's whole
// handler.
func (w *watch) wrap(next http.Handler) http.Handler {
	return telemetry.Middleware(next, w.metrics, w.tracer)
}

// serve serves /metrics on metrics.addr's listener, if any, until the
// returned func stops it.
func (w *watch) serve() (stop func(context.Context)) {
	if w.ln == nil {
		return func(context.Context) {}
	}
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", w.metrics.Handler(w.logger))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, WriteTimeout: 30 * time.Second,
		ErrorLog: slog.NewLogLogger(w.logger.Handler(), slog.LevelWarn)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(w.ln); !errors.Is(err, http.ErrServerClosed) {
			w.logger.Error("metrics listener stopped", "addr", w.ln.Addr().String(), "error", err)
		}
	}()
	return func(ctx context.Context) {
		_ = srv.Shutdown(ctx)
		<-done
	}
}

// close sends the spans not sent yet, and closes metrics.addr's
// listener if it was never served.
func (w *watch) close() error {
	if w.ln != nil {
		_ = w.ln.Close() // closed already once served
	}
	if w.shutdown == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := w.shutdown(ctx); err != nil {
		return fmt.Errorf("tracing: send the last spans: %w", err)
	}
	return nil
}

// MetricsAddr is the address of metrics.addr's listener, nil without one.
func (s *Server) MetricsAddr() net.Addr {
	if s.watch.ln == nil {
		return nil
	}
	return s.watch.ln.Addr()
}
