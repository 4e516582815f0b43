package idcard_test

// These tests drive the real driver (OpenSerial on go.bug.st/serial, the
// Reader and the Poller) on a real pseudo-terminal against the simulator.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/image/bmp"

	reader "eidkiosk/drivers/idcard"
	"eidkiosk/drivers/idcard/sim"
	"eidkiosk/idcard"
	"eidkiosk/internal/clock"
)

// TestMain doubles as the fake vendor WLT decoder: run with
// IDCARD_FAKE_WLT=ok it reads WLT bytes on stdin and writes a 102×126 BMP
// whose colour comes from the bytes; with =fail it fails like WltRS's
// "not licensed".
func TestMain(m *testing.M) {
	switch os.Getenv("IDCARD_FAKE_WLT") {
	case "ok":
		wlt, _ := io.ReadAll(os.Stdin)
		if len(wlt) != idcard.PhotoLen {
			fmt.Fprintln(os.Stderr, "bad wlt length")
			os.Exit(2)
		}
		img := image.NewRGBA(image.Rect(0, 0, 102, 126))
		c := color.RGBA{wlt[100], wlt[200], wlt[300], 255}
		for y := 0; y < 126; y++ {
			for x := 0; x < 102; x++ {
				img.Set(x, y, c)
			}
		}
		bmp.Encode(os.Stdout, img)
		os.Exit(0)
	case "fail":
		fmt.Fprintln(os.Stderr, "-5 not licensed")
		os.Exit(3)
	}
	os.Exit(m.Run())
}

func startSim(t testing.TB, o sim.Options) *sim.Sim {
	t.Helper()
	s, err := sim.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func openReader(t testing.TB, s *sim.Sim, baud int, to reader.Timeouts) *reader.Reader {
	t.Helper()
	p, err := reader.OpenSerial(s.Path(), baud)
	if err != nil {
		t.Fatal(err)
	}
	r := reader.NewReader(p, baud, to)
	t.Cleanup(func() { r.Close() })
	return r
}

func TestCommandsOnPty(t *testing.T) {
	s := startSim(t, sim.Options{})
	r := openReader(t, s, 115200, reader.Timeouts{})
	ctx := context.Background()
	if err := r.Status(ctx); err != nil {
		t.Fatal(err)
	}
	id, err := r.SAMID(ctx)
	if err != nil || id != "05.01-01000000-0123456789-0987654321" {
		t.Fatalf("SAM ID %q %v", id, err)
	}
	err = r.Find(ctx)
	var se *reader.StatusError
	if !errors.Is(err, reader.ErrNoCard) || !errors.As(err, &se) || se.SW3 != 0x80 {
		t.Fatalf("find without card: %v", err)
	}
	if err := r.Select(ctx); !errors.Is(err, reader.ErrNoCard) {
		t.Fatalf("select without card: %v", err)
	}
	s.Place(0)
	if err := r.Find(ctx); err != nil {
		t.Fatal(err)
	}
	// Reading before select fails as on a real SAM: no authentication.
	if _, err := r.ReadBase(ctx, false); !errors.Is(err, reader.ErrCardRead) {
		t.Fatalf("read without select: %v", err)
	}
	if err := r.Find(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.Select(ctx); err != nil {
		t.Fatal(err)
	}
	c, err := r.ReadBase(ctx, false)
	if err != nil || c.Number.Reveal() != "990101199003071237" {
		t.Fatalf("read: %v", err)
	}
	if a, err := r.ReadNewAddresses(ctx); err != nil || a != nil {
		t.Fatalf("new addresses: %v %v", a, err)
	}
	s.Place(1)
	if _, _, err := r.ReadCard(ctx, true); err != nil {
		t.Fatal(err)
	}
	if a, err := r.ReadNewAddresses(ctx); err != nil || len(a) != 1 || a[0] != s.Deck()[1].NewAddresses[0] {
		t.Fatalf("new addresses of card 1: %d %v", len(a), err)
	}
	if err := r.SetMaxRFBytes(ctx, 0x50); err != nil {
		t.Fatal(err)
	}
	if err := r.SetMaxRFBytes(ctx, 10); err == nil {
		t.Fatal("max RF 10 accepted")
	}
	if err := r.Reset(ctx); err != nil {
		t.Fatal(err)
	}
	// Set baud: the acknowledgement comes at the old rate, then both switch.
	if err := r.SetBaud(ctx, 57600); err != nil {
		t.Fatal(err)
	}
	if s.Baud() != 57600 || r.Baud() != 57600 {
		t.Fatalf("rates after set baud: sim %d, reader %d", s.Baud(), r.Baud())
	}
	if err := r.Status(ctx); err != nil {
		t.Fatalf("status at the new rate: %v", err)
	}
	if err := r.SetBaud(ctx, 12345); err == nil {
		t.Fatal("set baud accepted 12345")
	}
}

// The simulator's answers are the reference's bytes: a raw read of the
// synthetic 张三 card is the 1295-byte frame with CHK 33 (reference §10).
func TestSimAnswersReferenceBytes(t *testing.T) {
	s := startSim(t, sim.Options{})
	s.Place(0)
	p, err := reader.OpenSerial(s.Path(), 115200)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	p.SetReadTimeout(2 * time.Second)
	for _, req := range []struct{ in, want string }{
		{"AAAAAA9669000320012 2", "AAAAAA966900080000 9F0000000097"},
		{"AAAAAA966900032002 21", "AAAAAA9669000C0000 90000000000000000 09C"},
	} {
		p.Write(hexb(t, req.in))
		want := hexb(t, req.want)
		got := readN(t, p, len(want))
		if !bytes.Equal(got, want) {
			t.Fatalf("answer % X, want % X", got, want)
		}
	}
	// The public USB test's find with CHK 21 instead of 22 [34]: SW3 10.
	p.Write(hexb(t, "AAAAAA96690003200121"))
	if got := readN(t, p, 11); !bytes.Equal(got, hexb(t, "AAAAAA9669000400001014")) {
		t.Fatalf("answer to a corrupt request: % X", got)
	}
	p.Write(hexb(t, "AAAAAA9669000330 0132"))
	got := readN(t, p, 1295)
	if !bytes.Equal(got[:14], hexb(t, "AAAAAA9669050800009001000400")) || got[1294] != 0x33 {
		t.Fatalf("read answer header % X, CHK %02X", got[:14], got[1294])
	}
	if !bytes.Equal(got[270:1294], make([]byte, 1024)) {
		t.Fatal("photo is not the zero photo")
	}
}

func hexb(t testing.TB, s string) []byte {
	var out []byte
	var hi byte
	n := 0
	for _, c := range s {
		var v byte
		switch {
		case c >= '0' && c <= '9':
			v = byte(c - '0')
		case c >= 'A' && c <= 'F':
			v = byte(c-'A') + 10
		default:
			continue
		}
		if n%2 == 0 {
			hi = v
		} else {
			out = append(out, hi<<4|v)
		}
		n++
	}
	return out
}

func readN(t testing.TB, r io.Reader, n int) []byte {
	t.Helper()
	buf := make([]byte, 0, n)
	tmp := make([]byte, 512)
	deadline := time.Now().Add(5 * time.Second)
	for len(buf) < n && time.Now().Before(deadline) {
		k, err := r.Read(tmp[:min(len(tmp), n-len(buf))])
		if err != nil {
			t.Fatal(err)
		}
		buf = append(buf, tmp[:k]...)
	}
	return buf
}

func sameCard(t *testing.T, name string, got, want idcard.Card) {
	t.Helper()
	if got.Kind != want.Kind || got.Name != want.Name || got.NameEN != want.NameEN || got.Gender != want.Gender ||
		got.Ethnic != want.Ethnic || got.Nationality != want.Nationality || !got.BirthDate.Equal(want.BirthDate) ||
		got.Address != want.Address || got.Number != want.Number || got.Authority != want.Authority ||
		!got.ValidFrom.Equal(want.ValidFrom) || !got.ValidTo.Equal(want.ValidTo) || got.NoExpiry != want.NoExpiry ||
		got.PassNumber != want.PassNumber || got.IssueCount != want.IssueCount || got.RenewalCount != want.RenewalCount ||
		got.CardVersion != want.CardVersion || got.PrevLink != want.PrevLink {
		t.Errorf("%s: decoded fields differ from the deck card", name)
	}
	if !bytes.Equal(got.Text, want.Text) || !bytes.Equal(got.Photo, want.Photo) || !bytes.Equal(got.Fingerprint, want.Fingerprint) {
		t.Errorf("%s: raw text, photo or fingerprint not kept byte for byte", name)
	}
}

// Every card of the deck (all kinds, with and without fingerprints) read
// through find, select and read, with 30 01 and 30 10.
func TestEveryCardKind(t *testing.T) {
	s := startSim(t, sim.Options{})
	r := openReader(t, s, 115200, reader.Timeouts{})
	kinds := map[idcard.Kind]bool{}
	for i, want := range s.Deck() {
		s.Place(i)
		for _, fp := range []bool{false, true} {
			c, tm, err := r.ReadCard(context.Background(), fp)
			name := fmt.Sprintf("card %d (%s) fp=%v", i, want.Kind, fp)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			w := want
			if !fp {
				w.Fingerprint = nil
			}
			sameCard(t, name, c, w)
			if tm.BytesOut != 30 || tm.BytesIn < 1295 {
				t.Errorf("%s: %d bytes out, %d in", name, tm.BytesOut, tm.BytesIn)
			}
			kinds[c.Kind] = true
		}
	}
	if len(kinds) != 4 {
		t.Fatalf("deck covers %d kinds, want 4", len(kinds))
	}
}

// readFault: one fault on one read, what ReadCard then returns.
func TestReadCardFaults(t *testing.T) {
	short := reader.Timeouts{Short: 150 * time.Millisecond, Read: 250 * time.Millisecond}
	cases := []struct {
		name  string
		fault sim.Fault
		want  error // nil: the read succeeds anyway
	}{
		{"garbage before answer", sim.Fault{Kind: sim.FaultGarbage, Cmd: reader.CmdReadBase, Bytes: 40}, nil},
		{"garbage before find", sim.Fault{Kind: sim.FaultGarbage, Cmd: reader.CmdFindCard, Bytes: 3}, nil},
		{"split writes", sim.Fault{Kind: sim.FaultSplit, Cmd: reader.CmdReadBase, Bytes: 5, Gap: 100 * time.Microsecond}, nil},
		{"short stall", sim.Fault{Kind: sim.FaultStall, Cmd: reader.CmdReadBase, Stall: 30 * time.Millisecond}, nil},
		{"missed find once", sim.Fault{Kind: sim.FaultNoCard, Cmd: reader.CmdFindCard}, nil},
		{"missed find twice", sim.Fault{Kind: sim.FaultNoCard, Cmd: reader.CmdFindCard, Times: 2}, reader.ErrNoCard},
		{"bad checksum", sim.Fault{Kind: sim.FaultBadChecksum, Cmd: reader.CmdReadBase}, reader.ErrChecksum},
		{"bad length", sim.Fault{Kind: sim.FaultBadLength, Cmd: reader.CmdReadBase}, reader.ErrLength},
		{"long stall", sim.Fault{Kind: sim.FaultStall, Cmd: reader.CmdReadBase, Stall: time.Second}, reader.ErrTimeout},
		{"silent", sim.Fault{Kind: sim.FaultSilent, Cmd: reader.CmdSelectCard}, reader.ErrTimeout},
		{"noise instead of answer", sim.Fault{Kind: sim.FaultNoise, Cmd: reader.CmdFindCard}, reader.ErrTimeout},
		{"read failed 41", sim.Fault{Kind: sim.FaultStatus, Cmd: reader.CmdReadBase, Status: reader.StatusReadFailed}, reader.ErrCardRead},
		{"select failed 81", sim.Fault{Kind: sim.FaultStatus, Cmd: reader.CmdSelectCard, Status: reader.StatusSelectFailed}, reader.ErrNoCard},
		{"SAM unauthorised 66", sim.Fault{Kind: sim.FaultStatus, Cmd: reader.CmdReadBase, Status: reader.StatusUnauthorised}, reader.ErrSAM},
	}
	s := startSim(t, sim.Options{})
	r := openReader(t, s, 115200, short)
	s.Place(2)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.fault.Kind == sim.FaultNoCard {
				c.fault.Times = max(c.fault.Times, 1)
			}
			s.Inject(c.fault)
			card, _, err := r.ReadCard(context.Background(), false)
			s.ClearFaults()
			if c.want == nil {
				if err != nil {
					t.Fatalf("want success, got %v", err)
				}
				sameCard(t, c.name, card, withoutFP(s.Deck()[2]))
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("got %v, want %v", err, c.want)
			}
			if card.Text != nil || card.Photo != nil {
				t.Fatal("a failed read returned card data")
			}
			// The line is usable again once the SAM has finished its answer.
			time.Sleep(c.fault.Stall + 20*time.Millisecond)
			if _, _, err := r.ReadCard(context.Background(), false); err != nil {
				t.Fatalf("next read after the fault: %v", err)
			}
		})
	}
}

func withoutFP(c idcard.Card) idcard.Card { c.Fingerprint = nil; return c }

// events collects a Poller's events.
type events struct {
	t  *testing.T
	ch chan reader.Event
}

func runPoller(t *testing.T, o reader.Options) (*events, context.CancelFunc, chan error) {
	t.Helper()
	if o.Interval == 0 {
		o.Interval = 50 * time.Millisecond
	}
	if o.BackoffMin == 0 {
		o.BackoffMin, o.BackoffMax = 20*time.Millisecond, 100*time.Millisecond
	}
	o.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	ev := &events{t: t, ch: make(chan reader.Event, 100)}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	p := reader.NewPoller(o)
	go func() { done <- p.Run(ctx, func(e reader.Event) { ev.ch <- e }) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return ev, cancel, done
}

// next returns the next event, failing after a generous wait.
func (e *events) next() reader.Event {
	e.t.Helper()
	select {
	case ev := <-e.ch:
		return ev
	case <-time.After(10 * time.Second):
		e.t.Fatal("no event within 10s")
	}
	return reader.Event{}
}

// expect takes the next events and checks their kinds.
func (e *events) expect(kinds ...idcard.EventKind) []reader.Event {
	e.t.Helper()
	var out []reader.Event
	for _, k := range kinds {
		ev := e.next()
		if ev.Kind != k {
			e.t.Fatalf("event %s (err %v), want %s", ev.Kind, ev.Err, k)
		}
		out = append(out, ev)
	}
	return out
}

// none checks that no event arrives for d.
func (e *events) none(d time.Duration) {
	e.t.Helper()
	select {
	case ev := <-e.ch:
		e.t.Fatalf("unexpected event %s (err %v)", ev.Kind, ev.Err)
	case <-time.After(d):
	}
}

func TestPollerPlaceReadRemove(t *testing.T) {
	s := startSim(t, sim.Options{})
	ev, _, _ := runPoller(t, reader.Options{Port: s.Path()})
	back := ev.expect(idcard.ReaderBack)[0]
	if back.SAMID != "05.01-01000000-0123456789-0987654321" || back.Baud != 115200 {
		t.Fatalf("reader back: %q %d", back.SAMID, back.Baud)
	}
	for _, i := range []int{0, 3, 4} {
		finds := s.Stats().Requests[reader.CmdFindCard]
		s.Place(i)
		got := ev.expect(idcard.CardPlaced, idcard.CardRead)
		// Read in the poll that found it: exactly one find since placing.
		if n := s.Stats().Requests[reader.CmdFindCard] - finds; n > 2 {
			t.Errorf("card %d: %d finds between placing and reading", i, n)
		}
		sameCard(t, fmt.Sprint(i), got[1].Card, withoutFP(s.Deck()[i]))
		if got[1].Photo != nil || got[1].Timing.Total() <= 0 || got[1].Timing.Wire() <= 0 {
			t.Errorf("card %d: photo %v, timing %+v", i, got[1].Photo, got[1].Timing)
		}
		// A resting card is found on every poll but reported once.
		reads := s.Stats().Requests[reader.CmdReadBase]
		ev.none(200 * time.Millisecond)
		if s.Stats().Requests[reader.CmdReadBase] != reads {
			t.Error("a resting card was read again")
		}
		s.Remove()
		ev.expect(idcard.CardRemoved)
	}
}

func TestPollerRecoversFromFaults(t *testing.T) {
	s := startSim(t, sim.Options{})
	ev, _, _ := runPoller(t, reader.Options{Port: s.Path(), Fingerprint: true,
		Timeouts: reader.Timeouts{Short: 150 * time.Millisecond, ReadFP: 250 * time.Millisecond}})
	ev.expect(idcard.ReaderBack)

	// A transient fault on the read answer: retried within the same poll.
	for _, f := range []sim.Fault{
		{Kind: sim.FaultBadChecksum, Cmd: reader.CmdReadBaseFP},
		{Kind: sim.FaultGarbage, Cmd: reader.CmdReadBaseFP},
		{Kind: sim.FaultSplit, Cmd: reader.CmdReadBaseFP, Bytes: 64},
		{Kind: sim.FaultSilent, Cmd: reader.CmdReadBaseFP},
		{Kind: sim.FaultNoCard, Cmd: reader.CmdFindCard},
	} {
		s.Inject(f)
		s.Place(1)
		got := ev.expect(idcard.CardPlaced, idcard.CardRead)
		sameCard(t, f.Kind.String(), got[1].Card, s.Deck()[1])
		s.Remove()
		ev.expect(idcard.CardRemoved)
	}

	// A card error: the SAM is reset (10 FF) and the read retried.
	resets := s.Stats().Requests[reader.CmdResetSAM]
	s.Inject(sim.Fault{Kind: sim.FaultStatus, Cmd: reader.CmdReadBaseFP, Status: reader.StatusReadFailed})
	s.Place(1)
	ev.expect(idcard.CardPlaced, idcard.CardRead)
	if s.Stats().Requests[reader.CmdResetSAM] != resets+1 {
		t.Error("no SAM reset after a read error")
	}
	s.Remove()
	ev.expect(idcard.CardRemoved)

	// The card leaves during the read (select fails twice): a failed read
	// and a removal; still there at the next poll, it is read then.
	s.Inject(sim.Fault{Kind: sim.FaultStatus, Cmd: reader.CmdSelectCard, Status: reader.StatusSelectFailed, Times: 2})
	s.Place(1)
	got := ev.expect(idcard.CardPlaced, idcard.CardReadFailed, idcard.CardRemoved, idcard.CardPlaced, idcard.CardRead)
	if !errors.Is(got[1].Err, reader.ErrNoCard) || got[1].Invalid {
		t.Fatalf("card gone during the read: %v", got[1].Err)
	}
	s.Remove()
	ev.expect(idcard.CardRemoved)

	// Persistent card errors: one CardReadFailed, not Invalid, and no
	// further attempts while the card stays.
	s.Inject(sim.Fault{Kind: sim.FaultStatus, Cmd: reader.CmdReadBaseFP, Status: reader.StatusCardAuth, Times: 2})
	s.Place(1)
	got = ev.expect(idcard.CardPlaced, idcard.CardReadFailed)
	if got[1].Invalid || !errors.Is(got[1].Err, reader.ErrCardRead) {
		t.Fatalf("failed read: %v invalid=%v", got[1].Err, got[1].Invalid)
	}
	ev.none(150 * time.Millisecond)
	s.Remove()
	ev.expect(idcard.CardRemoved)
}

func TestPollerInvalidCard(t *testing.T) {
	deck, err := sim.ParseDeck(`
[[card]]
kind = "resident"
name = "赵错"
gender = "1"
ethnic = "01"
birth = "19900307"
address = "北京市东城区示例路9号"
number = "990101199003071238"
authority = "北京市公安局东城分局"
valid_from = "20200101"
valid_to = "20400101"
`)
	if err != nil {
		t.Fatal(err)
	}
	s := startSim(t, sim.Options{Deck: deck})
	ev, _, _ := runPoller(t, reader.Options{Port: s.Path()})
	ev.expect(idcard.ReaderBack)
	s.Place(0)
	got := ev.expect(idcard.CardPlaced, idcard.CardReadFailed)[1]
	if !got.Invalid || !errors.Is(got.Err, idcard.ErrInvalid) || got.Card.Text != nil {
		t.Fatalf("invalid card: %v invalid=%v", got.Err, got.Invalid)
	}
	if s.Stats().Requests[reader.CmdReadBase] != 1 {
		t.Error("invalid data was read again; it cannot change")
	}
}

// Unplugging mid-read: a reader fault, never a half-decoded card; when the
// reader comes back the card on it is read by itself.
func TestPollerUnplugMidRead(t *testing.T) {
	s := startSim(t, sim.Options{})
	ev, _, _ := runPoller(t, reader.Options{Port: s.Path()})
	ev.expect(idcard.ReaderBack)
	s.Inject(sim.Fault{Kind: sim.FaultUnplug, Cmd: reader.CmdReadBase, Stall: 150 * time.Millisecond})
	s.Place(4)
	got := ev.expect(idcard.CardPlaced, idcard.ReaderFault)
	if !errors.Is(got[1].Err, reader.ErrDisconnected) {
		t.Fatalf("fault: %v", got[1].Err)
	}
	got = ev.expect(idcard.ReaderBack, idcard.CardPlaced, idcard.CardRead)
	sameCard(t, "after replug", got[2].Card, s.Deck()[4])
	if s.Stats().Plugs != 2 {
		t.Errorf("plugs %d", s.Stats().Plugs)
	}

	// Unplugged while idle for a while: one fault, repeated reopen
	// attempts with backoff, then back.
	s.Unplug()
	ev.expect(idcard.ReaderFault)
	ev.none(300 * time.Millisecond)
	if err := s.Replug(); err != nil {
		t.Fatal(err)
	}
	ev.expect(idcard.ReaderBack, idcard.CardPlaced, idcard.CardRead)
}

func TestPollerNewAddress(t *testing.T) {
	s := startSim(t, sim.Options{})
	ev, _, _ := runPoller(t, reader.Options{Port: s.Path(), NewAddress: true})
	ev.expect(idcard.ReaderBack)
	s.Place(1)
	c := ev.expect(idcard.CardPlaced, idcard.CardRead)[1].Card
	if len(c.NewAddresses) != 1 || c.NewAddresses[0] != s.Deck()[1].NewAddresses[0] {
		t.Fatalf("%d new addresses", len(c.NewAddresses))
	}
	s.Remove()
	ev.expect(idcard.CardRemoved)
	s.Place(0)
	if c := ev.expect(idcard.CardPlaced, idcard.CardRead)[1].Card; c.NewAddresses != nil {
		t.Fatal("card 0 has no appended address (SW3 91)")
	}
}

// A reader that does not find a resting card again after reading it: no
// false removal, no second read; a real removal is still reported.
func TestPollerQuietReader(t *testing.T) {
	s := startSim(t, sim.Options{Quiet: true})
	ev, _, _ := runPoller(t, reader.Options{Port: s.Path()})
	ev.expect(idcard.ReaderBack)
	s.Place(0)
	ev.expect(idcard.CardPlaced, idcard.CardRead)
	ev.none(300 * time.Millisecond)
	if n := s.Stats().Requests[reader.CmdReadBase]; n != 1 {
		t.Fatalf("%d reads of one resting card", n)
	}
	if s.Stats().Requests[reader.CmdResetSAM] == 0 {
		t.Fatal("removal was not confirmed with a SAM reset")
	}
	s.Remove()
	ev.expect(idcard.CardRemoved)
	s.Place(3)
	ev.expect(idcard.CardPlaced, idcard.CardRead)
}

// The configured rate gets no answer: the driver probes the others.
func TestPollerProbesBaud(t *testing.T) {
	s := startSim(t, sim.Options{Baud: 38400})
	ev, _, _ := runPoller(t, reader.Options{Port: s.Path(), Baud: 115200,
		Timeouts: reader.Timeouts{Short: 100 * time.Millisecond}})
	back := ev.expect(idcard.ReaderBack)[0]
	if back.Baud != 38400 {
		t.Fatalf("found %d", back.Baud)
	}
	if s.Stats().Ignored == 0 {
		t.Error("the simulator never saw a wrong-rate request")
	}
	s.Place(5)
	ev.expect(idcard.CardPlaced, idcard.CardRead)
}

func TestPollerSAMSelfTestFails(t *testing.T) {
	s := startSim(t, sim.Options{})
	s.Inject(sim.Fault{Kind: sim.FaultStatus, Cmd: reader.CmdSAMStatus, Status: reader.StatusSelfTest, Times: 3})
	ev, _, _ := runPoller(t, reader.Options{Port: s.Path()})
	f := ev.expect(idcard.ReaderFault)[0]
	var se *reader.StatusError
	if !errors.As(f.Err, &se) || se.SW3 != 0x60 || !errors.Is(f.Err, reader.ErrSAM) {
		t.Fatalf("fault %v", f.Err)
	}
	ev.expect(idcard.ReaderBack)
}

func TestOpenRefusals(t *testing.T) {
	s := startSim(t, sim.Options{})
	if _, err := reader.OpenSerial(s.Path(), 1200); err == nil {
		t.Fatal("1200 baud accepted")
	}
	r := openReader(t, s, 115200, reader.Timeouts{})
	// Busy even for root (who passes TIOCEXCL): the device is locked.
	p, err := reader.OpenSerial(s.Path(), 115200)
	if err == nil {
		p.Close()
	}
	if !errors.Is(err, reader.ErrBusy) {
		t.Fatalf("second open: %v", err)
	}
	r.Close()
	p, err = reader.OpenSerial(s.Path(), 115200)
	if err != nil {
		t.Fatalf("open after the first closed: %v", err)
	}
	p.Close()
}

func TestPollerMissingPort(t *testing.T) {
	ev, _, _ := runPoller(t, reader.Options{Port: t.TempDir() + "/nope"})
	f := ev.expect(idcard.ReaderFault)[0]
	if !errors.Is(f.Err, reader.ErrDisconnected) || !errors.Is(f.Err, os.ErrNotExist) {
		t.Fatalf("fault %v", f.Err)
	}
	ev.none(200 * time.Millisecond) // reported once, not at every retry
}

// Cancelling the context interrupts even an exchange with a long timeout.
func TestPollerCancel(t *testing.T) {
	s := startSim(t, sim.Options{})
	ev, cancel, done := runPoller(t, reader.Options{Port: s.Path(),
		Timeouts: reader.Timeouts{Read: 30 * time.Second}})
	ev.expect(idcard.ReaderBack)
	s.Inject(sim.Fault{Kind: sim.FaultSilent, Cmd: reader.CmdReadBase})
	s.Place(0)
	ev.expect(idcard.CardPlaced)
	time.Sleep(50 * time.Millisecond) // inside the read now
	start := time.Now()
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Run returned %v", err)
		}
		t.Logf("Run returned %s after cancel", time.Since(start))
		done <- err // for the cleanup
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not stop on cancel (a 30s read timeout was pending)")
	}
}

func TestPollerPhotoDecoder(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	s := startSim(t, sim.Options{})
	for _, mode := range []string{"ok", "fail"} {
		t.Run(mode, func(t *testing.T) {
			dec := &reader.ExecDecoder{Path: exe, Env: []string{"IDCARD_FAKE_WLT=" + mode}}
			ev, _, _ := runPoller(t, reader.Options{Port: s.Path(), Photo: dec})
			ev.expect(idcard.ReaderBack)
			s.Place(1)
			got := ev.expect(idcard.CardPlaced, idcard.CardRead)[1]
			wlt := s.Deck()[1].Photo
			if mode == "fail" {
				if got.Photo != nil || !errors.Is(got.PhotoErr, reader.ErrPhotoDecoder) || !bytes.Equal(got.Card.Photo, wlt) {
					t.Fatalf("failing decoder: %v", got.PhotoErr)
				}
				t.Log(got.PhotoErr)
			} else {
				if got.PhotoErr != nil || got.Photo == nil || got.Photo.Bounds().Dx() != 102 || got.Photo.Bounds().Dy() != 126 {
					t.Fatalf("decoder: %v", got.PhotoErr)
				}
				r, g, b, _ := got.Photo.At(50, 60).RGBA()
				if byte(r>>8) != wlt[100] || byte(g>>8) != wlt[200] || byte(b>>8) != wlt[300] {
					t.Fatal("picture does not come from this card's WLT")
				}
			}
			s.Remove()
			ev.expect(idcard.CardRemoved)
		})
	}
	if _, err := reader.NewPhotoDecoder(t.TempDir(), 0); err == nil {
		t.Error("a directory accepted as decoder")
	}
	if d, err := reader.NewPhotoDecoder("", 0); d != nil || err != nil {
		t.Error("empty path must mean no decoder")
	}
}

// Reconnect backoff runs on the injected clock: nothing happens until the
// fake clock is advanced, however long the real wait.
func TestPollerBackoffOnInjectedClock(t *testing.T) {
	link := t.TempDir() + "/idcard"
	fake := clock.NewFake(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	ev, _, _ := runPoller(t, reader.Options{Port: link, Clock: fake, BackoffMin: time.Second, BackoffMax: 4 * time.Second})
	if f := ev.next(); f.Kind != idcard.ReaderFault || !f.At.Equal(fake.Now()) {
		t.Fatalf("first event %s at %s", f.Kind, f.At)
	}
	startSim(t, sim.Options{Link: link})
	ev.none(300 * time.Millisecond) // the real clock runs, the fake one does not
	for fake.Pending() == 0 {
		time.Sleep(time.Millisecond)
	}
	fake.Advance(time.Second)
	if b := ev.next(); b.Kind != idcard.ReaderBack {
		t.Fatalf("after the backoff: %s (%v)", b.Kind, b.Err)
	}
}

// A port without read timeouts (a plain *os.File on the tty) is read by the
// Reader's own goroutine: the same exchanges, cancellation and unplug.
func TestPlainFilePort(t *testing.T) {
	s := startSim(t, sim.Options{})
	f, err := os.OpenFile(s.Path(), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	r := reader.NewReader(f, 115200, reader.Timeouts{Read: 20 * time.Second})
	defer r.Close()
	s.Place(5)
	c, _, err := r.ReadCard(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	sameCard(t, "plain file", c, withoutFP(s.Deck()[5]))

	s.Inject(sim.Fault{Kind: sim.FaultSilent, Cmd: reader.CmdReadBase})
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(50 * time.Millisecond); cancel() }()
	if _, _, err := r.ReadCard(ctx, false); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled read: %v", err)
	}

	s.Inject(sim.Fault{Kind: sim.FaultUnplug, Cmd: reader.CmdReadBase})
	c, _, err = r.ReadCard(context.Background(), false)
	if !errors.Is(err, reader.ErrDisconnected) || c.Text != nil {
		t.Fatalf("unplug mid-read: %v", err)
	}
}

// Nothing personal reaches the log or an event's error, through reads,
// invalid data and faults.
func TestNoPersonalDataInLogsOrErrors(t *testing.T) {
	deck := sim.DefaultDeck()
	bad := deck[0]
	bad.Text = append([]byte(nil), bad.Text...)
	bad.Text[122+34] = '8' // last character of the number: check digit now wrong
	s := startSim(t, sim.Options{Deck: []idcard.Card{deck[0], bad, deck[3]}})
	var logs bytes.Buffer
	var mu sync.Mutex
	o := reader.Options{Port: s.Path(), Interval: 50 * time.Millisecond, BackoffMin: 20 * time.Millisecond,
		Photo: &reader.ExecDecoder{Path: "/nonexistent/decoder"},
		Log:   slog.New(slog.NewTextHandler(&lockedWriter{w: &logs, mu: &mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	ch := make(chan reader.Event, 64)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- reader.NewPoller(o).Run(ctx, func(e reader.Event) { ch <- e }) }()
	var texts []string
	wait := func(k idcard.EventKind) {
		for {
			select {
			case e := <-ch:
				texts = append(texts, e.Describe(false), fmt.Sprint(e.Card), fmt.Sprintf("%v", e.Err), fmt.Sprintf("%v", e.PhotoErr))
				if e.Kind == k {
					return
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("no %s", k)
			}
		}
	}
	wait(idcard.ReaderBack)
	for i := 0; i < 3; i++ {
		if i == 2 {
			s.Inject(sim.Fault{Kind: sim.FaultUnplug, Cmd: reader.CmdReadBase, Stall: 50 * time.Millisecond})
		}
		s.Place(i)
		if i == 1 {
			wait(idcard.CardReadFailed)
		} else if i == 2 {
			wait(idcard.ReaderBack)
			wait(idcard.CardRead)
		} else {
			wait(idcard.CardRead)
		}
		s.Remove()
		wait(idcard.CardRemoved)
	}
	cancel()
	<-done
	mu.Lock()
	all := logs.String() + strings.Join(texts, "\n")
	mu.Unlock()
	for _, c := range s.Deck() {
		for _, secret := range []string{c.Name.Reveal(), c.NameEN.Reveal(), c.Number.Reveal(), c.Address.Reveal(),
			c.Number.Reveal()[:17], c.BirthDate.Format("20060102")} {
			if secret != "" && strings.Contains(all, secret) {
				t.Errorf("personal value of a %s card found in logs or errors", c.Kind)
			}
		}
	}
	if !strings.Contains(logs.String(), "photo not decoded") || !strings.Contains(all, "check character") {
		t.Fatalf("the test did not exercise the failures it means to:\n%s", all)
	}
}

type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
