package release

import (
	"archive/tar"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/theupdateframework/go-tuf/v2/metadata"

	"eidkiosk/updatemeta"
)

func TestInitSignPublishRollout(t *testing.T) {
	d := t.TempDir()
	r, off, on := filepath.Join(d, "repo"), filepath.Join(d, "off"), filepath.Join(d, "on")
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	if err := Init(r, off, on, InitOptions{RootKeys: 3, RootThreshold: 2, TargetsKeys: 2, TargetsThreshold: 2, Now: now}); err != nil {
		t.Fatal(err)
	}
	if err := Init(r, filepath.Join(d, "o2"), filepath.Join(d, "n2"), InitOptions{Now: now}); err == nil {
		t.Fatal("Init overwrote a repository")
	}
	if err := Init(filepath.Join(d, "x"), filepath.Join(d, "o3"), filepath.Join(d, "n3"), InitOptions{TargetsKeys: 1, TargetsThreshold: 2}); err == nil {
		t.Fatal("threshold above the number of keys accepted")
	}
	// Online keys never land in the offline directory and vice versa.
	for dir, want := range map[string]string{off: "root-1.pem,root-2.pem,root-3.pem,targets-1.pem,targets-2.pem", on: "snapshot.pem,timestamp.pem"} {
		ents, _ := os.ReadDir(dir)
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
			if fi, _ := e.Info(); fi.Mode().Perm() != 0o600 {
				t.Errorf("%s mode %v", e.Name(), fi.Mode().Perm())
			}
		}
		if strings.Join(names, ",") != want {
			t.Errorf("%s holds %v", dir, names)
		}
	}
	rootB, _ := os.ReadFile(filepath.Join(r, "root.json"))
	root, err := (&metadata.Metadata[metadata.RootType]{}).FromBytes(rootB)
	if err != nil {
		t.Fatal(err)
	}
	if err := root.VerifyDelegate(metadata.ROOT, root); err != nil {
		t.Fatalf("root not self-signed to threshold: %v", err)
	}
	if root.Signed.Roles[metadata.TARGETS].Threshold != 2 || len(root.Signed.Roles[metadata.ROOT].KeyIDs) != 3 {
		t.Fatalf("roles: %+v", root.Signed.Roles)
	}

	bin := filepath.Join(d, "kiosk")
	os.WriteFile(bin, []byte("#!/bin/sh\necho 2.0.0\n"), 0o755)
	assets := filepath.Join(d, "assets")
	os.MkdirAll(filepath.Join(assets, "models"), 0o755)
	os.WriteFile(filepath.Join(assets, "models", "face.onnx"), []byte("model"), 0o644)
	arch := filepath.Join(d, "k.tar.gz")
	if err := Pack(context.Background(), PackOptions{Out: arch, Binary: bin, Assets: assets, Version: "2.0.0"}); err != nil {
		t.Fatal(err)
	}
	if got := tarNames(t, arch); got != "release.json,kiosk,assets/models/face.onnx" {
		t.Fatalf("archive holds %s", got)
	}
	if v, err := PackedVersion(arch); err != nil || v != "2.0.0" {
		t.Fatalf("packed version %q %v", v, err)
	}
	if _, err := Sign(r, off, []Target{{File: arch, Name: "../evil", Meta: updatemeta.TargetMeta{Kind: updatemeta.KindRelease, Version: "2.0.0"}}}, nil, now, TargetsLifetime); err == nil {
		t.Fatal("unsafe target name accepted")
	}
	v, err := Sign(r, off, []Target{{File: arch, Name: "kiosk/2.0.0/kiosk.tar.gz",
		Meta: updatemeta.TargetMeta{Kind: updatemeta.KindRelease, Version: "2.0.0", Channels: map[string]int{"pilot": 100}}}}, nil, now, TargetsLifetime)
	if err != nil || v != 2 {
		t.Fatalf("sign: %d %v", v, err)
	}
	if err := Publish(r, on, now, SnapshotLifetime, TimestampLifetime); err != nil {
		t.Fatal(err)
	}
	if v, err = Rollout(r, off, "2.0.0", map[string]int{"pilot": 100, "stable": 25}, "", now, TargetsLifetime); err != nil || v != 3 {
		t.Fatalf("rollout: %d %v", v, err)
	}
	if _, err := Rollout(r, off, "9.9.9", nil, "", now, TargetsLifetime); err == nil {
		t.Fatal("rollout of a missing release")
	}
	if err := Publish(r, on, now, SnapshotLifetime, TimestampLifetime); err != nil {
		t.Fatal(err)
	}
	tv, exp, es, err := List(r)
	if err != nil || tv != 3 || !exp.Equal(now.Add(TargetsLifetime)) || len(es) != 1 || es[0].Meta.Channels["stable"] != 25 {
		t.Fatalf("list: %d %s %+v %v", tv, exp, es, err)
	}
	// The published targets verify against the root, to threshold.
	tb, _ := os.ReadFile(filepath.Join(r, "3.targets.json"))
	tm, _ := (&metadata.Metadata[metadata.TargetsType]{}).FromBytes(tb)
	if err := root.VerifyDelegate(metadata.TARGETS, tm); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(r, "targets", "kiosk", "2.0.0", es[0].SHA256+".kiosk.tar.gz")); err != nil {
		t.Fatal(err)
	}
	// Publishing with nothing staged only refreshes snapshot and timestamp.
	if err := Publish(r, on, now.Add(time.Hour), SnapshotLifetime, TimestampLifetime); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(r, "3.snapshot.json")); err != nil {
		t.Fatal(err)
	}
}

func tarNames(t *testing.T, p string) string {
	f, _ := os.Open(p)
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
	}
	return strings.Join(names, ",")
}
