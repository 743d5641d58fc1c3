// Package problem is how Foyer's JSON APIs (self-service and admin) talk
// about failure and read their input: RFC 9457 problem details, and
// strict JSON request bodies — size-limited, exactly one object, no
// unknown fields — whose errors never echo the input back.
package problem

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
)

// TypeBase prefixes every problem type URI.
const TypeBase = "https://foyer.dev/problems/"

// DefaultLimit bounds request bodies when a handler sets none.
const DefaultLimit = 64 << 10

// Details is an RFC 9457 problem without extensions.
type Details struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail,omitempty"`
}

// Write sends body (a problem object) with the problem content type.
func Write(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// Send writes a plain problem of the given kind (the last part of its type).
func Send(w http.ResponseWriter, status int, kind, title, detail string) {
	Write(w, status, Details{Type: TypeBase + kind, Title: title, Status: status, Detail: detail})
}

// RetryAfter is how long, in seconds, an answer that Foyer is
// unavailable asks the client to wait before trying again.
const RetryAfter = 5

// Unavailable answers 503 with Retry-After: Foyer cannot do the work now
// (its database did not answer in time, refused, or cannot write), and
// the same request may well work shortly. Nothing about the cause goes
// out; the log has it.
func Unavailable(w http.ResponseWriter) {
	w.Header().Set("Retry-After", strconv.Itoa(RetryAfter))
	Send(w, http.StatusServiceUnavailable, "unavailable", "Temporarily unavailable",
		"The service cannot complete this request right now. Try again in a few seconds.")
}

// NotFound answers a path that names no endpoint.
func NotFound(w http.ResponseWriter) {
	Send(w, http.StatusNotFound, "not-found", "Not found", "There is no such endpoint.")
}

// DecodeJSON reads r's body into dst strictly and answers a problem
// itself when it cannot (415, 413, 400); it reports whether dst is good.
// An empty body is an empty object. contentTypes lists the media types
// accepted besides application/json.
func DecodeJSON(w http.ResponseWriter, r *http.Request, dst any, limit int64, contentTypes ...string) bool {
	if ct := r.Header.Get("Content-Type"); ct != "" && !acceptable(ct, contentTypes) {
		Send(w, http.StatusUnsupportedMediaType, "unsupported-media-type", "Send JSON", "Content-Type must be application/json.")
		return false
	}
	if limit <= 0 {
		limit = DefaultLimit
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			Send(w, http.StatusRequestEntityTooLarge, "body-too-large", "Request body too large", fmt.Sprintf("The body may be at most %d bytes.", limit))
			return false
		}
		Send(w, http.StatusBadRequest, "malformed-body", "Unreadable body", "The request body could not be read.")
		return false
	}
	text := strings.TrimSpace(string(body))
	if text == "" {
		text = "{}"
	}
	// null and other non-objects would decode into dst as nothing.
	if text[0] != '{' {
		Send(w, http.StatusBadRequest, "malformed-json", "Malformed JSON", "The body must be a JSON object.")
		return false
	}
	dec := json.NewDecoder(strings.NewReader(text))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		Send(w, http.StatusBadRequest, "malformed-json", "Malformed JSON", describe(err))
		return false
	}
	// Anything after the object, a stray '}' or ']' included, is an error:
	// More alone reports false before those.
	if _, err := dec.Token(); err != io.EOF {
		Send(w, http.StatusBadRequest, "malformed-json", "Malformed JSON", "The body must hold exactly one JSON object.")
		return false
	}
	return true
}

// acceptable reports whether the Content-Type ct names application/json or
// one of extra, in any case and with any parameters (such as charset).
func acceptable(ct string, extra []string) bool {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || slices.Contains(extra, mt)
}

// describe explains a decoding error without echoing input values.
func describe(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("Syntax error at byte %d.", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field == "" {
			return "The body must be a JSON object."
		}
		return fmt.Sprintf("Field %q has the wrong type.", typ.Field)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "Unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field ") + "."
	}
	return "The body is not a valid JSON object."
}
