// Package admin is Foyer's admin HTTP API, for operators and their
// automation: today it registers OAuth / OpenID Connect clients
// (/admin/clients). Every route but the OpenAPI document needs
// "Authorization: Bearer <admin token>", the token from the configuration;
// with no token configured the API is off and every route answers 404.
//
// Bodies are strict JSON objects (size-limited, no unknown fields), errors
// are RFC 9457 problem details, and no response may be cached. A client
// secret appears in exactly two responses: the one creating the client and
// the one rotating its secret.
//
// The API is described in openapi.yaml (embedded and served at
// GET /admin/openapi.yaml); a test keeps it in sync with the routes.
package admin
