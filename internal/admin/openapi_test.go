package admin

import (
	"net/http"
	"testing"

	"github.com/foyer-id/foyer/internal/openapitest"
)

// The OpenAPI file describes exactly the routes the handler mounts, and
// every operation documents its responses.
func TestOpenAPIInSync(t *testing.T) {
	mux := http.NewServeMux()
	(&Handler{Token: "t"}).Mount(mux)
	openapitest.CheckInSync(t, OpenAPI, Routes, mux, "abcdefghijklmnopqrstuvwxyz")
}
