package passkey

import (
	"maps"
	"slices"
)

// KnownAAGUIDs lists the AAGUIDs ProviderOf knows, for tests.
func KnownAAGUIDs() []string { return slices.Sorted(maps.Keys(providers)) }
