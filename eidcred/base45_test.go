package eidcred

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// The examples of RFC 9285 §4.3 and §4.4.
func TestBase45RFCExamples(t *testing.T) {
	for _, c := range []struct{ in, out string }{
		{"AB", "BB8"},
		{"Hello!!", "%69 VD92EX0"},
		{"base-45", "UJCLQE7W581"},
		{"ietf!", "QED8WEX0"},
	} {
		if got := base45Encode([]byte(c.in)); got != c.out {
			t.Errorf("encode %q = %q, want %q", c.in, got, c.out)
		}
		got, err := base45Decode(c.out)
		if err != nil || string(got) != c.in {
			t.Errorf("decode %q = %q, %v; want %q", c.out, got, err, c.in)
		}
	}
}

func TestBase45RoundTripAndRefusals(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for n := range 70 {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		got, err := base45Decode(base45Encode(b))
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("round trip of %d bytes: %x, %v", n, got, err)
		}
	}
	// ":::" is 44+44*45+44*2025 = 91124 > 0xFFFF; "GGW" is RFC 9285's own
	// refusal example; lower case and a dangling character are not Base45.
	for _, bad := range []string{":::", "GGW", "a", "abc", "BB8B", "::"} {
		if _, err := base45Decode(bad); err == nil {
			t.Errorf("decode %q: no error", bad)
		}
	}
}
