// Package passkeytest is a software passkey provider for tests: it stands
// in for the browser and the authenticator, answering the options Foyer's
// Begin* calls return with the JSON credential.toJSON() would produce (ES256
// keys, "none" attestation, discoverable credentials). Tamper changes one
// thing about a ceremony, to test that Foyer refuses it.
package passkeytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

// WebAuthn authenticator data flags.
const (
	flagUP = 0x01
	flagUV = 0x04
	flagBE = 0x08
	flagBS = 0x10
	flagAT = 0x40
)

var b64 = base64.RawURLEncoding

// Authenticator is a software passkey provider standing in for the browser
// and the authenticator: it answers the options Begin* returns with the
// JSON credential.toJSON() would produce. Its keys are ES256 and it stores
// every credential with its user handle (discoverable credentials).
type Authenticator struct {
	t      testing.TB
	origin string
	rpID   string
	synced bool // BE and BS flags
	creds  []*Credential
}

// Credential is a passkey the Authenticator holds.
type Credential struct {
	ID         []byte
	key        *ecdsa.PrivateKey
	userHandle []byte
	counter    uint32
}

// Tamper changes one thing about a single ceremony.
type Tamper struct {
	Origin    string // client data origin instead of the authenticator's
	RPID      string // rpIdHash computed over this instead
	Challenge string // client data challenge instead of the options'
	NoUV      bool   // clear the UV flag
	Type      string // client data type instead of webauthn.create/get
	Counter   *uint32
	// UserHandle replaces the user handle in an assertion.
	UserHandle []byte
	// CredID is the id of the credential Create makes instead of a
	// random one.
	CredID []byte
}

// New returns an authenticator answering as origin for rpID. Its
// passkeys are "synced" (backup eligible and backed up).
func New(t testing.TB, origin, rpID string) *Authenticator {
	return &Authenticator{t: t, origin: origin, rpID: rpID, synced: true}
}

// creationOptions is the part of the options the authenticator reads.
type creationOptions struct {
	PublicKey struct {
		Challenge string `json:"challenge"`
		RP        struct {
			ID string `json:"id"`
		} `json:"rp"`
		User struct {
			ID string `json:"id"`
		} `json:"user"`
	} `json:"publicKey"`
}

type requestOptions struct {
	PublicKey struct {
		Challenge string `json:"challenge"`
		RPID      string `json:"rpId"`
	} `json:"publicKey"`
}

func (a *Authenticator) clientData(typ, challenge string, tm Tamper) []byte {
	if tm.Type != "" {
		typ = tm.Type
	}
	if tm.Challenge != "" {
		challenge = tm.Challenge
	}
	origin := a.origin
	if tm.Origin != "" {
		origin = tm.Origin
	}
	cd, err := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": origin, "crossOrigin": false})
	if err != nil {
		a.t.Fatal(err)
	}
	return cd
}

func (a *Authenticator) authData(rpID string, flags byte, counter uint32, tm Tamper) []byte {
	if tm.RPID != "" {
		rpID = tm.RPID
	}
	if tm.NoUV {
		flags &^= flagUV
	}
	if a.synced {
		flags |= flagBE | flagBS
	}
	if tm.Counter != nil {
		counter = *tm.Counter
	}
	h := sha256.Sum256([]byte(rpID))
	out := append([]byte{}, h[:]...)
	out = append(out, flags)
	return binary.BigEndian.AppendUint32(out, counter)
}

// coseKey encodes an ES256 public key as a COSE_Key (RFC 9053).
func coseKey(t testing.TB, pub *ecdsa.PublicKey) []byte {
	raw, err := pub.Bytes() // 0x04 || X || Y
	if err != nil {
		t.Fatal(err)
	}
	enc, err := cbor.CTAP2EncOptions().EncMode()
	if err != nil {
		t.Fatal(err)
	}
	key, err := enc.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: raw[1:33], -3: raw[33:65]})
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// Create answers creation options like navigator.credentials.create
// followed by credential.toJSON(), with a "none" attestation.
func (a *Authenticator) Create(options []byte, tm Tamper) (response []byte, cred *Credential) {
	t := a.t
	t.Helper()
	var opts creationOptions
	if err := json.Unmarshal(options, &opts); err != nil {
		t.Fatal(err)
	}
	userHandle, err := b64.DecodeString(opts.PublicKey.User.ID)
	if err != nil {
		t.Fatalf("user.id %q: %v", opts.PublicKey.User.ID, err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	cred = &Credential{ID: make([]byte, 32), key: key, userHandle: userHandle}
	_, _ = rand.Read(cred.ID)
	if tm.CredID != nil {
		cred.ID = tm.CredID
	}

	authData := a.authData(opts.PublicKey.RP.ID, flagUP|flagUV|flagAT, 0, tm)
	authData = append(authData, make([]byte, 16)...) // AAGUID: zero
	authData = binary.BigEndian.AppendUint16(authData, uint16(len(cred.ID)))
	authData = append(authData, cred.ID...)
	authData = append(authData, coseKey(t, &key.PublicKey)...)

	enc, err := cbor.CTAP2EncOptions().EncMode()
	if err != nil {
		t.Fatal(err)
	}
	attObj, err := enc.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": authData})
	if err != nil {
		t.Fatal(err)
	}
	spki, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	response, err = json.Marshal(map[string]any{
		"id":                      b64.EncodeToString(cred.ID),
		"rawId":                   b64.EncodeToString(cred.ID),
		"type":                    "public-key",
		"authenticatorAttachment": "platform",
		"clientExtensionResults":  map[string]any{},
		"response": map[string]any{
			"clientDataJSON":     b64.EncodeToString(a.clientData("webauthn.create", opts.PublicKey.Challenge, tm)),
			"attestationObject":  b64.EncodeToString(attObj),
			"authenticatorData":  b64.EncodeToString(authData),
			"publicKey":          b64.EncodeToString(spki),
			"publicKeyAlgorithm": -7,
			"transports":         []string{"hybrid", "internal"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return response, cred
}

// Register is Create with the credential kept for later sign-ins.
func (a *Authenticator) Register(options []byte) ([]byte, *Credential) {
	a.t.Helper()
	resp, cred := a.Create(options, Tamper{})
	a.creds = append(a.creds, cred)
	return resp, cred
}

// Get answers request options with cred like navigator.credentials.get
// followed by credential.toJSON(). The counter advances by one per call
// unless tampered with.
func (a *Authenticator) Get(options []byte, cred *Credential, tm Tamper) []byte {
	t := a.t
	t.Helper()
	var opts requestOptions
	if err := json.Unmarshal(options, &opts); err != nil {
		t.Fatal(err)
	}
	cred.counter++
	authData := a.authData(opts.PublicKey.RPID, flagUP|flagUV, cred.counter, tm)
	clientData := a.clientData("webauthn.get", opts.PublicKey.Challenge, tm)
	cdHash := sha256.Sum256(clientData)
	digest := sha256.Sum256(append(append([]byte{}, authData...), cdHash[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, cred.key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	userHandle := cred.userHandle
	if tm.UserHandle != nil {
		userHandle = tm.UserHandle
	}
	resp, err := json.Marshal(map[string]any{
		"id":                      b64.EncodeToString(cred.ID),
		"rawId":                   b64.EncodeToString(cred.ID),
		"type":                    "public-key",
		"authenticatorAttachment": "platform",
		"clientExtensionResults":  map[string]any{},
		"response": map[string]any{
			"clientDataJSON":    b64.EncodeToString(clientData),
			"authenticatorData": b64.EncodeToString(authData),
			"signature":         b64.EncodeToString(sig),
			"userHandle":        b64.EncodeToString(userHandle),
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}
