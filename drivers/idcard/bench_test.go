package idcard_test

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	reader "eidkiosk/drivers/idcard"
	"eidkiosk/drivers/idcard/sim"
	"eidkiosk/idcard"
)

// BenchmarkReadCard115200: a placed card read through find, select and
// read base at a simulated 115200 baud (the simulator paces requests and
// answers to the line rate). Side by side in the same loop:
//   - raw: the same three requests written and their answers read on a
//     plain port, no driver (the pty + pacing baseline);
//   - wire: the computed line time of the bytes exchanged (10 bits a byte).
//
// Reported: driver-ms, raw-ms, wire-ms per read and the ratios
// driver/wire and driver/raw (goal: driver/wire ≤ 1.05).
func BenchmarkReadCard115200(b *testing.B) {
	for _, fp := range []bool{false, true} {
		name := "base"
		if fp {
			name = "fingerprint"
		}
		b.Run(name, func(b *testing.B) { benchRead(b, fp) })
	}
}

func benchRead(b *testing.B, fp bool) {
	const baud = 115200
	sd := startSim(b, sim.Options{Throttle: true})
	sr := startSim(b, sim.Options{Throttle: true})
	card := 1 // the card with fingerprints
	sd.Place(card)
	sr.Place(card)
	r := openReader(b, sd, baud, reader.Timeouts{})
	raw, err := reader.OpenSerial(sr.Path(), baud)
	if err != nil {
		b.Fatal(err)
	}
	defer raw.Close()
	read := reader.CmdReadBase
	if fp {
		read = reader.CmdReadBaseFP
	}
	reqs := [][]byte{
		reader.Request{Cmd: reader.CmdFindCard}.Encode(),
		reader.Request{Cmd: reader.CmdSelectCard}.Encode(),
		reader.Request{Cmd: read}.Encode(),
	}
	answerLen := []int{15, 19, 1295}
	if fp {
		answerLen[2] = 1297 + len(sd.Deck()[card].Fingerprint)
	}
	ctx := context.Background()
	var drv, rw, wire time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		c, t, err := r.ReadCard(ctx, fp)
		if err != nil {
			b.Fatal(err)
		}
		drv += time.Since(start)
		wire += t.Wire()
		c.Wipe()

		start = time.Now()
		for k, q := range reqs {
			raw.Write(q)
			readN(b, raw, answerLen[k])
		}
		rw += time.Since(start)
	}
	n := float64(b.N)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) / n }
	b.ReportMetric(ms(drv), "driver-ms")
	b.ReportMetric(ms(rw), "raw-ms")
	b.ReportMetric(ms(wire), "wire-ms")
	b.ReportMetric(float64(drv)/float64(wire), "driver/wire")
	b.ReportMetric(float64(drv)/float64(rw), "driver/raw")
}

// BenchmarkDetect: a card placed at a random moment of the 300 ms poll
// period is reported (CardPlaced) and decoded (CardRead) by the Poller at
// 115200 baud. Reported: mean and worst placed→CardPlaced and
// placed→CardRead in ms, and worst detection as a fraction of the interval
// (goal ≤ 1).
func BenchmarkDetect(b *testing.B) {
	const interval = 300 * time.Millisecond
	s := startSim(b, sim.Options{Throttle: true})
	ch := make(chan reader.Event, 16)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	p := reader.NewPoller(reader.Options{Port: s.Path(), Interval: interval, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx, func(e reader.Event) { ch <- e }) }()
	wait := func(k idcard.EventKind) time.Time {
		for {
			select {
			case e := <-ch:
				if e.Kind == k {
					return time.Now()
				}
				if e.Kind == idcard.ReaderFault || e.Kind == idcard.CardReadFailed {
					b.Fatalf("%s: %v", e.Kind, e.Err)
				}
			case <-time.After(10 * time.Second):
				b.Fatalf("no %s", k)
			}
		}
	}
	wait(idcard.ReaderBack)
	rng := rand.New(rand.NewPCG(1, 2))
	var sumDetect, sumRead, maxDetect, maxRead time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		time.Sleep(time.Duration(rng.Int64N(int64(interval))))
		placed := time.Now()
		s.Place(i % len(s.Deck()))
		d := wait(idcard.CardPlaced).Sub(placed)
		r := wait(idcard.CardRead).Sub(placed)
		sumDetect += d
		sumRead += r
		maxDetect, maxRead = max(maxDetect, d), max(maxRead, r)
		s.Remove()
		wait(idcard.CardRemoved)
	}
	b.StopTimer()
	cancel()
	<-done
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	b.ReportMetric(ms(sumDetect)/float64(b.N), "detect-ms")
	b.ReportMetric(ms(maxDetect), "detect-max-ms")
	b.ReportMetric(ms(sumRead)/float64(b.N), "read-ms")
	b.ReportMetric(ms(maxRead), "read-max-ms")
	b.ReportMetric(float64(maxDetect)/float64(interval), "detect-max/interval")
}

// BenchmarkCancel: time from cancelling the context to Run returning while
// a read with a 30 s timeout is pending (goal < 100 ms).
func BenchmarkCancel(b *testing.B) {
	s := startSim(b, sim.Options{})
	var total, worst time.Duration
	for i := 0; i < b.N; i++ {
		ch := make(chan reader.Event, 16)
		ctx, cancel := context.WithCancel(context.Background())
		p := reader.NewPoller(reader.Options{Port: s.Path(), Interval: 20 * time.Millisecond,
			Timeouts: reader.Timeouts{Read: 30 * time.Second}, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
		done := make(chan error, 1)
		go func() { done <- p.Run(ctx, func(e reader.Event) { ch <- e }) }()
		s.Inject(sim.Fault{Kind: sim.FaultSilent, Cmd: reader.CmdReadBase})
		s.Place(0)
		for e := range ch {
			if e.Kind == idcard.CardPlaced {
				break
			}
		}
		time.Sleep(10 * time.Millisecond)
		start := time.Now()
		cancel()
		<-done
		d := time.Since(start)
		total += d
		worst = max(worst, d)
		s.Remove()
	}
	b.ReportMetric(float64(total)/float64(time.Millisecond)/float64(b.N), "cancel-ms")
	b.ReportMetric(float64(worst)/float64(time.Millisecond), "cancel-max-ms")
}
