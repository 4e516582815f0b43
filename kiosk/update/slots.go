package update

import (
	"archive/tar"
	"bufio"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// Limits on what a release archive may unpack to.
const (
	MaxUnpacked = 2 << 30 // bytes
	MaxFiles    = 10000
)

// Manifest describes a complete slot; it is written last, inside the slot,
// before the slot is renamed into place.
type Manifest struct {
	Version     string              `json:"version"`
	Target      string              `json:"target"`           // TUF target path, or "seed"
	SHA256      string              `json:"sha256,omitempty"` // of the target archive
	Files       map[string]FileHash `json:"files"`
	InstalledAt time.Time           `json:"installed_at"`
}

// FileHash is one file of a slot.
type FileHash struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

const manifestName = "manifest.json"

// ReadManifest reads a slot's manifest.
func (l Layout) ReadManifest(slot string) (Manifest, error) {
	b, err := os.ReadFile(filepath.Join(l.SlotDir(slot), manifestName))
	if err != nil {
		return Manifest{}, fmt.Errorf("update: slot %s: %w", slot, err)
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return Manifest{}, fmt.Errorf("update: slot %s: manifest damaged: %w", slot, err)
	}
	return m, nil
}

// VerifySlot checks that slot holds a complete release: its manifest is
// readable and the entry binary (every file when full) matches it.
func (l Layout) VerifySlot(slot string, full bool) (Manifest, error) {
	m, err := l.ReadManifest(slot)
	if err != nil {
		return m, err
	}
	if _, ok := m.Files[Entry]; !ok {
		return m, fmt.Errorf("update: slot %s: manifest lists no %s", slot, Entry)
	}
	for name, want := range m.Files {
		if !full && name != Entry {
			continue
		}
		got, err := hashFile(filepath.Join(l.SlotDir(slot), filepath.FromSlash(name)))
		if err != nil {
			return m, fmt.Errorf("update: slot %s: %w", slot, err)
		}
		if got != want {
			return m, fmt.Errorf("update: slot %s: %s does not match its manifest", slot, name)
		}
	}
	return m, nil
}

func hashFile(p string) (FileHash, error) {
	f, err := os.Open(p)
	if err != nil {
		return FileHash{}, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return FileHash{}, err
	}
	return FileHash{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// installArchive unpacks a verified release archive (tar or tar.gz) into
// slot: into a temporary directory first, every file fsynced, the manifest
// last, then renamed over the slot. A power cut leaves either the old slot,
// no slot, or the complete new one.
func (l Layout) installArchive(ctx context.Context, slot, archive string, m Manifest) error {
	if err := l.ensure(); err != nil {
		return err
	}
	l.cleanTemp()
	tmp, err := os.MkdirTemp(l.SlotsDir(), "."+slot+"-tmp-")
	if err != nil {
		return fmt.Errorf("update: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	files, err := unpack(ctx, archive, tmp)
	if err != nil {
		return err
	}
	if _, has := files[Entry]; !has {
		return &Refusal{Reason: ReasonBadArchive, Err: fmt.Errorf("archive has no %q at its top level", Entry)}
	}
	m.Files = files
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("update: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(tmp, manifestName), b, 0o644); err != nil {
		return err
	}
	if err := os.RemoveAll(l.SlotDir(slot)); err != nil {
		return fmt.Errorf("update: clear slot %s: %w", slot, err)
	}
	if err := os.Rename(tmp, l.SlotDir(slot)); err != nil {
		return fmt.Errorf("update: %w", err)
	}
	ok = true
	return syncDir(l.SlotsDir())
}

// installBinary makes a slot from a single kiosk binary (seeding a new
// terminal from the Debian package).
func (l Layout) installBinary(slot, binary string, m Manifest) error {
	if err := l.ensure(); err != nil {
		return err
	}
	l.cleanTemp()
	tmp, err := os.MkdirTemp(l.SlotsDir(), "."+slot+"-tmp-")
	if err != nil {
		return fmt.Errorf("update: %w", err)
	}
	defer os.RemoveAll(tmp)
	src, err := os.Open(binary)
	if err != nil {
		return fmt.Errorf("update: %w", err)
	}
	defer src.Close()
	fh, err := writeSynced(filepath.Join(tmp, Entry), src, 0o755, MaxUnpacked)
	if err != nil {
		return err
	}
	m.Files = map[string]FileHash{Entry: fh}
	b, _ := json.MarshalIndent(m, "", "  ")
	if err := writeFileAtomic(filepath.Join(tmp, manifestName), b, 0o644); err != nil {
		return err
	}
	if err := os.RemoveAll(l.SlotDir(slot)); err != nil {
		return fmt.Errorf("update: clear slot %s: %w", slot, err)
	}
	if err := os.Rename(tmp, l.SlotDir(slot)); err != nil {
		return fmt.Errorf("update: %w", err)
	}
	return syncDir(l.SlotsDir())
}

// cleanTemp removes half-written slots left by a power cut.
func (l Layout) cleanTemp() {
	ents, _ := os.ReadDir(l.SlotsDir())
	for _, e := range ents {
		if strings.HasPrefix(e.Name(), ".") && strings.Contains(e.Name(), "-tmp-") {
			os.RemoveAll(filepath.Join(l.SlotsDir(), e.Name()))
		}
	}
}

func unpack(ctx context.Context, archive, dir string) (map[string]FileHash, error) {
	f, err := os.Open(archive)
	if err != nil {
		return nil, fmt.Errorf("update: %w", err)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	var r io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return nil, &Refusal{Reason: ReasonBadArchive, Err: err}
		}
		defer gz.Close()
		r = gz
	}
	tr := tar.NewReader(r)
	files := map[string]FileHash{}
	var total int64
	for {
		if err := ctx.Err(); err != nil {
			return nil, err // stopping: the half-written slot is removed
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, &Refusal{Reason: ReasonBadArchive, Err: err}
		}
		name := path.Clean(strings.TrimPrefix(h.Name, "./"))
		if name == "." {
			continue
		}
		if path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") || name == manifestName {
			return nil, &Refusal{Reason: ReasonBadArchive, Err: fmt.Errorf("unsafe path %q", h.Name)}
		}
		dst := filepath.Join(dir, filepath.FromSlash(name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(dst, 0o755); err != nil {
				return nil, fmt.Errorf("update: %w", err)
			}
		case tar.TypeReg:
			if len(files) >= MaxFiles {
				return nil, &Refusal{Reason: ReasonBadArchive, Err: fmt.Errorf("more than %d files", MaxFiles)}
			}
			if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
				return nil, fmt.Errorf("update: %w", err)
			}
			mode := os.FileMode(0o644)
			if h.Mode&0o111 != 0 || name == Entry {
				mode = 0o755
			}
			fh, err := writeSynced(dst, tr, mode, MaxUnpacked-total)
			if err != nil {
				return nil, err
			}
			total += fh.Size
			files[name] = fh
		default:
			return nil, &Refusal{Reason: ReasonBadArchive, Err: fmt.Errorf("%q is not a regular file or directory", h.Name)}
		}
	}
	return files, syncTree(dir)
}

// writeSynced copies at most limit bytes of r into a new file and fsyncs it.
func writeSynced(dst string, r io.Reader, mode os.FileMode, limit int64) (FileHash, error) {
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode)
	if err != nil {
		return FileHash{}, fmt.Errorf("update: %w", err)
	}
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(out, h), io.LimitReader(r, limit+1))
	if err == nil && n > limit {
		err = &Refusal{Reason: ReasonTooLarge, Err: fmt.Errorf("%w: archive unpacks to more than %d bytes", ErrTooLarge, MaxUnpacked)}
	}
	if err == nil {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		var r *Refusal
		if errors.As(err, &r) {
			return FileHash{}, err
		}
		return FileHash{}, fmt.Errorf("update: write %s: %w", filepath.Base(dst), err)
	}
	return FileHash{Size: n, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// syncTree fsyncs every directory under dir (files were synced as written).
func syncTree(dir string) error {
	return filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return syncDir(p)
		}
		return nil
	})
}
