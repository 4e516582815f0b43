// Package config loads and validates the kiosk's one TOML configuration file
// (by default /etc/eidkiosk/kiosk.toml). Every key has a documented default
// (see Default and the example written by `kioskctl config example`); unknown
// keys and impossible values are refused at start with a one-line reason that
// names the key and the fix.
//
// Each section lives in its own file beside this one (reader.go, camera.go,
// ...), with its defaults and its checks. The package does not read device
// state or secrets: keys and certificates live in the state directory,
// managed by provisioning.
package config

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// DefaultPath is where the appliance reads its configuration.
const DefaultPath = "/etc/eidkiosk/kiosk.toml"

// Config is the whole kiosk configuration.
type Config struct {
	Station   StationConfig   `toml:"station"`
	Authority AuthorityConfig `toml:"authority"`
	State     StateConfig     `toml:"state"`
	Log       LogConfig       `toml:"log"`
	Timeouts  TimeoutsConfig  `toml:"timeouts"`
	Reader    ReaderConfig    `toml:"reader"`
	Camera    CameraConfig    `toml:"camera"`
	Face      FaceConfig      `toml:"face"`
	UI        UIConfig        `toml:"ui"`
	Outbox    OutboxConfig    `toml:"outbox"`
	Uplink    UplinkConfig    `toml:"uplink"`
	Update    UpdateConfig    `toml:"update"`
	GPIO      GPIOConfig      `toml:"gpio"`
	Printer   PrinterConfig   `toml:"printer"`
	Metrics   MetricsConfig   `toml:"metrics"`
}

// Duration is a time.Duration written as a string ("300ms", "7d" is not
// accepted: use "168h").
type Duration struct{ time.Duration }

// UnmarshalText parses a Go duration string.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("not a duration (use e.g. \"300ms\", \"90s\", \"168h\")")
	}
	d.Duration = v
	return nil
}

// MarshalText formats the duration.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.Duration.String()), nil }

// D is shorthand for a Duration.
func D(v time.Duration) Duration { return Duration{v} }

// Default returns the configuration used when a key is absent.
func Default() Config {
	return Config{
		Station:   defaultStation(),
		Authority: defaultAuthority(),
		State:     defaultState(),
		Log:       defaultLog(),
		Timeouts:  defaultTimeouts(),
		Reader:    defaultReader(),
		Camera:    defaultCamera(),
		Face:      defaultFace(),
		UI:        defaultUI(),
		Outbox:    defaultOutbox(),
		Uplink:    defaultUplink(),
		Update:    defaultUpdate(),
		GPIO:      defaultGPIO(),
		Printer:   defaultPrinter(),
		Metrics:   defaultMetrics(),
	}
}

// FieldError is a refused key: Key is the dotted TOML key.
type FieldError struct {
	Key    string
	Reason string
}

func (e *FieldError) Error() string { return fmt.Sprintf("config: %s: %s", e.Key, e.Reason) }

// ErrUnknownKey is wrapped by the error for a key the kiosk does not know.
var ErrUnknownKey = errors.New("unknown key")

// Load reads the file at path over the defaults and validates the result.
func Load(path string) (Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	c, err := Parse(string(b))
	if err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Parse reads TOML text over the defaults and validates the result.
func Parse(text string) (Config, error) {
	c := Default()
	md, err := toml.Decode(text, &c)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			key := pe.LastKey
			if key == "" {
				key = fmt.Sprintf("line %d", pe.Position.Line)
			}
			return Config{}, &FieldError{Key: key, Reason: strings.TrimSpace(firstLine(pe.Message))}
		}
		return Config{}, fmt.Errorf("config: %s", firstLine(err.Error()))
	}
	und, err := withoutLegacySim(text, md.Undecoded())
	if err != nil {
		return Config{}, err
	}
	if len(und) > 0 {
		k := und[0].String()
		known := knownKeys()
		reason := "unknown key"
		if s := closest(k, known); s != "" {
			reason += fmt.Sprintf(" (did you mean %q?)", s)
		} else {
			reason += " (remove it; `kioskctl config example` lists every key)"
		}
		return Config{}, fmt.Errorf("%w", &unknownKeyError{FieldError{Key: k, Reason: reason}})
	}
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// ErrSimRemoved is wrapped by the error for a configuration that still asks
// for simulated hardware (`sim = true`): the kiosk binary has no way into
// simulation, so that a deployed terminal (or a signed remote configuration)
// cannot switch itself to a private authority and reader.
var ErrSimRemoved = errors.New("simulation is not part of the kiosk")

// withoutLegacySim refuses the removed top-level key sim unless it is false
// (as older `kioskctl config example` output wrote it, which keeps meaning
// "real hardware") and returns the other undecoded keys.
func withoutLegacySim(text string, und []toml.Key) ([]toml.Key, error) {
	var rest []toml.Key
	found := false
	for _, k := range und {
		if len(k) == 1 && k[0] == "sim" {
			found = true
			continue
		}
		rest = append(rest, k)
	}
	if !found {
		return und, nil
	}
	var legacy struct {
		Sim any `toml:"sim"`
	}
	if _, err := toml.Decode(text, &legacy); err == nil && legacy.Sim == false {
		return rest, nil
	}
	return nil, &simRemovedError{FieldError{Key: "sim", Reason: "the kiosk no longer runs on simulated hardware; " +
		"remove the key and use `kioskctl sim kiosk` (the kiosk on simulated hardware) or `kioskctl demo` (one scripted visit)"}}
}

type simRemovedError struct{ FieldError }

func (e *simRemovedError) Unwrap() error { return ErrSimRemoved }
func (e *simRemovedError) Error() string { return e.FieldError.Error() }

type unknownKeyError struct{ FieldError }

func (e *unknownKeyError) Unwrap() error { return ErrUnknownKey }
func (e *unknownKeyError) Error() string { return e.FieldError.Error() }

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// Validate checks every section and returns the first problem found, as a
// *FieldError naming the key.
func (c *Config) Validate() error {
	checks := []func() error{
		c.Station.validate, c.Authority.validate, c.State.validate, c.Log.validate,
		c.Timeouts.validate, c.Reader.validate, c.Camera.validate, c.Face.validate,
		c.UI.validate, c.Outbox.validate, c.Uplink.validate, c.Update.validate,
		c.GPIO.validate, c.Printer.validate, c.Metrics.validate,
	}
	for _, f := range checks {
		if err := f(); err != nil {
			return err
		}
	}
	return nil
}

// Example returns the default configuration as commented TOML.
func Example() string {
	var b strings.Builder
	b.WriteString("# eidkiosk configuration. Every key is optional; shown here with its default.\n")
	b.WriteString("# Unknown keys are refused at start.\n\n")
	enc := toml.NewEncoder(&b)
	enc.Indent = ""
	_ = enc.Encode(Default())
	return b.String()
}

// knownKeys lists every dotted key of the defaults.
func knownKeys() []string {
	var b strings.Builder
	_ = toml.NewEncoder(&b).Encode(Default())
	var keys []string
	section := ""
	for _, line := range strings.Split(b.String(), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
		case strings.Contains(line, "="):
			k := strings.TrimSpace(line[:strings.Index(line, "=")])
			if section != "" {
				k = section + "." + k
			}
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	return keys
}

// closest returns the known key most like k: within edit distance 3, or
// one that k starts with or that starts with k (baud_rate for baud).
func closest(k string, known []string) string {
	best, bestD := "", 4
	for _, c := range known {
		d := distance(k, c)
		if strings.HasPrefix(k, c) || strings.HasPrefix(c, k) {
			d = min(d, 3)
		}
		if d < bestD {
			best, bestD = c, d
		}
	}
	return best
}

func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// helpers for section validators

func bad(key, format string, args ...any) error {
	return &FieldError{Key: key, Reason: fmt.Sprintf(format, args...)}
}

func positive(key string, d Duration) error {
	if d.Duration <= 0 {
		return bad(key, "must be a positive duration, e.g. \"30s\"")
	}
	return nil
}

func oneOf(key, v string, allowed ...string) error {
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return bad(key, "%q is not one of %s", v, strings.Join(allowed, ", "))
}
