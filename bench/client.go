package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// client calls Foyer's JSON API over a pool of kept-alive connections,
// one per concurrent worker.
type client struct {
	base string
	http *http.Client
}

func newClient(base string, concurrency int, timeout time.Duration) *client {
	tr := &http.Transport{
		Proxy:               nil, // a benchmark talks to the server directly
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        concurrency * 2,
		MaxIdleConnsPerHost: concurrency,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	return &client{base: base, http: &http.Client{Transport: tr, Timeout: timeout}}
}

// ping checks that a Foyer server answers at the base URL before the run,
// so that a missing server is one clear message, not thousands of errors.
func (c *client) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/api/openapi.yaml", nil)
	if err != nil {
		return err
	}
	res, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("no Foyer server at %s: %w", c.base, err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("%s/api/openapi.yaml answered %s: is this a Foyer server?", c.base, res.Status)
	}
	return nil
}

// failure is a failed operation, classified for the error breakdown.
type failure struct {
	step   string // start, submit, whoami
	status int    // HTTP status; 0 when no response came
	reason string // what was wrong: "transport", "timeout", "no session_token", …
	sample string // a short description for the report
}

func (f *failure) Error() string { return f.key() + ": " + f.sample }

// key groups failures in the report: "submit 429", "start timeout",
// "submit 200 state=verify".
func (f *failure) key() string {
	k := f.step
	if f.status > 0 {
		k += fmt.Sprintf(" %d", f.status)
	}
	if f.reason != "" {
		k += " " + f.reason
	}
	return k
}

// flowResponse is the part of a flow response the tool reads.
type flowResponse struct {
	Flow struct {
		ID    string `json:"id"`
		State string `json:"state"`
	} `json:"flow"`
	SessionToken string `json:"session_token"`
}

// problem is the part of an RFC 9457 problem the tool reports.
type problem struct {
	Title  string `json:"title"`
	Detail string `json:"detail"`
	Errors []struct {
		ID string `json:"id"`
	} `json:"errors"`
}

// call sends one request, records its latency under step in t, and decodes
// a 2xx answer into out. Any other answer is a *failure.
func (c *client) call(ctx context.Context, t *tally, step, method, path, token string, in, out any) error {
	return c.callFrom(ctx, t, step, method, path, token, "", in, out)
}

// callFrom is call from a device (X-Foyer-Device; "" for none).
func (c *client) callFrom(ctx context.Context, t *tally, step, method, path, token, device string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if device != "" {
		req.Header.Set("X-Foyer-Device", device)
	}
	start := time.Now()
	t.requests++
	res, err := c.http.Do(req)
	if err != nil {
		t.step(step, time.Since(start))
		return transportFailure(step, err)
	}
	raw, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	res.Body.Close()
	t.step(step, time.Since(start))
	if err != nil {
		return transportFailure(step, err)
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		return &failure{step: step, status: res.StatusCode, sample: describeProblem(raw)}
	}
	if out != nil {
		if err := json.Unmarshal(raw, out); err != nil {
			return &failure{step: step, status: res.StatusCode, reason: "bad-json", sample: err.Error()}
		}
	}
	return nil
}

func transportFailure(step string, err error) *failure {
	reason := "transport"
	var ne net.Error
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
		reason = "timeout"
	}
	if errors.Is(err, context.Canceled) {
		reason = "canceled"
	}
	return &failure{step: step, reason: reason, sample: err.Error()}
}

// describeProblem turns a problem body into one short line.
func describeProblem(raw []byte) string {
	var p problem
	if err := json.Unmarshal(raw, &p); err != nil || p.Title == "" {
		return truncate(strings.TrimSpace(string(raw)), 160)
	}
	s := p.Title
	if p.Detail != "" {
		s += ": " + p.Detail
	}
	for _, e := range p.Errors {
		s += " [" + e.ID + "]"
	}
	return truncate(s, 160)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// startFlow creates a flow of kind (registration, login) from a device
// and returns its id.
func (c *client) startFlow(ctx context.Context, t *tally, kind, device string) (string, error) {
	var fr flowResponse
	if err := c.callFrom(ctx, t, "start", http.MethodPost, "/api/"+kind, "", device, struct{}{}, &fr); err != nil {
		return "", err
	}
	if fr.Flow.ID == "" || fr.Flow.State != "form" {
		return "", &failure{step: "start", status: http.StatusCreated, reason: "bad-flow", sample: fmt.Sprintf("flow id %q state %q", fr.Flow.ID, fr.Flow.State)}
	}
	return fr.Flow.ID, nil
}

// registrationBody is the body of POST /api/registration/{id}.
type registrationBody struct {
	Traits   map[string]string `json:"traits"`
	Password string            `json:"password"`
}

// register signs up email with password from a device: it starts a
// registration flow and submits it. It returns the flow after the submit.
func (c *client) register(ctx context.Context, t *tally, email, password, device string) (*flowResponse, error) {
	id, err := c.startFlow(ctx, t, "registration", device)
	if err != nil {
		return nil, err
	}
	var fr flowResponse
	body := registrationBody{Traits: map[string]string{"email": email}, Password: password}
	if err := c.callFrom(ctx, t, "submit", http.MethodPost, "/api/registration/"+id, "", device, body, &fr); err != nil {
		return nil, err
	}
	return &fr, nil
}

// loginBody is the body of POST /api/login/{id}.
type loginBody struct {
	Identifier string `json:"identifier"`
	Password   string `json:"password"`
}

// login signs in from a device and returns the session token.
func (c *client) login(ctx context.Context, t *tally, email, password, device string) (string, error) {
	id, err := c.startFlow(ctx, t, "login", device)
	if err != nil {
		return "", err
	}
	var fr flowResponse
	if err := c.callFrom(ctx, t, "submit", http.MethodPost, "/api/login/"+id, "", device, loginBody{Identifier: email, Password: password}, &fr); err != nil {
		return "", err
	}
	if fr.SessionToken == "" {
		return "", noSession(fr.Flow.State)
	}
	return fr.SessionToken, nil
}

// noSession describes a submit that answered 200 without signing in.
func noSession(state string) *failure {
	f := &failure{step: "submit", status: http.StatusOK, reason: "state=" + state, sample: "no session_token in the answer"}
	if state == "verify" {
		f.sample = "the server asks to verify the email first: create the users on a server with domains.customers.registration.require_verification: false and run login against that server"
	}
	return f
}

// whoami asks who holds token.
func (c *client) whoami(ctx context.Context, t *tally, token string) error {
	return c.call(ctx, t, "whoami", http.MethodGet, "/sessions/whoami", token, nil, nil)
}
