package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"time"
)

// CycloneDXGomod is the pinned SBOM generator, run with `go run` (the Go
// module proxy fetches and checks it against go.sum's database once).
const CycloneDXGomod = "github.com/CycloneDX/cyclonedx-gomod/cmd/cyclonedx-gomod@v1.10.0"

// writeSBOM writes the CycloneDX SBOM (JSON) of a Go binary from its
// build information: the main module and every module `go version -m`
// lists, with versions and go.sum hashes.
func writeSBOM(ctx context.Context, binary, out, version string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "run", CycloneDXGomod, "bin", "-json", "-output", out, "-version", version, binary)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("mkdeb: SBOM of %s (%s): %w: %s", binary, CycloneDXGomod, err, bytes.TrimSpace(stderr.Bytes()))
	}
	return nil
}
