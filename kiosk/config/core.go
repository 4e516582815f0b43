package config

import (
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"time"
)

// StationConfig names the police station the terminal is installed for.
// The identity comes from provisioning (the one-time token decides the
// station); this section only guards against a wrong token: when station.id
// is set, `kioskctl provision` refuses a token for another station
// (wrong_station), and the token stays usable.
type StationConfig struct {
	// ID is the station this box is installed for, e.g. "NS-PSB-001";
	// empty: accept the station of the token.
	ID string `toml:"id"`
	// Name is printed on receipts only when the identity from provisioning
	// has no station name; empty: the identity's name.
	Name string `toml:"name"`
}

func defaultStation() StationConfig { return StationConfig{} }

var stationRE = regexp.MustCompile(`^[A-Z0-9][A-Z0-9-]{1,31}$`)

func (c *StationConfig) validate() error {
	if c.ID != "" && !stationRE.MatchString(c.ID) {
		return bad("station.id", "%q must be 2-32 upper-case letters, digits and '-', e.g. \"NS-PSB-001\"", c.ID)
	}
	return nil
}

// AuthorityConfig says where the central authority is.
type AuthorityConfig struct {
	URL string `toml:"url"` // https://host:port of the intake
	// CAFingerprint pins the authority's root CA (SHA-256 hex); empty means
	// use the CA saved by provisioning.
	CAFingerprint string `toml:"ca_fingerprint"`
}

func defaultAuthority() AuthorityConfig { return AuthorityConfig{URL: "https://127.0.0.1:8443"} }

var hexRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

func (c *AuthorityConfig) validate() error {
	u, err := url.Parse(c.URL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return bad("authority.url", "%q must be an https:// URL with a host, e.g. \"https://authority.example:8443\"", c.URL)
	}
	if c.CAFingerprint != "" && !hexRE.MatchString(c.CAFingerprint) {
		return bad("authority.ca_fingerprint", "must be 64 lower-case hex digits (SHA-256), or empty")
	}
	return nil
}

// StateConfig says where the kiosk keeps its state: keys, outbox, update slots.
type StateConfig struct {
	Dir string `toml:"dir"` // absolute path, 0700, owned by the kiosk's user (the package makes /var/lib/eidkiosk)
}

func defaultState() StateConfig { return StateConfig{Dir: "/var/lib/eidkiosk"} }

func (c *StateConfig) validate() error {
	if !filepath.IsAbs(c.Dir) {
		return bad("state.dir", "%q must be an absolute path, e.g. \"/var/lib/eidkiosk\"", c.Dir)
	}
	return nil
}

// LogConfig sets up log/slog.
type LogConfig struct {
	Format string `toml:"format"` // auto (text on a terminal, JSON otherwise), text, json
	Level  string `toml:"level"`  // debug, info, warn, error
}

func defaultLog() LogConfig { return LogConfig{Format: "auto", Level: "info"} }

func (c *LogConfig) validate() error {
	if err := oneOf("log.format", c.Format, "auto", "text", "json"); err != nil {
		return err
	}
	return oneOf("log.level", c.Level, "debug", "info", "warn", "error")
}

// TimeoutsConfig bounds every waiting screen of a visit.
type TimeoutsConfig struct {
	CardWait     Duration `toml:"card_wait"`     // "place your card" after tapping start
	CardRead     Duration `toml:"card_read"`     // reading a placed card
	DataShown    Duration `toml:"data_shown"`    // "is this you?"
	Consent      Duration `toml:"consent"`       // privacy notice
	FaceCapture  Duration `toml:"face_capture"`  // whole face capture with liveness, per attempt
	Review       Duration `toml:"review"`        // portrait review
	Sealing      Duration `toml:"sealing"`       // sealing and writing the outbox
	Receipt      Duration `toml:"receipt"`       // receipt screen
	Failed       Duration `toml:"failed"`        // error screens
	Technician   Duration `toml:"technician"`    // technician mode without a tap
	FaceAttempts int      `toml:"face_attempts"` // face capture attempts per visit
}

func defaultTimeouts() TimeoutsConfig {
	return TimeoutsConfig{
		CardWait: D(60 * time.Second), CardRead: D(10 * time.Second),
		DataShown: D(60 * time.Second), Consent: D(120 * time.Second),
		FaceCapture: D(60 * time.Second), Review: D(60 * time.Second),
		Sealing: D(30 * time.Second), Receipt: D(60 * time.Second),
		Failed: D(20 * time.Second), Technician: D(5 * time.Minute),
		FaceAttempts: 3,
	}
}

func (c *TimeoutsConfig) validate() error {
	for _, f := range []struct {
		k string
		d Duration
	}{
		{"timeouts.card_wait", c.CardWait}, {"timeouts.card_read", c.CardRead},
		{"timeouts.data_shown", c.DataShown}, {"timeouts.consent", c.Consent},
		{"timeouts.face_capture", c.FaceCapture}, {"timeouts.review", c.Review},
		{"timeouts.sealing", c.Sealing}, {"timeouts.receipt", c.Receipt},
		{"timeouts.failed", c.Failed}, {"timeouts.technician", c.Technician},
	} {
		if err := positive(f.k, f.d); err != nil {
			return err
		}
		if f.d.Duration > time.Hour {
			return bad(f.k, "%s is longer than an hour; a citizen's data would stay on screen too long", f.d.Duration)
		}
	}
	if c.FaceAttempts < 1 || c.FaceAttempts > 10 {
		return bad("timeouts.face_attempts", "%d must be between 1 and 10", c.FaceAttempts)
	}
	return nil
}

// MetricsConfig is the Prometheus endpoint (kiosk/metrics), loopback only.
type MetricsConfig struct {
	Addr string `toml:"addr"` // e.g. "127.0.0.1:9464"; empty: off
}

func defaultMetrics() MetricsConfig { return MetricsConfig{Addr: "127.0.0.1:9464"} }

func (c *MetricsConfig) validate() error {
	if c.Addr == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return bad("metrics.addr", "%q must be HOST:PORT on loopback, e.g. \"127.0.0.1:9464\"", c.Addr)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return bad("metrics.addr", "%q is not a loopback address; metrics are never served beyond the box", c.Addr)
	}
	return nil
}
