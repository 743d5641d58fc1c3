// Package upstreamtest runs fake upstream providers for tests: an OpenID
// provider (NewOIDC) that can act like a plain one, Google, Apple or
// Microsoft, and a GitHub (NewGitHub). Both are httptest servers that
// really check what a client sends them (client authentication, the code,
// the redirect URI, the PKCE verifier) and sign real tokens, with knobs a
// test turns to make them misbehave: wrong nonce, unknown signing key,
// expired tokens, 500s, invalid_grant, delays.
//
// A test starts one, points a provider at it and walks the round trip:
//
//	srv := upstreamtest.NewOIDC(t, upstreamtest.Options{})
//	p, _ := upstream.New(srv.Config("acme"), srv.Client())
//	to, _ := p.AuthURL(ctx, redirectURI, state, nonce, verifier)
//	cb, _ := srv.Authorize(to) // the callback's parameters: code, state
//	claims, err := p.Exchange(ctx, redirectURI, cb.Get("code"), verifier, nonce, cb)
//
// Servers are closed when the test ends. Keys are made once per test
// binary, so starting many servers is cheap.
package upstreamtest
