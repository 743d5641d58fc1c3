package risk

import (
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/foyer-id/foyer/internal/throttle"
)

// DeviceProofs checks the proofs a native app sends that a request comes
// from its device: a key pair the app made once (ideally in the platform's
// key store) signs each request, in the format of a DPoP proof (RFC 9449):
// a JWT of type dpop+jwt with the public key in its header, the request's
// method (htm) and URL (htu), when it was made (iat) and a unique id (jti).
// The device's id is the key's JWK thumbprint (RFC 7638): nobody without
// the private key can claim it, which an id sent in a header cannot
// promise.
type DeviceProofs struct {
	Throttle *throttle.Limiter
	Now      func() time.Time
}

// ErrDeviceProof is a proof that does not hold: the reason follows it.
var ErrDeviceProof = errors.New("device proof not valid")

// ProofSkew is how far a proof's iat may be from the server's clock.
const ProofSkew = time.Minute

// proofAlgs are the signature algorithms a proof may use.
var proofAlgs = []jose.SignatureAlgorithm{jose.ES256, jose.EdDSA}

// spentProofs keeps a proof's jti for as long as a proof is accepted, so
// that each is used once.
var spentProofs = throttle.Rule{Free: 1, Base: 2 * ProofSkew, Max: 2 * ProofSkew, Window: 2 * ProofSkew}

// DeviceKeyID is the device id of a proven key: "dk:" and the key's
// thumbprint. The colon keeps it out of the ids apps may send in
// X-Foyer-Device (base64url only).
func DeviceKeyID(thumbprint []byte) string {
	return "dk:" + base64.RawURLEncoding.EncodeToString(thumbprint)
}

// Check verifies proof for a request of method to url (without its query)
// and returns the device's id. A proof is good once: its jti is spent.
func (p *DeviceProofs) Check(ctx context.Context, proof, method, url string) (string, error) {
	if len(proof) > 4096 {
		return "", fmt.Errorf("%w: too long", ErrDeviceProof)
	}
	jws, err := jose.ParseSigned(proof, proofAlgs)
	if err != nil || len(jws.Signatures) != 1 {
		return "", fmt.Errorf("%w: not a signed JWT with ES256 or EdDSA", ErrDeviceProof)
	}
	h := jws.Signatures[0].Protected
	if typ, _ := h.ExtraHeaders["typ"].(string); typ != "dpop+jwt" {
		return "", fmt.Errorf("%w: typ must be dpop+jwt", ErrDeviceProof)
	}
	if h.JSONWebKey == nil || !h.JSONWebKey.IsPublic() || !h.JSONWebKey.Valid() {
		return "", fmt.Errorf("%w: the header must carry the public key (jwk)", ErrDeviceProof)
	}
	payload, err := jws.Verify(h.JSONWebKey)
	if err != nil {
		return "", fmt.Errorf("%w: the signature does not verify", ErrDeviceProof)
	}
	var claims struct {
		HTM string      `json:"htm"`
		HTU string      `json:"htu"`
		IAT json.Number `json:"iat"`
		JTI string      `json:"jti"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil {
		return "", fmt.Errorf("%w: claims: %v", ErrDeviceProof, err)
	}
	if claims.HTM != method || claims.HTU != url {
		return "", fmt.Errorf("%w: htm and htu must be this request's method and URL", ErrDeviceProof)
	}
	iat, err := claims.IAT.Int64()
	if err != nil {
		return "", fmt.Errorf("%w: iat must be a time in seconds", ErrDeviceProof)
	}
	if d := p.Now().Sub(time.Unix(iat, 0)); d > ProofSkew || d < -ProofSkew {
		return "", fmt.Errorf("%w: iat is more than a minute from now", ErrDeviceProof)
	}
	if claims.JTI == "" || len(claims.JTI) > 128 {
		return "", fmt.Errorf("%w: jti must be a unique id of at most 128 characters", ErrDeviceProof)
	}
	thumb, err := h.JSONWebKey.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("%w: key: %v", ErrDeviceProof, err)
	}
	sum := sha256.Sum256([]byte(string(thumb) + "\x00" + claims.JTI))
	st, err := p.Throttle.Reserve(ctx, spentProofs, "device-proof:"+hex.EncodeToString(sum[:16]))
	if err != nil {
		return "", err
	}
	if !st[0].Taken {
		return "", fmt.Errorf("%w: this proof was used before", ErrDeviceProof)
	}
	return DeviceKeyID(thumb), nil
}
