package admin

import (
	"net/http"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The OpenAPI file describes exactly the routes the handler mounts, and
// every operation documents its responses.
func TestOpenAPIInSync(t *testing.T) {
	var doc struct {
		OpenAPI string                          `yaml:"openapi"`
		Paths   map[string]map[string]yaml.Node `yaml:"paths"`
	}
	if err := yaml.Unmarshal(OpenAPI, &doc); err != nil {
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
	mounted := append([]string(nil), Routes...)
	sort.Strings(described)
	sort.Strings(mounted)
	if strings.Join(described, "\n") != strings.Join(mounted, "\n") {
		t.Fatalf("openapi.yaml and Routes differ:\ndescribed:\n%s\n\nmounted:\n%s", strings.Join(described, "\n"), strings.Join(mounted, "\n"))
	}
	// Every route really is mounted.
	mux := http.NewServeMux()
	(&Handler{}).Mount(mux)
	for _, route := range Routes {
		method, path, _ := strings.Cut(route, " ")
		req, _ := http.NewRequest(method, strings.ReplaceAll(path, "{id}", "abcdefghijklmnopqrstuvwxyz"), nil)
		if _, pattern := mux.Handler(req); pattern != route {
			t.Errorf("%s is not mounted (matched %q)", route, pattern)
		}
	}
}
