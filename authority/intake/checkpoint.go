package intake

import (
	"context"
	"fmt"
	"time"

	"eidkiosk/authority"
)

// checkpointEvery bounds how often the background checkpointer runs.
const checkpointEvery = 250 * time.Millisecond

// setupWriter gives the intake its own SQLite connection for the group
// commits, with automatic checkpoints off: a checkpoint copies the WAL into
// the database file and fsyncs it, which would stall every waiting intake.
// A background goroutine checkpoints instead (PASSIVE: it never blocks the
// writer). The commit itself stays synchronous=FULL: an acknowledged
// enrollment is on disk.
func (in *Intake) setupWriter(ctx context.Context, db *authority.DB) error {
	if db.Dialect != authority.SQLite || in.wconn != nil {
		return nil
	}
	c, err := db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("intake: writer connection: %w", err)
	}
	if _, err := c.ExecContext(ctx, `PRAGMA wal_autocheckpoint=0`); err != nil {
		c.Close()
		return fmt.Errorf("intake: writer connection: %w", err)
	}
	in.wconn = c
	in.ckpt = make(chan struct{}, 1)
	in.stop = make(chan struct{})
	in.stopped = make(chan struct{})
	go in.checkpointer(db)
	return nil
}

func (in *Intake) kickCheckpoint() {
	if in.ckpt == nil {
		return
	}
	select {
	case in.ckpt <- struct{}{}:
	default:
	}
}

func (in *Intake) checkpointer(db *authority.DB) {
	defer close(in.stopped)
	for {
		select {
		case <-in.stop:
			return
		case <-in.ckpt:
		}
		if _, err := db.Exec(`PRAGMA wal_checkpoint(PASSIVE)`); err != nil {
			in.log.Warn("intake: checkpoint", "err", err)
		}
		select {
		case <-in.stop:
			return
		case <-time.After(checkpointEvery):
		}
	}
}

// Close stops the background checkpointer and releases the writer
// connection (the database itself is the caller's). It is safe to call
// more than once.
func (in *Intake) Close() error {
	in.closeOnce.Do(func() {
		if in.stop != nil {
			close(in.stop)
			<-in.stopped
			db := in.db
			if _, err := in.wconn.ExecContext(context.Background(), `PRAGMA wal_checkpoint(PASSIVE)`); err != nil && db != nil {
				in.log.Warn("intake: checkpoint", "err", err)
			}
			in.wconn.Close()
		}
	})
	return nil
}
