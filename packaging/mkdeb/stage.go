package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	"github.com/goreleaser/nfpm/v2/files"

	"eidkiosk/packaging/manpage"
)

// dbgsym is what the -dbgsym package of a package carries.
type dbgsym struct {
	files    map[string]string // installed path → debug file
	buildIDs []string
}

// stageDocs prepares, under stage, what a package carries besides its
// nfpm configuration: the stripped binaries (stage/bin, the configuration's
// BIN), their manual pages, SBOMs, the copyright file and the changelog.
// It returns the extra contents and the debug symbols for the -dbgsym
// package (nil for a package without binaries).
func stageDocs(opt Options, name, pkg, bin, stage string, chlog []byte, when time.Time, root string) ([]*files.Content, *dbgsym, error) {
	var extra []*files.Content
	add := func(src, dst string) {
		extra = append(extra, &files.Content{Source: src, Destination: dst, FileInfo: &files.ContentFileInfo{Mode: 0o644}})
	}
	write := func(rel string, b []byte) (string, error) {
		p := filepath.Join(stage, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", fmt.Errorf("mkdeb: %w", err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return "", fmt.Errorf("mkdeb: %w", err)
		}
		return p, nil
	}
	doc := "/usr/share/doc/" + pkg + "/"
	p, err := write("doc/changelog.gz", chlog)
	if err != nil {
		return nil, nil, err
	}
	add(p, doc+"changelog.gz")

	bins := binaries[name]
	if len(bins) == 0 { // data only: its copyright file is written by hand
		add(filepath.Join(root, "packaging", "copyright", pkg), doc+"copyright")
		return extra, nil, nil
	}
	dbg := &dbgsym{files: map[string]string{}}
	paths := map[string]string{}
	for _, b := range bins {
		orig := filepath.Join(bin, b)
		paths[b] = orig
		d, err := splitDebug(orig, filepath.Join(stage, "bin"))
		if err != nil {
			return nil, nil, err
		}
		dbg.files[debugPath(d, installed[b])] = d.Debug
		if d.BuildID != "" {
			dbg.buildIDs = append(dbg.buildIDs, d.BuildID)
		}

		mp := manPages[b]
		page, err := manpage.Generate(context.Background(), manpage.Page{Binary: orig, Name: mp.Name, Section: mp.Section,
			Date: when, Source: "eidkiosk " + opt.Version})
		if err != nil {
			return nil, nil, fmt.Errorf("mkdeb: the manual page of %s: %w", b, err)
		}
		z, err := manpage.Gzip(page)
		if err != nil {
			return nil, nil, err
		}
		rel := mp.Name + "." + mp.Section + ".gz"
		if p, err = write("man/"+rel, z); err != nil {
			return nil, nil, err
		}
		add(p, "/usr/share/man/man"+mp.Section+"/"+rel)

		if opt.SBOM {
			p := filepath.Join(stage, "sbom", mp.Name+".cdx.json")
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return nil, nil, fmt.Errorf("mkdeb: %w", err)
			}
			fmt.Fprintf(opt.Log, "%s: SBOM of %s\n", name, b)
			if err := writeSBOM(context.Background(), orig, p, "v"+opt.Version); err != nil {
				return nil, nil, err
			}
			add(p, doc+"sbom/"+mp.Name+".cdx.json")
			// Published beside the packages (and the signed release).
			b, err := os.ReadFile(p)
			if err != nil {
				return nil, nil, fmt.Errorf("mkdeb: %w", err)
			}
			if err := os.MkdirAll(filepath.Join(opt.Out, "sbom"), 0o755); err != nil {
				return nil, nil, fmt.Errorf("mkdeb: %w", err)
			}
			if err := os.WriteFile(filepath.Join(opt.Out, "sbom", pkg+"_"+opt.Version+"_"+mp.Name+".cdx.json"), b, 0o644); err != nil {
				return nil, nil, fmt.Errorf("mkdeb: %w", err)
			}
		}
	}
	sort.Strings(dbg.buildIDs)

	mods, err := linkedModules(paths)
	if err != nil {
		return nil, nil, err
	}
	cache, err := moduleCache()
	if err != nil {
		return nil, nil, err
	}
	for _, m := range mods {
		if err := findLicence(cache, m); err != nil {
			return nil, nil, err
		}
	}
	if p, err = write("doc/copyright", []byte(copyrightFile(pkg, opt.Maintainer, strconv.Itoa(when.Year()), mods))); err != nil {
		return nil, nil, err
	}
	add(p, doc+"copyright")
	return extra, dbg, nil
}

// dbgsymInfo describes the -dbgsym package of a package, as debhelper
// builds one: section debug, the exact version of its package, the build
// IDs, the debug files under /usr/lib/debug, its doc directory a link to
// its package's.
func dbgsymInfo(main *nfpm.Info, d *dbgsym) *nfpm.Info {
	info := &nfpm.Info{
		Name: main.Name + "-dbgsym", Arch: main.Arch, Platform: "linux", Version: main.Version, VersionSchema: "none",
		Section: "debug", Priority: "optional", Maintainer: main.Maintainer, Vendor: main.Vendor,
		Homepage: main.Homepage, License: main.License,
		Description: "debug symbols for " + main.Name + "\n The separate debug symbols of the programs in " + main.Name +
			",\n for gdb and for reading crash reports.",
	}
	info.Depends = []string{main.Name + " (= " + main.Version + ")"}
	info.Deb.Fields = map[string]string{"Auto-Built-Package": "debug-symbols"}
	if len(d.buildIDs) > 0 {
		info.Deb.Fields["Build-Ids"] = strings.Join(d.buildIDs, " ")
	}
	dsts := make([]string, 0, len(d.files))
	for dst := range d.files {
		dsts = append(dsts, dst)
	}
	sort.Strings(dsts)
	for _, dst := range dsts {
		info.Contents = append(info.Contents, &files.Content{Source: d.files[dst], Destination: dst, FileInfo: &files.ContentFileInfo{Mode: 0o644}})
	}
	info.Contents = append(info.Contents, &files.Content{Source: main.Name, Destination: "/usr/share/doc/" + info.Name, Type: files.TypeSymlink})
	return info
}
