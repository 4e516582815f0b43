package printer_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/skip2/go-qrcode"

	"eidkiosk/drivers/printer"
	"eidkiosk/drivers/printer/sim"
)

const station = "南沙区公安分局 户政大厅"

var receipt = printer.Receipt{
	Station: station,
	Number:  "NS01-7K3Q-9D",
	QR:      "eidbind:v1:01JD2X7K3Q9D8M4N6P0R2S4T6V:Zk3q9dXa",
	At:      time.Date(2026, 11, 23, 8, 5, 0, 0, time.UTC),
}

// open serves a simulated printer on a pty and opens it like a serial port.
func open(t *testing.T, opt printer.Options) (*printer.Printer, *sim.Printer) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	if opt.Location == nil {
		opt.Location = time.UTC
	}
	p, s, err := sim.Open(ctx, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p, s
}

// printed waits until the simulator has received n bytes and returns its
// document.
func printed(t *testing.T, s *sim.Printer, n int) printer.Document {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.WaitLen(ctx, n); err != nil {
		t.Fatal(err)
	}
	doc, err := s.Document()
	if err != nil {
		t.Fatalf("the ESC/POS stream does not parse: %v", err)
	}
	return doc
}

func texts(doc printer.Document) []string {
	var out []string
	for _, it := range doc.Items {
		if it.QR == nil && it.Image == nil {
			out = append(out, it.Text)
		}
	}
	return out
}

func TestPrintNativeQROverPty(t *testing.T) {
	p, s := open(t, printer.Options{})
	if err := p.Print(context.Background(), receipt); err != nil {
		t.Fatal(err)
	}
	want, _ := p.Render(receipt)
	doc := printed(t, s, len(want)+6) // + two status requests
	if fmt.Sprint(doc.Status) != "[2 4]" {
		t.Fatalf("status requests %v, want paper and cover checked first", doc.Status)
	}
	if doc.Inits != 1 || doc.Cuts != 1 {
		t.Fatalf("inits %d cuts %d", doc.Inits, doc.Cuts)
	}
	gotTexts := strings.Join(texts(doc), "|")
	wantTexts := strings.Join([]string{station, strings.Repeat("-", 32), "登记号 Enrollment number", "NS01-7K3Q-9D",
		"2026-11-23 08:05", "已保存，将自动提交 Saved; it will be sent", "", "请用手机 eID 应用扫码 Scan with the eID app"}, "|")
	if gotTexts != wantTexts {
		t.Fatalf("printed lines\n got  %s\n want %s", gotTexts, wantTexts)
	}
	var qr, short *printer.Item
	for i := range doc.Items {
		it := &doc.Items[i]
		if it.QR != nil {
			qr = it
		}
		if it.Text == receipt.Number {
			short = it
		}
	}
	if qr == nil || string(qr.QR) != receipt.QR || qr.Align != printer.AlignCenter {
		t.Fatalf("QR item %+v", qr)
	}
	if doc.QRConfig != (printer.QRConfig{Model: 2, Module: 6, EC: 49}) {
		t.Fatalf("QR config %+v", doc.QRConfig)
	}
	if !short.Bold || short.Width != 2 || short.High != 2 {
		t.Fatalf("the enrollment number should print bold at double size: %+v", short)
	}
	if !bytes.Equal(s.Raw()[6:], want) {
		t.Fatal("bytes on the wire differ from Render")
	}
}

func TestPrintRasterQR(t *testing.T) {
	p, s := open(t, printer.Options{RasterQR: true, QRModule: 4, SkipStatus: true})
	r := receipt
	r.Sent = true
	if err := p.Print(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	want, _ := p.Render(r)
	doc := printed(t, s, len(want))
	if len(doc.Status) != 0 {
		t.Fatal("status asked although SkipStatus")
	}
	if !strings.Contains(strings.Join(texts(doc), "|"), "已提交 Sent to the authority") {
		t.Fatalf("lines %q", texts(doc))
	}
	var img [][]bool
	for _, it := range doc.Items {
		if it.Image != nil {
			img = it.Image
		}
	}
	q, err := qrcode.New(r.QR, qrcode.Medium)
	if err != nil {
		t.Fatal(err)
	}
	bm := q.Bitmap()
	if len(img) != len(bm)*4 || len(img[0]) < len(bm[0])*4 {
		t.Fatalf("image %dx%d, want %dx%d", len(img[0]), len(img), len(bm[0])*4, len(bm)*4)
	}
	for y := range img {
		for x := range img[y] {
			want := x < len(bm[0])*4 && bm[y/4][x/4]
			if img[y][x] != want {
				t.Fatalf("dot (%d,%d) = %v", x, y, img[y][x])
			}
		}
	}
	// The finder pattern in the top-left corner, after the 4-module quiet zone:
	// a dark 7x7 ring around a light ring around a dark 3x3 core.
	for m := 0; m < 7; m++ {
		for n := 0; n < 7; n++ {
			ring := m == 0 || m == 6 || n == 0 || n == 6
			core := m >= 2 && m <= 4 && n >= 2 && n <= 4
			if dark := img[(4+m)*4+1][(4+n)*4+1]; dark != (ring || core) {
				t.Fatalf("finder pattern module (%d,%d) dark=%v", n, m, dark)
			}
		}
	}
}

func TestPaperAndCoverStopPrinting(t *testing.T) {
	cases := []struct {
		set  func(*sim.Printer)
		want error
	}{
		{func(s *sim.Printer) { s.SetPaper(true, false) }, printer.ErrPaperOut},
		{func(s *sim.Printer) { s.SetCoverOpen(true) }, printer.ErrCoverOpen},
		{func(s *sim.Printer) { s.SetSilent(true) }, printer.ErrNoAnswer},
	}
	for _, c := range cases {
		p, s := open(t, printer.Options{StatusWait: 300 * time.Millisecond})
		c.set(s)
		err := p.Print(context.Background(), receipt)
		if !errors.Is(err, c.want) {
			t.Fatalf("err %v, want %v", err, c.want)
		}
		doc := printed(t, s, 3)
		time.Sleep(50 * time.Millisecond) // nothing more may arrive
		if doc, _ = s.Document(); len(doc.Items) != 0 || doc.Cuts != 0 {
			t.Fatalf("%v: printed %d items although it refused", c.want, len(doc.Items))
		}
	}
	p, s := open(t, printer.Options{})
	s.SetPaper(false, true)
	st, err := p.Status(context.Background())
	if err != nil || !st.PaperLow || st.PaperOut || st.Err() != nil {
		t.Fatalf("near end: %+v %v", st, err)
	}
}

func TestASCIIPrinter(t *testing.T) {
	p := printer.New(nopPort{}, printer.Options{ASCII: true, Location: time.UTC})
	r := receipt
	r.Station = "演示站 Demo station"
	b, err := p.Render(r)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(b, []byte{0x1c, '&'}) {
		t.Fatal("Chinese mode used on an ASCII printer")
	}
	d := printer.NewDecoder()
	if _, err := d.Write(b); err != nil || d.Close() != nil {
		t.Fatal(err)
	}
	lines := texts(d.Document())
	if lines[0] != "Demo station" || lines[2] != "Enrollment number" {
		t.Fatalf("lines %q", lines)
	}
}

func TestBadReceiptWritesNothing(t *testing.T) {
	var port recPort
	p := printer.New(&port, printer.Options{})
	for _, r := range []printer.Receipt{{QR: "x"}, {Number: "NS01", QR: ""}, {Number: "张三", QR: "x"}} {
		if err := p.Print(context.Background(), r); !errors.Is(err, printer.ErrBadReceipt) {
			t.Fatalf("%+v: err %v", r, err)
		}
	}
	if port.Len() != 0 {
		t.Fatal("bytes written for a refused receipt")
	}
}

func TestOpenMissingDevice(t *testing.T) {
	_, err := printer.Open("/dev/nonexistent-printer", 9600, printer.Options{})
	if err == nil || !strings.HasPrefix(err.Error(), "printer: open /dev/nonexistent-printer") {
		t.Fatalf("err = %v", err)
	}
}

func TestCancelledContext(t *testing.T) {
	p, _ := open(t, printer.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := p.Print(ctx, receipt); !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v", err)
	}
}

type nopPort struct{}

func (nopPort) Read([]byte) (int, error)           { return 0, nil }
func (nopPort) Write(b []byte) (int, error)        { return len(b), nil }
func (nopPort) Close() error                       { return nil }
func (nopPort) SetReadTimeout(time.Duration) error { return nil }

type recPort struct {
	nopPort
	bytes.Buffer
}

func (r *recPort) Write(b []byte) (int, error) { return r.Buffer.Write(b) }
func (r *recPort) Read(b []byte) (int, error)  { return 0, nil }

func TestUnpluggedPrinter(t *testing.T) {
	for _, skip := range []bool{false, true} { // noticed by the status query, or by the write
		s, path, err := sim.Pty(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		p, err := printer.Open(path, 9600, printer.Options{StatusWait: 300 * time.Millisecond, SkipStatus: skip})
		if err != nil {
			t.Fatal(err)
		}
		s.Unplug()
		err = p.Print(context.Background(), receipt)
		if !errors.Is(err, printer.ErrGone) {
			t.Fatalf("status check %v: err = %v, want ErrGone", !skip, err)
		}
		p.Close()
	}
}
