package update

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"
	"github.com/theupdateframework/go-tuf/v2/metadata/config"
	"github.com/theupdateframework/go-tuf/v2/metadata/updater"

	"eidkiosk/updatemeta"
)

// The release format, shared with the authority's release tool.
const (
	Product     = updatemeta.Product
	KindRelease = updatemeta.KindRelease
	KindConfig  = updatemeta.KindConfig
)

// TargetMeta is the kiosk's part of a target's signed custom metadata.
type TargetMeta = updatemeta.TargetMeta

// ParseTargetMeta reads the kiosk's part of a target's custom JSON.
func ParseTargetMeta(tf *metadata.TargetFiles) (TargetMeta, bool) {
	return updatemeta.ParseTargetMeta(tf)
}

// Cohort is the device's stable rollout cohort, 0-99.
func Cohort(deviceID string) int { return updatemeta.Cohort(deviceID) }

// trusted is one verified view of the repository.
type trusted struct {
	up         *updater.Updater
	targets    map[string]*metadata.TargetFiles
	consistent bool
	expires    time.Time // earliest expiry of timestamp, snapshot, targets
}

// refresh runs the TUF client workflow against src with the metadata cache
// in l.TUFDir(); root is the provisioned root.json, used when the cache has
// none (or a damaged one). now is the reference time for expiry.
func refresh(l Layout, root []byte, src *source, now time.Time) (*trusted, error) {
	if err := l.ensure(); err != nil {
		return nil, err
	}
	local := root
	if b, err := os.ReadFile(filepath.Join(l.TUFDir(), "root.json")); err == nil {
		if _, perr := (&metadata.Metadata[metadata.RootType]{}).FromBytes(b); perr == nil {
			local = b
		}
	}
	if len(local) == 0 {
		return nil, errors.New("update: no trusted root.json (provisioning delivers it)")
	}
	cfg, err := config.New(src.base, local)
	if err != nil {
		return nil, fmt.Errorf("update: %w", err)
	}
	cfg.LocalMetadataDir = l.TUFDir()
	cfg.LocalTargetsDir = l.DownloadDir()
	cfg.RemoteTargetsURL = src.base + "targets"
	cfg.Fetcher = src
	up, err := updater.New(cfg)
	if err != nil {
		if len(root) > 0 && string(local) != string(root) {
			// A damaged cached root: start again from the provisioned one.
			cfg.LocalTrustedRoot = root
			up, err = updater.New(cfg)
		}
		if err != nil {
			return nil, classify(fmt.Errorf("update: trusted root: %w", err))
		}
	}
	up.UnsafeSetRefTime(now.UTC()) // the injected clock is the reference time
	if err := up.Refresh(); err != nil {
		return nil, classify(fmt.Errorf("update: refresh metadata: %w", err))
	}
	tm := up.GetTrustedMetadataSet()
	exp := tm.Timestamp.Signed.Expires
	for _, e := range []time.Time{tm.Snapshot.Signed.Expires, tm.Targets[metadata.TARGETS].Signed.Expires} {
		if e.Before(exp) {
			exp = e
		}
	}
	return &trusted{up: up, targets: up.GetTopLevelTargets(), consistent: tm.Root.Signed.ConsistentSnapshot, expires: exp}, nil
}

// candidate is a target chosen for this terminal.
type candidate struct {
	Path string
	File *metadata.TargetFiles
	Meta TargetMeta
}

// chooseRelease returns the release this terminal should run: the highest
// version offered on its channel to its cohort (or forced by MinVersion).
// ok is false when nothing is offered. It does not compare with the running
// version; the caller does.
func chooseRelease(targets map[string]*metadata.TargetFiles, channel string, cohort int, running string) (candidate, bool) {
	var best candidate
	found := false
	for p, tf := range targets {
		m, ok := ParseTargetMeta(tf)
		if !ok || m.Kind != KindRelease {
			continue
		}
		if _, err := parseVersion(m.Version); err != nil {
			continue
		}
		pct, on := m.Channels[channel]
		forced := on && m.MinVersion != "" && compareVersions(running, m.MinVersion) < 0
		if !on || (cohort >= pct && !forced) {
			continue
		}
		if !found || compareVersions(m.Version, best.Meta.Version) > 0 {
			best, found = candidate{Path: p, File: tf, Meta: m}, true
		}
	}
	return best, found
}

// chooseConfig returns the newest configuration for this station and cohort
// above have.
func chooseConfig(targets map[string]*metadata.TargetFiles, channel, station string, cohort int, have int64) (candidate, bool) {
	var list []candidate
	for p, tf := range targets {
		m, ok := ParseTargetMeta(tf)
		if !ok || m.Kind != KindConfig || m.ConfigVersion <= have {
			continue
		}
		if pct, on := m.Channels[channel]; !on || cohort >= pct {
			continue
		}
		if len(m.Stations) > 0 && !contains(m.Stations, station) {
			continue
		}
		list = append(list, candidate{Path: p, File: tf, Meta: m})
	}
	if len(list) == 0 {
		return candidate{}, false
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Meta.ConfigVersion > list[j].Meta.ConfigVersion })
	return list[0], true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
