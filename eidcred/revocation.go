package eidcred

import (
	"fmt"
	"slices"
	"time"

	"github.com/veraison/go-cose"
)

// RevocationList is the authority's dated list of revoked e-ID numbers and
// credential IDs. It lists every revoked e-ID number for good (an e-ID
// number is never reused), so a verifier needs only the newest list.
type RevocationList struct {
	Issued      int64    `cbor:"1,keyasint"` // Unix seconds
	EIDs        []string `cbor:"2,keyasint"`
	Credentials [][]byte `cbor:"3,keyasint"`
}

// IssuedAt is when the list was signed.
func (l *RevocationList) IssuedAt() time.Time { return time.Unix(l.Issued, 0).UTC() }

// Revoked says whether the list names the credential or its e-ID number.
func (l *RevocationList) Revoked(c Credential) bool {
	if slices.Contains(l.EIDs, c.EID) {
		return true
	}
	return slices.ContainsFunc(l.Credentials, func(id []byte) bool { return string(id) == string(c.ID) })
}

// SignRevocation signs a list with an issuer key.
func SignRevocation(issuer Signer, l RevocationList) ([]byte, error) {
	if l.EIDs == nil {
		l.EIDs = []string{}
	}
	if l.Credentials == nil {
		l.Credentials = [][]byte{}
	}
	payload, err := encMode.Marshal(l)
	if err != nil {
		return nil, fmt.Errorf("eidcred: revocation list: %w", err)
	}
	return issuer.sign1(payload, aadRevocation, true)
}

// ParseRevocation verifies a signed list against the issuer keys.
func ParseRevocation(b []byte, keys KeySet) (*RevocationList, error) {
	var m cose.Sign1Message
	if err := m.UnmarshalCBOR(b); err != nil {
		return nil, fmt.Errorf("%w: revocation list: %v", ErrMalformed, err)
	}
	kid, _ := m.Headers.Protected[cose.HeaderLabelKeyID].([]byte)
	k, ok := keys.Find(kid)
	if !ok {
		return nil, fmt.Errorf("eidcred: revocation list: signed by unknown key %x", kid)
	}
	if err := verify1(&m, k.Public, aadRevocation); err != nil {
		return nil, fmt.Errorf("eidcred: revocation list: %w", err)
	}
	var l RevocationList
	if err := decMode.Unmarshal(m.Payload, &l); err != nil {
		return nil, fmt.Errorf("%w: revocation list payload: %v", ErrMalformed, err)
	}
	return &l, nil
}
