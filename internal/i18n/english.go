package i18n

import "sync"

// english is the built-in English catalogue's Localizer, loaded once.
var english = sync.OnceValue(func() *Localizer {
	c, err := Load("")
	if err != nil {
		panic(err) // the catalogues are embedded: a broken one is a bug
	}
	return c.For(Default)
})

// English returns a Localizer for the built-in English catalogue, shared
// by the whole process: the wording a message's id has when nobody asks
// for another language, such as the English text that flow messages
// carry beside their id. Operators' files (Load's dir) do not change it.
func English() *Localizer { return english() }
