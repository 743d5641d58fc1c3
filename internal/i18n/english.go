package i18n

import "sync"

// shipped is the catalogue Foyer ships, loaded once for the whole process.
var shipped = sync.OnceValue(func() *Catalog {
	c, err := Load("")
	if err != nil {
		panic(err) // the catalogues are embedded: a broken one is a bug
	}
	return c
})

// Builtin returns the built-in catalogues, without an operator's files:
// for what words itself before (or without) the server's own catalogue,
// such as Render in tests and tools.
func Builtin() *Catalog { return shipped() }

// English returns a Localizer for the built-in English catalogue, shared
// by the whole process: the wording a message's id has when nobody asks
// for another language, such as the English text that flow messages
// carry beside their id. Operators' files (Load's dir) do not change it.
func English() *Localizer { return english() }

var english = sync.OnceValue(func() *Localizer { return shipped().For(Default) })
