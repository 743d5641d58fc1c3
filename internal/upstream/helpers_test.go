package upstream_test

import (
	"context"
	"crypto/rand"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/upstream"
)

const redirectURI = "https://foyer.test/self-service/providers/callback"

// request is one authorization request's secrets.
type request struct {
	state, nonce, verifier string
}

func newRequest() request {
	return request{state: rand.Text(), nonce: rand.Text(), verifier: rand.Text() + rand.Text()}
}

func newProvider(t *testing.T, cfg upstream.Config, client *http.Client) *upstream.Provider {
	t.Helper()
	p, err := upstream.New(cfg, client)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

// signIn walks a round trip: the authorization request, the test
// server's answer to it, and the exchange of its code.
func signIn(t *testing.T, p *upstream.Provider, authorize func(string) (url.Values, error)) (*upstream.Claims, error) {
	t.Helper()
	req := newRequest()
	to, err := p.AuthURL(t.Context(), redirectURI, req.state, req.nonce, req.verifier)
	if err != nil {
		t.Fatalf("AuthURL: %v", err)
	}
	cb, err := authorize(to)
	if err != nil {
		t.Fatalf("authorize: %v", err)
	}
	if cb.Get("state") != req.state || cb.Get("code") == "" {
		t.Fatalf("callback %v: want state %q and a code", cb, req.state)
	}
	claims, err := p.Exchange(t.Context(), redirectURI, cb.Get("code"), req.verifier, req.nonce, cb)
	if err == nil && claims == nil {
		t.Fatal("Exchange returned neither claims nor an error")
	}
	if err != nil && strings.Contains(err.Error(), cb.Get("code")) {
		t.Errorf("error %q holds the code", err)
	}
	return claims, err
}

// wantErr fails the test unless err is target.
func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("error %v, want %v", err, target)
	}
}

// ctxTimeout is a context that ends long before any delayed answer.
func ctxTimeout(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	t.Cleanup(cancel)
	return ctx
}
