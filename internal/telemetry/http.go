package telemetry

import (
	"net/http"
	"time"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"
)

// tracerName is the instrumentation scope of the request spans.
const tracerName = "github.com/foyer-id/foyer/internal/telemetry"

// Middleware measures every request with m (nil: not at all) and makes
// it a span of tp's tracer (nil: none): the outermost handler of the
// server, so that what the layers inside answer themselves (panics,
// refusals, outages) counts too. The route comes from Routes, which
// wraps the mux; with neither m nor tp, next is returned as it is.
//
// A request whose W3C traceparent header names a trace joins it (a proxy
// or an app that traces); with a ratio sampler, note that the caller's
// sampled flag then decides (OTEL_TRACES_SAMPLER=traceidratio ignores
// it).
func Middleware(next http.Handler, m *Metrics, tp trace.TracerProvider) http.Handler {
	if m == nil && tp == nil {
		return next
	}
	h := &instrumented{next: next, metrics: m}
	if tp != nil {
		h.tracer = tp.Tracer(tracerName)
	}
	return h
}

type instrumented struct {
	next    http.Handler
	metrics *Metrics
	tracer  trace.Tracer // nil: no spans
}

func (h *instrumented) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	method := methodLabel(r.Method)
	rec := &recorder{ResponseWriter: w}
	var span trace.Span
	if h.tracer != nil {
		ctx := propagation.TraceContext{}.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span = h.tracer.Start(ctx, spanName(method, ""), trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(semconv.HTTPRequestMethodKey.String(method)))
		r = r.WithContext(ctx)
	}
	if h.metrics != nil {
		h.metrics.inFlight.Inc()
	}
	defer func() {
		status := rec.status
		if status == 0 {
			status = http.StatusOK // nothing written: net/http answers 200
		}
		route := routeLabel(rec.pattern)
		if m := h.metrics; m != nil {
			m.inFlight.Dec()
			m.requests.WithLabelValues(method, route, statusLabel(status)).Inc()
			m.duration.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
		}
		if span != nil {
			if route != unmatched {
				span.SetName(spanName(method, route))
				span.SetAttributes(semconv.HTTPRoute(route))
			}
			span.SetAttributes(semconv.HTTPResponseStatusCode(status))
			if status >= 500 {
				span.SetStatus(codes.Error, "")
			}
			span.End()
		}
	}()
	h.next.ServeHTTP(rec, r)
}

// spanName is OpenTelemetry's name of an HTTP server span: the method
// and the route ("POST /login"), or the method alone.
func spanName(method, route string) string {
	if method == other {
		method = "HTTP"
	}
	if route == "" {
		return method
	}
	return method + " " + route
}

// Routes wraps the mux: once it has routed a request, the pattern that
// matched (r.Pattern, which the mux sets on the request it is given)
// goes to the request's recorder, which Middleware made outside. The
// recorder is found as http.ResponseController finds a writer's
// features, through the Unwrap of the writers in between; a wrapper
// without Unwrap hides it, and the request then counts as unmatched.
func Routes(mux http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() { // a panic's too: the server recovers it outside
			if rec := recorderOf(w); rec != nil {
				rec.pattern = r.Pattern
			}
		}()
		mux.ServeHTTP(w, r)
	})
}

// recorder is Middleware's ResponseWriter: it notes the status and,
// through Routes, the route.
type recorder struct {
	http.ResponseWriter
	status  int
	pattern string
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 && code >= 200 { // 1xx are interim answers
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// recorderOf finds Middleware's recorder behind w.
func recorderOf(w http.ResponseWriter) *recorder {
	for {
		switch t := w.(type) {
		case *recorder:
			return t
		case interface{ Unwrap() http.ResponseWriter }:
			w = t.Unwrap()
		default:
			return nil
		}
	}
}
