package eidcred

import (
	"errors"
	"fmt"
	"time"

	"github.com/veraison/go-cose"

	"eidkiosk/internal/pii"
)

// Status is the decision a verifier shows.
type Status string

const (
	Valid      Status = "valid"
	Expired    Status = "expired"          // the credential is outside its validity (or not yet valid)
	Revoked    Status = "revoked"          // the revocation list names it
	NotGenuine Status = "not_genuine"      // unreadable, altered, or signed by no trusted key
	TooLate    Status = "presented_late"   // the presentation's time is outside the skew: a photographed or replayed code
	StaleList  Status = "stale_revocation" // genuine and current, but the revocation list is missing or too old to decide "valid"
)

// Reason says precisely why, one per way to fail; tests and logs use it,
// the kiosk shows Status.
type Reason string

const (
	ReasonOK              Reason = "ok"
	ReasonMalformed       Reason = "malformed" // not Base45/zlib/COSE/CBOR of the expected shape
	ReasonUnknownKey      Reason = "unknown_issuer_key"
	ReasonIssuerSignature Reason = "issuer_signature" // the credential's signature does not verify
	ReasonKeyRetired      Reason = "issuer_key_retired"
	ReasonHolderSignature Reason = "holder_signature" // the presentation was not signed by the credential's phone key
	ReasonExpired         Reason = "expired"
	ReasonNotYetValid     Reason = "not_yet_valid"
	ReasonRevokedEID      Reason = "revoked"
	ReasonPresentedLate   Reason = "presented_late"
	ReasonPresentedEarly  Reason = "presented_in_future"
	ReasonNoList          Reason = "no_revocation_list"
	ReasonStaleList       Reason = "stale_revocation_list"
)

// Policy is how a verifier judges.
type Policy struct {
	Keys KeySet
	// Revocation is the newest verified list (nil: none, never "valid").
	Revocation *RevocationList
	// Skew is how far the presentation's time may be from the verifier's
	// clock; 0: DefaultSkew.
	Skew time.Duration
	// MaxListAge is how old the revocation list may be for a "valid";
	// 0: DefaultMaxListAge.
	MaxListAge time.Duration
}

const (
	DefaultSkew       = 60 * time.Second
	DefaultMaxListAge = 24 * time.Hour
)

// Result is one verification.
type Result struct {
	Status Status
	Reason Reason
	// Name is the masked name, when the credential is genuine.
	Name pii.Text
	// NotAfter is the credential's expiry, when genuine.
	NotAfter time.Time
	// KID is the issuer key that signed, when known.
	KID []byte
	// PresentedAt is the presentation's time, when genuine.
	PresentedAt time.Time
	// Err says more for NotGenuine (never personal data).
	Err error
}

func notGenuine(r Reason, err error) Result { return Result{Status: NotGenuine, Reason: r, Err: err} }

// Verify decides on a presentation QR payload at time at. The order is:
// genuineness (format, issuer signature and key, holder signature), then
// revocation (when the list is fresh enough to say), expiry, the
// presentation's freshness, and last whether a fresh list allows "valid".
func Verify(qr string, at time.Time, p Policy) Result {
	if p.Skew == 0 {
		p.Skew = DefaultSkew
	}
	if p.MaxListAge == 0 {
		p.MaxListAge = DefaultMaxListAge
	}
	raw, err := unwrap(qr)
	if err != nil {
		return notGenuine(ReasonMalformed, err)
	}
	var outer cose.Sign1Message
	if err := outer.UnmarshalCBOR(raw); err != nil {
		return notGenuine(ReasonMalformed, fmt.Errorf("%w: presentation: %v", ErrMalformed, err))
	}
	var pres presentation
	if err := decMode.Unmarshal(outer.Payload, &pres); err != nil {
		return notGenuine(ReasonMalformed, fmt.Errorf("%w: presentation payload: %v", ErrMalformed, err))
	}
	var inner cose.Sign1Message
	if err := inner.UnmarshalCBOR(pres.Credential); err != nil {
		return notGenuine(ReasonMalformed, fmt.Errorf("%w: credential: %v", ErrMalformed, err))
	}
	kid, _ := inner.Headers.Protected[cose.HeaderLabelKeyID].([]byte)
	key, ok := p.Keys.Find(kid)
	if !ok {
		return notGenuine(ReasonUnknownKey, fmt.Errorf("eidcred: credential signed by unknown key %x", kid))
	}
	if err := verify1(&inner, key.Public, aadCredential); err != nil {
		if errors.Is(err, ErrMalformed) {
			return notGenuine(ReasonMalformed, err)
		}
		return notGenuine(ReasonIssuerSignature, err)
	}
	var c Credential
	if err := decMode.Unmarshal(inner.Payload, &c); err != nil {
		return notGenuine(ReasonMalformed, fmt.Errorf("%w: credential payload: %v", ErrMalformed, err))
	}
	if !key.Until.IsZero() && at.After(key.Until) {
		return notGenuine(ReasonKeyRetired, fmt.Errorf("eidcred: issuer key %x retired on %s", kid, key.Until.Format(time.RFC3339)))
	}
	holder, err := ParseHolderKey(c.Holder)
	if err != nil {
		return notGenuine(ReasonMalformed, err)
	}
	if err := verify1(&outer, holder, aadPresentation); err != nil {
		if errors.Is(err, ErrMalformed) {
			return notGenuine(ReasonMalformed, err)
		}
		return notGenuine(ReasonHolderSignature, err)
	}
	r := Result{Name: pii.Text(c.Name), NotAfter: time.Unix(c.NotAfter, 0).UTC(), KID: kid,
		PresentedAt: time.Unix(pres.At, 0).UTC()}
	fresh := p.Revocation != nil && at.Sub(p.Revocation.IssuedAt()) <= p.MaxListAge
	switch {
	case fresh && p.Revocation.Revoked(c):
		r.Status, r.Reason = Revoked, ReasonRevokedEID
	case at.Unix() >= c.NotAfter:
		r.Status, r.Reason = Expired, ReasonExpired
	case at.Unix() < c.NotBefore-int64(p.Skew/time.Second):
		r.Status, r.Reason = Expired, ReasonNotYetValid
	case at.Sub(r.PresentedAt) > p.Skew:
		r.Status, r.Reason = TooLate, ReasonPresentedLate
	case r.PresentedAt.Sub(at) > p.Skew:
		r.Status, r.Reason = TooLate, ReasonPresentedEarly
	case p.Revocation == nil:
		r.Status, r.Reason = StaleList, ReasonNoList
	case !fresh:
		r.Status, r.Reason = StaleList, ReasonStaleList
	default:
		r.Status, r.Reason = Valid, ReasonOK
	}
	return r
}
