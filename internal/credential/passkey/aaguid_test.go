package passkey_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/fxamacker/cbor/v2"
	"github.com/google/uuid"

	"github.com/foyer-id/foyer/internal/credential/passkey"
	"github.com/foyer-id/foyer/internal/credential/passkey/passkeytest"
	"github.com/foyer-id/foyer/internal/store/storetest"
)

const iCloudKeychain = "fbfc3007-154e-4ecc-8c0b-6e020557d7bd"

func TestProviderOf(t *testing.T) {
	for _, tc := range []struct {
		aaguid   string
		want     string
		onDevice bool
	}{
		{iCloudKeychain, "iCloud Keychain", true},
		{"FBFC3007-154E-4ECC-8C0B-6E020557D7BD", "iCloud Keychain", true},
		{"ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4", "Google Password Manager", true},
		{"08987058-cadc-4b81-b6e1-30de50dcbe96", "Windows Hello", false},
		{"adce0002-35bc-c60a-648b-0b25f1f05503", "Chrome on Mac", false},
		{"ee882879-721c-4913-9775-3dfcce97072a", "YubiKey 5 Series", false},
		{uuid.Nil.String(), "", false},
		{"01020304-0506-0708-0102-030405060708", "", false},
		{"", "", false},
		{"not a uuid", "", false},
	} {
		p, ok := passkey.ProviderOf(tc.aaguid)
		if ok != (tc.want != "") || p.Name != tc.want || p.OnDevice != tc.onDevice {
			t.Errorf("ProviderOf(%q) = %+v, %v; want %q (on device %v)", tc.aaguid, p, ok, tc.want, tc.onDevice)
		}
	}
}

// Every AAGUID of the table is written as ResponseAAGUID writes one (a
// lower-case UUID), or it would never match.
func TestProviderAAGUIDsAreCanonical(t *testing.T) {
	for _, id := range passkey.KnownAAGUIDs() {
		u, err := uuid.Parse(id)
		if err != nil || u.String() != id || u == uuid.Nil {
			t.Errorf("AAGUID %q is not a canonical UUID (%v)", id, err)
		}
	}
}

// creationOptions is what the software authenticator needs of a
// ceremony's options.
const creationOptions = `{"publicKey":{"challenge":"Y2hhbGxlbmdl","rp":{"id":"id.example.com"},"user":{"id":"YWxpY2U"}}}`

func TestResponseAAGUID(t *testing.T) {
	auth := passkeytest.New(t, origin, rpID)
	resp, _ := auth.Create([]byte(creationOptions), passkeytest.Tamper{})
	if got := passkey.ResponseAAGUID(resp); got != uuid.Nil.String() {
		t.Errorf("software authenticator's AAGUID = %q, want all zeros", got)
	}
	if got := passkey.ResponseAAGUID(withAAGUID(t, resp, iCloudKeychain)); got != iCloudKeychain {
		t.Errorf("AAGUID = %q, want %s", got, iCloudKeychain)
	}
	for _, bad := range []string{``, `{}`, `not json`, `{"type":"public-key","response":{"attestationObject":"AAAA"}}`} {
		if got := passkey.ResponseAAGUID([]byte(bad)); got != "" {
			t.Errorf("ResponseAAGUID(%q) = %q, want \"\"", bad, got)
		}
	}
}

// The AAGUID read before the ceremony is the one the passkey is stored
// with.
func TestResponseAAGUIDIsTheStoredOne(t *testing.T) {
	f := setup(t, storetest.NewSQLite(t))
	opts, ch := f.beginRegistration("alice")
	resp, _ := f.auth.Register(opts)
	resp = withAAGUID(t, resp, iCloudKeychain)
	c, err := f.svc.FinishRegistration(context.Background(), ch, "alice", "", resp)
	if err != nil {
		t.Fatal(err)
	}
	if c.AAGUID != passkey.ResponseAAGUID(resp) {
		t.Fatalf("stored AAGUID %q, read before %q", c.AAGUID, passkey.ResponseAAGUID(resp))
	}
}

// withAAGUID returns a registration response of the software
// authenticator as if its authenticator had the given AAGUID. Nothing
// signs the AAGUID of a "none" attestation, so the response still
// verifies.
func withAAGUID(t *testing.T, response []byte, aaguid string) []byte {
	t.Helper()
	id := uuid.MustParse(aaguid)
	var msg map[string]any
	if err := json.Unmarshal(response, &msg); err != nil {
		t.Fatal(err)
	}
	r := msg["response"].(map[string]any)
	raw, err := b64.DecodeString(r["attestationObject"].(string))
	if err != nil {
		t.Fatal(err)
	}
	var att map[string]any
	if err := cbor.Unmarshal(raw, &att); err != nil {
		t.Fatal(err)
	}
	authData := att["authData"].([]byte)
	copy(authData[37:53], id[:]) // after the RP id hash (32), flags (1) and counter (4)
	enc, err := cbor.CTAP2EncOptions().EncMode()
	if err != nil {
		t.Fatal(err)
	}
	if raw, err = enc.Marshal(att); err != nil {
		t.Fatal(err)
	}
	r["attestationObject"], r["authenticatorData"] = b64.EncodeToString(raw), b64.EncodeToString(authData)
	out, err := json.Marshal(msg)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
