// Package policies holds the policy files Foyer ships: default.yaml is
// the built-in customer policy written as a file, the place to start
// one's own (docs/policies.md).
package policies

import _ "embed"

// Default is default.yaml.
//
//go:embed default.yaml
var Default []byte
