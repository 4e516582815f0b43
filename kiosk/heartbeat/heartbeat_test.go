package heartbeat

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"eidkiosk/fleetproto"
	"eidkiosk/internal/clock"
	"eidkiosk/internal/health"
)

func TestRunSendsEveryInterval(t *testing.T) {
	var mu sync.Mutex
	var got []fleetproto.Report
	fail := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != fleetproto.Path || r.Method != http.MethodPost {
			http.NotFound(w, r)
			return
		}
		var rep fleetproto.Report
		if err := json.NewDecoder(r.Body).Decode(&rep); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		mu.Lock()
		defer mu.Unlock()
		got = append(got, rep)
		if fail {
			fail = false
			http.Error(w, "busy", http.StatusServiceUnavailable)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	clk := clock.NewFake(time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
	n := 0
	s := &Sender{Authority: srv.URL, Client: srv.Client(), Interval: time.Minute, Clock: clk,
		Collect: func() fleetproto.Report {
			n++
			return fleetproto.Report{Version: "2.0.0", OutboxDepth: n, Checks: []health.Check{
				{Name: "reader", OK: true, At: clk.Now()},
				{Name: "camera", Detail: "no frames for 3s", Fix: "check the USB cable", At: clk.Now()}}}
		}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(got) }
	for i := 1; i <= 3; i++ {
		for deadline := time.Now().Add(5 * time.Second); count() < i && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
		if count() != i {
			t.Fatalf("after %d intervals %d heartbeats", i-1, count())
		}
		for clk.Pending() == 0 {
			time.Sleep(time.Millisecond)
		}
		clk.Advance(time.Minute)
	}
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	if got[0].OutboxDepth != 1 || got[2].OutboxDepth != 3 || !got[1].SentAt.Equal(clk.Now().Add(-2*time.Minute)) {
		t.Fatalf("reports: %+v", got)
	}
	// The health checks reach the authority whole.
	if c := got[1].Checks; len(c) != 2 || !c[0].OK || c[1].OK || c[1].Detail != "no frames for 3s" ||
		c[1].Fix != "check the USB cable" || !c[1].At.Equal(got[1].SentAt) {
		t.Fatalf("checks %+v", c)
	}
}

func TestSendReportsRefusal(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "fleet: terminal not authorized", http.StatusForbidden)
	}))
	defer srv.Close()
	err := (&Sender{Authority: srv.URL}).Send(context.Background(), fleetproto.Report{})
	if err == nil || !strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), "not authorized") {
		t.Fatalf("%v", err)
	}
}

// Kick sends the next heartbeat at once, without waiting for the interval
// (the fake clock never advances here).
func TestKickSendsAtOnce(t *testing.T) {
	sent := make(chan struct{}, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sent <- struct{}{}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	s := &Sender{Authority: srv.URL, Client: srv.Client(), Interval: time.Hour,
		Clock: clock.NewFake(time.Now()), Collect: func() fleetproto.Report { return fleetproto.Report{} }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx) }()
	defer func() { cancel(); <-done }()
	for i := 0; i < 3; i++ {
		select {
		case <-sent:
		case <-time.After(5 * time.Second):
			t.Fatalf("heartbeat %d not sent", i)
		}
		s.Kick()
	}
}
