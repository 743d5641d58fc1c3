// Package openapitest keeps an API's OpenAPI description honest: a test
// calls CheckInSync with the embedded document, the routes the handler
// says it mounts, and the mux it mounted them on.
package openapitest

import (
	"net/http"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// CheckInSync fails t unless the OpenAPI 3.1 document describes exactly
// routes ("METHOD /path/{id}"), every operation has an operationId and
// responses, and every route is really mounted on mux. pathValue fills
// {id} when probing the mux.
func CheckInSync(t *testing.T, spec []byte, routes []string, mux *http.ServeMux, pathValue string) {
	t.Helper()
	var doc struct {
		OpenAPI string                          `yaml:"openapi"`
		Paths   map[string]map[string]yaml.Node `yaml:"paths"`
	}
	if err := yaml.Unmarshal(spec, &doc); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1") {
		t.Fatalf("openapi version %q", doc.OpenAPI)
	}
	var described []string
	for path, ops := range doc.Paths {
		for method, op := range ops {
			if method == "parameters" {
				continue
			}
			var o struct {
				OperationID string               `yaml:"operationId"`
				Responses   map[string]yaml.Node `yaml:"responses"`
			}
			if err := op.Decode(&o); err != nil {
				t.Fatal(err)
			}
			if o.OperationID == "" || len(o.Responses) == 0 {
				t.Errorf("%s %s: needs an operationId and responses", method, path)
			}
			described = append(described, strings.ToUpper(method)+" "+path)
		}
	}
	mounted := append([]string(nil), routes...)
	sort.Strings(described)
	sort.Strings(mounted)
	if strings.Join(described, "\n") != strings.Join(mounted, "\n") {
		t.Fatalf("the OpenAPI file and the routes differ:\ndescribed:\n%s\n\nmounted:\n%s", strings.Join(described, "\n"), strings.Join(mounted, "\n"))
	}
	for _, route := range routes {
		method, path, _ := strings.Cut(route, " ")
		req, _ := http.NewRequest(method, strings.ReplaceAll(path, "{id}", pathValue), nil)
		if _, pattern := mux.Handler(req); pattern != route {
			t.Errorf("%s is not mounted (matched %q)", route, pattern)
		}
	}
}
