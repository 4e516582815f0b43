package sim

import (
	_ "embed"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"eidkiosk/idcard"
	"eidkiosk/internal/pii"
)

//go:embed deck.toml
var defaultDeck string

// DefaultDeck returns the embedded deck of synthetic cards (see deck.toml):
// every kind, fictional people, valid check characters.
func DefaultDeck() []idcard.Card {
	d, err := ParseDeck(defaultDeck)
	if err != nil {
		panic("sim: embedded deck: " + err.Error()) // caught by the package tests
	}
	return d
}

// LoadDeck reads a deck file (TOML, [[card]] tables; see deck.toml).
func LoadDeck(path string) ([]idcard.Card, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("sim: deck: %w", err)
	}
	d, err := parseDeck(string(b), filepath.Dir(path))
	if err != nil {
		return nil, fmt.Errorf("sim: deck %s: %w", path, err)
	}
	return d, nil
}

type deckFile struct {
	Card []deckCard `toml:"card"`
}

type deckCard struct {
	Kind         string   `toml:"kind"`
	Name         string   `toml:"name"`
	NameEN       string   `toml:"name_en"`
	Gender       string   `toml:"gender"`
	Ethnic       string   `toml:"ethnic"`
	Nationality  string   `toml:"nationality"`
	Birth        string   `toml:"birth"`
	Address      string   `toml:"address"`
	Number       string   `toml:"number"`
	Authority    string   `toml:"authority"`
	ValidFrom    string   `toml:"valid_from"`
	ValidTo      string   `toml:"valid_to"`
	PassNumber   string   `toml:"pass_number"`
	IssueCount   string   `toml:"issue_count"`
	RenewalCount string   `toml:"renewal_count"`
	CardVersion  string   `toml:"card_version"`
	PrevLink     string   `toml:"prev_link"`
	Photo        string   `toml:"photo"`
	Fingerprint  int      `toml:"fingerprint"`
	NewAddresses []string `toml:"new_addresses"`
}

// ParseDeck parses deck text (photo paths relative to the working directory). Cards are laid out with idcard.EncodeText, so
// Text holds the chip's 256-byte block; values are not validated, so a deck
// may hold invalid cards on purpose.
func ParseDeck(text string) ([]idcard.Card, error) { return parseDeck(text, ".") }

// parseDeck resolves relative photo paths against dir.
func parseDeck(text, dir string) ([]idcard.Card, error) {
	var f deckFile
	md, err := toml.Decode(text, &f)
	if err != nil {
		return nil, fmt.Errorf("sim: deck: %w", err)
	}
	if u := md.Undecoded(); len(u) > 0 {
		return nil, fmt.Errorf("sim: deck: unknown key %q", u[0].String())
	}
	if len(f.Card) == 0 {
		return nil, fmt.Errorf("sim: deck: no [[card]]")
	}
	out := make([]idcard.Card, 0, len(f.Card))
	for i, d := range f.Card {
		c, err := d.card(dir)
		if err != nil {
			return nil, fmt.Errorf("sim: deck: card %d: %w", i, err)
		}
		out = append(out, c)
	}
	return out, nil
}

func (d deckCard) card(dir string) (idcard.Card, error) {
	var c idcard.Card
	switch d.Kind {
	case "resident":
		c.Kind = idcard.KindResident
	case "foreign-2017":
		c.Kind = idcard.KindForeign2017
	case "foreign-2023":
		c.Kind = idcard.KindForeign2023
	case "hkmotw-permit":
		c.Kind = idcard.KindHKMOTW
	default:
		return c, fmt.Errorf("kind %q: use resident, foreign-2017, foreign-2023 or hkmotw-permit", d.Kind)
	}
	num := d.Number
	if len(num) == 18 && strings.HasSuffix(num, "?") {
		ch, err := idcard.CheckChar(num[:17])
		if err != nil {
			return c, fmt.Errorf("number: %w", err)
		}
		num = num[:17] + string(ch)
	}
	c.Name, c.NameEN, c.Number = pii.Text(d.Name), pii.Text(d.NameEN), pii.Text(num)
	c.Address, c.PassNumber = pii.Text(d.Address), pii.Text(d.PassNumber)
	c.Gender, c.Ethnic, c.Nationality, c.Authority = d.Gender, d.Ethnic, d.Nationality, d.Authority
	c.IssueCount, c.RenewalCount, c.CardVersion, c.PrevLink = d.IssueCount, d.RenewalCount, d.CardVersion, d.PrevLink
	if len(d.NewAddresses) > 4 {
		return c, fmt.Errorf("new_addresses: %d; the card has 4 slots", len(d.NewAddresses))
	}
	for _, a := range d.NewAddresses {
		if _, err := idcard.EncodeAddress(a); err != nil {
			return c, err
		}
		c.NewAddresses = append(c.NewAddresses, pii.Text(a))
	}
	var err error
	if c.BirthDate, err = day("birth", d.Birth); err != nil {
		return c, err
	}
	if c.ValidFrom, err = day("valid_from", d.ValidFrom); err != nil {
		return c, err
	}
	if d.ValidTo == "长期" {
		c.NoExpiry = true
	} else if c.ValidTo, err = day("valid_to", d.ValidTo); err != nil {
		return c, err
	}
	c.BirthDateText, c.ValidFromText, c.ValidToText = d.Birth, d.ValidFrom, d.ValidTo
	if c.Text, err = idcard.EncodeText(c); err != nil {
		return c, err
	}
	seed := fnv.New64a()
	seed.Write(c.Text)
	switch d.Photo {
	case "", "synthetic":
		c.Photo = SyntheticWLT(seed.Sum64())
	case "zero":
		c.Photo = make([]byte, idcard.PhotoLen)
	case "sim:" + PhotoWebcamMan, "sim:" + PhotoGraceHopper:
		if c.Photo, err = namedPhoto(d.Photo); err != nil {
			return c, err
		}
	default:
		path := d.Photo
		if !filepath.IsAbs(path) {
			path = filepath.Join(dir, path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return c, fmt.Errorf("photo: %w", err)
		}
		if len(b) != idcard.PhotoLen {
			return c, fmt.Errorf("photo %s: %d bytes, want %d", d.Photo, len(b), idcard.PhotoLen)
		}
		c.Photo = b
	}
	switch d.Fingerprint {
	case 0:
	case 512, 1024:
		c.Fingerprint = syntheticFP(seed.Sum64(), d.Fingerprint)
	default:
		return c, fmt.Errorf("fingerprint: %d bytes; use 0, 512 or 1024", d.Fingerprint)
	}
	return c, nil
}

func day(key, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := idcard.ParseDate(s)
	if err != nil {
		return t, fmt.Errorf("%s: %q is not YYYYMMDD", key, s)
	}
	return t, nil
}

// SyntheticWLT returns 1024 bytes shaped like a WLT photo header ('W' 'L',
// 102 × 126 little-endian, as a public capture shows; reference §8) followed
// by deterministic noise. No decoder can make a picture of it; the fake
// decoders in the tests derive a picture from its bytes.
func SyntheticWLT(seed uint64) []byte {
	b := make([]byte, idcard.PhotoLen)
	copy(b, []byte{0x57, 0x4C, 0x66, 0x00, 0x7E, 0x00, 0x32, 0x00})
	r := rand.New(rand.NewPCG(seed, 0x574c54))
	for i := 8; i < len(b); i++ {
		b[i] = byte(r.Uint32())
	}
	return b
}

// syntheticFP returns n bytes of made-up fingerprint templates, each 512
// bytes beginning 43 01 like vendor dumps (reference §8).
func syntheticFP(seed uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, 0x4650))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	for i := 0; i < n; i += 512 {
		binary.BigEndian.PutUint16(b[i:], 0x4301)
	}
	return b
}
