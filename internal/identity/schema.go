package identity

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

//go:embed default_schema.json
var defaultSchema []byte

// DefaultSchemaID names the built-in identity schema: email required, name
// optional.
const DefaultSchemaID = "default"

// Schema validates identity traits and says which traits are identifiers.
// A trait becomes an identifier when its schema property carries
// "x-foyer-identifier": "<kind>": "email", or "phone" (E.164; a channel
// for codes by text message once verified).
type Schema struct {
	ID          string
	Raw         json.RawMessage
	schema      *jsonschema.Schema
	identifiers map[string]string // trait name → identifier kind
	properties  []string
}

// DefaultSchema returns the built-in schema.
func DefaultSchema() *Schema {
	s, err := CompileSchema(DefaultSchemaID, defaultSchema)
	if err != nil {
		panic(fmt.Sprintf("identity: built-in schema: %v", err))
	}
	return s
}

// LoadSchema reads and compiles a schema file; an empty path gives the
// default schema.
func LoadSchema(path string) (*Schema, error) {
	if path == "" {
		return DefaultSchema(), nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("identity: read schema: %w", err)
	}
	return CompileSchema("file:"+path, raw)
}

// CompileSchema compiles a JSON Schema (draft 2020-12 by default) for
// identity traits. The schema must describe an object whose identifier
// properties are strings, and must require at least one identifier.
func CompileSchema(id string, raw []byte) (*Schema, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("identity: schema %s: not JSON: %w", id, err)
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	const url = "foyer:identity.schema.json"
	if err := c.AddResource(url, doc); err != nil {
		return nil, fmt.Errorf("identity: schema %s: %w", id, err)
	}
	compiled, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("identity: schema %s: %w", id, err)
	}
	var shape struct {
		Type       string `json:"type"`
		Required   []string
		Properties map[string]struct {
			Type       string `json:"type"`
			Identifier string `json:"x-foyer-identifier"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(raw, &shape); err != nil {
		return nil, fmt.Errorf("identity: schema %s: %w", id, err)
	}
	if shape.Type != "object" {
		return nil, fmt.Errorf("identity: schema %s: top-level type must be \"object\"", id)
	}
	s := &Schema{ID: id, Raw: json.RawMessage(raw), schema: compiled, identifiers: map[string]string{}}
	for name, p := range shape.Properties {
		s.properties = append(s.properties, name)
		if p.Identifier == "" {
			continue
		}
		if p.Identifier != KindEmail && p.Identifier != KindPhone {
			return nil, fmt.Errorf("identity: schema %s: property %q: unsupported x-foyer-identifier %q", id, name, p.Identifier)
		}
		if p.Type != "string" {
			return nil, fmt.Errorf("identity: schema %s: identifier property %q must have type \"string\"", id, name)
		}
		s.identifiers[name] = p.Identifier
	}
	sort.Strings(s.properties)
	requiredID := false
	for _, r := range shape.Required {
		if _, ok := s.identifiers[r]; ok {
			requiredID = true
		}
	}
	if !requiredID {
		return nil, fmt.Errorf("identity: schema %s: at least one property marked x-foyer-identifier must be required", id)
	}
	return s, nil
}

// IdentifierTrait returns the trait that holds identifiers of kind, ""
// when the schema has none.
func (s *Schema) IdentifierTrait(kind string) string {
	for name, k := range s.identifiers {
		if k == kind {
			return name
		}
	}
	return ""
}

// Properties lists the trait names the schema declares, sorted.
func (s *Schema) Properties() []string { return s.properties }

// TraitError says which trait failed validation and why, in words safe to
// show the customer.
type TraitError struct {
	Trait   string
	Message string
}

func (e *TraitError) Error() string { return "identity: trait " + e.Trait + ": " + e.Message }

// Validate checks traits against the schema, normalises identifier traits
// in place, and returns the identifiers they declare. Errors are
// *TraitError.
func (s *Schema) Validate(traits map[string]any) ([]Identifier, error) {
	for name, v := range traits {
		clean, err := cleanText(name, v)
		if err != nil {
			return nil, err
		}
		traits[name] = clean
	}
	var ids []Identifier
	for name, kind := range s.identifiers {
		v, ok := traits[name]
		if !ok {
			continue
		}
		str, ok := v.(string)
		if !ok {
			return nil, &TraitError{Trait: name, Message: "must be text"}
		}
		var norm string
		var err error
		if kind == KindPhone {
			if norm, err = NormalizePhone(str); err != nil {
				return nil, &TraitError{Trait: name, Message: "must be a phone number in international form, like +44 20 7946 0958"}
			}
		} else if norm, err = NormalizeEmail(str); err != nil {
			return nil, &TraitError{Trait: name, Message: "must be a valid email address"}
		}
		traits[name] = norm
		ids = append(ids, Identifier{Kind: kind, Value: norm})
	}
	if err := s.schema.Validate(jsonValue(traits)); err != nil {
		var ve *jsonschema.ValidationError
		if errors.As(err, &ve) {
			return nil, traitErrorFrom(ve)
		}
		return nil, &TraitError{Trait: "traits", Message: "are not valid"}
	}
	if len(ids) == 0 {
		return nil, &TraitError{Trait: "email", Message: "is required"}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i].Kind+ids[i].Value < ids[j].Kind+ids[j].Value })
	return ids, nil
}

// cleanText trims the white space around the text in a trait (nested
// too) and refuses text with characters that only deceive: control
// characters, the replacement character, and the bidirectional overrides
// and isolates that make a name read differently from what it is.
func cleanText(name string, v any) (any, error) {
	switch v := v.(type) {
	case string:
		if strings.ContainsFunc(v, deceptive) {
			return nil, &TraitError{Trait: name, Message: "has characters that are not allowed"}
		}
		return strings.TrimSpace(v), nil
	case map[string]any:
		for k, x := range v {
			clean, err := cleanText(name, x)
			if err != nil {
				return nil, err
			}
			v[k] = clean
		}
	case []any:
		for i, x := range v {
			clean, err := cleanText(name, x)
			if err != nil {
				return nil, err
			}
			v[i] = clean
		}
	}
	return v, nil
}

// deceptive reports a character text traits may not hold.
func deceptive(r rune) bool {
	switch {
	case unicode.IsControl(r), r == utf8.RuneError:
		return true
	case r >= '\u202a' && r <= '\u202e', r >= '\u2066' && r <= '\u2069':
		return true
	}
	return false
}

// jsonValue converts Go values to the shapes the validator expects
// (float64 numbers etc.) by a JSON round trip.
func jsonValue(traits map[string]any) any {
	b, _ := json.Marshal(traits)
	v, _ := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	return v
}

func traitErrorFrom(ve *jsonschema.ValidationError) *TraitError {
	leaf := ve
	for len(leaf.Causes) > 0 {
		leaf = leaf.Causes[0]
	}
	trait := "traits"
	if len(leaf.InstanceLocation) > 0 {
		trait = strings.Join(leaf.InstanceLocation, ".")
	}
	switch k := leaf.ErrorKind.(type) {
	case *kind.Required:
		if len(k.Missing) > 0 {
			return &TraitError{Trait: k.Missing[0], Message: "is required"}
		}
		return &TraitError{Trait: trait, Message: "is required"}
	case *kind.AdditionalProperties:
		if len(k.Properties) > 0 {
			trait = k.Properties[0]
		}
		return &TraitError{Trait: trait, Message: "is not a field this form accepts"}
	case *kind.MaxLength:
		return &TraitError{Trait: trait, Message: fmt.Sprintf("must be at most %d characters", k.Want)}
	case *kind.MinLength:
		return &TraitError{Trait: trait, Message: fmt.Sprintf("must be at least %d characters", k.Want)}
	case *kind.Type:
		return &TraitError{Trait: trait, Message: "has the wrong type"}
	case *kind.Format:
		return &TraitError{Trait: trait, Message: "has the wrong format"}
	}
	return &TraitError{Trait: trait, Message: "is not valid"}
}
