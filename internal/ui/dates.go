package ui

import (
	"net/http"
	"time"

	// Time zones by name on machines without a zoneinfo database.
	_ "time/tzdata"
)

// The customer's time zone comes from their browser: assets/tz.js keeps
// the zone it runs in (an IANA name, Europe/Paris) in the cookie
// foyer_tz, which the pages read to show dates and times; a browser that
// has not said (the first page, or no JavaScript) sees UTC.
const tzCookie = "foyer_tz"

// timeZone returns the browser's time zone, UTC when it did not say or
// named none Go knows.
func timeZone(r *http.Request) *time.Location {
	ck, err := r.Cookie(tzCookie)
	if err != nil || ck.Value == "" || len(ck.Value) > 64 || ck.Value == "Local" {
		return time.UTC
	}
	loc, err := time.LoadLocation(ck.Value)
	if err != nil {
		return time.UTC
	}
	return loc
}

// Date returns t's day in the page's language and the customer's time
// zone: {{$.Date .CreatedAt}}.
func (v view) Date(t time.Time) string { return v.loc.Date(t.In(v.tz)) }

// DateTime returns t's day and time, with the zone's abbreviation.
func (v view) DateTime(t time.Time) string { return v.loc.DateTime(t.In(v.tz)) }
