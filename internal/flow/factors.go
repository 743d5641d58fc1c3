package flow

import (
	"context"
	"errors"

	"github.com/foyer-id/foyer/internal/courier"
	"github.com/foyer-id/foyer/internal/credential/totp"
	"github.com/foyer-id/foyer/internal/identity"
	"github.com/foyer-id/foyer/internal/policy"
)

// Managing the authenticator app and recovery codes: the hosted pages
// (/account/two-factor) and the JSON API (/api/totp, /api/recovery-codes)
// both change them through these methods. Callers check first that the
// session may change sign-in methods (MethodsChangeNeeds).

// Errors of the authenticator-app methods.
var (
	// ErrTOTPOff means the domain does not offer setting up an
	// authenticator app (domains.<name>.login.totp).
	ErrTOTPOff = errors.New("flow: authenticator apps are not offered")
	// ErrTOTPEnrolled means an authenticator app is set up already; it
	// must be removed before another is set up.
	ErrTOTPEnrolled = errors.New("flow: an authenticator app is already set up")
	// ErrTOTPNotEnrolled means no authenticator app is set up.
	ErrTOTPNotEnrolled = errors.New("flow: no authenticator app is set up")
	// ErrTOTPNotPending means no set-up was begun to confirm.
	ErrTOTPNotPending = errors.New("flow: no authenticator set-up to confirm")
)

// TOTPState is where an account stands with its authenticator app and
// recovery codes.
type TOTPState struct {
	Enrolled bool
	// SecondFactor is true when the account has a second factor: the
	// authenticator app or a passkey. Recovery codes stand in for it.
	SecondFactor bool
	// RecoveryCodesRemaining counts the unused recovery codes (0 without
	// a second factor).
	RecoveryCodesRemaining int
}

// TOTPState reads whether identityID has a confirmed authenticator app,
// any second factor, and how many recovery codes it has left.
func (s *Service) TOTPState(ctx context.Context, identityID string) (TOTPState, error) {
	if s.Factors == nil {
		return TOTPState{}, nil
	}
	m, err := s.methodsOf(ctx, identityID)
	if err != nil || !m.secondFactor() {
		return TOTPState{}, err
	}
	n, err := s.Factors.Recovery.Remaining(ctx, identityID)
	if err != nil {
		return TOTPState{}, err
	}
	return TOTPState{Enrolled: m.totp, SecondFactor: true, RecoveryCodesRemaining: n}, nil
}

// PendingTOTP returns the set-up begun for ident and not yet confirmed
// (secret, otpauth URI and QR code), to show again. It returns
// ErrTOTPNotPending when there is none and ErrTOTPEnrolled once confirmed.
func (s *Service) PendingTOTP(ctx context.Context, ident *identity.Identity) (*totp.Enrolment, error) {
	if s.Factors == nil {
		return nil, ErrTOTPNotPending
	}
	e, err := s.Factors.TOTP.Pending(ctx, ident.ID, s.Config.ProductName, ident.Email().Value)
	switch {
	case errors.Is(err, totp.ErrNotEnrolled):
		return nil, ErrTOTPNotPending
	case errors.Is(err, totp.ErrAlreadyEnrolled):
		return nil, ErrTOTPEnrolled
	}
	return e, err
}

// BeginTOTP starts setting up an authenticator app for ident, or resumes
// the set-up begun earlier and not yet confirmed (the same secret, so a
// QR code already scanned stays good). The app's entry is labelled with
// the product name and the customer's email. It returns ErrTOTPOff when
// the domain does not offer authenticator apps and ErrTOTPEnrolled when
// one is set up already.
func (s *Service) BeginTOTP(ctx context.Context, ident *identity.Identity) (*totp.Enrolment, error) {
	if s.Factors == nil || !s.Config.TOTPSetup {
		return nil, ErrTOTPOff
	}
	e, err := s.PendingTOTP(ctx, ident)
	if !errors.Is(err, ErrTOTPNotPending) {
		return e, err
	}
	e, err = s.Factors.TOTP.Begin(ctx, ident.ID, s.Config.ProductName, ident.Email().Value)
	if errors.Is(err, totp.ErrAlreadyEnrolled) {
		return nil, ErrTOTPEnrolled
	}
	return e, err
}

// ConfirmTOTP turns the authenticator app on with the first code it
// shows, and returns a new set of recovery codes — the only time they
// exist in clear (only keyed hashes are stored). A wrong code is an
// *InvalidError on field "code"; without a set-up begun it is
// ErrTOTPNotPending, and ErrTOTPEnrolled when the app is on already. A
// set-up begun while the domain offered apps may still be confirmed
// after it stops offering them. The customer is mailed a notice.
func (s *Service) ConfirmTOTP(ctx context.Context, c Client, ident *identity.Identity, code string) ([]string, error) {
	if s.Factors == nil {
		return nil, ErrTOTPNotPending
	}
	err := s.Factors.TOTP.Confirm(ctx, ident.ID, CleanCode(code))
	switch {
	case errors.Is(err, totp.ErrInvalidCode):
		return nil, invalid("code", "totp_setup_code_invalid")
	case errors.Is(err, totp.ErrNotEnrolled):
		return nil, ErrTOTPNotPending
	case errors.Is(err, totp.ErrAlreadyEnrolled):
		return nil, ErrTOTPEnrolled
	case err != nil:
		return nil, err
	}
	codes, err := s.Factors.Recovery.Generate(ctx, ident.ID)
	if err != nil {
		return nil, err
	}
	s.MethodsChanged(ctx, c, ident, "totp_enabled", "", courier.Text{ID: "notice.totp_on"})
	return codes, nil
}

// RegenerateRecoveryCodes replaces ident's recovery codes with a new set
// and returns it (shown once); the old codes stop working. Recovery
// codes stand in for a second factor (the authenticator app or a
// passkey), so without one it is ErrTOTPNotEnrolled. The customer is
// mailed a notice.
func (s *Service) RegenerateRecoveryCodes(ctx context.Context, c Client, ident *identity.Identity) ([]string, error) {
	if s.Factors == nil {
		return nil, ErrTOTPNotEnrolled
	}
	enrolled, err := s.Factors.CanStepUp(ctx, ident.ID)
	if err != nil {
		return nil, err
	}
	if !enrolled {
		return nil, ErrTOTPNotEnrolled
	}
	// New codes end the old ones: a removal.
	if err := s.mayChange(ctx, c, ident, nil, policy.ChangeRemoveFactor, nil); err != nil {
		return nil, err
	}
	codes, err := s.Factors.Recovery.Generate(ctx, ident.ID)
	if err != nil {
		return nil, err
	}
	s.MethodsChanged(ctx, c, ident, "recovery_codes_regenerated", "", courier.Text{ID: "notice.codes_regenerated"})
	return codes, nil
}

// RemoveTOTP turns ident's authenticator app off (or drops a set-up not
// yet confirmed). It is refused with a *RefusedError while the app is the
// account's only second factor (checkTOTPRemoval), so a passkey remains and
// the recovery codes stay with it. Turning an app off mails the customer a
// notice; removing nothing, or a set-up never confirmed, is not an error
// and tells nobody anything.
func (s *Service) RemoveTOTP(ctx context.Context, c Client, ident *identity.Identity) error {
	if s.Factors == nil {
		return nil
	}
	if err := s.mayChange(ctx, c, ident, nil, policy.ChangeRemoveFactor, nil); err != nil {
		return err
	}
	wasOn := false
	err := s.Flows.lockMethods(ctx, ident.ID, func() error { // see RemovePasskey
		if err := s.checkTOTPRemoval(ctx, ident.ID); err != nil {
			return err
		}
		var err error
		if wasOn, err = s.Factors.TOTP.Enrolled(ctx, ident.ID); err != nil {
			return err
		}
		if err := s.Factors.TOTP.Remove(ctx, ident.ID); err != nil && !errors.Is(err, totp.ErrNotEnrolled) {
			return err
		}
		return nil
	})
	if err != nil || !wasOn {
		return err
	}
	s.MethodsChanged(ctx, c, ident, "totp_disabled", "", courier.Text{ID: "notice.totp_off"})
	return nil
}

// PasskeyAdded records a passkey just added to ident (event and security
// notice). When it is the account's first second factor — no
// authenticator app and no other passkey — it also makes the account's
// recovery codes and returns them, to be shown once.
func (s *Service) PasskeyAdded(ctx context.Context, c Client, ident *identity.Identity, credID, name string) ([]string, error) {
	s.MethodsChanged(ctx, c, ident, "passkey_added", credID, courier.Text{ID: "notice.passkey_added", Args: []any{"name", name}})
	return s.firstFactorCodes(ctx, ident.ID)
}

// firstFactorCodes makes recovery codes for an account whose only second
// factor is the passkey it just got; nil otherwise.
func (s *Service) firstFactorCodes(ctx context.Context, identityID string) ([]string, error) {
	if s.Factors == nil || s.Passkeys == nil {
		return nil, nil
	}
	m, err := s.methodsOf(ctx, identityID)
	if err != nil || m.totp || m.passkeys != 1 {
		return nil, err
	}
	return s.Factors.Recovery.Generate(ctx, identityID)
}
