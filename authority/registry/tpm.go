package registry

import (
	"crypto"
	"fmt"

	"github.com/google/go-tpm/tpm2"
)

// checkTPMPublic checks that a TPM2B_PUBLIC area describes the CSR's key and
// a key that cannot leave its TPM (fixedTPM, fixedParent, generated inside).
// This is consistency, not attestation: without an endorsement certificate
// the authority cannot prove the area came from a real TPM, so it records it
// for audit and relies on the token and the serial allow-list.
func checkTPMPublic(area []byte, csrKey crypto.PublicKey) error {
	pub, err := tpm2.Unmarshal[tpm2.TPM2BPublic](area)
	if err != nil {
		return fmt.Errorf("public area: %v", err)
	}
	t, err := pub.Contents()
	if err != nil {
		return fmt.Errorf("public area: %v", err)
	}
	a := t.ObjectAttributes
	if !a.FixedTPM || !a.FixedParent || !a.SensitiveDataOrigin || !a.SignEncrypt {
		return fmt.Errorf("the key is exportable or not a signing key generated in the TPM")
	}
	k, err := tpm2.Pub(*t)
	if err != nil {
		return fmt.Errorf("public key: %v", err)
	}
	eq, ok := k.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !eq.Equal(csrKey) {
		return fmt.Errorf("the TPM key is not the key of the certificate request")
	}
	return nil
}
