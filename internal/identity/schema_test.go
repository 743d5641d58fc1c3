package identity

import (
	"errors"
	"testing"
)

func TestDefaultSchema(t *testing.T) {
	s := DefaultSchema()
	tests := []struct {
		name   string
		traits map[string]any
		trait  string // failing trait, "" for success
	}{
		{"email only", map[string]any{"email": "Alice@Example.com"}, ""},
		{"email and name", map[string]any{"email": "a@example.com", "name": "Alice Ü"}, ""},
		{"missing email", map[string]any{"name": "Alice"}, "email"},
		{"bad email", map[string]any{"email": "nope"}, "email"},
		{"email not text", map[string]any{"email": 42}, "email"},
		{"unknown trait", map[string]any{"email": "a@example.com", "admin": true}, ""},
		{"empty name", map[string]any{"email": "a@example.com", "name": ""}, "name"},
		{"blank name", map[string]any{"email": "a@example.com", "name": "   "}, "name"},
		{"right-to-left override", map[string]any{"email": "a@example.com", "name": "Alice \u202egnp.exe"}, "name"},
		{"NUL", map[string]any{"email": "a@example.com", "name": "Al\x00ice"}, "name"},
	}
	trimmed := map[string]any{"email": "a@example.com", "name": "  Alice  "}
	if _, err := s.Validate(trimmed); err != nil || trimmed["name"] != "Alice" {
		t.Fatalf("name around white space: %q %v", trimmed["name"], err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ids, err := s.Validate(tt.traits)
			if tt.name == "unknown trait" {
				if err == nil {
					t.Fatal("unknown trait accepted")
				}
				return
			}
			if tt.trait == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(ids) != 1 || ids[0].Kind != KindEmail || ids[0].Value != tt.traits["email"] {
					t.Fatalf("identifiers = %+v, traits = %v", ids, tt.traits)
				}
				return
			}
			var te *TraitError
			if !errors.As(err, &te) || te.Trait != tt.trait {
				t.Fatalf("err = %v, want trait %q", err, tt.trait)
			}
		})
	}
}

func TestCompileSchemaRejects(t *testing.T) {
	bad := map[string]string{
		"not json":        `{`,
		"not object":      `{"type":"string"}`,
		"no identifier":   `{"type":"object","properties":{"email":{"type":"string"}},"required":["email"]}`,
		"optional ident":  `{"type":"object","properties":{"email":{"type":"string","x-foyer-identifier":"email"}}}`,
		"unknown kind":    `{"type":"object","properties":{"u":{"type":"string","x-foyer-identifier":"fax"}},"required":["u"]}`,
		"non-string kind": `{"type":"object","properties":{"email":{"type":"number","x-foyer-identifier":"email"}},"required":["email"]}`,
	}
	for name, raw := range bad {
		if _, err := CompileSchema(name, []byte(raw)); err == nil {
			t.Errorf("%s: compiled", name)
		}
	}
}
