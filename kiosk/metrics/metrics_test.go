package metrics

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"eidkiosk/internal/clock"
	"eidkiosk/kiosk/lease"
	"eidkiosk/kiosk/outbox"
	"eidkiosk/kiosk/update"
)

func TestServeOnLoopback(t *testing.T) {
	clk := clock.NewFake(time.Unix(1_800_000_000, 0))
	ls := lease.New(clk, time.Minute)
	ls.Acquire()
	st := update.Status{Version: "2.0.0", Slot: "b", Phase: update.PhaseDownloading, Progress: update.Progress{Done: 300, Total: 1000},
		Refusals: 2, LastRefusal: update.ReasonExpired, Bytes: 4242, Healthy: true,
		Loop: &update.Loop{Version: "2.0.0", Target: "kiosk/2.0.0/kiosk.tar.gz"}}
	m := New(Sources{Version: "2.0.0", Update: func() update.Status { return st }, Lease: ls.Snapshot,
		Outbox: func() outbox.Stats {
			return outbox.Stats{Pending: 3, Bytes: 123456, Oldest: clk.Now().Add(-90 * time.Second), LastAck: clk.Now().Add(-time.Minute)}
		},
		Devices: func() map[string]bool { return map[string]bool{"reader": true, "camera": false} },
		Clock:   clk})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addrc := make(chan net.Addr, 1)
	errc := make(chan error, 1)
	go func() { errc <- m.Serve(ctx, "127.0.0.1:0", func(a net.Addr) { addrc <- a }) }()
	var addr net.Addr
	select {
	case addr = <-addrc:
	case err := <-errc:
		t.Fatal(err)
	}
	res, err := http.Get("http://" + addr.String() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{
		`eidkiosk_build_info{slot="b",version="2.0.0"} 1`,
		`eidkiosk_update_phase{phase="downloading"} 1`,
		`eidkiosk_update_phase{phase="idle"} 0`,
		`eidkiosk_update_download_done_bytes 300`,
		`eidkiosk_update_refusals_total{last_reason="expired"} 2`,
		`eidkiosk_update_received_bytes_total 4242`,
		`eidkiosk_update_loop{version="2.0.0"} 1`,
		`eidkiosk_lease_held{holder="visit"} 1`,
		`eidkiosk_lease_expiry_timestamp_seconds 1.80000006e+09`,
		`eidkiosk_outbox_items 3`,
		`eidkiosk_outbox_oldest_age_seconds 90`,
		`eidkiosk_uplink_last_success_timestamp_seconds 1.79999994e+09`,
		`eidkiosk_device_up{device="reader"} 1`,
		`eidkiosk_device_up{device="camera"} 0`,
		`eidkiosk_heartbeat_age_seconds 0`,
		`go_goroutines`,
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("missing %q", want)
		}
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("serve ended with %v", err)
	}
}

func TestRefusesNonLoopback(t *testing.T) {
	m := New(Sources{Version: "1.0.0"})
	for _, a := range []string{"0.0.0.0:9464", ":9464", "192.0.2.1:9464"} {
		if err := m.Serve(context.Background(), a, nil); !errors.Is(err, ErrNotLoopback) {
			t.Errorf("%s: %v", a, err)
		}
	}
}
