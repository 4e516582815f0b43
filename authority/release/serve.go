package release

import (
	"encoding/hex"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path"
	"regexp"
	"strings"

	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// metadataName matches the metadata files a TUF client fetches: root.json,
// timestamp.json and the versioned root, targets and snapshot files of a
// consistent-snapshot repository.
var metadataName = regexp.MustCompile(`^(root|timestamp|[1-9][0-9]{0,9}\.(root|targets|snapshot))\.json$`)

// Handler serves the repository in dir as TUF clients read it (mount it
// with http.StripPrefix): only metadata files (see the layout above) and
// the target files named, with their SHA-256, by a published targets
// metadata file (N.targets.json). Nothing else is served — no staged
// metadata, no dot files, no keys or other files an operator left in the
// directory — and only regular files: a symlink is refused wherever it
// points, and the directory is opened with os.Root, so nothing outside it
// is reachable.
func Handler(dir string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name := strings.TrimPrefix(r.URL.Path, "/")
		if !servable(dir, name) {
			http.NotFound(w, r)
			return
		}
		root, err := os.OpenRoot(dir)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer root.Close()
		fi, err := root.Lstat(name)
		if err != nil || !fi.Mode().IsRegular() {
			http.NotFound(w, r)
			return
		}
		f, err := root.Open(name)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer f.Close()
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		http.ServeContent(w, r, path.Base(name), fi.ModTime(), f)
	})
}

// servable says whether name is a metadata file or a target named by
// published targets metadata.
func servable(dir, name string) bool {
	if name == "" || !fs.ValidPath(name) || strings.Contains("/"+name, "/.") {
		return false
	}
	if metadataName.MatchString(name) {
		return true
	}
	rest, ok := strings.CutPrefix(name, "targets/")
	if !ok {
		return false
	}
	d, base := path.Split(rest)
	sum, target, ok := strings.Cut(base, ".")
	if !ok || len(sum) != 64 {
		return false
	}
	return namedTarget(dir, d+target, sum)
}

// namedTarget reports whether a published N.targets.json of dir lists
// target with this SHA-256 (hex).
func namedTarget(dir, target, sum string) bool {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	for _, e := range ents {
		if !e.Type().IsRegular() || !strings.HasSuffix(e.Name(), ".targets.json") || !metadataName.MatchString(e.Name()) {
			continue
		}
		b, err := readRegular(dir, e.Name())
		if err != nil {
			continue
		}
		t, err := (&metadata.Metadata[metadata.TargetsType]{}).FromBytes(b)
		if err != nil {
			continue
		}
		if tf, ok := t.Signed.Targets[target]; ok && hex.EncodeToString(tf.Hashes["sha256"]) == sum {
			return true
		}
	}
	return false
}

func readRegular(dir, name string) ([]byte, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	if fi, err := root.Lstat(name); err != nil || !fi.Mode().IsRegular() {
		return nil, errors.New("release: not a regular file")
	}
	return root.ReadFile(name)
}
