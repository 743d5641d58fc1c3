package server

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/foyer-id/foyer/internal/problem"
)

// outageFresh is how old a store check may be when a server error is
// being answered: fresher than readiness needs, as it decides what one
// customer reads.
const outageFresh = time.Second

// outages turns a server error (5xx, not 503) into what an outage gets —
// 503 with Retry-After, in the words of the path's part of Foyer — when
// the database is why: the request's deadline passed while it waited, or
// the store cannot answer or write now (health.check). The hosted pages
// and the JSON APIs map store.Unavailable themselves; this catches the
// answers nobody maps, such as the OpenID library's at the OAuth
// endpoints, which answer temporarily_unavailable then. unavailable is
// the hosted pages' answer.
func (s *Server) outages(next http.Handler, unavailable func(http.ResponseWriter, *http.Request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(&outageWriter{ResponseWriter: w, r: r, s: s, page: unavailable}, r)
	})
}

// outage reports whether r failed because the database is unavailable.
func (s *Server) outage(r *http.Request) bool {
	if errors.Is(r.Context().Err(), context.DeadlineExceeded) {
		return true
	}
	_, err := s.health.fresh(r.Context(), outageFresh)
	return err != nil
}

// outageWriter is outages' ResponseWriter.
type outageWriter struct {
	http.ResponseWriter
	r        *http.Request
	s        *Server
	page     func(http.ResponseWriter, *http.Request)
	replaced bool
}

func (o *outageWriter) WriteHeader(status int) {
	if status < 500 || status == http.StatusServiceUnavailable || !o.s.outage(o.r) {
		o.ResponseWriter.WriteHeader(status)
		return
	}
	h := o.Header()
	for _, k := range []string{"Content-Type", "Content-Length", "Content-Security-Policy", "X-Content-Type-Options"} {
		h.Del(k)
	}
	o.replaced = true
	path := o.r.URL.Path
	switch {
	case jsonAPI(path):
		problem.Unavailable(o.ResponseWriter)
	case machinePath(path):
		// RFC 6749's temporarily_unavailable, with the status and
		// Retry-After that say the same to an HTTP client.
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "no-store")
		h.Set("Retry-After", strconv.Itoa(problem.RetryAfter))
		o.ResponseWriter.WriteHeader(http.StatusServiceUnavailable)
		_ = json.NewEncoder(o.ResponseWriter).Encode(map[string]string{"error": "temporarily_unavailable",
			"error_description": "The service cannot complete this request right now. Try again in a few seconds."})
	default:
		o.page(o.ResponseWriter, o.r)
	}
}

func (o *outageWriter) Write(b []byte) (int, error) {
	if o.replaced {
		return len(b), nil
	}
	return o.ResponseWriter.Write(b)
}

func (o *outageWriter) Unwrap() http.ResponseWriter { return o.ResponseWriter }
