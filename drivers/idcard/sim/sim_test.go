package sim

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	reader "eidkiosk/drivers/idcard"
	"eidkiosk/idcard"
)

func TestDefaultDeckIsValid(t *testing.T) {
	deck := DefaultDeck()
	kinds := map[idcard.Kind]int{}
	for i, c := range deck {
		got, err := idcard.DecodeText(c.Text)
		if err != nil {
			t.Fatalf("card %d does not decode: %v", i, err)
		}
		if got.Kind != c.Kind || got.Number != c.Number || got.Name != c.Name || got.NameEN != c.NameEN ||
			got.BirthDateText != c.BirthDateText || got.ValidFromText != c.ValidFromText || got.ValidToText != c.ValidToText {
			t.Errorf("card %d: decoded differently from the deck", i)
		}
		kinds[c.Kind]++
		if len(c.Photo) != idcard.PhotoLen {
			t.Errorf("card %d: photo %d bytes", i, len(c.Photo))
		}
		if n := c.Number.Reveal(); len(n) == 18 && !idcard.ValidNumber18(n) {
			t.Errorf("card %d: check character", i)
		}
	}
	if len(kinds) != 4 {
		t.Fatalf("kinds %v", kinds)
	}
	if deck[1].Photo[0] != 'W' || deck[1].Photo[1] != 'L' || len(deck[1].Fingerprint) != 1024 || deck[1].Fingerprint[512] != 0x43 {
		t.Error("synthetic photo or fingerprint shape")
	}
	now := time.Date(2026, 11, 23, 12, 0, 0, 0, idcard.CST)
	if !deck[6].Expired(now) || deck[0].Expired(now) || deck[1].Expired(now) {
		t.Error("card 6 is the expired one, 0 and 1 are valid")
	}
	if !deck[1].NoExpiry || len([]rune(deck[3].NameEN.Reveal())) <= 35 {
		t.Error("the deck must hold a 长期 card and a long 2023 English name")
	}
}

func TestParseDeck(t *testing.T) {
	d, err := ParseDeck(`
[[card]]
kind = "resident"
name = "测试"
gender = "1"
ethnic = "01"
birth = "19900307"
address = "某地"
number = "99010119900307123?"
authority = "某局"
valid_from = "20200101"
valid_to = "长期"
photo = "zero"
`)
	if err != nil {
		t.Fatal(err)
	}
	if d[0].Number.Reveal() != "990101199003071237" {
		t.Fatal("check character not computed")
	}
	for name, text := range map[string]string{
		"unknown key":  "[[card]]\nkind = \"resident\"\nnmae = \"x\"\n",
		"kind":         "[[card]]\nkind = \"passport\"\n",
		"date":         "[[card]]\nkind = \"resident\"\nbirth = \"1990-03-07\"\n",
		"fingerprint":  "[[card]]\nkind = \"resident\"\nfingerprint = 100\n",
		"too long":     "[[card]]\nkind = \"resident\"\nname = \"一二三四五六七八九十一二三四五六\"\n",
		"empty":        "",
		"missing file": "[[card]]\nkind = \"resident\"\nphoto = \"/nonexistent/x.wlt\"\n",
	} {
		if _, err := ParseDeck(text); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "deck.toml")
	os.WriteFile(path, []byte(defaultDeck), 0o600)
	if d, err := LoadDeck(path); err != nil || len(d) != len(DefaultDeck()) {
		t.Fatalf("LoadDeck: %v", err)
	}
	// A photo file beside the deck, named relative to it.
	wlt := SyntheticWLT(7)
	os.WriteFile(filepath.Join(dir, "p.wlt"), wlt, 0o600)
	os.WriteFile(path, []byte("[[card]]\nkind = \"resident\"\nphoto = \"p.wlt\"\n"), 0o600)
	if d, err := LoadDeck(path); err != nil || string(d[0].Photo) != string(wlt) {
		t.Fatalf("photo beside the deck: %v", err)
	}
}

func TestConsole(t *testing.T) {
	s, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	list, err := s.Command("list")
	if err != nil || strings.Contains(list, "张三") || strings.Contains(list, "990101199003071237") || !strings.Contains(list, "张*") {
		t.Fatalf("list must be masked: %q %v", list, err)
	}
	for _, l := range []string{"place 3", "fault stall cmd=read stall=10ms times=2", "fault status status=41", "baud 57600", "throttle on", "unplug", "replug", "remove", "clear", "stats", "help"} {
		if _, err := s.Command(l); err != nil {
			t.Errorf("%q: %v", l, err)
		}
	}
	if s.Baud() != 57600 || s.Placed() != -1 || !s.Plugged() || !s.Throttle() {
		t.Error("console commands had no effect")
	}
	for _, l := range []string{"place 99", "place x", "fault", "fault melt", "fault stall stall=soon", "fault status cmd=teleport", "baud 1234", "bogus"} {
		if _, err := s.Command(l); err == nil {
			t.Errorf("%q accepted", l)
		}
	}
	var out strings.Builder
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Console(ctx, strings.NewReader("place 1\nnonsense\nquit\nplace 2\n"), &out); err != nil {
		t.Fatal(err)
	}
	if s.Placed() != 1 || !strings.Contains(out.String(), "error:") || !strings.Contains(out.String(), "bye") {
		t.Fatalf("console: placed %d, output %q", s.Placed(), out.String())
	}
}

func TestUnplugRemovesPath(t *testing.T) {
	s, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	target, err := os.Readlink(s.Path())
	if err != nil || !strings.HasPrefix(target, "/dev/pts/") {
		t.Fatalf("link %q %v", target, err)
	}
	s.Unplug()
	if _, err := os.Stat(s.Path()); !os.IsNotExist(err) {
		t.Fatalf("path still there after unplug: %v", err)
	}
	if err := s.Replug(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(s.Path()); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if err := s.Replug(); err == nil {
		t.Fatal("replug after close")
	}
}

// Unplug must return even while another program holds the tty open and
// the simulator waits for requests.
func TestUnplugWithTTYHeld(t *testing.T) {
	s, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	f, err := os.OpenFile(s.Path(), os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	done := make(chan struct{})
	go func() { s.Unplug(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Unplug hangs while the tty is held open")
	}
}

// The deck's test photos are containers that only the simulator's test
// decoder reads; it refuses WLT-shaped and empty photos.
func TestContainerDecoder(t *testing.T) {
	deck := DefaultDeck()
	ctx := context.Background()
	for _, i := range []int{DemoCitizenCard, DemoStrangerCard} {
		p := deck[i].Photo
		if len(p) != idcard.PhotoLen || p[0] == 'W' {
			t.Fatalf("card %d: photo of %d bytes starting %q", i, len(p), p[:2])
		}
		img, err := ContainerDecoder{}.DecodePhoto(ctx, p)
		if err != nil || img.Bounds().Dx() != 102 || img.Bounds().Dy() != 126 {
			t.Fatalf("card %d: %v", i, err)
		}
	}
	if deck[DemoCitizenCard].Number != deck[0].Number {
		t.Error("the demo citizen's test-photo card is not card 0's holder")
	}
	for name, b := range map[string][]byte{"synthetic WLT": deck[1].Photo, "zero": deck[0].Photo, "short": []byte("eidkiosk-simjpeg")} {
		if _, err := (ContainerDecoder{}).DecodePhoto(ctx, b); !errors.Is(err, reader.ErrPhotoDecoder) {
			t.Errorf("%s: %v", name, err)
		}
	}
	big := make([]byte, MaxContainerJPEG+1)
	if _, err := PhotoContainer(big); err == nil {
		t.Error("an oversized JPEG fits the container")
	}
	if _, err := ParseDeck("[[card]]\nkind = \"resident\"\nphoto = \"sim:nobody\"\n"); err == nil {
		t.Error("an unknown test photo was accepted")
	}
}
