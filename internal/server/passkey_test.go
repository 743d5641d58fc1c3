package server_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/foyer-id/foyer/internal/api"
	"github.com/foyer-id/foyer/internal/credential/passkey"
	"github.com/foyer-id/foyer/internal/credential/passkey/passkeytest"
	"github.com/foyer-id/foyer/internal/server/servertest"
	"github.com/foyer-id/foyer/internal/store"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

// A native app adds a passkey and signs in with it through the JSON API.
func TestPasskeysThroughAPI(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		env := servertest.Start(t, db, servertest.Localhost())
		auth := passkeytest.New(t, env.URL, "localhost")
		id, code := startAPIRegistration(t, env, "tara@example.com")
		var signedUp api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/flows/"+id+"/code", "", map[string]any{"code": code}, &signedUp), 200)
		tok := signedUp.SessionToken

		var opts api.PasskeyOptions
		expectStatus(t, env.JSON(t, "POST", "/api/passkeys/options", tok, nil, &opts), 200)
		resp, soft := auth.Register(opts.Options)
		var added passkey.Credential
		expectStatus(t, env.JSON(t, "POST", "/api/passkeys", tok, map[string]any{"challenge_id": opts.ChallengeID, "name": "Pixel", "credential": json.RawMessage(resp)}, &added), 201)
		if added.Name != "Pixel" {
			t.Fatalf("added: %+v", added)
		}
		list := env.JSON(t, "GET", "/api/passkeys", tok, nil, nil)
		if !strings.Contains(list.Body, `"Pixel"`) {
			t.Fatalf("list: %s", list.Body)
		}
		if m := env.MailTo(t, "tara@example.com", 2); !strings.Contains(m.Text, "passkey") {
			t.Fatalf("no notice: %s", m.Text)
		}

		// Sign in with it, without any identifier.
		var lo api.PasskeyOptions
		expectStatus(t, env.JSON(t, "POST", "/api/passkeys/login/options", "", nil, &lo), 200)
		var in api.FlowResponse
		expectStatus(t, env.JSON(t, "POST", "/api/passkeys/login", "", map[string]any{"challenge_id": lo.ChallengeID, "credential": json.RawMessage(auth.Get(lo.Options, soft, passkeytest.Tamper{}))}, &in), 200)
		if in.SessionToken == "" || in.Session.AAL != "aal2" || in.Session.Methods[0] != "passkey" || in.Identity.Email().Value != "tara@example.com" {
			t.Fatalf("passkey sign-in: %+v", in.Session)
		}
		// The challenge works once; another origin is refused.
		expectStatus(t, env.JSON(t, "POST", "/api/passkeys/login", "", map[string]any{"challenge_id": lo.ChallengeID, "credential": json.RawMessage(auth.Get(lo.Options, soft, passkeytest.Tamper{}))}, nil), 400)
		expectStatus(t, env.JSON(t, "POST", "/api/passkeys/login/options", "", nil, &lo), 200)
		expectStatus(t, env.JSON(t, "POST", "/api/passkeys/login", "", map[string]any{"challenge_id": lo.ChallengeID, "credential": json.RawMessage(auth.Get(lo.Options, soft, passkeytest.Tamper{Origin: "https://evil.example"}))}, nil), 400)

		// Changing passkeys needs a recent sign-in.
		env.Clock.Advance(11 * time.Minute)
		expectStatus(t, env.JSON(t, "DELETE", "/api/passkeys/"+added.ID, tok, nil, nil), 401)
		expectStatus(t, env.JSON(t, "DELETE", "/api/passkeys/"+added.ID, in.SessionToken, nil, nil), 401)
		expectStatus(t, env.JSON(t, "POST", "/api/passkeys/login/options", "", nil, &lo), 200)
		var fresh api.FlowResponse
		env.JSON(t, "POST", "/api/passkeys/login", "", map[string]any{"challenge_id": lo.ChallengeID, "credential": json.RawMessage(auth.Get(lo.Options, soft, passkeytest.Tamper{}))}, &fresh)
		expectStatus(t, env.JSON(t, "DELETE", "/api/passkeys/"+added.ID, fresh.SessionToken, nil, nil), 204)
		expectStatus(t, env.JSON(t, "POST", "/api/passkeys/login/options", "", nil, &lo), 200)
		expectStatus(t, env.JSON(t, "POST", "/api/passkeys/login", "", map[string]any{"challenge_id": lo.ChallengeID, "credential": json.RawMessage(auth.Get(lo.Options, soft, passkeytest.Tamper{}))}, nil), 400)
	})
}
