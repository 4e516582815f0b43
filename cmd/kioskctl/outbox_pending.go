package main

import (
	"context"

	"eidkiosk/kiosk/config"
	"eidkiosk/kiosk/outbox"
)

func init() {
	// deprovision waits for the outbox to drain: read it without changing it.
	deprovisionPending = func(ctx context.Context, cfg config.Config, dir string) (int, error) {
		ob, err := outbox.Inspect(ctx, dir)
		if err != nil {
			return 0, err
		}
		defer ob.Close()
		st, err := ob.Refresh(ctx)
		if err != nil {
			return 0, err
		}
		return st.Pending + st.Refused, nil
	}
}
