package update_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	repo "eidkiosk/authority/release"
	"eidkiosk/kiosk/update"
)

// BenchmarkUpdate measures the time from "update available" (a release
// published in the repository) to the new slot committed: TUF refresh,
// download, verification, install into the inactive slot, switch, launch
// and commit, over loopback HTTPS, for an 8 MiB release. Side by side, the
// baseline is a plain HTTPS download of the same file to disk with fsync.
// Metrics: ns/op (full update), baseline-ns, x-baseline (ratio),
// bytes/update (everything received) and overhead-bytes (beyond the
// release itself: metadata).
func BenchmarkUpdate(b *testing.B) {
	tmp := b.TempDir()
	r := newRepo(b, time.Now, repo.InitOptions{})
	v1 := filepath.Join(tmp, "kiosk-1.0.0")
	os.WriteFile(v1, []byte("#!/bin/sh\necho 1.0.0\n"), 0o755)
	v2 := filepath.Join(tmp, "kiosk-2.0.0")
	os.WriteFile(v2, []byte("#!/bin/sh\necho 2.0.0\n"), 0o755)
	arch := archive(b, tmp, v2, 8<<20)
	r.release(b, arch, "2.0.0", 100)
	fi, _ := os.Stat(arch)
	targets, _ := filepath.Glob(filepath.Join(r.Dir, "targets", "kiosk", "2.0.0", "*"))
	srv := httptest.NewTLSServer(http.StripPrefix("/tuf/", http.FileServer(http.Dir(r.Dir))))
	defer srv.Close()
	targetURL := srv.URL + "/tuf/targets/kiosk/2.0.0/" + filepath.Base(targets[0])
	root := r.root(b)

	var baseline, full time.Duration
	var bytes int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		state := filepath.Join(tmp, "state", strings.Repeat("s", 1+i%3)+time.Now().Format("150405.000000000"))
		if err := update.Seed(state, v1, "1.0.0", time.Now()); err != nil {
			b.Fatal(err)
		}
		// Baseline: the same bytes, plain.
		t0 := time.Now()
		if err := plainDownload(srv.Client(), targetURL, filepath.Join(tmp, "plain")); err != nil {
			b.Fatal(err)
		}
		baseline += time.Since(t0)
		b.StartTimer()

		t1 := time.Now()
		a, err := update.New(update.Options{StateDir: state, TrustedRoot: root, RepoURL: srv.URL + "/tuf/", Client: srv.Client(),
			Version: "1.0.0", DeviceID: "DEV-1", Restart: func() error { return nil }})
		if err != nil {
			b.Fatal(err)
		}
		res, err := a.Cycle(context.Background())
		if err != nil || res.Installed != "2.0.0" {
			b.Fatalf("%+v %v", res, err)
		}
		c, err := update.Launch(state, time.Now())
		if err != nil || !c.Trial {
			b.Fatal(c, err)
		}
		b.Setenv(update.EnvSlot, c.Slot)
		n, err := update.New(update.Options{StateDir: state, TrustedRoot: root, RepoURL: srv.URL + "/tuf/", Version: "2.0.0"})
		if err != nil {
			b.Fatal(err)
		}
		if err := n.Confirm(context.Background()); err != nil {
			b.Fatal(err)
		}
		full += time.Since(t1)
		bytes += res.Bytes

		b.StopTimer()
		if st, _ := update.ReadState(state); st.Trial != nil || st.Floor != "2.0.0" {
			b.Fatalf("not committed: %+v", st)
		}
		os.RemoveAll(state)
		b.StartTimer()
	}
	b.ReportMetric(float64(baseline.Nanoseconds())/float64(b.N), "baseline-ns")
	b.ReportMetric(float64(full)/float64(baseline), "x-baseline")
	b.ReportMetric(float64(bytes)/float64(b.N), "bytes/update")
	b.ReportMetric(float64(bytes)/float64(b.N)-float64(fi.Size()), "overhead-bytes")
}

func plainDownload(c *http.Client, url, dst string) error {
	res, err := c.Get(url)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, res.Body); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
