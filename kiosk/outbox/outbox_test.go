package outbox_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"eidkiosk/internal/clock"
	"eidkiosk/kiosk/config"
	"eidkiosk/kiosk/outbox"
	"eidkiosk/kiosk/session"
)

func open(t *testing.T, dir string, cfg config.OutboxConfig, clk clock.Clock) *outbox.Outbox {
	t.Helper()
	o, err := outbox.Open(context.Background(), dir, cfg, clk)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { o.Close() })
	return o
}

func pkg(n int, fill byte) []byte { return bytes.Repeat([]byte{fill}, n) }

func TestQueueOrderReleaseAck(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	o := open(t, dir, config.Default().Outbox, nil)
	for i, id := range []string{"a", "b", "c"} {
		if err := o.Enqueue(ctx, id, pkg(1000, byte(i+1))); err != nil {
			t.Fatal(err)
		}
	}
	it, ok, err := o.Next(ctx)
	if err != nil || !ok || it.ID != "a" || !bytes.Equal(it.Package, pkg(1000, 1)) {
		t.Fatalf("next: %v %v %q", ok, err, it.ID)
	}
	if err := o.Release(ctx, "a", "network down"); err != nil {
		t.Fatal(err)
	}
	it, _, _ = o.Next(ctx)
	if it.ID != "a" || it.Attempts != 1 {
		t.Fatalf("released item must come first again: %q attempts %d", it.ID, it.Attempts)
	}
	if err := o.Ack(ctx, "a", []byte("receipt")); err != nil {
		t.Fatal(err)
	}
	if err := o.Ack(ctx, "a", []byte("receipt")); !errors.Is(err, outbox.ErrNotFound) {
		t.Fatalf("second ack: %v", err)
	}
	st := o.Stats()
	if st.Pending != 2 || st.Acked != 1 || st.Bytes != 2000 || st.LastAck.IsZero() {
		t.Fatalf("stats %+v", st)
	}
	state, receipt, _ := o.State(ctx, "a")
	if state != outbox.Acked || string(receipt) != "receipt" {
		t.Fatalf("a: %s %q", state, receipt)
	}
	// Left "sending" by a crash: queued again at the next start.
	it, _, _ = o.Next(ctx)
	o.Close()
	o = open(t, dir, config.Default().Outbox, nil)
	if s, _, _ := o.State(ctx, it.ID); s != outbox.Queued {
		t.Fatalf("after restart %s is %s", it.ID, s)
	}
	// The acknowledged package is erased from the file (secure_delete).
	o.Close()
	b, _ := os.ReadFile(filepath.Join(dir, outbox.File))
	w, _ := os.ReadFile(filepath.Join(dir, outbox.File+"-wal"))
	if bytes.Contains(append(b, w...), pkg(1000, 1)) {
		t.Error("acknowledged package still on disk")
	}
	if !bytes.Contains(append(b, w...), pkg(1000, 2)) {
		t.Error("queued package not on disk")
	}
}

func TestEnqueueIdempotent(t *testing.T) {
	ctx := context.Background()
	o := open(t, t.TempDir(), config.Default().Outbox, nil)
	if err := o.Enqueue(ctx, "x", []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := o.Enqueue(ctx, "x", []byte("one")); err != nil {
		t.Fatalf("same package again: %v", err)
	}
	if err := o.Enqueue(ctx, "x", []byte("two")); !errors.Is(err, outbox.ErrConflict) {
		t.Fatalf("other package, same id: %v", err)
	}
	if o.Stats().Pending != 1 {
		t.Fatal("duplicate queued")
	}
}

func TestGateFull(t *testing.T) {
	ctx := context.Background()
	cfg := config.Default().Outbox
	cfg.MaxItems = 3
	o := open(t, t.TempDir(), cfg, nil)
	for i, id := range []string{"a", "b", "c"} {
		if err := o.Admit(); err != nil {
			t.Fatalf("item %d: %v", i, err)
		}
		o.Enqueue(ctx, id, []byte("p"))
	}
	if err := o.Admit(); !errors.Is(err, session.ErrOutboxFull) {
		t.Fatalf("at the item limit: %v", err)
	}
	// Enqueue never refuses: an admitted visit is not dropped.
	if err := o.Enqueue(ctx, "d", []byte("p")); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		n, _, _ := o.Next(ctx)
		o.Ack(ctx, n.ID, []byte("r"))
	}
	if err := o.Admit(); err != nil {
		t.Fatalf("after draining: %v", err)
	}

	cfg = config.Default().Outbox
	cfg.MaxBytes = 1 << 20
	o = open(t, t.TempDir(), cfg, nil)
	o.Enqueue(ctx, "big", pkg(400<<10, 7))
	if err := o.Admit(); err != nil {
		t.Fatalf("400 KiB of 1 MiB: %v", err)
	}
	o.Enqueue(ctx, "big2", pkg(200<<10, 7))
	if err := o.Admit(); !errors.Is(err, session.ErrOutboxFull) {
		t.Fatalf("600 KiB of 1 MiB with 512 KiB headroom: %v", err)
	}
}

func TestGateStaleByTime(t *testing.T) {
	ctx := context.Background()
	fake := clock.NewFake(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	cfg := config.Default().Outbox
	cfg.MaxBacklogAge = config.D(7 * 24 * time.Hour)
	o := open(t, t.TempDir(), cfg, fake)
	var logs bytes.Buffer
	o.SetLogger(slog.New(slog.NewTextHandler(&logs, nil)))
	ch, stop := o.Subscribe()
	defer stop()
	o.Enqueue(ctx, "a", []byte("p"))
	<-ch
	fake.Advance(7*24*time.Hour - time.Minute)
	if err := o.Admit(); err != nil {
		t.Fatalf("just under the age: %v", err)
	}
	fake.Advance(2 * time.Minute)
	select {
	case <-ch:
	default:
		t.Fatal("no notification when the backlog turned stale")
	}
	if err := o.Admit(); !errors.Is(err, session.ErrOutboxStale) {
		t.Fatalf("stale: %v", err)
	}
	o.Enqueue(ctx, "b", []byte("p")) // still stale: no second alert
	it, _, _ := o.Next(ctx)
	o.Ack(ctx, it.ID, []byte("r"))
	if err := o.Admit(); err != nil {
		t.Fatalf("after an ack: %v", err)
	}
	l := logs.String()
	if strings.Count(l, "refusing new visits") != 1 || !strings.Contains(l, "nothing acknowledged") ||
		strings.Count(l, "accepting visits again") != 1 {
		t.Errorf("gate alerts:\n%s", l)
	}
}

func TestGateDisabledSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	o := open(t, dir, config.Default().Outbox, nil)
	ch, stop := o.Subscribe()
	if err := o.SetDisabled(ctx, "device_revoked"); err != nil {
		t.Fatal(err)
	}
	<-ch
	stop()
	o.Close()
	o = open(t, dir, config.Default().Outbox, nil)
	if err := o.Admit(); !errors.Is(err, session.ErrDisabled) {
		t.Fatalf("after restart: %v", err)
	}
	o.SetDisabled(ctx, "")
	if err := o.Admit(); err != nil {
		t.Fatal(err)
	}
}

func TestExportWhileRunning(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	o := open(t, dir, config.Default().Outbox, nil)
	for i, id := range []string{"0190a-1", "0190a-2", "0190a-3"} {
		o.Enqueue(ctx, id, pkg(5000, byte(i)))
	}
	it, _, _ := o.Next(ctx)
	o.Ack(ctx, it.ID, []byte("r"))
	ro, err := outbox.Inspect(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if err := ro.Enqueue(ctx, "z", []byte("p")); !errors.Is(err, outbox.ErrReadOnly) {
		t.Fatalf("enqueue on read-only: %v", err)
	}
	usb := filepath.Join(t.TempDir(), "usb")
	var calls int
	n, err := ro.Export(ctx, usb, func(done, total int) { calls++ })
	if err != nil || n != 2 || calls != 2 {
		t.Fatalf("export: %d %v (%d progress calls)", n, err, calls)
	}
	for i, id := range []string{"0190a-2", "0190a-3"} {
		b, err := os.ReadFile(filepath.Join(usb, id+outbox.PackageExt))
		if err != nil || !bytes.Equal(b, pkg(5000, byte(i+1))) {
			t.Fatalf("%s: %v", id, err)
		}
	}
	// The items stay queued until their receipts come.
	if st := o.Stats(); st.Pending != 2 {
		t.Fatalf("export removed items: %+v", st)
	}
	if _, err := outbox.Inspect(ctx, t.TempDir()); err == nil {
		t.Fatal("inspect of a directory without an outbox")
	}
}

func TestOpenUnwritable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root can write anywhere")
	}
	dir := t.TempDir()
	os.Chmod(dir, 0o500)
	defer os.Chmod(dir, 0o700)
	_, err := outbox.Open(context.Background(), filepath.Join(dir, "outbox"), config.Default().Outbox, nil)
	if err == nil {
		t.Fatal("opened an outbox in a read-only directory")
	}
}

// TestGateLogsOnKindChange: the gate's alert follows the kind of its
// answer, not its wording: a full queue that grows logs once; the same
// closed gate turning into a revoked terminal logs again.
func TestGateLogsOnKindChange(t *testing.T) {
	ctx := context.Background()
	cfg := config.Default().Outbox
	cfg.MaxItems = 2
	o := open(t, t.TempDir(), cfg, nil)
	var logs bytes.Buffer
	o.SetLogger(slog.New(slog.NewTextHandler(&logs, nil)))
	for _, id := range []string{"a", "b", "c"} {
		if err := o.Enqueue(ctx, id, []byte("p")); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.Admit(); !errors.Is(err, session.ErrOutboxFull) || !strings.Contains(err.Error(), "3 of 2 items") {
		t.Fatalf("full: %v", err)
	}
	if n := strings.Count(logs.String(), "refusing new visits"); n != 1 {
		t.Fatalf("a growing full queue alerted %d times:\n%s", n, logs.String())
	}
	if err := o.SetDisabled(ctx, "device_revoked"); err != nil {
		t.Fatal(err)
	}
	if err := o.Admit(); !errors.Is(err, session.ErrDisabled) {
		t.Fatalf("disabled: %v", err)
	}
	l := logs.String()
	if strings.Count(l, "refusing new visits") != 2 || !strings.Contains(l, "device_revoked") || strings.Contains(l, "accepting visits again") {
		t.Fatalf("full → disabled alerts:\n%s", l)
	}
}
