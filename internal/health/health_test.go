package health_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"eidkiosk/internal/health"
)

var t0 = time.Date(2026, 11, 23, 8, 0, 0, 0, time.UTC)

func TestBoard(t *testing.T) {
	var b health.Board
	if c := b.Get("reader"); !c.OK || c.Ran() || c.Name != "reader" {
		t.Fatalf("unset part: %+v", c)
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.Set(health.FromErr(fmt.Sprintf("part%d", i%3), nil, t0, nil))
		}()
	}
	wg.Wait()
	b.Set(health.FromErr("camera", errors.New("no frames for 3s from /dev/video0"), t0, strings.ToUpper))
	list := b.List()
	var names []string
	for _, c := range list {
		names = append(names, c.Name)
	}
	if fmt.Sprint(names) != "[camera part0 part1 part2]" {
		t.Fatalf("names %v", names)
	}
	cam := b.Get("camera")
	if cam.OK || !cam.Ran() || cam.Detail != "NO FRAMES FOR 3S FROM /DEV/VIDEO0" || health.AllOK(list) {
		t.Fatalf("camera %+v", cam)
	}
	err := cam.Err()
	if !errors.Is(err, health.ErrFailed) || err.Error() != "camera: NO FRAMES FOR 3S FROM /DEV/VIDEO0" {
		t.Fatalf("err %v", err)
	}
	b.Set(health.FromErr("camera", nil, t0.Add(time.Minute), nil))
	if c := b.Get("camera"); !c.OK || c.Detail != "" || c.Err() != nil || !health.AllOK(b.List()) {
		t.Fatalf("recovered camera %+v", c)
	}
}

func TestJSON(t *testing.T) {
	b, err := json.Marshal([]health.Check{{Name: "reader", OK: true}, {Name: "clock", Detail: "ahead by 2m", Fix: "enable NTP", At: t0}})
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"name":"reader","ok":true},{"name":"clock","ok":false,"detail":"ahead by 2m","fix":"enable NTP","at":"2026-11-23T08:00:00Z"}]`
	if string(b) != want {
		t.Fatalf("json %s\nwant %s", b, want)
	}
}

func TestUnmarshalOlderHeartbeat(t *testing.T) {
	var got []health.Check
	if err := json.Unmarshal([]byte(`[{"name":"reader","ok":false,"error":"no answer on /dev/idcard"},{"name":"clock","ok":true,"detail":"in sync","at":"2026-01-02T03:04:05Z"}]`), &got); err != nil {
		t.Fatal(err)
	}
	if got[0].Detail != "no answer on /dev/idcard" || got[0].OK || got[0].Name != "reader" {
		t.Errorf("older check read as %+v", got[0])
	}
	if got[1].Detail != "in sync" || !got[1].OK || got[1].At.IsZero() {
		t.Errorf("current check read as %+v", got[1])
	}
}
