package telemetry

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// The middleware's cost per request, metrics on and tracing off (the
// usual production setting), against the bare mux: a route table the
// size of Foyer's, and a handler that does nothing, so that what is
// measured is the counting. b.ReportMetric gives ns/op of each; the
// difference is the overhead.
func BenchmarkMiddleware(b *testing.B) {
	mux := http.NewServeMux()
	for _, p := range []string{"/login", "/registration", "/verification", "/recovery", "/account", "/account/password",
		"/account/email", "/api/login/{id}", "/api/registration/{id}", "/sessions/whoami"} {
		mux.HandleFunc("GET "+p, func(w http.ResponseWriter, r *http.Request) {})
		mux.HandleFunc("POST "+p, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusSeeOther) })
	}
	run := func(b *testing.B, h http.Handler) {
		r := httptest.NewRequest("POST", "/api/login/0192f3a4-7c1d-7b7e-9a51-2f1e3d4c5b6a", nil)
		w := httptest.NewRecorder()
		b.ReportAllocs()
		for b.Loop() {
			h.ServeHTTP(w, r)
		}
	}
	b.Run("bare", func(b *testing.B) { run(b, mux) })
	b.Run("metrics", func(b *testing.B) { run(b, Middleware(Routes(mux), NewMetrics(Sources{}), nil)) })
}
