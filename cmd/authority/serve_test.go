package main

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"eidkiosk/authority/intake/intaketest"
)

// `serve --metrics-addr` serves the authority's metrics on a listener of
// its own while the authority runs, and stops with it.
func TestServeMetricsAddr(t *testing.T) {
	var out, errb intaketest.SyncBuffer
	app.Stdout, app.Stderr = &out, &errb
	defer func() { app.Stdout, app.Stderr = nil, nil }()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, []string{"serve", "--data", t.TempDir(), "--addr", "127.0.0.1:0",
			"--metrics-addr", "127.0.0.1:0", "--no-face-check", "--log-level", "error"})
	}()
	re := regexp.MustCompile(`metrics: (http://\S+/metrics)`)
	var url string
	for deadline := time.Now().Add(60 * time.Second); url == ""; {
		if m := re.FindStringSubmatch(string(out.Bytes())); m != nil {
			url = m[1]
			break
		}
		select {
		case err := <-done:
			t.Fatalf("serve ended: %v\n%s%s", err, string(out.Bytes()), string(errb.Bytes()))
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no metrics address printed:\n%s%s", string(out.Bytes()), string(errb.Bytes()))
		}
	}
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	for _, want := range []string{`eidkiosk_authority_intake_requests_total{result="stored"} 0`, `eidkiosk_authority_terminals{state="total"} 0`} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve stopped with %v", err)
	}
	if _, err := http.Get(url); err == nil {
		t.Error("the metrics listener outlived the authority")
	}
}
