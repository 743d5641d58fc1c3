package passkey_test

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

// authenticator is a software passkey provider standing in for the browser
// and the authenticator: it answers the options Begin* returns with the
// JSON credential.toJSON() would produce. Its keys are ES256 and it stores
// every credential with its user handle (discoverable credentials).
type authenticator struct {
	t      *testing.T
	origin string
	rpID   string
	synced bool // BE and BS flags
	creds  []*softCredential
}

type softCredential struct {
	id         []byte
	key        *ecdsa.PrivateKey
	userHandle []byte
	counter    uint32
}

// tamper changes one thing about a single ceremony.
type tamper struct {
	origin    string // client data origin instead of the authenticator's
	rpID      string // rpIdHash computed over this instead
	challenge string // client data challenge instead of the options'
	noUV      bool   // clear the UV flag
	typ       string // client data type instead of webauthn.create/get
	counter   *uint32
	// userHandle replaces the user handle in an assertion.
	userHandle []byte
	// credID is the id of the credential create makes instead of a
	// random one.
	credID []byte
}

func newAuthenticator(t *testing.T, origin, rpID string) *authenticator {
	return &authenticator{t: t, origin: origin, rpID: rpID, synced: true}
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

func (a *authenticator) clientData(typ, challenge string, tm tamper) []byte {
	if tm.typ != "" {
		typ = tm.typ
	}
	if tm.challenge != "" {
		challenge = tm.challenge
	}
	origin := a.origin
	if tm.origin != "" {
		origin = tm.origin
	}
	cd, err := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": origin, "crossOrigin": false})
	if err != nil {
		a.t.Fatal(err)
	}
	return cd
}

func (a *authenticator) authData(rpID string, flags byte, counter uint32, tm tamper) []byte {
	if tm.rpID != "" {
		rpID = tm.rpID
	}
	if tm.noUV {
		flags &^= flagUV
	}
	if a.synced {
		flags |= flagBE | flagBS
	}
	if tm.counter != nil {
		counter = *tm.counter
	}
	h := sha256.Sum256([]byte(rpID))
	out := append([]byte{}, h[:]...)
	out = append(out, flags)
	return binary.BigEndian.AppendUint32(out, counter)
}

// coseKey encodes an ES256 public key as a COSE_Key (RFC 9053).
func coseKey(t *testing.T, pub *ecdsa.PublicKey) []byte {
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

// create answers creation options like navigator.credentials.create
// followed by credential.toJSON(), with a "none" attestation.
func (a *authenticator) create(options []byte, tm tamper) (response []byte, cred *softCredential) {
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
	cred = &softCredential{id: make([]byte, 32), key: key, userHandle: userHandle}
	_, _ = rand.Read(cred.id)
	if tm.credID != nil {
		cred.id = tm.credID
	}

	authData := a.authData(opts.PublicKey.RP.ID, flagUP|flagUV|flagAT, 0, tm)
	authData = append(authData, make([]byte, 16)...) // AAGUID: zero
	authData = binary.BigEndian.AppendUint16(authData, uint16(len(cred.id)))
	authData = append(authData, cred.id...)
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
		"id":                      b64.EncodeToString(cred.id),
		"rawId":                   b64.EncodeToString(cred.id),
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

// register is create with the credential kept for later sign-ins.
func (a *authenticator) register(options []byte) ([]byte, *softCredential) {
	a.t.Helper()
	resp, cred := a.create(options, tamper{})
	a.creds = append(a.creds, cred)
	return resp, cred
}

// get answers request options with cred like navigator.credentials.get
// followed by credential.toJSON(). The counter advances by one per call
// unless tampered with.
func (a *authenticator) get(options []byte, cred *softCredential, tm tamper) []byte {
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
	if tm.userHandle != nil {
		userHandle = tm.userHandle
	}
	resp, err := json.Marshal(map[string]any{
		"id":                      b64.EncodeToString(cred.id),
		"rawId":                   b64.EncodeToString(cred.id),
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
