package ui

import (
	"github.com/foyer-id/foyer/internal/flow"
	"github.com/foyer-id/foyer/internal/i18n"
)

// localizeMessages words msgs in loc's language (i18n.Localizer.Reword):
// a message whose ID the catalogue has takes its text from there, with
// its Args; one it lacks keeps its English Text.
func localizeMessages(loc *i18n.Localizer, msgs []flow.Message) []flow.Message {
	if len(msgs) == 0 {
		return msgs
	}
	out := make([]flow.Message, len(msgs))
	for i, m := range msgs {
		m.Text = loc.Reword(m.ID, m.Args, m.Text)
		out[i] = m
	}
	return out
}
