package upstream

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
)

// githubAPIVersion is the version of GitHub's REST API Foyer reads.
const githubAPIVersion = "2022-11-28"

// exchangeGitHub redeems a GitHub authorization code and reads the account
// from GitHub's API: the user (its numeric id is the subject) and the
// addresses.
func (p *Provider) exchangeGitHub(ctx context.Context, redirectURI, code, verifier string) (*Claims, error) {
	tok, err := p.redeem(ctx, p.cfg.TokenURL, redirectURI, code, verifier)
	if err != nil {
		return nil, err
	}
	header := http.Header{}
	header.Set("Authorization", "Bearer "+tok.AccessToken)
	header.Set("Accept", "application/vnd.github+json")
	header.Set("X-GitHub-Api-Version", githubAPIVersion)

	body, err := p.fetch(ctx, p.cfg.APIURL+"/user", header)
	if err != nil {
		return nil, p.githubError("/user", err)
	}
	var user struct {
		ID   json.Number `json:"id"`
		Name string      `json:"name"`
	}
	var all map[string]any
	if json.Unmarshal(body, &user) != nil || json.Unmarshal(body, &all) != nil {
		return nil, p.refused("github /user: malformed answer")
	}
	id, err := strconv.ParseInt(user.ID.String(), 10, 64)
	if err != nil || id <= 0 {
		return nil, p.refused("github /user: no valid id")
	}
	email, verified, err := p.githubEmail(ctx, header)
	if err != nil {
		return nil, err
	}
	cl := &Claims{
		Subject:       strconv.FormatInt(id, 10),
		Name:          user.Name,
		Email:         email,
		EmailVerified: verified,
		Issuer:        origin(p.cfg.AuthURL),
	}
	p.finish(cl, all)
	return cl, nil
}

// githubEmail picks the account's address from /user/emails: the primary
// one if it is verified, else the first verified one; never an unverified
// one. A token that may not read the addresses (403 or 404, as for a
// GitHub App without the permission) gives none.
func (p *Provider) githubEmail(ctx context.Context, header http.Header) (email string, verified bool, err error) {
	body, err := p.fetch(ctx, p.cfg.APIURL+"/user/emails", header)
	if se, ok := errors.AsType[*statusError](err); ok && !se.transient && (se.code == http.StatusForbidden || se.code == http.StatusNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, p.githubError("/user/emails", err)
	}
	var emails []struct {
		Email    string `json:"email"`
		Primary  bool   `json:"primary"`
		Verified bool   `json:"verified"`
	}
	if json.Unmarshal(body, &emails) != nil {
		return "", false, p.refused("github /user/emails: malformed answer")
	}
	first := ""
	for _, e := range emails {
		if !e.Verified || e.Email == "" {
			continue
		}
		if e.Primary {
			return normalizeEmail(e.Email), true, nil
		}
		if first == "" {
			first = e.Email
		}
	}
	if first == "" {
		return "", false, nil
	}
	return normalizeEmail(first), true, nil
}

// githubError classifies a failed call to GitHub's API: an answer that
// refuses the token is ErrRefused, the rest ErrUnavailable.
func (p *Provider) githubError(path string, err error) error {
	if se, ok := errors.AsType[*statusError](err); ok && !se.transient {
		return p.refused("github %s: %w", path, err)
	}
	return p.unavailable("github %s: %w", path, err)
}

// origin is the scheme and host of a URL.
func origin(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return u.Scheme + "://" + u.Host
}
