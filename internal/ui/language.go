package ui

import (
	"net/http"
	"time"

	"github.com/foyer-id/foyer/internal/i18n"
)

// Language is the cookie that keeps the language a journey asked for
// (ui_locales on any page, or an app's authorization request) across its
// pages; a year, so the next visit speaks it too.
func (c Cookies) Language() string { return c.name("foyer_lang") }

// languageFor a year.
const languageFor = 365 * 24 * time.Hour

// localizer is localizerFor a request that is for no app.
func (p *Pages) localizer(w http.ResponseWriter, r *http.Request, saved string) *i18n.Localizer {
	return p.localizerFor(w, r, saved, "")
}

// localizerFor chooses the language of the page for r (i18n.Catalog.Choose):
// the ui_locales query parameter, or else those of the app the journey
// is for (appLocales, its authorization request's), which the browser
// then keeps in the language cookie; that cookie; saved, the customer's
// saved preference ("" when not signed in or none); Accept-Language; the
// domain's default.
func (p *Pages) localizerFor(w http.ResponseWriter, r *http.Request, saved, appLocales string) *i18n.Localizer {
	asked := ""
	if ck, err := r.Cookie(p.Cookies.Language()); err == nil {
		asked = ck.Value
	}
	for _, want := range []string{r.URL.Query().Get("ui_locales"), appLocales} {
		if tag, ok := p.Catalog.Pick(want); ok {
			if tag.String() != asked {
				p.keepLanguage(w, tag.String())
			}
			asked = tag.String()
			break
		}
	}
	return p.Catalog.For(p.Catalog.Choose(asked, saved, r.Header.Get("Accept-Language"), p.DefaultLanguage))
}

// keepLanguage sets the language cookie to tag.
func (p *Pages) keepLanguage(w http.ResponseWriter, tag string) {
	p.Cookies.set(w, p.Cookies.Language(), tag, time.Now().Add(languageFor))
}
