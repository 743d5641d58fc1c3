package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/credential/password"
)

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "foyer.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestLoadFileAndEnv(t *testing.T) {
	p := write(t, `
dev: true
addr: 127.0.0.1:9999
smtp:
  from: "Shop <id@shop.example>"
domains:
  customers:
    product_name: Shop
    session:
      idle_timeout: 2h
`)
	c, err := Load(p, []string{"FOYER_SMTP_URL=smtp://127.0.0.1:2525", "FOYER_LOG_LEVEL=debug", "HOME=/root"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Finish(); err != nil {
		t.Fatal(err)
	}
	d := c.Domains[DefaultDomain]
	if c.Addr != "127.0.0.1:9999" || c.SMTP.URL != "smtp://127.0.0.1:2525" || c.Log.Level != "debug" || c.SMTP.From != "Shop <id@shop.example>" {
		t.Fatalf("config = %+v", c)
	}
	if d.ProductName != "Shop" || d.Session.IdleTimeout.D() != 2*time.Hour || d.Session.Lifetime.D() != 30*24*time.Hour || d.Verification.MaxAttempts != 5 {
		t.Fatalf("domain = %+v (defaults must survive a partial domain)", d)
	}
	if c.PublicURL != "http://localhost:9999" || c.DSN != filepath.Join("data", "foyer.db") {
		t.Fatalf("derived: public_url %q dsn %q", c.PublicURL, c.DSN)
	}
}

func TestValidateNamesTheKey(t *testing.T) {
	tests := []struct {
		file, env, key string
	}{
		{"dev: false\n", "", "public_url"},
		{"dev: false\npublic_url: http://id.example.com\n", "", "public_url: must use https"},
		{"dev: false\npublic_url: https://id.example.com\nsmtp: {url: smtp://x:25}\n", "", "secret"},
		{"dev: true\nlog: {level: loud}\n", "", "log.level"},
		{"dev: true\nsmtp: {url: 'http://mail'}\n", "", "smtp.url"},
		{"dev: true\ndomains: {customers: {session: {idle_timeout: 0s}}}\n", "", "domains.customers.session.idle_timeout"},
		{"dev: true\ndomains: {customers: {verification: {max_attempts: 50}}}\n", "", "domains.customers.verification.max_attempts"},
		{"dev: true\ndomains: {customers: {verification: {code_lifetime: 30s}}}\n", "", "domains.customers.verification.code_lifetime"},
		{"dev: true\ndomains: {workforce: {}}\n", "", "domains.workforce"},
		{"dev: true\n", "FOYER_DEV=maybe", "FOYER_DEV"},
		{"dev: true\nsesion: {}\n", "", `line 2: unknown key "sesion"`},
		{"dev: true\ndomains:\n  customers:\n    sesion: {lifetime: 1h}\n", "", `domains.customers: line 4: unknown key "sesion"`},
		{"dev: true\ndomains:\n  customers:\n    session:\n      lifetim: 1h\n", "", `domains.customers: line 5: unknown key "lifetim"`},
		{"dev: true\nsmtp: {from: garbage}\n", "", "smtp.from"},
		{"dev: true\npassword:\n  memory_kib: lots\n", "", "password.memory_kib (line 3)"},
		{"dev: true\ntrusted_proxies: 10.0.0.0/8\n", "", "trusted_proxies (line 2)"},
		{"dev: true\ndomains:\n  customers:\n    flow_lifetime: forever\n", "", "domains.customers.flow_lifetime (line 4)"},
		{"dev: true\npublic_url: https://id.example.com/auth\n", "", "public_url"},
		{"dev: true\npassword: {memory_kib: 4000000000}\n", "", "password.memory_kib"},
		{"dev: true\npassword: {iterations: 100000}\n", "", "password.iterations"},
		{"dev: true\n", "FOYER_PASSWORD_MEMORY_KIB=4294968320", "FOYER_PASSWORD_MEMORY_KIB"},
		{"dev: true\ndomains: {customers: {flow_lifetime: soon}}\n", "", "domains.customers.flow_lifetime (line 2): \"soon\" is not a duration"},
		{"dev: true\ntrusted_proxies: [10.0.0.0/33]\n", "", "trusted_proxies"},
		{"dev: true\n", "FOYER_TRUSTED_PROXIES=10.0.0.1, proxy.internal", "trusted_proxies"},
		{"dev: true\nrequest_timeout: 0s\n", "", "request_timeout"},
		{"dev: true\nrequest_timeout: 2m\n", "", "request_timeout"},
		{"dev: true\n", "FOYER_REQUEST_TIMEOUT=soon", "FOYER_REQUEST_TIMEOUT"},
		{"dev: true\nhsts: {max_age: -1}\n", "", "hsts.max_age"},
		{"dev: true\nhsts: {preload: true}\n", "", "hsts.preload"},
		{"dev: true\nhsts: {preload: true, include_subdomains: true, max_age: 600}\n", "", "hsts.preload"},
		{"dev: true\nnode_id: 'node a'\n", "", "node_id"},
		{"dev: true\ndomains: {customers: {fresh_for: 10s}}\n", "", "domains.customers.fresh_for"},
		{"dev: true\ndomains: {customers: {apps_require_aal: aal3}}\n", "", "domains.customers.apps_require_aal"},
		{"dev: true\nretention: {decisions: 5m}\n", "", "retention.decisions"},
		{"dev: true\n", "FOYER_NODE_ID=" + strings.Repeat("n", 101), "node_id"},
		{"dev: true\nmetrics: {addr: '9464'}\n", "", "metrics.addr"},
		{"dev: true\naddr: 127.0.0.1:4455\nmetrics: {addr: '127.0.0.1:4455'}\n", "", "metrics.addr"},
		{"dev: true\nmetrics: {token: short}\n", "", "metrics.token"},
		{"dev: true\n", "FOYER_TRACING=sometimes", "FOYER_TRACING"},
	}
	for _, tt := range tests {
		var env []string
		if tt.env != "" {
			env = []string{tt.env}
		}
		c, err := Load(write(t, tt.file), env)
		if err == nil {
			err = c.Finish()
		}
		if err == nil || !strings.Contains(err.Error(), tt.key) {
			t.Errorf("%q: error %v, want it to name %q", tt.file, err, tt.key)
		}
	}
}

// An admin token read from a file keeps no trailing newline, which no
// client would send.
func TestAdminTokenIsTrimmed(t *testing.T) {
	token := strings.Repeat("t", 40)
	c, err := Load("", []string{"FOYER_DEV=true", "FOYER_ADMIN_TOKEN=" + token + "\n"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Finish(); err != nil || c.Admin.Token != token {
		t.Fatalf("token %q, %v", c.Admin.Token, err)
	}
}

// The configuration's Argon2id limits are the hasher's: a configuration
// that loads can always hash.
func TestPasswordLimitsMatchTheHasher(t *testing.T) {
	p := password.DefaultParams()
	p.Memory, p.Iterations = maxPasswordMemoryKiB, maxPasswordIterations
	if err := p.Validate(); err != nil {
		t.Fatalf("the configuration's maxima: %v", err)
	}
	more, longer := p, p
	more.Memory++
	longer.Iterations++
	if more.Validate() == nil || longer.Validate() == nil {
		t.Error("the hasher takes parameters past the configuration's maxima")
	}
}

func TestDefaultsAreValidInDev(t *testing.T) {
	c, err := Load("", nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Dev = true
	if err := c.Finish(); err != nil {
		t.Fatal(err)
	}
	if c.Password.MemoryKiB != 19456 || c.Password.Iterations != 2 {
		t.Fatalf("argon2 defaults = %+v", c.Password)
	}
}

// The example file in the repository root stays loadable and documents
// every default.
func TestExampleFile(t *testing.T) {
	c, err := Load("../../foyer.example.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Secret = strings.Repeat("x", 32)
	c.SMTP.URL = "smtp://127.0.0.1:25"
	if err := c.Finish(); err != nil {
		t.Fatal(err)
	}
	def := Default()
	def.PublicURL, def.Secret, def.SMTP.URL, def.DSN = c.PublicURL, c.Secret, c.SMTP.URL, c.DSN
	if got, want := *c.Domains[DefaultDomain], *def.Domains[DefaultDomain]; got.Session.Lifetime != want.Session.Lifetime ||
		got.Session.IdleTimeout != want.Session.IdleTimeout || *got.Session.KeepOfflineGrants != *want.Session.KeepOfflineGrants ||
		got.Verification != want.Verification || *got.Login.EmailCode != *want.Login.EmailCode || *got.Login.TOTP != *want.Login.TOTP || *got.Login.Passkeys != *want.Login.Passkeys ||
		got.Login.FreeFailures != want.Login.FreeFailures || got.Login.Delay != want.Login.Delay || got.Login.MaxDelay != want.Login.MaxDelay || got.FlowLifetime != want.FlowLifetime ||
		got.PasswordMinLength != want.PasswordMinLength || *got.Registration.RequireVerification != *want.Registration.RequireVerification ||
		got.Registration.PerNetwork != want.Registration.PerNetwork {
		t.Fatalf("example domain %+v differs from defaults %+v", got, want)
	}
	if c.Password != def.Password || c.Log != def.Log || c.Addr != def.Addr {
		t.Fatalf("example %+v differs from defaults %+v", c, def)
	}
}

func TestTrustedProxies(t *testing.T) {
	c, err := Load("", []string{"FOYER_DEV=true", "FOYER_TRUSTED_PROXIES=10.0.0.0/8, 127.0.0.1 ,::1"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Finish(); err != nil {
		t.Fatal(err)
	}
	got, err := c.Proxies()
	if err != nil || len(got) != 3 || got[0].String() != "10.0.0.0/8" || got[1].String() != "127.0.0.1/32" || got[2].String() != "::1/128" {
		t.Fatalf("proxies = %v, %v", got, err)
	}
}

// A deployment mails from its own host unless smtp.from says otherwise,
// never from localhost, and never from a non-ASCII local part.
func TestSMTPFromOutsideDevMode(t *testing.T) {
	prod := []string{"FOYER_PUBLIC_URL=https://id.shop.example", "FOYER_SMTP_URL=smtps://relay.example:465", "FOYER_SECRET=" + strings.Repeat("s", 40)}
	c, err := Load("", prod)
	if err == nil {
		err = c.Finish()
	}
	if err != nil || c.SMTP.From != "Foyer <no-reply@id.shop.example>" {
		t.Fatalf("derived From %q, %v", c.SMTP.From, err)
	}
	for from, want := range map[string]string{
		"no-reply@localhost":      "fails SPF",
		"Shop <zoë@shop.example>": "must be ASCII",
	} {
		c, err := Load("", append(prod, "FOYER_SMTP_FROM="+from))
		if err == nil {
			err = c.Finish()
		}
		if err == nil || !strings.Contains(err.Error(), "smtp.from") || !strings.Contains(err.Error(), want) {
			t.Errorf("FOYER_SMTP_FROM=%s: %v", from, err)
		}
	}
}

// PublicHost names Foyer's domain only when the public URL has one.
func TestPublicHost(t *testing.T) {
	for url, want := range map[string]string{
		"https://id.shop.example":      "id.shop.example",
		"https://id.shop.example:8443": "id.shop.example",
		"http://localhost:4455":        "",
		"http://127.0.0.1:4455":        "",
		"https://[2001:db8::1]":        "",
	} {
		if got := (&Config{PublicURL: url}).PublicHost(); got != want {
			t.Errorf("%s: %q, want %q", url, got, want)
		}
	}
}

// request_timeout and the HSTS settings come from the file or the
// environment; HSTS goes out only outside dev mode, over https.
func TestRequestTimeoutAndHSTS(t *testing.T) {
	c, err := Load(write(t, "dev: true\nrequest_timeout: 3s\nhsts: {max_age: 600}\n"),
		[]string{"FOYER_HSTS_INCLUDE_SUBDOMAINS=true"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Finish(); err != nil {
		t.Fatal(err)
	}
	if c.RequestTimeout.D() != 3*time.Second || c.HSTS.Header() != "max-age=600; includeSubDomains" || c.SendHSTS() {
		t.Fatalf("request_timeout %s, HSTS %q, sent in dev mode: %v", c.RequestTimeout.D(), c.HSTS.Header(), c.SendHSTS())
	}
	c, err = Load("", []string{"FOYER_REQUEST_TIMEOUT=750ms", "FOYER_HSTS_PRELOAD=true", "FOYER_HSTS_INCLUDE_SUBDOMAINS=true"})
	if err != nil {
		t.Fatal(err)
	}
	c.PublicURL, c.Secret, c.SMTP.URL = "https://id.example.com", strings.Repeat("s", 32), "smtp://mail.example.com:25"
	if err := c.Finish(); err != nil {
		t.Fatal(err)
	}
	if c.RequestTimeout.D() != 750*time.Millisecond || !c.SendHSTS() || c.HSTS.Header() != "max-age=31536000; includeSubDomains; preload" {
		t.Fatalf("request_timeout %s, HSTS %q sent %v", c.RequestTimeout.D(), c.HSTS.Header(), c.SendHSTS())
	}
	if d := Default(); d.RequestTimeout.D() != 10*time.Second || d.HSTS.Header() != "max-age=31536000" {
		t.Fatalf("defaults: request_timeout %s, HSTS %q", d.RequestTimeout.D(), d.HSTS.Header())
	}
}

// GeoIP databases are a comma-separated list, from the file or the
// environment.
func TestGeoIPDatabases(t *testing.T) {
	c, err := Load(write(t, "dev: true\ngeoip: {database: /a/city.mmdb}\n"), []string{"FOYER_GEOIP_DATABASE= /x/city.mmdb , /x/asn.mmdb,"})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.GeoIP.Databases(); len(got) != 2 || got[0] != "/x/city.mmdb" || got[1] != "/x/asn.mmdb" {
		t.Fatalf("databases = %q", got)
	}
	if got := (GeoIP{}).Databases(); got != nil {
		t.Fatalf("none = %q", got)
	}
}

// Metrics are counted when they are served somewhere: on a listener of
// their own, on the main one behind a token, or there in dev mode; a
// token read from a file keeps no trailing newline.
func TestMetricsSettings(t *testing.T) {
	prod := []string{"FOYER_PUBLIC_URL=https://id.shop.example", "FOYER_SMTP_URL=smtps://relay.example:465", "FOYER_SECRET=" + strings.Repeat("s", 40)}
	token := strings.Repeat("m", 40)
	tests := []struct {
		env          []string
		on, onMain   bool
		addr, bearer string
	}{
		{env: prod},
		{env: append(prod, "FOYER_METRICS_ADDR=127.0.0.1:9464"), on: true, addr: "127.0.0.1:9464"},
		{env: append(prod, "FOYER_METRICS_TOKEN="+token+"\n"), on: true, onMain: true, bearer: token},
		{env: []string{"FOYER_DEV=true"}, on: true, onMain: true},
	}
	for _, tt := range tests {
		c, err := Load("", tt.env)
		if err == nil {
			err = c.Finish()
		}
		if err != nil {
			t.Fatalf("%v: %v", tt.env, err)
		}
		if c.MetricsOn() != tt.on || c.MetricsOnMain() != tt.onMain || c.Metrics.Addr != tt.addr || c.Metrics.Token != tt.bearer {
			t.Errorf("%v: on %v, on main %v, %+v; want %v, %v", tt.env, c.MetricsOn(), c.MetricsOnMain(), c.Metrics, tt.on, tt.onMain)
		}
	}
	c, err := Load(write(t, "dev: true\ntracing: {enabled: true}\n"), nil)
	if err != nil || !c.Tracing.Enabled {
		t.Fatalf("tracing.enabled: %+v, %v", c.Tracing, err)
	}
}
