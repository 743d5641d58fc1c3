package telemetry

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

func attr(s sdktrace.ReadOnlySpan, key string) attribute.Value {
	for _, kv := range s.Attributes() {
		if string(kv.Key) == key {
			return kv.Value
		}
	}
	return attribute.Value{}
}

// Each request is a server span named after its route, which carries
// the request's context to the handler; a 5xx marks it failed; a
// traceparent joins the caller's trace.
func TestRequestSpans(t *testing.T) {
	spans := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(spans))
	mux := http.NewServeMux()
	var inHandler trace.SpanContext
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		inHandler = trace.SpanContextFromContext(r.Context())
		w.WriteHeader(http.StatusSeeOther)
	})
	mux.HandleFunc("GET /broken", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusInternalServerError) })
	h := Middleware(Routes(mux), nil, tp)

	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/login", nil))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/broken", nil))
	joined := httptest.NewRequest("GET", "/nowhere", nil)
	joined.Header.Set("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	h.ServeHTTP(httptest.NewRecorder(), joined)

	ended := spans.Ended()
	if len(ended) != 3 {
		t.Fatalf("%d spans, want 3", len(ended))
	}
	login, broken, nowhere := ended[0], ended[1], ended[2]
	if login.Name() != "POST /login" || login.SpanKind() != trace.SpanKindServer ||
		attr(login, "http.route").AsString() != "/login" || attr(login, "http.response.status_code").AsInt64() != 303 ||
		login.Status().Code == codes.Error {
		t.Errorf("login span: %s %v %v %v", login.Name(), login.SpanKind(), login.Attributes(), login.Status())
	}
	if !inHandler.Equal(login.SpanContext()) {
		t.Errorf("the handler's context carries %v, not the request's span %v", inHandler, login.SpanContext())
	}
	if broken.Name() != "GET /broken" || broken.Status().Code != codes.Error {
		t.Errorf("a 500 span: %s %v", broken.Name(), broken.Status())
	}
	if nowhere.Name() != "GET" || nowhere.SpanContext().TraceID().String() != "4bf92f3577b34da6a3ce929d0e0e4736" ||
		nowhere.Parent().SpanID().String() != "00f067aa0ba902b7" {
		t.Errorf("a request with a traceparent: %s in trace %s, parent %s", nowhere.Name(), nowhere.SpanContext().TraceID(), nowhere.Parent().SpanID())
	}
}

// Without metrics and traces the middleware is not there at all.
func TestMiddlewareOff(t *testing.T) {
	mux := http.NewServeMux()
	if h := Middleware(mux, nil, nil); h != http.Handler(mux) {
		t.Fatalf("Middleware without metrics or tracer wraps: %T", h)
	}
}

// The standard variables pick the exporter; what Foyer cannot speak
// stops the start rather than losing every span.
func TestNewTracerProvider(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4318")
	t.Setenv("OTEL_SERVICE_NAME", "foyer-eu-1")
	tp, err := NewTracerProvider(t.Context())
	if err != nil || tp == nil {
		t.Fatalf("default: %v, %v", tp, err)
	}
	_, span := tp.Tracer("test").Start(t.Context(), "x")
	if service, _ := span.(sdktrace.ReadOnlySpan).Resource().Set().Value("service.name"); service.AsString() != "foyer-eu-1" {
		t.Errorf("service.name %q, want OTEL_SERVICE_NAME's", service.AsString())
	}
	// Shut down with the span still open: nothing to send to a collector
	// that is not there.
	if err := tp.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	span.End()

	t.Setenv("OTEL_TRACES_EXPORTER", "none")
	if tp, err := NewTracerProvider(t.Context()); tp != nil || err != nil {
		t.Errorf("OTEL_TRACES_EXPORTER=none: %v, %v; want no provider", tp, err)
	}
	for _, env := range [][2]string{{"OTEL_TRACES_EXPORTER", "zipkin"}, {"OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"}} {
		t.Setenv("OTEL_TRACES_EXPORTER", "otlp")
		t.Setenv(env[0], env[1])
		if _, err := NewTracerProvider(t.Context()); err == nil {
			t.Errorf("%s=%s: no error", env[0], env[1])
		}
		t.Setenv(env[0], "")
	}
}
