package app

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"eidkiosk/kiosk/sdnotify"
)

// superviseSystemd tells systemd the kiosk is ready once the engine runs,
// feeds the unit's watchdog while it stays healthy and keeps the status
// line of `systemctl status eidkiosk-kiosk` current.
func (s *System) superviseSystemd(ctx context.Context, n *sdnotify.Notifier) error {
	return n.Supervise(ctx, s.clk, sdnotify.Health{
		Check:       s.Healthy,
		Status:      s.statusLine,
		OnUnhealthy: func(err error) { s.noteError("watchdog", err) },
	})
}

// statusLine is the kiosk's one-line status: version, the visit's state,
// the outbox and the parts in fault. Nothing personal: states and counts.
func (s *System) statusLine() string {
	line := fmt.Sprintf("kiosk running, version %s; %s; outbox %d queued", Version, s.Engine.View().State, s.Outbox.Stats().Pending)
	var faults []string
	for _, c := range s.health.List() {
		if !c.OK {
			faults = append(faults, c.Name)
		}
	}
	if len(faults) > 0 {
		sort.Strings(faults)
		line += "; fault: " + strings.Join(faults, ", ")
	}
	return line
}
