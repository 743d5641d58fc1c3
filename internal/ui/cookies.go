package ui

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
	"time"
)

// Cookies names and writes Foyer's browser cookies. Outside dev mode they
// are Secure and use the __Host- prefix (no Domain, Path=/), which binds
// them to Foyer's exact origin.
type Cookies struct {
	Secure bool
	// DeviceKey signs the device cookie (see deviceID).
	DeviceKey []byte
}

func (c Cookies) name(base string) string {
	if c.Secure {
		return "__Host-" + base
	}
	return base
}

// Session is the session cookie's name.
func (c Cookies) Session() string { return c.name("foyer_session") }

// CSRF is the anti-forgery cookie's name; its value also binds flows to
// the browser.
func (c Cookies) CSRF() string { return c.name("foyer_csrf") }

// Codes is the short-lived cookie that carries new recovery codes, sealed,
// from the request that made them to the page that shows them once.
func (c Cookies) Codes() string { return c.name("foyer_codes") }

// Device is the long-lived device cookie's name.
func (c Cookies) Device() string { return c.name("foyer_device") }

func (c Cookies) set(w http.ResponseWriter, name, value string, expires time.Time) {
	ck := &http.Cookie{Name: name, Value: value, Path: "/", HttpOnly: true, Secure: c.Secure, SameSite: http.SameSiteLaxMode}
	if !expires.IsZero() {
		ck.Expires = expires
		ck.MaxAge = max(1, int(time.Until(expires).Seconds()))
	}
	http.SetCookie(w, ck)
}

func (c Cookies) clear(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", HttpOnly: true, Secure: c.Secure, SameSite: http.SameSiteLaxMode, MaxAge: -1})
}

func randomToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// browserSecret returns the browser's CSRF secret, creating and setting
// it when missing.
func (c Cookies) browserSecret(w http.ResponseWriter, r *http.Request) string {
	if ck, err := r.Cookie(c.CSRF()); err == nil && len(ck.Value) == 43 {
		return ck.Value
	}
	v := randomToken()
	c.set(w, c.CSRF(), v, time.Time{})
	// Make it visible to the rest of this request too.
	r.AddCookie(&http.Cookie{Name: c.CSRF(), Value: v})
	return v
}

// deviceID returns the browser's device id, creating it when missing. The
// cookie holds the id and its HMAC under DeviceKey: a browser keeps the id
// Foyer gave it, and cannot make one up (an unsigned or altered cookie is
// a new device, and gets a new id).
func (c Cookies) deviceID(w http.ResponseWriter, r *http.Request) string {
	if ck, err := r.Cookie(c.Device()); err == nil {
		if id, tag, ok := strings.Cut(ck.Value, "."); ok && len(id) == 43 && subtle.ConstantTimeCompare([]byte(tag), []byte(c.deviceTag(id))) == 1 {
			return id
		}
	}
	id := randomToken()
	v := id + "." + c.deviceTag(id)
	c.set(w, c.Device(), v, time.Now().AddDate(1, 0, 0))
	// Make it visible to the rest of this request too: one device, one
	// cookie, however often the request asks.
	r.AddCookie(&http.Cookie{Name: c.Device(), Value: v})
	return id
}

// deviceTag is the device cookie's signature of id: HMAC-SHA256 under
// DeviceKey, 128 bits of it.
func (c Cookies) deviceTag(id string) string {
	m := hmac.New(sha256.New, c.DeviceKey)
	m.Write([]byte("foyer device v1\x00" + id))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// binding is what a flow stores to recognise its browser: a hash of the
// CSRF secret, never the secret itself.
func binding(secret string) string {
	sum := sha256.Sum256([]byte("flow-binding\x00" + secret))
	return hex.EncodeToString(sum[:])
}

// maskToken returns a fresh form token for secret: a random pad and the
// pad XOR the secret, so the token differs on every page (no BREACH).
func maskToken(secret string) string {
	raw, err := base64.RawURLEncoding.DecodeString(secret)
	if err != nil {
		return ""
	}
	pad := make([]byte, len(raw))
	_, _ = rand.Read(pad)
	out := make([]byte, 2*len(raw))
	copy(out, pad)
	for i := range raw {
		out[len(raw)+i] = pad[i] ^ raw[i]
	}
	return base64.RawURLEncoding.EncodeToString(out)
}

// validToken reports whether a form token matches the browser's secret.
func validToken(token, secret string) bool {
	raw, err := base64.RawURLEncoding.DecodeString(secret)
	if err != nil || len(raw) == 0 {
		return false
	}
	tok, err := base64.RawURLEncoding.DecodeString(strings.TrimSpace(token))
	if err != nil || len(tok) != 2*len(raw) {
		return false
	}
	got := make([]byte, len(raw))
	for i := range raw {
		got[i] = tok[i] ^ tok[len(raw)+i]
	}
	return subtle.ConstantTimeCompare(got, raw) == 1
}

// Typed is the cookie that carries, sealed, for a minute, the address a
// customer typed into a form that had expired, to the fresh form.
func (c Cookies) Typed() string { return c.name("foyer_typed") }

// typedOwner binds a sealed typed address to its purpose.
const typedOwner = "typed email"

// keepTypedEmail keeps email for the next page's form (typedEmail).
func (p *Pages) keepTypedEmail(w http.ResponseWriter, email string) {
	if email == "" || len(email) > 254 || p.Sealer == nil {
		return
	}
	p.Cookies.set(w, p.Cookies.Typed(), p.Sealer.Seal(typedOwner, []byte(email)), time.Now().Add(time.Minute))
}

// typedEmail returns, once, the address keepTypedEmail kept, or "".
func (p *Pages) typedEmail(w http.ResponseWriter, r *http.Request) string {
	ck, err := r.Cookie(p.Cookies.Typed())
	if err != nil || p.Sealer == nil {
		return ""
	}
	p.Cookies.clear(w, p.Cookies.Typed())
	plain, err := p.Sealer.Open(typedOwner, ck.Value)
	if err != nil {
		return ""
	}
	return string(plain)
}
