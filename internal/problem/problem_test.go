package problem

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

type input struct {
	Name string `json:"name"`
}

func TestDecodeJSON(t *testing.T) {
	cases := []struct {
		name, contentType, body string
		status                  int    // 0: accepted
		kind                    string // the problem's kind when refused
		want                    string // Name when accepted
	}{
		{"object", "application/json", `{"name":"a"}`, 0, "", "a"},
		{"charset", "application/json; charset=utf-8", `{"name":"a"}`, 0, "", "a"},
		{"media type in upper case", "Application/JSON", `{"name":"a"}`, 0, "", "a"},
		{"extra media type", "application/merge-patch+json", `{"name":"a"}`, 0, "", "a"},
		{"no content type", "", `{"name":"a"}`, 0, "", "a"},
		{"empty body", "application/json", " \n", 0, "", ""},
		{"spaces around", "application/json", " {\"name\":\"a\"} \n", 0, "", "a"},

		{"form", "application/x-www-form-urlencoded", `name=a`, 415, "unsupported-media-type", ""},
		{"json as a prefix", "application/jsonfoo", `{"name":"a"}`, 415, "unsupported-media-type", ""},
		{"json-seq", "application/json-seq", `{"name":"a"}`, 415, "unsupported-media-type", ""},
		{"unparsable content type", "application/json; charset", `{"name":"a"}`, 415, "unsupported-media-type", ""},
		{"malformed", "application/json", `{"name":`, 400, "malformed-json", ""},
		{"null", "application/json", `null`, 400, "malformed-json", ""},
		{"array", "application/json", `[]`, 400, "malformed-json", ""},
		{"string", "application/json", `"a"`, 400, "malformed-json", ""},
		{"two objects", "application/json", `{} {}`, 400, "malformed-json", ""},
		{"stray brace after", "application/json", `{"name":"a"}}`, 400, "malformed-json", ""},
		{"stray bracket after", "application/json", `{}]`, 400, "malformed-json", ""},
		{"anything after", "application/json", `{} x`, 400, "malformed-json", ""},
		{"unknown field", "application/json", `{"name":"a","admin":true}`, 400, "malformed-json", ""},
		{"wrong type", "application/json", `{"name":1}`, 400, "malformed-json", ""},
		{"too large", "application/json", `{"name":"` + strings.Repeat("a", 100) + `"}`, 413, "body-too-large", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/", strings.NewReader(tc.body))
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			w := httptest.NewRecorder()
			var in input
			ok := DecodeJSON(w, r, &in, 64, "application/merge-patch+json")
			if tc.status == 0 {
				if !ok || in.Name != tc.want {
					t.Fatalf("refused or wrong: ok %v, name %q, answer %d %s", ok, in.Name, w.Code, w.Body)
				}
				return
			}
			var p Details
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
				t.Fatalf("answer %q: %v", w.Body, err)
			}
			if ok || w.Code != tc.status || p.Type != TypeBase+tc.kind || w.Header().Get("Content-Type") != "application/problem+json" {
				t.Fatalf("ok %v, answer %d %s %+v; want %d %s", ok, w.Code, w.Header().Get("Content-Type"), p, tc.status, tc.kind)
			}
			if strings.Contains(w.Body.String(), `"a"`) { // input values are never echoed
				t.Fatalf("the answer echoes the input: %s", w.Body)
			}
		})
	}
}

// A problem is sent with its content type, no caching and its status.
func TestSend(t *testing.T) {
	w := httptest.NewRecorder()
	Send(w, http.StatusConflict, "flow-changed", "The flow changed", "Reload it.")
	var p Details
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	want := Details{Type: TypeBase + "flow-changed", Title: "The flow changed", Status: 409, Detail: "Reload it."}
	if w.Code != 409 || p != want || w.Header().Get("Content-Type") != "application/problem+json" || w.Header().Get("Cache-Control") != "no-store" {
		t.Fatalf("%d %v %+v", w.Code, w.Header(), p)
	}
}

// An outage is a 503 problem of its own, with Retry-After, that says
// nothing of the cause.
func TestUnavailable(t *testing.T) {
	rec := httptest.NewRecorder()
	Unavailable(rec)
	var p Details
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
		t.Fatal(err)
	}
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") != "5" ||
		rec.Header().Get("Content-Type") != "application/problem+json" || p.Type != TypeBase+"unavailable" || p.Status != 503 {
		t.Fatalf("%d %v %+v", rec.Code, rec.Header(), p)
	}
}
