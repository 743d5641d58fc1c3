package server

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/otel/trace"
	"golang.org/x/text/language"

	"github.com/foyer-id/foyer/internal/admin"
	"github.com/foyer-id/foyer/internal/api"
	"github.com/foyer-id/foyer/internal/challenge"
	"github.com/foyer-id/foyer/internal/client"
	"github.com/foyer-id/foyer/internal/config"
	"github.com/foyer-id/foyer/internal/courier"
	"github.com/foyer-id/foyer/internal/credential/passkey"
	"github.com/foyer-id/foyer/internal/credential/password"
	"github.com/foyer-id/foyer/internal/credential/recovery"
	"github.com/foyer-id/foyer/internal/credential/totp"
	"github.com/foyer-id/foyer/internal/decision"
	"github.com/foyer-id/foyer/internal/event"
	"github.com/foyer-id/foyer/internal/flow"
	"github.com/foyer-id/foyer/internal/i18n"
	"github.com/foyer-id/foyer/internal/identity"
	"github.com/foyer-id/foyer/internal/keys"
	"github.com/foyer-id/foyer/internal/oidc"
	"github.com/foyer-id/foyer/internal/policy"
	"github.com/foyer-id/foyer/internal/policy/rules"
	"github.com/foyer-id/foyer/internal/problem"
	"github.com/foyer-id/foyer/internal/risk"
	"github.com/foyer-id/foyer/internal/secretbox"
	"github.com/foyer-id/foyer/internal/session"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/throttle"
	"github.com/foyer-id/foyer/internal/ui"
)

// Server is a configured Foyer node.
type Server struct {
	Config *config.Config
	DB     *store.DB
	Logger *slog.Logger
	Flows  *flow.Service
	Outbox *courier.Outbox
	Events *event.Log
	// Decisions holds the record of every policy decision.
	Decisions *decision.Log
	Clients   *client.Registry
	Keys      *keys.Manager
	OIDC      *oidc.Provider
	// Policy is the policy in force, ShadowPolicy the candidate run
	// beside it (nil for none).
	Policy       *rules.Live
	ShadowPolicy *rules.Live
	handler      http.Handler
	worker       *courier.Worker
	health       *health
	watch        *watch
	now          func() time.Time
	// hsts is the Strict-Transport-Security value; "" sends none.
	hsts string
}

// policyWatch is how often a policy file is checked for changes.
const policyWatch = 2 * time.Second

// Options are the injectable parts of a Server (tests set them).
type Options struct {
	Logger *slog.Logger
	Now    func() time.Time
	// DB, when set, is used instead of opening Config.DSN.
	DB *store.DB
	// TracerProvider, when set, traces requests and database calls
	// whatever tracing.enabled says (tests give an in-memory one).
	TracerProvider trace.TracerProvider
}

// New builds a Server from a finished, validated configuration.
func New(ctx context.Context, cfg *config.Config, opt Options) (*Server, error) {
	logger := opt.Logger
	if logger == nil {
		logger = slog.Default()
	}
	now := opt.Now
	if now == nil {
		now = time.Now
	}
	db := opt.DB
	if db == nil {
		var err error
		if db, err = store.Open(ctx, cfg.DSN); err != nil {
			return nil, err
		}
	}
	if err := prepareSchema(ctx, db, cfg.Dev, logger); err != nil {
		db.Close()
		return nil, err
	}
	secret, err := cfg.LoadSecret()
	if err != nil {
		db.Close()
		return nil, err
	}
	dom := cfg.Domains[config.DefaultDomain]
	schema, err := identity.LoadSchema(dom.IdentitySchema)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("domains.%s.identity_schema: %w", config.DefaultDomain, err)
	}

	// The message catalogues, built-in and the operator's: they word the
	// mail and the pages.
	catalog, err := i18n.Load(cfg.Languages.Dir)
	if err != nil {
		db.Close()
		return nil, err
	}
	// The domain's look, on its pages and in its mail.
	brand, err := ui.NewBrand(dom.Branding)
	if err != nil {
		db.Close()
		return nil, err
	}
	outbox := courier.NewOutbox(db, now)
	outbox.Catalog = catalog
	outbox.Brand, outbox.AppBrands = brand.Mail(cfg.PublicURL), brand.AppMail(cfg.PublicURL)
	node, err := cfg.LoadNodeID()
	if err != nil {
		db.Close()
		return nil, err
	}
	if node != "" {
		outbox.Node = node
	} else {
		logger.Info("courier: this node has no name of its own (node_id, or a data folder): mail it holds when it stops waits for its lease (5 minutes)")
	}
	var sender courier.Sender
	if cfg.SMTP.URL != "" {
		smtp, err := courier.NewSMTPSender(cfg.SMTP.URL, cfg.SMTP.From)
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("smtp.url: %w", err)
		}
		smtp.HELO = cfg.PublicHost() // "": the machine's host name
		sender = smtp
	} else {
		// Dev mode without SMTP: mail stays in the built-in mailbox.
		outbox.KeepBodies = true
		sender = courier.DevMailboxSender{Logger: logger}
	}
	if cfg.Dev {
		outbox.KeepBodies = true
	}
	// Text messages leave through the operator's webhook; in dev mode
	// without one they stay in the dev mailbox.
	switch {
	case cfg.SMS.WebhookURL != "":
		sender = courier.Router{Mail: sender, SMS: &courier.WebhookSMS{URL: cfg.SMS.WebhookURL, Secret: []byte(cfg.SMS.WebhookSecret)}}
	case cfg.Dev:
		sender = courier.Router{Mail: sender, SMS: courier.DevSMS{Logger: logger}}
	}
	worker := courier.NewWorker(outbox, sender, logger)

	events := event.NewLog(db, logger, now)
	sessions := session.NewManager(db, session.Lifetimes{Absolute: dom.Session.Lifetime.D(), Idle: dom.Session.IdleTimeout.D()}, now, nil)
	identities := identity.NewStore(db)
	hasher := password.NewHasher(password.Params{
		Memory: cfg.Password.MemoryKiB, Iterations: cfg.Password.Iterations, Parallelism: cfg.Password.Parallelism,
		SaltLength: 16, KeyLength: 32,
	}, cfg.Password.MaxConcurrent)
	totps, err := totp.NewStore(db, secret, now)
	if err != nil {
		db.Close()
		return nil, err
	}
	recoveryCodes, err := recovery.NewStore(db, secret, now)
	if err != nil {
		db.Close()
		return nil, err
	}
	public, _ := url.Parse(cfg.PublicURL)
	var passkeys *passkey.Service
	if *dom.Login.Passkeys {
		passkeys, err = passkey.New(db, passkey.Config{RPID: public.Hostname(), RPName: dom.ProductName, Origins: []string{public.Scheme + "://" + public.Host}}, now)
		if err != nil {
			// WebAuthn needs a domain name (not an IP address) in the
			// public URL; everything else works without passkeys.
			logger.Warn("passkeys are off: the public URL's host must be a domain name such as localhost", "public_url", cfg.PublicURL, "error", err)
			passkeys = nil
		}
	}
	factors := flow.Factors{TOTP: totps, Recovery: recoveryCodes, Passkeys: passkeys}
	// One decision point for the journeys and the OpenID provider.
	builtin := PolicySettings(cfg)
	// The policy in force: a file of rules, reloaded as it changes, or
	// the built-in one; and a candidate beside it, recorded only.
	live, err := rules.Load(cfg.Policy.File, rules.Options{Settings: builtin}, logger)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("policy.file: %w", err)
	}
	if err := flow.CheckSteps(live); err != nil {
		db.Close()
		return nil, err
	}
	point := &decision.Point{Domain: config.DefaultDomain, Now: now, Policy: live, Version: decision.Version(builtin)}
	var shadow *rules.Live
	if cfg.Policy.Shadow != "" {
		if shadow, err = rules.Load(cfg.Policy.Shadow, rules.Options{Settings: builtin}, logger); err != nil {
			db.Close()
			return nil, fmt.Errorf("policy.shadow: %w", err)
		}
		point.Shadow = shadow
	}
	decisions := decision.NewLog(db)
	geoip, err := risk.OpenGeoIP(cfg.GeoIP.Databases()...)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("geoip.database: %w", err)
	}
	providers, err := upstreams(dom)
	if err != nil {
		db.Close()
		return nil, err
	}
	flows := &flow.Service{
		Config: flow.Config{
			Domain:               config.DefaultDomain,
			ProductName:          dom.ProductName,
			PublicURL:            cfg.PublicURL,
			FlowLifetime:         dom.FlowLifetime.D(),
			CodeLifetime:         dom.Verification.CodeLifetime.D(),
			RequireVerifiedEmail: *dom.Registration.RequireVerification,
			EmailCodeLogin:       *dom.Login.EmailCode,
			TOTPSetup:            *dom.Login.TOTP,
			Recovery:             *dom.Recovery.Enabled,
			SMS:                  cfg.SMSOn(),
			RecoveryCoolOff:      dom.Recovery.CoolOff.D(),
		},
		Flows:          flow.NewStore(db),
		Devices:        risk.NewDevices(db),
		Velocity:       risk.NewVelocity(db, node, config.DefaultDomain, events, logger, now),
		GeoIP:          geoip,
		Identities:     identities,
		Schema:         schema,
		Sessions:       sessions,
		Hasher:         hasher,
		PasswordPolicy: password.Policy{MinLength: dom.PasswordMinLength, MaxLength: dom.PasswordMaxLength},
		Point:          point,
		Decisions:      decisions,
		Events:         events,
		Throttle:       throttle.NewLimiter(db, now),
		Mailer:         outbox,
		Factors:        &factors,
		Passkeys:       passkeys,
		Upstreams:      providers,
		Links:          identity.NewLinks(db),
		Challenges:     challenge.NewIssuer(secret, now),
		Secret:         secret,
		Logger:         logger,
		Now:            now,
	}

	cookies := ui.Cookies{Secure: !cfg.Dev, DeviceKey: deviceKey(secret)}
	sealer, err := secretbox.New(secret, "foyer page cookies v1")
	if err != nil {
		db.Close()
		return nil, err
	}
	pages := &ui.Pages{Flows: flows, Sessions: sessions, Identities: identities, Cookies: cookies, Passkeys: passkeys, Sealer: sealer,
		ProductName: dom.ProductName, Domain: config.DefaultDomain, Logger: logger,
		Catalog: catalog, DefaultLanguage: language.Make(dom.DefaultLanguage), Brand: brand}
	if err := pages.Init(); err != nil {
		db.Close()
		return nil, err
	}

	// The OpenID Connect provider: clients, signing keys, tokens.
	clients := client.NewRegistry(db, secret, now)
	signing, err := keys.NewManager(db, secret, now, keys.Rotation{})
	if err != nil {
		db.Close()
		return nil, err
	}
	if err := signing.Ensure(ctx, keys.Algorithms()...); err != nil {
		db.Close()
		return nil, err
	}
	provider, err := oidc.NewProvider(oidc.Config{
		Issuer:   cfg.PublicURL,
		Insecure: strings.HasPrefix(cfg.PublicURL, "http://"),
		Secret:   secret,
		Binding:  pages.BrowserBinding,
		ClientIP: ui.ClientIP,
		Traits:   schema.Properties(),
	}, &oidc.Storage{DB: db, Domain: config.DefaultDomain, Clients: clients, Keys: signing, Identities: identities,
		Events: events, Point: point, Decisions: decisions, Factors: factors, Logger: logger, Now: now, LogoutURL: "/logout",
		Throttle: flows.Throttle, AuthorizeRule: builtin.Limits.FlowStart,
		EndOfflineGrants: dom.Session.KeepOfflineGrants != nil && !*dom.Session.KeepOfflineGrants})
	if err != nil {
		db.Close()
		return nil, err
	}
	pages.OAuth = provider
	flows.Grants = provider.Storage                    // a recovery ends the apps' tokens too
	sessions.Replaced = provider.Storage.FollowSession // apps' tokens follow a session through step-up and sign-in again
	apiHandler := &api.Handler{Flows: flows, Sessions: sessions, Identities: identities, Domain: config.DefaultDomain,
		Proofs: &risk.DeviceProofs{Throttle: flows.Throttle, Now: now}, PublicURL: cfg.PublicURL,
		CookieName: cookies.Session(), Logger: logger, Passkeys: passkeys,
		Catalog: catalog, DefaultLanguage: language.Make(dom.DefaultLanguage)}

	mux := http.NewServeMux()
	pages.Mount(mux)
	apiHandler.Mount(mux)
	provider.Mount(mux, &oidc.Registration{Mode: cfg.OIDC.Registration, PerNetwork: cfg.OIDC.RegistrationsPerNetwork})
	probes := &health{db: db, now: now, logger: logger}
	probes.Mount(mux)
	(&admin.Handler{Clients: clients, Decisions: decisions, Identities: identities, Events: events, Domain: config.DefaultDomain,
		Policy: live, Shadow: shadow, Token: cfg.Admin.Token, Logger: logger}).Mount(mux)
	if cfg.Dev && cfg.SMTP.URL == "" {
		(&courier.DevMailbox{Outbox: outbox}).Mount(mux)
	}

	s := &Server{Config: cfg, DB: db, Logger: logger, Flows: flows, Outbox: outbox, Events: events, Clients: clients, Keys: signing,
		OIDC: provider, Decisions: decisions, Policy: live, ShadowPolicy: shadow, worker: worker, health: probes, now: now}
	if cfg.SendHSTS() {
		s.hsts = cfg.HSTS.Header()
	}
	proxies, err := cfg.Proxies()
	if err != nil {
		db.Close()
		return nil, err
	}
	// Metrics and traces (docs/operations.md).
	if s.watch, err = newWatch(ctx, cfg, opt, logger, db, outbox, now); err != nil {
		db.Close()
		return nil, err
	}
	s.watch.hook(events, point, worker)
	s.watch.mount(mux)
	s.handler = s.watch.wrap(clientAddr(proxies, s.middleware(s.outages(misses(s.watch.routes(mux), pages.ErrorPage), pages.Unavailable), pages.CrossOriginRefused)))
	return s, nil
}

// prepareSchema migrates in dev mode and otherwise insists that
// `foyer migrate` has run.
func prepareSchema(ctx context.Context, db *store.DB, dev bool, logger *slog.Logger) error {
	if dev {
		applied, err := db.Migrate(ctx)
		if err != nil {
			return err
		}
		for _, m := range applied {
			logger.Info("applied migration", "migration", m)
		}
		return nil
	}
	all, err := store.Migrations(db.Dialect)
	if err != nil {
		return err
	}
	v, err := db.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if v < len(all) {
		return fmt.Errorf("database schema is at version %d, this Foyer needs %d: run `foyer migrate` first", v, len(all))
	}
	return nil
}

// Handler returns the HTTP handler (for tests and embedding).
func (s *Server) Handler() http.Handler { return s.handler }

// middleware adds what every request and response needs: a deadline
// (request_timeout), after which a request still waiting for the database
// gets 503; Strict-Transport-Security outside dev mode over https; panic
// recovery with a safe page; and protection of state-changing browser
// requests against cross-origin forgery (Sec-Fetch-Site / Origin).
func (s *Server) middleware(next http.Handler, refused http.HandlerFunc) http.Handler {
	cop := http.NewCrossOriginProtection()
	// Protocol and JSON endpoints are meant to be called across origins
	// and authenticate with tokens or client credentials, never with
	// Foyer's cookies; the hosted pages' forms stay protected.
	for _, pattern := range []string{"/api/", "/authorize", "/oauth/token", "/oauth/introspect", "/revoke", "/userinfo", "/end_session"} {
		cop.AddInsecureBypassPattern(pattern)
	}
	// An upstream provider's answer posted from its own site (Apple's
	// form_post) changes nothing there: it is sent on as a GET, which
	// the round trip's state and the browser's binding check.
	cop.AddInsecureBypassPattern("POST /providers/{id}/callback")
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if jsonAPI(r.URL.Path) {
			problem.Send(w, http.StatusForbidden, "cross-origin", "Cross-origin request refused",
				"The browser said another site sent this request.")
			return
		}
		refused(w, r)
	}))
	protected := cop.Handler(next)
	timeout := s.Config.RequestTimeout.D()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), timeout)
		defer cancel()
		r = r.WithContext(ctx)
		if s.hsts != "" {
			w.Header().Set("Strict-Transport-Security", s.hsts)
		}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.Logger.ErrorContext(r.Context(), "panic serving request", "path", r.URL.Path, "panic", fmt.Sprint(v))
				http.Error(w, "Internal error.", http.StatusInternalServerError)
			}
		}()
		if origin := r.Header.Get("Origin"); origin != "" && selfService(r.URL.Path) && s.allowOrigin(w, r, origin) &&
			r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			w.WriteHeader(http.StatusNoContent) // a preflight, answered
			return
		}
		protected.ServeHTTP(w, r)
	})
}

// selfService reports whether path is part of the self-service JSON API,
// which single-page apps call from their own origin.
func selfService(path string) bool {
	return strings.HasPrefix(path, "/api/") || strings.HasPrefix(path, "/sessions/")
}

// allowOrigin answers CORS for the self-service API when origin is one a
// public client (a single-page app) of the domain redirects to, the same
// origins the OAuth endpoints allow, and reports whether it did. The API
// authenticates with bearer tokens, never cookies, so no credentials are
// allowed.
func (s *Server) allowOrigin(w http.ResponseWriter, r *http.Request, origin string) bool {
	h := w.Header()
	h.Add("Vary", "Origin")
	origins, err := s.Clients.PublicOrigins(r.Context(), config.DefaultDomain)
	if err != nil || !origins[origin] {
		return false
	}
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Methods", "GET, POST, PATCH, DELETE")
	h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, DPoP, X-Foyer-Device, X-Foyer-Challenge, X-Foyer-Challenge-Solution")
	h.Set("Access-Control-Expose-Headers", "Retry-After, WWW-Authenticate, Location")
	h.Set("Access-Control-Max-Age", "600")
	return true
}

// jsonAPI reports whether path belongs to one of the JSON APIs, whose
// every answer, errors included, is JSON.
func jsonAPI(path string) bool {
	for _, root := range []string{"/api", "/admin", "/sessions"} {
		if rest, ok := strings.CutPrefix(path, root); ok && (rest == "" || rest[0] == '/') {
			return true
		}
	}
	return false
}

// misses turns plain-text error answers into what the rest of the path's
// part of Foyer answers. Under the JSON APIs the mux's own 404 (no route)
// and 405 (a method the route lacks, with Allow) become problems: the
// handlers there answer only with problems, so plain text there is the
// mux's. Where browsers go, any plain-text 4xx — the mux's, or the OpenID
// library's refusal of an app's sign-in or sign-out link — becomes the
// hosted error page, in Foyer's words. The endpoints programs call keep
// their own answers. The route is matched once, by the mux.
func misses(next http.Handler, page func(http.ResponseWriter, *http.Request, int)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case jsonAPI(r.URL.Path):
			w = &missWriter{ResponseWriter: w, method: r.Method}
		case !machinePath(r.URL.Path):
			w = &missWriter{ResponseWriter: w, method: r.Method, page: func(w http.ResponseWriter, status int) { page(w, r, status) }}
		}
		next.ServeHTTP(w, r)
	})
}

// machinePath reports whether path is an endpoint for programs, not
// browsers: OAuth and OpenID endpoints, health checks, metrics.
func machinePath(path string) bool {
	switch path {
	case "/userinfo", "/revoke", "/keys", "/metrics":
		return true
	}
	return strings.HasPrefix(path, "/oauth/") || strings.HasPrefix(path, "/.well-known/") || strings.HasPrefix(path, "/health/")
}

// missWriter answers plain-text errors with problems, or with page when
// set (see misses), and drops the text that follows.
type missWriter struct {
	http.ResponseWriter
	method   string
	page     func(http.ResponseWriter, int)
	replaced bool
}

func (m *missWriter) WriteHeader(status int) {
	plain := strings.HasPrefix(m.Header().Get("Content-Type"), "text/plain")
	miss := status == http.StatusNotFound || status == http.StatusMethodNotAllowed
	switch {
	case !plain || (m.page == nil && !miss) || status < 400 || status >= 500:
		m.ResponseWriter.WriteHeader(status)
		return
	case m.page != nil:
		h := m.Header()
		h.Del("Content-Type")
		h.Del("Content-Security-Policy")
		h.Del("X-Content-Type-Options")
		m.page(m.ResponseWriter, status)
	case status == http.StatusMethodNotAllowed:
		problem.Send(m.ResponseWriter, status, "method-not-allowed", "Method not allowed", "This endpoint does not answer "+m.method+".")
	default:
		problem.NotFound(m.ResponseWriter)
	}
	m.replaced = true
}

func (m *missWriter) Write(b []byte) (int, error) {
	if m.replaced {
		return len(b), nil
	}
	return m.ResponseWriter.Write(b)
}

func (m *missWriter) Unwrap() http.ResponseWriter { return m.ResponseWriter }

// Run serves on ln and runs the background workers until ctx ends, then
// shuts down gracefully.
func (s *Server) Run(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.Logger.Handler(), slog.LevelWarn),
	}
	bg, stop := context.WithCancel(context.WithoutCancel(ctx))
	var wg sync.WaitGroup
	wg.Go(password.Preload)
	wg.Go(func() { s.worker.Run(bg) })
	wg.Go(func() { s.prune(bg) })
	wg.Go(func() { s.rotateKeys(bg) })
	wg.Go(func() { s.Flows.Velocity.Run(bg) })
	wg.Go(func() { s.Policy.Watch(bg, policyWatch) })
	if s.ShadowPolicy != nil {
		wg.Go(func() { s.ShadowPolicy.Watch(bg, policyWatch) })
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	stopMetrics := s.watch.serve()
	var err error
	select {
	case <-ctx.Done():
		shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err = srv.Shutdown(shutdownCtx)
		stopMetrics(shutdownCtx)
		cancel()
	case err = <-errc:
		stopMetrics(context.Background())
	}
	stop()
	wg.Wait()
	s.Flows.Wait()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// prune deletes what has served its purpose every few minutes: expired
// flows, throttle counters, passkey challenges and OAuth state, and, past
// their retention (config: retention), events, ended sessions and
// abandoned sign-ups.
func (s *Server) prune(ctx context.Context) {
	t := time.NewTicker(5 * time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.PruneOnce(ctx)
		}
	}
}

// PruneOnce runs one round of pruning (see prune). Each part logs its own
// failure and the others go on.
func (s *Server) PruneOnce(ctx context.Context) {
	type part struct {
		what string
		run  func() (int64, error)
	}
	now := s.now()
	parts := []part{
		{"flows", func() (int64, error) { return s.Flows.Flows.Prune(ctx, now.Add(-time.Hour)) }},
		{"throttle counters", func() (int64, error) { return s.Flows.Throttle.Prune(ctx) }},
		{"site failure counts", func() (int64, error) { return s.Flows.Velocity.Prune(ctx, now.Add(-24*time.Hour)) }},
		{"oauth state", func() (int64, error) { return 0, s.OIDC.Prune(ctx) }},
		{"initial access tokens", func() (int64, error) { return s.Clients.PruneInitialTokens(ctx, now.Add(-30*24*time.Hour)) }},
		{"revert links", func() (int64, error) { return s.Flows.PruneReverts(ctx, now) }},
	}
	if s.Flows.Passkeys != nil {
		parts = append(parts, part{"passkey challenges", func() (int64, error) { return s.Flows.Passkeys.Prune(ctx) }})
	}
	keep := s.Config.Retention
	for _, r := range []struct {
		what  string
		keep  config.Duration
		prune func(context.Context, time.Time) (int64, error)
	}{
		{"events", keep.Events, s.Events.Prune},
		{"decisions", keep.Decisions, s.Decisions.Prune},
		{"ended sessions", keep.Sessions, s.Flows.Sessions.Prune},
		{"devices unused", keep.Sessions, s.Flows.Devices.Prune},
		{"abandoned sign-ups", keep.PendingIdentities, s.Flows.Identities.PrunePending},
	} {
		if r.keep > 0 { // 0 keeps them for ever
			parts = append(parts, part{r.what, func() (int64, error) { return r.prune(ctx, now.Add(-r.keep.D())) }})
		}
	}
	for _, p := range parts {
		if n, err := p.run(); err != nil {
			if ctx.Err() == nil {
				s.Logger.Warn("prune "+p.what, "error", err)
			}
		} else if n > 0 {
			s.Logger.Debug("pruned "+p.what, "count", n)
		}
	}
}

// rotateKeys promotes pre-published signing keys and drops expired ones.
func (s *Server) rotateKeys(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.Keys.Maintain(ctx); err != nil {
				s.Logger.Warn("maintain signing keys", "error", err)
			}
		}
	}
}

// Close releases the database, once the journeys' work after their
// answers is done.
func (s *Server) Close() error {
	s.Flows.Wait()
	return errors.Join(s.Flows.GeoIP.Close(), s.DB.Close(), s.watch.close())
}

// deviceKey derives the key that signs device cookies from the server
// secret.
func deviceKey(secret []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("foyer device cookie key v1"))
	return m.Sum(nil)
}

// PolicySettings are the customers domain's policy settings from cfg: the
// built-in policy, and the `domain` context of a policy file's rules.
func PolicySettings(cfg *config.Config) policy.Default {
	dom := cfg.Domains[config.DefaultDomain]
	loginRule := throttle.Rule{Free: dom.Login.FreeFailures, Base: dom.Login.Delay.D(), Max: dom.Login.MaxDelay.D(), Window: max(dom.Login.MaxDelay.D(), time.Hour)}
	return policy.Default{RequireVerifiedEmail: *dom.Registration.RequireVerification, AllowClonedPasskeys: dom.Login.AllowClonedPasskeys,
		FreshFor: dom.FreshFor.D(), AppAAL: dom.AppsRequireAAL, Limits: policy.Limits{
			Login:            loginRule,
			Code:             throttle.Rule{Free: 20, Base: time.Second, Max: 5 * time.Minute, Window: time.Hour},
			CodeSend:         throttle.Rule{Free: 5, Base: time.Minute, Max: 15 * time.Minute, Window: time.Hour},
			CodeSendAddress:  throttle.Rule{Free: 20, Base: time.Minute, Max: 15 * time.Minute, Window: time.Hour},
			Registration:     throttle.Rule{Free: dom.Registration.PerNetwork, Base: time.Second, Max: time.Minute, Window: 10 * time.Minute},
			FlowStart:        throttle.Rule{Free: dom.FlowsPerNetwork, Base: time.Second, Max: time.Minute, Window: 10 * time.Minute},
			PasskeyChallenge: policy.DefaultLimits().PasskeyChallenge,
			MaxCodeAttempts:  dom.Verification.MaxAttempts,
			MaxCodesPerFlow:  dom.Verification.MaxCodes,
			ResendAfter:      dom.Verification.ResendAfter.D(),
		}}
}
