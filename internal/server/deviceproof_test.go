package server_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/foyer-id/foyer/internal/api"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// app is a native app that proves its device with a key of its own.
type app struct {
	t   *testing.T
	env *servertest.Env
	key *ecdsa.PrivateKey
}

// headers returns the headers of a request of method to path from the
// app: a fresh device proof.
func (a *app) headers(method, path string) http.Header {
	a.t.Helper()
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: a.key}, (&jose.SignerOptions{EmbedJWK: true}).WithType("dpop+jwt"))
	if err != nil {
		a.t.Fatal(err)
	}
	jti := make([]byte, 16)
	_, _ = rand.Read(jti)
	payload, _ := json.Marshal(map[string]any{"htm": method, "htu": a.env.URL + path, "iat": a.env.Clock.Now().Unix(),
		"jti": base64.RawURLEncoding.EncodeToString(jti)})
	jws, err := signer.Sign(payload)
	if err != nil {
		a.t.Fatal(err)
	}
	proof, _ := jws.CompactSerialize()
	return http.Header{"Dpop": {proof}}
}

// signIn signs in from the app and returns the answer's status.
func (a *app) signIn(email string) int {
	a.t.Helper()
	var start api.FlowResponse
	a.env.JSONWith(a.t, "POST", "/api/login", a.headers("POST", "/api/login"), nil, &start)
	path := "/api/login/" + start.Flow.ID
	return a.env.JSONWith(a.t, "POST", path, a.headers("POST", path), map[string]any{"identifier": email, "password": goodPassword}, nil).StatusCode
}

// A native app proves its device with a key: the device it signed up on
// is known at its next sign-in (no notice), and nobody can claim it by
// sending its id; a proof that does not hold is refused.
func TestAppDeviceProof(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db)
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		phone := &app{t: t, env: env, key: key}
		const email = "app@example.com"
		id, code := startAPIRegistration(t, env, email)
		path := "/api/flows/" + id + "/code"
		var done api.FlowResponse
		expectStatus(t, env.JSONWith(t, "POST", path, phone.headers("POST", path), map[string]any{"code": code}, &done), 200)
		if got := phone.signIn(email); got != 200 {
			t.Fatalf("sign-in from the proven device: %d", got)
		}
		if n := noticesTo(t, env, email); n != 0 {
			t.Fatalf("the proven device was announced as new (%d notices)", n)
		}
		// Its id, sent as a plain device id, is nobody's device.
		devices, err := env.Server.Decisions.List(t.Context(), sessionQuery(done.Identity.ID))
		if err != nil || len(devices) == 0 || !strings.HasPrefix(devices[0].Input.DeviceID, "dk:") {
			t.Fatalf("the sign-up's device: %+v, %v", devices, err)
		}
		claimed := http.Header{"X-Foyer-Device": {devices[0].Input.DeviceID}}
		r, _ := signInFrom(t, env, claimed, email, goodPassword)
		expectStatus(t, r, 200)
		if n := noticesTo(t, env, email); n != 1 {
			t.Fatalf("a claimed device id passed for the proven device (%d notices)", n)
		}
		// A replayed proof, or one for another request, changes nothing.
		var start api.FlowResponse
		env.JSONWith(t, "POST", "/api/login", nil, nil, &start)
		path = "/api/login/" + start.Flow.ID
		h := phone.headers("POST", path)
		expectStatus(t, env.JSONWith(t, "POST", path, h, map[string]any{"identifier": email, "password": goodPassword}, nil), 200)
		var p api.Problem
		expectStatus(t, env.JSONWith(t, "POST", path, h, map[string]any{"identifier": email, "password": goodPassword}, &p), 400)
		if !strings.HasSuffix(p.Type, "/invalid-device-proof") || !strings.Contains(p.Detail, "used before") {
			t.Fatalf("replayed proof: %+v", p)
		}
		expectStatus(t, env.JSONWith(t, "GET", "/sessions/whoami", phone.headers("GET", "/api/other"), nil, &p), 400)
		env.Clock.Advance(2 * time.Minute)
		late := phone.headers("POST", "/api/login")
		env.Clock.Advance(2 * time.Minute)
		expectStatus(t, env.JSONWith(t, "POST", "/api/login", late, nil, &p), 400)
	})
}
