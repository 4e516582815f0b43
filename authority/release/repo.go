// Package release builds and signs the TUF repository that eidkiosk terminals
// update from (https://theupdateframework.github.io/specification/latest/),
// with github.com/theupdateframework/go-tuf/v2/metadata. It is city IT's
// side of kiosk/update and backs `eidkiosk-authority release …` (docs/release.md,
// run as a test by TestReleaseDoc). Pack refuses a kiosk binary whose own
// --version is not the release's and records the version in the archive;
// the release format both sides read is eidkiosk/updatemeta. A test keeps
// the kiosk (OpenCV, Fyne, serial, GPIO) out of its dependencies.
//
// Roles and keys: root and targets keys are offline (generated and used on
// an air-gapped machine, kept on removable media); snapshot and timestamp
// keys are online (on the publishing server, re-signing the timestamp every
// day). Thresholds of root and targets are configurable (e.g. 2 of 3).
//
// Layout of a repository directory (served as-is under /tuf/ by the
// authority, or by any static web server):
//
//	root.json, N.root.json      trusted root, every version (clients walk the chain)
//	N.targets.json              published targets (consistent snapshots)
//	N.snapshot.json             snapshot of the targets version
//	timestamp.json              the only unversioned file, re-signed often
//	targets/<sha256>.<name>     target files, content-addressed
//	staged/targets.json         targets signed offline, waiting for `publish`
//
// It does not serve files, and it never holds offline keys in memory longer
// than one command.
package release

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"

	"eidkiosk/internal/atomicfile"
	"eidkiosk/updatemeta"
)

// Default lifetimes.
const (
	RootLifetime      = 365 * 24 * time.Hour
	TargetsLifetime   = 90 * 24 * time.Hour
	SnapshotLifetime  = 7 * 24 * time.Hour
	TimestampLifetime = 24 * time.Hour
)

// InitOptions shape a new repository.
type InitOptions struct {
	RootKeys         int // default 1
	RootThreshold    int // default 1
	TargetsKeys      int // default 1
	TargetsThreshold int // default 1
	Now              time.Time
}

// Init creates a repository: keys (root and targets in offlineDir, snapshot
// and timestamp in onlineDir), root.json, an empty targets, and a first
// snapshot and timestamp. It refuses to overwrite existing keys or metadata.
func Init(repoDir, offlineDir, onlineDir string, o InitOptions) error {
	if o.RootKeys <= 0 {
		o.RootKeys = 1
	}
	if o.TargetsKeys <= 0 {
		o.TargetsKeys = 1
	}
	if o.RootThreshold <= 0 {
		o.RootThreshold = 1
	}
	if o.TargetsThreshold <= 0 {
		o.TargetsThreshold = 1
	}
	if o.RootThreshold > o.RootKeys || o.TargetsThreshold > o.TargetsKeys {
		return errors.New("release: a threshold is larger than the number of keys")
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if _, err := os.Stat(filepath.Join(repoDir, "root.json")); err == nil {
		return fmt.Errorf("release: %s already holds a repository", repoDir)
	}
	for _, k := range []string{offlineDir, onlineDir} {
		if inside(repoDir, k) {
			return fmt.Errorf("release: the key folder %s is inside the repository %s, which is published: keep keys elsewhere (e.g. --offline-keys /media/keys/offline --online-keys /etc/eidkiosk-release/online)", k, repoDir)
		}
	}
	for _, d := range []string{repoDir, offlineDir, onlineDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("release: %w", err)
		}
	}
	root := metadata.Root(o.Now.UTC().Add(RootLifetime).Truncate(time.Second))
	root.Signed.ConsistentSnapshot = true
	var rootKeys []ed25519.PrivateKey
	gen := func(dir, role string, n int) ([]ed25519.PrivateKey, error) {
		var out []ed25519.PrivateKey
		for i := 1; i <= n; i++ {
			name := role + ".pem"
			if n > 1 || role == "root" || role == "targets" {
				name = fmt.Sprintf("%s-%d.pem", role, i)
			}
			k, err := GenerateKey(filepath.Join(dir, name))
			if err != nil {
				return nil, err
			}
			pub, _ := metadata.KeyFromPublicKey(k.Public())
			if err := root.Signed.AddKey(pub, role); err != nil {
				return nil, fmt.Errorf("release: %w", err)
			}
			out = append(out, k)
		}
		return out, nil
	}
	var err error
	if rootKeys, err = gen(offlineDir, metadata.ROOT, o.RootKeys); err != nil {
		return err
	}
	if _, err = gen(offlineDir, metadata.TARGETS, o.TargetsKeys); err != nil {
		return err
	}
	if _, err = gen(onlineDir, metadata.SNAPSHOT, 1); err != nil {
		return err
	}
	if _, err = gen(onlineDir, metadata.TIMESTAMP, 1); err != nil {
		return err
	}
	root.Signed.Roles[metadata.ROOT].Threshold = o.RootThreshold
	root.Signed.Roles[metadata.TARGETS].Threshold = o.TargetsThreshold
	if err := signAll(root, rootKeys); err != nil {
		return err
	}
	b, err := root.ToBytes(true)
	if err != nil {
		return fmt.Errorf("release: %w", err)
	}
	for _, name := range []string{"1.root.json", "root.json"} {
		if err := writeAtomic(filepath.Join(repoDir, name), b); err != nil {
			return err
		}
	}
	if _, err := Sign(repoDir, offlineDir, nil, nil, o.Now, TargetsLifetime); err != nil {
		return err
	}
	return Publish(repoDir, onlineDir, o.Now, SnapshotLifetime, TimestampLifetime)
}

// GenerateKey writes a new ed25519 private key (PKCS#8 PEM, mode 0600) to p.
func GenerateKey(p string) (ed25519.PrivateKey, error) {
	_, k, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("release: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("release: %w", err)
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("release: key: %w", err)
	}
	defer f.Close()
	if err := pem.Encode(f, &pem.Block{Type: "PRIVATE KEY", Bytes: der}); err != nil {
		return nil, fmt.Errorf("release: key: %w", err)
	}
	return k, f.Sync()
}

// LoadKeys reads the role's keys (<role>.pem, <role>-N.pem) from dir.
func LoadKeys(dir, role string) ([]ed25519.PrivateKey, error) {
	names, _ := filepath.Glob(filepath.Join(dir, role+"*.pem"))
	sort.Strings(names)
	var out []ed25519.PrivateKey
	for _, n := range names {
		base := filepath.Base(n)
		if base != role+".pem" && !strings.HasPrefix(base, role+"-") {
			continue
		}
		b, err := os.ReadFile(n)
		if err != nil {
			return nil, fmt.Errorf("release: %w", err)
		}
		blk, _ := pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("release: %s is not a PEM key", base)
		}
		k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("release: %s: %w", base, err)
		}
		ek, ok := k.(ed25519.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("release: %s is not an ed25519 key", base)
		}
		out = append(out, ek)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("release: no %s key in %s", role, dir)
	}
	return out, nil
}

type signable interface {
	Sign(signature.Signer) (*metadata.Signature, error)
	ClearSignatures()
}

func signAll(m signable, keys []ed25519.PrivateKey) error {
	m.ClearSignatures()
	for _, k := range keys {
		s, err := signature.LoadSigner(k, crypto.Hash(0))
		if err != nil {
			return fmt.Errorf("release: %w", err)
		}
		if _, err := m.Sign(s); err != nil {
			return fmt.Errorf("release: sign: %w", err)
		}
	}
	return nil
}

// Target is a file to add to the repository.
type Target struct {
	File string // local file
	Name string // target path, e.g. "kiosk/2.1.0/kiosk.tar.gz"
	Meta updatemeta.TargetMeta
}

// Sign adds targets (and removes the named ones) in a new version of the
// targets metadata, signed with every targets key in offlineDir, staged
// for Publish. Target files are copied into targets/ under their hash. It
// returns the new targets version.
func Sign(repoDir, offlineDir string, add []Target, remove []string, now time.Time, lifetime time.Duration) (int64, error) {
	keys, err := LoadKeys(offlineDir, metadata.TARGETS)
	if err != nil {
		return 0, err
	}
	t, err := currentTargets(repoDir)
	if err != nil {
		return 0, err
	}
	if t == nil {
		t = metadata.Targets()
		t.Signed.Version = 0
	}
	for _, a := range add {
		if err := checkName(a.Name); err != nil {
			return 0, err
		}
		tf, err := copyTarget(repoDir, a.File, a.Name)
		if err != nil {
			return 0, err
		}
		c := a.Meta.Custom()
		tf.Custom = &c
		t.Signed.Targets[a.Name] = tf
	}
	for _, r := range remove {
		if _, ok := t.Signed.Targets[r]; !ok {
			return 0, fmt.Errorf("release: no target %q to remove", r)
		}
		delete(t.Signed.Targets, r)
	}
	return stageTargets(repoDir, t, keys, now, lifetime)
}

// stageTargets signs the next version of t, valid for lifetime from now,
// and writes it to staged/targets.json for Publish. It returns the version.
func stageTargets(repoDir string, t *metadata.Metadata[metadata.TargetsType], keys []ed25519.PrivateKey, now time.Time, lifetime time.Duration) (int64, error) {
	t.Signed.Version++
	t.Signed.Expires = now.UTC().Add(lifetime).Truncate(time.Second)
	if err := signAll(t, keys); err != nil {
		return 0, err
	}
	b, err := t.ToBytes(true)
	if err != nil {
		return 0, fmt.Errorf("release: %w", err)
	}
	if err := os.MkdirAll(filepath.Join(repoDir, "staged"), 0o755); err != nil {
		return 0, fmt.Errorf("release: %w", err)
	}
	return t.Signed.Version, writeAtomic(filepath.Join(repoDir, "staged", "targets.json"), b)
}

func checkName(n string) error {
	if n == "" || path.IsAbs(n) || path.Clean(n) != n || strings.HasPrefix(n, "../") || strings.ContainsAny(n, "\\ ") {
		return fmt.Errorf("release: target name %q must be a clean relative path like kiosk/2.1.0/kiosk.tar.gz", n)
	}
	return nil
}

func copyTarget(repoDir, file, name string) (*metadata.TargetFiles, error) {
	src, err := os.Open(file)
	if err != nil {
		return nil, fmt.Errorf("release: %w", err)
	}
	defer src.Close()
	dir, base := path.Split(name)
	tmp, err := os.CreateTemp(repoDir, ".target-*")
	if err != nil {
		return nil, fmt.Errorf("release: %w", err)
	}
	defer os.Remove(tmp.Name())
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), src)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("release: copy %s: %w", file, err)
	}
	sum := h.Sum(nil)
	dst := filepath.Join(repoDir, "targets", filepath.FromSlash(dir), hex.EncodeToString(sum)+"."+base)
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return nil, fmt.Errorf("release: %w", err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return nil, fmt.Errorf("release: %w", err)
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return nil, fmt.Errorf("release: %w", err)
	}
	if err := atomicfile.SyncDir(filepath.Dir(dst)); err != nil {
		return nil, fmt.Errorf("release: %w", err)
	}
	return &metadata.TargetFiles{Length: n, Hashes: metadata.Hashes{"sha256": sum}, Path: name}, nil
}

// currentTargets returns the staged targets, else the published ones, else nil.
func currentTargets(repoDir string) (*metadata.Metadata[metadata.TargetsType], error) {
	if b, err := os.ReadFile(filepath.Join(repoDir, "staged", "targets.json")); err == nil {
		return (&metadata.Metadata[metadata.TargetsType]{}).FromBytes(b)
	}
	snap, err := published(repoDir)
	if err != nil || snap == nil {
		return nil, err
	}
	v := snap.Signed.Meta["targets.json"].Version
	b, err := os.ReadFile(filepath.Join(repoDir, fmt.Sprintf("%d.targets.json", v)))
	if err != nil {
		return nil, fmt.Errorf("release: %w", err)
	}
	return (&metadata.Metadata[metadata.TargetsType]{}).FromBytes(b)
}

// published returns the snapshot named by timestamp.json, or nil.
func published(repoDir string) (*metadata.Metadata[metadata.SnapshotType], error) {
	b, err := os.ReadFile(filepath.Join(repoDir, "timestamp.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("release: %w", err)
	}
	ts, err := (&metadata.Metadata[metadata.TimestampType]{}).FromBytes(b)
	if err != nil {
		return nil, fmt.Errorf("release: timestamp.json: %w", err)
	}
	v := ts.Signed.Meta["snapshot.json"].Version
	b, err = os.ReadFile(filepath.Join(repoDir, fmt.Sprintf("%d.snapshot.json", v)))
	if err != nil {
		return nil, fmt.Errorf("release: %w", err)
	}
	return (&metadata.Metadata[metadata.SnapshotType]{}).FromBytes(b)
}

// Publish makes the staged targets (if any) current and signs a new
// snapshot and timestamp with the online keys in onlineDir. Files are
// written targets, then snapshot, then timestamp, each atomically, so a
// client never sees a half-published state. Run it also on a schedule
// (daily) to keep the timestamp fresh.
func Publish(repoDir, onlineDir string, now time.Time, snapLife, tsLife time.Duration) error {
	snapKeys, err := LoadKeys(onlineDir, metadata.SNAPSHOT)
	if err != nil {
		return err
	}
	tsKeys, err := LoadKeys(onlineDir, metadata.TIMESTAMP)
	if err != nil {
		return err
	}
	prev, err := published(repoDir)
	if err != nil {
		return err
	}
	var targetsVersion int64
	if prev != nil {
		targetsVersion = prev.Signed.Meta["targets.json"].Version
	}
	staged := filepath.Join(repoDir, "staged", "targets.json")
	if b, err := os.ReadFile(staged); err == nil {
		t, err := (&metadata.Metadata[metadata.TargetsType]{}).FromBytes(b)
		if err != nil {
			return fmt.Errorf("release: staged targets: %w", err)
		}
		if t.Signed.Version > targetsVersion {
			targetsVersion = t.Signed.Version
			if err := writeAtomic(filepath.Join(repoDir, fmt.Sprintf("%d.targets.json", targetsVersion)), b); err != nil {
				return err
			}
		}
		if err := os.Remove(staged); err != nil {
			return fmt.Errorf("release: %w", err)
		}
	}
	if targetsVersion == 0 {
		return errors.New("release: nothing signed yet: run `eidkiosk-authority release sign` first")
	}
	snap := metadata.Snapshot(now.UTC().Add(snapLife).Truncate(time.Second))
	if prev != nil {
		snap.Signed.Version = prev.Signed.Version + 1
	}
	snap.Signed.Meta["targets.json"] = metadata.MetaFile(targetsVersion)
	if err := signAll(snap, snapKeys); err != nil {
		return err
	}
	sb, err := snap.ToBytes(false)
	if err != nil {
		return fmt.Errorf("release: %w", err)
	}
	if err := writeAtomic(filepath.Join(repoDir, fmt.Sprintf("%d.snapshot.json", snap.Signed.Version)), sb); err != nil {
		return err
	}
	ts := metadata.Timestamp(now.UTC().Add(tsLife).Truncate(time.Second))
	if b, err := os.ReadFile(filepath.Join(repoDir, "timestamp.json")); err == nil {
		if old, err := (&metadata.Metadata[metadata.TimestampType]{}).FromBytes(b); err == nil {
			ts.Signed.Version = old.Signed.Version + 1
		}
	}
	sum := sha256.Sum256(sb)
	ts.Signed.Meta["snapshot.json"] = &metadata.MetaFiles{Version: snap.Signed.Version, Length: int64(len(sb)), Hashes: metadata.Hashes{"sha256": sum[:]}}
	if err := signAll(ts, tsKeys); err != nil {
		return err
	}
	tb, err := ts.ToBytes(false)
	if err != nil {
		return fmt.Errorf("release: %w", err)
	}
	return writeAtomic(filepath.Join(repoDir, "timestamp.json"), tb)
}

// Entry is one target as listed by List.
type Entry struct {
	Name   string                `json:"name"`
	Length int64                 `json:"length"`
	SHA256 string                `json:"sha256"`
	Meta   updatemeta.TargetMeta `json:"meta"`
}

// List returns the targets of the staged or published targets metadata,
// with its version and expiry.
func List(repoDir string) (version int64, expires time.Time, entries []Entry, err error) {
	t, err := currentTargets(repoDir)
	if err != nil || t == nil {
		return 0, time.Time{}, nil, err
	}
	for name, tf := range t.Signed.Targets {
		m, _ := updatemeta.ParseTargetMeta(tf)
		entries = append(entries, Entry{Name: name, Length: tf.Length, SHA256: hex.EncodeToString(tf.Hashes["sha256"]), Meta: m})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].Name < entries[j].Name })
	return t.Signed.Version, t.Signed.Expires, entries, nil
}

// MarshalIndent is json.MarshalIndent for listings.
func MarshalIndent(v any) []byte { b, _ := json.MarshalIndent(v, "", "  "); return b }

func writeAtomic(p string, b []byte) error {
	if err := atomicfile.Write(p, b, 0o644); err != nil {
		return fmt.Errorf("release: %w", err)
	}
	return nil
}

// Rollout changes the channels (and minimum version) of the release with
// the given version, in a new targets version signed with the offline keys.
func Rollout(repoDir, offlineDir, version string, channels map[string]int, minVersion string, now time.Time, lifetime time.Duration) (int64, error) {
	keys, err := LoadKeys(offlineDir, metadata.TARGETS)
	if err != nil {
		return 0, err
	}
	t, err := currentTargets(repoDir)
	if err != nil {
		return 0, err
	}
	if t == nil {
		return 0, errors.New("release: nothing signed yet")
	}
	found := false
	for _, tf := range t.Signed.Targets {
		m, ok := updatemeta.ParseTargetMeta(tf)
		if !ok || m.Kind != updatemeta.KindRelease || m.Version != version {
			continue
		}
		m.Channels, m.MinVersion = channels, minVersion
		c := m.Custom()
		tf.Custom = &c
		found = true
	}
	if !found {
		return 0, fmt.Errorf("release: no release %s in the repository", version)
	}
	return stageTargets(repoDir, t, keys, now, lifetime)
}

// inside reports whether dir is repo or below it (after resolving both to
// absolute, clean paths and, where they exist, symlinks).
func inside(repo, dir string) bool {
	abs := func(p string) string {
		a, err := filepath.Abs(p)
		if err != nil {
			return filepath.Clean(p)
		}
		if r, err := filepath.EvalSymlinks(a); err == nil {
			return r
		}
		// Not created yet: resolve the nearest existing parent.
		parent, base := filepath.Split(a)
		if r, err := filepath.EvalSymlinks(parent); err == nil {
			return filepath.Join(r, base)
		}
		return a
	}
	r, d := abs(repo), abs(dir)
	rel, err := filepath.Rel(r, d)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}
