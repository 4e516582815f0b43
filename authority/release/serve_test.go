package release

import (
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Issue 20 finding 6, against a real listener: /tuf/ served any file of
// the repository directory and followed symlinks out of it (a key file, the
// HPKE intake seed through linked.key → ../intake-hpke.key, /etc). Now only
// metadata and the targets that published metadata names are served.
func TestProbeRepositoryServesOnlyWhatMetadataNames(t *testing.T) {
	d := t.TempDir()
	repo, off, on := filepath.Join(d, "tuf"), filepath.Join(d, "off"), filepath.Join(d, "on")
	now := time.Now()
	if err := Init(repo, off, on, InitOptions{Now: now}); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(d, "kiosk.tar.gz")
	os.WriteFile(file, []byte("release bytes"), 0o644)
	if _, err := Sign(repo, off, []Target{{File: file, Name: "kiosk/2.0.0/kiosk.tar.gz"}}, nil, now, TargetsLifetime); err != nil {
		t.Fatal(err)
	}
	if err := Publish(repo, on, now, SnapshotLifetime, TimestampLifetime); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte("release bytes"))
	target := "targets/kiosk/2.0.0/" + hex.EncodeToString(sum[:]) + ".kiosk.tar.gz"

	// What a careless operator leaves around and in the repository.
	os.WriteFile(filepath.Join(d, "intake-hpke.key"), []byte("SECRET-SEED"), 0o600)
	os.WriteFile(filepath.Join(repo, "targets.pem"), []byte("SECRET-KEY"), 0o600)
	os.WriteFile(filepath.Join(repo, ".env"), []byte("SECRET-ENV"), 0o600)
	os.Symlink("../intake-hpke.key", filepath.Join(repo, "linked.key"))
	os.Symlink("/etc", filepath.Join(repo, "etc"))
	os.Symlink("../intake-hpke.key", filepath.Join(repo, "99.root.json"))
	other := sha256.Sum256([]byte("SECRET-UNNAMED"))
	unnamed := "targets/" + hex.EncodeToString(other[:]) + ".notes.txt"
	os.WriteFile(filepath.Join(repo, filepath.FromSlash(unnamed)), []byte("SECRET-UNNAMED"), 0o644)

	srv := httptest.NewServer(http.StripPrefix("/tuf/", Handler(repo)))
	defer srv.Close()
	get := func(p string) (int, string) {
		res, err := http.Get(srv.URL + "/tuf/" + p)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}
	for _, p := range []string{"root.json", "1.root.json", "timestamp.json", "1.snapshot.json", "1.targets.json", target} {
		if code, _ := get(p); code != 200 {
			t.Errorf("%s: %d, want 200", p, code)
		}
	}
	for _, p := range []string{"targets.pem", ".env", "linked.key", "etc/passwd", "etc/hostname", "99.root.json",
		"staged/targets.json", unnamed, "targets/", "", "../intake-hpke.key", "%2e%2e/intake-hpke.key"} {
		code, body := get(p)
		if code != 404 || strings.Contains(body, "SECRET") || strings.Contains(body, "root:") {
			t.Errorf("%s: %d, want 404", p, code)
		}
	}
}

// Finding 6: release init refused no key folder, so keys could be created
// inside the directory that is published.
func TestInitRefusesKeysInsideTheRepository(t *testing.T) {
	d := t.TempDir()
	repo := filepath.Join(d, "repo")
	for name, dirs := range map[string][2]string{
		"offline inside": {filepath.Join(repo, "keys"), filepath.Join(d, "on")},
		"online inside":  {filepath.Join(d, "off"), filepath.Join(repo, "online")},
		"online is repo": {filepath.Join(d, "off"), repo + "/."},
	} {
		if err := Init(repo, dirs[0], dirs[1], InitOptions{}); err == nil || !strings.Contains(err.Error(), "inside the repository") {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := os.Stat(filepath.Join(repo, "root.json")); err == nil {
		t.Fatal("a refused init left a repository")
	}
}
