package protocol_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"testing"

	"eidkiosk/provisioning/protocol"
)

func TestRefusalMatchesOnReasonAcrossTheWire(t *testing.T) {
	sent := fmt.Errorf("registry: %w", &protocol.Refusal{Reason: protocol.ReasonRevoked, Message: "terminal disabled, call IT"})
	var ref *protocol.Refusal
	if !errors.As(sent, &ref) {
		t.Fatal("no refusal inside")
	}
	b, _ := json.Marshal(ref)
	var got protocol.Refusal
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	received := fmt.Errorf("uplink: %w", &got)
	if !errors.Is(received, protocol.ErrRevoked) || errors.Is(received, protocol.ErrTokenUsed) {
		t.Fatal("errors.Is does not match on the reason")
	}
	if !protocol.Disabled(received) || protocol.Disabled(protocol.ErrTokenExpired) {
		t.Fatal("Disabled")
	}
	if got.Error() != "refused (revoked): terminal disabled, call IT" {
		t.Fatalf("%q", got.Error())
	}
}
