package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/mail"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	"golang.org/x/text/language"
)

// DefaultDomain is the policy domain of customers, the only one today.
const DefaultDomain = "customers"

// Config is Foyer's whole configuration.
type Config struct {
	// Dev turns on development mode: HTTP without Secure cookies, the
	// built-in mailbox when no SMTP is configured, migrations at start.
	Dev bool `yaml:"dev" env:"FOYER_DEV"`
	// Addr is the listen address.
	Addr string `yaml:"addr" env:"FOYER_ADDR"`
	// PublicURL is the base URL customers reach Foyer at (the future OIDC
	// issuer). In dev mode it defaults to http://<addr>.
	PublicURL string `yaml:"public_url" env:"FOYER_PUBLIC_URL"`
	// Data is the folder for the embedded SQLite database and dev secrets.
	Data string `yaml:"data" env:"FOYER_DATA"`
	// DSN selects the database: postgres://… for PostgreSQL, otherwise a
	// SQLite path. Empty means <data>/foyer.db.
	DSN string `yaml:"dsn" env:"FOYER_DSN"`
	// Secret keys code hashes and other server-side MACs; at least 32
	// characters. In dev mode a random one is kept in the data folder.
	Secret string `yaml:"secret" env:"FOYER_SECRET"`
	// NodeID names this process among the nodes sharing the database,
	// the same across its restarts: a restarted node takes back at once
	// the mail it held when it stopped. Empty: kept in <data>/node-id,
	// created on first start, when the data folder is in use (see
	// LoadNodeID).
	NodeID string `yaml:"node_id" env:"FOYER_NODE_ID"`

	// TrustedProxies lists the reverse proxies (addresses or CIDR
	// prefixes) whose X-Forwarded-For Foyer believes. The client's
	// address is then the last one in that header not itself a trusted
	// proxy; from anyone else the header is ignored. Empty: the TCP peer
	// is the client. In the environment, comma-separated.
	TrustedProxies []string `yaml:"trusted_proxies" env:"FOYER_TRUSTED_PROXIES"`

	// RequestTimeout bounds the work of one request: a request still
	// waiting for the database when it passes gets 503 with Retry-After.
	RequestTimeout Duration `yaml:"request_timeout" env:"FOYER_REQUEST_TIMEOUT"`

	// GeoIP names the MaxMind-format databases (GeoLite2 or GeoIP2 City
	// or Country, and ASN) that place client addresses for the risk
	// signals: paths, comma-separated. Empty: networks only.
	GeoIP GeoIP `yaml:"geoip"`

	HSTS      HSTS      `yaml:"hsts"`
	Admin     Admin     `yaml:"admin"`
	Log       Log       `yaml:"log"`
	SMTP      SMTP      `yaml:"smtp"`
	SMS       SMS       `yaml:"sms"`
	Password  Password  `yaml:"password"`
	Retention Retention `yaml:"retention"`
	Policy    Policy    `yaml:"policy"`
	// Languages configures the texts customers read (docs/languages.md).
	Languages Languages `yaml:"languages"`
	// OIDC configures the OpenID Connect provider (docs/oidc.md).
	OIDC OIDC `yaml:"oidc"`
	// Metrics and Tracing are what operators watch Foyer with
	// (docs/operations.md).
	Metrics Metrics `yaml:"metrics"`
	Tracing Tracing `yaml:"tracing"`
	// Domains configures each policy domain. Only "customers" exists now.
	Domains map[string]*Domain `yaml:"-"`
}

// Policy configures the customers domain's policy (docs/policies.md).
type Policy struct {
	// File is a policy file of CEL rules that decides instead of the
	// built-in policy; it is reloaded when it changes. Empty: the
	// built-in policy (policies/default.yaml says what it decides).
	File string `yaml:"file" env:"FOYER_POLICY"`
	// Shadow is a candidate policy file run beside the live one: its
	// decisions are recorded with the live ones, never enforced, and
	// compared by `foyer policy replay --shadow`.
	Shadow string `yaml:"shadow" env:"FOYER_POLICY_SHADOW"`
}

// Languages configures the message catalogues.
type Languages struct {
	// Dir holds the operator's catalogue files, <tag>.json (de.json,
	// pt-BR.json): their texts replace the built-in ones of the same id,
	// or add a language. A file that does not load stops the start.
	Dir string `yaml:"dir" env:"FOYER_LANGUAGES_DIR"`
}

// GeoIP configures where client addresses are looked up.
type GeoIP struct {
	Database string `yaml:"database" env:"FOYER_GEOIP_DATABASE"`
}

// Databases returns the GeoIP database paths.
func (g GeoIP) Databases() []string {
	var out []string
	for _, p := range strings.Split(g.Database, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// HSTS configures the Strict-Transport-Security header, sent outside dev
// mode when the public URL is https: browsers that saw it reach Foyer only
// over https for MaxAge seconds.
type HSTS struct {
	// MaxAge in seconds; 0 tells browsers to forget an earlier header
	// (how HSTS is turned off).
	MaxAge int `yaml:"max_age" env:"FOYER_HSTS_MAX_AGE"`
	// IncludeSubdomains extends it to every subdomain of the public
	// host: only when all of them serve https.
	IncludeSubdomains bool `yaml:"include_subdomains" env:"FOYER_HSTS_INCLUDE_SUBDOMAINS"`
	// Preload asks browsers' preload lists to include the host (it needs
	// IncludeSubdomains and a MaxAge of a year; submit the host at
	// hstspreload.org). Leaving a preload list takes months.
	Preload bool `yaml:"preload" env:"FOYER_HSTS_PRELOAD"`
}

// hstsYear is a year in seconds, the max-age HSTS preload lists want.
const hstsYear = 365 * 24 * 60 * 60

// Header returns the Strict-Transport-Security value.
func (h HSTS) Header() string {
	v := "max-age=" + strconv.Itoa(h.MaxAge)
	if h.IncludeSubdomains {
		v += "; includeSubDomains"
	}
	if h.Preload {
		v += "; preload"
	}
	return v
}

// Admin configures the admin API (/admin/…).
type Admin struct {
	// Token is the bearer token of the admin API, at least 32
	// characters; empty turns the admin API off.
	Token string `yaml:"token" env:"FOYER_ADMIN_TOKEN"`
}

// Metrics configures where the Prometheus metrics are served (GET
// /metrics). Without Addr or Token they are served nowhere outside dev
// mode, and not counted at all; dev mode serves them on the main
// listener, behind Token if set.
type Metrics struct {
	// Addr is a listener of their own, host:port, for a scraper on a
	// private network: there /metrics needs no token. Bind it to an
	// address only the monitoring reaches (127.0.0.1:9464).
	Addr string `yaml:"addr" env:"FOYER_METRICS_ADDR"`
	// Token, at least 32 characters, serves /metrics on the main
	// listener to requests that carry Authorization: Bearer <token>.
	Token string `yaml:"token" env:"FOYER_METRICS_TOKEN"`
}

// MetricsOn reports whether the metrics are counted and served somewhere.
func (c *Config) MetricsOn() bool { return c.Metrics.Addr != "" || c.MetricsOnMain() }

// MetricsOnMain reports whether /metrics is served on the main listener:
// with a token, or in dev mode.
func (c *Config) MetricsOnMain() bool { return c.Metrics.Token != "" || c.Dev }

// Tracing configures OpenTelemetry traces. Where they go, and which are
// kept, the standard OTEL_* variables say (OTEL_EXPORTER_OTLP_ENDPOINT,
// OTEL_SERVICE_NAME, OTEL_TRACES_SAMPLER …).
type Tracing struct {
	// Enabled sends a span for every request, with its database calls
	// as children, to the OTLP/HTTP endpoint. Off: no span is made.
	Enabled bool `yaml:"enabled" env:"FOYER_TRACING"`
}

// OIDC configures the OpenID Connect provider.
type OIDC struct {
	// Registration is dynamic client registration (RFC 7591, at
	// /oauth/register): off, the endpoint is absent; token, registering
	// a client needs an initial access token (`foyer clients
	// initial-token create`); open, anyone may register one — for the
	// OpenID conformance suite and the like, not for a deployment
	// reachable from the Internet.
	Registration string `yaml:"registration" env:"FOYER_OIDC_REGISTRATION"`
	// RegistrationsPerNetwork is how many clients one network may
	// register (or try to) per 10 minutes before each next one waits.
	RegistrationsPerNetwork int `yaml:"registrations_per_network" env:"FOYER_OIDC_REGISTRATIONS_PER_NETWORK"`
}

// Dynamic client registration modes (OIDC.Registration).
const (
	RegistrationOff   = "off"
	RegistrationToken = "token"
	RegistrationOpen  = "open"
)

// Log configures logging.
type Log struct {
	Level  string `yaml:"level" env:"FOYER_LOG_LEVEL"`   // debug, info, warn, error
	Format string `yaml:"format" env:"FOYER_LOG_FORMAT"` // json or text
}

// SMTP configures outgoing mail.
type SMTP struct {
	// URL is smtp://[user:pass@]host[:port] (plain, opportunistic STARTTLS)
	// or smtps://… (implicit TLS). Empty in dev mode means the built-in
	// mailbox at /dev/mailbox.
	URL  string `yaml:"url" env:"FOYER_SMTP_URL"`
	From string `yaml:"from" env:"FOYER_SMTP_FROM"`
}

// SMS configures outgoing text messages (codes to verified phone
// numbers). Without a webhook, phone numbers are off outside dev mode; in
// dev mode the messages stay in the built-in mailbox.
type SMS struct {
	// WebhookURL receives each message as a POST of JSON {"id", "to",
	// "text"} (see courier.WebhookSMS).
	WebhookURL string `yaml:"webhook_url" env:"FOYER_SMS_WEBHOOK_URL"`
	// WebhookSecret signs each POST (X-Foyer-Signature: sha256=<HMAC>).
	WebhookSecret string `yaml:"webhook_secret" env:"FOYER_SMS_WEBHOOK_SECRET"`
}

// SMSOn reports whether text messages can be sent: through a webhook, or
// into the dev mailbox.
func (c *Config) SMSOn() bool { return c.SMS.WebhookURL != "" || c.Dev }

// Password configures password hashing (shared by all domains: it is a
// machine resource).
type Password struct {
	// Argon2id parameters; the defaults are OWASP's (19 MiB, t=2, p=1).
	MemoryKiB   uint32 `yaml:"memory_kib" env:"FOYER_PASSWORD_MEMORY_KIB"`
	Iterations  uint32 `yaml:"iterations" env:"FOYER_PASSWORD_ITERATIONS"`
	Parallelism uint8  `yaml:"parallelism"`
	// MaxConcurrent caps simultaneous hashes (0 = number of CPUs).
	MaxConcurrent int `yaml:"max_concurrent" env:"FOYER_PASSWORD_MAX_CONCURRENT"`
}

// Retention says how long records that have served their purpose are
// kept before the server deletes them; 0 keeps them for ever.
type Retention struct {
	// Events is the journey event log (funnels, audit, replay).
	Events Duration `yaml:"events"`
	// Decisions are the policy's decisions with the input each saw
	// (shadow policies, replay, audit).
	Decisions Duration `yaml:"decisions"`
	// Sessions counts from a session's end (expiry, idle timeout or
	// sign-out). An ended session still tells that its device is known:
	// a device unused for longer is a new one again.
	Sessions Duration `yaml:"sessions"`
	// PendingIdentities are sign-ups whose code was never entered; their
	// address is free again once they go. At least twice the longest
	// flow lifetime, so that no live sign-up loses its account.
	PendingIdentities Duration `yaml:"pending_identities"`
}

// Limits of the Argon2id parameters, as password.Params.Validate has them.
const (
	maxPasswordMemoryKiB  = 2 * 1024 * 1024
	maxPasswordIterations = 64
)

// Domain configures one policy domain: its identity schema, journeys and
// lifetimes.
type Domain struct {
	// ProductName appears in mail and pages.
	ProductName string `yaml:"product_name"`
	// DefaultLanguage is the language of a customer whose request says
	// nothing the catalogues have (a BCP 47 tag: en, de, pt-BR).
	DefaultLanguage string `yaml:"default_language"`
	// Branding is the look of the domain's pages and mails.
	Branding Branding `yaml:"branding"`
	// IdentitySchema is a JSON Schema file for traits; empty = built-in
	// (email required, name optional).
	IdentitySchema string `yaml:"identity_schema"`

	Session      Session      `yaml:"session"`
	Registration Registration `yaml:"registration"`
	Verification Verification `yaml:"verification"`
	Login        Login        `yaml:"login"`
	Recovery     Recovery     `yaml:"recovery"`
	// FlowLifetime bounds how long a journey may take.
	FlowLifetime Duration `yaml:"flow_lifetime"`
	// FreshFor is how recent a sign-in must be for a session to change
	// how the customer signs in (authenticator apps, recovery codes,
	// passkeys); older, it signs in (or steps up) again.
	FreshFor Duration `yaml:"fresh_for"`
	// AppsRequireAAL is the assurance level the domain's apps require of
	// a sign-in when their registration says nothing: "" or aal1 for one
	// factor, aal2 for two.
	AppsRequireAAL string `yaml:"apps_require_aal"`
	// FlowsPerNetwork is how many journeys one network may start per 10
	// minutes before each next one waits (every flow is a stored row).
	FlowsPerNetwork int `yaml:"flows_per_network"`
	// PasswordMinLength and PasswordMaxLength bound password length in
	// characters. NIST SP 800-63B rev 4 asks for 15 when the password is
	// the only factor; 8 is the floor when it is used with another.
	PasswordMinLength int `yaml:"password_min_length"`
	PasswordMaxLength int `yaml:"password_max_length"`
	// Providers are the upstream identity providers customers may sign
	// up and in with (docs/social.md).
	Providers []Provider `yaml:"providers"`
}

// Session lifetimes, and what ends with a session.
type Session struct {
	Lifetime    Duration `yaml:"lifetime"`     // absolute, from sign-in
	IdleTimeout Duration `yaml:"idle_timeout"` // since last use
	// KeepOfflineGrants lets the tokens of apps that asked for
	// offline_access (refresh tokens, and the access tokens issued with
	// them) outlive the session they were issued in; every other app
	// token ends with its session. Off, offline grants end with it too.
	KeepOfflineGrants *bool `yaml:"keep_offline_grants"`
}

// Recovery settings: a customer who lost the password proves the
// account's verified address (or a recovery code) and sets a new one.
type Recovery struct {
	// Enabled turns recovery on (the default); off, /recovery is gone.
	Enabled *bool `yaml:"enabled"`
	// CoolOff is how long a recovered account stays restricted: signed
	// in, but unable to change its email address, remove a factor or make
	// a passkey its only way in — unless the customer presents a factor
	// enrolled before the recovery.
	CoolOff Duration `yaml:"cool_off"`
}

// Registration settings.
type Registration struct {
	// RequireVerification: sign-up completes (and signs in) only after the
	// email code is entered. Off: sign-up signs in at once and apps see
	// email_verified=false until the customer verifies. Note that off
	// lets a caller tell a new address from a registered one (only the
	// new one gets a session).
	RequireVerification *bool `yaml:"require_verification"`
	// PerNetwork is how many sign-ups one network may make before they
	// are slowed down (per 10 minutes).
	PerNetwork int `yaml:"per_network"`
}

// Verification code settings.
type Verification struct {
	CodeLifetime Duration `yaml:"code_lifetime"`
	MaxAttempts  int      `yaml:"max_attempts"`
	MaxCodes     int      `yaml:"max_codes"`
	ResendAfter  Duration `yaml:"resend_after"`
}

// Login throttling: after FreeFailures failures from a network or on an
// identifier, each next attempt waits, starting at Delay and doubling up
// to MaxDelay.
type Login struct {
	// EmailCode allows signing in with a code mailed to the verified
	// address instead of a password.
	EmailCode *bool `yaml:"email_code"`
	// TOTP lets customers set up an authenticator app. Turning it off
	// stops new set-ups; apps already set up keep protecting sign-in.
	TOTP *bool `yaml:"totp"`
	// Passkeys lets customers add passkeys, sign in with them and sign
	// up with one instead of a password.
	Passkeys *bool `yaml:"passkeys"`
	// AllowClonedPasskeys lets a passkey whose signature counter did not
	// go up still sign in. Off, such a sign-in is refused; either way the
	// event log flags it (passkey.cloned).
	AllowClonedPasskeys bool     `yaml:"allow_cloned_passkeys"`
	FreeFailures        int      `yaml:"free_failures"`
	Delay               Duration `yaml:"delay"`
	MaxDelay            Duration `yaml:"max_delay"`
}

// Duration is a time.Duration written as "15m", "1h30m".
type Duration time.Duration

// UnmarshalYAML parses a duration string.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := time.ParseDuration(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %q is not a duration like 15m or 1h", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// D returns the time.Duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// defaultFrom is the sender of dev mode's mail; a deployment's is at its
// public host (Finish) unless smtp.from says otherwise.
const defaultFrom = "Foyer <no-reply@localhost>"

// Default returns the built-in configuration (not yet dev-adjusted).
func Default() *Config {
	return &Config{
		Addr:           "127.0.0.1:4455",
		Data:           "data",
		RequestTimeout: Duration(10 * time.Second),
		HSTS:           HSTS{MaxAge: hstsYear},
		Log:            Log{Level: "info", Format: "json"},
		SMTP:           SMTP{From: defaultFrom},
		OIDC:           OIDC{Registration: RegistrationOff, RegistrationsPerNetwork: 100},
		Password: Password{
			MemoryKiB: 19456, Iterations: 2, Parallelism: 1,
		},
		Retention: Retention{
			Events:            Duration(90 * 24 * time.Hour),
			Decisions:         Duration(90 * 24 * time.Hour),
			Sessions:          Duration(90 * 24 * time.Hour),
			PendingIdentities: Duration(7 * 24 * time.Hour),
		},
		Domains: map[string]*Domain{DefaultDomain: DefaultDomainConfig()},
	}
}

// DefaultDomainConfig returns the defaults of a customer domain.
func DefaultDomainConfig() *Domain {
	yes := true
	return &Domain{
		ProductName:       "Foyer",
		Session:           Session{Lifetime: Duration(30 * 24 * time.Hour), IdleTimeout: Duration(7 * 24 * time.Hour), KeepOfflineGrants: &yes},
		Registration:      Registration{RequireVerification: &yes, PerNetwork: 100},
		Verification:      Verification{CodeLifetime: Duration(15 * time.Minute), MaxAttempts: 5, MaxCodes: 5, ResendAfter: Duration(30 * time.Second)},
		Login:             Login{EmailCode: &yes, TOTP: &yes, Passkeys: &yes, FreeFailures: 5, Delay: Duration(time.Second), MaxDelay: Duration(5 * time.Minute)},
		Recovery:          Recovery{Enabled: &yes, CoolOff: Duration(72 * time.Hour)},
		FlowLifetime:      Duration(time.Hour),
		FreshFor:          Duration(10 * time.Minute),
		FlowsPerNetwork:   1000,
		PasswordMinLength: 8,
		PasswordMaxLength: 256,
	}
}

// Load builds the configuration: defaults, then the file at path (if not
// empty), then FOYER_* variables from environ. Unknown file keys are
// errors.
func Load(path string, environ []string) (*Config, error) {
	c := Default()
	if path != "" {
		raw, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		// Domains are decoded one by one onto their defaults, so a file
		// sets only what it changes.
		f := struct {
			Config  `yaml:",inline"`
			Domains map[string]yaml.Node `yaml:"domains"`
		}{Config: *c}
		dec := yaml.NewDecoder(bytes.NewReader(raw))
		dec.KnownFields(true)
		if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("config: %s: %w", path, withKeys(yamlError(err, nil), raw))
		}
		*c = f.Config
		for name, node := range f.Domains {
			d := DefaultDomainConfig()
			if err := node.Decode(d); err != nil {
				return nil, fmt.Errorf("config: %s: %w", path, withKeys(yamlError(err, nil), raw))
			}
			if err := knownFields(&node, DefaultDomainConfig()); err != nil {
				return nil, fmt.Errorf("config: %s: domains.%s: %w", path, name, err)
			}
			c.Domains[name] = d
		}
	}
	if err := applyEnv(reflect.ValueOf(c).Elem(), envMap(environ)); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return c, nil
}

// knownFields reports a key in node that into has no field for: Node.Decode
// ignores them, so node is decoded again strictly from its own YAML.
func knownFields(node *yaml.Node, into any) error {
	raw, err := yaml.Marshal(node)
	if err != nil {
		return err
	}
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(into); err != nil && !errors.Is(err, io.EOF) {
		return yamlError(err, node)
	}
	return nil
}

var unknownFieldRE = regexp.MustCompile(`^line (\d+): field (\S+) not found in type .*$`)

// yamlError words the YAML decoder's errors for people: an unknown key is
// named as such, not with a Go type. With node, the line of such a key is
// looked up in it (the error's own line is that of a re-encoding).
func yamlError(err error, node *yaml.Node) error {
	var te *yaml.TypeError
	if !errors.As(err, &te) {
		return err
	}
	msgs := make([]string, len(te.Errors))
	for i, m := range te.Errors {
		msgs[i] = m
		if sub := unknownFieldRE.FindStringSubmatch(m); sub != nil {
			line := sub[1]
			if node != nil {
				line = "?"
				if k := findKey(node, sub[2]); k != nil {
					line = strconv.Itoa(k.Line)
				}
			}
			msgs[i] = fmt.Sprintf("line %s: unknown key %q", line, sub[2])
		}
	}
	return errors.New(strings.Join(msgs, "; "))
}

var lineRE = regexp.MustCompile(`^line (\d+): (.*)$`)

// withKeys names the key of each "line N: …" in err, such as a value of
// the wrong type, from the file raw: "password.memory_kib (line 7): …".
func withKeys(err error, raw []byte) error {
	var root yaml.Node
	if yaml.Unmarshal(raw, &root) != nil {
		return err
	}
	msgs := strings.Split(err.Error(), "; ")
	for i, m := range msgs {
		sub := lineRE.FindStringSubmatch(m)
		if sub == nil || strings.HasPrefix(sub[2], "unknown key") {
			continue
		}
		n, _ := strconv.Atoi(sub[1])
		if key := keyAt(&root, n, ""); key != "" {
			msgs[i] = fmt.Sprintf("%s (line %d): %s", key, n, sub[2])
		}
	}
	return errors.New(strings.Join(msgs, "; "))
}

// keyAt returns the dotted path of the first key, depth first, whose value
// starts on line, or "".
func keyAt(node *yaml.Node, line int, prefix string) string {
	switch node.Kind {
	case yaml.DocumentNode:
		for _, n := range node.Content {
			if k := keyAt(n, line, prefix); k != "" {
				return k
			}
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(node.Content); i += 2 {
			key, value := node.Content[i], node.Content[i+1]
			path := key.Value
			if prefix != "" {
				path = prefix + "." + key.Value
			}
			if value.Kind != yaml.MappingNode && value.Line == line {
				return path
			}
			if k := keyAt(value, line, path); k != "" {
				return k
			}
		}
	}
	return ""
}

// findKey returns the first mapping key named name in node, depth first.
func findKey(node *yaml.Node, name string) *yaml.Node {
	if node.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(node.Content); i += 2 {
			if node.Content[i].Value == name {
				return node.Content[i]
			}
		}
	}
	for _, n := range node.Content {
		if k := findKey(n, name); k != nil {
			return k
		}
	}
	return nil
}

func envMap(environ []string) map[string]string {
	m := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok && strings.HasPrefix(k, "FOYER_") {
			m[k] = v
		}
	}
	return m
}

// applyEnv sets every field tagged env:"NAME" whose variable is set.
func applyEnv(v reflect.Value, env map[string]string) error {
	t := v.Type()
	for i := range t.NumField() {
		f, fv := t.Field(i), v.Field(i)
		if f.Type.Kind() == reflect.Struct && f.Type != reflect.TypeOf(Duration(0)) {
			if err := applyEnv(fv, env); err != nil {
				return err
			}
			continue
		}
		name := f.Tag.Get("env")
		val, ok := env[name]
		if name == "" || !ok {
			continue
		}
		switch {
		case fv.Type() == reflect.TypeOf(Duration(0)):
			d, err := time.ParseDuration(val)
			if err != nil {
				return fmt.Errorf("%s: %q is not a duration like 10s or 1m", name, val)
			}
			fv.SetInt(int64(d))
			continue
		}
		switch fv.Kind() {
		case reflect.String:
			fv.SetString(val)
		case reflect.Slice:
			var list []string
			for _, item := range strings.Split(val, ",") {
				if item = strings.TrimSpace(item); item != "" {
					list = append(list, item)
				}
			}
			fv.Set(reflect.ValueOf(list))
		case reflect.Bool:
			b, err := strconv.ParseBool(val)
			if err != nil {
				return fmt.Errorf("%s: %q is not true or false", name, val)
			}
			fv.SetBool(b)
		case reflect.Int, reflect.Uint8, reflect.Uint32:
			n, err := strconv.ParseInt(val, 10, 64)
			if err != nil || n < 0 {
				return fmt.Errorf("%s: %q is not a whole number", name, val)
			}
			if fv.Kind() == reflect.Int && fv.OverflowInt(n) || fv.Kind() != reflect.Int && fv.OverflowUint(uint64(n)) {
				return fmt.Errorf("%s: %q is too large", name, val)
			}
			if fv.Kind() == reflect.Int {
				fv.SetInt(n)
			} else {
				fv.SetUint(uint64(n))
			}
		}
	}
	return nil
}

// Proxies returns TrustedProxies as prefixes (an address is a /32 or
// /128).
func (c *Config) Proxies() ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(c.TrustedProxies))
	for _, s := range c.TrustedProxies {
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not an IP address or CIDR prefix such as 10.0.0.0/8", s)
		}
		out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return out, nil
}

// Finish fills in what depends on other settings (dev-mode defaults, the
// database path) and validates. Call it once after flags are applied.
func (c *Config) Finish() error {
	if c.DSN == "" {
		c.DSN = filepath.Join(c.Data, "foyer.db")
	}
	if c.PublicURL == "" && c.Dev {
		host := c.Addr
		if strings.HasPrefix(host, ":") {
			host = "localhost" + host
		}
		c.PublicURL = "http://" + strings.Replace(host, "127.0.0.1", "localhost", 1)
	}
	c.PublicURL = strings.TrimRight(c.PublicURL, "/")
	if host := c.PublicHost(); c.SMTP.From == defaultFrom && !c.Dev && host != "" {
		// Mail from localhost fails SPF and DMARC: a deployment sends from
		// its public host unless told otherwise.
		c.SMTP.From = "Foyer <no-reply@" + host + ">"
	}
	// A token read from a file or a secret store often ends in a newline,
	// which no client would send.
	c.Admin.Token = strings.TrimSpace(c.Admin.Token)
	c.Metrics.Token = strings.TrimSpace(c.Metrics.Token)
	return c.Validate()
}

// Validate reports the first problem, naming the key.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{key}, args...)...))
	}
	if c.Addr == "" {
		bad("addr", "must not be empty")
	}
	if c.PublicURL == "" {
		bad("public_url", "must be set outside dev mode (FOYER_PUBLIC_URL), e.g. https://id.example.com")
	} else if u, err := url.Parse(c.PublicURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		bad("public_url", "%q must be an absolute http(s) URL without query or fragment", c.PublicURL)
	} else if u.Path != "" {
		bad("public_url", "%q must have no path: Foyer serves from the root of its host (e.g. https://id.example.com)", c.PublicURL)
	} else if !c.Dev && u.Scheme != "https" {
		bad("public_url", "must use https outside dev mode")
	}
	if !c.Dev && len(c.Secret) < 32 {
		bad("secret", "must be at least 32 characters outside dev mode (FOYER_SECRET)")
	}
	if c.Dev && c.Secret != "" && len(c.Secret) < 32 {
		bad("secret", "must be at least 32 characters")
	}
	if _, err := c.Proxies(); err != nil {
		bad("trusted_proxies", "%v", err)
	}
	if c.RequestTimeout <= 0 || c.RequestTimeout.D() >= MaxRequestTimeout {
		bad("request_timeout", "must be a positive duration below %s (the server's write timeout), such as 10s", MaxRequestTimeout)
	}
	if c.HSTS.MaxAge < 0 {
		bad("hsts.max_age", "must not be negative (0 turns HSTS off)")
	}
	if c.HSTS.Preload && (!c.HSTS.IncludeSubdomains || c.HSTS.MaxAge < hstsYear) {
		bad("hsts.preload", "needs hsts.include_subdomains and an hsts.max_age of at least %d (a year), as preload lists require", hstsYear)
	}
	if !validNodeID(c.NodeID) {
		bad("node_id", "must be at most %d characters, without spaces or control characters", maxNodeID)
	}
	if c.Admin.Token != "" && len(c.Admin.Token) < 32 {
		bad("admin.token", "must be at least 32 characters (or empty to turn the admin API off)")
	}
	if c.Metrics.Addr != "" {
		if _, port, err := net.SplitHostPort(c.Metrics.Addr); err != nil || port == "" {
			bad("metrics.addr", "%q must be host:port, such as 127.0.0.1:9464", c.Metrics.Addr)
		} else if c.Metrics.Addr == c.Addr {
			bad("metrics.addr", "must differ from addr: it is a listener of its own")
		}
	}
	if c.Metrics.Token != "" && len(c.Metrics.Token) < 32 {
		bad("metrics.token", "must be at least 32 characters (or empty to serve /metrics on the main listener only in dev mode)")
	}
	switch c.OIDC.Registration {
	case RegistrationOff, RegistrationToken, RegistrationOpen:
	default:
		bad("oidc.registration", "%q must be off, token or open", c.OIDC.Registration)
	}
	if c.OIDC.RegistrationsPerNetwork < 1 {
		bad("oidc.registrations_per_network", "must be at least 1")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q must be debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "json", "text":
	default:
		bad("log.format", "%q must be json or text", c.Log.Format)
	}
	if !c.Dev && c.SMTP.URL == "" {
		bad("smtp.url", "must be set outside dev mode (FOYER_SMTP_URL), e.g. smtps://user:pass@smtp.example.com:465")
	}
	if c.SMTP.URL != "" {
		if u, err := url.Parse(c.SMTP.URL); err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Hostname() == "" {
			bad("smtp.url", "must look like smtp://host:port or smtps://user:pass@host:465")
		}
	}
	if c.SMS.WebhookURL != "" {
		if u, err := url.Parse(c.SMS.WebhookURL); err != nil || u.Hostname() == "" || (u.Scheme != "https" && !(c.Dev && u.Scheme == "http")) {
			bad("sms.webhook_url", "must be an https:// URL (http:// in dev mode)")
		}
	}
	if c.SMTP.From == "" {
		bad("smtp.from", "must not be empty")
	} else if a, err := mail.ParseAddress(c.SMTP.From); err != nil {
		bad("smtp.from", "%q is not an address like \"Shop <id@shop.example>\"", c.SMTP.From)
	} else if local, domain, _ := strings.Cut(a.Address, "@"); !isASCII(local) {
		bad("smtp.from", "the part before @ must be ASCII: not every mail server takes UTF-8 addresses")
	} else if !c.Dev && (!strings.Contains(domain, ".") || strings.EqualFold(domain, "localhost")) {
		bad("smtp.from", "must be an address at your own domain outside dev mode (FOYER_SMTP_FROM): mail from %s fails SPF and DMARC checks", domain)
	}
	// The bounds are password.Params.Validate's (a test keeps them so):
	// past them every sign-up would fail, and sign-ins of unknown
	// addresses would skip the dummy hash.
	if c.Password.MemoryKiB < 1024 || c.Password.MemoryKiB > maxPasswordMemoryKiB {
		bad("password.memory_kib", "must be between 1024 and %d (2 GiB)", maxPasswordMemoryKiB)
	}
	if c.Password.Iterations < 1 || c.Password.Iterations > maxPasswordIterations {
		bad("password.iterations", "must be between 1 and %d", maxPasswordIterations)
	}
	if c.Password.Parallelism < 1 {
		bad("password.parallelism", "must be at least 1")
	}
	if c.Password.MaxConcurrent < 0 {
		bad("password.max_concurrent", "must not be negative")
	}
	for key, v := range map[string]Duration{"retention.events": c.Retention.Events, "retention.decisions": c.Retention.Decisions,
		"retention.sessions":           c.Retention.Sessions,
		"retention.pending_identities": c.Retention.PendingIdentities} {
		if v < 0 || (v > 0 && v < Duration(time.Hour)) {
			bad(key, "must be at least 1h, or 0 to keep for ever")
		}
	}
	for name, d := range c.Domains {
		if p := c.Retention.PendingIdentities; p > 0 && d != nil && p < 2*d.FlowLifetime {
			bad("retention.pending_identities", "must be at least twice domains.%s.flow_lifetime, so that no sign-up in progress loses its account", name)
		}
	}
	if len(c.Domains) == 0 || c.Domains[DefaultDomain] == nil {
		bad("domains", "must configure the %q domain", DefaultDomain)
	}
	for name, d := range c.Domains {
		if name != DefaultDomain {
			bad("domains."+name, "unknown domain (only %q exists in this version)", DefaultDomain)
			continue
		}
		d.validate("domains."+name, bad)
	}
	return errors.Join(errs...)
}

func (d *Domain) validate(prefix string, bad func(key, format string, args ...any)) {
	positive := func(key string, v Duration) {
		if v <= 0 {
			bad(prefix+"."+key, "must be a positive duration")
		}
	}
	positive("session.lifetime", d.Session.Lifetime)
	positive("session.idle_timeout", d.Session.IdleTimeout)
	positive("flow_lifetime", d.FlowLifetime)
	positive("verification.code_lifetime", d.Verification.CodeLifetime)
	positive("login.delay", d.Login.Delay)
	if d.Session.IdleTimeout > d.Session.Lifetime {
		bad(prefix+".session.idle_timeout", "must not exceed session.lifetime")
	}
	if d.Verification.CodeLifetime > Duration(time.Hour) {
		bad(prefix+".verification.code_lifetime", "must be at most 1h: codes are short-lived")
	} else if d.Verification.CodeLifetime > 0 && d.Verification.CodeLifetime < Duration(time.Minute) {
		bad(prefix+".verification.code_lifetime", "must be at least 1m: a mailed code needs time to arrive (and the mail says it in minutes)")
	}
	if d.Verification.MaxAttempts < 1 || d.Verification.MaxAttempts > 10 {
		bad(prefix+".verification.max_attempts", "must be between 1 and 10")
	}
	if d.Verification.MaxCodes < 1 || d.Verification.MaxCodes > 20 {
		bad(prefix+".verification.max_codes", "must be between 1 and 20")
	}
	if d.Verification.ResendAfter < 0 {
		bad(prefix+".verification.resend_after", "must not be negative")
	}
	if d.Login.FreeFailures < 1 {
		bad(prefix+".login.free_failures", "must be at least 1")
	}
	if d.Login.MaxDelay < d.Login.Delay {
		bad(prefix+".login.max_delay", "must be at least login.delay")
	}
	if d.Registration.PerNetwork < 1 {
		bad(prefix+".registration.per_network", "must be at least 1")
	}
	if d.FlowsPerNetwork < 1 {
		bad(prefix+".flows_per_network", "must be at least 1")
	}
	if d.FreshFor < Duration(time.Minute) || d.FreshFor > Duration(24*time.Hour) {
		bad(prefix+".fresh_for", "must be between 1m and 24h")
	}
	switch d.AppsRequireAAL {
	case "", "aal1", "aal2":
	default:
		bad(prefix+".apps_require_aal", "must be aal1 or aal2")
	}
	if d.Recovery.CoolOff < 0 || d.Recovery.CoolOff > Duration(30*24*time.Hour) {
		bad(prefix+".recovery.cool_off", "must be between 0 and 720h")
	}
	for _, b := range []**bool{&d.Login.EmailCode, &d.Login.TOTP, &d.Login.Passkeys, &d.Session.KeepOfflineGrants, &d.Recovery.Enabled} {
		if *b == nil {
			yes := true
			*b = &yes
		}
	}
	if d.Registration.RequireVerification == nil {
		yes := true
		d.Registration.RequireVerification = &yes
	}
	if d.PasswordMinLength < 1 {
		bad(prefix+".password_min_length", "must be at least 1")
	}
	if d.PasswordMaxLength < d.PasswordMinLength || d.PasswordMaxLength > 1024 {
		bad(prefix+".password_max_length", "must be between password_min_length and 1024")
	}
	if d.ProductName == "" {
		bad(prefix+".product_name", "must not be empty")
	}
	d.Branding.validate(prefix+".branding", bad)
	validateProviders(prefix, d.Providers, bad)
	if d.DefaultLanguage == "" {
		d.DefaultLanguage = "en"
	}
	if _, err := language.Parse(d.DefaultLanguage); err != nil {
		bad(prefix+".default_language", "must be a language tag such as en, de or pt-BR")
	}
}

// MaxRequestTimeout bounds request_timeout: an answer must still be
// written before the HTTP server's write timeout (60 s) cuts the
// connection.
const MaxRequestTimeout = 55 * time.Second

// SendHSTS reports whether responses carry Strict-Transport-Security:
// outside dev mode, when the public URL is https.
func (c *Config) SendHSTS() bool {
	return !c.Dev && strings.HasPrefix(c.PublicURL, "https://")
}

// PublicHost is the host name of the public URL when it is a domain name
// (id.example.com), for what must name Foyer's domain: the default mail
// sender, the mail server greeting. It is "" for an address or a name
// that is not fully qualified (localhost).
func (c *Config) PublicHost() string {
	u, err := url.Parse(c.PublicURL)
	if err != nil {
		return ""
	}
	host := u.Hostname()
	if !strings.Contains(host, ".") || net.ParseIP(host) != nil {
		return ""
	}
	return host
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
