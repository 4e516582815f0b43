// Package updatemeta is the release format both ends of an update read:
// the kiosk's part of a TUF target's signed "custom" metadata (kind,
// version, channels and rollout, exempt health checks), the rollout cohort
// of a device, the archive's entry name and the release.json that `release
// pack` puts beside it. The authority's release tool (authority/release)
// writes it; the kiosk's agent (kiosk/update) reads it.
//
// It does not sign, fetch or verify anything (go-tuf does, on both sides)
// and imports nothing of the kiosk or the authority.
package updatemeta

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// Product names the kiosk's targets; others in the same repository are ignored.
const Product = "eidkiosk"

// Target kinds.
const (
	KindRelease = "release"
	KindConfig  = "config"
)

// Entry is the file name of the kiosk binary at the top of a release
// archive (and inside an installed slot).
const Entry = "kiosk"

// InfoName is the file `release pack` writes at the top of a release
// archive: the release's version, checked against the binary's own.
const InfoName = "release.json"

// Info is the content of InfoName.
type Info struct {
	Version string `json:"version"`
}

// Channels a terminal can follow.
var Channels = []string{"pilot", "stable"}

// TargetMeta is the "custom" object of a target, signed with it by the
// targets role: {"eidkiosk": {...}}.
type TargetMeta struct {
	Kind string `json:"kind"` // release or config
	// Version of a release (semantic version).
	Version string `json:"version,omitempty"`
	// ConfigVersion of a configuration (increasing integer).
	ConfigVersion int64 `json:"config_version,omitempty"`
	// Channels maps a channel ("pilot", "stable") to the rollout
	// percentage 0-100: terminals whose cohort is below it take the target.
	Channels map[string]int `json:"channels"`
	// MinVersion: terminals running below it take this release whatever
	// their cohort (a security fix).
	MinVersion string `json:"min_version,omitempty"`
	// Stations limits a configuration to these station IDs; empty: all.
	Stations []string `json:"stations,omitempty"`
	// Exempt names health checks this release is not judged on during its
	// own trial (a reader-driver fix on a terminal whose reader is dead is
	// judged on "starts and reaches the engine"). Signed like the rest.
	Exempt []string `json:"exempt,omitempty"`
}

// Custom wraps m as a target's custom JSON.
func (m TargetMeta) Custom() json.RawMessage {
	b, _ := json.Marshal(map[string]TargetMeta{Product: m})
	return b
}

// ParseTargetMeta reads the kiosk's part of a target's custom JSON.
func ParseTargetMeta(tf *metadata.TargetFiles) (TargetMeta, bool) {
	if tf == nil || tf.Custom == nil {
		return TargetMeta{}, false
	}
	var w map[string]json.RawMessage
	if json.Unmarshal(*tf.Custom, &w) != nil {
		return TargetMeta{}, false
	}
	raw, ok := w[Product]
	if !ok {
		return TargetMeta{}, false
	}
	var m TargetMeta
	if json.Unmarshal(raw, &m) != nil {
		return TargetMeta{}, false
	}
	return m, true
}

// Cohort is the device's stable rollout cohort, 0-99.
func Cohort(deviceID string) int {
	h := sha256.Sum256([]byte("eidkiosk-rollout:" + deviceID))
	return int(binary.BigEndian.Uint64(h[:8]) % 100)
}

// ErrChannels: a rollout plan that does not read like pilot=100,stable=10.
var ErrChannels = errors.New("updatemeta: a rollout plan reads like pilot=100,stable=10 (channels pilot and stable, percent 0-100)")

// ParseChannels reads a rollout plan "pilot=100,stable=10".
func ParseChannels(s string) (map[string]int, error) {
	out := map[string]int{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		n, err := strconv.Atoi(v)
		if !ok || err != nil || n < 0 || n > 100 || (k != "pilot" && k != "stable") {
			return nil, fmt.Errorf("%w: %q", ErrChannels, s)
		}
		out[k] = n
	}
	return out, nil
}

// FormatChannels writes a rollout plan as "pilot=100%,stable=10%".
func FormatChannels(m map[string]int) string {
	var parts []string
	for _, k := range Channels {
		if v, ok := m[k]; ok {
			parts = append(parts, fmt.Sprintf("%s=%d%%", k, v))
		}
	}
	return strings.Join(parts, ",")
}
