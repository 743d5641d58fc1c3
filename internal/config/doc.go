// Package config loads Foyer's configuration once, at start: defaults, then
// the YAML file given with --config, then FOYER_* environment variables,
// then command-line flags. Validate names the key and the problem of
// anything wrong. The typed Config is passed to constructors; nothing
// reads configuration later.
package config
