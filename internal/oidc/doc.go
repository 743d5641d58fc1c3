// Package oidc makes Foyer an OpenID Connect provider. The protocol
// machinery (request parsing, validation, token responses, discovery) is
// github.com/zitadel/oidc's op package; Foyer's code here owns everything
// the library leaves to its storage: clients (from package client), signing
// keys (package keys), authorization requests bound to the browser that
// started them, single-use authorization codes, access tokens, rotating
// refresh tokens with reuse detection, consent, and the hand-off to the
// hosted sign-in pages and their sessions.
//
// It closes the gaps the library leaves open (docs/oidc.md, "Built on
// zitadel/oidc"): PKCE "plain" and downgrades are refused, the jwt-bearer
// grant is refused, CORS is off, token responses carry Cache-Control:
// no-store, endpoints answer only their methods, failures of Foyer's own
// never reach a client as text, and the library's callback that trusts a
// request id alone is not mounted — the authorization response is
// produced only by Foyer's own hand-off (Provider.Continue), after
// checking the browser binding, the session and everything the request
// and the client ask of it.
package oidc
