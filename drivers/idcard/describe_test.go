package idcard_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	reader "eidkiosk/drivers/idcard"
	"eidkiosk/drivers/idcard/sim"
	"eidkiosk/idcard"
)

func TestFieldsMaskedUnlessRevealed(t *testing.T) {
	c := sim.DefaultDeck()[0]
	masked := map[string]string{}
	for _, f := range c.Fields(false) {
		masked[f.Key] = f.Value
	}
	if masked["name"] != "张*" || masked["number"] != "9901**********1237" || masked["birth"] != "1990-**-**" ||
		strings.Contains(masked["address"], "东城") {
		t.Fatalf("masked fields %v", masked)
	}
	all := ""
	for _, f := range c.Fields(true) {
		all += f.Value + "|"
	}
	if !strings.Contains(all, "张三") || !strings.Contains(all, "990101199003071237") || !strings.Contains(all, "1990-03-07") {
		t.Fatalf("revealed fields %q", all)
	}
	e := reader.Event{Event: idcard.Event{Kind: idcard.CardRead, Card: c}}
	if d := e.Describe(false); strings.Contains(d, "张三") || strings.Contains(d, "990101199003071237") {
		t.Fatalf("Describe leaks: %s", d)
	}
	f := sim.DefaultDeck()[2].Fields(false)
	if !strings.Contains(fieldsText(f), "GBR 英国 / United Kingdom") {
		t.Errorf("nationality: %s", fieldsText(f))
	}
}

func fieldsText(fs []idcard.Field) string {
	var b strings.Builder
	for _, f := range fs {
		b.WriteString(f.Key + "=" + f.Value + "\n")
	}
	return b.String()
}

func TestCheckReader(t *testing.T) {
	s := startSim(t, sim.Options{Baud: 19200})
	var mu sync.Mutex
	var msgs []string
	progress := func(m string) {
		mu.Lock()
		msgs = append(msgs, m)
		mu.Unlock()
		if strings.Contains(m, "waiting") {
			go func() { time.Sleep(100 * time.Millisecond); s.Place(4) }()
		}
	}
	ch, err := reader.CheckReader(context.Background(), reader.CheckOptions{Port: s.Path(), Probe: true, Progress: progress})
	if err != nil {
		t.Fatal(err)
	}
	defer ch.Card.Wipe()
	if ch.Baud != 19200 || ch.SAMID == "" || ch.Card.Kind != idcard.KindHKMOTW || ch.Timing.BytesIn < 1295 {
		t.Fatalf("check: baud %d SAM %q kind %s", ch.Baud, ch.SAMID, ch.Card.Kind)
	}
	mu.Lock()
	text := strings.Join(msgs, "\n")
	mu.Unlock()
	if !strings.Contains(text, "probing") || !strings.Contains(text, "waiting") {
		t.Fatalf("progress: %q", text)
	}

	s.Remove()
	_, err = reader.CheckReader(context.Background(), reader.CheckOptions{Port: s.Path(), Baud: 19200, Wait: 400 * time.Millisecond})
	if !errors.Is(err, reader.ErrNoCard) {
		t.Fatalf("no card: %v", err)
	}
	_, err = reader.CheckReader(context.Background(), reader.CheckOptions{Port: s.Path(), Baud: 115200,
		Wait: 400 * time.Millisecond})
	if !errors.Is(err, reader.ErrTimeout) {
		t.Fatalf("wrong rate without probing: %v", err)
	}
}
