// Package font finds and prepares the single-face Simplified Chinese font the
// touch UI renders every string with, Latin included.
//
// Fyne cannot load a TrueType/OpenType collection (.ttc) and its system
// fallback picks the Japanese glyph forms of Noto Sans CJK, while Debian ships
// Noto Sans CJK only as collections (package fonts-noto-cjk). So at start the
// "Noto Sans CJK SC" face is copied out of the collection into a single-face
// OpenType file in a cache directory (atomically, once per installed
// collection) and handed to the theme. The extraction follows the OpenType
// font file layout: https://learn.microsoft.com/typography/opentype/spec/otff
// (TTC header, table directory, checksums).
//
// The package does not render or shape text and does not subset the font:
// rare name characters must stay available, so the face is kept whole.
package font

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"golang.org/x/image/font/sfnt"

	"eidkiosk/internal/atomicfile"
)

// Debian's Noto Sans CJK collections (package fonts-noto-cjk).
const (
	DebianRegular = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
	DebianBold    = "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc"
	// SCFamily is the family name of the Simplified Chinese face.
	SCFamily = "Noto Sans CJK SC"
)

// ErrNotFound is returned when no usable Simplified Chinese font exists.
var ErrNotFound = errors.New("font: no Simplified Chinese font found: install the Debian package fonts-noto-cjk, or set ui.font to a single-face TTF/OTF with Simplified Chinese")

// ErrFormat is wrapped by errors about malformed font files.
var ErrFormat = errors.New("font: malformed font file")

// Probe is the text every usable font must cover: common UI characters, the
// Latin letters and digits, and rare characters that occur in names.
const Probe = "请将身份证放在读卡区电子证照开通ABCXYZabcxyz0123456789" + RareNameChars

// RareNameChars are characters from citizens' names outside the common set
// (CJK Ext. A and B included); the UI must render them.
const RareNameChars = "䶮堃喆犇淼玥珺赟燊禤昇骉鑫垚𠮷"

// Face is one prepared single-face font file.
type Face struct {
	Path  string // the single-face file the bytes came from
	Name  string // full font name, e.g. "Noto Sans CJK SC Regular"
	Bytes []byte
}

// Faces is the regular and bold face of the UI font. Bold is Regular when no
// bold face is installed.
type Faces struct{ Regular, Bold Face }

// Options says where to look and where to cache.
type Options struct {
	// Configured is a single-face TTF/OTF chosen in the configuration
	// (ui.font); when set it is used for both weights and nothing is extracted.
	Configured string
	// CacheDir receives the extracted faces; "" uses os.UserCacheDir()/eidkiosk/fonts.
	CacheDir string
	// Regular and Bold are the collections to extract from; "" uses Debian's paths.
	Regular, Bold string
	// Family is the face to extract; "" is SCFamily.
	Family string
}

// Prepare returns the UI's faces, extracting them from the collections on
// first use. A missing regular face is ErrNotFound; a missing bold face falls
// back to the regular one.
func Prepare(o Options) (Faces, error) {
	if o.Configured != "" {
		f, err := loadSingle(o.Configured)
		if err != nil {
			return Faces{}, fmt.Errorf("font: ui.font %s: %w", o.Configured, err)
		}
		return Faces{Regular: f, Bold: f}, nil
	}
	if o.Regular == "" {
		o.Regular = DebianRegular
	}
	if o.Bold == "" {
		o.Bold = DebianBold
	}
	if o.Family == "" {
		o.Family = SCFamily
	}
	if o.CacheDir == "" {
		d, err := os.UserCacheDir()
		if err != nil {
			d = os.TempDir()
		}
		o.CacheDir = filepath.Join(d, "eidkiosk", "fonts")
	}
	reg, err := cached(o.Regular, o.Family, o.CacheDir)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return Faces{}, fmt.Errorf("%w (%s is missing)", ErrNotFound, o.Regular)
		}
		return Faces{}, err
	}
	bold, err := cached(o.Bold, o.Family, o.CacheDir)
	if err != nil {
		bold = reg
	}
	return Faces{Regular: reg, Bold: bold}, nil
}

// loadSingle reads a single-face font and checks it covers Probe.
func loadSingle(path string) (Face, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Face{}, err
	}
	if bytes.HasPrefix(b, []byte("ttcf")) {
		return Face{}, fmt.Errorf("%w: a collection (.ttc) cannot be used; give a single-face TTF/OTF", ErrFormat)
	}
	name, err := Verify(b, Probe)
	if err != nil {
		return Face{}, err
	}
	return Face{Path: path, Name: name, Bytes: b}, nil
}

// cached returns the face family of collection ttc from the cache directory,
// extracting it when the cache holds no copy for this exact collection file.
func cached(ttc, family, dir string) (Face, error) {
	st, err := os.Stat(ttc)
	if err != nil {
		return Face{}, err
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "%s|%d|%d|%s", ttc, st.Size(), st.ModTime().UnixNano(), family)
	base := strings.TrimSuffix(filepath.Base(ttc), filepath.Ext(ttc))
	name := fmt.Sprintf("%s-%s-%016x.otf", base, strings.ReplaceAll(family, " ", ""), h.Sum64())
	path := filepath.Join(dir, name)
	if b, err := mapFile(path); err == nil {
		if n, err := Verify(b, Probe); err == nil {
			return Face{Path: path, Name: n, Bytes: b}, nil
		}
		syscall.Munmap(b)
		// A damaged cache file is replaced below.
	}
	coll, err := os.ReadFile(ttc)
	if err != nil {
		return Face{}, err
	}
	idx, err := FindFace(coll, family)
	if err != nil {
		return Face{}, fmt.Errorf("font: %s: %w", ttc, err)
	}
	out, err := Extract(coll, idx)
	if err != nil {
		return Face{}, fmt.Errorf("font: %s: %w", ttc, err)
	}
	n, err := Verify(out, Probe)
	if err != nil {
		return Face{}, fmt.Errorf("font: %s face %d: %w", ttc, idx, err)
	}
	if err := writeAtomic(dir, name, out); err != nil {
		return Face{}, err
	}
	// From now on the cached file, mapped: out and the collection are garbage.
	if b, err := mapFile(path); err == nil {
		return Face{Path: path, Name: n, Bytes: b}, nil
	}
	return Face{Path: path, Name: n, Bytes: out}, nil
}

// FindFace returns the index of the face whose family name is family in a
// collection.
func FindFace(ttc []byte, family string) (int, error) {
	c, err := sfnt.ParseCollection(ttc)
	if err != nil {
		return 0, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	var buf sfnt.Buffer
	var seen []string
	for i := 0; i < c.NumFonts(); i++ {
		f, err := c.Font(i)
		if err != nil {
			return 0, fmt.Errorf("%w: face %d: %v", ErrFormat, i, err)
		}
		n, err := f.Name(&buf, sfnt.NameIDFamily)
		if err != nil {
			continue
		}
		if n == family {
			return i, nil
		}
		seen = append(seen, n)
	}
	return 0, fmt.Errorf("font: no face %q in the collection (it has %s)", family, strings.Join(seen, ", "))
}

// Verify parses a single-face font and checks that every rune of probe has
// a glyph. It returns the font's full name.
func Verify(b []byte, probe string) (string, error) {
	f, err := sfnt.Parse(b)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrFormat, err)
	}
	var buf sfnt.Buffer
	var missing []rune
	for _, r := range probe {
		g, err := f.GlyphIndex(&buf, r)
		if err != nil || g == 0 {
			missing = append(missing, r)
		}
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("font: no glyphs for %q", string(missing))
	}
	name, err := f.Name(&buf, sfnt.NameIDFull)
	if err != nil {
		name = "?"
	}
	return name, nil
}

type tableRecord struct {
	tag            [4]byte
	checksum       uint32
	offset, length uint32
}

// Extract copies face index of a TTC collection into a standalone OpenType
// file: a new table directory and every table of that face, 4-byte aligned,
// with table checksums and head.checkSumAdjustment recomputed.
func Extract(ttc []byte, index int) ([]byte, error) {
	if len(ttc) < 12 || string(ttc[:4]) != "ttcf" {
		return nil, fmt.Errorf("%w: not a font collection (no ttcf header)", ErrFormat)
	}
	be := binary.BigEndian
	n := int(be.Uint32(ttc[8:12]))
	if n <= 0 || n > 1<<10 || 12+4*n > len(ttc) {
		return nil, fmt.Errorf("%w: %d faces in the collection header", ErrFormat, n)
	}
	if index < 0 || index >= n {
		return nil, fmt.Errorf("font: face %d out of range (the collection has %d)", index, n)
	}
	off := int(be.Uint32(ttc[12+4*index:]))
	if off+12 > len(ttc) || off < 0 {
		return nil, fmt.Errorf("%w: face %d offset %d beyond the file", ErrFormat, index, off)
	}
	version := be.Uint32(ttc[off:])
	numTables := int(be.Uint16(ttc[off+4:]))
	if numTables == 0 || numTables > 256 || off+12+16*numTables > len(ttc) {
		return nil, fmt.Errorf("%w: face %d has %d tables", ErrFormat, index, numTables)
	}
	recs := make([]tableRecord, numTables)
	for i := range recs {
		p := off + 12 + 16*i
		copy(recs[i].tag[:], ttc[p:p+4])
		recs[i].checksum = be.Uint32(ttc[p+4:])
		recs[i].offset = be.Uint32(ttc[p+8:])
		recs[i].length = be.Uint32(ttc[p+12:])
		if uint64(recs[i].offset)+uint64(recs[i].length) > uint64(len(ttc)) {
			return nil, fmt.Errorf("%w: table %q of face %d lies beyond the file", ErrFormat, recs[i].tag[:], index)
		}
	}
	// The directory must be sorted by tag (binary search by readers).
	sort.Slice(recs, func(i, j int) bool { return bytes.Compare(recs[i].tag[:], recs[j].tag[:]) < 0 })

	hdr := 12 + 16*numTables
	size := hdr
	for _, r := range recs {
		size += pad4(int(r.length))
	}
	out := make([]byte, size)
	be.PutUint32(out[0:], version)
	be.PutUint16(out[4:], uint16(numTables))
	es := 0
	for 1<<(es+1) <= numTables {
		es++
	}
	sr := (1 << es) * 16
	be.PutUint16(out[6:], uint16(sr))
	be.PutUint16(out[8:], uint16(es))
	be.PutUint16(out[10:], uint16(numTables*16-sr))

	pos := hdr
	headAt := -1
	for i, r := range recs {
		data := out[pos : pos+int(r.length)]
		copy(data, ttc[r.offset:r.offset+r.length])
		if string(r.tag[:]) == "head" {
			if r.length < 12 {
				return nil, fmt.Errorf("%w: head table too short", ErrFormat)
			}
			be.PutUint32(data[8:], 0) // checkSumAdjustment, computed below
			headAt = pos
		}
		p := 12 + 16*i
		copy(out[p:], r.tag[:])
		be.PutUint32(out[p+4:], checksum(out[pos:pos+pad4(int(r.length))]))
		be.PutUint32(out[p+8:], uint32(pos))
		be.PutUint32(out[p+12:], r.length)
		pos += pad4(int(r.length))
	}
	if headAt < 0 {
		return nil, fmt.Errorf("%w: face %d has no head table", ErrFormat, index)
	}
	be.PutUint32(out[headAt+8:], 0xB1B0AFBA-checksum(out))
	return out, nil
}

func pad4(n int) int { return (n + 3) &^ 3 }

// checksum is the OpenType table checksum: the sum of big-endian uint32
// words, the data zero-padded to a multiple of four.
func checksum(b []byte) uint32 {
	var s uint32
	for len(b) >= 4 {
		s += binary.BigEndian.Uint32(b)
		b = b[4:]
	}
	if len(b) > 0 {
		var last [4]byte
		copy(last[:], b)
		s += binary.BigEndian.Uint32(last[:])
	}
	return s
}

// writeAtomic writes b to dir/name durably (atomicfile), making dir first.
func writeAtomic(dir, name string, b []byte) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("font: cache: %w", err)
	}
	if err := atomicfile.Write(filepath.Join(dir, name), b, 0o600); err != nil {
		return fmt.Errorf("font: cache: %w", err)
	}
	return nil
}
