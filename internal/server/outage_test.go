package server_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/api"
	"github.com/foyer-id/foyer/internal/client"
	"github.com/foyer-id/foyer/internal/config"
	"github.com/foyer-id/foyer/internal/problem"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/session"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// requestTimeout shortens the requests' deadline so that outage tests
// are quick; what they check is the answer, not the time it took.
func requestTimeout(d time.Duration) servertest.Option {
	return func(c *config.Config) { c.RequestTimeout = config.Duration(d) }
}

// patient is an HTTP client for requests to a server whose database is
// out: its timeout turns a request that hangs (the bug) into a failure;
// it is a safety net, far beyond the server's own deadline.
var patient = &http.Client{Timeout: time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

type answer struct {
	status     int
	retryAfter string
	ctype      string
	body       string
}

func send(t *testing.T, method, url, contentType, body, token string) answer {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := patient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header.Get("Retry-After"), resp.Header.Get("Content-Type"), string(raw)}
}

func answerOf(r *servertest.Response) answer {
	return answer{r.StatusCode, r.Header.Get("Retry-After"), r.Header.Get("Content-Type"), r.Body}
}

// expectUnavailable checks an outage's answer: 503 with Retry-After, as
// a problem of type unavailable for the JSON APIs.
func expectUnavailable(t *testing.T, what string, a answer, wantType string) {
	t.Helper()
	if a.status != http.StatusServiceUnavailable || a.retryAfter == "" || !strings.HasPrefix(a.ctype, wantType) {
		t.Errorf("%s: %d, Retry-After %q, %s; want 503 with Retry-After, %s\n%s", what, a.status, a.retryAfter, a.ctype, wantType, a.body)
		return
	}
	if wantType == "application/problem+json" {
		var p problem.Details
		if err := json.Unmarshal([]byte(a.body), &p); err != nil || p.Type != problem.TypeBase+"unavailable" {
			t.Errorf("%s: problem %+v, %v; want type unavailable", what, p, err)
		}
	}
}

// A database that stops answering costs each request its deadline, not
// the stall: the API, the hosted pages, the OAuth endpoints and
// readiness answer 503 with Retry-After in their own words, and a session
// that cannot be checked is not called invalid. Once the database answers
// again, so does Foyer.
func TestStalledPostgresAnswers503(t *testing.T) {
	db, proxy := storetest.NewPostgresBehindProxy(t, nil)
	env := servertest.Start(t, db, requestTimeout(2*time.Second))
	id, code := startAPIRegistration(t, env, "stall@example.com")
	var done api.FlowResponse
	expectStatus(t, env.JSON(t, "POST", "/api/flows/"+id+"/code", "", map[string]any{"code": code}, &done), 200)
	tok := done.SessionToken
	job, secret, err := env.Server.Clients.Create(t.Context(), "customers", client.Spec{Name: ptrTo("job"),
		GrantTypes: &[]string{client.GrantClientCredentials}})
	if err != nil {
		t.Fatal(err)
	}
	var issued struct {
		AccessToken string `json:"access_token"`
	}
	tr := send(t, "POST", env.URL+"/oauth/token", "application/x-www-form-urlencoded",
		url.Values{"grant_type": {"client_credentials"}, "client_id": {job.ID}, "client_secret": {secret}}.Encode(), "")
	if err := json.Unmarshal([]byte(tr.body), &issued); err != nil || issued.AccessToken == "" {
		t.Fatalf("client_credentials token: %d %s", tr.status, tr.body)
	}
	b := env.NewBrowser(t)
	b.HTTP.Timeout = patient.Timeout
	flowPage := location(t, b.Submit("/registration", url.Values{"email": {"page@example.com"}, "password": {goodPassword}}))
	signedIn := signUp(t, env, "acct@example.com", goodPassword)
	signedIn.HTTP.Timeout = patient.Timeout
	env.Clock.Advance(10 * time.Second) // past readiness's last check

	proxy.Stall()
	expectUnavailable(t, "API sign-up", send(t, "POST", env.URL+"/api/registration", "application/json", "{}", ""), "application/problem+json")
	expectUnavailable(t, "whoami", send(t, "GET", env.URL+"/sessions/whoami", "", "", tok), "application/problem+json")
	page := answerOf(b.Get(flowPage))
	expectUnavailable(t, "sign-up page", page, "text/html")
	// A signed-in customer is not told they are signed out.
	expectUnavailable(t, "account page", answerOf(signedIn.Get("/account")), "text/html")
	expectUnavailable(t, "sign-out page", answerOf(signedIn.Get("/logout")), "text/html")
	if !strings.Contains(page.body, "try again shortly") {
		t.Errorf("the page does not ask to try again shortly:\n%s", page.body)
	}
	// The token endpoint cannot check the client: today the OpenID
	// library calls that invalid_client (401); an answer of server_error
	// becomes 503 temporarily_unavailable (TestOutagesNet).
	token := send(t, "POST", env.URL+"/oauth/token", "application/x-www-form-urlencoded",
		url.Values{"grant_type": {"client_credentials"}, "client_id": {"nobody"}, "client_secret": {"x"}}.Encode(), "")
	if token.status == http.StatusServiceUnavailable {
		expectUnavailable(t, "token endpoint", token, "application/json")
		if !strings.Contains(token.body, `"temporarily_unavailable"`) {
			t.Errorf("token endpoint: %s; want temporarily_unavailable", token.body)
		}
	} else if token.status >= 500 {
		t.Errorf("token endpoint: %d %s; want 503 or a client error", token.status, token.body)
	}
	// A live token is not called dead because the store cannot read it.
	expectUnavailable(t, "userinfo", send(t, "GET", env.URL+"/userinfo", "", "", issued.AccessToken), "application/json")
	expectUnavailable(t, "readiness", send(t, "GET", env.URL+"/health/ready", "", "", ""), "application/json")

	proxy.Resume()
	env.Clock.Advance(10 * time.Second)
	if a := send(t, "GET", env.URL+"/sessions/whoami", "", "", tok); a.status != http.StatusOK {
		t.Fatalf("whoami after the stall: %d %s", a.status, a.body)
	}
	if a := send(t, "GET", env.URL+"/health/ready", "", "", ""); a.status != http.StatusOK {
		t.Fatalf("readiness after the stall: %d %s", a.status, a.body)
	}
}

// SQLite has one writer: a write that does not finish holds up every
// other, but only until their deadline, and readiness says the store
// cannot write.
func TestStuckSQLiteWriterAnswers503(t *testing.T) {
	db := storetest.NewSQLite(t)
	env := servertest.Start(t, db, requestTimeout(time.Second))
	b := env.NewBrowser(t)
	b.HTTP.Timeout = patient.Timeout
	flowPage := location(t, b.Submit("/registration", url.Values{"email": {"page@example.com"}, "password": {goodPassword}}))
	form := url.Values{"csrf_token": {servertest.CSRF(t, b.Get(flowPage).Body)}, "code": {"000000"}}
	holding, release := make(chan struct{}), make(chan struct{})
	held := make(chan error, 1)
	go func() {
		held <- db.InTx(context.Background(), func(tx *store.Tx) error {
			close(holding)
			<-release
			return nil
		})
	}()
	<-holding
	expectUnavailable(t, "API sign-up", send(t, "POST", env.URL+"/api/registration", "application/json", "{}", ""), "application/problem+json")
	expectUnavailable(t, "code entry", answerOf(b.Post(flowPage, form)), "text/html")
	a := send(t, "GET", env.URL+"/health/ready", "", "", "")
	expectUnavailable(t, "readiness", a, "application/json")
	if !strings.Contains(a.body, "cannot write") {
		t.Errorf("readiness: %s; want it to say the database cannot write", a.body)
	}
	close(release)
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	expectStatus(t, env.JSON(t, "POST", "/api/registration", "", nil, nil), http.StatusCreated)
}

// With a full disk, readiness says so (it stayed 200 while every write
// failed): its check commits a write that needs new space. It checks at
// most every few seconds.
func TestFullSQLiteIsNotReady(t *testing.T) {
	db := storetest.NewSQLite(t)
	env := servertest.Start(t, db)
	if a := send(t, "GET", env.URL+"/health/ready", "", "", ""); a.status != http.StatusOK {
		t.Fatalf("readiness: %d %s", a.status, a.body)
	}
	storetest.FillSQLite(t, db)
	if a := send(t, "GET", env.URL+"/health/ready", "", "", ""); a.status != http.StatusOK {
		t.Fatalf("readiness within the check interval: %d %s; want the last result", a.status, a.body)
	}
	env.Clock.Advance(10 * time.Second)
	a := send(t, "GET", env.URL+"/health/ready", "", "", "")
	expectUnavailable(t, "readiness on a full disk", a, "application/json")
	if !strings.Contains(a.body, "cannot write") {
		t.Errorf("readiness: %s; want it to say the database cannot write", a.body)
	}
	if !strings.Contains(env.Logs.String(), "not ready") {
		t.Errorf("no log line says why the node is not ready:\n%s", env.Logs.String())
	}
}

// A client that goes away while its request waits for the database is no
// error and no outage: nothing is logged at ERROR (whoami did, on
// PostgreSQL, where the cancelled query fails), nor as the database being
// unavailable.
func TestClientGoneIsNoError(t *testing.T) {
	db, proxy := storetest.NewPostgresBehindProxy(t, nil)
	env := servertest.Start(t, db)
	b := env.NewBrowser(t)
	flowPage := location(t, b.Submit("/registration", url.Values{"email": {"gone@example.com"}, "password": {goodPassword}}))
	for _, path := range []string{"/api/registration", "/sessions/whoami", flowPage} {
		proxy.Stall()
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, "POST", env.URL+path, strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json")
		switch path {
		case "/sessions/whoami":
			req, _ = http.NewRequestWithContext(ctx, "GET", env.URL+path, nil)
			req.Header.Set("Authorization", "Bearer "+session.TokenPrefix+strings.Repeat("a", 43))
		case flowPage:
			req, _ = http.NewRequestWithContext(ctx, "GET", env.URL+path, nil)
			for _, c := range b.HTTP.Jar.Cookies(req.URL) {
				req.AddCookie(c)
			}
		}
		// The client goes once the whole request is on its way: the
		// server reads it and works on it while, or before, it sees the
		// connection close.
		wrote := make(chan struct{})
		req = req.WithContext(httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
			WroteRequest: func(httptrace.WroteRequestInfo) { close(wrote) }}))
		done := make(chan struct{})
		gone := strings.Count(env.Logs.String(), "client gone")
		go func() {
			defer close(done)
			if resp, err := patient.Do(req); err == nil {
				resp.Body.Close()
			}
		}()
		<-wrote
		cancel()
		<-done
		// The handler ends once its statement gives up; the log says so.
		deadline := time.Now().Add(time.Minute)
		for strings.Count(env.Logs.String(), "client gone") == gone {
			if time.Now().After(deadline) {
				t.Fatalf("%s: no sign the server saw the client go:\n%s", path, env.Logs.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
		proxy.Resume()
		logs := env.Logs.String()
		for _, line := range strings.Split(logs, "\n") {
			// The courier polls through the same stalled database and
			// reports that itself.
			if strings.Contains(line, `msg="courier:`) {
				continue
			}
			if strings.Contains(line, "level=ERROR") || strings.Contains(line, "unavailable") {
				t.Errorf("%s: logged %q for a client that went away", path, line)
			}
		}
	}
}
