// Command mkdeb builds the eidkiosk-kiosk and eidkiosk-authority Debian
// packages from the binaries in bin/ with nfpm used as a library
// (github.com/goreleaser/nfpm/v2), from the nfpm configurations in
// packaging/nfpm/. It adds to each package's Depends the Debian packages of
// the shared libraries its binaries link (read from the ELF files and the
// dpkg database, like dpkg-shlibdeps), and writes the default
// /etc/eidkiosk/kiosk.toml from kiosk/config, each key with its meaning.
//
// For lintian it refuses binaries built without PIE, RELRO and immediate
// binding, ships them stripped with their debug symbols in a -dbgsym
// package (/usr/lib/debug/.build-id), writes each binary's manual page
// from its own --help (packaging/manpage), a DEP-5 copyright file with
// the licence of every Go module linked in (from the module cache), a
// Debian changelog, and with --sbom a CycloneDX SBOM per binary.
//
//	make build && go run ./packaging/mkdeb --version 0.3.1 --maintainer 'City IT <eid@city.example.org>' --sbom --out dist/
//
// It does not build the binaries, sign the packages, or publish them.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
)

func main() {
	var opt Options
	var pkgs string
	flag.StringVar(&opt.Version, "version", "", "package version, e.g. 0.3.1 (required)")
	flag.StringVar(&opt.Bin, "bin", "bin", "directory holding the built kiosk, kioskctl and authority binaries")
	flag.StringVar(&opt.Out, "out", "dist", "directory the .deb files are written to")
	flag.StringVar(&opt.Root, "root", ".", "repository root (holding packaging/ and docs/)")
	flag.StringVar(&opt.Arch, "arch", "", "Debian architecture; default: dpkg --print-architecture, else GOARCH")
	flag.StringVar(&pkgs, "packages", "kiosk,authority,face-models", "which packages to build, comma-separated")
	flag.StringVar(&opt.Models, "models", "", "directory of the verified face models (default: out/models under --root; `make models`)")
	flag.StringVar(&opt.Compression, "compression", "gzip", "compression of the packages' data: gzip, xz (smallest, slowest), zstd or none")
	flag.StringVar(&opt.Maintainer, "maintainer", "", "the packages' Maintainer, \"Name <address>\" (required; the Makefile's MAINTAINER)")
	flag.BoolVar(&opt.SBOM, "sbom", false, "write a CycloneDX SBOM per binary (go run "+CycloneDXGomod+")")
	flag.BoolVar(&opt.NoShlibDeps, "no-shlib-deps", false, "do not add the shared libraries' packages to Depends")
	flag.Parse()
	opt.Packages = strings.Split(pkgs, ",")
	opt.Log = os.Stdout
	if opt.Version == "" {
		fmt.Fprintln(os.Stderr, "mkdeb: --version is required")
		flag.Usage()
		os.Exit(2)
	}
	if _, err := Build(opt); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
