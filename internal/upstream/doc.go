// Package upstream talks to upstream identity providers — "Continue with
// Google, Apple, Microsoft or GitHub", or any OpenID provider — and returns
// what they vouch for about the customer. It decides nothing: the journey
// (package flow) decides what a provider's account may do in Foyer.
//
// A Provider is made from a Config (one `providers:` entry) without
// touching the network. Its round trip is:
//
//  1. AuthURL: where to send the browser, an authorization code request
//     with the caller's state, nonce and PKCE (S256) verifier;
//  2. Exchange: on the callback, redeem the code at the token endpoint
//     (authenticating Foyer with client_secret_basic, client_secret_post
//     or a private_key_jwt assertion) and return verified Claims;
//  3. VerifyIDToken: for native apps that signed in with the provider's
//     own SDK, verify the ID token they hand over.
//
// # What it trusts
//
// For OpenID kinds, only an ID token it verified: signed (RS, PS, ES or
// EdDSA; never "none" nor a shared secret) by a key of the provider's key
// set, from the issuer of the configuration (of its discovery document,
// which must name that issuer), for Foyer's client (or, for native apps,
// one of AppClientIDs; azp too when present), current (a minute of clock
// skew allowed), with a subject, and with the nonce of the request. The
// discovery document and the keys are fetched on first use and kept; keys
// are fetched again after an hour, or when a token names a key the set
// lacks (at most once a minute, so that forged tokens cannot make Foyer
// hammer the provider). An address counts as verified only when the
// provider says so (Claims.EmailVerified). Nothing is read from the
// userinfo endpoint.
//
// For GitHub, which is OAuth 2 without ID tokens, the account is what
// GitHub's API answers to the access token the code was redeemed for: the
// numeric user id is the subject (the login can change) and the address
// is a verified one of /user/emails — the primary one if verified, else
// the first verified one — never the profile's public address.
//
// Every request is bounded by the caller's context and, when the caller's
// client has no time-out, by 10 seconds; answers are read up to 1 MiB.
// Failures wrap ErrUnavailable (the provider could not be used: network,
// time-out, 5xx, discovery or keys) or ErrRefused (its answer is not
// accepted); their text never holds a code, a token or a secret.
//
// # The presets' quirks
//
//   - google: issuer https://accounts.google.com; its tokens may also name
//     the issuer "accounts.google.com", which Google documents.
//   - apple: issuer https://appleid.apple.com. Its client secret is an
//     ES256 JWT (issuer the team, subject the client, audience Apple),
//     signed with the .p8 key and made for each token request. Asking for
//     the name or the address makes Apple answer with
//     response_mode=form_post (Provider.FormPost): the callback is a POST.
//     The name comes only in the callback's "user" parameter, on the first
//     sign-in, through the browser, unsigned: only the name is taken from
//     it, never the address. email_verified and is_private_email may be
//     strings.
//   - microsoft: issuer https://login.microsoftonline.com/{tenant}/v2.0.
//     For the tenants common, organizations and consumers, discovery
//     names a template issuer ("{tenantid}"), and each token is checked
//     against the issuer of its own tid claim, which must be a tenant id
//     (consumers: the personal accounts' tenant; organizations: any
//     other). Its email claim is not verified unless email_verified or
//     xms_edov says so.
//   - github: OAuth 2 at github.com (or GitHub Enterprise), PKCE, the
//     client secret in the form; its token endpoint reports errors with
//     status 200.
package upstream
