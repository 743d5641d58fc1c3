package telemetry

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// Every label's values are bounded, so that no client and no data can
// make series without end: the route is the pattern that matched (never
// the path), the method one of HTTP's, the status a code, and the values
// that come from data (a policy file's reasons) must look like
// identifiers and are capped in number.

// other stands for a value left out.
const other = "other"

// labelSet bounds the values a label takes from data: a value must look
// like an identifier (too_many_attempts, not words or numbers), and be
// one of the first max distinct ones; anything else is "other".
type labelSet struct {
	max  int
	mu   sync.Mutex
	seen map[string]bool
}

func (s *labelSet) value(v string) string {
	if v == "" {
		return ""
	}
	if !identifier(v) {
		return other
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen[v] {
		return v
	}
	if len(s.seen) >= s.max {
		return other
	}
	if s.seen == nil {
		s.seen = map[string]bool{}
	}
	s.seen[v] = true
	return v
}

// identifier reports whether v is 1 to 64 letters, digits and _ . : -.
func identifier(v string) bool {
	if len(v) > 64 {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '.' || c == ':' || c == '-') {
			return false
		}
	}
	return true
}

// methodLabel is r's method if it is one of HTTP's, else "other".
func methodLabel(method string) string {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		return method
	}
	return other
}

// unmatched is the route of a request no pattern answered: the mux found
// none (404, or a redirect to a path with a slash), or the request was
// answered before routing (a CORS preflight, a cross-origin refusal).
const unmatched = "unmatched"

// routeLabel is the path part of a ServeMux pattern ("GET /login" →
// "/login"), or unmatched for none.
func routeLabel(pattern string) string {
	if pattern == "" {
		return unmatched
	}
	if i := strings.IndexByte(pattern, ' '); i >= 0 {
		pattern = strings.TrimLeft(pattern[i+1:], " \t")
	}
	return pattern
}

// statusLabels are the status codes as label values, made once.
var statusLabels = func() (s [600]string) {
	for code := 100; code < len(s); code++ {
		s[code] = strconv.Itoa(code)
	}
	return s
}()

// statusLabel is code in decimal, or "other" outside 100–599.
func statusLabel(code int) string {
	if code < 100 || code >= len(statusLabels) {
		return other
	}
	return statusLabels[code]
}
