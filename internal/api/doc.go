// Package api is the JSON face of Foyer's journeys, for native apps and
// single-page apps that bring their own UI: start a flow, submit it, get a
// session token, and ask who is signed in. It uses tokens, not cookies (a
// session token in "Authorization: Bearer"), so it needs no CSRF tokens.
// Errors are RFC 9457 problem details. Request bodies are limited in
// size, must be JSON objects, and may not carry unknown fields.
//
// The API is described in openapi.yaml (embedded and served at
// GET /api/openapi.yaml); a test keeps it in sync with the routes.
package api
