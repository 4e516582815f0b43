package updatemeta

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

func TestChannelsRoundTrip(t *testing.T) {
	ch, err := ParseChannels("pilot=100, stable=10")
	if err != nil || ch["pilot"] != 100 || ch["stable"] != 10 || len(ch) != 2 {
		t.Fatalf("parse: %v %v", ch, err)
	}
	if s := FormatChannels(ch); s != "pilot=100%,stable=10%" {
		t.Fatalf("format: %q", s)
	}
	for _, bad := range []string{"", "pilot", "pilot=101", "beta=10", "stable=-1", "stable=x"} {
		if _, err := ParseChannels(bad); !errors.Is(err, ErrChannels) {
			t.Errorf("%q accepted: %v", bad, err)
		}
	}
}

func TestTargetMetaRoundTrip(t *testing.T) {
	m := TargetMeta{Kind: KindRelease, Version: "2.1.0", Channels: map[string]int{"pilot": 100}, Exempt: []string{"reader"}}
	raw := m.Custom()
	got, ok := ParseTargetMeta(&metadata.TargetFiles{Custom: &raw})
	if !ok || got.Version != "2.1.0" || got.Exempt[0] != "reader" || got.Channels["pilot"] != 100 {
		t.Fatalf("round trip: %+v %v", got, ok)
	}
	other := []byte(`{"someone-else":{"kind":"release"}}`)
	if _, ok := ParseTargetMeta(&metadata.TargetFiles{Custom: (*json.RawMessage)(&other)}); ok {
		t.Fatal("another product's target read as ours")
	}
	if a, b := Cohort("KT-1"), Cohort("KT-1"); a != b || a < 0 || a > 99 {
		t.Fatalf("cohort %d %d", a, b)
	}
}
