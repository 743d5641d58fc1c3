// Package ui serves Foyer's hosted pages: registration, verification,
// sign-in, sign-out and the account page. They are server-rendered,
// work without JavaScript, and carry the autocomplete attributes password
// managers rely on (email, new-password, current-password,
// one-time-code).
//
// Every form is protected against cross-site request forgery twice: a
// masked token tied to an HttpOnly cookie, and Go's cross-origin
// protection (Sec-Fetch-Site / Origin). Every POST answers 303 (the flow
// keeps the feedback); nothing changes on GET. Pages are sent with a
// strict Content-Security-Policy, frame-ancestors 'none' and no-store.
package ui
